//! NAT original address payload (RFC 3947 5.2; payload 21, or 131 with the
//! drafts): ID type (IPV4_ADDR 1 / IPV6_ADDR 5), 3 reserved bytes, address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::super::bytes::need;
use super::super::error::WireError;
use super::id::{ID_IPV4_ADDR, ID_IPV6_ADDR};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatOaRepr {
    /// Sent as the draft payload type 131 rather than RFC 3947's 21.
    pub draft: bool,
    pub addr: IpAddr,
}

impl NatOaRepr {
    pub fn parse(body: &[u8], draft: bool) -> Result<Self, WireError> {
        need("NAT-OA", body.len(), 4)?;
        if body[1..4] != [0, 0, 0] {
            return Err(WireError::BadValue {
                what: "NAT-OA reserved",
                value: 1,
            });
        }
        let a = &body[4..];
        let addr = match (body[0], a.len()) {
            (ID_IPV4_ADDR, 4) => IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])),
            (ID_IPV6_ADDR, 16) => {
                let mut o = [0u8; 16];
                o.copy_from_slice(a);
                IpAddr::V6(Ipv6Addr::from(o))
            }
            (ID_IPV4_ADDR | ID_IPV6_ADDR, n) => {
                return Err(WireError::BadLength {
                    what: "NAT-OA address",
                    len: n,
                });
            }
            (t, _) => {
                return Err(WireError::BadValue {
                    what: "NAT-OA id type",
                    value: t.into(),
                });
            }
        };
        Ok(NatOaRepr { draft, addr })
    }
    pub fn buffer_len(&self) -> usize {
        4 + match self.addr {
            IpAddr::V4(_) => 4,
            IpAddr::V6(_) => 16,
        }
    }
    pub fn emit(&self, buf: &mut [u8]) {
        buf[1..4].fill(0);
        match self.addr {
            IpAddr::V4(a) => {
                buf[0] = ID_IPV4_ADDR;
                buf[4..8].copy_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                buf[0] = ID_IPV6_ADDR;
                buf[4..20].copy_from_slice(&a.octets());
            }
        }
    }
}
