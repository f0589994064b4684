//! The control protocol: requests, replies and the facts `show` prints.
//! The view types are the `--json` output, so their field names are part
//! of the user contract.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// Bumped when a request or reply changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 1;
/// Requests larger than this are refused without being parsed.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Replies larger than this are refused by the client (a bound, not a hope).
pub const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub version: u32,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Command {
    ShowIsakmpSa,
    ShowIkev2Sa,
    ClearIkev2Sa {
        peer: Option<Ipv4Addr>,
    },
    ShowIpsecSa {
        peer: Option<Ipv4Addr>,
    },
    ShowRunningConfig,
    ClearIsakmpSa {
        peer: Option<Ipv4Addr>,
    },
    ClearIpsecSa {
        peer: Option<Ipv4Addr>,
    },
    Debug {
        facility: DebugFacility,
        level: u8,
    },
    /// Dataplane verdict counters (for tests and `bpftool`-less checks).
    ShowDataplane,
    /// Apply a new configuration (the daemon's own file when `None`).
    Reload {
        config: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DebugFacility {
    Isakmp,
    Ikev2,
    Ipsec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub version: u32,
    #[serde(flatten)]
    pub body: ReplyBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ReplyBody {
    Ok { data: ReplyData },
    Error { message: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum ReplyData {
    IsakmpSas(IsakmpSaList),
    Ikev2Sas(Ikev2SaList),
    IpsecSas(Vec<IpsecSaView>),
    Text(String),
    Dataplane(Vec<(String, u64)>),
    Done(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Initiator,
    Responder,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Initiator => "initiator",
            Role::Responder => "responder",
        }
    }
}

/// `show crypto isakmp sa`: the SAs that exist, and, for configured peers
/// whose tunnel is not up, why not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IsakmpSaList {
    pub sas: Vec<IsakmpSaView>,
    pub down: Vec<PeerDiagnosis>,
}

/// One phase-1 SA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsakmpSaView {
    pub peer: Ipv4Addr,
    #[serde(rename = "type")]
    pub kind: String,
    pub role: Role,
    pub rekey: bool,
    /// ASA state name: MM_ACTIVE, MM_WAIT_MSG2, AM_ACTIVE, ...
    pub state: String,
    pub ike_version: u8,
    pub encryption: String,
    pub hash: String,
    pub group: u16,
    pub auth: String,
    pub lifetime_s: u64,
    pub remaining_s: u64,
    /// Why the SA is not active yet (or what last went wrong), in plain words.
    pub reason: Option<String>,
}

/// A configured peer whose tunnel is not up, and the reason, taken from
/// what really happened in the exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerDiagnosis {
    pub peer: Ipv4Addr,
    pub crypto_map: String,
    pub seq: u32,
    /// The state the last attempt ended in (MM_NO_STATE, MM_WAIT_MSG2, ...),
    /// or `IDLE` when no interesting traffic has asked for the tunnel yet.
    pub state: String,
    pub reason: String,
}

/// `show crypto ikev2 sa`: the IKEv2 SAs, and why IKEv2 peers are down.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ikev2SaList {
    pub sas: Vec<Ikev2SaView>,
    pub down: Vec<PeerDiagnosis>,
}

/// One IKEv2 SA; the `--json` of `show crypto ikev2 sa` is a list of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ikev2SaView {
    pub session_id: u64,
    pub peer: Ipv4Addr,
    /// `ADDR/PORT`.
    pub local: String,
    pub remote: String,
    pub role: Role,
    /// `READY`, `IN-NEG`, `DELETE`.
    pub state: String,
    /// `AES-CBC`, `AES-GCM`, `3DES`, ...
    pub encryption: String,
    pub keysize: u16,
    /// `SHA256` ..., `N/A` with a combined-mode cipher.
    pub integrity: String,
    pub prf: String,
    pub group: u16,
    /// `PSK` (both directions).
    pub auth: String,
    pub auth_sign: String,
    pub auth_verify: String,
    pub lifetime_s: u32,
    pub active_s: u64,
    pub nat_t: bool,
    pub local_spi: String,
    pub remote_spi: String,
    pub children: Vec<Ikev2ChildView>,
}

