//! Key exchange payload (RFC 2408 3.7): the DH public value. Bounded to 1024 bytes (MODP-8192); the group decides the exact length, which the crypto code checks.

use super::super::error::WireError;

/// Smallest and largest accepted body length.
pub const KE_LEN: core::ops::RangeInclusive<usize> = 1..=1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeRepr {
    pub data: Vec<u8>,
}

impl KeRepr {
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        KeRepr { data: data.into() }
    }
    /// Parses the payload body; its length must be in the accepted range.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        if !KE_LEN.contains(&body.len()) {
            return Err(WireError::BadLength {
                what: "KE payload",
                len: body.len(),
            });
        }
        Ok(KeRepr {
            data: body.to_vec(),
        })
    }
    pub fn buffer_len(&self) -> usize {
        self.data.len()
    }
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..self.data.len()].copy_from_slice(&self.data);
    }
}
