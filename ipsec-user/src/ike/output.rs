//! What an IKE engine asks the daemon to do.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::child::ChildSa;
use super::config::SelectorId;
use super::failure::FailureReason;

#[derive(Debug, Clone)]
pub enum Output {
    /// An IKE datagram, WITHOUT the 4-byte non-ESP marker (the daemon adds
    /// it when `from` or `to` uses port 4500). A NAT-T keepalive is the single
    /// byte 0xff and is sent as-is (RFC 3948 section 2.3, no marker).
    Send {
        from: SocketAddrV4,
        to: SocketAddrV4,
        data: Vec<u8>,
    },
    ChildSaUp(ChildSa),
    ChildSaDown {
        peer: Ipv4Addr,
        selector: SelectorId,
        inbound_spi: u32,
        outbound_spi: u32,
    },
    IsakmpUp {
        peer: Ipv4Addr,
        icookie: [u8; 8],
        rcookie: [u8; 8],
    },
    IsakmpDown {
        peer: Ipv4Addr,
        icookie: [u8; 8],
        rcookie: [u8; 8],
        reason: String,
    },
    Failure {
        peer: Ipv4Addr,
        reason: FailureReason,
    },
}

/// A NAT-T keepalive (RFC 3948 2.3), the same for both IKE versions: when
/// `next` is due, the one-byte datagram goes out and the next one is
/// `every()` later (looked up only then: the tunnel-group's `nat_keepalive`, 20 s if the peer
/// went from the configuration).
pub fn nat_keepalive_due(
    now: std::time::Instant,
    next: &mut Option<std::time::Instant>,
    from: SocketAddrV4,
    to: SocketAddrV4,
    every: impl FnOnce() -> Option<std::time::Duration>,
    out: &mut Vec<Output>,
) {
    if next.is_none_or(|k| now < k) {
        return;
    }
    out.push(Output::Send {
        from,
        to,
        data: vec![0xff],
    });
    *next = Some(now + every().unwrap_or(std::time::Duration::from_secs(20)));
}
