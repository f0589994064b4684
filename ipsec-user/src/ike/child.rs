//! A negotiated child (IPsec) SA pair as the ESP engine receives it. Shared
//! by IKEv1 quick mode and IKEv2 IKE_AUTH / CREATE_CHILD_SA.

use std::fmt;
use std::net::Ipv4Addr;

use zeroize::Zeroizing;

use super::config::{Ipv4Net, SelectorId};
use crate::algo::EspTransform;

/// A negotiated IPsec SA pair, ready for the ESP engine. Keys are wiped on
/// drop and never printed.
#[derive(Clone)]
pub struct ChildSa {
    pub peer: Ipv4Addr,
    pub local: Ipv4Addr,
    pub selector: SelectorId,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub transform: EspTransform,
    /// Encryption key (with AEAD salt) followed by the integrity key.
    pub inbound_keymat: Zeroizing<Vec<u8>>,
    pub outbound_keymat: Zeroizing<Vec<u8>>,
    pub lifetime_s: u32,
    pub lifetime_kb: Option<u64>,
    /// (local port, remote port) of UDP encapsulation (NAT-T), if used.
    pub udp_encap: Option<(u16, u16)>,
    pub local_ts: Ipv4Net,
    pub remote_ts: Ipv4Net,
    /// The inbound SPI of the SA this one replaces (rekey), if any.
    pub replaces: Option<u32>,
    /// Extended (64-bit) sequence numbers, as negotiated (RFC 4304).
    pub esn: bool,
    /// The IP protocol and ports of the proxy identities (0: any), as
    /// negotiated: a peer may narrow an ACL line to one protocol or port,
    /// and the SA then carries only that traffic.
    pub proto: u8,
    pub local_port: u16,
    pub remote_port: u16,
}

impl fmt::Debug for ChildSa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSa")
            .field("peer", &self.peer)
            .field("selector", &self.selector)
            .field("inbound_spi", &format_args!("{:#010x}", self.inbound_spi))
            .field("outbound_spi", &format_args!("{:#010x}", self.outbound_spi))
            .field("transform", &self.transform)
            .field("udp_encap", &self.udp_encap)
            .field("esn", &self.esn)
            .field("local_ts", &self.local_ts)
            .field("remote_ts", &self.remote_ts)
            .finish_non_exhaustive()
    }
}
