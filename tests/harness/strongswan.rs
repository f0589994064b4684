//! Debian's strongSwan 5.9.8 (charon + kernel-libipsec, userspace ESP over
//! a TUN device, always UDP-encapsulated) as a real peer inside a
//! namespace. Each charon gets its own mount namespace with a private
//! /run, its own config and vici socket; it is stopped by PID on drop.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::topology::{EAST_GW_OUTSIDE, WEST_GW_OUTSIDE};

pub const CHARON: &str = "/usr/lib/ipsec/charon";

/// One IKEv1 (or v2) connection with one child, site to site.
#[derive(Debug, Clone)]
pub struct Conn {
    pub version: u8,
    pub aggressive: bool,
    pub local_addr: String,
    pub remote_addr: String,
    /// e.g. `3des-sha1-modp1024`
    pub proposals: String,
    /// e.g. `3des-sha1`, `aes256-sha256-modp2048` (with PFS), `aes256gcm16`
    pub esp_proposals: String,
    pub local_ts: String,
    pub remote_ts: String,
    pub psk: String,
    pub dpd_delay_s: Option<u32>,
}

impl Conn {
    /// IKEv1 main mode, one child `lan` between `(address, selector)`
    /// pairs, no DPD.
    pub fn v1(
        local: (&str, &str),
        remote: (&str, &str),
        proposals: &str,
        esp_proposals: &str,
        psk: &str,
    ) -> Conn {
        Conn {
            version: 1,
            aggressive: false,
            local_addr: local.0.into(),
            remote_addr: remote.0.into(),
            proposals: proposals.into(),
            esp_proposals: esp_proposals.into(),
            local_ts: local.1.into(),
            remote_ts: remote.1.into(),
            psk: psk.into(),
            dpd_delay_s: None,
        }
    }

    /// [`Conn::v1`] on east-gw of the topology, toward west-gw, the two
    /// LANs as selectors.
    pub fn east_v1(proposals: &str, esp_proposals: &str, psk: &str) -> Conn {
        Conn::v1(
            (EAST_GW_OUTSIDE, "203.0.113.0/24"),
            (WEST_GW_OUTSIDE, "198.51.100.0/24"),
            proposals,
            esp_proposals,
            psk,
        )
    }

    pub fn swanctl_conf(&self) -> String {
        let dpd = self
            .dpd_delay_s
            .map(|d| format!("    dpd_delay = {d}s\n"))
            .unwrap_or_default();
        format!(
            "connections {{
  s2s {{
    version = {v}
    aggressive = {aggr}
    local_addrs = {la}
    remote_addrs = {ra}
    proposals = {p}
    rekey_time = 0
{dpd}    local {{
      auth = psk
      id = {la}
    }}
    remote {{
      auth = psk
      id = {ra}
    }}
    children {{
      lan {{
        mode = tunnel
        local_ts = {lts}
        remote_ts = {rts}
        esp_proposals = {ep}
        start_action = none
        rekey_time = 0
      }}
    }}
  }}
}}
secrets {{
  ike-s2s {{
    id-a = {la}
    id-b = {ra}
    secret = \"{psk}\"
  }}
}}
",
            v = self.version,
            aggr = if self.aggressive { "yes" } else { "no" },
            la = self.local_addr,
            ra = self.remote_addr,
            p = self.proposals,
            lts = self.local_ts,
            rts = self.remote_ts,
            ep = self.esp_proposals,
            psk = self.psk,
        )
    }
}

/// `charon { ... }` options of the interop tests: aggressive mode with
/// PSK allowed (ASA peers use it), routes into table 220 for
/// kernel-libipsec's TUN, and a short retransmission schedule.
pub const INTEROP_OPTIONS: &str = "  i_dont_care_about_security_and_use_aggressive_mode_psk = yes\n  install_routes = yes\n  routing_table = 220\n  routing_table_prio = 220\n  retransmit_tries = 3\n  retransmit_timeout = 1.0\n";
/// Log levels of the interop tests' `charon.log`: kernel and IKE detail.
pub const INTEROP_LOG_LEVELS: &str = "default = 1\n      knl = 2\n      ike = 2";

/// The plugins every charon here loads (kernel-libipsec: userspace ESP).
const PLUGINS: &str = "random nonce openssl pem pkcs1 x509 pubkey curve25519 aesni aes sha1 sha2 hmac gcm kdf kernel-libipsec kernel-netlink socket-default vici";

/// `strongswan.conf` for a charon whose files live in `dir`.
pub fn strongswan_conf(dir: &Path, options: &str, log_levels: &str) -> String {
    let d = dir.display();
    format!(
        "charon {{\n  load = {PLUGINS}\n{options}\
  filelog {{\n    charon {{\n      path = {d}/charon.log\n      {log_levels}\n      flush_line = yes\n    }}\n  }}\n\
  syslog {{ daemon {{ default = -1 }} }}\n  plugins {{ vici {{ socket = unix://{d}/charon.vici }} }}\n}}\n"
    )
}

