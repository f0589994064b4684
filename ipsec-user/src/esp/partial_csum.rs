//! Finishing TCP/UDP checksums left to "the hardware".
//!
//! A host that sends through a veth (or virtio, or any device advertising
//! checksum offload) hands the packet on in the CHECKSUM_PARTIAL state:
//! the L4 checksum field holds only the folded pseudo-header sum, not
//! complemented, and the NIC is expected to add the segment and
//! complement. XDP and AF_XDP see those bytes as they are, so without this
//! the far host would count every segment as a checksum error
//! (`TcpInCsumErrors`) and drop it.
//!
//! Completing is safe for every packet: the check only fires when the
//! field equals the pseudo-header sum, and recomputing a checksum that was
//! already right writes the same value back. The common case (a correct
//! checksum) costs one pseudo-header sum.

use super::ipv4::{self, PROTO_TCP, PROTO_UDP};

/// Where the checksum field lies in each L4 header.
const TCP_CSUM_AT: usize = 16;
const UDP_CSUM_AT: usize = 6;

/// Completes the TCP or UDP checksum of the IPv4 packet `p` when its
/// field holds only the pseudo-header sum. Returns whether it wrote one.
/// Fragments, other protocols, malformed packets and UDP without checksum
/// (field 0) are left alone.
pub fn complete_partial_checksum(p: &mut [u8]) -> bool {
    let Some(ip) = ipv4::parse(p) else {
        return false;
    };
    let at = match ip.protocol {
        PROTO_TCP => TCP_CSUM_AT,
        PROTO_UDP => UDP_CSUM_AT,
        _ => return false,
    };
    if ip.is_fragment {
        return false;
    }
    let seg = &mut p[ip.header_len..ip.total_len];
    let Some(field) = seg.get(at..at + 2) else {
        return false;
    };
    let field = u16::from_be_bytes([field[0], field[1]]);
    if ip.protocol == PROTO_UDP && field == 0 {
        return false; // no checksum: the sender chose so (RFC 768)
    }
    let pseudo = pseudo_header_sum(&ip, seg.len());
    if field != ipv4::fold(pseudo) {
        return false;
    }
    // What the NIC does: sum the segment as it stands (the field holding
    // the pseudo-header sum stands in for the pseudo header) and
    // complement.
    let mut c = !ipv4::fold(ipv4::sum(seg, 0));
    if ip.protocol == PROTO_UDP && c == 0 {
        c = 0xffff; // 0 means "no checksum" in UDP
    }
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
    true
}

