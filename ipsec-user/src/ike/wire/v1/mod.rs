//! The IKEv1 (ISAKMP, RFC 2408/2409/2407, NAT-T RFC 3947) payloads: typed
//! `Repr`s over the shared header and generic payload chain, with the
//! IKEv1 notify codes of wire errors.

pub mod attributes;
pub mod delete;
pub mod fragment;
pub mod hash;
pub mod id;
pub mod ke;
pub mod nat_d;
pub mod nat_oa;
pub mod nonce;
pub mod notify;
pub mod payload;
pub mod sa;
pub mod vendor_id;
