//! The generic payload header (RFC 2408 3.2) and the payload chain.
//!
//! A chain starts with the header's `next_payload` and follows each payload's
//! own `next_payload` until NONE (0).  Lengths only move forward, so a chain
//! cannot loop; it is additionally bounded to [`MAX_PAYLOADS`] payloads.
//! Bytes after the payload whose next is NONE are not parsed: in a decrypted
//! body they are the cipher padding (zeros from strongSwan, or RFC 2409's
//! "last byte = pad length" convention from others), so [`parse_payloads`]
//! tolerates them and tells the caller where the chain ended.

use super::bytes::be16;
use super::bytes::need;
use super::error::WireError;

/// Size of the generic payload header.
pub const GENERIC_HEADER_LEN: usize = 4;
/// Bound on payloads in one message (a real one carries at most ~15).
pub const MAX_PAYLOADS: usize = 64;

/// A payload type number (RFC 2408 3.1, RFC 3947, RFC 7296 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(pub u8);

impl PayloadType {
    pub const NONE: PayloadType = PayloadType(0);
    pub const SA: PayloadType = PayloadType(1);
    pub const PROPOSAL: PayloadType = PayloadType(2);
    pub const TRANSFORM: PayloadType = PayloadType(3);
    pub const KE: PayloadType = PayloadType(4);
    pub const ID: PayloadType = PayloadType(5);
    pub const CERT: PayloadType = PayloadType(6);
    pub const CERT_REQ: PayloadType = PayloadType(7);
    pub const HASH: PayloadType = PayloadType(8);
    pub const SIG: PayloadType = PayloadType(9);
    pub const NONCE: PayloadType = PayloadType(10);
    pub const NOTIFY: PayloadType = PayloadType(11);
    pub const DELETE: PayloadType = PayloadType(12);
    pub const VENDOR_ID: PayloadType = PayloadType(13);
    /// Mode config / XAUTH attributes (draft-ietf-ipsec-isakmp-mode-cfg).
    pub const ATTRIBUTES: PayloadType = PayloadType(14);
    /// NAT discovery, RFC 3947.
    pub const NAT_D: PayloadType = PayloadType(20);
    /// NAT original address, RFC 3947.
    pub const NAT_OA: PayloadType = PayloadType(21);
    /// NAT-D as numbered by draft-ietf-ipsec-nat-t-ike-02/03 (private range).
    pub const NAT_D_DRAFT: PayloadType = PayloadType(130);
    /// NAT-OA as numbered by the drafts.
    pub const NAT_OA_DRAFT: PayloadType = PayloadType(131);
    /// IKEv1 fragmentation (Cisco/strongSwan "FRAGMENTATION" vendor id).
    /// Recognised and parsed; reassembly is not done here.
    pub const FRAGMENT: PayloadType = PayloadType(132);

    /// May this type appear in an IKEv1 message's top-level chain?
    /// (PROPOSAL and TRANSFORM live only inside an SA payload.)
    pub fn is_v1_top_level(self) -> bool {
        matches!(self.0, 1 | 4..=14 | 20 | 21 | 130..=132)
    }
}

/// A view of one payload with its generic header at the start of `buffer`.
#[derive(Debug, Clone)]
pub struct GenericPayload<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GenericPayload<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        GenericPayload { buffer }
    }

    /// Checks `4 <= payload_length <= buffer.len()`.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        let have = p.buffer.as_ref().len();
        need("payload header", have, GENERIC_HEADER_LEN)?;
        let len = p.payload_length() as usize;
        if len < GENERIC_HEADER_LEN {
            return Err(WireError::BadLength {
                what: "payload length",
                len,
            });
        }
        need("payload", have, len)?;
        Ok(p)
    }

    pub fn next_payload(&self) -> PayloadType {
        PayloadType(self.buffer.as_ref()[0])
    }
    /// IKEv1: reserved, must be zero.  IKEv2: bit 7 is the critical bit.
    pub fn reserved(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    pub fn payload_length(&self) -> u16 {
        be16(&self.buffer.as_ref()[2..4])
    }
    /// The payload body (after the generic header).
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[GENERIC_HEADER_LEN..self.payload_length() as usize]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> GenericPayload<T> {
    pub fn set_next_payload(&mut self, p: PayloadType) {
        self.buffer.as_mut()[0] = p.0;
    }
    pub fn set_reserved(&mut self, r: u8) {
        self.buffer.as_mut()[1] = r;
    }
    pub fn set_payload_length(&mut self, len: u16) {
        self.buffer.as_mut()[2..4].copy_from_slice(&len.to_be_bytes());
    }
}

/// One payload of a chain, not yet interpreted.  `bytes` (generic header
/// included) and `body` borrow the message, which is what the IKEv1 hashes
/// need: HASH_I covers SAi_b and IDii_b (bodies), quick-mode HASH(1) covers
/// every payload after the HASH with headers (`chain[offset..end]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPayload<'a> {
    pub kind: PayloadType,
    pub next: PayloadType,
    /// The reserved byte (IKEv2: critical flag in bit 7).
    pub reserved: u8,
    /// Offset of the generic header in the chain buffer.
    pub offset: usize,
    /// The whole payload, generic header included.
    pub bytes: &'a [u8],
    /// The body after the generic header.
    pub body: &'a [u8],
}

