//! Negotiation failures reach the log at a bounded rate per peer. Anyone
//! can send first messages under a configured peer's address (aggressive
//! mode to a main-mode peer, a policy that matches nothing): each would
//! otherwise write a warning, and the log would grow with the attacker's
//! packet rate. `show crypto isakmp sa` still names the latest reason.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// The same reason again is written at most this often.
const REPEAT: Duration = Duration::from_secs(10);
/// A new reason is written at most this often.
const CHANGE: Duration = Duration::from_secs(1);

struct Last {
    text: String,
    at: Instant,
    suppressed: u64,
}

#[derive(Default)]
pub struct FailureLog {
    last: HashMap<Ipv4Addr, Last>,
}

/// What to do with one failure.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write it as a warning; `suppressed` earlier ones were not written.
    Warn { suppressed: u64 },
    /// Leave it at debug level.
    Quiet,
}

impl FailureLog {
    /// `peer` must be a configured peer (the caller checks), so the map
    /// holds at most one entry per configured address.
    pub fn judge(&mut self, now: Instant, peer: Ipv4Addr, text: &str) -> Verdict {
        let Some(l) = self.last.get_mut(&peer) else {
            self.last.insert(
                peer,
                Last {
                    text: text.to_string(),
                    at: now,
                    suppressed: 0,
                },
            );
            return Verdict::Warn { suppressed: 0 };
        };
        let since = now.saturating_duration_since(l.at);
        if since >= REPEAT || (l.text != text && since >= CHANGE) {
            let suppressed = std::mem::take(&mut l.suppressed);
            l.text = text.to_string();
            l.at = now;
            Verdict::Warn { suppressed }
        } else {
            l.suppressed += 1;
            Verdict::Quiet
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_failures_writes_a_line_a_second_at_most() {
        let mut f = FailureLog::default();
        let peer = Ipv4Addr::new(192, 0, 2, 2);
        let t0 = Instant::now();
        let (mut warned, mut told) = (0, 0);
        // 10,000 failures in 10 s, alternating two reasons.
        for i in 0..10_000u64 {
            let now = t0 + Duration::from_millis(i);
            let text = if i % 2 == 0 { "a" } else { "b" };
            if let Verdict::Warn { suppressed } = f.judge(now, peer, text) {
                warned += 1;
                told += suppressed;
            }
        }
        assert!(warned <= 11, "{warned} lines");
        // Each line says how many were left out since the one before.
        let Verdict::Warn { suppressed } = f.judge(t0 + Duration::from_secs(30), peer, "a") else {
            panic!("a line after a quiet spell");
        };
        assert_eq!(warned + told + suppressed, 10_000);
    }
}
