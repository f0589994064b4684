//! ping between the test's namespaces beyond [`Topology::ping`]: a
//! bounded ping that runs in the background while the test does
//! something else, and polling until a reply comes.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::topology::Topology;

/// `ping -c count -i interval` in the background; [`BackgroundPing::finish`]
/// waits for it and returns (sent, received). Killed by PID on drop.
pub struct BackgroundPing {
    child: Option<Child>,
}

impl BackgroundPing {
    pub fn start(ns: &str, dst: &str, count: u32, interval: f32) -> BackgroundPing {
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-n", "-q", "-W", "1"])
            .args(["-i", &interval.to_string(), "-c", &count.to_string(), dst])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning ping in {ns}: {e}"));
        BackgroundPing { child: Some(child) }
    }

    /// Waits for ping to finish (it is bounded by -c; interrupted after
    /// 120 s whatever happens) and parses its summary.
    pub fn finish(mut self) -> (u32, u32) {
        let Some(mut child) = self.child.take() else {
            return (0, 0);
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                // SAFETY: signalling our own, not yet reaped child by its
                // PID; SIGINT makes ping print its summary.
                unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = child.wait_with_output().expect("ping output");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.contains("packets transmitted"))
            .unwrap_or("");
        let mut it = line.split(", ");
        let n = |s: Option<&str>| {
            s.and_then(|s| s.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        (n(it.next()), n(it.next()))
    }
}

impl Drop for BackgroundPing {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `ping -c 1` from `ns` until a reply comes, up to `limit`;
/// returns the time it took.
pub fn wait_reply(t: &Topology, ns: &str, dst: &str, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if t.ping(ns, dst, 1, 0.2).unwrap_or(0) == 1 {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}
