//! Key Exchange payload (RFC 7296 3.4): the Diffie-Hellman group and our
//! public value. The group decides the exact length, which `ike::crypto::dh`
//! checks; the codec only bounds it.

use super::super::bytes::be16;
use super::super::bytes::need;
use super::super::error::WireError;

/// Accepted length of the key exchange data: P-521 is 132 bytes (x | y),
/// MODP-8192 would be 1024.
pub const KE_DATA_LEN: core::ops::RangeInclusive<usize> = 1..=1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeV2 {
    pub group: u16,
    pub data: Vec<u8>,
}

impl KeV2 {
    pub fn parse(body: &[u8]) -> Result<KeV2, WireError> {
        need("KE payload", body.len(), 4)?;
        let data = &body[4..];
        if !KE_DATA_LEN.contains(&data.len()) {
            return Err(WireError::BadLength {
                what: "KE data",
                len: data.len(),
            });
        }
        Ok(KeV2 {
            group: be16(&body[0..2]),
            data: data.to_vec(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..2].copy_from_slice(&self.group.to_be_bytes());
        buf[2..4].fill(0);
        buf[4..4 + self.data.len()].copy_from_slice(&self.data);
    }
}
