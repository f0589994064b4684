//! IKEv2 (RFC 7296) messages: the header fields IKEv2 gives meaning to, the
//! payloads as typed `Repr`s that `parse` and `emit`, and the SK / SKF
//! (RFC 7383) envelope. Pure: no crypto here (the SK payload's ciphertext
//! is produced and opened by `ike::crypto::sk`), no sockets.
//!
//! # API in one screen
//!
//! * Receive: [`MessageV2Repr::parse`] on the UDP payload (non-ESP marker
//!   stripped): header, cleartext payloads, and [`Protected`] telling
//!   where an SK / SKF payload starts. Hand that offset to
//!   `ike::crypto::sk::open` (or `Reassembly::add` for SKF), then
//!   [`parse_chain`]`(first_inner, &plaintext)`.
//! * Send: [`emit_message`] for cleartext (IKE_SA_INIT);
//!   [`emit_chain`] for the inner payloads of `ike::crypto::sk::seal`.
//! * Values: [`PayloadV2`] -> [`SaV2`] / [`ProposalV2`] / [`TransformV2`],
//!   [`KeV2`], [`IdV2`] ([`IdV2::body`] is what AUTH covers), [`AuthV2`],
//!   [`NotifyV2`], [`DeleteV2`], [`TsV2`] / [`TrafficSelectorV2`].
//! * Errors: [`WireError`](super::WireError);
//!   [`WireError::notify_type_v2`](super::WireError::notify_type_v2) gives
//!   the notify to answer with.
//!
//! # Policies
//!
//! * Header: version 2.x (minor ignored), `28 <= length <= datagram`;
//!   bytes after `length` are ignored.
//! * Chains: at most `MAX_PAYLOADS` (64); unknown critical payloads fail
//!   the message, unknown non-critical ones are kept as `Other`; SK / SKF
//!   only last; a cleartext chain or a decrypted body must end exactly
//!   where its last payload does.
//! * Transforms with unknown attributes are dropped from their proposal
//!   (RFC 7296 3.3.6), see [`SaV2`]'s module; IPv6 traffic selectors are
//!   skipped and counted.
//! * Sizes: SPI 0/4/8, KE data 1..=1024, nonce 16..=256, ID data
//!   1..=2048, AUTH data 1..=2048, notify data <= 4096, <= 16 traffic
//!   selectors, <= 256 delete SPIs, <= 64 proposals, transforms and
//!   attributes.
//! * Emitting panics only on local data no message can carry (a payload
//!   over 65535 bytes, over 255 transforms, SPIs of mixed sizes).

pub mod payload_type;

/// IKEv2 header flags (RFC 7296 3.1).
pub mod flags {
    /// Sent by the original initiator of the IKE SA.
    pub const INITIATOR: u8 = 0x08;
    pub const VERSION: u8 = 0x10;
    pub const RESPONSE: u8 = 0x20;
}

/// Exchange types.
pub mod exchange {
    pub const IKE_SA_INIT: u8 = 34;
    pub const IKE_AUTH: u8 = 35;
    pub const CREATE_CHILD_SA: u8 = 36;
    pub const INFORMATIONAL: u8 = 37;
}

/// Transform types (RFC 7296 3.3.2).
pub mod transform_type {
    pub const ENCR: u8 = 1;
    pub const PRF: u8 = 2;
    pub const INTEG: u8 = 3;
    pub const DH: u8 = 4;
    pub const ESN: u8 = 5;
}

/// Protocol ids of proposals, notifies and deletes.
pub mod protocol {
    pub const IKE: u8 = 1;
    pub const AH: u8 = 2;
    pub const ESP: u8 = 3;
}

