//! The IKEv2 SA payload (RFC 7296 3.3): proposals, each with a protocol,
//! an SPI and transforms; a transform's only attribute is Key Length.
//!
//! Unknown transform attributes: RFC 7296 3.3.6 says a transform with an
//! attribute the receiver does not understand must be rejected, not the
//! message. [`SaV2::parse`] therefore parses such a transform (its bytes
//! must still be well formed) and leaves it out of its proposal; the
//! proposal keeps its other transforms, so it can still match, and a
//! proposal left without transforms simply matches nothing. The same
//! applies to a Key Length in TLV form or given twice.
//!
//! Proposal numbers are kept as sent (RFC 7296 says they start at 1 and
//! grow by one; a responder echoes the number it picked, so nothing is
//! gained by refusing a sender that numbers differently).

use super::super::bytes::be16;
use super::super::bytes::need;
use super::super::error::WireError;
use super::super::payload::{GENERIC_HEADER_LEN, GenericPayload, PayloadType};
use super::super::v1::attributes::MAX_ATTRIBUTES;
use super::super::v1::sa::{MAX_PROPOSALS, MAX_TRANSFORMS};

/// The Key Length transform attribute (RFC 7296 3.3.5), always TV.
pub const ATTR_KEY_LENGTH: u16 = 14;
/// Attribute Format bit: TV (2-byte value in place of the length).
const ATTR_TV: u16 = 0x8000;
/// "Last Substruc" of a proposal that more proposals follow.
const MORE_PROPOSALS: u8 = 2;
/// "Last Substruc" of a transform that more transforms follow.
const MORE_TRANSFORMS: u8 = 3;

/// One transform of a proposal (RFC 7296 3.3.2); `key_len` is the Key
/// Length attribute (14) in bits, the only attribute IKEv2 defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformV2 {
    pub kind: u8,
    pub id: u16,
    pub key_len: Option<u16>,
}

impl TransformV2 {
    /// Parses a transform body (after its 4-byte substructure header).
    /// `Ok((t, false))`: well formed but carries an attribute we do not
    /// understand, so the transform is unusable (RFC 7296 3.3.6).
    fn parse(body: &[u8]) -> Result<(TransformV2, bool), WireError> {
        need("transform", body.len(), 4)?;
        let mut t = TransformV2 {
            kind: body[0],
            id: be16(&body[2..4]),
            key_len: None,
        };
        let mut usable = true;
        let mut rest = &body[4..];
        let mut count = 0;
        while !rest.is_empty() {
            count += 1;
            if count > MAX_ATTRIBUTES {
                return Err(WireError::BadLength {
                    what: "transform attribute count",
                    len: count,
                });
            }
            need("transform attribute", rest.len(), 4)?;
            let af_type = be16(&rest[0..2]);
            let field = be16(&rest[2..4]);
            let len = if af_type & ATTR_TV != 0 {
                4
            } else {
                let len = 4 + usize::from(field);
                need("transform attribute value", rest.len(), len)?;
                len
            };
            let tv = af_type & ATTR_TV != 0;
            match (af_type & !ATTR_TV, tv) {
                (ATTR_KEY_LENGTH, true) if t.key_len.is_none() => t.key_len = Some(field),
                _ => usable = false,
            }
            rest = &rest[len..];
        }
        Ok((t, usable))
    }

