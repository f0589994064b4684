//! [`PayloadV2`]: any IKEv2 payload as plain values, and the chain walk
//! shared by a message's cleartext part and a decrypted SK body (on the
//! shared [`PayloadIter`] of `wire::payload`).
//!
//! Critical bit (RFC 7296 2.5): an unknown payload type with it set fails
//! the message with [`WireError::UnsupportedCriticalPayload`]; without it
//! the payload is kept as [`PayloadV2::Other`], as are CP and EAP. For
//! the types we know the bit means nothing and is ignored, as are the
//! other reserved bits.
//!
//! Bounds: besides `wire::MAX_PAYLOADS` (64) per chain and the per-type bounds
//! (nonce 16..=256, KE data 1..=1024, ID 1..=2048, AUTH 1..=2048, notify
//! data 4096, traffic selectors 16, proposals and transforms 64), CERT,
//! CERTREQ, vendor ids and `Other` bodies are bounded by the message
//! itself (at most 65535 bytes).

use super::super::bytes::need;
use super::super::error::WireError;
use super::super::payload::{
    GENERIC_HEADER_LEN, GenericPayload, PayloadIter, PayloadType, RawPayload,
};
use super::auth::AuthV2;
use super::id::IdV2;
use super::ke::KeV2;
use super::notify_delete::{DeleteV2, NotifyV2};
use super::payload_type as pt;
use super::sa::SaV2;
use super::ts::TsV2;

/// Critical bit of the generic payload header (RFC 7296 3.2), shared with
/// the IKEv1 daemon's IKEv2 recogniser.
/// Critical bit of the IKEv2 generic payload header.
pub const CRITICAL: u8 = 0x80;
/// Accepted nonce length (RFC 7296 2.10: at least 16 bytes, at most 256).
pub const NONCE_LEN_V2: core::ops::RangeInclusive<usize> = 16..=256;

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

fn cert_like(body: &[u8], what: &'static str) -> Result<(u8, Vec<u8>), WireError> {
    need(what, body.len(), 1)?;
    Ok((body[0], body[1..].to_vec()))
}

impl PayloadV2 {
    /// Interprets one raw payload of a chain. SK and SKF are not payloads
    /// of this kind (the chain walk handles them): `InvalidPayloadType`.
    pub fn parse(raw: &RawPayload<'_>) -> Result<PayloadV2, WireError> {
        let b = raw.body;
        Ok(match raw.kind {
            pt::SA => PayloadV2::Sa(SaV2::parse(b)?),
            pt::KE => PayloadV2::Ke(KeV2::parse(b)?),
            pt::IDI => PayloadV2::IdI(IdV2::parse(b)?),
            pt::IDR => PayloadV2::IdR(IdV2::parse(b)?),
            pt::CERT => {
                let (encoding, data) = cert_like(b, "CERT payload")?;
                PayloadV2::Cert { encoding, data }
            }
            pt::CERTREQ => {
                let (encoding, data) = cert_like(b, "CERTREQ payload")?;
                PayloadV2::CertReq { encoding, data }
            }
            pt::AUTH => PayloadV2::Auth(AuthV2::parse(b)?),
            pt::NONCE => {
                if !NONCE_LEN_V2.contains(&b.len()) {
                    return Err(WireError::BadLength {
                        what: "NONCE payload",
                        len: b.len(),
                    });
                }
                PayloadV2::Nonce(b.to_vec())
            }
            pt::NOTIFY => PayloadV2::Notify(NotifyV2::parse(b)?),
            pt::DELETE => PayloadV2::Delete(DeleteV2::parse(b)?),
            pt::VENDOR_ID => PayloadV2::VendorId(b.to_vec()),
            pt::TSI => PayloadV2::TsI(TsV2::parse(b)?),
            pt::TSR => PayloadV2::TsR(TsV2::parse(b)?),
            pt::SK | pt::SKF => return Err(WireError::InvalidPayloadType(raw.kind.0)),
            k if !pt::is_known(k) && raw.reserved & CRITICAL != 0 => {
                return Err(WireError::UnsupportedCriticalPayload(k.0));
            }
            k => PayloadV2::Other {
                kind: k.0,
                body: b.to_vec(),
            },
        })
    }

    /// The payload type that announces this payload.
    pub fn kind(&self) -> u8 {
        match self {
            PayloadV2::Sa(_) => pt::SA.0,
            PayloadV2::Ke(_) => pt::KE.0,
            PayloadV2::IdI(_) => pt::IDI.0,
            PayloadV2::IdR(_) => pt::IDR.0,
            PayloadV2::Cert { .. } => pt::CERT.0,
            PayloadV2::CertReq { .. } => pt::CERTREQ.0,
            PayloadV2::Auth(_) => pt::AUTH.0,
            PayloadV2::Nonce(_) => pt::NONCE.0,
            PayloadV2::Notify(_) => pt::NOTIFY.0,
            PayloadV2::Delete(_) => pt::DELETE.0,
            PayloadV2::VendorId(_) => pt::VENDOR_ID.0,
            PayloadV2::TsI(_) => pt::TSI.0,
            PayloadV2::TsR(_) => pt::TSR.0,
            PayloadV2::Other { kind, .. } => *kind,
        }
    }

