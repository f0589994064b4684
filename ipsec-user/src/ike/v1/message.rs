//! The exchanges' view of ISAKMP messages: a header, a chain of raw
//! payloads (type + byte ranges, so hashes can be recomputed over the exact
//! bytes the peer sent) and small typed decoders/encoders for the payloads
//! the IKEv1 tasks use.
//!
//! Parsing of peer input is delegated to `ike::wire` (the fuzzed codec):
//! header, payload chain, SA/proposal/transform/attributes, notify, delete
//! and ID bodies are validated there and converted here into the small
//! owned types the tasks use. Emitting stays here: the tasks need the exact
//! bytes of each payload chain for HASH inputs; `tests/ike_v1_interop.rs`
//! checks that everything we emit parses with `ike::wire`.

use std::ops::Range;

use crate::ike::wire;

/// ISAKMP payload types (RFC 2408 3.1, RFC 3947).
pub mod pt {
    pub const NONE: u8 = 0;
    pub const SA: u8 = 1;
    pub const PROPOSAL: u8 = 2;
    pub const TRANSFORM: u8 = 3;
    pub const KE: u8 = 4;
    pub const ID: u8 = 5;
    pub const HASH: u8 = 8;
    pub const NONCE: u8 = 10;
    pub const NOTIFY: u8 = 11;
    pub const DELETE: u8 = 12;
    pub const VID: u8 = 13;
    pub const NAT_D: u8 = 20;
    pub const NAT_D_DRAFT: u8 = 130;
}

/// Exchange types.
pub mod xt {
    pub const MAIN: u8 = 2;
    pub const AGGRESSIVE: u8 = 4;
    pub const INFORMATIONAL: u8 = 5;
    pub const QUICK: u8 = 32;
}

pub const FLAG_ENCRYPTED: u8 = 0x01;
pub const HEADER_LEN: usize = 28;
/// No IKEv1 message we handle comes near this; bounds every allocation.
pub const MAX_MESSAGE: usize = 65535;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("datagram of {0} bytes is shorter than the 28-byte ISAKMP header")]
    Short(usize),
    #[error("ISAKMP version {0:#04x} is not 1.0")]
    Version(u8),
    #[error("ISAKMP length field {field} does not fit the {got}-byte datagram")]
    Length { field: u32, got: usize },
    #[error("payload {ptype} is truncated or its length {len} is invalid")]
    Payload { ptype: u8, len: usize },
    #[error("too many payloads, proposals, transforms or attributes")]
    TooMany,
    #[error("malformed {0} payload")]
    Malformed(&'static str),
    #[error("{0}")]
    Wire(#[from] wire::WireError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub icookie: [u8; 8],
    pub rcookie: [u8; 8],
    pub next: u8,
    pub exchange: u8,
    pub flags: u8,
    pub mid: u32,
    pub length: u32,
}

impl Header {
    pub fn parse(data: &[u8]) -> Result<Header, MessageError> {
        if data.len() < HEADER_LEN {
            return Err(MessageError::Short(data.len()));
        }
        // wire checks 28 <= length <= min(datagram, 65535); bytes beyond
        // the length are ignored (some stacks pad datagrams).
        let view = wire::Header::new_checked(data)?;
        let r = wire::HeaderRepr::parse(&view)?;
        if r.major_version != 1 {
            return Err(MessageError::Version(
                r.major_version << 4 | r.minor_version,
            ));
        }
        Ok(Header {
            icookie: r.initiator_cookie,
            rcookie: r.responder_cookie,
            next: r.next_payload.0,
            exchange: r.exchange_type.0,
            flags: r.flags.0,
            mid: r.message_id,
            length: r.length,
        })
    }

    pub fn encrypted(&self) -> bool {
        self.flags & FLAG_ENCRYPTED != 0
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.icookie);
        out.extend_from_slice(&self.rcookie);
        out.push(self.next);
        out.push(0x10);
        out.push(self.exchange);
        out.push(self.flags);
        out.extend_from_slice(&self.mid.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }
}

/// One payload of a chain: its type and where its body and whole payload
/// (generic header included) lie in the chain's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPayload {
    pub ptype: u8,
    pub body: Range<usize>,
    pub whole: Range<usize>,
}

/// Walk a payload chain (bounded, via `ike::wire`). Trailing bytes after
/// the last payload (CBC padding) are ignored.
pub fn parse_chain(first: u8, buf: &[u8]) -> Result<Vec<RawPayload>, MessageError> {
    let chain = wire::parse_payloads(wire::PayloadType(first), buf)?;
    Ok(chain
        .payloads
        .iter()
        .map(|p| {
            let end = p.offset + p.bytes.len();
            RawPayload {
                ptype: p.kind.0,
                body: end - p.body.len()..end,
                whole: p.offset..end,
            }
        })
        .collect())
}

/// Builds a payload chain, fixing next-payload fields and lengths.
#[derive(Default, Debug, Clone)]
pub struct Chain {
    items: Vec<(u8, Vec<u8>)>,
}

