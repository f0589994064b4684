//! SA payload (RFC 2408 3.4, RFC 2407 4.6.1) with its proposals (3.5) and
//! transforms (3.6).
//!
//! Proposals with the same number form one AND-ed offer (e.g. AH+ESP);
//! different numbers are alternatives (RFC 2408 4.2).  This codec keeps them
//! as they travel; matching belongs to `ike::proposal`.

use super::super::bytes::be32;
use super::super::bytes::need;
use super::super::error::WireError;
use super::super::payload::{GENERIC_HEADER_LEN, GenericPayload, PayloadType};
use super::attributes::{Attribute, Phase1Attrs, Phase2Attrs, ike, parse_attributes};

/// IPsec DOI (RFC 2407 4.2).
pub const DOI_IPSEC: u32 = 1;
/// SIT_IDENTITY_ONLY (RFC 2407 4.2), the only situation any peer uses.
pub const SIT_IDENTITY_ONLY: u32 = 1;
/// Bound on proposals in one SA, and on transforms in one proposal.
pub const MAX_PROPOSALS: usize = 64;
pub const MAX_TRANSFORMS: usize = 64;
/// Largest SPI (RFC 2408: 0 for phase 1 usually, 16 allowed; 4 for ESP/AH).
pub const MAX_SPI_LEN: usize = 16;

/// Protocol id (RFC 2407 4.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtocolId(pub u8);

impl ProtocolId {
    pub const ISAKMP: ProtocolId = ProtocolId(1);
    pub const AH: ProtocolId = ProtocolId(2);
    pub const ESP: ProtocolId = ProtocolId(3);
    pub const IPCOMP: ProtocolId = ProtocolId(4);
}

/// One transform: its number, id (KEY_IKE = 1 in phase 1; the ESP transform
/// id in phase 2) and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformRepr {
    pub number: u8,
    pub id: u8,
    pub attributes: Vec<Attribute>,
}

impl TransformRepr {
    /// Parses the body of a transform payload.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        need("transform", body.len(), 4)?;
        Ok(TransformRepr {
            number: body[0],
            id: body[1],
            attributes: parse_attributes(&body[4..])?,
        })
    }
    pub fn buffer_len(&self) -> usize {
        4 + self
            .attributes
            .iter()
            .map(Attribute::buffer_len)
            .sum::<usize>()
    }
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.number;
        buf[1] = self.id;
        buf[2] = 0;
        buf[3] = 0;
        let mut pos = 4;
        for a in &self.attributes {
            a.emit(&mut buf[pos..]);
            pos += a.buffer_len();
        }
    }
}

/// One proposal: number, protocol, SPI and transforms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalRepr {
    pub number: u8,
    pub protocol: ProtocolId,
    pub spi: Vec<u8>,
    pub transforms: Vec<TransformRepr>,
}

/// Walks a sub-chain (proposals in an SA, transforms in a proposal) whose
/// every element has type `kind`; returns the bodies.
fn sub_chain<'a>(
    mut data: &'a [u8],
    kind: PayloadType,
    what: &'static str,
    limit: usize,
) -> Result<Vec<&'a [u8]>, WireError> {
    let mut out = Vec::new();
    loop {
        if out.len() == limit {
            return Err(WireError::BadLength {
                what,
                len: limit + 1,
            });
        }
        let p = GenericPayload::new_checked(data)?;
        if p.reserved() != 0 {
            return Err(WireError::BadValue {
                what: "payload reserved byte",
                value: p.reserved().into(),
            });
        }
        let len = p.payload_length() as usize;
        out.push(&data[GENERIC_HEADER_LEN..len]);
        data = &data[len..];
        match p.next_payload() {
            PayloadType::NONE if data.is_empty() => return Ok(out),
            PayloadType::NONE => return Err(WireError::TrailingBytes(data.len())),
            n if n == kind => {}
            n => return Err(WireError::InvalidPayloadType(n.0)),
        }
    }
}

/// What a sub-chain element needs to be emitted.
trait SubItem {
    fn body_len(&self) -> usize;
    fn emit_body(&self, buf: &mut [u8]);
}
impl SubItem for TransformRepr {
    fn body_len(&self) -> usize {
        self.buffer_len()
    }
    fn emit_body(&self, buf: &mut [u8]) {
        self.emit(buf)
    }
}
impl SubItem for ProposalRepr {
    fn body_len(&self) -> usize {
        self.buffer_len()
    }
    fn emit_body(&self, buf: &mut [u8]) {
        self.emit(buf)
    }
}

fn emit_sub_chain<I: SubItem>(buf: &mut [u8], kind: PayloadType, items: &[I]) {
    let mut pos = 0;
    for (i, item) in items.iter().enumerate() {
        let total = GENERIC_HEADER_LEN + item.body_len();
        let mut g = GenericPayload::new_unchecked(&mut buf[pos..pos + total]);
        g.set_next_payload(if i + 1 == items.len() {
            PayloadType::NONE
        } else {
            kind
        });
        g.set_reserved(0);
        g.set_payload_length(total as u16);
        item.emit_body(&mut buf[pos + GENERIC_HEADER_LEN..pos + total]);
        pos += total;
    }
}

impl ProposalRepr {
    /// The 4-byte SPI of an ESP/AH proposal as a number.
    pub fn spi_u32(&self) -> Option<u32> {
        <[u8; 4]>::try_from(self.spi.as_slice())
            .ok()
            .map(u32::from_be_bytes)
    }