    /// Body length (without the generic header).
    pub fn body_len(&self) -> usize {
        match self {
            PayloadV2::Sa(r) => r.buffer_len(),
            PayloadV2::Ke(r) => r.buffer_len(),
            PayloadV2::IdI(r) | PayloadV2::IdR(r) => r.buffer_len(),
            PayloadV2::Cert { data, .. } | PayloadV2::CertReq { data, .. } => 1 + data.len(),
            PayloadV2::Auth(r) => r.buffer_len(),
            PayloadV2::Notify(r) => r.buffer_len(),
            PayloadV2::Delete(r) => r.buffer_len(),
            PayloadV2::TsI(r) | PayloadV2::TsR(r) => r.buffer_len(),
            PayloadV2::Nonce(b) | PayloadV2::VendorId(b) | PayloadV2::Other { body: b, .. } => {
                b.len()
            }
        }
    }

    /// Writes the body into `buf[..body_len()]`.
    pub fn emit_body(&self, buf: &mut [u8]) {
        match self {
            PayloadV2::Sa(r) => r.emit(buf),
            PayloadV2::Ke(r) => r.emit(buf),
            PayloadV2::IdI(r) | PayloadV2::IdR(r) => r.emit(buf),
            PayloadV2::Cert { encoding, data } | PayloadV2::CertReq { encoding, data } => {
                buf[0] = *encoding;
                buf[1..1 + data.len()].copy_from_slice(data);
            }
            PayloadV2::Auth(r) => r.emit(buf),
            PayloadV2::Notify(r) => r.emit(buf),
            PayloadV2::Delete(r) => r.emit(buf),
            PayloadV2::TsI(r) | PayloadV2::TsR(r) => r.emit(buf),
            PayloadV2::Nonce(b) | PayloadV2::VendorId(b) | PayloadV2::Other { body: b, .. } => {
                buf[..b.len()].copy_from_slice(b)
            }
        }
    }
}

/// Walks a chain starting with type `first` over `data`, typing every
/// payload into `out`. An SK or SKF payload ends the walk (its
/// next-payload names the first *inner* payload): it must end `data`
/// and is returned when `protected_ok`, an `InvalidPayloadType`
/// otherwise (a decrypted body never nests one). Without one the chain
/// must fill `data` exactly.
pub(super) fn walk<'a>(
    first: u8,
    data: &'a [u8],
    out: &mut Vec<PayloadV2>,
    protected_ok: bool,
) -> Result<Option<RawPayload<'a>>, WireError> {
    let mut it = PayloadIter::new(PayloadType(first), data);
    for raw in it.by_ref() {
        let raw = raw?;
        if raw.kind == pt::SK || raw.kind == pt::SKF {
            if !protected_ok {
                return Err(WireError::InvalidPayloadType(raw.kind.0));
            }
            let end = raw.offset + raw.bytes.len();
            if end != data.len() {
                return Err(WireError::TrailingBytes(data.len() - end));
            }
            return Ok(Some(raw));
        }
        out.push(PayloadV2::parse(&raw)?);
    }
    let end = it.position();
    if end != data.len() {
        return Err(WireError::TrailingBytes(data.len() - end));
    }
    Ok(None)
}

/// Bytes of a chain of `payloads` (generic headers included). Panics if
/// one payload is over 65535 bytes (local data only).
pub(super) fn chain_len(payloads: &[PayloadV2]) -> usize {
    payloads
        .iter()
        .map(|p| {
            let len = GENERIC_HEADER_LEN + p.body_len();
            assert!(len <= usize::from(u16::MAX), "IKEv2 payload of {len} bytes");
            len
        })
        .sum()
}

/// Writes `payloads` as a chain into `buf[..chain_len(payloads)]`, each
/// next-payload naming the following one, the last NONE; critical bit
/// clear (every type we send is one RFC 7296 requires to be understood,
/// or CP/EAP, which an implementation may skip).
pub(super) fn emit_chain_into(payloads: &[PayloadV2], buf: &mut [u8]) {
    let mut pos = 0;
    for (i, p) in payloads.iter().enumerate() {
        let len = GENERIC_HEADER_LEN + p.body_len();
        let next = payloads.get(i + 1).map_or(0, PayloadV2::kind);
        let mut g = GenericPayload::new_unchecked(&mut buf[pos..pos + len]);
        g.set_next_payload(PayloadType(next));
        g.set_reserved(0);
        g.set_payload_length(len as u16);
        p.emit_body(&mut buf[pos + GENERIC_HEADER_LEN..pos + len]);
        pos += len;
    }
}
