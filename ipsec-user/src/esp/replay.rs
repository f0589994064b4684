//! Anti-replay window (RFC 4303 section 3.4.3) with ESN inference
//! (RFC 4303 appendix A), shared by the workers of one SA without a lock.
//!
//! One worker per queue means the packets of one inbound SA may be
//! decrypted on several threads at once (a NIC's RSS normally keeps one
//! SA on one queue, but nothing guarantees it). A lock per packet is what
//! the engine avoids, so the window is made of atomics:
//!
//! - `top`, the highest sequence number accepted, only grows (`fetch_max`);
//!   anything `REPLAY_WINDOW` or more behind it is too old.
//! - A ring of `SLOTS` words, each holding one 32-number block: the block's
//!   number (low 32 bits of it) in the high half, a bit per sequence
//!   number in the low half. A slot is only ever overwritten by a *newer*
//!   block (compare-and-swap), so once a number's block has left its slot
//!   the number can never be accepted again; while the block is there its
//!   bit says whether the number was seen. The ring spans twice the window,
//!   so every number inside the window has its block in its slot or an
//!   older one there (meaning: not seen yet).
//!
//! Checking and accepting are separate because the update must happen
//! only after the ICV verified (and, here, after the selector check): a
//! forged packet must not move the window. `accept` checks again, so of
//! two copies decrypted at the same time only one gets through.

use std::sync::atomic::{AtomicU64, Ordering};

/// Packets the window accepts behind the highest sequence number seen.
/// RFC 4303 asks for at least 32 and recommends 64; a gateway whose
/// workers decrypt one SA on several queues sees packets reordered by the
/// queues' relative delays, so the window is generous (as Linux's largest).
pub const REPLAY_WINDOW: u64 = 4096;

const SLOT_BITS: u64 = 32;
const SLOTS: usize = 256;
const _: () = assert!(SLOTS as u64 * SLOT_BITS >= 2 * REPLAY_WINDOW);

/// Why the window refused a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// Already received.
    Duplicate,
    /// Older than the window: cannot be told apart from a replay.
    TooOld,
    /// Sequence number 0 is never sent (RFC 4303 section 3.3.3).
    Zero,
}

/// The inbound window of one SA.
#[derive(Debug)]
pub struct ReplayWindow {
    esn: bool,
    /// Highest (full 64-bit) sequence number accepted so far; 0 = none.
    top: AtomicU64,
    slots: [AtomicU64; SLOTS],
}

/// What a slot says of one sequence number.
enum Slot {
    /// Its block is in the slot and its bit is clear, or an older block is
    /// there: not seen. Carries the word to install.
    Fresh(u64),
    Seen,
    /// A newer block took the slot.
    Gone,
}

