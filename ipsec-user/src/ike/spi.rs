//! The inbound SPIs of every child SA this gateway holds, shared by the
//! IKEv1 and IKEv2 engines: an SPI names one SA on the ESP engine whatever
//! protocol negotiated it, so both must draw from one set.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// A handle on the shared set; clones share it. Uncontended (the daemon
/// drives both engines from one task), so the lock costs nothing.
#[derive(Debug, Clone, Default)]
pub struct SpiPool(Arc<Mutex<HashSet<u32>>>);

impl SpiPool {
    fn set(&self) -> MutexGuard<'_, HashSet<u32>> {
        // A panic while holding this lock cannot leave the set torn: every
        // operation is one HashSet call.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims `spi`; false if it is taken.
    pub fn insert(&self, spi: u32) -> bool {
        self.set().insert(spi)
    }

    pub fn remove(&self, spi: &u32) -> bool {
        self.set().remove(spi)
    }

    pub fn contains(&self, spi: &u32) -> bool {
        self.set().contains(spi)
    }

    pub fn len(&self) -> usize {
        self.set().len()
    }

    pub fn is_empty(&self) -> bool {
        self.set().is_empty()
    }
}