    pub fn buffer_len(&self) -> usize {
        4 + if self.key_len.is_some() { 4 } else { 0 }
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.kind;
        buf[1] = 0;
        buf[2..4].copy_from_slice(&self.id.to_be_bytes());
        if let Some(k) = self.key_len {
            buf[4..6].copy_from_slice(&(ATTR_TV | ATTR_KEY_LENGTH).to_be_bytes());
            buf[6..8].copy_from_slice(&k.to_be_bytes());
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalV2 {
    /// Proposal number, 1-based, as numbered by the sender.
    pub num: u8,
    /// [`super::protocol`] id.
    pub protocol: u8,
    /// Empty in IKE_SA_INIT; the 8-byte IKE SPI in an IKE rekey; the
    /// 4-byte ESP SPI for a child.
    pub spi: Vec<u8>,
    pub transforms: Vec<TransformV2>,
}

/// SPI sizes a proposal, notify or delete may carry: none (IKE_SA_INIT,
/// IKE SA notifies), 4 (ESP/AH), 8 (an IKE SA SPI in a rekey).
pub(super) fn check_spi_size(what: &'static str, size: usize) -> Result<(), WireError> {
    if matches!(size, 0 | 4 | 8) {
        Ok(())
    } else {
        Err(WireError::BadLength { what, len: size })
    }
}

/// Walks substructures (proposals of an SA, transforms of a proposal)
/// whose generic-style header has "last" 0 and "more" `more`; returns
/// their bodies. At most `limit`; the data must end with the last one.
fn substructures<'a>(
    mut data: &'a [u8],
    more: u8,
    what: &'static str,
    limit: usize,
) -> Result<Vec<&'a [u8]>, WireError> {
    let mut out = Vec::new();
    if data.is_empty() {
        return Ok(out);
    }
    loop {
        if out.len() == limit {
            return Err(WireError::BadLength {
                what,
                len: limit + 1,
            });
        }
        let p = GenericPayload::new_checked(data)?;
        let len = usize::from(p.payload_length());
        out.push(&data[GENERIC_HEADER_LEN..len]);
        data = &data[len..];
        match p.next_payload().0 {
            0 if data.is_empty() => return Ok(out),
            0 => return Err(WireError::TrailingBytes(data.len())),
            n if n == more => {}
            n => {
                return Err(WireError::BadValue {
                    what: "last substructure",
                    value: n.into(),
                });
            }
        }
    }
}

/// Writes `items` as substructures ("more" marker `more` on all but the
/// last, which gets 0).
fn emit_substructures<T>(
    buf: &mut [u8],
    more: u8,
    items: &[T],
    len: impl Fn(&T) -> usize,
    emit: impl Fn(&T, &mut [u8]),
) {
    let mut pos = 0;
    for (i, item) in items.iter().enumerate() {
        let total = GENERIC_HEADER_LEN + len(item);
        let mut g = GenericPayload::new_unchecked(&mut buf[pos..pos + total]);
        g.set_next_payload(PayloadType(if i + 1 == items.len() { 0 } else { more }));
        g.set_reserved(0);
        g.set_payload_length(u16::try_from(total).expect("substructure over 65535 bytes"));
        emit(item, &mut buf[pos + GENERIC_HEADER_LEN..pos + total]);
        pos += total;
    }
}

impl ProposalV2 {
    /// The 4-byte SPI of an ESP/AH proposal as a number.
    pub fn spi_u32(&self) -> Option<u32> {
        <[u8; 4]>::try_from(self.spi.as_slice())
            .ok()
            .map(u32::from_be_bytes)
    }

    /// The 8-byte SPI of an IKE SA rekey proposal.
    pub fn spi_u64(&self) -> Option<[u8; 8]> {
        <[u8; 8]>::try_from(self.spi.as_slice()).ok()
    }

    /// Parses a proposal body (after its 4-byte substructure header).
    /// Transforms with attributes we do not understand are dropped (see
    /// the module docs); `Num Transforms` must count every transform sent.
    pub fn parse(body: &[u8]) -> Result<ProposalV2, WireError> {
        need("proposal", body.len(), 4)?;
        let (num, protocol, spi_len, n_transforms) =
            (body[0], body[1], usize::from(body[2]), usize::from(body[3]));
        check_spi_size("proposal SPI size", spi_len)?;
        need("proposal SPI", body.len() - 4, spi_len)?;
        let spi = body[4..4 + spi_len].to_vec();
        let raw = substructures(
            &body[4 + spi_len..],
            MORE_TRANSFORMS,
            "transform count",
            MAX_TRANSFORMS,
        )?;
        if raw.len() != n_transforms {
            return Err(WireError::BadValue {
                what: "proposal transform count",
                value: n_transforms as u64,
            });
        }
        let mut transforms = Vec::with_capacity(raw.len());
        for t in raw {
            let (t, usable) = TransformV2::parse(t)?;
            if usable {
                transforms.push(t);
            }
        }
        Ok(ProposalV2 {
            num,
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

    /// Panics on more than 255 transforms or an SPI over 255 bytes
    /// (local data, never peer input).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.num;
        buf[1] = self.protocol;
        buf[2] = u8::try_from(self.spi.len()).expect("SPI over 255 bytes");
        buf[3] = u8::try_from(self.transforms.len()).expect("over 255 transforms");
        buf[4..4 + self.spi.len()].copy_from_slice(&self.spi);
        emit_substructures(
            &mut buf[4 + self.spi.len()..],
            MORE_TRANSFORMS,
            &self.transforms,
            TransformV2::buffer_len,
            TransformV2::emit,
        );
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaV2 {
    pub proposals: Vec<ProposalV2>,
}

impl SaV2 {
    /// Parses an SA payload body: at least one and at most
    /// [`MAX_PROPOSALS`] proposals.
    pub fn parse(body: &[u8]) -> Result<SaV2, WireError> {
        let raw = substructures(body, MORE_PROPOSALS, "proposal count", MAX_PROPOSALS)?;
        if raw.is_empty() {
            return Err(WireError::Missing("proposal in SA payload"));
        }
        Ok(SaV2 {
            proposals: raw
                .into_iter()
                .map(ProposalV2::parse)
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        self.proposals
            .iter()
            .map(|p| GENERIC_HEADER_LEN + p.buffer_len())
            .sum()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        emit_substructures(
            buf,
            MORE_PROPOSALS,
            &self.proposals,
            ProposalV2::buffer_len,
            ProposalV2::emit,
        );
    }
}
