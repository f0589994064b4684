//! Authentication payload (RFC 7296 3.8): the method and the MAC or
//! signature. Verification lives in `ike::crypto::keys_v2` (shared key)
//! and the future `ike::auth` (signatures).

use super::super::bytes::need;
use super::super::error::WireError;

/// Bound on authentication data: an RSA-8192 signature with its RFC 7427
/// algorithm identifier fits; a shared-key MAC is at most 64 bytes.
pub const MAX_AUTH_DATA_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthV2 {
    pub method: u8,
    pub data: Vec<u8>,
}

impl AuthV2 {
    /// Parses an AUTH body: data 1 to [`MAX_AUTH_DATA_LEN`] bytes.
    pub fn parse(body: &[u8]) -> Result<AuthV2, WireError> {
        need("AUTH payload", body.len(), 4)?;
        let data = &body[4..];
        if data.is_empty() || data.len() > MAX_AUTH_DATA_LEN {
            return Err(WireError::BadLength {
                what: "AUTH data",
                len: data.len(),
            });
        }
        Ok(AuthV2 {
            method: body[0],
            data: data.to_vec(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.method;
        buf[1..4].fill(0);
        buf[4..4 + self.data.len()].copy_from_slice(&self.data);
    }
}