impl Chain {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, ptype: u8, body: Vec<u8>) -> &mut Self {
        self.items.push((ptype, body));
        self
    }
    pub fn extend_from(&mut self, other: &Chain) -> &mut Self {
        self.items.extend(other.items.iter().cloned());
        self
    }
    pub fn first_type(&self) -> u8 {
        self.items.first().map(|i| i.0).unwrap_or(pt::NONE)
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (_, body)) in self.items.iter().enumerate() {
            let next = self.items.get(i + 1).map(|n| n.0).unwrap_or(pt::NONE);
            out.push(next);
            out.push(0);
            out.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
            out.extend_from_slice(body);
        }
        out
    }
}

/// One SA attribute (TV when the value fits 16 bits and the type is a
/// basic one, TLV otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub atype: u16,
    pub value: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    pub number: u8,
    pub id: u8,
    pub attrs: Vec<Attr>,
}

impl Transform {
    pub fn attr(&self, atype: u16) -> Option<u64> {
        self.attrs
            .iter()
            .find(|a| a.atype == atype)
            .map(|a| a.value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub number: u8,
    pub protocol: u8,
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

/// The SA payload body (DOI IPsec, situation identity-only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaPayload {
    pub proposals: Vec<Proposal>,
}

/// Attributes of a transform or of a RESPONDER-LIFETIME notify.
pub fn parse_attrs(b: &[u8]) -> Result<Vec<Attr>, MessageError> {
    let attrs = wire::parse_attributes(b)?;
    Ok(attrs
        .iter()
        .map(|a| {
            Ok(Attr {
                atype: a.kind,
                value: a.as_u64()?,
            })
        })
        .collect::<Result<Vec<_>, wire::WireError>>()?)
}

pub fn emit_attrs(attrs: &[Attr], out: &mut Vec<u8>) {
    for a in attrs {
        if a.value <= 0xffff {
            out.extend_from_slice(&(a.atype | 0x8000).to_be_bytes());
            out.extend_from_slice(&(a.value as u16).to_be_bytes());
        } else if a.value <= u32::MAX as u64 {
            out.extend_from_slice(&a.atype.to_be_bytes());
            out.extend_from_slice(&4u16.to_be_bytes());
            out.extend_from_slice(&(a.value as u32).to_be_bytes());
        } else {
            out.extend_from_slice(&a.atype.to_be_bytes());
            out.extend_from_slice(&8u16.to_be_bytes());
            out.extend_from_slice(&a.value.to_be_bytes());
        }
    }
}

impl SaPayload {
    pub fn parse(body: &[u8]) -> Result<SaPayload, MessageError> {
        let sa = wire::SaRepr::parse(body)?;
        let mut proposals = Vec::with_capacity(sa.proposals.len());
        for p in sa.proposals {
            let mut transforms = Vec::with_capacity(p.transforms.len());
            for t in p.transforms {
                let attrs = t
                    .attributes
                    .iter()
                    .map(|a| {
                        Ok(Attr {
                            atype: a.kind,
                            value: a.as_u64()?,
                        })
                    })
                    .collect::<Result<Vec<_>, wire::WireError>>()?;
                transforms.push(Transform {
                    number: t.number,
                    id: t.id,
                    attrs,
                });
            }
            proposals.push(Proposal {
                number: p.number,
                protocol: p.protocol.0,
                spi: p.spi,
                transforms,
            });
        }
        Ok(SaPayload { proposals })
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut out = vec![0, 0, 0, 1, 0, 0, 0, 1];
        let mut props = Chain::new();
        for p in &self.proposals {
            let mut b = vec![
                p.number,
                p.protocol,
                p.spi.len() as u8,
                p.transforms.len() as u8,
            ];
            b.extend_from_slice(&p.spi);
            let mut trs = Chain::new();
            for t in &p.transforms {
                let mut tb = vec![t.number, t.id, 0, 0];
                emit_attrs(&t.attrs, &mut tb);
                trs.push(pt::TRANSFORM, tb);
            }
            b.extend_from_slice(&trs.bytes());
            props.push(pt::PROPOSAL, b);
        }
        out.extend_from_slice(&props.bytes());
        out
    }
}

/// ID payload body: type, protocol, port, data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPayload {
    pub id_type: u8,
    pub protocol: u8,
    pub port: u16,
    pub data: Vec<u8>,
}

pub const ID_IPV4_ADDR: u8 = 1;
pub const ID_IPV4_ADDR_SUBNET: u8 = 4;

impl IdPayload {
    pub fn parse(b: &[u8]) -> Result<IdPayload, MessageError> {
        wire::IdRepr::parse(b)?;
        if b.len() < 4 {
            return Err(MessageError::Malformed("ID"));
        }
        Ok(IdPayload {
            id_type: b[0],
            protocol: b[1],
            port: u16::from_be_bytes([b[2], b[3]]),
            data: b[4..].to_vec(),
        })
    }
    pub fn emit(&self) -> Vec<u8> {
        let mut v = vec![self.id_type, self.protocol];
        v.extend_from_slice(&self.port.to_be_bytes());
        v.extend_from_slice(&self.data);
        v
    }
}

/// Notification types we send or act on.
pub mod nt {
    pub const INVALID_SPI: u16 = 11;
    pub const NO_PROPOSAL_CHOSEN: u16 = 14;
    pub const PAYLOAD_MALFORMED: u16 = 16;
    pub const INVALID_ID_INFORMATION: u16 = 18;
    pub const AUTHENTICATION_FAILED: u16 = 24;
    pub const RESPONDER_LIFETIME: u16 = 24576;
    pub const INITIAL_CONTACT: u16 = 24578;
    pub const R_U_THERE: u16 = 36136;
    pub const R_U_THERE_ACK: u16 = 36137;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyPayload {
    pub protocol: u8,
    pub ntype: u16,
    pub spi: Vec<u8>,
    pub data: Vec<u8>,
}

impl NotifyPayload {
    pub fn parse(b: &[u8]) -> Result<NotifyPayload, MessageError> {
        let n = wire::NotifyRepr::parse(b)?;
        Ok(NotifyPayload {
            protocol: n.protocol,
            ntype: n.kind.0,
            spi: n.spi,
            data: n.data,
        })
    }
    pub fn emit(&self) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 1, self.protocol, self.spi.len() as u8];
        v.extend_from_slice(&self.ntype.to_be_bytes());
        v.extend_from_slice(&self.spi);
        v.extend_from_slice(&self.data);
        v
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePayload {
    pub protocol: u8,
    pub spi_size: u8,
    pub spis: Vec<Vec<u8>>,
}

impl DeletePayload {
    pub fn parse(b: &[u8]) -> Result<DeletePayload, MessageError> {
        let d = wire::DeleteRepr::parse(b)?;
        Ok(DeletePayload {
            protocol: d.protocol,
            spi_size: d.spi_size,
            spis: d.spis,
        })
    }
    pub fn emit(&self) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 1, self.protocol, self.spi_size];
        v.extend_from_slice(&(self.spis.len() as u16).to_be_bytes());
        for s in &self.spis {
            v.extend_from_slice(s);
        }
        v
    }
}

