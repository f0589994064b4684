//! IKEv2 (RFC 7296), header and generic payload chain only: enough for the
//! IKEv1 daemon to recognise an IKEv2 request and answer it cleanly
//! (NO_PROPOSAL_CHOSEN) instead of calling it malformed.

use super::error::WireError;
use super::header::{ExchangeType, Flags, HEADER_LEN, Header, HeaderRepr};
use super::payload::{GENERIC_HEADER_LEN, PayloadIter, PayloadType, RawPayload};

/// IKEv2 payload types (RFC 7296 3.2).
pub mod payload_type {
    use super::PayloadType;
    pub const SA: PayloadType = PayloadType(33);
    pub const KE: PayloadType = PayloadType(34);
    pub const IDI: PayloadType = PayloadType(35);
    pub const IDR: PayloadType = PayloadType(36);
    pub const CERT: PayloadType = PayloadType(37);
    pub const CERTREQ: PayloadType = PayloadType(38);
    pub const AUTH: PayloadType = PayloadType(39);
    pub const NONCE: PayloadType = PayloadType(40);
    pub const NOTIFY: PayloadType = PayloadType(41);
    pub const DELETE: PayloadType = PayloadType(42);
    pub const VENDOR_ID: PayloadType = PayloadType(43);
    pub const TSI: PayloadType = PayloadType(44);
    pub const TSR: PayloadType = PayloadType(45);
    /// Encrypted and authenticated; always the last payload of a chain.
    pub const SK: PayloadType = PayloadType(46);
    pub const CP: PayloadType = PayloadType(47);
    pub const EAP: PayloadType = PayloadType(48);
    /// Encrypted fragment, RFC 7383.
    pub const SKF: PayloadType = PayloadType(53);

    pub fn is_known(t: PayloadType) -> bool {
        matches!(t.0, 33..=48 | 53)
    }
}

/// Critical bit of the IKEv2 generic payload header.
pub const CRITICAL: u8 = 0x80;
/// IKEv2 notify NO_PROPOSAL_CHOSEN (RFC 7296 3.10.1).
pub const NOTIFY_NO_PROPOSAL_CHOSEN: u16 = 14;

/// A parsed IKEv2 message: header and top-level payloads (the SK/SKF
/// payload's body is the ciphertext; nothing after it is parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageV2<'a> {
    pub header: HeaderRepr,
    pub payloads: Vec<RawPayload<'a>>,
}

impl<'a> MessageV2<'a> {
    /// Parses a version 2.x datagram.  Unknown payloads are skipped unless
    /// their critical bit is set (RFC 7296 2.5): then `InvalidPayloadType`.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, WireError> {
        let view = Header::new_checked(datagram)?;
        let header = HeaderRepr::parse(&view)?;
        if header.major_version != 2 {
            return Err(WireError::WrongVersion(header.major_version));
        }
        if !header.exchange_type.is_ikev2() {
            return Err(WireError::BadValue {
                what: "IKEv2 exchange type",
                value: header.exchange_type.0.into(),
            });
        }
        let body = &datagram[HEADER_LEN..header.length as usize];
        let mut payloads = Vec::new();
        let mut it = PayloadIter::new(header.next_payload, body);
        for p in it.by_ref() {
            let p = p?;
            let known = payload_type::is_known(p.kind);
            if !known && p.reserved & CRITICAL != 0 {
                return Err(WireError::InvalidPayloadType(p.kind.0));
            }
            let last = p.kind == payload_type::SK || p.kind == payload_type::SKF;
            if known {
                payloads.push(p);
            }
            if last {
                // The SK payload's next-payload names the first inner payload.
                if p.offset + p.bytes.len() != body.len() {
                    return Err(WireError::TrailingBytes(
                        body.len() - p.offset - p.bytes.len(),
                    ));
                }
                return Ok(MessageV2 { header, payloads });
            }
        }
        if it.position() != body.len() {
            return Err(WireError::TrailingBytes(body.len() - it.position()));
        }
        Ok(MessageV2 { header, payloads })
    }

    /// Is this the initiator's request (I flag set, R flag clear)?
    pub fn is_initiator_request(&self) -> bool {
        self.header.flags.contains(Flags::V2_INITIATOR)
            && !self.header.flags.contains(Flags::V2_RESPONSE)
    }
}

/// The IKE_SA_INIT response that tells an IKEv2 initiator we do not speak
/// IKEv2: a cleartext NOTIFY(NO_PROPOSAL_CHOSEN) (RFC 7296 2.6/3.10.1).
pub fn no_proposal_chosen_response(request: &HeaderRepr) -> Vec<u8> {
    let notify_len = GENERIC_HEADER_LEN + 4;
    let len = HEADER_LEN + notify_len;
    let h = HeaderRepr {
        initiator_cookie: request.initiator_cookie,
        responder_cookie: [0; 8],
        next_payload: payload_type::NOTIFY,
        major_version: 2,
        minor_version: 0,
        exchange_type: ExchangeType::IKE_SA_INIT,
        flags: Flags::V2_RESPONSE,
        message_id: request.message_id,
        length: len as u32,
    };
    let mut out = vec![0u8; len];
    h.emit(&mut out);
    let n = &mut out[HEADER_LEN..];
    n[0] = 0; // next payload NONE
    n[1] = 0;
    n[2..4].copy_from_slice(&(notify_len as u16).to_be_bytes());
    n[4] = 0; // protocol id: none (IKE SA)
    n[5] = 0; // SPI size
    n[6..8].copy_from_slice(&NOTIFY_NO_PROPOSAL_CHOSEN.to_be_bytes());
    out
}
