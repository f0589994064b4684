//! IKEv2 (RFC 7296) messages: the header fields IKEv2 gives meaning to, the
//! payloads as typed `Repr`s that `parse` and `emit`, and the SK / SKF
//! (RFC 7383) envelope. Pure: no crypto here (the SK payload's ciphertext
//! is produced and opened by `ike::crypto::sk`), no sockets.
//!
//! SKELETON: the types and signatures are the contract the IKEv2 exchanges
//! are written against; bodies marked `todo!()` are being filled in.

use std::net::Ipv4Addr;

use super::error::WireError;

pub use super::ikev2::payload_type;

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

/// The IKEv2 view of the 28-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderV2 {
    pub spi_i: [u8; 8],
    pub spi_r: [u8; 8],
    pub next_payload: u8,
    pub exchange: u8,
    /// [`flags`] bits.
    pub flags: u8,
    pub message_id: u32,
    /// Total message length, header included.
    pub length: u32,
}

impl HeaderV2 {
    pub fn is_response(&self) -> bool {
        self.flags & flags::RESPONSE != 0
    }
    pub fn from_initiator(&self) -> bool {
        self.flags & flags::INITIATOR != 0
    }

    /// Parses the first 28 bytes; version must be 2.x; `length` must lie in
    /// 28..=data.len().
    pub fn parse(data: &[u8]) -> Result<HeaderV2, WireError> {
        let _ = data;
        todo!()
    }

    /// The 28 header bytes (version 0x20).
    pub fn emit(&self) -> [u8; 28] {
        todo!()
    }
}

/// One transform of a proposal (RFC 7296 3.3.2); `key_len` is the Key
/// Length attribute (14) in bits, the only attribute IKEv2 defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformV2 {
    pub kind: u8,
    pub id: u16,
    pub key_len: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalV2 {
    /// Proposal number, 1-based, as numbered by the sender.
    pub num: u8,
    /// [`protocol`] id.
    pub protocol: u8,
    /// Empty in IKE_SA_INIT; the 8-byte IKE SPI in an IKE rekey; the
    /// 4-byte ESP SPI for a child.
    pub spi: Vec<u8>,
    pub transforms: Vec<TransformV2>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaV2 {
    pub proposals: Vec<ProposalV2>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeV2 {
    pub group: u16,
    pub data: Vec<u8>,
}

/// IDi / IDr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdV2 {
    pub id_type: u8,
    pub data: Vec<u8>,
}

impl IdV2 {
    /// The payload body after the generic header (ID type, 3 reserved
    /// bytes, data): what the AUTH computation's prf(SK_p, IDx') covers.
    pub fn body(&self) -> Vec<u8> {
        todo!()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthV2 {
    pub method: u8,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyV2 {
    pub protocol: u8,
    pub spi: Vec<u8>,
    pub kind: u16,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteV2 {
    pub protocol: u8,
    /// Empty for IKE (SPI size 0); 4-byte SPIs for ESP.
    pub spis: Vec<Vec<u8>>,
}

/// One IPv4 traffic selector (TS type 7, RFC 7296 3.13.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficSelectorV2 {
    /// 0: any protocol.
    pub ip_proto: u8,
    pub start_port: u16,
    pub end_port: u16,
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsV2 {
    /// IPv6 selectors (type 8) are skipped on parse (counted in
    /// `skipped`); IPv6 is another issue.
    pub selectors: Vec<TrafficSelectorV2>,
    pub skipped: usize,
}

/// A payload of an IKEv2 chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadV2 {
    Sa(SaV2),
    Ke(KeV2),
    IdI(IdV2),
    IdR(IdV2),
    Cert {
        encoding: u8,
        data: Vec<u8>,
    },
    CertReq {
        encoding: u8,
        data: Vec<u8>,
    },
    Auth(AuthV2),
    Nonce(Vec<u8>),
    Notify(NotifyV2),
    Delete(DeleteV2),
    VendorId(Vec<u8>),
    TsI(TsV2),
    TsR(TsV2),
    /// CP, EAP and unknown non-critical payloads: kept raw.
    Other {
        kind: u8,
        body: Vec<u8>,
    },
}

/// How the body of a parsed message continues after the cleartext
/// payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protected {
    /// No SK / SKF payload.
    None,
    /// SK: `first_inner` is the SK payload's next-payload field (the type
    /// of the first encrypted payload); `offset` is where the SK payload's
    /// generic header starts in the message; the encrypted data (IV,
    /// ciphertext, ICV) is `message[offset + 4 ..length]`.
    Sk { first_inner: u8, offset: usize },
    /// SKF (RFC 7383): fragment `number` of `total`; `first_inner` is
    /// meaningful in fragment 1 only.
    Skf {
        first_inner: u8,
        offset: usize,
        number: u16,
        total: u16,
    },
}

/// A parsed IKEv2 message: header, cleartext payloads (in order) and
/// the protected part, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageV2Repr {
    pub header: HeaderV2,
    pub payloads: Vec<PayloadV2>,
    pub protected: Protected,
}

impl MessageV2Repr {
    /// Parses a whole datagram (no non-ESP marker). Unknown payloads
    /// with the critical bit set are an error
    /// (UNSUPPORTED_CRITICAL_PAYLOAD); unknown non-critical ones become
    /// `Other`. Bounded: at most `MAX_PAYLOADS` payloads, sizes checked.
    pub fn parse(data: &[u8]) -> Result<MessageV2Repr, WireError> {
        let _ = data;
        todo!()
    }
}

/// Parses a decrypted SK body: a chain starting with `first` (the SK
/// payload's next-payload). Trailing bytes after the chain are an error.
pub fn parse_chain(first: u8, bytes: &[u8]) -> Result<Vec<PayloadV2>, WireError> {
    let _ = (first, bytes);
    todo!()
}

/// Emits a chain: (type of the first payload, bytes).
pub fn emit_chain(payloads: &[PayloadV2]) -> (u8, Vec<u8>) {
    let _ = payloads;
    todo!()
}

/// A whole cleartext message (IKE_SA_INIT): header (its `next_payload`
/// and `length` are set here) followed by `payloads`.
pub fn emit_message(header: HeaderV2, payloads: &[PayloadV2]) -> Vec<u8> {
    let _ = (header, payloads);
    todo!()
}
