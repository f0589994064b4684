//! An ipsecgw daemon running inside a gateway namespace, with its own
//! control socket, BPF pin instance and log file. Stopped (by PID) on drop.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The `ipsecgw` binary next to the running test or tool
/// (`target/<profile>/ipsecgw`), or `$IPSECGW_BIN`.
pub fn ipsecgw_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("IPSECGW_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("ipsecgw")
}

/// Makes `cmd` run in network namespace `netns` (setns before exec).
pub fn in_netns(cmd: &mut Command, netns: &str) -> Result<()> {
    use std::os::fd::IntoRawFd;
    use std::os::unix::process::CommandExt;
    let fd = fs::File::open(format!("/run/netns/{netns}"))
        .with_context(|| format!("netns {netns}"))?
        .into_raw_fd();
    // SAFETY: setns and close are async-signal-safe; the fd stays open in
    // the parent until the Command is dropped (closed by the OS at exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

/// How the harness puts a daemon into its namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launch {
    /// setns(CLONE_NEWNET) before exec: only the network namespace, the
    /// host's mounts (and its bpffs) stay.
    JoinNetns,
    /// `ip netns exec NS ipsecgw ...`, as an operator starts it by hand:
    /// also a private mount namespace with a fresh /sys, whose
    /// /sys/fs/bpf is not the host's bpffs.
    IpNetnsExec,
}

