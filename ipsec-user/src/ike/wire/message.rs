//! Whole IKEv1 messages: parse a datagram into header + payload chain (or
//! header + ciphertext), and build one from payloads.

use super::error::WireError;
use super::header::{Flags, HEADER_LEN, Header, HeaderRepr, MAX_MESSAGE_LEN};
use super::payload::{PayloadChain, PayloadType, parse_payloads};
use super::v1::payload::{Payload, emit_chain};

/// A parsed IKEv1 message borrowing the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub header: HeaderRepr,
    /// The whole message (`header.length` bytes), for hashing/retransmit detection.
    pub bytes: &'a [u8],
    /// Bytes after the header: the payload chain, or ciphertext if encrypted.
    pub body: &'a [u8],
    /// The payload chain; empty if the message is encrypted.
    pub payloads: PayloadChain<'a>,
    /// Datagram bytes beyond the header's length (ignored, see `header`).
    pub trailing_len: usize,
}

impl<'a> Message<'a> {
    /// Parses an IKEv1 (version 1.x) datagram (UDP payload, non-ESP marker
    /// already stripped).  Cleartext messages must end exactly with their
    /// last payload; encrypted ones (E flag) are left as ciphertext.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, WireError> {
        let view = Header::new_checked(datagram)?;
        let header = HeaderRepr::parse(&view)?;
        match header.major_version {
            1 => {}
            2 => return Err(WireError::WrongVersion(2)),
            major => {
                return Err(WireError::UnsupportedVersion {
                    major,
                    minor: header.minor_version,
                });
            }
        }
        let len = header.length as usize;
        let bytes = &datagram[..len];
        let body = &bytes[HEADER_LEN..];
        let payloads = if header.is_encrypted() {
            PayloadChain {
                payloads: Vec::new(),
                end: 0,
            }
        } else {
            let chain = parse_payloads(header.next_payload, body)?;
            if chain.end != body.len() {
                return Err(WireError::TrailingBytes(body.len() - chain.end));
            }
            chain
        };
        Ok(Message {
            header,
            bytes,
            body,
            payloads,
            trailing_len: datagram.len() - len,
        })
    }

    pub fn is_encrypted(&self) -> bool {
        self.header.is_encrypted()
    }

    /// The encrypted body (IV handling and decryption live in `ike::crypto`).
    pub fn ciphertext(&self) -> Option<&'a [u8]> {
        self.is_encrypted().then_some(self.body)
    }

    /// Every payload as a `Repr` (error if encrypted: decrypt and use
    /// [`parse_payloads`] with `header.next_payload`).
    pub fn typed_payloads(&self) -> Result<Vec<Payload>, WireError> {
        if self.is_encrypted() {
            return Err(WireError::Encrypted);
        }
        self.payloads.typed()
    }
}

/// Either IKE version, decided by the header's major version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IkeMessage<'a> {
    V1(Message<'a>),
    V2(super::v2::MessageV2Repr),
}

impl<'a> IkeMessage<'a> {
    pub fn parse(datagram: &'a [u8]) -> Result<Self, WireError> {
        let view = Header::new_checked(datagram)?;
        match view.major_version() {
            2 => Ok(IkeMessage::V2(super::v2::MessageV2Repr::parse(datagram)?)),
            _ => Ok(IkeMessage::V1(Message::parse(datagram)?)),
        }
    }
}

/// Builds an IKEv1 message: push payloads in order; the builder fixes the
/// header's next payload, every payload's next payload and all lengths.
///
/// ```
/// use ipsecgw::ike::wire::*;
/// let hdr = HeaderRepr::v1([1; 8], [0; 8], ExchangeType::MAIN, Flags::default(), 0);
/// let mut b = MessageBuilder::new(hdr);
/// b.push(Payload::VendorId(VendorIdRepr::known(KnownVendor::Dpd)));
/// let bytes = b.build().unwrap();
/// assert_eq!(bytes.len(), 28 + 4 + 16);
/// ```
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    header: HeaderRepr,
    payloads: Vec<Payload>,
    max_len: usize,
}

impl MessageBuilder {
    pub fn new(header: HeaderRepr) -> Self {
        MessageBuilder {
            header,
            payloads: Vec::new(),
            max_len: MAX_MESSAGE_LEN,
        }
    }

    /// Lowers the size bound (e.g. to the path MTU budget).
    pub fn max_len(mut self, max: usize) -> Self {
        self.max_len = max.min(MAX_MESSAGE_LEN);
        self
    }

    pub fn push(&mut self, p: Payload) -> &mut Self {
        self.payloads.push(p);
        self
    }

    pub fn payloads(&self) -> &[Payload] {
        &self.payloads
    }

    /// The payload chain alone: the plaintext to encrypt (the caller pads).
    pub fn chain(&self) -> Result<Vec<u8>, WireError> {
        emit_chain(&self.payloads)
    }

    fn first(&self) -> PayloadType {
        self.payloads
            .first()
            .map_or(PayloadType::NONE, Payload::kind)
    }

    fn with_body(&self, flags: Flags, body: &[u8]) -> Result<Vec<u8>, WireError> {
        let len = HEADER_LEN + body.len();
        if len > self.max_len {
            return Err(WireError::TooBig {
                len,
                max: self.max_len,
            });
        }
        let mut h = self.header;
        h.next_payload = self.first();
        h.flags = flags;
        h.length = len as u32;
        let mut out = vec![0u8; len];
        h.emit(&mut out);
        out[HEADER_LEN..].copy_from_slice(body);
        Ok(out)
    }

    /// A cleartext message (E flag cleared).
    pub fn build(&self) -> Result<Vec<u8>, WireError> {
        self.with_body(self.header.flags.without(Flags::ENCRYPTION), &self.chain()?)
    }

    /// An encrypted message: header (E flag set, next payload = the first
    /// pushed payload's type) followed by `ciphertext` of [`Self::chain`].
    pub fn build_encrypted(&self, ciphertext: &[u8]) -> Result<Vec<u8>, WireError> {
        self.with_body(self.header.flags.with(Flags::ENCRYPTION), ciphertext)
    }
}