/// Source, destination, protocol and L4 length, summed unfolded (by
/// hand: this runs for every TCP and UDP packet).
fn pseudo_header_sum(ip: &ipv4::Ipv4Info, l4_len: usize) -> u32 {
    let (s, d) = (u32::from(ip.src), u32::from(ip.dst));
    (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + u32::from(ip.protocol) + l4_len as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esp::ipv4::{Ipv4Emit, checksum};
    use std::net::Ipv4Addr;

    fn packet(proto: u8, l4: &[u8], frag: u16) -> Vec<u8> {
        let mut p = vec![0u8; 20 + l4.len()];
        Ipv4Emit {
            tos: 0,
            total_len: p.len() as u16,
            ident: 1,
            dont_fragment: true,
            ttl: 64,
            protocol: proto,
            src: Ipv4Addr::new(198, 51, 100, 10),
            dst: Ipv4Addr::new(203, 0, 113, 10),
        }
        .emit(&mut p);
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p[20..].copy_from_slice(l4);
        p
    }

    /// The full checksum of the segment, computed the textbook way (field
    /// zeroed, pseudo header + segment, complemented).
    fn full(p: &[u8], at: usize) -> u16 {
        let ip = ipv4::parse(p).unwrap();
        let mut seg = p[20..ip.total_len].to_vec();
        seg[at..at + 2].copy_from_slice(&[0, 0]);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&ip.src.octets());
        pseudo.extend_from_slice(&ip.dst.octets());
        pseudo.extend_from_slice(&[0, ip.protocol]);
        pseudo.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(&seg);
        checksum(&pseudo)
    }

    /// What a Linux sender leaves in the field for CHECKSUM_PARTIAL
    /// (`~tcp_v4_check(len, saddr, daddr, 0)`): the folded pseudo-header
    /// sum, not complemented.
    fn make_partial(p: &mut [u8], at: usize) {
        let ip = ipv4::parse(p).unwrap();
        let s = ipv4::fold(pseudo_header_sum(&ip, ip.total_len - 20));
        p[20 + at..22 + at].copy_from_slice(&s.to_be_bytes());
    }

    fn tcp_segment(payload: &[u8]) -> Vec<u8> {
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&5201u16.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = 0x18;
        t.extend_from_slice(payload);
        t
    }

    #[test]
    fn partial_tcp_checksum_is_completed() {
        let mut p = packet(PROTO_TCP, &tcp_segment(b"hello, odd length"), 0x4000);
        make_partial(&mut p, TCP_CSUM_AT);
        let want = full(&p, TCP_CSUM_AT);
        assert!(complete_partial_checksum(&mut p));
        assert_eq!(u16::from_be_bytes([p[36], p[37]]), want);
    }

    #[test]
    fn partial_udp_checksum_is_completed() {
        let mut u = vec![0u8; 8];
        u[0..2].copy_from_slice(&5353u16.to_be_bytes());
        u[2..4].copy_from_slice(&53u16.to_be_bytes());
        u[4..6].copy_from_slice(&(8u16 + 40).to_be_bytes());
        u.extend_from_slice(&[0x5a; 40]);
        let mut p = packet(PROTO_UDP, &u, 0);
        make_partial(&mut p, UDP_CSUM_AT);
        let want = full(&p, UDP_CSUM_AT);
        assert!(complete_partial_checksum(&mut p));
        assert_eq!(u16::from_be_bytes([p[26], p[27]]), want);
    }

    #[test]
    fn correct_checksums_and_other_packets_are_left_alone() {
        // A correct checksum is not touched.
        let mut p = packet(PROTO_TCP, &tcp_segment(b"payload"), 0x4000);
        let c = full(&p, TCP_CSUM_AT);
        p[36..38].copy_from_slice(&c.to_be_bytes());
        let before = p.clone();
        assert!(!complete_partial_checksum(&mut p));
        assert_eq!(p, before);
        // UDP without a checksum stays without one.
        let mut u = packet(PROTO_UDP, &[0, 53, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4], 0);
        let before = u.clone();
        assert!(!complete_partial_checksum(&mut u));
        assert_eq!(u, before);
        // A fragment's checksum covers bytes we do not have.
        let mut f = packet(PROTO_TCP, &tcp_segment(b"x"), 0x2000);
        make_partial(&mut f, TCP_CSUM_AT);
        let before = f.clone();
        assert!(!complete_partial_checksum(&mut f));
        assert_eq!(f, before);
        // Truncated L4 headers and non-IPv4 do not panic.
        let mut short = packet(PROTO_TCP, &[0; 10], 0);
        assert!(!complete_partial_checksum(&mut short));
        assert!(!complete_partial_checksum(&mut [0x60, 0, 0]));
    }

    /// Recomputing after completion changes nothing: the operation is
    /// idempotent, so a packet whose right checksum happens to equal its
    /// pseudo-header sum is rewritten with the same value.
    #[test]
    fn completion_is_idempotent() {
        let mut p = packet(PROTO_TCP, &tcp_segment(&[7; 1400]), 0x4000);
        make_partial(&mut p, TCP_CSUM_AT);
        complete_partial_checksum(&mut p);
        let once = p.clone();
        complete_partial_checksum(&mut p);
        assert_eq!(p, once);
    }
}
