//! tcpdump inside a namespace, one line per packet into a file (stderr to
//! another: a closed pipe would kill it). Stopped by PID.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

pub struct Capture {
    child: Option<Child>,
    out: PathBuf,
}

impl Capture {
    /// Starts `tcpdump -n -l -i IFNAME FILTER` in namespace `ns` and waits
    /// (up to 5 s) until it listens, so nothing sent afterwards is missed.
    pub fn start(ns: &str, ifname: &str, filter: &str) -> Result<Capture> {
        let out = std::env::temp_dir().join(format!("{}.cap", crate::topology::unique("cap")));
        let child = Command::new("ip")
            .args([
                "netns", "exec", ns, "tcpdump", "-n", "-l", "-i", ifname, filter,
            ])
            .stdout(std::fs::File::create(&out)?)
            .stderr(std::fs::File::create(out.with_extension("err"))?)
            .spawn()
            .context("spawning tcpdump")?;
        let cap = Capture {
            child: Some(child),
            out,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && !std::fs::read_to_string(cap.out.with_extension("err"))
                .unwrap_or_default()
                .contains("listening on")
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(cap)
    }

    /// Stops tcpdump (after 300 ms for the last packets) and returns the
    /// lines it printed.
    pub fn stop(mut self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(300));
        self.kill();
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines().map(String::from).collect()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling our own, not yet reaped child by its PID.
            unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
            if !crate::topology::terminate(&mut c, Duration::from_secs(3)) {
                let _ = c.wait();
            }
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(self.out.with_extension("err"));
    }
}
