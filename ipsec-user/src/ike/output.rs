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
