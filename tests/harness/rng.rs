//! A small deterministic random number generator for tests: xorshift64*
//! (Marsaglia's xorshift with Vigna's multiplier), so generated input is
//! reproducible from its seed and needs no dependency.
//!
//! Std only, and no `crate::` paths: ipsec-user's own integration tests
//! compile this file too (`#[path = "../../tests/harness/rng.rs"]`),
//! since they cannot depend on the harness crate (which depends on
//! ipsec-user).
#![allow(dead_code)]

/// xorshift64*. The seed must not be zero (zero is a fixed point).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 bits. (Not an `Iterator`: the stream never ends, and
    /// a test draws from it in several ways at once.)
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `0..n`; 0 when `n` is 0 (no division by zero).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// An index into `len` things (0 for an empty buffer).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// In `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.index(xs.len())]
    }

    /// True `pct` times in a hundred.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