/// Iterates a chain without interpreting payload types.  Yields at most
/// [`MAX_PAYLOADS`] items; after the first error it yields nothing more.
#[derive(Debug, Clone)]
pub struct PayloadIter<'a> {
    data: &'a [u8],
    pos: usize,
    next: PayloadType,
    count: usize,
    done: bool,
}

impl<'a> PayloadIter<'a> {
    pub fn new(first: PayloadType, data: &'a [u8]) -> Self {
        PayloadIter {
            data,
            pos: 0,
            next: first,
            count: 0,
            done: first == PayloadType::NONE,
        }
    }
    /// Offset just after the last payload yielded so far.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for PayloadIter<'a> {
    type Item = Result<RawPayload<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.count == MAX_PAYLOADS {
            self.done = true;
            return Some(Err(WireError::TooManyPayloads {
                limit: MAX_PAYLOADS,
            }));
        }
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let p = match GenericPayload::new_checked(rest) {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let len = p.payload_length() as usize;
        let raw = RawPayload {
            kind: self.next,
            next: p.next_payload(),
            reserved: p.reserved(),
            offset: self.pos,
            bytes: &rest[..len],
            body: &rest[GENERIC_HEADER_LEN..len],
        };
        self.pos += len;
        self.count += 1;
        self.next = raw.next;
        self.done = raw.next == PayloadType::NONE;
        Some(Ok(raw))
    }
}

/// A parsed IKEv1 chain: its payloads and where the last one ended
/// (`data[end..]` is padding in a decrypted body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadChain<'a> {
    pub payloads: Vec<RawPayload<'a>>,
    pub end: usize,
}

impl<'a> PayloadChain<'a> {
    /// The first payload of a type.
    pub fn find(&self, kind: PayloadType) -> Option<&RawPayload<'a>> {
        self.payloads.iter().find(|p| p.kind == kind)
    }
    /// All payloads of a type, in order.
    pub fn all(&self, kind: PayloadType) -> impl Iterator<Item = &RawPayload<'a>> {
        self.payloads.iter().filter(move |p| p.kind == kind)
    }
    /// The bytes after the first payload up to the chain's end, padding
    /// excluded, given the buffer the chain was parsed from: what quick-mode
    /// and informational HASH(1) cover after M-ID (RFC 2409 5.5, 5.7).
    /// Empty if the chain is empty or `data` is not that buffer.
    pub fn after_first<'d>(&self, data: &'d [u8]) -> &'d [u8] {
        self.payloads
            .first()
            .and_then(|p| data.get(p.offset + p.bytes.len()..self.end))
            .unwrap_or(&[])
    }

    /// Parses every payload into its `Repr`.
    pub fn typed(&self) -> Result<Vec<super::v1::payload::Payload>, WireError> {
        self.payloads
            .iter()
            .map(super::v1::payload::Payload::parse)
            .collect()
    }
}

/// Parses an IKEv1 payload chain starting with `first` (the header's next
/// payload): the cleartext body of a message, or a decrypted body.  Bytes
/// after the chain's end are tolerated (padding); check `end` for
/// cleartext.  Unknown or misplaced types are rejected (RFC 2408 5.1:
/// INVALID-PAYLOAD-TYPE), as is a non-zero reserved byte (RFC 2408 3.2).
pub fn parse_payloads(first: PayloadType, data: &[u8]) -> Result<PayloadChain<'_>, WireError> {
    let mut it = PayloadIter::new(first, data);
    let mut payloads = Vec::new();
    for p in it.by_ref() {
        let p = p?;
        if !p.kind.is_v1_top_level() {
            return Err(WireError::InvalidPayloadType(p.kind.0));
        }
        if p.reserved != 0 {
            return Err(WireError::BadValue {
                what: "payload reserved byte",
                value: p.reserved.into(),
            });
        }
        payloads.push(p);
    }
    Ok(PayloadChain {
        payloads,
        end: it.position(),
    })
}
