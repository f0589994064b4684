//! Nonce payload (RFC 2408 3.13): 8 to 256 bytes (RFC 2409 5).

use super::super::error::WireError;

/// Smallest and largest accepted body length.
pub const NONCE_LEN: core::ops::RangeInclusive<usize> = 8..=256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRepr {
    pub data: Vec<u8>,
}

impl NonceRepr {
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        NonceRepr { data: data.into() }
    }
    /// Parses the payload body; its length must be in the accepted range.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        if !NONCE_LEN.contains(&body.len()) {
            return Err(WireError::BadLength {
                what: "NONCE payload",
                len: body.len(),
            });
        }
        Ok(NonceRepr {
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
