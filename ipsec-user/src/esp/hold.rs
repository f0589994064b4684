//! The hold queue: packets of a protected flow that arrive while its SA is
//! being negotiated wait here (bounded in count, size and age) instead of
//! leaving in clear or being dropped at once.
//!
//! A fixed-capacity ring of packet copies: all memory is allocated when the
//! queue is created, none per packet. One queue per selector; the caller
//! keeps them.

use std::time::{Duration, Instant};

/// ASA-like defaults: 64 packets, one second.
pub const DEFAULT_HOLD_PACKETS: usize = 64;
pub const DEFAULT_HOLD_AGE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HoldCounters {
    pub queued: u64,
    /// Refused because the queue was full.
    pub overflow: u64,
    /// Refused because longer than a slot.
    pub too_big: u64,
    /// Dropped at drain time because older than the maximum age.
    pub expired: u64,
    pub released: u64,
}

pub struct HoldQueue {
    slot_size: usize,
    max_age: Duration,
    data: Box<[u8]>,
    lens: Box<[usize]>,
    times: Box<[Option<Instant>]>,
    head: usize,
    len: usize,
    counters: HoldCounters,
}

impl std::fmt::Debug for HoldQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HoldQueue")
            .field("capacity", &self.lens.len())
            .field("len", &self.len)
            .field("counters", &self.counters)
            .finish()
    }
}

impl HoldQueue {
    /// `capacity` packets of at most `max_packet` bytes each, held at most
    /// `max_age`.
    pub fn new(capacity: usize, max_packet: usize, max_age: Duration) -> Self {
        let capacity = capacity.max(1);
        HoldQueue {
            slot_size: max_packet,
            max_age,
            data: vec![0u8; capacity * max_packet].into_boxed_slice(),
            lens: vec![0usize; capacity].into_boxed_slice(),
            times: vec![None; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
            counters: HoldCounters::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn counters(&self) -> &HoldCounters {
        &self.counters
    }

    /// Copies `packet` in. A full queue refuses new packets (the first
    /// packets of a flow, e.g. a TCP SYN, matter more than later ones) and
    /// counts the overflow; expired entries are evicted first.
    pub fn push(&mut self, packet: &[u8], now: Instant) -> bool {
        if packet.len() > self.slot_size {
            self.counters.too_big += 1;
            return false;
        }
        self.evict_expired(now);
        if self.len == self.lens.len() {
            self.counters.overflow += 1;
            return false;
        }
        let idx = (self.head + self.len) % self.lens.len();
        let start = idx * self.slot_size;
        self.data[start..start + packet.len()].copy_from_slice(packet);
        self.lens[idx] = packet.len();
        self.times[idx] = Some(now);
        self.len += 1;
        self.counters.queued += 1;
        true
    }

    /// Hands every packet still young enough to `f`, oldest first, and
    /// empties the queue. Returns how many were released.
    pub fn drain(&mut self, now: Instant, mut f: impl FnMut(&[u8])) -> usize {
        self.evict_expired(now);
        let mut n = 0;
        while self.len > 0 {
            let idx = self.head;
            let start = idx * self.slot_size;
            f(&self.data[start..start + self.lens[idx]]);
            self.pop_front();
            n += 1;
        }
        self.counters.released += n as u64;
        n
    }

    /// Drops everything (the SA negotiation failed).
    pub fn clear(&mut self) {
        while self.len > 0 {
            self.pop_front();
        }
    }

    fn evict_expired(&mut self, now: Instant) {
        while self.len > 0 {
            let t = self.times[self.head];
            match t {
                Some(t) if now.saturating_duration_since(t) > self.max_age => {
                    self.pop_front();
                    self.counters.expired += 1;
                }
                _ => break,
            }
        }
    }

    fn pop_front(&mut self) {
        self.times[self.head] = None;
        self.lens[self.head] = 0;
        self.head = (self.head + 1) % self.lens.len();
        self.len -= 1;
    }
}