/// A parsed (and, if it was, decrypted) message.
#[derive(Debug, Clone)]
pub struct Message {
    pub header: Header,
    /// The plaintext payload chain.
    pub body: Vec<u8>,
    pub payloads: Vec<RawPayload>,
}

impl Message {
    pub fn parse_plain(header: Header, body: Vec<u8>) -> Result<Message, MessageError> {
        let payloads = parse_chain(header.next, &body)?;
        Ok(Message {
            header,
            body,
            payloads,
        })
    }
    pub fn first(&self, ptype: u8) -> Option<&[u8]> {
        self.payloads
            .iter()
            .find(|p| p.ptype == ptype)
            .map(|p| &self.body[p.body.clone()])
    }
    pub fn all(&self, ptype: u8) -> impl Iterator<Item = &[u8]> {
        self.payloads
            .iter()
            .filter(move |p| p.ptype == ptype)
            .map(move |p| &self.body[p.body.clone()])
    }
    /// The bytes after the first payload up to the end of the chain (what
    /// quick-mode and informational HASHes cover when HASH comes first).
    pub fn after_first(&self) -> &[u8] {
        match (self.payloads.first(), self.payloads.last()) {
            (Some(f), Some(l)) => &self.body[f.whole.end..l.whole.end],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sa_round_trip_with_long_lifetime() {
        let sa = SaPayload {
            proposals: vec![Proposal {
                number: 1,
                protocol: 3,
                spi: vec![1, 2, 3, 4],
                transforms: vec![Transform {
                    number: 1,
                    id: 12,
                    attrs: vec![
                        Attr { atype: 1, value: 1 },
                        Attr {
                            atype: 2,
                            value: 28800,
                        },
                        Attr {
                            atype: 2,
                            value: 4_608_000,
                        },
                    ],
                }],
            }],
        };
        let bytes = sa.emit();
        assert_eq!(SaPayload::parse(&bytes).unwrap(), sa);
        // the 4608000 KB lifetime went out as a TLV
        assert!(
            bytes
                .windows(8)
                .any(|w| w == [0, 2, 0, 4, 0, 0x46, 0x50, 0])
        );
    }

    #[test]
    fn chain_rejects_truncation_and_loops_are_bounded() {
        let mut c = Chain::new();
        c.push(pt::NONCE, vec![1; 16]).push(pt::VID, vec![2; 16]);
        let b = c.bytes();
        let p = parse_chain(pt::NONCE, &b).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].ptype, pt::VID);
        assert!(parse_chain(pt::NONCE, &b[..30]).is_err());
        // zero-length payload header must not loop forever
        assert!(parse_chain(pt::NONCE, &[pt::NONCE, 0, 0, 0]).is_err());
        assert!(Header::parse(&[0u8; 27]).is_err());
        assert!(SaPayload::parse(&[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5]).is_err());
    }
}
