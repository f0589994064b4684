//! Network namespaces for tests: `Netns` creates `ipsecgw-<name>-<pid>-<n>`
//! (unique per process and call, so tests run in parallel), runs commands
//! or closures inside it, and deletes it on drop, even when a test panics.
//! Nothing is ever configured in the root namespace: veth pairs are created
//! directly inside their namespaces. (The four-namespace LAN-to-LAN
//! topology is `topology::Topology`.)

use std::{
    fs::File,
    io,
    os::fd::AsRawFd,
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
};

use anyhow::{Context, Result, bail};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace owned by the test.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `ipsecgw-<tag>-<pid>-<n>` with `lo` up.
    pub fn new(tag: &str) -> Result<Self> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("ipsecgw-{tag}-{}-{n}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> args...`, failing on a non-zero exit.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// A command to run inside the namespace (`ip netns exec`).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `program args...` inside; returns stdout, fails on non-zero exit.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String> {
        let out = self.command(program).args(args).output()?;
        check(&format!("{program} {}", args.join(" ")), out)
    }

    /// Runs `sh -c script` inside.
    pub fn sh(&self, script: &str) -> Result<String> {
        self.exec("sh", &["-c", script])
    }

    /// Starts a long-running command inside (caller kills it by PID).
    pub fn spawn(&self, program: &str, args: &[&str]) -> Result<Child> {
        Ok(self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?)
    }

    /// Adds `cidr` (e.g. "192.0.2.1/24") to `ifname` and sets it up.
    pub fn addr(&self, ifname: &str, cidr: &str) -> Result<()> {
        self.ip(&["addr", "add", cidr, "dev", ifname])?;
        self.ip(&["link", "set", ifname, "up"])?;
        Ok(())
    }

    /// `ip route add <dst> via <gw>` (dst may be "default").
    pub fn route(&self, dst: &str, via: &str) -> Result<()> {
        self.ip(&["route", "add", dst, "via", via])?;
        Ok(())
    }

    /// `sysctl -w key=value` inside.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.exec("sysctl", &["-qw", &format!("{key}={value}")])?;
        Ok(())
    }

    /// Path of the namespace file, for setns(2).
    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Runs `f` on a fresh thread that has joined this namespace (only the
    /// network namespace: the mount namespace, and with it /sys/fs/bpf,
    /// stays shared). Interface names and sockets inside `f` are the
    /// namespace's.
    pub fn enter<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let path = self.path();
        let inner = path.clone();
        std::thread::scope(|s| {
            s.spawn(move || -> Result<R> {
                enter_netns(&inner)?;
                Ok(f())
            })
            .join()
            .map_err(|_| anyhow::anyhow!("thread inside {path} panicked"))?
        })
    }
}

/// Runs `f` on a new thread that joined network namespace `netns` (by
/// name, as `ip netns` knows it); sockets `f` opens are the namespace's.
/// The caller joins the handle.
pub fn spawn_in<T: Send + 'static>(
    netns: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::thread::JoinHandle<Result<T>> {
    let path = format!("/run/netns/{netns}");
    std::thread::spawn(move || {
        enter_netns(&path)?;
        f()
    })
}

/// Moves the calling thread into the network namespace at `path`.
pub fn enter_netns(path: &str) -> Result<()> {
    let f = File::open(path).with_context(|| format!("open {path}"))?;
    // SAFETY: setns on a valid namespace fd; affects only this thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        bail!("setns {path}: {}", io::Error::last_os_error());
    }
    Ok(())
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace destroys its interfaces (and veth peers).
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A veth pair `a_if` (in `a`) <-> `b_if` (in `b`), both up, created
/// directly inside the namespaces.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<()> {
    a.ip(&[
        "link",
        "add",
        a_if,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ])?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])?;
    Ok(())
}

fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip").args(args).output()?;
    check(&format!("ip {}", args.join(" ")), out)
}

fn check(what: &str, out: Output) -> Result<String> {
    if !out.status.success() {
        bail!(
            "{what}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The three-namespace gateway topology used by the data-plane tests:
///
/// ```text
/// lan 198.51.100.10 -- 198.51.100.1 [gw] 192.0.2.1 -- 192.0.2.2 [wan] (203.0.113.10 on lo)
/// ```
///
/// `gw` has `in0` (inside) and `out0` (outside) and forwards.
pub struct GatewayTopology {
    pub lan: Netns,
    pub gw: Netns,
    pub wan: Netns,
}

impl GatewayTopology {
    pub fn new(tag: &str) -> Result<Self> {
        let lan = Netns::new(&format!("{tag}-lan"))?;
        let gw = Netns::new(&format!("{tag}-gw"))?;
        let wan = Netns::new(&format!("{tag}-wan"))?;
        veth(&lan, "eth0", &gw, "in0")?;
        veth(&gw, "out0", &wan, "eth0")?;
        lan.addr("eth0", "198.51.100.10/24")?;
        lan.route("default", "198.51.100.1")?;
        gw.addr("in0", "198.51.100.1/24")?;
        gw.addr("out0", "192.0.2.1/24")?;
        gw.sysctl("net.ipv4.ip_forward", "1")?;
        gw.route("203.0.113.0/24", "192.0.2.2")?;
        wan.addr("eth0", "192.0.2.2/24")?;
        wan.ip(&["addr", "add", "203.0.113.10/24", "dev", "lo"])?;
        wan.route("198.51.100.0/24", "192.0.2.1")?;
        Ok(Self { lan, gw, wan })
    }
}
