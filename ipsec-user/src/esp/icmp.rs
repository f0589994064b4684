//! ICMP "destination unreachable, fragmentation needed" (type 3 code 4,
//! RFC 792 / RFC 1191) for inner packets with DF set that would be too big
//! once encapsulated, so the sender's path-MTU discovery shrinks them.

use std::net::Ipv4Addr;

use super::ipv4::{self, IPV4_HEADER, Ipv4Emit, PROTO_ICMP};

const ICMP_HEADER: usize = 8;
/// Original IP header + the first 8 bytes of its payload (RFC 792).
const QUOTED_PAYLOAD: usize = 8;

/// Why no ICMP error may or can be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IcmpError {
    #[error("the offending packet is not a well-formed IPv4 packet")]
    Malformed,
    #[error(
        "no ICMP error about this packet (RFC 1122 3.2.2: ICMP error, fragment or non-unicast source)"
    )]
    NotAllowed,
    #[error("output buffer too small: need {0} bytes")]
    BufferTooSmall(usize),
}

/// Builds the IPv4 ICMP reply from `our_addr` to the sender of `inner` in
/// `out` and returns its length.
pub fn build_frag_needed(
    inner: &[u8],
    next_hop_mtu: u16,
    our_addr: Ipv4Addr,
    out: &mut [u8],
) -> Result<usize, IcmpError> {
    let ip = ipv4::parse(inner).ok_or(IcmpError::Malformed)?;
    // RFC 1122 3.2.2: never about an ICMP error, a non-first fragment, or
    // a source that does not name one host.
    let src = ip.src;
    if ip.fragment_offset != 0
        || src.is_unspecified()
        || src.is_broadcast()
        || src.is_multicast()
        || src.is_loopback()
    {
        return Err(IcmpError::NotAllowed);
    }
    if ip.protocol == PROTO_ICMP {
        let ty = inner
            .get(ip.header_len)
            .copied()
            .ok_or(IcmpError::Malformed)?;
        // Only echo request/reply, timestamp and info messages are queries.
        if !matches!(ty, 0 | 8 | 13 | 14 | 15 | 16) {
            return Err(IcmpError::NotAllowed);
        }
    }
    let quoted = (ip.header_len + QUOTED_PAYLOAD).min(ip.total_len);
    let total = IPV4_HEADER + ICMP_HEADER + quoted;
    if out.len() < total {
        return Err(IcmpError::BufferTooSmall(total));
    }
    let out = &mut out[..total];
    let (ip_hdr, icmp) = out.split_at_mut(IPV4_HEADER);
    icmp[0] = 3;
    icmp[1] = 4;
    icmp[2..4].copy_from_slice(&[0, 0]);
    icmp[4..6].copy_from_slice(&[0, 0]);
    icmp[6..8].copy_from_slice(&next_hop_mtu.to_be_bytes());
    icmp[ICMP_HEADER..].copy_from_slice(&inner[..quoted]);
    let c = ipv4::checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Ipv4Emit {
        tos: 0xc0, // internetwork control, as routers send ICMP errors
        total_len: total as u16,
        ident: 0,
        dont_fragment: false,
        ttl: 64,
        protocol: PROTO_ICMP,
        src: our_addr,
        dst: src,
    }
    .emit(ip_hdr);
    Ok(total)
}
