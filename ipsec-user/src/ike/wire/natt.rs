//! NAT-T framing on UDP port 4500 (RFC 3948 2.2, RFC 3947 4): a datagram
//! is an IKE message after a 4-byte zero non-ESP marker, an ESP packet
//! (non-zero SPI first), or a one-byte 0xFF keepalive.

use super::bytes::need;
use super::error::WireError;
use super::header::HEADER_LEN;

/// The non-ESP marker prefixed to IKE on port 4500.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// The NAT keepalive byte.
pub const NAT_KEEPALIVE: u8 = 0xff;

/// What a UDP 4500 payload holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Udp4500<'a> {
    /// An IKE message, marker stripped.
    Ike(&'a [u8]),
    /// An ESP packet starting at its SPI.
    Esp(&'a [u8]),
    Keepalive,
    Malformed(WireError),
}

/// Classifies a UDP 4500 payload.
pub fn classify_udp4500(payload: &[u8]) -> Udp4500<'_> {
    if payload == [NAT_KEEPALIVE] {
        return Udp4500::Keepalive;
    }
    if payload.len() < 4 {
        return Udp4500::Malformed(WireError::Truncated {
            what: "UDP 4500 payload",
            need: 4,
            have: payload.len(),
        });
    }
    if payload[..4] == NON_ESP_MARKER {
        let ike = &payload[4..];
        if ike.len() < HEADER_LEN {
            return Udp4500::Malformed(WireError::Truncated {
                what: "IKE after non-ESP marker",
                need: HEADER_LEN,
                have: ike.len(),
            });
        }
        return Udp4500::Ike(ike);
    }
    // ESP: SPI (non-zero, checked above) and sequence number at least.
    if payload.len() < 8 {
        return Udp4500::Malformed(WireError::Truncated {
            what: "UDP-encapsulated ESP",
            need: 8,
            have: payload.len(),
        });
    }
    Udp4500::Esp(payload)
}

/// Removes the non-ESP marker from an IKE-over-4500 payload.
pub fn strip_non_esp_marker(payload: &[u8]) -> Result<&[u8], WireError> {
    need("non-ESP marker", payload.len(), 4)?;
    if payload[..4] != NON_ESP_MARKER {
        return Err(WireError::BadValue {
            what: "non-ESP marker",
            value: u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]).into(),
        });
    }
    Ok(&payload[4..])
}

/// Prefixes an IKE message with the non-ESP marker for sending on 4500.
pub fn add_non_esp_marker(ike: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + ike.len());
    v.extend_from_slice(&NON_ESP_MARKER);
    v.extend_from_slice(ike);
    v
}
