//! Anti-replay window (RFC 4303 section 3.4.3) with ESN inference
//! (RFC 4303 appendix A).
//!
//! The bitmap follows RFC 6479: the window is a ring of 64-bit blocks, one
//! block more than the window needs, so advancing the window clears whole
//! blocks instead of shifting bits. Checking and updating are separate
//! because the update must happen only after the ICV verified (and, here,
//! after the selector check): a forged packet must not move the window.

/// Packets the window accepts behind the highest sequence number seen.
pub const REPLAY_WINDOW: u64 = 1024;

const BLOCK_BITS: u64 = 64;
/// One spare block so the window's lowest block is never the one being
/// reused for new sequence numbers.
const BLOCKS: usize = (REPLAY_WINDOW / BLOCK_BITS) as usize + 1;
const RING_BITS: u64 = BLOCKS as u64 * BLOCK_BITS;

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
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    esn: bool,
    /// Highest (full 64-bit) sequence number accepted so far; 0 = none.
    top: u64,
    bitmap: [u64; BLOCKS],
}

impl ReplayWindow {
    pub fn new(esn: bool) -> Self {
        ReplayWindow {
            esn,
            top: 0,
            bitmap: [0; BLOCKS],
        }
    }

    /// Highest sequence number accepted so far.
    pub fn top(&self) -> u64 {
        self.top
    }

    /// The full sequence number of a received low half: with ESN, the high
    /// half is inferred as in RFC 4303 appendix A.2.1 (the packet is placed
    /// in the window, or just ahead of it); without ESN it is 0.
    pub fn infer(&self, seq_lo: u32) -> u64 {
        if !self.esn {
            return u64::from(seq_lo);
        }
        let tl = self.top as u32;
        let th = (self.top >> 32) as u32;
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
        if seq == 0 {
            return Err(ReplayVerdict::Zero);
        }
        if seq > self.top {
            return Ok(());
        }
        if self.top - seq >= REPLAY_WINDOW {
            return Err(ReplayVerdict::TooOld);
        }
        let (block, bit) = Self::position(seq);
        if self.bitmap[block] & bit != 0 {
            Err(ReplayVerdict::Duplicate)
        } else {
            Ok(())
        }
    }

    /// Marks `seq` received, advancing the window if it is the new highest.
    /// Checks again, so a caller that raced two copies still drops one.
    pub fn accept(&mut self, seq: u64) -> Result<(), ReplayVerdict> {
        self.check(seq)?;
        if seq > self.top {
            let cur_block = self.top / BLOCK_BITS;
            let new_block = seq / BLOCK_BITS;
            // Clear the blocks the window moves into (at most all of them).
            let advance = (new_block - cur_block).min(BLOCKS as u64);
            for i in 1..=advance {
                let idx = ((cur_block + i) % BLOCKS as u64) as usize;
                self.bitmap[idx] = 0;
            }
            self.top = seq;
        }
        let (block, bit) = Self::position(seq);
        self.bitmap[block] |= bit;
        Ok(())
    }

    fn position(seq: u64) -> (usize, u64) {
        let in_ring = seq % RING_BITS;
        (
            (in_ring / BLOCK_BITS) as usize,
            1u64 << (in_ring % BLOCK_BITS),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_edges() {
        let mut w = ReplayWindow::new(false);
        assert_eq!(w.check(0), Err(ReplayVerdict::Zero));
        w.accept(1).unwrap();
        assert_eq!(w.accept(1), Err(ReplayVerdict::Duplicate));
        w.accept(3000).unwrap();
        // 3000 - 1023 is the oldest still inside the window.
        w.accept(3000 - 1023).unwrap();
        assert_eq!(w.check(3000 - 1024), Err(ReplayVerdict::TooOld));
        assert_eq!(w.check(3000 - 1023), Err(ReplayVerdict::Duplicate));
        w.accept(2999).unwrap();
        assert_eq!(w.check(2999), Err(ReplayVerdict::Duplicate));
        // A jump far ahead clears everything behind.
        w.accept(1_000_000).unwrap();
        for s in 1_000_000 - 1023..1_000_000 {
            assert_eq!(w.check(s), Ok(()), "{s}");
        }
        assert_eq!(w.check(1_000_000 - 1024), Err(ReplayVerdict::TooOld));
    }

    #[test]
    fn every_slot_of_the_window_is_tracked() {
        let mut w = ReplayWindow::new(false);
        w.accept(5000).unwrap();
        for s in (5000 - 1023..5000).step_by(3) {
            w.accept(s).unwrap();
        }
        for s in 5000 - 1023..5000 {
            let seen = (s - (5000 - 1023)) % 3 == 0;
            assert_eq!(w.check(s).is_err(), seen, "{s}");
        }
        // Advancing by one block keeps the rest of the bits.
        w.accept(5064).unwrap();
        assert_eq!(w.check(5000), Err(ReplayVerdict::Duplicate));
        // Window is now [4041, 5064]: 4043 was marked, 4040 fell out, the
        // newly entered numbers are free.
        assert_eq!(w.check(4043), Err(ReplayVerdict::Duplicate));
        assert_eq!(w.check(4040), Err(ReplayVerdict::TooOld));
        assert_eq!(w.check(5063), Ok(()));
    }

    #[test]
    fn esn_inference_across_the_wrap() {
        let mut w = ReplayWindow::new(true);
        // Case A, far from the wrap.
        w.accept(0x1_0000_5000).unwrap();
        assert_eq!(w.infer(0x5001), 0x1_0000_5001);
        assert_eq!(w.infer(0x4fff), 0x1_0000_4fff);
        // A low half far below the window means the next subspace.
        assert_eq!(w.infer(0x10), 0x2_0000_0010);
        // Case B: top just after a wrap; a late packet from before it.
        let mut w = ReplayWindow::new(true);
        w.accept(0x2_0000_0005).unwrap();
        assert_eq!(w.infer(0xffff_fff0), 0x1_ffff_fff0);
        assert_eq!(w.infer(0x6), 0x2_0000_0006);
        w.accept(0x1_ffff_fff0).unwrap();
        assert_eq!(w.check(0x1_ffff_fff0), Err(ReplayVerdict::Duplicate));
        // Without ESN the high half is always 0.
        let w = ReplayWindow::new(false);
        assert_eq!(w.infer(0xffff_ffff), 0xffff_ffff);
    }
}
