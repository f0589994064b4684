//! Minimal IPv4/UDP header helpers shared by encapsulation, decapsulation,
//! the MSS clamp and the ICMP builder. Everything is bounds-checked.

use std::net::Ipv4Addr;

pub const IPV4_HEADER: usize = 20;
pub const UDP_HEADER: usize = 8;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ESP: u8 = 50;
pub const NAT_T_PORT: u16 = 4500;

/// The facts of a syntactically valid IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Info {
    pub header_len: usize,
    pub total_len: usize,
    pub tos: u8,
    pub dont_fragment: bool,
    /// More-fragments set or a non-zero offset.
    pub is_fragment: bool,
    pub fragment_offset: u16,
    pub protocol: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

/// Parses an IPv4 header at the start of `p`: version 4, IHL >= 5, total
/// length within `p` and covering the header. Trailing bytes beyond the
/// total length (link padding, TFC padding) are allowed.
pub fn parse(p: &[u8]) -> Option<Ipv4Info> {
    let h = p.get(..IPV4_HEADER)?;
    if h[0] >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(h[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if header_len < IPV4_HEADER || total_len < header_len || total_len > p.len() {
        return None;
    }
    let frag = u16::from_be_bytes([h[6], h[7]]);
    Some(Ipv4Info {
        header_len,
        total_len,
        tos: h[1],
        dont_fragment: frag & 0x4000 != 0,
        is_fragment: frag & 0x2000 != 0 || frag & 0x1fff != 0,
        fragment_offset: frag & 0x1fff,
        protocol: h[9],
        src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
        dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
    })
}

/// The Internet checksum (RFC 1071) of `data`, folded and complemented.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// The one's-complement sum of `data` as 16-bit big-endian words, added
/// to `acc`, not yet folded to 16 bits. Sixteen bytes at a time into eight
/// 32-bit lanes of native-order words, which the compiler vectorizes (2x
/// the two-bytes-at-a-time loop here, measured): the one's-complement sum
/// commutes with byte swapping (RFC 1071 2.B), so the lanes are folded and
/// swapped once at the end. A lane gains at most 0xffff per block, so it
/// cannot overflow below 1 MiB of data (a packet is at most 64 KiB). Used
/// on a whole TCP segment when a checksum must be finished.
pub fn sum(data: &[u8], acc: u32) -> u32 {
    let mut lanes = [0u32; 8];
    let mut blocks = data.chunks_exact(16);
    for b in &mut blocks {
        for (i, l) in lanes.iter_mut().enumerate() {
            *l += u32::from(u16::from_ne_bytes([b[2 * i], b[2 * i + 1]]));
        }
    }
    let mut native: u64 = lanes.iter().map(|&l| u64::from(l)).sum();
    while native > 0xffff {
        native = (native & 0xffff) + (native >> 16);
    }
    let folded = u16::from_be_bytes((native as u16).to_ne_bytes());
    let mut a = u64::from(acc) + u64::from(folded);
    let mut words = blocks.remainder().chunks_exact(2);
    for c in &mut words {
        a += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = words.remainder() {
        a += u64::from(*last) << 8;
    }
    while a > 0xffff_ffff {
        a = (a & 0xffff_ffff) + (a >> 32);
    }
    a as u32
}

pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Fields of an IPv4 header to write (no options).
pub struct Ipv4Emit {
    pub tos: u8,
    pub total_len: u16,
    pub ident: u16,
    pub dont_fragment: bool,
    pub ttl: u8,
    pub protocol: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

impl Ipv4Emit {
    /// Writes the 20-byte header with its checksum into `h[..20]`
    /// (`h.len() >= 20`, checked by the caller).
    pub fn emit(&self, h: &mut [u8]) {
        h[0] = 0x45;
        h[1] = self.tos;
        h[2..4].copy_from_slice(&self.total_len.to_be_bytes());
        h[4..6].copy_from_slice(&self.ident.to_be_bytes());
        h[6..8].copy_from_slice(&(if self.dont_fragment { 0x4000u16 } else { 0 }).to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.protocol;
        h[10..12].copy_from_slice(&[0, 0]);
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        let c = checksum(&h[..IPV4_HEADER]);
        h[10..12].copy_from_slice(&c.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 1071 definition, two bytes at a time.
    fn naive(data: &[u8], acc: u32) -> u16 {
        let mut a = u64::from(acc);
        for c in data.chunks(2) {
            a += u64::from(c[0]) << 8 | u64::from(*c.get(1).unwrap_or(&0));
        }
        while a > 0xffff {
            a = (a & 0xffff) + (a >> 16);
        }
        a as u16
    }

    #[test]
    fn the_wide_sum_folds_to_the_16_bit_sum() {
        let data: Vec<u8> = (0..3000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for len in (0..64).chain([1399, 1400, 1401, 2999, 3000]) {
            for acc in [0, 1, 0xffff, 0x1_2345, u32::MAX] {
                assert_eq!(
                    fold(sum(&data[..len], acc)),
                    naive(&data[..len], acc),
                    "len {len} acc {acc:#x}"
                );
            }
        }
        assert_eq!(fold(sum(&[0xff; 4096], 0)), 0xffff);
        assert_eq!(checksum(&[]), 0xffff);
    }
}