/// One charon in a namespace, with its own directory (strongswan.conf,
/// swanctl.conf, charon.log, the vici socket).
pub struct Charon {
    pub netns: String,
    pub dir: PathBuf,
    /// Keep `dir` after the drop (it is kept anyway when the test fails).
    pub keep_dir: bool,
    child: Option<Child>,
}

impl Charon {
    pub fn available() -> bool {
        std::path::Path::new(CHARON).exists() && which("swanctl")
    }

    /// A charon with the interop settings and `conn` loaded.
    pub fn start(netns: &str, conn: &Conn) -> Result<Charon> {
        Self::start_conf(netns, &conn.swanctl_conf())
    }

    /// A charon with the interop settings and `swanctl_conf` loaded.
    pub fn start_conf(netns: &str, swanctl_conf: &str) -> Result<Charon> {
        let c = Self::spawn(netns, "ipsecgw-charon", INTEROP_OPTIONS, INTEROP_LOG_LEVELS)?;
        c.load(swanctl_conf)?;
        Ok(c)
    }

    /// A charon with `options` inside `charon { }` and filelog
    /// `log_levels`, nothing loaded yet; waits for its vici socket.
    pub fn spawn(netns: &str, tag: &str, options: &str, log_levels: &str) -> Result<Charon> {
        let dir = std::env::temp_dir().join(crate::topology::unique(tag));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        fs::write(
            dir.join("strongswan.conf"),
            strongswan_conf(&dir, options, log_levels),
        )?;
        let child = spawn_charon(netns, &dir)?;
        Ok(Charon {
            netns: netns.into(),
            dir,
            keep_dir: false,
            child: Some(child),
        })
    }

    /// Writes `conf` as swanctl.conf and loads all of it (connections and
    /// secrets replace what was loaded before).
    pub fn load(&self, conf: &str) -> Result<()> {
        let f = self.dir.join("swanctl.conf");
        fs::write(&f, conf)?;
        self.swanctl(&[
            "--load-all",
            "--noprompt",
            "--file",
            &f.display().to_string(),
        ])?;
        Ok(())
    }

    /// charon's own PID (`ip netns exec`, `unshare` and `sh` all exec).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("charon.log")
    }

    pub fn swanctl(&self, args: &[&str]) -> Result<String> {
        let uri = format!("unix://{}/charon.vici", self.dir.display());
        let out = Command::new("swanctl")
            .args(args)
            .args(["--uri", &uri])
            .output()?;
        if !out.status.success() {
            bail!(
                "swanctl {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn initiate(&self) -> Result<String> {
        self.swanctl(&["--initiate", "--child", "lan", "--timeout", "20"])
    }

    pub fn list_sas(&self) -> Result<String> {
        self.swanctl(&["--list-sas"])
    }

    /// Waits until `swanctl --list-sas` shows ESTABLISHED and INSTALLED.
    pub fn wait_installed(&self, limit: Duration) -> Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            let sas = self.list_sas()?;
            if sas.contains("ESTABLISHED") && sas.contains("INSTALLED") {
                return Ok(sas);
            }
            if Instant::now() > deadline {
                bail!(
                    "strongSwan SAs not installed after {limit:?}:\n{sas}\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log(&self) -> String {
        let mut s = fs::read_to_string(self.log_path()).unwrap_or_default();
        s.push_str(&fs::read_to_string(self.dir.join("charon.stdout")).unwrap_or_default());
        s
    }
}

/// Starts charon in `netns` with `dir/strongswan.conf`, in a mount
/// namespace of its own with a private /run (its pid file lives there), and
/// waits until its vici socket `dir/charon.vici` exists. Output goes to
/// `dir/charon.stdout`. The returned child is charon itself: `ip netns
/// exec`, `unshare` and `sh` all exec.
pub fn spawn_charon(netns: &str, dir: &Path) -> Result<Child> {
    let out = fs::File::create(dir.join("charon.stdout"))?;
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            netns,
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
        ])
        .arg(format!("mount -t tmpfs tmpfs /run && exec {CHARON}"))
        .env("STRONGSWAN_CONF", dir.join("strongswan.conf"))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .context("spawning charon")?;
    let logs = || {
        let mut s = fs::read_to_string(dir.join("charon.log")).unwrap_or_default();
        s.push_str(&fs::read_to_string(dir.join("charon.stdout")).unwrap_or_default());
        s
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !dir.join("charon.vici").exists() {
        if let Some(st) = child.try_wait()? {
            bail!("charon exited ({st}): {}", logs());
        }
        if Instant::now() > deadline {
            crate::topology::terminate(&mut child, Duration::from_secs(2));
            bail!("charon did not open its vici socket: {}", logs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child)
}

impl Drop for Charon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            crate::topology::terminate(&mut c, Duration::from_secs(5));
        }
        if !std::thread::panicking() && !self.keep_dir {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn which(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}
