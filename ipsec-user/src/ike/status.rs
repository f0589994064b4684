//! What `show` reports of IKE SAs and peers, the same for both versions.

use std::fmt;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Role {
    Initiator,
    Responder,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Initiator => "Initiator",
            Role::Responder => "Responder",
        })
    }
}

/// Per configured peer: up, or why not, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerStatus {
    pub name: String,
    pub peer: Ipv4Addr,
    pub up: bool,
    pub ipsec_sas: usize,
    pub detail: String,
    /// The last failure with this peer ("STATE: reason"), until a tunnel
    /// comes up again.
    pub last_failure: Option<String>,
}

/// One IKEv2 SA of `show crypto ikev2 sa` (ASA layout and JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ikev2SaInfo {
    /// ASA `Session-id` and `Tunnel-id`: the engine's IKE SA number.
    pub session_id: u64,
    pub peer: Ipv4Addr,
    /// `ADDR/PORT` of each side, as ASA prints them.
    pub local: String,
    pub remote: String,
    pub role: Role,
    /// `READY` once IKE_AUTH completed; `IN-NEG` before; `DELETE` while
    /// being deleted.
    pub state: String,
    /// `AES-GCM` / `AES-CBC` / `3DES` ...
    pub encryption: String,
    /// Bits.
    pub keysize: u16,
    /// `SHA256`, or `none` with a combined-mode cipher.
    pub integrity: String,
    pub prf: String,
    pub group: u16,
    pub auth_sign: String,
    pub auth_verify: String,
    pub lifetime_s: u32,
    pub active_s: u64,
    pub nat_t: bool,
    /// Our and the peer's IKE SPI, hex.
    pub local_spi: String,
    pub remote_spi: String,
    pub children: Vec<Ikev2ChildInfo>,
}

/// One CHILD SA under an IKEv2 SA.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ikev2ChildInfo {
    pub selector: u32,
    /// `A/0 - B/65535` as ASA prints a selector (protocol and ports in
    /// `local_selector_detail`).
    pub local_selector: String,
    pub remote_selector: String,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub transform: crate::algo::EspTransform,
}