/// One CHILD SA pair of an IKEv2 SA, with live counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ikev2ChildView {
    /// `A/0 - B/65535`.
    pub local_selector: String,
    pub remote_selector: String,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub transform: String,
    pub packets_in: u64,
    pub packets_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One (addr/mask/prot/port) proxy identity, ASA style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ident {
    pub addr: Ipv4Addr,
    pub mask: Ipv4Addr,
    pub prot: u8,
    pub port: u16,
}

/// One IPsec SA pair (inbound and outbound) as `show crypto ipsec sa`
/// shows it. Counters are live, read from the ESP engine and BPF maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpsecSaView {
    pub interface: String,
    pub crypto_map: String,
    pub seq: u32,
    pub local_addr: Ipv4Addr,
    pub acl: String,
    pub local_ident: Ident,
    pub remote_ident: Ident,
    pub peer: Ipv4Addr,
    pub pkts_encaps: u64,
    pub pkts_encrypt: u64,
    pub pkts_digest: u64,
    pub pkts_decaps: u64,
    pub pkts_decrypt: u64,
    pub pkts_verify: u64,
    pub bytes_encaps: u64,
    pub bytes_decaps: u64,
    pub send_errors: u64,
    pub recv_errors: u64,
    pub replay_drops: u64,
    pub policy_drops: u64,
    pub auth_failures: u64,
    pub path_mtu: u32,
    pub ipsec_overhead: u32,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub transform: String,
    pub mode: String,
    /// Remote UDP port when ESP is encapsulated (NAT-T), else `None`.
    pub udp_encap: Option<u16>,
    pub remaining_s: u64,
    pub remaining_kb: u64,
    pub iv_size: u32,
    pub replay_window: u32,
    pub pfs_group: Option<u16>,
}

impl Request {
    pub fn new(command: Command) -> Request {
        Request {
            version: PROTOCOL_VERSION,
            command,
        }
    }
}

impl Reply {
    pub fn ok(data: ReplyData) -> Reply {
        Reply {
            version: PROTOCOL_VERSION,
            body: ReplyBody::Ok { data },
        }
    }

    pub fn error(message: impl Into<String>) -> Reply {
        Reply {
            version: PROTOCOL_VERSION,
            body: ReplyBody::Error {
                message: message.into(),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("request larger than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("unsupported protocol version {0} (this daemon speaks {PROTOCOL_VERSION})")]
    Version(u32),
}

/// Decodes one request line, enforcing the size bound and the version.
pub fn decode_request(line: &[u8]) -> Result<Request, ProtoError> {
    if line.len() > MAX_REQUEST_BYTES {
        return Err(ProtoError::TooLarge);
    }
    // Check the version before the command, so an old client gets a
    // version error rather than "unknown variant".
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| ProtoError::Malformed(e.to_string()))?;
    let version = value
        .get("version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| ProtoError::Malformed("missing `version`".into()))?;
    if version != u64::from(PROTOCOL_VERSION) {
        return Err(ProtoError::Version(version.try_into().unwrap_or(u32::MAX)));
    }
    serde_json::from_value(value).map_err(|e| ProtoError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip_and_shape() {
        let r = Request::new(Command::ShowIpsecSa {
            peer: Some(Ipv4Addr::new(192, 0, 2, 2)),
        });
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(
            s,
            r#"{"version":1,"command":{"cmd":"show-ipsec-sa","peer":"192.0.2.2"}}"#
        );
        assert_eq!(decode_request(s.as_bytes()).unwrap(), r);
    }

    #[test]
    fn bad_requests_are_errors() {
        assert!(matches!(
            decode_request(b"{"),
            Err(ProtoError::Malformed(_))
        ));
        assert!(matches!(
            decode_request(br#"{"version":9,"command":{"cmd":"show-isakmp-sa"}}"#),
            Err(ProtoError::Version(9))
        ));
        assert!(matches!(
            decode_request(br#"{"version":1,"command":{"cmd":"format-disk"}}"#),
            Err(ProtoError::Malformed(_))
        ));
        let big = vec![b' '; MAX_REQUEST_BYTES + 1];
        assert!(matches!(decode_request(&big), Err(ProtoError::TooLarge)));
    }
}
