//! Bounds-checked Ethernet / 802.1Q / IPv4 / L4 parsing over raw packet
//! pointers, shared by XDP and TC. Every read is preceded by a check the
//! verifier can see (`start + off + len <= end`), with `off` bounded by
//! construction (at most 18 + 60).

use core::mem::size_of;

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88a8;

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ESP: u8 = 50;

/// A parsed IPv4 packet.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Ipv4Pkt {
    /// Offset of the IPv4 header (14 or 18).
    pub l3_off: usize,
    /// Offset of the L4 header (l3_off + IHL * 4).
    pub l4_off: usize,
    /// Addresses in host byte order.
    pub src: u32,
    pub dst: u32,
    pub proto: u8,
    pub tot_len: u16,
    /// MF set or non-zero fragment offset.
    pub fragment: bool,
    /// Ports were read (TCP/UDP, not a fragment, L4 header present).
    /// For other protocols this is true and the ports are 0.
    pub ports_known: bool,
    pub sport: u16,
    pub dport: u16,
}

pub enum Parsed {
    /// Not IPv4 (IPv6, ARP, a second VLAN tag, ...).
    NotIpv4,
    /// Claims IPv4 but the header is truncated or inconsistent.
    Malformed,
    Ipv4(Ipv4Pkt),
}

/// Reads `N` bytes at `start + off` if they lie before `end`.
#[inline(always)]
pub fn bytes<const N: usize>(start: usize, end: usize, off: usize) -> Option<[u8; N]> {
    let p = start + off;
    if p + N > end {
        return None;
    }
    // SAFETY: [p, p + N) was just checked to lie inside the packet.
    Some(unsafe { (p as *const [u8; N]).read_unaligned() })
}

#[inline(always)]
pub fn be16(start: usize, end: usize, off: usize) -> Option<u16> {
    bytes::<2>(start, end, off).map(u16::from_be_bytes)
}

#[inline(always)]
pub fn be32(start: usize, end: usize, off: usize) -> Option<u32> {
    bytes::<4>(start, end, off).map(u32::from_be_bytes)
}

/// IPv4 header fields we need, in one read.
#[repr(C)]
struct Ipv4Head {
    vihl: u8,
    tos: u8,
    tot_len: [u8; 2],
    id: [u8; 2],
    frag: [u8; 2],
    ttl: u8,
    proto: u8,
    csum: [u8; 2],
    src: [u8; 4],
    dst: [u8; 4],
}

#[inline(always)]
pub fn parse(start: usize, end: usize) -> Parsed {
    let Some(mut ethertype) = be16(start, end, 12) else {
        return Parsed::NotIpv4;
    };
    let mut l3_off = 14usize;
    // One 802.1Q (or 802.1ad) tag is allowed; a second one makes it
    // "not IPv4" for us.
    if ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD {
        let Some(inner) = be16(start, end, 16) else {
            return Parsed::NotIpv4;
        };
        ethertype = inner;
        l3_off = 18;
    }
    if ethertype != ETH_P_IP {
        return Parsed::NotIpv4;
    }
    let Some(h) = bytes::<{ size_of::<Ipv4Head>() }>(start, end, l3_off) else {
        return Parsed::Malformed;
    };
    // SAFETY: Ipv4Head is repr(C) made of bytes, same size as the array.
    let h: Ipv4Head = unsafe { core::mem::transmute(h) };
    if h.vihl >> 4 != 4 {
        return Parsed::Malformed;
    }
    let ihl = ((h.vihl & 0x0f) as usize) * 4;
    if ihl < 20 {
        return Parsed::Malformed;
    }
    let tot_len = u16::from_be_bytes(h.tot_len);
    let avail = end - (start + l3_off);
    // A total length below the header or beyond the frame is corrupt;
    // shorter than the frame is normal (Ethernet padding).
    if (tot_len as usize) < ihl || (tot_len as usize) > avail {
        return Parsed::Malformed;
    }
    let frag = u16::from_be_bytes(h.frag);
    let fragment = frag & 0x3fff != 0;
    let proto = h.proto;
    let l4_off = l3_off + (ihl & 0x3c);
    let mut pkt = Ipv4Pkt {
        l3_off,
        l4_off,
        src: u32::from_be_bytes(h.src),
        dst: u32::from_be_bytes(h.dst),
        proto,
        tot_len,
        fragment,
        ports_known: true,
        sport: 0,
        dport: 0,
    };
    if proto == IPPROTO_TCP || proto == IPPROTO_UDP {
        // Ports are only trusted inside the datagram's own length.
        let l4_len = tot_len as usize - ihl;
        match bytes::<4>(start, end, l4_off) {
            Some(p) if !fragment && l4_len >= 4 => {
                pkt.sport = u16::from_be_bytes([p[0], p[1]]);
                pkt.dport = u16::from_be_bytes([p[2], p[3]]);
            }
            _ => pkt.ports_known = false,
        }
    }
    Parsed::Ipv4(pkt)
}
