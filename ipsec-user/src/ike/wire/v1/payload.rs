//! The typed IKEv1 payload (`Payload`): a generic payload turned into the
//! `Repr` of its type.

use super::super::error::WireError;
use super::super::header::MAX_MESSAGE_LEN;
use super::super::payload::{GENERIC_HEADER_LEN, GenericPayload, PayloadType, RawPayload};
use super::delete::DeleteRepr;
use super::fragment::FragmentRepr;
use super::hash::HashRepr;
use super::id::IdRepr;
use super::ke::KeRepr;
use super::nat_d::NatDRepr;
use super::nat_oa::NatOaRepr;
use super::nonce::NonceRepr;
use super::notify::NotifyRepr;
use super::sa::SaRepr;
use super::vendor_id::VendorIdRepr;

/// Any IKEv1 payload as plain values.  Types this codec does not model
/// (CERT, CR, SIG, mode-config ATTRIBUTES) are kept as `Other` so they
/// round-trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Sa(SaRepr),
    Ke(KeRepr),
    Id(IdRepr),
    Hash(HashRepr),
    Nonce(NonceRepr),
    Notify(NotifyRepr),
    Delete(DeleteRepr),
    VendorId(VendorIdRepr),
    NatD(NatDRepr),
    NatOa(NatOaRepr),
    Fragment(FragmentRepr),
    Other { kind: PayloadType, body: Vec<u8> },
}

impl Payload {
    /// Interprets a raw payload by its type.
    pub fn parse(raw: &RawPayload<'_>) -> Result<Payload, WireError> {
        let b = raw.body;
        Ok(match raw.kind {
            PayloadType::SA => Payload::Sa(SaRepr::parse(b)?),
            PayloadType::KE => Payload::Ke(KeRepr::parse(b)?),
            PayloadType::ID => Payload::Id(IdRepr::parse(b)?),
            PayloadType::HASH => Payload::Hash(HashRepr::parse(b)?),
            PayloadType::NONCE => Payload::Nonce(NonceRepr::parse(b)?),
            PayloadType::NOTIFY => Payload::Notify(NotifyRepr::parse(b)?),
            PayloadType::DELETE => Payload::Delete(DeleteRepr::parse(b)?),
            PayloadType::VENDOR_ID => Payload::VendorId(VendorIdRepr::parse(b)?),
            PayloadType::NAT_D => Payload::NatD(NatDRepr::parse(b, false)?),
            PayloadType::NAT_D_DRAFT => Payload::NatD(NatDRepr::parse(b, true)?),
            PayloadType::NAT_OA => Payload::NatOa(NatOaRepr::parse(b, false)?),
            PayloadType::NAT_OA_DRAFT => Payload::NatOa(NatOaRepr::parse(b, true)?),
            PayloadType::FRAGMENT => Payload::Fragment(FragmentRepr::parse(b)?),
            k if k.is_v1_top_level() => Payload::Other {
                kind: k,
                body: b.to_vec(),
            },
            k => return Err(WireError::InvalidPayloadType(k.0)),
        })
    }

    /// The payload type that announces this payload.
    pub fn kind(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::SA,
            Payload::Ke(_) => PayloadType::KE,
            Payload::Id(_) => PayloadType::ID,
            Payload::Hash(_) => PayloadType::HASH,
            Payload::Nonce(_) => PayloadType::NONCE,
            Payload::Notify(_) => PayloadType::NOTIFY,
            Payload::Delete(_) => PayloadType::DELETE,
            Payload::VendorId(_) => PayloadType::VENDOR_ID,
            Payload::NatD(r) if r.draft => PayloadType::NAT_D_DRAFT,
            Payload::NatD(_) => PayloadType::NAT_D,
            Payload::NatOa(r) if r.draft => PayloadType::NAT_OA_DRAFT,
            Payload::NatOa(_) => PayloadType::NAT_OA,
            Payload::Fragment(_) => PayloadType::FRAGMENT,
            Payload::Other { kind, .. } => *kind,
        }
    }

    /// Body length (without the generic header).
    pub fn body_len(&self) -> usize {
        match self {
            Payload::Sa(r) => r.buffer_len(),
            Payload::Ke(r) => r.buffer_len(),
            Payload::Id(r) => r.buffer_len(),
            Payload::Hash(r) => r.buffer_len(),
            Payload::Nonce(r) => r.buffer_len(),
            Payload::Notify(r) => r.buffer_len(),
            Payload::Delete(r) => r.buffer_len(),
            Payload::VendorId(r) => r.buffer_len(),
            Payload::NatD(r) => r.buffer_len(),
            Payload::NatOa(r) => r.buffer_len(),
            Payload::Fragment(r) => r.buffer_len(),
            Payload::Other { body, .. } => body.len(),
        }
    }

    /// Writes the body into `buf[..body_len()]`.
    pub fn emit_body(&self, buf: &mut [u8]) {
        match self {
            Payload::Sa(r) => r.emit(buf),
            Payload::Ke(r) => r.emit(buf),
            Payload::Id(r) => r.emit(buf),
            Payload::Hash(r) => r.emit(buf),
            Payload::Nonce(r) => r.emit(buf),
            Payload::Notify(r) => r.emit(buf),
            Payload::Delete(r) => r.emit(buf),
            Payload::VendorId(r) => r.emit(buf),
            Payload::NatD(r) => r.emit(buf),
            Payload::NatOa(r) => r.emit(buf),
            Payload::Fragment(r) => r.emit(buf),
            Payload::Other { body, .. } => buf[..body.len()].copy_from_slice(body),
        }
    }
}

/// Emits `payloads` as a chain (each next-payload set to the following
/// payload's type, the last to NONE), e.g. the plaintext to encrypt, or the
/// bytes a quick-mode HASH covers.  Fails if a payload exceeds 65535 bytes
/// or the chain exceeds [`MAX_MESSAGE_LEN`].
pub fn emit_chain(payloads: &[Payload]) -> Result<Vec<u8>, WireError> {
    let mut total = 0usize;
    for p in payloads {
        let len = GENERIC_HEADER_LEN + p.body_len();
        if len > u16::MAX as usize {
            return Err(WireError::TooBig {
                len,
                max: u16::MAX as usize,
            });
        }
        total += len;
    }
    if total > MAX_MESSAGE_LEN {
        return Err(WireError::TooBig {
            len: total,
            max: MAX_MESSAGE_LEN,
        });
    }
    let mut out = vec![0u8; total];
    let mut pos = 0;
    for (i, p) in payloads.iter().enumerate() {
        let len = GENERIC_HEADER_LEN + p.body_len();
        let next = payloads.get(i + 1).map_or(PayloadType::NONE, Payload::kind);
        let mut g = GenericPayload::new_unchecked(&mut out[pos..pos + len]);
        g.set_next_payload(next);
        g.set_reserved(0);
        g.set_payload_length(len as u16);
        p.emit_body(&mut out[pos + GENERIC_HEADER_LEN..pos + len]);
        pos += len;
    }
    Ok(out)
}
