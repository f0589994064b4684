//! Rate limiting of the ICMP errors the engine sends (fragmentation
//! needed), per source and in total, so oversized packets with forged
//! sources cannot make the gateway a packet generator (nor a generator of
//! next-hop resolutions for the forged addresses).
//!
//! GCRA (a token bucket kept as one "theoretical arrival time") in a
//! fixed array of slots indexed by a keyed hash of the source: bounded
//! memory whatever the number of sources. Sources that share a slot share
//! its budget; the hash key is random per limiter, so a sender cannot
//! choose a victim's slot.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Slots in the per-source table (a power of two).
pub const SLOTS: usize = 256;

/// A GCRA cell: `interval` between packets at the sustained rate, up to
/// `burst` packets at once.
#[derive(Debug, Clone, Copy)]
struct Gcra {
    interval: u64,
    /// (burst - 1) * interval: how far ahead the arrival time may run.
    tolerance: u64,
}

impl Gcra {
    fn new(per_second: u32, burst: u32) -> Gcra {
        let interval = 1_000_000_000 / u64::from(per_second.max(1));
        Gcra {
            interval,
            tolerance: interval * u64::from(burst.max(1) - 1),
        }
    }

    /// Conforms at time `t` (ns)? Then charges `tat`.
    fn allow(&self, tat: &mut u64, t: u64) -> bool {
        let at = (*tat).max(t);
        if at - t > self.tolerance {
            return false;
        }
        *tat = at + self.interval;
        true
    }
}

/// Counts of what the limiter let through and refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IcmpLimitStats {
    pub allowed: u64,
    pub limited: u64,
}

pub struct IcmpRateLimiter {
    per_source: Gcra,
    total: Gcra,
    slots: Box<[u64; SLOTS]>,
    total_tat: u64,
    epoch: Instant,
    key: RandomState,
    stats: IcmpLimitStats,
}

impl IcmpRateLimiter {
    /// Per source: `per_source` errors a second, bursts of `source_burst`;
    /// all sources together: `total` a second, bursts of `total_burst`.
    pub fn new(per_source: u32, source_burst: u32, total: u32, total_burst: u32) -> Self {
        IcmpRateLimiter {
            per_source: Gcra::new(per_source, source_burst),
            total: Gcra::new(total, total_burst),
            slots: Box::new([0; SLOTS]),
            total_tat: 0,
            epoch: Instant::now(),
            key: RandomState::new(),
            stats: IcmpLimitStats::default(),
        }
    }

    pub fn stats(&self) -> IcmpLimitStats {
        self.stats
    }

    /// May an ICMP error go to `src` now? Charges the budgets when yes.
    pub fn allow(&mut self, src: Ipv4Addr, now: Instant) -> bool {
        let t = u64::try_from(
            now.saturating_duration_since(self.epoch)
                .max(Duration::ZERO)
                .as_nanos(),
        )
        .unwrap_or(u64::MAX);
        let slot = (self.key.hash_one(u32::from(src)) as usize) & (SLOTS - 1);
        // Check both before charging either: a refusal costs nothing.
        let mut src_tat = self.slots[slot];
        let mut total_tat = self.total_tat;
        let ok = self.per_source.allow(&mut src_tat, t) && self.total.allow(&mut total_tat, t);
        if ok {
            self.slots[slot] = src_tat;
            self.total_tat = total_tat;
            self.stats.allowed += 1;
        } else {
            self.stats.limited += 1;
        }
        ok
    }
}

impl Default for IcmpRateLimiter {
    /// 10 a second per source (bursts of 10: a host opening a few
    /// connections at once learns the MTU on each), 500 a second in all.
    fn default() -> Self {
        IcmpRateLimiter::new(10, 10, 500, 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(i: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 51, 100, i)
    }

    #[test]
    fn one_source_gets_its_burst_then_its_rate() {
        let mut l = IcmpRateLimiter::new(10, 5, 1000, 1000);
        let t0 = l.epoch + Duration::from_secs(1);
        let sent = (0..100).filter(|_| l.allow(src(10), t0)).count();
        assert_eq!(sent, 5, "a burst of 5, then nothing at the same instant");
        // 100 ms later, one more (10 a second).
        assert!(l.allow(src(10), t0 + Duration::from_millis(100)));
        assert!(!l.allow(src(10), t0 + Duration::from_millis(100)));
        // Over 10 s of a flood, about rate * time get out.
        let mut ok = 0;
        for ms in 0..10_000 {
            if l.allow(src(10), t0 + Duration::from_millis(200 + ms)) {
                ok += 1;
            }
        }
        assert!((95..=105).contains(&ok), "{ok} in 10 s");
        assert!(l.stats().limited > 9_000);
    }

    #[test]
    fn sources_have_budgets_of_their_own() {
        let mut l = IcmpRateLimiter::new(10, 3, 1000, 1000);
        let t0 = l.epoch + Duration::from_secs(1);
        while l.allow(src(10), t0) {}
        // Another source (unless it hashed to the same slot, 1 in 256;
        // try a few and require most to pass).
        let others = (20..30).filter(|&i| l.allow(src(i), t0)).count();
        assert!(others >= 8, "{others} of 10 other sources answered");
    }

    #[test]
    fn the_total_caps_many_forged_sources() {
        let mut l = IcmpRateLimiter::new(10, 10, 100, 20);
        let t0 = l.epoch + Duration::from_secs(1);
        let mut ok = 0;
        for i in 0..=255u8 {
            for j in 0..4u8 {
                if l.allow(Ipv4Addr::new(198, 18, j, i), t0) {
                    ok += 1;
                }
            }
        }
        assert_eq!(ok, 20, "the total burst, whatever the number of sources");
    }
}
