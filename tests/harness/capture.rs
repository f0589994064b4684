//! tcpdump inside a namespace, stopped by PID: [`Capture`] keeps one text
//! line per packet (into a file, stderr to another: a closed pipe would
//! kill it), [`PcapCapture`] writes a pcap whose Ethernet frames the test
//! reads back whole. Also what the tests look for in the lines.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use crate::process::Proc;

/// Lines that show cleartext between the two protected LANs
/// (198.51.100.0/24 and 203.0.113.0/24): what must never cross the wire.
pub fn protected_cleartext(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| l.contains("198.51.100.") && l.contains("203.0.113."))
        .collect()
}

/// How many lines show a packet `src > dst` (tcpdump -n's notation): the
/// control traffic that proves a capture saw anything at all.
pub fn count_from_to(lines: &[String], src: &str, dst: &str) -> usize {
    let needle = format!("{src} > {dst}");
    lines.iter().filter(|l| l.contains(&needle)).count()
}

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

/// `tcpdump -w` on one interface of one namespace, every packet straight
/// to the file, stopped by SIGINT.
pub struct PcapCapture {
    proc: Proc,
    pcap: PathBuf,
}

impl PcapCapture {
    /// Starts tcpdump with `filter` (words, may be empty), writing
    /// `dir/name.pcap`, and waits (up to 5 s) until it listens.
    pub fn start(
        netns: &str,
        iface: &str,
        dir: &Path,
        name: &str,
        filter: &[&str],
    ) -> Result<PcapCapture> {
        let pcap = dir.join(format!("{name}.pcap"));
        let errlog = dir.join(format!("{name}.err"));
        let mut args = vec![
            "-n",
            // Each packet straight to the file: without it, frames of the
            // last buffer timeout are lost when SIGINT ends the capture.
            "--immediate-mode",
            "-U",
            "-Z",
            "root",
            "-s",
            "65535",
            "-i",
            iface,
            "-w",
            pcap.to_str().context("capture path is not UTF-8")?,
        ];
        args.extend_from_slice(filter);
        let proc = Proc::spawn_in(netns, "tcpdump", &args, Stdio::from(File::create(&errlog)?))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !fs::read_to_string(&errlog)?.contains("listening on") {
            ensure!(Instant::now() < deadline, "tcpdump did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(PcapCapture { proc, pcap })
    }

    /// Stops the capture and returns its Ethernet frames.
    pub fn stop(mut self) -> Result<Vec<Vec<u8>>> {
        // Let tcpdump read what the kernel already queued for it.
        std::thread::sleep(Duration::from_millis(200));
        self.proc.interrupt(Duration::from_secs(5))?;
        Ok(crate::pcap::read(&self.pcap)?.ethernet_frames()?)
    }
}