    /// Parses the body of a proposal payload.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        need("proposal", body.len(), 4)?;
        let (number, protocol, spi_len, n_transforms) =
            (body[0], ProtocolId(body[1]), body[2] as usize, body[3]);
        if spi_len > MAX_SPI_LEN {
            return Err(WireError::BadLength {
                what: "proposal SPI size",
                len: spi_len,
            });
        }
        need("proposal SPI", body.len() - 4, spi_len)?;
        let spi = body[4..4 + spi_len].to_vec();
        let rest = &body[4 + spi_len..];
        if n_transforms == 0 {
            return Err(WireError::BadValue {
                what: "proposal transform count",
                value: 0,
            });
        }
        let transforms = sub_chain(
            rest,
            PayloadType::TRANSFORM,
            "transform count",
            MAX_TRANSFORMS,
        )?
        .into_iter()
        .map(TransformRepr::parse)
        .collect::<Result<Vec<_>, _>>()?;
        if transforms.len() != n_transforms as usize {
            return Err(WireError::BadValue {
                what: "proposal transform count",
                value: n_transforms.into(),
            });
        }
        Ok(ProposalRepr {
            number,
            protocol,
            spi,
            transforms,
        })
    }
    pub fn buffer_len(&self) -> usize {
        4 + self.spi.len()
            + self
                .transforms
                .iter()
                .map(|t| GENERIC_HEADER_LEN + t.buffer_len())
                .sum::<usize>()
    }
    /// Panics on more than 255 transforms or an SPI over 255 bytes (local data).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.number;
        buf[1] = self.protocol.0;
        buf[2] = u8::try_from(self.spi.len()).expect("SPI over 255 bytes");
        buf[3] = u8::try_from(self.transforms.len()).expect("over 255 transforms");
        buf[4..4 + self.spi.len()].copy_from_slice(&self.spi);
        emit_sub_chain(
            &mut buf[4 + self.spi.len()..],
            PayloadType::TRANSFORM,
            &self.transforms,
        );
    }
}

/// The SA payload body: DOI, situation and proposals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaRepr {
    pub doi: u32,
    pub situation: u32,
    pub proposals: Vec<ProposalRepr>,
}

impl SaRepr {
    /// An IPsec-DOI, identity-only SA.
    pub fn new(proposals: Vec<ProposalRepr>) -> Self {
        SaRepr {
            doi: DOI_IPSEC,
            situation: SIT_IDENTITY_ONLY,
            proposals,
        }
    }

    /// A phase-1 offer: one ISAKMP proposal whose transforms, numbered
    /// from one, are the alternatives in preference order, as Cisco and
    /// strongSwan send their policies (one proposal, several transforms).
    pub fn phase1(offers: &[Phase1Attrs]) -> Self {
        SaRepr::new(vec![ProposalRepr {
            number: 1,
            protocol: ProtocolId::ISAKMP,
            spi: Vec::new(),
            transforms: offers
                .iter()
                .zip(1..=u8::MAX)
                .map(|(a, n)| TransformRepr {
                    number: n,
                    id: ike::TRANSFORM_KEY_IKE,
                    attributes: a.to_attributes(),
                })
                .collect(),
        }])
    }

    /// A quick-mode ESP offer: one ESP proposal carrying our inbound `spi`,
    /// with the alternatives as transforms in preference order.
    pub fn esp(spi: u32, offers: &[Phase2Attrs]) -> Self {
        SaRepr::new(vec![ProposalRepr {
            number: 1,
            protocol: ProtocolId::ESP,
            spi: spi.to_be_bytes().to_vec(),
            transforms: offers
                .iter()
                .zip(1..=u8::MAX)
                .map(|(a, n)| {
                    let (id, attributes) = a.to_transform_id_and_attributes();
                    TransformRepr {
                        number: n,
                        id,
                        attributes,
                    }
                })
                .collect(),
        }])
    }

    /// Parses an SA payload body.  Only DOI 1 / SIT_IDENTITY_ONLY is
    /// accepted (the secrecy/integrity situations carry labelled-domain
    /// fields no peer of ours sends): others give `Unsupported`.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        need("SA", body.len(), 8)?;
        let doi = be32(&body[0..4]);
        let situation = be32(&body[4..8]);
        if doi != DOI_IPSEC {
            return Err(WireError::Unsupported {
                what: "SA DOI",
                value: doi.into(),
            });
        }
        if situation != SIT_IDENTITY_ONLY {
            return Err(WireError::Unsupported {
                what: "SA situation",
                value: situation.into(),
            });
        }
        let proposals = sub_chain(
            &body[8..],
            PayloadType::PROPOSAL,
            "proposal count",
            MAX_PROPOSALS,
        )?
        .into_iter()
        .map(ProposalRepr::parse)
        .collect::<Result<Vec<_>, _>>()?;
        Ok(SaRepr {
            doi,
            situation,
            proposals,
        })
    }
    pub fn buffer_len(&self) -> usize {
        8 + self
            .proposals
            .iter()
            .map(|p| GENERIC_HEADER_LEN + p.buffer_len())
            .sum::<usize>()
    }
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..4].copy_from_slice(&self.doi.to_be_bytes());
        buf[4..8].copy_from_slice(&self.situation.to_be_bytes());
        emit_sub_chain(&mut buf[8..], PayloadType::PROPOSAL, &self.proposals);
    }
}
