//! The 28-byte ISAKMP header (RFC 2408 section 3.1), shared by IKEv1 and IKEv2.
//!
//! Length policy: a [`Header`] view only requires `28 <= length <= buffer.len()`
//! (the buffer may be a larger receive buffer, as in smoltcp).  [`super::Message::parse`]
//! takes the header length as authoritative and reports extra datagram bytes as
//! `trailing_len`, because the length is what both sides hash and decrypt over; a
//! header length larger than the datagram is always a truncation error.

use super::bytes::{be32, need};
use super::error::WireError;
use super::payload::PayloadType;

/// Size of the fixed header.
pub const HEADER_LEN: usize = 28;
/// Largest message accepted or emitted: the IP/UDP limit.  Keeps every
/// allocation derived from a length field bounded.
pub const MAX_MESSAGE_LEN: usize = 65535;

mod field {
    use core::ops::Range;
    pub const INIT_COOKIE: Range<usize> = 0..8;
    pub const RESP_COOKIE: Range<usize> = 8..16;
    pub const NEXT_PAYLOAD: usize = 16;
    pub const VERSION: usize = 17;
    pub const EXCHANGE: usize = 18;
    pub const FLAGS: usize = 19;
    pub const MESSAGE_ID: Range<usize> = 20..24;
    pub const LENGTH: Range<usize> = 24..28;
}

/// The exchange type (RFC 2408 3.1, RFC 2409, RFC 7296 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExchangeType(pub u8);

impl ExchangeType {
    pub const BASE: ExchangeType = ExchangeType(1);
    /// Main mode (RFC 2408 "identity protection").
    pub const MAIN: ExchangeType = ExchangeType(2);
    pub const AUTH_ONLY: ExchangeType = ExchangeType(3);
    pub const AGGRESSIVE: ExchangeType = ExchangeType(4);
    pub const INFORMATIONAL: ExchangeType = ExchangeType(5);
    /// Mode config / XAUTH transaction (draft-ietf-ipsec-isakmp-mode-cfg).
    pub const TRANSACTION: ExchangeType = ExchangeType(6);
    pub const QUICK: ExchangeType = ExchangeType(32);
    pub const NEW_GROUP: ExchangeType = ExchangeType(33);
    pub const IKE_SA_INIT: ExchangeType = ExchangeType(34);
    pub const IKE_AUTH: ExchangeType = ExchangeType(35);
    pub const CREATE_CHILD_SA: ExchangeType = ExchangeType(36);
    pub const INFORMATIONAL_V2: ExchangeType = ExchangeType(37);

    /// IKEv2 exchange types (34-37).
    pub fn is_ikev2(self) -> bool {
        (34..=37).contains(&self.0)
    }
}

/// Header flags.  IKEv1 uses E/C/A (RFC 2408 3.1); IKEv2 uses I/V/R (RFC 7296 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    pub const ENCRYPTION: Flags = Flags(0x01);
    pub const COMMIT: Flags = Flags(0x02);
    pub const AUTH_ONLY: Flags = Flags(0x04);
    pub const V2_INITIATOR: Flags = Flags(0x08);
    pub const V2_VERSION: Flags = Flags(0x10);
    pub const V2_RESPONSE: Flags = Flags(0x20);

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    pub fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }
}

