//! Identification payloads IDi / IDr (RFC 7296 3.5). The data is kept as
//! sent: what identities mean (and how they compare with a tunnel-group)
//! belongs to the exchange code; the AUTH computation covers the body
//! exactly as it travelled ([`IdV2::body`]).

use super::super::bytes::need;
use super::super::error::WireError;
use super::super::v1::id::MAX_ID_DATA_LEN;

/// IDi / IDr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdV2 {
    pub id_type: u8,
    pub data: Vec<u8>,
}

impl IdV2 {
    /// An ID_IPV4_ADDR identity.
    pub fn ipv4(addr: std::net::Ipv4Addr) -> Self {
        IdV2 {
            id_type: super::id_type::IPV4_ADDR,
            data: addr.octets().to_vec(),
        }
    }

    /// The payload body after the generic header (ID type, 3 reserved
    /// bytes, data): what the AUTH computation's prf(SK_p, IDx') covers.
    pub fn body(&self) -> Vec<u8> {
        let mut b = vec![0u8; self.buffer_len()];
        self.emit(&mut b);
        b
    }

    /// Parses an ID body: type non-zero, data 1 to [`MAX_ID_DATA_LEN`]
    /// bytes, an IPv4 address exactly 4 and an IPv6 one exactly 16.
    pub fn parse(body: &[u8]) -> Result<IdV2, WireError> {
        need("ID payload", body.len(), 4)?;
        let (id_type, data) = (body[0], &body[4..]);
        if id_type == 0 {
            return Err(WireError::BadValue {
                what: "ID type",
                value: 0,
            });
        }
        let exact = match id_type {
            super::id_type::IPV4_ADDR => Some(4),
            super::id_type::IPV6_ADDR => Some(16),
            _ => None,
        };
        if data.is_empty() || data.len() > MAX_ID_DATA_LEN || exact.is_some_and(|n| n != data.len())
        {
            return Err(WireError::BadLength {
                what: "ID data",
                len: data.len(),
            });
        }
        Ok(IdV2 {
            id_type,
            data: data.to_vec(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.id_type;
        buf[1..4].fill(0);
        buf[4..4 + self.data.len()].copy_from_slice(&self.data);
    }
}
