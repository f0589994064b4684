//! Delete payload (RFC 2408 3.15): DOI, protocol, SPI size, number of SPIs,
//! SPIs.  Phase 1 deletes carry the cookie pair as a 16-byte SPI; phase 2
//! deletes carry 4-byte ESP SPIs.

use super::super::bytes::need;
use super::super::bytes::{be16, be32};
use super::super::error::WireError;
use super::sa::MAX_SPI_LEN;

/// Bound on SPIs in one delete.
pub const MAX_DELETE_SPIS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRepr {
    pub doi: u32,
    pub protocol: u8,
    pub spi_size: u8,
    pub spis: Vec<Vec<u8>>,
}

impl DeleteRepr {
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        need("delete", body.len(), 8)?;
        let spi_size = body[5];
        let n = be16(&body[6..8]) as usize;
        if spi_size == 0 || spi_size as usize > MAX_SPI_LEN {
            return Err(WireError::BadLength {
                what: "delete SPI size",
                len: spi_size.into(),
            });
        }
        if n == 0 || n > MAX_DELETE_SPIS {
            return Err(WireError::BadLength {
                what: "delete SPI count",
                len: n,
            });
        }
        let rest = &body[8..];
        let want = n * spi_size as usize;
        need("delete SPIs", rest.len(), want)?;
        if rest.len() != want {
            return Err(WireError::TrailingBytes(rest.len() - want));
        }
        Ok(DeleteRepr {
            doi: be32(&body[0..4]),
            protocol: body[4],
            spi_size,
            spis: rest
                .chunks_exact(spi_size as usize)
                .map(<[u8]>::to_vec)
                .collect(),
        })
    }
    pub fn buffer_len(&self) -> usize {
        8 + self.spis.len() * self.spi_size as usize
    }
    /// Every SPI must be `spi_size` bytes (local data; panics otherwise).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..4].copy_from_slice(&self.doi.to_be_bytes());
        buf[4] = self.protocol;
        buf[5] = self.spi_size;
        buf[6..8].copy_from_slice(
            &u16::try_from(self.spis.len())
                .expect("too many SPIs")
                .to_be_bytes(),
        );
        let mut pos = 8;
        for s in &self.spis {
            assert_eq!(
                s.len(),
                self.spi_size as usize,
                "delete SPI of the wrong size"
            );
            buf[pos..pos + s.len()].copy_from_slice(s);
            pos += s.len();
        }
    }
}
