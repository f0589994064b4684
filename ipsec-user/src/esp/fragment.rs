//! IPv4 fragmentation of an outer ESP packet (RFC 4303 section 3.3.5:
//! an outbound packet is fragmented after ESP processing, as any IPv4
//! packet, RFC 791). The engine uses it when an inner packet without DF
//! would be encapsulated past the outside MTU; the peer's stack
//! reassembles before ESP processing.

use super::ipv4::{self, IPV4_HEADER};

/// Why a packet cannot be fragmented to the asked size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FragError {
    #[error("not a well-formed IPv4 packet")]
    Malformed,
    #[error("DF is set: the packet may not be fragmented")]
    DontFragment,
    #[error("an MTU of {0} leaves no room for 8 bytes of payload")]
    MtuTooSmall(usize),
    #[error("output buffer too small: need {0} bytes")]
    BufferTooSmall(usize),
}

/// Splits one IPv4 packet into fragments of at most `mtu` bytes; each
/// call to [`Fragmenter::next_into`] writes the next one. Options are
/// copied into every fragment (our outer headers carry none).
pub struct Fragmenter<'a> {
    packet: &'a [u8],
    header_len: usize,
    /// Payload bytes per fragment but the last: a multiple of 8.
    per_fragment: usize,
    /// Payload bytes already written.
    done: usize,
    /// Offset (in bytes) and MF of the packet itself, if it is a fragment.
    base_offset: usize,
    base_more: bool,
}

impl<'a> Fragmenter<'a> {
    pub fn new(packet: &'a [u8], mtu: usize) -> Result<Self, FragError> {
        let ip = ipv4::parse(packet).ok_or(FragError::Malformed)?;
        if ip.dont_fragment {
            return Err(FragError::DontFragment);
        }
        let room = mtu.saturating_sub(ip.header_len) / 8 * 8;
        if room == 0 {
            return Err(FragError::MtuTooSmall(mtu));
        }
        let frag = u16::from_be_bytes([packet[6], packet[7]]);
        Ok(Fragmenter {
            packet: &packet[..ip.total_len],
            header_len: ip.header_len,
            per_fragment: room,
            done: 0,
            base_offset: usize::from(frag & 0x1fff) * 8,
            base_more: frag & 0x2000 != 0,
        })
    }

    /// How many fragments the packet makes.
    pub fn count(&self) -> usize {
        (self.packet.len() - self.header_len).div_ceil(self.per_fragment)
    }

    /// Writes the next fragment into `out` and returns its length, or
    /// `None` once all are written.
    pub fn next_into(&mut self, out: &mut [u8]) -> Option<Result<usize, FragError>> {
        let payload = &self.packet[self.header_len..];
        if self.done >= payload.len() {
            return None;
        }
        let n = self.per_fragment.min(payload.len() - self.done);
        let total = self.header_len + n;
        let Some(out) = out.get_mut(..total) else {
            return Some(Err(FragError::BufferTooSmall(total)));
        };
        let last = self.done + n == payload.len();
        out[..self.header_len].copy_from_slice(&self.packet[..self.header_len]);
        out[self.header_len..].copy_from_slice(&payload[self.done..self.done + n]);
        let offset = (self.base_offset + self.done) / 8;
        let more = !last || self.base_more;
        let field = (offset as u16 & 0x1fff) | if more { 0x2000 } else { 0 };
        out[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        out[6..8].copy_from_slice(&field.to_be_bytes());
        out[10..12].copy_from_slice(&[0, 0]);
        let c = ipv4::checksum(&out[..self.header_len]);
        out[10..12].copy_from_slice(&c.to_be_bytes());
        self.done += n;
        Some(Ok(total))
    }
}

/// The smallest MTU fragmentation accepts: a header and 8 bytes.
pub const MIN_MTU: usize = IPV4_HEADER + 8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esp::ipv4::{Ipv4Emit, PROTO_ESP};
    use std::net::Ipv4Addr;

    fn packet(len: usize, df: bool) -> Vec<u8> {
        let mut p: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        Ipv4Emit {
            tos: 0,
            total_len: len as u16,
            ident: 0x1234,
            dont_fragment: df,
            ttl: 64,
            protocol: PROTO_ESP,
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(192, 0, 2, 2),
        }
        .emit(&mut p);
        p
    }

    fn all(p: &[u8], mtu: usize) -> Vec<Vec<u8>> {
        let mut f = Fragmenter::new(p, mtu).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 2048];
        while let Some(r) = f.next_into(&mut buf) {
            out.push(buf[..r.unwrap()].to_vec());
        }
        out
    }

    /// Reassembles by offset, checking every header on the way.
    fn reassemble(frags: &[Vec<u8>]) -> Vec<u8> {
        let mut payload = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            let ip = ipv4::parse(f).unwrap();
            assert_eq!(ipv4::checksum(&f[..20]), 0, "header checksum");
            assert_eq!(ip.total_len, f.len());
            let field = u16::from_be_bytes([f[6], f[7]]);
            assert_eq!(usize::from(field & 0x1fff) * 8, payload.len());
            assert_eq!(field & 0x2000 != 0, i + 1 < frags.len(), "MF");
            assert_eq!(&f[4..6], &[0x12, 0x34], "same ident");
            payload.extend_from_slice(&f[20..]);
        }
        payload
    }

    #[test]
    fn a_packet_splits_into_fragments_that_fit_and_reassemble() {
        let p = packet(1560, false);
        let frags = all(&p, 1500);
        assert_eq!(frags.len(), 2);
        assert_eq!(frags[0].len(), 1500);
        assert_eq!(frags[1].len(), 20 + 1540 - 1480);
        assert_eq!(reassemble(&frags), p[20..]);
        // Many pieces, odd MTU: payload per piece rounds down to 8.
        let p = packet(4000, false);
        let frags = all(&p, 577);
        assert!(frags.iter().all(|f| f.len() <= 577));
        assert_eq!(frags.len(), Fragmenter::new(&p, 577).unwrap().count());
        assert_eq!(reassemble(&frags), p[20..]);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            Fragmenter::new(&packet(1560, true), 1500).err(),
            Some(FragError::DontFragment)
        );
        assert_eq!(
            Fragmenter::new(&packet(100, false), 27).err(),
            Some(FragError::MtuTooSmall(27))
        );
        assert!(Fragmenter::new(&packet(100, false), MIN_MTU).is_ok());
        assert_eq!(
            Fragmenter::new(&[0x45, 0, 0], 1500).err(),
            Some(FragError::Malformed)
        );
        let p = packet(1560, false);
        let mut f = Fragmenter::new(&p, 1500).unwrap();
        assert_eq!(
            f.next_into(&mut [0u8; 100]),
            Some(Err(FragError::BufferTooSmall(1500)))
        );
    }

    #[test]
    fn a_packet_that_fits_is_one_fragment_equal_to_itself() {
        let p = packet(900, false);
        let frags = all(&p, 1500);
        assert_eq!(frags, vec![p]);
    }
}
