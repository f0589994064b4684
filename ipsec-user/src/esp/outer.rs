//! Locating ESP in a received frame: IPv4 protocol 50, or UDP to port 4500
//! whose payload is neither a NAT-T keepalive nor IKE (non-ESP marker:
//! four zero bytes where the SPI would be, RFC 3948 section 2.2).

use std::net::Ipv4Addr;

use super::ipv4::{self, NAT_T_PORT, PROTO_ESP, PROTO_UDP, UDP_HEADER};

const ETH_HEADER: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;

/// Where the ESP packet lies in a frame and what its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OuterEsp {
    pub spi: u32,
    /// The sequence number's low 32 bits as sent.
    pub seq: u32,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// NAT-T: `(source port, destination port)` of the UDP header.
    pub udp_encap: Option<(u16, u16)>,
    /// Offset of the ESP header in the buffer given to the parser.
    pub esp_offset: usize,
    /// Bytes of ESP (header to ICV); link padding after the IP packet is
    /// excluded.
    pub esp_len: usize,
}

impl OuterEsp {
    /// The ESP bytes in the buffer this was parsed from.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.esp_offset..self.esp_offset + self.esp_len
    }
}

/// Why a frame is not ESP for the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OuterError {
    #[error("not an IPv4 packet or its header is malformed")]
    NotIpv4,
    #[error("IPv4 fragment: ESP must be reassembled first")]
    Fragment,
    #[error("neither ESP nor UDP")]
    NotEsp,
    #[error("UDP not to port 4500")]
    NotNatT,
    #[error("NAT-T keepalive")]
    Keepalive,
    #[error("IKE on port 4500 (non-ESP marker)")]
    Ike,
    #[error("truncated header")]
    Truncated,
    #[error("SPI 0 is reserved")]
    ZeroSpi,
}

/// Parses an IPv4 packet that starts at `packet[0]`.
pub fn parse_outer(packet: &[u8]) -> Result<OuterEsp, OuterError> {
    let ip = ipv4::parse(packet).ok_or(OuterError::NotIpv4)?;
    if ip.is_fragment {
        return Err(OuterError::Fragment);
    }
    let body = packet
        .get(ip.header_len..ip.total_len)
        .ok_or(OuterError::Truncated)?;
    let (udp_encap, esp_offset, esp) = match ip.protocol {
        PROTO_ESP => (None, ip.header_len, body),
        PROTO_UDP => {
            let u = body.get(..UDP_HEADER).ok_or(OuterError::Truncated)?;
            let sport = u16::from_be_bytes([u[0], u[1]]);
            let dport = u16::from_be_bytes([u[2], u[3]]);
            let ulen = usize::from(u16::from_be_bytes([u[4], u[5]]));
            if dport != NAT_T_PORT {
                return Err(OuterError::NotNatT);
            }
            if ulen < UDP_HEADER || ulen > body.len() {
                return Err(OuterError::Truncated);
            }
            let payload = &body[UDP_HEADER..ulen];
            if payload == [0xff] {
                return Err(OuterError::Keepalive);
            }
            (Some((sport, dport)), ip.header_len + UDP_HEADER, payload)
        }
        _ => return Err(OuterError::NotEsp),
    };
    let h = esp.get(..8).ok_or(
        if udp_encap.is_some() && esp.len() >= 4 && esp[..4] == [0; 4] {
            OuterError::Ike
        } else {
            OuterError::Truncated
        },
    )?;
    let spi = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if spi == 0 {
        return Err(if udp_encap.is_some() {
            OuterError::Ike
        } else {
            OuterError::ZeroSpi
        });
    }
    Ok(OuterEsp {
        spi,
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        src: ip.src,
        dst: ip.dst,
        udp_encap,
        esp_offset,
        esp_len: esp.len(),
    })
}

/// Parses an Ethernet frame (optionally with one 802.1Q tag) carrying
/// IPv4; offsets in the result are from the start of the frame.
pub fn parse_outer_ethernet(frame: &[u8]) -> Result<OuterEsp, OuterError> {
    let et = |o: usize| -> Result<u16, OuterError> {
        let b = frame.get(o..o + 2).ok_or(OuterError::Truncated)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    };
    let mut l3 = ETH_HEADER;
    let mut ethertype = et(12)?;
    if ethertype == ETHERTYPE_VLAN {
        ethertype = et(16)?;
        l3 += 4;
    }
    if ethertype != ETHERTYPE_IPV4 {
        return Err(OuterError::NotIpv4);
    }
    let mut o = parse_outer(frame.get(l3..).ok_or(OuterError::Truncated)?)?;
    o.esp_offset += l3;
    Ok(o)
}
