//! Rate-limited logging of unauthenticated junk: a flood of forged
//! messages must cost a counter, not a log line each.

use std::time::{Duration, Instant};

/// At most one debug line per [`QUIET_LOG_INTERVAL`] about unconfigured
/// sources, with the number suppressed in between.
#[derive(Debug, Default)]
pub(crate) struct QuietLog {
    last: Option<Instant>,
    suppressed: u64,
}

const QUIET_LOG_INTERVAL: Duration = Duration::from_secs(1);

impl QuietLog {
    /// Some(number suppressed since the last line) when a line may be
    /// written now.
    pub(crate) fn allow(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < QUIET_LOG_INTERVAL)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}