pub struct Gateway {
    pub name: String,
    pub netns: String,
    pub dir: PathBuf,
    pub control: PathBuf,
    pub instance: String,
    extra_args: Vec<String>,
    rust_log: String,
    launch: Launch,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Gateway {
    /// Starts `ipsecgw run` in `netns` with `config`, and waits until its
    /// control socket answers (or fails with the daemon's log).
    pub fn start(name: &str, netns: &str, config: &str, extra_args: &[&str]) -> Result<Gateway> {
        let level = std::env::var("IPSECGW_TEST_LOG").unwrap_or_else(|_| "info".into());
        Self::start_with_log(name, netns, config, extra_args, &level)
    }

    /// [`Gateway::start`] with an explicit `RUST_LOG` for this daemon only
    /// (tests run in parallel threads, so no process-wide variable).
    pub fn start_with_log(
        name: &str,
        netns: &str,
        config: &str,
        extra_args: &[&str],
        rust_log: &str,
    ) -> Result<Gateway> {
        let mut gw = Self::prepare(name, netns, config, extra_args, rust_log)?;
        gw.spawn(false)?;
        gw.wait_ready(Duration::from_secs(20))?;
        Ok(gw)
    }

    /// Starts `ipsecgw run` the way `launch` says, with extra environment
    /// `env`, and returns at once: for tests of start-up itself (call
    /// [`Gateway::wait_ready`] or watch the control socket).
    pub fn launch(
        name: &str,
        netns: &str,
        config: &str,
        extra_args: &[&str],
        launch: Launch,
        env: &[(&str, &str)],
    ) -> Result<Gateway> {
        let level = std::env::var("IPSECGW_TEST_LOG").unwrap_or_else(|_| "info".into());
        let mut gw = Self::prepare(name, netns, config, extra_args, &level)?;
        gw.launch = launch;
        gw.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        gw.spawn(false)?;
        Ok(gw)
    }

    fn prepare(
        name: &str,
        netns: &str,
        config: &str,
        extra_args: &[&str],
        rust_log: &str,
    ) -> Result<Gateway> {
        let instance = crate::topology::unique(name);
        let dir = std::env::temp_dir().join(format!("ipsecgw-test-{instance}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join("gateway.conf"), config)?;
        let control = dir.join("control.sock");
        Ok(Gateway {
            name: name.into(),
            netns: netns.into(),
            dir,
            control,
            instance,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            rust_log: rust_log.into(),
            launch: Launch::JoinNetns,
            env: Vec::new(),
            child: None,
        })
    }

    /// Starts the daemon again with the same instance name (so it finds
    /// its pinned BPF objects), config, control socket and log file (the
    /// new run's lines are appended). A running daemon is killed first.
    pub fn restart(&mut self) -> Result<()> {
        self.kill9()?;
        self.spawn(true)?;
        self.wait_ready(Duration::from_secs(20))
    }

    fn spawn(&mut self, append: bool) -> Result<()> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(self.dir.join("daemon.log"))?;
        // By default join only the network namespace; `ip netns exec`
        // (which also makes a mount namespace with its own /sys) is what
        // the daemon must survive too: see `Launch`.
        let mut cmd = match self.launch {
            Launch::JoinNetns => {
                let mut c = Command::new(ipsecgw_bin());
                in_netns(&mut c, &self.netns)?;
                c
            }
            Launch::IpNetnsExec => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &self.netns]).arg(ipsecgw_bin());
                c
            }
        };
        let child = cmd
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("run")
            .arg("--config")
            .arg(self.config_path())
            .arg("--control")
            .arg(&self.control)
            .arg("--instance")
            .arg(&self.instance)
            .args(&self.extra_args)
            .env("RUST_LOG", &self.rust_log)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawning ipsecgw")?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the control socket answers (fails with the log if the
    /// daemon exits first or `limit` passes).
    pub fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                bail!("{} exited early ({status}):\n{}", self.name, self.log());
            }
            if self.control.exists() && self.cli(&["show", "running-config"]).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not come up in {limit:?}:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The daemon's exit status, if it has exited (then it is reaped).
    pub fn exited(&mut self) -> Result<Option<std::process::ExitStatus>> {
        match self.child.as_mut() {
            Some(c) => Ok(c.try_wait()?),
            None => Ok(None),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    /// Runs `ipsecgw --control SOCK <args>` (the CLI talks to the daemon
    /// over its socket, so it need not run inside the namespace).
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(ipsecgw_bin())
            .arg("--control")
            .arg(&self.control)
            .args(args)
            .output()?;
        if !out.status.success() {
            bail!(
                "ipsecgw {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn cli_json(&self, args: &[&str]) -> Result<serde_json::Value> {
        let mut a = args.to_vec();
        a.push("--json");
        Ok(serde_json::from_str(&self.cli(&a)?)?)
    }

    /// Every IPsec SA pair, as `show crypto ipsec sa --json` lists them
    /// (panics if the daemon does not answer: a test cannot go on).
    pub fn ipsec_sas(&self) -> Vec<serde_json::Value> {
        self.cli_json(&["show", "crypto", "ipsec", "sa"])
            .unwrap_or_else(|e| panic!("{}: show crypto ipsec sa: {e}", self.name))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `show crypto ipsec sa --json` lists at least one SA.
    pub fn wait_ipsec_sa(&self, limit: Duration) -> Result<serde_json::Value> {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.cli_json(&["show", "crypto", "ipsec", "sa"])?;
            if v.as_array().is_some_and(|a| !a.is_empty()) {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("{}: no IPsec SA after {limit:?}\n{}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every IKEv2 SA of `show crypto ikev2 sa --json`, in any state (the
    /// entries for peers that are down, which carry no SA, left out).
    pub fn ikev2_sas(&self) -> Vec<serde_json::Value> {
        self.cli_json(&["show", "crypto", "ikev2", "sa"])
            .unwrap_or_else(|e| panic!("{}: show crypto ikev2 sa: {e}", self.name))
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.get("session_id").is_some())
            .collect()
    }

    /// Waits until an IKEv2 SA is READY with at least `children` CHILD
    /// SAs, and returns it (panics with the log after `limit`).
    pub fn wait_ikev2_ready(&self, children: usize, limit: Duration) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            let sas = self.ikev2_sas();
            if let Some(sa) = sas.iter().find(|s| {
                s["state"] == "READY"
                    && s["children"]
                        .as_array()
                        .is_some_and(|c| c.len() >= children)
            }) {
                return sa.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{}: no READY IKEv2 SA with {children} children after {limit:?}: {sas:?}\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: the crash case (pinned BPF objects stay behind).
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// SIGTERM, then wait for a clean exit (SIGKILL after 10 s).
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take()
            && !crate::topology::terminate(&mut c, Duration::from_secs(10))
        {
            bail!("{} ignored SIGTERM", self.name);
        }
        Ok(())
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("gateway.conf")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.stop();
        // A killed daemon leaves its pins; remove this instance's only.
        let _ = fs::remove_dir_all(format!("/sys/fs/bpf/ipsecgw/{}", self.instance));
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A counter of a `--json` answer (panics, naming it, if it is missing).
pub fn num(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

/// Two gateways in `t`, each with the seed configuration for its side
/// passed through `edit`: east first (it must listen when west's first
/// packet raises the tunnel), then west with `west_args`. Returns (west,
/// east).
pub fn seed_pair(
    t: &crate::topology::Topology,
    psk: &str,
    edit: impl Fn(String) -> String,
    west_args: &[&str],
) -> Result<(Gateway, Gateway)> {
    use crate::config::{east_seed, west_seed};
    let east = Gateway::start("east", &t.east_gw, &edit(east_seed(psk)), &[])?;
    let west = Gateway::start("west", &t.west_gw, &edit(west_seed(psk)), west_args)?;
    Ok((west, east))
}

/// Two gateways in `t` negotiating IKEv2 only (AES-256, SHA-256, group
/// 14, one key both ways: [`Ikev2::aes256`]), each side's configuration
/// passed through `edit` with the side's name, `"west"` or `"east"` (more
/// ACL lines, lifetimes), both started with `args`: east first, then
/// west. Returns (west, east).
///
/// [`Ikev2::aes256`]: crate::config::Ikev2::aes256
pub fn ikev2_pair(
    t: &crate::topology::Topology,
    psk: &str,
    edit: impl Fn(&str, crate::config::GatewayConfig) -> crate::config::GatewayConfig,
    args: &[&str],
) -> Result<(Gateway, Gateway)> {
    use crate::config::{GatewayConfig, Ikev2};
    let v2 = |side: &str, c: GatewayConfig| edit(side, c.ikev2_only(Ikev2::aes256(psk))).render();
    let east_cfg = v2("east", GatewayConfig::east(psk));
    let east = Gateway::start("east", &t.east_gw, &east_cfg, args)?;
    let west_cfg = v2("west", GatewayConfig::west(psk));
    let west = Gateway::start("west", &t.west_gw, &west_cfg, args)?;
    Ok((west, east))
}
