//! IKEv1 fragmentation payload (type 132, the Cisco scheme strongSwan also
//! speaks after the FRAGMENTATION vendor id): fragment id (2), fragment
//! number (1, from 1), flags (1, bit 0 = last fragment), data.
//!
//! Recognised and parsed only; reassembly is NOT done here (it needs
//! per-peer state and bounds, and belongs to the exchange layer).

use super::super::bytes::be16;
use super::super::bytes::need;
use super::super::error::WireError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentRepr {
    pub id: u16,
    pub number: u8,
    pub last: bool,
    /// Any flag bits beyond "last", kept for a faithful re-emit.
    pub flags: u8,
    pub data: Vec<u8>,
}

impl FragmentRepr {
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        need("fragment", body.len(), 4)?;
        if body[2] == 0 {
            return Err(WireError::BadValue {
                what: "fragment number",
                value: 0,
            });
        }
        Ok(FragmentRepr {
            id: be16(&body[0..2]),
            number: body[2],
            last: body[3] & 1 != 0,
            flags: body[3],
            data: body[4..].to_vec(),
        })
    }
    pub fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..2].copy_from_slice(&self.id.to_be_bytes());
        buf[2] = self.number;
        buf[3] = if self.last {
            self.flags | 1
        } else {
            self.flags & !1
        };
        buf[4..4 + self.data.len()].copy_from_slice(&self.data);
    }
}
