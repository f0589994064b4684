//! The IKEv2 view of the 28-byte header (RFC 7296 3.1), read and written
//! through the shared [`Header`] view of `wire::header` (one layout for
//! both versions).

use super::super::error::WireError;
use super::super::header::{ExchangeType, Flags, HEADER_LEN, Header};
use super::super::payload::PayloadType;
use super::flags;

/// Version byte of every header we send: major 2, minor 0.
const VERSION_2_0: u8 = 0x20;

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
    /// 28..=data.len() (and at most 65535).
    ///
    /// The minor version and the V flag are ignored (RFC 7296 2.5 / 3.1);
    /// a major version 1 is [`WireError::WrongVersion`], anything else
    /// [`WireError::UnsupportedVersion`] (both INVALID_MAJOR_VERSION).
    /// The exchange type is not checked here: which exchanges are
    /// understood is the exchange code's business.
    pub fn parse(data: &[u8]) -> Result<HeaderV2, WireError> {
        let h = Header::new_checked(data)?;
        match h.major_version() {
            2 => {}
            1 => return Err(WireError::WrongVersion(1)),
            major => {
                return Err(WireError::UnsupportedVersion {
                    major,
                    minor: h.minor_version(),
                });
            }
        }
        Ok(HeaderV2 {
            spi_i: h.initiator_cookie(),
            spi_r: h.responder_cookie(),
            next_payload: h.next_payload().0,
            exchange: h.exchange_type().0,
            flags: h.flags().0,
            message_id: h.message_id(),
            length: h.length(),
        })
    }

    /// The 28 header bytes (version 0x20).
    pub fn emit(&self) -> [u8; 28] {
        let mut out = [0u8; HEADER_LEN];
        let mut h = Header::new_unchecked(&mut out[..]);
        h.set_initiator_cookie(self.spi_i);
        h.set_responder_cookie(self.spi_r);
        h.set_next_payload(PayloadType(self.next_payload));
        h.set_version(VERSION_2_0 >> 4, VERSION_2_0 & 0x0f);
        h.set_exchange_type(ExchangeType(self.exchange));
        h.set_flags(Flags(self.flags));
        h.set_message_id(self.message_id);
        h.set_length(self.length);
        out
    }
}
