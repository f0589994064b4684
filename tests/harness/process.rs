//! Processes and scratch space the tests start and own: a child killed
//! and reaped by its PID when dropped, a command run to its end under a
//! deadline, and a scratch directory removed afterwards (kept when the
//! test fails, for a look at what it held).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A child process we started; killed (SIGKILL) and reaped by its PID on
/// drop, so an early return or a panic leaves nothing running.
pub struct Proc(Option<Child>);

impl Proc {
    pub fn new(child: Child) -> Proc {
        Proc(Some(child))
    }

    /// `prog args` inside network namespace `netns` (setns before exec),
    /// stdin and stdout closed, stderr where the caller says.
    pub fn spawn_in(netns: &str, prog: &str, args: &[&str], stderr: Stdio) -> Result<Proc> {
        let mut cmd = Command::new(prog);
        crate::gateway::in_netns(&mut cmd, netns)?;
        let child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("spawning {prog}"))?;
        Ok(Proc::new(child))
    }

    pub fn child(&mut self) -> Option<&mut Child> {
        self.0.as_mut()
    }

    pub fn id(&self) -> Option<u32> {
        self.0.as_ref().map(|c| c.id())
    }

    /// SIGINT (tcpdump flushes its file, ping prints its summary), then
    /// SIGKILL after `limit`; an error if it needed the SIGKILL.
    pub fn interrupt(&mut self, limit: Duration) -> Result<()> {
        let Some(mut c) = self.0.take() else {
            return Ok(());
        };
        // SAFETY: signalling our own, not yet reaped child by its PID.
        unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + limit;
        while c.try_wait()?.is_none() {
            if Instant::now() > deadline {
                c.kill()?;
                c.wait()?;
                bail!("process {} ignored SIGINT", c.id());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `cmd` to its end with a deadline (it must not hang the test),
/// killing it by PID and panicking with its stderr if it is still running
/// after `limit`. Its pipes are drained by threads, so a large output
/// cannot block it.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} still running after {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&err.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A scratch directory under the temp dir with a unique name, removed on
/// drop unless the test is failing (then its files help the diagnosis).
/// Created with the default mode (0755 under the usual umask), so another
/// user can reach what a test puts there.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("ipsecgw-{}", crate::topology::unique(tag)));
        fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        Scratch(d)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `name` inside; returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}