/// A read/write view of the ISAKMP header at the start of `buffer`.
#[derive(Debug, Clone)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// Checks that the fixed header fits and that the length field is in
    /// `28..=min(buffer.len(), MAX_MESSAGE_LEN)`.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    pub fn check_len(&self) -> Result<(), WireError> {
        let data = self.buffer.as_ref();
        need("ISAKMP header", data.len(), HEADER_LEN)?;
        let len = self.length() as usize;
        if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) {
            return Err(WireError::BadLength {
                what: "ISAKMP header length",
                len,
            });
        }
        need("ISAKMP message", data.len(), len)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn initiator_cookie(&self) -> [u8; 8] {
        let mut c = [0; 8];
        c.copy_from_slice(&self.buffer.as_ref()[field::INIT_COOKIE]);
        c
    }
    pub fn responder_cookie(&self) -> [u8; 8] {
        let mut c = [0; 8];
        c.copy_from_slice(&self.buffer.as_ref()[field::RESP_COOKIE]);
        c
    }
    pub fn next_payload(&self) -> PayloadType {
        PayloadType(self.buffer.as_ref()[field::NEXT_PAYLOAD])
    }
    pub fn major_version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION] >> 4
    }
    pub fn minor_version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION] & 0x0f
    }
    pub fn exchange_type(&self) -> ExchangeType {
        ExchangeType(self.buffer.as_ref()[field::EXCHANGE])
    }
    pub fn flags(&self) -> Flags {
        Flags(self.buffer.as_ref()[field::FLAGS])
    }
    pub fn message_id(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::MESSAGE_ID])
    }
    pub fn length(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::LENGTH])
    }
    /// The bytes after the header up to the header's length (payloads or ciphertext).
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.length() as usize]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    pub fn set_initiator_cookie(&mut self, c: [u8; 8]) {
        self.buffer.as_mut()[field::INIT_COOKIE].copy_from_slice(&c);
    }
    pub fn set_responder_cookie(&mut self, c: [u8; 8]) {
        self.buffer.as_mut()[field::RESP_COOKIE].copy_from_slice(&c);
    }
    pub fn set_next_payload(&mut self, p: PayloadType) {
        self.buffer.as_mut()[field::NEXT_PAYLOAD] = p.0;
    }
    pub fn set_version(&mut self, major: u8, minor: u8) {
        self.buffer.as_mut()[field::VERSION] = (major << 4) | (minor & 0x0f);
    }
    pub fn set_exchange_type(&mut self, e: ExchangeType) {
        self.buffer.as_mut()[field::EXCHANGE] = e.0;
    }
    pub fn set_flags(&mut self, f: Flags) {
        self.buffer.as_mut()[field::FLAGS] = f.0;
    }
    pub fn set_message_id(&mut self, id: u32) {
        self.buffer.as_mut()[field::MESSAGE_ID].copy_from_slice(&id.to_be_bytes());
    }
    pub fn set_length(&mut self, len: u32) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }
}

/// The header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRepr {
    pub initiator_cookie: [u8; 8],
    pub responder_cookie: [u8; 8],
    pub next_payload: PayloadType,
    pub major_version: u8,
    pub minor_version: u8,
    pub exchange_type: ExchangeType,
    pub flags: Flags,
    pub message_id: u32,
    /// Whole message length including this header; emitters fill it in.
    pub length: u32,
}

impl HeaderRepr {
    /// An IKEv1 (1.0) header with length and next payload left for the builder.
    pub fn v1(
        initiator_cookie: [u8; 8],
        responder_cookie: [u8; 8],
        exchange_type: ExchangeType,
        flags: Flags,
        message_id: u32,
    ) -> Self {
        HeaderRepr {
            initiator_cookie,
            responder_cookie,
            next_payload: PayloadType::NONE,
            major_version: 1,
            minor_version: 0,
            exchange_type,
            flags,
            message_id,
            length: HEADER_LEN as u32,
        }
    }

    /// Reads any version's header; version policy is the caller's (see `Message`).
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> Result<Self, WireError> {
        h.check_len()?;
        Ok(HeaderRepr {
            initiator_cookie: h.initiator_cookie(),
            responder_cookie: h.responder_cookie(),
            next_payload: h.next_payload(),
            major_version: h.major_version(),
            minor_version: h.minor_version(),
            exchange_type: h.exchange_type(),
            flags: h.flags(),
            message_id: h.message_id(),
            length: h.length(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 28 header bytes into `buf[..28]` (panics if `buf` is shorter:
    /// emit buffers are sized by the emitter, never by peer input).
    pub fn emit(&self, buf: &mut [u8]) {
        let mut h = Header::new_unchecked(&mut buf[..HEADER_LEN]);
        h.set_initiator_cookie(self.initiator_cookie);
        h.set_responder_cookie(self.responder_cookie);
        h.set_next_payload(self.next_payload);
        h.set_version(self.major_version, self.minor_version);
        h.set_exchange_type(self.exchange_type);
        h.set_flags(self.flags);
        h.set_message_id(self.message_id);
        h.set_length(self.length);
    }

    pub fn is_encrypted(&self) -> bool {
        self.flags.contains(Flags::ENCRYPTION)
    }
}
