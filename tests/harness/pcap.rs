//! A classic pcap reader for the tests: the captures under
//! `ipsec-user/tests/data/pcaps` and the ones `capture::PcapCapture`
//! writes. Either byte order, microsecond or nanosecond magic, Ethernet
//! (1) or Linux cooked (113) links; IPv4/UDP datagrams can be pulled out.
//! Bounds-checked throughout: a damaged file is an error, never a panic.
//!
//! Std only, and no `crate::` paths: ipsec-user's own integration tests
//! compile this file too (`#[path = "../../tests/harness/pcap.rs"]`),
//! since they cannot depend on the harness crate (which depends on
//! ipsec-user).
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;

pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_LINUX_SLL: u32 = 113;

/// What is wrong with a capture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapError(pub String);

impl std::fmt::Display for PcapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pcap: {}", self.0)
    }
}

impl std::error::Error for PcapError {}

fn err(s: impl Into<String>) -> PcapError {
    PcapError(s.into())
}

/// One captured frame: the bytes kept and the length it had on the wire.
#[derive(Debug, Clone)]
pub struct Record {
    pub data: Vec<u8>,
    pub orig_len: usize,
}

#[derive(Debug, Clone)]
pub struct Pcap {
    pub little_endian: bool,
    pub linktype: u32,
    pub records: Vec<Record>,
}

/// One IPv4/UDP datagram of a capture (the UDP payload, bounded by the IP
/// and UDP lengths, so Ethernet padding is not part of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Udp {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: Vec<u8>,
}

impl Udp {
    /// The IKE message it carries: port 500 as is, 4500 after the non-ESP
    /// marker; `None` for ESP in UDP, NAT-T keepalives and other ports.
    pub fn ike_message(&self) -> Option<&[u8]> {
        let (sp, dp) = (self.src.port(), self.dst.port());
        if sp == 4500 || dp == 4500 {
            match self.payload.get(..4) {
                Some([0, 0, 0, 0]) => Some(&self.payload[4..]),
                _ => None,
            }
        } else if sp == 500 || dp == 500 {
            Some(&self.payload)
        } else {
            None
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Reads and parses a capture file.
pub fn read(path: &Path) -> Result<Pcap, PcapError> {
    let d = std::fs::read(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    parse(&d)
}

/// Parses a whole capture held in memory.
pub fn parse(d: &[u8]) -> Result<Pcap, PcapError> {
    let magic = d.get(0..4).ok_or_else(|| err("empty file"))?;
    let little_endian = match u32::from_le_bytes(magic.try_into().unwrap_or_default()) {
        0xa1b2c3d4 | 0xa1b23c4d => true,
        0xd4c3b2a1 | 0x4d3cb2a1 => false,
        m => return Err(err(format!("not a pcap: magic {m:#x}"))),
    };
    let rd32 = |at: usize| -> Result<u32, PcapError> {
        let b: [u8; 4] = d
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| err("truncated"))?;
        Ok(if little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let linktype = rd32(20)?;
    let mut records = Vec::new();
    let mut pos = 24;
    while pos < d.len() {
        let incl = rd32(pos + 8)? as usize;
        let orig_len = rd32(pos + 12)? as usize;
        let data = d
            .get(pos + 16..pos + 16 + incl)
            .ok_or_else(|| err(format!("truncated record at byte {pos}")))?;
        records.push(Record {
            data: data.to_vec(),
            orig_len,
        });
        pos += 16 + incl;
    }
    Ok(Pcap {
        little_endian,
        linktype,
        records,
    })
}

impl Pcap {
    /// The Ethernet frames, each whole: a frame cut by the snap length
    /// would make any count or byte check on it wrong, so it is an error.
    pub fn ethernet_frames(&self) -> Result<Vec<Vec<u8>>, PcapError> {
        if self.linktype != LINKTYPE_ETHERNET {
            return Err(err(format!("link type {} is not Ethernet", self.linktype)));
        }
        self.records
            .iter()
            .map(|r| {
                if r.data.len() == r.orig_len {
                    Ok(r.data.clone())
                } else {
                    Err(err(format!(
                        "frame truncated by snaplen ({} of {})",
                        r.data.len(),
                        r.orig_len
                    )))
                }
            })
            .collect()
    }

    /// Every IPv4/UDP datagram, in capture order; other frames (and
    /// frames too short for what their headers claim) are skipped.
    pub fn udp_datagrams(&self) -> Vec<Udp> {
        self.records
            .iter()
            .filter_map(|r| {
                let (ethertype, l3) = match self.linktype {
                    LINKTYPE_ETHERNET => (be16(&r.data, 12)?, r.data.get(14..)?),
                    LINKTYPE_LINUX_SLL => (be16(&r.data, 14)?, r.data.get(16..)?),
                    _ => return None,
                };
                if ethertype != 0x0800 {
                    return None;
                }
                udp_of_ipv4(l3)
            })
            .collect()
    }
}

fn udp_of_ipv4(l3: &[u8]) -> Option<Udp> {
    if l3.len() < 20 || l3[9] != 17 {
        return None;
    }
    let ihl = usize::from(l3[0] & 0x0f) * 4;
    let total = usize::from(be16(l3, 2)?);
    let udp = l3.get(ihl..total)?;
    let ulen = usize::from(be16(udp, 4)?);
    let payload = udp.get(8..ulen)?.to_vec();
    let src = Ipv4Addr::new(l3[12], l3[13], l3[14], l3[15]);
    let dst = Ipv4Addr::new(l3[16], l3[17], l3[18], l3[19]);
    Some(Udp {
        src: SocketAddrV4::new(src, be16(udp, 0)?),
        dst: SocketAddrV4::new(dst, be16(udp, 2)?),
        payload,
    })
}
