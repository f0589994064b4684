//! Whole IKEv2 messages: parse a datagram into header, cleartext payloads
//! and the SK / SKF envelope (RFC 7296 3.14, RFC 7383 2.5), and emit
//! chains and cleartext messages. The envelope's bytes are written by
//! `ike::crypto::sk` with [`emit_sk_header`] / [`emit_skf_header`].

use super::super::bytes::be16;
use super::super::bytes::need;
use super::super::error::WireError;
use super::super::header::HEADER_LEN;
use super::super::payload::GENERIC_HEADER_LEN;
use super::header::HeaderV2;
use super::payload::{PayloadV2, chain_len, emit_chain_into, walk};
use super::payload_type as pt;

/// Bytes of the SK payload's header before the IV (generic header).
pub const SK_HEADER_LEN: usize = GENERIC_HEADER_LEN;
/// Bytes of the SKF payload's header before the IV: generic header,
/// Fragment Number, Total Fragments.
pub const SKF_HEADER_LEN: usize = GENERIC_HEADER_LEN + 4;

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
    /// meaningful in fragment 1 only. The encrypted data is
    /// `message[offset + 8 ..length]` (after Fragment Number and Total
    /// Fragments). Parsing guarantees `1 <= number <= total`.
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
    ///
    /// Bytes after the header's length are ignored (the length is what
    /// the ICV covers). SK or SKF must be the last payload; payloads
    /// before it are cleartext. The exchange type and flags are not
    /// judged here.
    pub fn parse(data: &[u8]) -> Result<MessageV2Repr, WireError> {
        let header = HeaderV2::parse(data)?;
        let body = &data[HEADER_LEN..header.length as usize];
        let mut payloads = Vec::new();
        let protected = match walk(header.next_payload, body, &mut payloads, true)? {
            None => Protected::None,
            Some(raw) if raw.kind == pt::SK => Protected::Sk {
                first_inner: raw.next.0,
                offset: HEADER_LEN + raw.offset,
            },
            Some(raw) => {
                need("SKF payload", raw.body.len(), 4)?;
                let number = be16(&raw.body[0..2]);
                let total = be16(&raw.body[2..4]);
                if total == 0 {
                    return Err(WireError::BadValue {
                        what: "SKF total fragments",
                        value: 0,
                    });
                }
                if number == 0 || number > total {
                    return Err(WireError::BadValue {
                        what: "SKF fragment number",
                        value: number.into(),
                    });
                }
                Protected::Skf {
                    first_inner: raw.next.0,
                    offset: HEADER_LEN + raw.offset,
                    number,
                    total,
                }
            }
        };
        Ok(MessageV2Repr {
            header,
            payloads,
            protected,
        })
    }

    /// The first notify of a type among the cleartext payloads.
    pub fn notify(&self, kind: u16) -> Option<&super::NotifyV2> {
        find_notify(&self.payloads, kind)
    }
}

/// The first notify of a type in a chain.
pub fn find_notify(payloads: &[PayloadV2], kind: u16) -> Option<&super::NotifyV2> {
    payloads.iter().find_map(|p| match p {
        PayloadV2::Notify(n) if n.kind == kind => Some(n),
        _ => None,
    })
}

/// Parses a decrypted SK body: a chain starting with `first` (the SK
/// payload's next-payload). Trailing bytes after the chain are an error.
/// An SK or SKF inside is `InvalidPayloadType`.
pub fn parse_chain(first: u8, bytes: &[u8]) -> Result<Vec<PayloadV2>, WireError> {
    let mut out = Vec::new();
    walk(first, bytes, &mut out, false)?;
    Ok(out)
}

/// Emits a chain: (type of the first payload, bytes). Panics if one
/// payload exceeds 65535 bytes (local data only).
pub fn emit_chain(payloads: &[PayloadV2]) -> (u8, Vec<u8>) {
    let mut out = vec![0u8; chain_len(payloads)];
    emit_chain_into(payloads, &mut out);
    (payloads.first().map_or(0, PayloadV2::kind), out)
}

/// A whole cleartext message (IKE_SA_INIT): header (its `next_payload`
/// and `length` are set here) followed by `payloads`.
pub fn emit_message(mut header: HeaderV2, payloads: &[PayloadV2]) -> Vec<u8> {
    let len = HEADER_LEN + chain_len(payloads);
    header.next_payload = payloads.first().map_or(0, PayloadV2::kind);
    header.length = len as u32;
    let mut out = vec![0u8; len];
    out[..HEADER_LEN].copy_from_slice(&header.emit());
    emit_chain_into(payloads, &mut out[HEADER_LEN..]);
    out
}

/// Writes an SK payload's generic header into `buf[..4]`: next payload
/// `first_inner`, critical bit clear, `payload_len` (header, IV,
/// ciphertext and ICV).
pub fn emit_sk_header(buf: &mut [u8], first_inner: u8, payload_len: u16) {
    buf[0] = first_inner;
    buf[1] = 0;
    buf[2..4].copy_from_slice(&payload_len.to_be_bytes());
}

/// Writes an SKF payload's header into `buf[..8]` (RFC 7383 2.5).
pub fn emit_skf_header(buf: &mut [u8], first_inner: u8, payload_len: u16, number: u16, total: u16) {
    emit_sk_header(buf, first_inner, payload_len);
    buf[4..6].copy_from_slice(&number.to_be_bytes());
    buf[6..8].copy_from_slice(&total.to_be_bytes());
}
