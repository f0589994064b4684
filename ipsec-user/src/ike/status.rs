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
    /// The state the negotiation is in or last ended in (MM_WAIT_MSG2,
    /// AUTH_SENT, ...), `UP`, or `IDLE` when nothing was tried.
    pub state: String,
    /// What is happening or went wrong, in words (without the state).
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

/// "STATE: reason" as a peer's last failure reads (just the reason when
/// nothing had started: IDLE).
pub fn failure_text(state: &str, reason: &str) -> String {
    if state == "IDLE" {
        reason.to_string()
    } else {
        format!("{state}: {reason}")
    }
}

/// What an engine knows of one configured peer address.
pub struct PeerFacts<'a> {
    pub ipsec_sas: usize,
    /// An IKE SA with the peer is up.
    pub ike_up: bool,
    /// The state of an IKE SA with the peer still negotiating.
    pub negotiating: Option<&'a str>,
    /// The last failure: (state it ended in, reason).
    pub failure: Option<(&'a str, &'a str)>,
    /// "ISAKMP SA" or "IKEv2 SA", for the words.
    pub ike_name: &'a str,
}

impl PeerFacts<'_> {
    /// (up, state, detail): the same rules for both IKE versions.
    pub fn judge(&self) -> (bool, String, String) {
        let name = self.ike_name;
        if self.ipsec_sas > 0 {
            let ike = if self.ike_up { "up" } else { "not present" };
            return (
                true,
                "UP".into(),
                format!("up: {} IPsec SA pair(s), {name} {ike}", self.ipsec_sas),
            );
        }
        if let Some(state) = self.negotiating {
            let detail = match self.failure {
                Some((s, r)) if s == state => r.to_string(),
                Some((s, r)) => format!("negotiating; last failure: {s}: {r}"),
                None => "negotiating".to_string(),
            };
            return (false, state.to_string(), detail);
        }
        if let Some((s, r)) = self.failure {
            return (false, s.to_string(), r.to_string());
        }
        if self.ike_up {
            return (
                false,
                "IDLE".into(),
                format!("{name} up, no IPsec SA (waiting for interesting traffic)"),
            );
        }
        (
            false,
            "IDLE".into(),
            "down: no interesting traffic yet".into(),
        )
    }
}
