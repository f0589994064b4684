//! Traffic selector payloads TSi / TSr (RFC 7296 3.13).
//!
//! IPv4 address ranges (type 7) are parsed; IPv6 ranges (type 8) and any
//! other selector type are skipped and counted, so an offer that mixes
//! families can still be narrowed to its IPv4 part. Emitting writes the
//! IPv4 selectors only: `skipped` describes a received payload.

use std::net::Ipv4Addr;

use super::super::bytes::be16;
use super::super::bytes::need;
use super::super::error::WireError;

/// TS_IPV4_ADDR_RANGE.
pub const TS_IPV4_ADDR_RANGE: u8 = 7;
/// TS_IPV6_ADDR_RANGE.
pub const TS_IPV6_ADDR_RANGE: u8 = 8;
/// Bound on selectors in one payload (a real one carries a handful).
pub const MAX_TRAFFIC_SELECTORS: usize = 16;
/// Length of a type-7 selector; a type-8 one is 40.
const TS_IPV4_LEN: usize = 16;
const TS_IPV6_LEN: usize = 40;

/// One IPv4 traffic selector (TS type 7, RFC 7296 3.13.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficSelectorV2 {
    /// 0: any protocol.
    pub ip_proto: u8,
    pub start_port: u16,
    pub end_port: u16,
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
}

impl TrafficSelectorV2 {
    /// Every protocol and port between two addresses.
    pub fn range(start: Ipv4Addr, end: Ipv4Addr) -> Self {
        TrafficSelectorV2 {
            ip_proto: 0,
            start_port: 0,
            end_port: u16::MAX,
            start,
            end,
        }
    }

    fn emit(&self, b: &mut [u8]) {
        b[0] = TS_IPV4_ADDR_RANGE;
        b[1] = self.ip_proto;
        b[2..4].copy_from_slice(&(TS_IPV4_LEN as u16).to_be_bytes());
        b[4..6].copy_from_slice(&self.start_port.to_be_bytes());
        b[6..8].copy_from_slice(&self.end_port.to_be_bytes());
        b[8..12].copy_from_slice(&self.start.octets());
        b[12..16].copy_from_slice(&self.end.octets());
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsV2 {
    /// IPv6 selectors (type 8) are skipped on parse (counted in
    /// `skipped`); IPv6 is another issue.
    pub selectors: Vec<TrafficSelectorV2>,
    pub skipped: usize,
}

impl TsV2 {
    pub fn new(selectors: Vec<TrafficSelectorV2>) -> Self {
        TsV2 {
            selectors,
            skipped: 0,
        }
    }

    /// Parses a TSi/TSr body: `Number of TSs` must match the selectors
    /// present (at most [`MAX_TRAFFIC_SELECTORS`]) and they must fill the
    /// body exactly.
    pub fn parse(body: &[u8]) -> Result<TsV2, WireError> {
        need("traffic selector payload", body.len(), 4)?;
        let n = usize::from(body[0]);
        if n > MAX_TRAFFIC_SELECTORS {
            return Err(WireError::BadLength {
                what: "traffic selector count",
                len: n,
            });
        }
        let mut rest = &body[4..];
        let mut ts = TsV2 {
            selectors: Vec::with_capacity(n),
            skipped: 0,
        };
        for _ in 0..n {
            need("traffic selector", rest.len(), 4)?;
            let (kind, len) = (rest[0], usize::from(be16(&rest[2..4])));
            let want = match kind {
                TS_IPV4_ADDR_RANGE => Some(TS_IPV4_LEN),
                TS_IPV6_ADDR_RANGE => Some(TS_IPV6_LEN),
                _ => None,
            };
            if len < 4 || want.is_some_and(|w| w != len) {
                return Err(WireError::BadLength {
                    what: "traffic selector length",
                    len,
                });
            }
            need("traffic selector", rest.len(), len)?;
            if kind == TS_IPV4_ADDR_RANGE {
                let s = &rest[..len];
                ts.selectors.push(TrafficSelectorV2 {
                    ip_proto: s[1],
                    start_port: be16(&s[4..6]),
                    end_port: be16(&s[6..8]),
                    start: Ipv4Addr::new(s[8], s[9], s[10], s[11]),
                    end: Ipv4Addr::new(s[12], s[13], s[14], s[15]),
                });
            } else {
                ts.skipped += 1;
            }
            rest = &rest[len..];
        }
        if !rest.is_empty() {
            return Err(WireError::TrailingBytes(rest.len()));
        }
        Ok(ts)
    }

    pub fn buffer_len(&self) -> usize {
        4 + TS_IPV4_LEN * self.selectors.len()
    }

    /// Panics on more than 255 selectors (local data).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = u8::try_from(self.selectors.len()).expect("over 255 traffic selectors");
        buf[1..4].fill(0);
        for (i, s) in self.selectors.iter().enumerate() {
            s.emit(&mut buf[4 + i * TS_IPV4_LEN..4 + (i + 1) * TS_IPV4_LEN]);
        }
    }
}
