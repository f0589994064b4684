//! Fuzzes the decoders of what the eBPF programs hand to userspace: punt
//! events from the ring buffer and the XDP metadata in front of AF_XDP
//! frames.  A kernel bug or a stale program must give an error or `None`,
//! never a panic; what decodes must agree with the raw bytes.

#![no_main]

use ipsec_common::{PUNT_EVENT_SIZE, PUNT_UNKNOWN_SPI, XDP_META_MAGIC, XDP_META_SIZE};
use ipsecgw::dataplane::meta::{self, FrameVerdict};
use ipsecgw::dataplane::punt::{PuntDecodeError, PuntEvent, PuntKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match PuntEvent::decode(data) {
        Ok(ev) => {
            assert_eq!(data.len(), PUNT_EVENT_SIZE);
            assert_eq!(ev.src.octets(), data[4..8]);
            assert_eq!(ev.dst.octets(), data[8..12]);
            assert_eq!(ev.proto, data[16]);
            let id = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]);
            match ev.kind {
                PuntKind::UnknownSpi { spi } => {
                    assert_ne!(data[17] & PUNT_UNKNOWN_SPI, 0);
                    assert_eq!(spi, id);
                }
                PuntKind::NoSa { selector } => {
                    assert_eq!(data[17] & PUNT_UNKNOWN_SPI, 0);
                    assert_eq!(selector, id);
                }
            }
        }
        Err(PuntDecodeError::BadLength(n)) => {
            assert_eq!(n, data.len());
            assert_ne!(n, PUNT_EVENT_SIZE);
        }
    }

    // The metadata is the last XDP_META_SIZE bytes of what precedes the
    // frame, so every suffix-aligned prefix of the input is a candidate.
    for end in [data.len(), data.len().saturating_sub(1)] {
        let before = &data[..end];
        if let Some(m) = meta::decode(before) {
            assert!(before.len() >= XDP_META_SIZE);
            let b = &before[before.len() - XDP_META_SIZE..];
            assert_eq!(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]), XDP_META_MAGIC);
            assert_eq!(m.l3_offset, b[6]);
            let id = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
            match m.verdict {
                FrameVerdict::Encrypt {
                    sa_id,
                    route,
                    fib_rc,
                } => {
                    assert_eq!(sa_id, id);
                    assert_eq!(fib_rc, b[5]);
                    assert_eq!(route.is_some(), fib_rc == 0);
                }
                FrameVerdict::Hold { selector } => assert_eq!(selector, id),
                FrameVerdict::Decrypt { sa_id, .. } => assert_eq!(sa_id, id),
            }
        }
    }
});
