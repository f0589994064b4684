//! ISAKMP (RFC 2408) / IKEv1 (RFC 2409, IPsec DOI RFC 2407, NAT-T RFC 3947,
//! DPD RFC 3706) messages and payloads: typed views over bytes and `Repr`s
//! that `parse` and `emit`, in the style of smoltcp's `wire`.
//!
//! Pure: no sockets, no async, no crypto.  Every parser bounds-checks,
//! bounds counts and sizes, and returns a [`WireError`] (which maps to the
//! notify to answer with, [`WireError::notify_type`]); nothing panics on
//! peer input.
//!
//! # API in one screen
//!
//! * Receive: [`IkeMessage::parse`] (or [`Message::parse`] for IKEv1 only)
//!   on the UDP payload (strip the NAT-T marker first on port 4500 with
//!   [`classify_udp4500`]).  A cleartext [`Message`] has `payloads`, a
//!   [`PayloadChain`] of [`RawPayload`]s (type, body, raw bytes, offset) in
//!   order; [`Payload::parse`] turns one into a typed `Repr`.  An encrypted
//!   one (`header.flags` has [`Flags::ENCRYPTION`]) exposes
//!   [`Message::ciphertext`]; after decryption call
//!   [`parse_payloads`]`(header.next_payload, &plaintext)`, which tolerates
//!   the padding after the last payload and returns where the chain ended
//!   (`PayloadChain::end`).
//! * Hash inputs: `RawPayload::body` is SAi_b / IDii_b (RFC 2409 5);
//!   [`PayloadChain::after_first`]`(&plaintext)` is what quick-mode and
//!   informational HASH(1) cover after M-ID (padding excluded).  Compare a
//!   received HASH with [`HashRepr::ct_eq`] (constant time).
//! * Offers: [`SaRepr::phase1`]`(&[Phase1Attrs])` and
//!   [`SaRepr::esp`]`(spi, &[Phase2Attrs])` build one proposal whose
//!   transforms are the alternatives, as Cisco and strongSwan do.
//! * Meaning: [`SaRepr`] -> [`ProposalRepr`] -> [`TransformRepr`] ->
//!   [`Attribute`]; [`Phase1Attrs::from_attributes`] and
//!   [`esp_transform_from_attrs`] map to the `crate::algo` enums (and back
//!   with `to_attributes` / `to_transform_id_and_attributes`).
//! * Send: [`MessageBuilder`]: `push` payloads in order, then `build()`
//!   (cleartext), or `chain()` -> encrypt -> `build_encrypted(ct)`.
//!   [`emit_chain`] emits a bare chain (e.g. for HASH(1) input).
//! * Vendor ids: [`KnownVendor::recognise`]; NAT-D/NAT-OA in RFC (20/21)
//!   or draft (130/131) numbering; fragments (132) are parsed, **not
//!   reassembled**.
//! * IKEv2: [`v2`] (typed payloads, [`v2::MessageV2Repr`], the SK/SKF
//!   envelope's layout; the crypto is `ike::crypto::sk`), also what
//!   [`IkeMessage::parse`] gives for a version 2 header.
//!
//! # Layout
//!
//! Shared by both versions: `bytes` (bounds checks and big-endian reads, at
//! the bottom), `error`, `header` (the 28-byte header), `payload` (the
//! generic payload chain), `natt` (the non-ESP marker), `message` (one
//! entry point for both versions). `v1/`: the ISAKMP payload `Repr`s and
//! IKEv1 notify codes; `v2/`: IKEv2's payloads, the SK/SKF envelope and
//! its notify codes. The flat re-exports below keep IKEv1 names short.
//!
//! # Policies
//!
//! * Header length: `28 <= length <= min(datagram, 65535)`; bytes beyond
//!   `length` are ignored (`Message::trailing_len`) since the length is what
//!   is hashed and decrypted; a cleartext chain must fill `length` exactly.
//! * Payload chains: at most [`MAX_PAYLOADS`]; unknown or misplaced IKEv1
//!   types are rejected (RFC 2408 5.1, INVALID-PAYLOAD-TYPE); IKEv2 skips
//!   unknown non-critical payloads.
//! * Sizes: NONCE 8..=256, KE 1..=1024, HASH 1..=64, vendor id 1..=256,
//!   attributes per transform <= 64, proposals/transforms <= 64, SPI <= 16.

mod bytes;
mod error;
mod header;
mod message;
mod natt;
mod payload;
pub mod v1;
pub mod v2;

pub use error::WireError;
pub use header::{ExchangeType, Flags, HEADER_LEN, Header, HeaderRepr, MAX_MESSAGE_LEN};
pub use message::{IkeMessage, Message, MessageBuilder};
pub use natt::{
    NAT_KEEPALIVE, NON_ESP_MARKER, Udp4500, add_non_esp_marker, classify_udp4500,
    strip_non_esp_marker,
};
pub use payload::{
    GENERIC_HEADER_LEN, GenericPayload, MAX_PAYLOADS, PayloadChain, PayloadIter, PayloadType,
    RawPayload, parse_payloads,
};
pub use v1::attributes::{
    AttrValue, Attribute, EncapsulationMode, MAX_ATTRIBUTES, Phase1Attrs, Phase2Attrs,
    esp_transform_from_attrs, ike as ike_attr, ipsec as ipsec_attr, parse_attributes,
};
pub use v1::delete::{DeleteRepr, MAX_DELETE_SPIS};
pub use v1::fragment::FragmentRepr;
pub use v1::hash::{HASH_LEN, HashRepr};
pub use v1::id::*;
pub use v1::ke::{KE_LEN, KeRepr};
pub use v1::nat_d::NatDRepr;
pub use v1::nat_oa::NatOaRepr;
pub use v1::nonce::{NONCE_LEN, NonceRepr};
pub use v1::notify::{MAX_NOTIFY_DATA_LEN, NotifyRepr, NotifyType};
pub use v1::payload::{Payload, emit_chain};
pub use v1::sa::{
    DOI_IPSEC, MAX_PROPOSALS, MAX_SPI_LEN, MAX_TRANSFORMS, ProposalRepr, ProtocolId,
    SIT_IDENTITY_ONLY, SaRepr, TransformRepr,
};
pub use v1::vendor_id::*;

#[cfg(test)]
mod tests;
