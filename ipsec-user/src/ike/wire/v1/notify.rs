//! Notification payload (RFC 2408 3.14): DOI, protocol, SPI, message type,
//! data.  Carries errors, INITIAL-CONTACT, RESPONDER-LIFETIME and the RFC 3706
//! DPD R-U-THERE / R-U-THERE-ACK (data = 4-byte sequence number, SPI = the
//! two cookies).

use super::super::bytes::need;
use super::super::bytes::{be16, be32};
use super::super::error::WireError;
use super::sa::MAX_SPI_LEN;

/// A notify message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotifyType(pub u16);

impl NotifyType {
    pub const INVALID_PAYLOAD_TYPE: NotifyType = NotifyType(1);
    pub const DOI_NOT_SUPPORTED: NotifyType = NotifyType(2);
    pub const SITUATION_NOT_SUPPORTED: NotifyType = NotifyType(3);
    pub const INVALID_COOKIE: NotifyType = NotifyType(4);
    pub const INVALID_MAJOR_VERSION: NotifyType = NotifyType(5);
    pub const INVALID_MINOR_VERSION: NotifyType = NotifyType(6);
    pub const INVALID_EXCHANGE_TYPE: NotifyType = NotifyType(7);
    pub const INVALID_FLAGS: NotifyType = NotifyType(8);
    pub const INVALID_MESSAGE_ID: NotifyType = NotifyType(9);
    pub const INVALID_PROTOCOL_ID: NotifyType = NotifyType(10);
    pub const INVALID_SPI: NotifyType = NotifyType(11);
    pub const INVALID_TRANSFORM_ID: NotifyType = NotifyType(12);
    pub const ATTRIBUTES_NOT_SUPPORTED: NotifyType = NotifyType(13);
    pub const NO_PROPOSAL_CHOSEN: NotifyType = NotifyType(14);
    pub const BAD_PROPOSAL_SYNTAX: NotifyType = NotifyType(15);
    pub const PAYLOAD_MALFORMED: NotifyType = NotifyType(16);
    pub const INVALID_KEY_INFORMATION: NotifyType = NotifyType(17);
    pub const INVALID_ID_INFORMATION: NotifyType = NotifyType(18);
    pub const INVALID_HASH_INFORMATION: NotifyType = NotifyType(23);
    pub const AUTHENTICATION_FAILED: NotifyType = NotifyType(24);
    pub const INVALID_SIGNATURE: NotifyType = NotifyType(25);
    /// RFC 2407 4.6.3.
    pub const RESPONDER_LIFETIME: NotifyType = NotifyType(24576);
    pub const REPLAY_STATUS: NotifyType = NotifyType(24577);
    pub const INITIAL_CONTACT: NotifyType = NotifyType(24578);
    /// RFC 3706.
    pub const R_U_THERE: NotifyType = NotifyType(36136);
    pub const R_U_THERE_ACK: NotifyType = NotifyType(36137);

    /// Types below 16384 are errors (RFC 2408 3.14.1).
    pub fn is_error(self) -> bool {
        self.0 < 16384
    }
}

/// Bound on notification data.
pub const MAX_NOTIFY_DATA_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyRepr {
    pub doi: u32,
    pub protocol: u8,
    pub spi: Vec<u8>,
    pub kind: NotifyType,
    pub data: Vec<u8>,
}

impl NotifyRepr {
    /// An IPsec-DOI notify.
    pub fn new(kind: NotifyType, protocol: u8, spi: Vec<u8>, data: Vec<u8>) -> Self {
        NotifyRepr {
            doi: super::sa::DOI_IPSEC,
            protocol,
            spi,
            kind,
            data,
        }
    }

    /// RFC 3706 R-U-THERE / ACK: protocol ISAKMP, SPI = CKY-I | CKY-R,
    /// data = sequence number.
    pub fn dpd(ack: bool, cookies: ([u8; 8], [u8; 8]), seq: u32) -> Self {
        let mut spi = cookies.0.to_vec();
        spi.extend_from_slice(&cookies.1);
        let kind = if ack {
            NotifyType::R_U_THERE_ACK
        } else {
            NotifyType::R_U_THERE
        };
        NotifyRepr::new(kind, 1, spi, seq.to_be_bytes().to_vec())
    }

    /// The DPD sequence number, if this is R-U-THERE(-ACK) with 4 data bytes.
    pub fn dpd_sequence(&self) -> Option<u32> {
        match self.kind {
            NotifyType::R_U_THERE | NotifyType::R_U_THERE_ACK if self.data.len() == 4 => {
                Some(be32(&self.data))
            }
            _ => None,
        }
    }

    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        need("notify", body.len(), 8)?;
        let spi_len = body[5] as usize;
        if spi_len > MAX_SPI_LEN {
            return Err(WireError::BadLength {
                what: "notify SPI size",
                len: spi_len,
            });
        }
        need("notify SPI", body.len() - 8, spi_len)?;
        let data = &body[8 + spi_len..];
        if data.len() > MAX_NOTIFY_DATA_LEN {
            return Err(WireError::BadLength {
                what: "notify data",
                len: data.len(),
            });
        }
        Ok(NotifyRepr {
            doi: be32(&body[0..4]),
            protocol: body[4],
            spi: body[8..8 + spi_len].to_vec(),
            kind: NotifyType(be16(&body[6..8])),
            data: data.to_vec(),
        })
    }
    pub fn buffer_len(&self) -> usize {
        8 + self.spi.len() + self.data.len()
    }
    /// Panics if the SPI exceeds 255 bytes (local data).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..4].copy_from_slice(&self.doi.to_be_bytes());
        buf[4] = self.protocol;
        buf[5] = u8::try_from(self.spi.len()).expect("SPI over 255 bytes");
        buf[6..8].copy_from_slice(&self.kind.0.to_be_bytes());
        buf[8..8 + self.spi.len()].copy_from_slice(&self.spi);
        let d = 8 + self.spi.len();
        buf[d..d + self.data.len()].copy_from_slice(&self.data);
    }
}

/// IKEv1 notify codes for wire errors (IKEv2 has its own,
/// `WireError::notify_type_v2`).
impl WireError {
    /// The RFC 2408 section 3.14.1 notify a responder should answer with.
    pub fn notify_type(&self) -> NotifyType {
        match self {
            WireError::UnsupportedVersion { .. } | WireError::WrongVersion(_) => {
                NotifyType::INVALID_MAJOR_VERSION
            }
            WireError::InvalidPayloadType(_) | WireError::UnsupportedCriticalPayload(_) => {
                NotifyType::INVALID_PAYLOAD_TYPE
            }
            WireError::Unsupported { .. } => NotifyType::NO_PROPOSAL_CHOSEN,
            _ => NotifyType::PAYLOAD_MALFORMED,
        }
    }
}