/// Notify message types used here (RFC 7296 3.10.1, RFC 7383, RFC 7427).
pub mod notify {
    pub const UNSUPPORTED_CRITICAL_PAYLOAD: u16 = 1;
    pub const INVALID_IKE_SPI: u16 = 4;
    pub const INVALID_MAJOR_VERSION: u16 = 5;
    pub const INVALID_SYNTAX: u16 = 7;
    pub const INVALID_MESSAGE_ID: u16 = 9;
    pub const INVALID_SPI: u16 = 11;
    pub const NO_PROPOSAL_CHOSEN: u16 = 14;
    pub const INVALID_KE_PAYLOAD: u16 = 17;
    pub const AUTHENTICATION_FAILED: u16 = 24;
    pub const SINGLE_PAIR_REQUIRED: u16 = 34;
    pub const NO_ADDITIONAL_SAS: u16 = 35;
    pub const INTERNAL_ADDRESS_FAILURE: u16 = 36;
    pub const FAILED_CP_REQUIRED: u16 = 37;
    pub const TS_UNACCEPTABLE: u16 = 38;
    pub const INVALID_SELECTORS: u16 = 39;
    pub const TEMPORARY_FAILURE: u16 = 43;
    pub const CHILD_SA_NOT_FOUND: u16 = 44;
    /// Status types (16384 and up).
    pub const INITIAL_CONTACT: u16 = 16384;
    pub const SET_WINDOW_SIZE: u16 = 16385;
    pub const ADDITIONAL_TS_POSSIBLE: u16 = 16386;
    pub const IPCOMP_SUPPORTED: u16 = 16387;
    pub const NAT_DETECTION_SOURCE_IP: u16 = 16388;
    pub const NAT_DETECTION_DESTINATION_IP: u16 = 16389;
    pub const COOKIE: u16 = 16390;
    pub const USE_TRANSPORT_MODE: u16 = 16391;
    pub const REKEY_SA: u16 = 16393;
    pub const ESP_TFC_PADDING_NOT_SUPPORTED: u16 = 16394;
    pub const NON_FIRST_FRAGMENTS_ALSO: u16 = 16395;
    pub const MOBIKE_SUPPORTED: u16 = 16396;
    pub const IKEV2_FRAGMENTATION_SUPPORTED: u16 = 16430;
    pub const SIGNATURE_HASH_ALGORITHMS: u16 = 16431;

    /// Error types are below 16384: a response carrying one failed.
    pub fn is_error(kind: u16) -> bool {
        kind < 16384
    }
}

/// AUTH methods (RFC 7296 3.8).
pub mod auth_method {
    pub const RSA_SIG: u8 = 1;
    pub const SHARED_KEY_MIC: u8 = 2;
    pub const DIGITAL_SIGNATURE: u8 = 14;
}

/// ID types (RFC 7296 3.5).
pub mod id_type {
    pub const IPV4_ADDR: u8 = 1;
    pub const FQDN: u8 = 2;
    pub const RFC822_ADDR: u8 = 3;
    pub const IPV6_ADDR: u8 = 5;
    pub const DER_ASN1_DN: u8 = 9;
    pub const KEY_ID: u8 = 11;
}

mod auth;
mod header;
mod id;
mod ke;
mod message;
mod notify_delete;
mod payload;
mod sa;
pub mod transform_id;
mod ts;

pub use auth::{AuthV2, MAX_AUTH_DATA_LEN};
pub use header::HeaderV2;
pub use id::IdV2;
pub use ke::{KE_DATA_LEN, KeV2};
pub use message::{
    MessageV2Repr, Protected, SK_HEADER_LEN, SKF_HEADER_LEN, emit_chain, emit_message,
    emit_sk_header, emit_skf_header, find_notify, parse_chain,
};
pub use notify_delete::{DeleteV2, NotifyV2};
pub use payload::{CRITICAL, NONCE_LEN_V2, PayloadV2};
pub use sa::{ATTR_KEY_LENGTH, ProposalV2, SaV2, TransformV2};
pub use ts::{
    MAX_TRAFFIC_SELECTORS, TS_IPV4_ADDR_RANGE, TS_IPV6_ADDR_RANGE, TrafficSelectorV2, TsV2,
};

#[cfg(test)]
mod tests;

/// IKEv2 notify codes for wire errors (IKEv1 has its own,
/// `WireError::notify_type`).
impl super::error::WireError {
    /// The IKEv2 notify (RFC 7296 3.10.1) answering this error:
    /// UNSUPPORTED_CRITICAL_PAYLOAD (its data is the payload type,
    /// [`super::error::WireError::UnsupportedCriticalPayload`]'s value),
    /// INVALID_MAJOR_VERSION, or INVALID_SYNTAX for everything else (RFC
    /// 7296 has no finer code for a malformed message). Only answer in
    /// cleartext where RFC 7296 2.21 allows it.
    pub fn notify_type_v2(&self) -> u16 {
        use self::notify;
        match self {
            super::error::WireError::UnsupportedCriticalPayload(_) => {
                notify::UNSUPPORTED_CRITICAL_PAYLOAD
            }
            super::error::WireError::UnsupportedVersion { .. }
            | super::error::WireError::WrongVersion(_) => notify::INVALID_MAJOR_VERSION,
            _ => notify::INVALID_SYNTAX,
        }
    }
}
