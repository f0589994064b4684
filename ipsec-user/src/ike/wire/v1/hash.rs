//! Hash payload (RFC 2408 3.11): a PRF output (16 to 64 bytes in practice).

use super::super::error::WireError;

/// Smallest and largest accepted body length.
pub const HASH_LEN: core::ops::RangeInclusive<usize> = 1..=64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashRepr {
    pub data: Vec<u8>,
}

impl HashRepr {
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        HashRepr { data: data.into() }
    }
    /// Parses the payload body; its length must be in the accepted range.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        if !HASH_LEN.contains(&body.len()) {
            return Err(WireError::BadLength {
                what: "HASH payload",
                len: body.len(),
            });
        }
        Ok(HashRepr {
            data: body.to_vec(),
        })
    }
    /// Compares the received hash with the one computed locally in
    /// constant time (a timing leak here would let an attacker forge
    /// HASH_I/HASH_R byte by byte).
    pub fn ct_eq(&self, expected: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        self.data.len() == expected.len() && bool::from(self.data.as_slice().ct_eq(expected))
    }

    pub fn buffer_len(&self) -> usize {
        self.data.len()
    }
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..self.data.len()].copy_from_slice(&self.data);
    }
}
