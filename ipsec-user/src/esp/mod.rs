//! ESP engine packet core (RFC 4303 tunnel mode, RFC 3948 NAT-T): SAs,
//! transforms, encapsulation, decapsulation, the anti-replay window, per-SA
//! counters, and the pure helpers the AF_XDP workers call (hold queue, TCP
//! MSS clamp, ICMP "fragmentation needed").
//!
//! Pure Rust, no sockets, no IKE knowledge. Built for the AF_XDP data path:
//! an SA is owned by one worker (`&mut self`, no locks), packets are
//! processed in caller-provided buffers (UMEM frames), nothing allocates per
//! packet.
//!
//! # API
//!
//! ```text
//! SaParams { spi, transform: EspTransform, keymat: &[u8], tunnel_src, tunnel_dst,
//!            udp_encap: Option<(u16, u16)>, esn, local_ts: Selector,
//!            remote_ts: Selector, lifetime_kb: Option<u64> }
//!
//! OutboundSa::new(&SaParams) -> Result<OutboundSa, EspError>
//! OutboundSa::encapsulate(&mut self, inner: &[u8], out: &mut [u8]) -> Result<usize, EspError>
//! OutboundSa::encapsulated_len(&self, inner_len) -> usize
//! OutboundSa::max_inner_len(&self, mtu) -> usize      // for ICMP frag-needed
//! OutboundSa::counters(&self) -> &SaCounters
//! OutboundSa::needs_rekey(&self) -> bool               // seq near wrap, 90% of kB
//! OutboundSa::expired(&self) -> bool                   // kB lifetime used up
//!
//! InboundSa::new(&SaParams) -> Result<InboundSa, EspError>
//! InboundSa::decapsulate(&mut self, esp: &mut [u8]) -> Result<Range<usize>, EspError>
//! InboundSa::counters / needs_rekey / expired / highest_seq
//!
//! parse_outer(ipv4_packet) / parse_outer_ethernet(frame) -> Result<OuterEsp, OuterError>
//! complete_partial_checksum(ipv4_packet: &mut [u8]) -> bool   // CHECKSUM_PARTIAL senders
//! clamp_tcp_mss(ipv4_packet: &mut [u8], max_mss: u16) -> bool
//! build_frag_needed(inner, next_hop_mtu, our_addr, out) -> Result<usize, IcmpError>
//! HoldQueue::new(capacity, max_packet, max_age) / push / drain
//! Fragmenter::new(outer_packet, mtu) / next_into(out)  // RFC 4303 3.3.5
//! ```
//!
//! Encapsulation writes outer IPv4 (TOS and DF copied from the inner
//! packet, TTL 64), UDP (checksum 0) under NAT-T, then SPI, sequence number,
//! IV, ciphertext (payload, padding 1, 2, 3..., pad length, next header 4)
//! and the ICV. Decapsulation order and what each failure counts: see
//! [`inbound`]. Algorithm choices and IVs: see [`transform`].

pub mod counters;
pub mod fragment;
pub mod hold;
pub mod icmp;
pub mod icmp_limit;
pub mod inbound;
pub mod ipv4;
pub mod mss;
pub mod outbound;
pub mod outer;
pub mod partial_csum;
pub mod replay;
pub mod sa;
pub mod transform;

use std::net::Ipv4Addr;

pub use counters::SaCounters;
pub use fragment::{FragError, Fragmenter};
pub use hold::HoldQueue;
pub use icmp::{IcmpError, build_frag_needed};
pub use icmp_limit::IcmpRateLimiter;
pub use inbound::InboundSa;
pub use mss::{DEFAULT_MSS, clamp_tcp_mss};
pub use outbound::OutboundSa;
pub use outer::{OuterError, OuterEsp, parse_outer, parse_outer_ethernet};
pub use partial_csum::complete_partial_checksum;
pub use replay::{REPLAY_WINDOW, ReplayVerdict};
pub use sa::{SaParams, Selector, volume_rekey_due};

/// Everything that can go wrong installing an SA or processing a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EspError {
    #[error("key material is {got} bytes, the transform needs {expected}")]
    KeyLength { expected: usize, got: usize },
    #[error("unsupported SA: {0}")]
    Unsupported(&'static str),
    #[error("crypto library error: {0}")]
    Crypto(&'static str),
    #[error("output buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall { need: usize, have: usize },
    #[error("encapsulated packet would be {len} bytes, over the IPv4 maximum")]
    TooBig { len: usize },
    #[error("sequence number space exhausted: the SA must be rekeyed")]
    SequenceExhausted,
    #[error("kilobyte lifetime used up: the SA must be rekeyed")]
    LifetimeExpired,
    #[error("inner packet is not a well-formed IPv4 packet")]
    InnerMalformed,
    #[error("ESP packet of {len} bytes is shorter than the minimum {min}")]
    Truncated { len: usize, min: usize },
    #[error("ciphertext of {len} bytes is not a multiple of {align}")]
    Misaligned { len: usize, align: usize },
    #[error("SPI {got:#010x} is not this SA's ({expected:#010x})")]
    WrongSpi { got: u32, expected: u32 },
    #[error("replayed packet ({0:?})")]
    Replay(ReplayVerdict),
    #[error("integrity check failed")]
    AuthFailed,
    #[error("bad ESP padding")]
    BadPadding,
    #[error("next header {0} is not IPv4 (4)")]
    NextHeader(u8),
    #[error("dummy packet (next header 59), discarded")]
    Dummy,
    #[error("inner packet {src} -> {dst} is outside the SA's selectors")]
    PolicyViolation { src: Ipv4Addr, dst: Ipv4Addr },
}