impl ReplayWindow {
    pub fn new(esn: bool) -> Self {
        ReplayWindow {
            esn,
            top: AtomicU64::new(0),
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Highest sequence number accepted so far.
    pub fn top(&self) -> u64 {
        self.top.load(Ordering::Acquire)
    }

    /// The full sequence number of a received low half: with ESN, the high
    /// half is inferred as in RFC 4303 appendix A.2.1 (the packet is placed
    /// in the window, or just ahead of it); without ESN it is 0.
    pub fn infer(&self, seq_lo: u32) -> u64 {
        if !self.esn {
            return u64::from(seq_lo);
        }
        let top = self.top();
        let tl = top as u32;
        let th = (top >> 32) as u32;
        let w = REPLAY_WINDOW as u32;
        let bottom = tl.wrapping_sub(w - 1);
        let seq_hi = if tl >= w - 1 {
            // Case A: the window lies within one 2^32 subspace.
            if seq_lo >= bottom {
                th
            } else {
                th.wrapping_add(1)
            }
        } else if seq_lo >= bottom && th > 0 {
            // Case B: the window spans two subspaces and the packet is in
            // the lower one. With th == 0 there is no lower subspace: such a
            // packet can only be read as ahead of the window.
            th - 1
        } else {
            th
        };
        (u64::from(seq_hi) << 32) | u64::from(seq_lo)
    }

    /// Would `seq` be accepted? Does not change the window.
    pub fn check(&self, seq: u64) -> Result<(), ReplayVerdict> {
        self.behind_top(seq)?;
        let (slot, tag, bit) = Self::position(seq);
        match Self::read(self.slots[slot].load(Ordering::Acquire), tag, bit) {
            Slot::Fresh(_) => Ok(()),
            Slot::Seen => Err(ReplayVerdict::Duplicate),
            Slot::Gone => Err(ReplayVerdict::TooOld),
        }
    }

    /// Marks `seq` received, advancing the window if it is the new highest.
    /// Checks again, so of two copies raced through decryption (by one
    /// worker or by two) only one is accepted.
    pub fn accept(&self, seq: u64) -> Result<(), ReplayVerdict> {
        self.behind_top(seq)?;
        let (slot, tag, bit) = Self::position(seq);
        let slot = &self.slots[slot];
        let mut word = slot.load(Ordering::Acquire);
        loop {
            let new = match Self::read(word, tag, bit) {
                Slot::Fresh(new) => new,
                Slot::Seen => return Err(ReplayVerdict::Duplicate),
                Slot::Gone => return Err(ReplayVerdict::TooOld),
            };
            match slot.compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        self.top.fetch_max(seq, Ordering::AcqRel);
        Ok(())
    }

    fn behind_top(&self, seq: u64) -> Result<(), ReplayVerdict> {
        if seq == 0 {
            return Err(ReplayVerdict::Zero);
        }
        let top = self.top();
        if seq <= top && top - seq >= REPLAY_WINDOW {
            return Err(ReplayVerdict::TooOld);
        }
        Ok(())
    }

    /// Slot index, block tag and bit of a sequence number.
    fn position(seq: u64) -> (usize, u32, u32) {
        let block = seq / SLOT_BITS;
        (
            (block % SLOTS as u64) as usize,
            block as u32,
            1u32 << (seq % SLOT_BITS),
        )
    }

    fn read(word: u64, tag: u32, bit: u32) -> Slot {
        let held = (word >> 32) as u32;
        let bits = word as u32;
        // Tags are block numbers modulo 2^32; blocks in one slot differ by
        // multiples of SLOTS and a slot only moves forward, so a wrapping
        // comparison is exact for anything the top check lets through.
        match tag.wrapping_sub(held) as i32 {
            d if d < 0 => Slot::Gone,
            0 if bits & bit != 0 => Slot::Seen,
            0 => Slot::Fresh(word | u64::from(bit)),
            _ => Slot::Fresh((u64::from(tag) << 32) | u64::from(bit)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const W: u64 = REPLAY_WINDOW;

    #[test]
    fn duplicates_and_edges() {
        let w = ReplayWindow::new(false);
        assert_eq!(w.check(0), Err(ReplayVerdict::Zero));
        w.accept(1).unwrap();
        assert_eq!(w.accept(1), Err(ReplayVerdict::Duplicate));
        w.accept(30000).unwrap();
        // 30000 - (W - 1) is the oldest still inside the window.
        w.accept(30000 - (W - 1)).unwrap();
        assert_eq!(w.check(30000 - W), Err(ReplayVerdict::TooOld));
        assert_eq!(w.check(30000 - (W - 1)), Err(ReplayVerdict::Duplicate));
        w.accept(29999).unwrap();
        assert_eq!(w.check(29999), Err(ReplayVerdict::Duplicate));
        // A jump far ahead clears everything behind.
        w.accept(1_000_000).unwrap();
        for s in 1_000_000 - (W - 1)..1_000_000 {
            assert_eq!(w.check(s), Ok(()), "{s}");
        }
        assert_eq!(w.check(1_000_000 - W), Err(ReplayVerdict::TooOld));
    }

    #[test]
    fn every_slot_of_the_window_is_tracked() {
        let w = ReplayWindow::new(false);
        w.accept(50000).unwrap();
        for s in (50000 - (W - 1)..50000).step_by(3) {
            w.accept(s).unwrap();
        }
        for s in 50000 - (W - 1)..50000 {
            let seen = (s - (50000 - (W - 1))).is_multiple_of(3);
            assert_eq!(w.check(s).is_err(), seen, "{s}");
        }
        // Advancing by one block keeps the rest of the bits.
        w.accept(50064).unwrap();
        assert_eq!(w.check(50000), Err(ReplayVerdict::Duplicate));
        // The window now ends at 50064: the marked numbers still inside it
        // stay marked, the one just below its bottom fell out, the newly
        // entered numbers are free.
        let bottom = 50064 - (W - 1);
        let marked = |s: u64| (s - (50000 - (W - 1))).is_multiple_of(3);
        let first_marked = (bottom..).find(|&s| marked(s)).unwrap();
        assert_eq!(w.check(first_marked), Err(ReplayVerdict::Duplicate));
        assert_eq!(w.check(bottom - 1), Err(ReplayVerdict::TooOld));
        assert_eq!(w.check(50063), Ok(()));
    }

    #[test]
    fn esn_inference_across_the_wrap() {
        let w = ReplayWindow::new(true);
        // Case A, far from the wrap.
        w.accept(0x1_0000_5000).unwrap();
        assert_eq!(w.infer(0x5001), 0x1_0000_5001);
        assert_eq!(w.infer(0x4fff), 0x1_0000_4fff);
        // A low half far below the window means the next subspace.
        assert_eq!(w.infer(0x10), 0x2_0000_0010);
        // Case B: top just after a wrap; a late packet from before it.
        let w = ReplayWindow::new(true);
        w.accept(0x2_0000_0005).unwrap();
        assert_eq!(w.infer(0xffff_fff0), 0x1_ffff_fff0);
        assert_eq!(w.infer(0x6), 0x2_0000_0006);
        w.accept(0x1_ffff_fff0).unwrap();
        assert_eq!(w.check(0x1_ffff_fff0), Err(ReplayVerdict::Duplicate));
        // Without ESN the high half is always 0.
        let w = ReplayWindow::new(false);
        assert_eq!(w.infer(0xffff_ffff), 0xffff_ffff);
    }

    /// Several threads offer the same sequence numbers in different
    /// orders, as workers on several queues would: each number is accepted
    /// exactly once, and nothing older than the window gets in.
    #[test]
    fn concurrent_workers_accept_each_number_once() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicU32;
        const N: u64 = 200_000;
        let w = Arc::new(ReplayWindow::new(false));
        let accepted: Arc<Vec<AtomicU32>> = Arc::new((0..=N).map(|_| AtomicU32::new(0)).collect());
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let (w, accepted) = (w.clone(), accepted.clone());
                std::thread::spawn(move || {
                    // Each thread walks the numbers in its own jittered
                    // order, never more than a few hundred apart.
                    let mut x = 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(t + 1);
                    for base in (1..=N).step_by(256) {
                        let mut chunk: Vec<u64> = (base..(base + 256).min(N + 1)).collect();
                        for i in (1..chunk.len()).rev() {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            chunk.swap(i, (x % (i as u64 + 1)) as usize);
                        }
                        for s in chunk {
                            if w.accept(s).is_ok() {
                                accepted[s as usize].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let twice = (1..=N)
            .filter(|&s| accepted[s as usize].load(Ordering::Relaxed) > 1)
            .count();
        assert_eq!(twice, 0, "numbers accepted more than once");
        let once = (1..=N)
            .filter(|&s| accepted[s as usize].load(Ordering::Relaxed) == 1)
            .count();
        // Every number reached the window in time from at least one
        // thread (they stay within 256 of each other's position, far
        // inside the window), so all of them got in, once.
        assert_eq!(once as u64, N);
        assert_eq!(w.top(), N);
        assert_eq!(w.check(N - W), Err(ReplayVerdict::TooOld));
        assert_eq!(w.check(N - 5), Err(ReplayVerdict::Duplicate));
    }
}
