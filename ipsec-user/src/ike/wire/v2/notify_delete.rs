//! Notify (RFC 7296 3.10) and Delete (3.11) payloads: both name a protocol
//! and SPIs of a size that depends on it (none for the IKE SA, 4 bytes for
//! ESP/AH, 8 in the rare IKE-SPI notify).

use super::super::bytes::be16;
use super::super::bytes::need;
use super::super::error::WireError;
use super::super::v1::delete::MAX_DELETE_SPIS;
use super::super::v1::notify::MAX_NOTIFY_DATA_LEN;
use super::sa::check_spi_size;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyV2 {
    pub protocol: u8,
    pub spi: Vec<u8>,
    pub kind: u16,
    pub data: Vec<u8>,
}

impl NotifyV2 {
    /// A notify about the IKE SA (protocol 0, no SPI).
    pub fn ike(kind: u16, data: impl Into<Vec<u8>>) -> Self {
        NotifyV2 {
            protocol: 0,
            spi: Vec::new(),
            kind,
            data: data.into(),
        }
    }

    /// An error type (below 16384): the exchange failed.
    pub fn is_error(&self) -> bool {
        super::notify::is_error(self.kind)
    }

    /// The 4-byte SPI of an ESP/AH notify (REKEY_SA, ...) as a number.
    pub fn spi_u32(&self) -> Option<u32> {
        <[u8; 4]>::try_from(self.spi.as_slice())
            .ok()
            .map(u32::from_be_bytes)
    }

    /// Parses a notify body: SPI size 0, 4 or 8; data at most
    /// [`MAX_NOTIFY_DATA_LEN`] bytes.
    pub fn parse(body: &[u8]) -> Result<NotifyV2, WireError> {
        need("notify", body.len(), 4)?;
        let spi_len = usize::from(body[1]);
        check_spi_size("notify SPI size", spi_len)?;
        need("notify SPI", body.len() - 4, spi_len)?;
        let data = &body[4 + spi_len..];
        if data.len() > MAX_NOTIFY_DATA_LEN {
            return Err(WireError::BadLength {
                what: "notify data",
                len: data.len(),
            });
        }
        Ok(NotifyV2 {
            protocol: body[0],
            spi: body[4..4 + spi_len].to_vec(),
            kind: be16(&body[2..4]),
            data: data.to_vec(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        4 + self.spi.len() + self.data.len()
    }

    /// Panics on an SPI over 255 bytes (local data).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.protocol;
        buf[1] = u8::try_from(self.spi.len()).expect("SPI over 255 bytes");
        buf[2..4].copy_from_slice(&self.kind.to_be_bytes());
        let d = 4 + self.spi.len();
        buf[4..d].copy_from_slice(&self.spi);
        buf[d..d + self.data.len()].copy_from_slice(&self.data);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteV2 {
    pub protocol: u8,
    /// Empty for IKE (SPI size 0); 4-byte SPIs for ESP.
    pub spis: Vec<Vec<u8>>,
}

impl DeleteV2 {
    /// Deletes the IKE SA the message travels in.
    pub fn ike() -> Self {
        DeleteV2 {
            protocol: super::protocol::IKE,
            spis: Vec::new(),
        }
    }

    /// Deletes ESP SAs by their (the receiver's outbound) SPIs.
    pub fn esp(spis: &[u32]) -> Self {
        DeleteV2 {
            protocol: super::protocol::ESP,
            spis: spis.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
        }
    }

    /// The 4-byte SPIs as numbers (others skipped).
    pub fn spis_u32(&self) -> impl Iterator<Item = u32> + '_ {
        self.spis
            .iter()
            .filter_map(|s| <[u8; 4]>::try_from(s.as_slice()).ok())
            .map(u32::from_be_bytes)
    }

    /// Parses a delete body: SPI size 0, 4 or 8, at most
    /// [`MAX_DELETE_SPIS`] SPIs filling the body exactly. With SPI size 0
    /// (the IKE SA) the SPI count carries nothing and `spis` is empty.
    pub fn parse(body: &[u8]) -> Result<DeleteV2, WireError> {
        need("delete", body.len(), 4)?;
        let spi_len = usize::from(body[1]);
        check_spi_size("delete SPI size", spi_len)?;
        let n = usize::from(be16(&body[2..4]));
        let rest = &body[4..];
        if spi_len == 0 {
            if !rest.is_empty() {
                return Err(WireError::TrailingBytes(rest.len()));
            }
            return Ok(DeleteV2 {
                protocol: body[0],
                spis: Vec::new(),
            });
        }
        if n > MAX_DELETE_SPIS {
            return Err(WireError::BadLength {
                what: "delete SPI count",
                len: n,
            });
        }
        let want = n * spi_len;
        need("delete SPIs", rest.len(), want)?;
        if rest.len() != want {
            return Err(WireError::TrailingBytes(rest.len() - want));
        }
        Ok(DeleteV2 {
            protocol: body[0],
            spis: rest.chunks_exact(spi_len).map(<[u8]>::to_vec).collect(),
        })
    }

    fn spi_len(&self) -> usize {
        self.spis.first().map_or(0, Vec::len)
    }

    pub fn buffer_len(&self) -> usize {
        4 + self.spi_len() * self.spis.len()
    }

    /// Every SPI must have the same length, at most 255 bytes, and there
    /// can be at most 65535 of them (local data; panics otherwise).
    pub fn emit(&self, buf: &mut [u8]) {
        let size = self.spi_len();
        buf[0] = self.protocol;
        buf[1] = u8::try_from(size).expect("SPI over 255 bytes");
        buf[2..4].copy_from_slice(
            &u16::try_from(self.spis.len())
                .expect("too many SPIs")
                .to_be_bytes(),
        );
        for (i, s) in self.spis.iter().enumerate() {
            assert_eq!(s.len(), size, "delete SPIs of different sizes");
            buf[4 + i * size..4 + (i + 1) * size].copy_from_slice(s);
        }
    }
}
