//! Punt events from the ring buffer: decoding (bounds-checked) and an
//! async stream over the ring buffer's file descriptor.

use std::net::Ipv4Addr;

use aya::maps::{MapData, RingBuf};
use ipsec_common::{PUNT_EVENT_SIZE, PUNT_PORTS_UNKNOWN, PUNT_UNKNOWN_SPI};
use tokio::io::unix::AsyncFd;

/// Why the XDP program punted a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PuntKind {
    /// Protected traffic (inside) matched `selector` but has no outbound
    /// SA: the daemon starts IKE for it.
    NoSa { selector: u32 },
    /// ESP (raw, or UDP 4500 under NAT-T) arrived on the outside for `spi`,
    /// which has no inbound SA. `src` of the event is the sender: if it is a
    /// configured peer it may hold SAs we lost by restarting.
    UnknownSpi { spi: u32 },
}

/// One punt event: the kind, and the packet's (outer, for
/// [`PuntKind::UnknownSpi`]) addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PuntEvent {
    pub kind: PuntKind,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    /// `None` for fragments and packets without an L4 header; for raw ESP
    /// `Some((0, 0))`, for NAT-T ESP the UDP ports.
    pub ports: Option<(u16, u16)>,
    pub ifindex: u32,
    /// CLOCK_MONOTONIC nanoseconds.
    pub ktime_ns: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PuntDecodeError {
    #[error("punt event of {0} bytes, expected {PUNT_EVENT_SIZE}")]
    BadLength(usize),
}

impl PuntEvent {
    /// Decodes the kernel's `ipsec_common::PuntEvent` layout (native endian
    /// integers, addresses in network order): selector 0..4, src 4..8,
    /// dst 8..12, sport 12..14, dport 14..16, proto 16, flags 17,
    /// ifindex 20..24, ktime 24..32.
    pub fn decode(b: &[u8]) -> Result<Self, PuntDecodeError> {
        let b: &[u8; PUNT_EVENT_SIZE] = b
            .try_into()
            .map_err(|_| PuntDecodeError::BadLength(b.len()))?;
        let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u16_at = |o: usize| u16::from_ne_bytes([b[o], b[o + 1]]);
        let mut k = [0u8; 8];
        k.copy_from_slice(&b[24..32]);
        let flags = b[17];
        let id = u32_at(0);
        let kind = if flags & PUNT_UNKNOWN_SPI != 0 {
            PuntKind::UnknownSpi { spi: id }
        } else {
            PuntKind::NoSa { selector: id }
        };
        Ok(Self {
            kind,
            src: Ipv4Addr::new(b[4], b[5], b[6], b[7]),
            dst: Ipv4Addr::new(b[8], b[9], b[10], b[11]),
            proto: b[16],
            ports: (flags & PUNT_PORTS_UNKNOWN == 0).then_some((u16_at(12), u16_at(14))),
            ifindex: u32_at(20),
            ktime_ns: u64::from_ne_bytes(k),
        })
    }
}

/// Async receiver of punt events. Each `recv` waits until the ring buffer
/// has data.
pub struct PuntStream {
    ring: AsyncFd<RingBuf<MapData>>,
}

impl PuntStream {
    pub(crate) fn new(ring: RingBuf<MapData>) -> std::io::Result<Self> {
        // SAFETY: the ring buffer owns its fd and lives inside the AsyncFd,
        // so the fd stays open for as long as it is registered.
        let ring = unsafe { AsyncFd::register(ring) }.map_err(std::io::Error::from)?;
        Ok(Self { ring })
    }

    /// Next event without waiting, if one is queued.
    pub fn try_recv(&mut self) -> Option<Result<PuntEvent, PuntDecodeError>> {
        let ring = self.ring.get_mut();
        ring.next().map(|item| PuntEvent::decode(&item))
    }

    /// Waits for the next event. Errors only if the epoll registration fails.
    pub async fn recv(&mut self) -> std::io::Result<Result<PuntEvent, PuntDecodeError>> {
        loop {
            if let Some(ev) = self.try_recv() {
                return Ok(ev);
            }
            let mut guard = self.ring.readable_mut().await?;
            guard.clear_ready();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_shared_layout() {
        let raw = ipsec_common::PuntEvent {
            selector: 0x0102_0304,
            src: [198, 51, 100, 10],
            dst: [203, 0, 113, 10],
            sport: 1234,
            dport: 53,
            proto: 17,
            flags: 0,
            _pad: 0,
            ifindex: 7,
            ktime_ns: 0x1122_3344_5566_7788,
        };
        // SAFETY: repr(C) POD with explicit padding.
        let bytes: [u8; PUNT_EVENT_SIZE] = unsafe { std::mem::transmute(raw) };
        let ev = PuntEvent::decode(&bytes).unwrap();
        assert_eq!(
            ev.kind,
            PuntKind::NoSa {
                selector: 0x0102_0304
            }
        );
        assert_eq!(ev.src, Ipv4Addr::new(198, 51, 100, 10));
        assert_eq!(ev.dst, Ipv4Addr::new(203, 0, 113, 10));
        assert_eq!(ev.proto, 17);
        assert_eq!(ev.ports, Some((1234, 53)));
        assert_eq!(ev.ifindex, 7);
        assert_eq!(ev.ktime_ns, 0x1122_3344_5566_7788);
        let frag = ipsec_common::PuntEvent {
            flags: PUNT_PORTS_UNKNOWN,
            ..raw
        };
        let bytes: [u8; PUNT_EVENT_SIZE] = unsafe { std::mem::transmute(frag) };
        assert_eq!(PuntEvent::decode(&bytes).unwrap().ports, None);
        assert_eq!(
            PuntEvent::decode(&bytes[..31]),
            Err(PuntDecodeError::BadLength(31))
        );
        assert_eq!(PuntEvent::decode(&[]), Err(PuntDecodeError::BadLength(0)));
    }

    #[test]
    fn decodes_an_unknown_spi_event() {
        let raw = ipsec_common::PuntEvent {
            selector: 0xdead_beef,
            src: [198, 51, 100, 2],
            dst: [203, 0, 113, 2],
            sport: 4500,
            dport: 4500,
            proto: 17,
            flags: PUNT_UNKNOWN_SPI,
            _pad: 0,
            ifindex: 3,
            ktime_ns: 42,
        };
        // SAFETY: repr(C) POD with explicit padding.
        let bytes: [u8; PUNT_EVENT_SIZE] = unsafe { std::mem::transmute(raw) };
        let ev = PuntEvent::decode(&bytes).unwrap();
        assert_eq!(ev.kind, PuntKind::UnknownSpi { spi: 0xdead_beef });
        assert_eq!(ev.src, Ipv4Addr::new(198, 51, 100, 2));
        assert_eq!(ev.dst, Ipv4Addr::new(203, 0, 113, 2));
        assert_eq!(ev.ports, Some((4500, 4500)));
        // Both flags: still an unknown SPI, ports unknown.
        let both = ipsec_common::PuntEvent {
            flags: PUNT_UNKNOWN_SPI | PUNT_PORTS_UNKNOWN,
            ..raw
        };
        let bytes: [u8; PUNT_EVENT_SIZE] = unsafe { std::mem::transmute(both) };
        let ev = PuntEvent::decode(&bytes).unwrap();
        assert_eq!(ev.kind, PuntKind::UnknownSpi { spi: 0xdead_beef });
        assert_eq!(ev.ports, None);
    }
}
