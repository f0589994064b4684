//! Identification payload (RFC 2408 3.8, IPsec DOI RFC 2407 4.6.2): ID type,
//! protocol id, port, identification data.  Phase 1 uses it for the peer
//! identity; quick mode for the traffic selectors (IDci/IDcr).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::super::bytes::be16;
use super::super::bytes::need;
use super::super::error::WireError;

pub const ID_IPV4_ADDR: u8 = 1;
pub const ID_FQDN: u8 = 2;
pub const ID_USER_FQDN: u8 = 3;
pub const ID_IPV4_ADDR_SUBNET: u8 = 4;
pub const ID_IPV6_ADDR: u8 = 5;
pub const ID_IPV6_ADDR_SUBNET: u8 = 6;
pub const ID_IPV4_ADDR_RANGE: u8 = 7;
pub const ID_IPV6_ADDR_RANGE: u8 = 8;
pub const ID_DER_ASN1_DN: u8 = 9;
pub const ID_DER_ASN1_GN: u8 = 10;
pub const ID_KEY_ID: u8 = 11;

/// Bound on identification data (DNs can be long; a datagram cannot).
pub const MAX_ID_DATA_LEN: usize = 2048;

/// The identification data by type.  The IPv6 forms are parsed (so a peer's
/// message can be understood and refused sensibly) but the gateway is IPv4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Ipv4(Ipv4Addr),
    /// FQDN, kept as sent (ASCII per RFC 2407; not validated further).
    Fqdn(Vec<u8>),
    UserFqdn(Vec<u8>),
    Ipv4Subnet {
        addr: Ipv4Addr,
        mask: Ipv4Addr,
    },
    Ipv4Range {
        start: Ipv4Addr,
        end: Ipv4Addr,
    },
    Ipv6(Ipv6Addr),
    Ipv6Subnet {
        addr: Ipv6Addr,
        mask: Ipv6Addr,
    },
    Ipv6Range {
        start: Ipv6Addr,
        end: Ipv6Addr,
    },
    /// DER DN / GN, KEY_ID and any other type: raw bytes.
    Other {
        id_type: u8,
        data: Vec<u8>,
    },
}

fn v4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}
fn v6(b: &[u8]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[..16]);
    Ipv6Addr::from(o)
}

impl Identity {
    pub fn id_type(&self) -> u8 {
        match self {
            Identity::Ipv4(_) => ID_IPV4_ADDR,
            Identity::Fqdn(_) => ID_FQDN,
            Identity::UserFqdn(_) => ID_USER_FQDN,
            Identity::Ipv4Subnet { .. } => ID_IPV4_ADDR_SUBNET,
            Identity::Ipv4Range { .. } => ID_IPV4_ADDR_RANGE,
            Identity::Ipv6(_) => ID_IPV6_ADDR,
            Identity::Ipv6Subnet { .. } => ID_IPV6_ADDR_SUBNET,
            Identity::Ipv6Range { .. } => ID_IPV6_ADDR_RANGE,
            Identity::Other { id_type, .. } => *id_type,
        }
    }

    fn parse(id_type: u8, d: &[u8]) -> Result<Self, WireError> {
        let exact = |n: usize| {
            if d.len() == n {
                Ok(())
            } else {
                Err(WireError::BadLength {
                    what: "ID data",
                    len: d.len(),
                })
            }
        };
        Ok(match id_type {
            ID_IPV4_ADDR => {
                exact(4)?;
                Identity::Ipv4(v4(d))
            }
            ID_IPV4_ADDR_SUBNET => {
                exact(8)?;
                Identity::Ipv4Subnet {
                    addr: v4(d),
                    mask: v4(&d[4..]),
                }
            }
            ID_IPV4_ADDR_RANGE => {
                exact(8)?;
                Identity::Ipv4Range {
                    start: v4(d),
                    end: v4(&d[4..]),
                }
            }
            ID_IPV6_ADDR => {
                exact(16)?;
                Identity::Ipv6(v6(d))
            }
            ID_IPV6_ADDR_SUBNET => {
                exact(32)?;
                Identity::Ipv6Subnet {
                    addr: v6(d),
                    mask: v6(&d[16..]),
                }
            }
            ID_IPV6_ADDR_RANGE => {
                exact(32)?;
                Identity::Ipv6Range {
                    start: v6(d),
                    end: v6(&d[16..]),
                }
            }
            ID_FQDN | ID_USER_FQDN if d.is_empty() => {
                return Err(WireError::BadLength {
                    what: "ID name",
                    len: 0,
                });
            }
            ID_FQDN => Identity::Fqdn(d.to_vec()),
            ID_USER_FQDN => Identity::UserFqdn(d.to_vec()),
            0 => {
                return Err(WireError::BadValue {
                    what: "ID type",
                    value: 0,
                });
            }
            t => Identity::Other {
                id_type: t,
                data: d.to_vec(),
            },
        })
    }

    fn data_len(&self) -> usize {
        match self {
            Identity::Ipv4(_) => 4,
            Identity::Ipv4Subnet { .. } | Identity::Ipv4Range { .. } => 8,
            Identity::Ipv6(_) => 16,
            Identity::Ipv6Subnet { .. } | Identity::Ipv6Range { .. } => 32,
            Identity::Fqdn(d) | Identity::UserFqdn(d) | Identity::Other { data: d, .. } => d.len(),
        }
    }

    fn emit(&self, b: &mut [u8]) {
        match self {
            Identity::Ipv4(a) => b[..4].copy_from_slice(&a.octets()),
            Identity::Ipv4Subnet { addr: x, mask: y }
            | Identity::Ipv4Range { start: x, end: y } => {
                b[..4].copy_from_slice(&x.octets());
                b[4..8].copy_from_slice(&y.octets());
            }
            Identity::Ipv6(a) => b[..16].copy_from_slice(&a.octets()),
            Identity::Ipv6Subnet { addr: x, mask: y }
            | Identity::Ipv6Range { start: x, end: y } => {
                b[..16].copy_from_slice(&x.octets());
                b[16..32].copy_from_slice(&y.octets());
            }
            Identity::Fqdn(d) | Identity::UserFqdn(d) | Identity::Other { data: d, .. } => {
                b[..d.len()].copy_from_slice(d)
            }
        }
    }
}

/// The ID payload body.  In phase 1 protocol/port are 0 or UDP/500
/// (RFC 2407 4.6.2); in quick mode they restrict the selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdRepr {
    pub protocol: u8,
    pub port: u16,
    pub identity: Identity,
}

impl IdRepr {
    pub fn new(identity: Identity) -> Self {
        IdRepr {
            protocol: 0,
            port: 0,
            identity,
        }
    }
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        need("ID", body.len(), 4)?;
        let d = &body[4..];
        if d.len() > MAX_ID_DATA_LEN {
            return Err(WireError::BadLength {
                what: "ID data",
                len: d.len(),
            });
        }
        Ok(IdRepr {
            protocol: body[1],
            port: be16(&body[2..4]),
            identity: Identity::parse(body[0], d)?,
        })
    }
    pub fn buffer_len(&self) -> usize {
        4 + self.identity.data_len()
    }
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.identity.id_type();
        buf[1] = self.protocol;
        buf[2..4].copy_from_slice(&self.port.to_be_bytes());
        self.identity.emit(&mut buf[4..]);
    }
}
