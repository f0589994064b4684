//! Byte-level helpers every wire module reads with. At the bottom of the
//! codec: it depends on nothing else here, so no module pair imports
//! each other through it.

use super::error::WireError;

/// Shorthand for the bounds check every parser does before touching bytes.
#[inline]
pub(crate) fn need(what: &'static str, have: usize, need: usize) -> Result<(), WireError> {
    if have < need {
        Err(WireError::Truncated { what, need, have })
    } else {
        Ok(())
    }
}

/// Big-endian u16 of the first two bytes (the caller checked the length).
pub(crate) fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// Big-endian u32 of the first four bytes (the caller checked the length).
pub(crate) fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
