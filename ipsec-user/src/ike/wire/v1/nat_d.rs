//! NAT discovery payload (RFC 3947 3.2; payload 20, or 130 with the drafts):
//! HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash.

use super::super::error::WireError;

/// The NAT-D body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatDRepr {
    /// Sent as the draft payload type 130 rather than RFC 3947's 20.
    pub draft: bool,
    pub hash: Vec<u8>,
}

impl NatDRepr {
    pub fn new(hash: impl Into<Vec<u8>>, draft: bool) -> Self {
        NatDRepr {
            draft,
            hash: hash.into(),
        }
    }
    /// Parses a body; `draft` records which payload type carried it.
    pub fn parse(body: &[u8], draft: bool) -> Result<Self, WireError> {
        if body.is_empty() || body.len() > 64 {
            return Err(WireError::BadLength {
                what: "NAT-D hash",
                len: body.len(),
            });
        }
        Ok(NatDRepr {
            draft,
            hash: body.to_vec(),
        })
    }
    pub fn buffer_len(&self) -> usize {
        self.hash.len()
    }
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..self.hash.len()].copy_from_slice(&self.hash);
    }
}
