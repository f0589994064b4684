//! The four-namespace topology of DESIGN.md:
//!
//! ```text
//! west-lan 198.51.100.10 -- 198.51.100.1 [west-gw] 192.0.2.1 == 192.0.2.2 [east-gw] 203.0.113.1 -- 203.0.113.10 east-lan
//! ```
//!
//! Namespace names carry a unique suffix; everything is deleted on drop,
//! also when a test panics. Nothing is added to the root namespace.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result, bail};

pub const WEST_LAN_HOST: &str = "198.51.100.10";
pub const WEST_GW_INSIDE: &str = "198.51.100.1";
pub const WEST_GW_OUTSIDE: &str = "192.0.2.1";
pub const EAST_GW_OUTSIDE: &str = "192.0.2.2";
pub const EAST_GW_INSIDE: &str = "203.0.113.1";
pub const EAST_LAN_HOST: &str = "203.0.113.10";

/// Interface names inside the gateway namespaces (what configs bind).
pub const GW_INSIDE_IF: &str = "lan0";
pub const GW_OUTSIDE_IF: &str = "wan0";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique suffix for this process and call.
pub fn unique(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a command, failing with its stderr when it fails.
pub fn sh(cmd: &mut Command) -> Result<Output> {
    let out = cmd.output().with_context(|| format!("spawning {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// Stops a child we started: SIGTERM, up to `grace` for it to exit, then
/// SIGKILL. Returns whether it exited on SIGTERM. Always reaps it.
pub fn terminate(c: &mut std::process::Child, grace: std::time::Duration) -> bool {
    // SAFETY: signalling our own child by PID; it is not reaped yet, so the
    // PID cannot have been reused.
    unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + grace;
    while matches!(c.try_wait(), Ok(None)) {
        if std::time::Instant::now() > deadline {
            let _ = c.kill();
            let _ = c.wait();
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    true
}

fn ip(args: &[&str]) -> Result<()> {
    sh(Command::new("ip").args(args)).map(|_| ())
}

pub struct Topology {
    pub west_lan: String,
    pub west_gw: String,
    pub east_gw: String,
    pub east_lan: String,
    created: Vec<String>,
}

impl Topology {
    /// Builds the four namespaces. `route_between_gateways` adds, inside
    /// each gateway, a kernel route to the far LAN through the other
    /// gateway, so that anything the data plane failed to protect would
    /// leak in cleartext (the fail-closed tests want that possibility).
    pub fn new(tag: &str, route_between_gateways: bool) -> Result<Topology> {
        Self::with_queues(tag, route_between_gateways, 1)
    }

    /// As [`Topology::new`], with every veth given `queues` receive and
    /// transmit queues (the ESP engine then runs one worker per queue;
    /// veth hands a packet to the peer's receive queue of the same number
    /// as the transmit queue the sender's flow hash picked).
    pub fn with_queues(tag: &str, route_between_gateways: bool, queues: u32) -> Result<Topology> {
        Self::build(tag, route_between_gateways, queues, false)
    }

    /// As [`Topology::new`], but the LAN hosts keep veth's default
    /// offloads: their TCP/UDP packets reach the gateway with the checksum
    /// only started (CHECKSUM_PARTIAL), as from any host in a container or
    /// namespace lab. The gateway must finish it.
    pub fn with_default_offloads(tag: &str, route_between_gateways: bool) -> Result<Topology> {
        Self::build(tag, route_between_gateways, 1, true)
    }

    fn build(
        tag: &str,
        route_between_gateways: bool,
        queues: u32,
        default_offloads: bool,
    ) -> Result<Topology> {
        let id = unique(tag);
        let mut t = Topology {
            west_lan: format!("ipsecgw-wl-{id}"),
            west_gw: format!("ipsecgw-wg-{id}"),
            east_gw: format!("ipsecgw-eg-{id}"),
            east_lan: format!("ipsecgw-el-{id}"),
            created: Vec::new(),
        };
        for ns in [&t.west_lan, &t.west_gw, &t.east_gw, &t.east_lan].map(|s| s.clone()) {
            ip(&["netns", "add", &ns])?;
            t.created.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        // veth pairs, created directly inside their namespaces.
        let q = queues.to_string();
        let veth = |a: &str, ns_a: &str, b: &str, ns_b: &str| {
            let mut args = vec!["link", "add", a, "netns", ns_a];
            let qs = ["numtxqueues", q.as_str(), "numrxqueues", q.as_str()];
            if queues > 1 {
                args.extend(qs);
            }
            args.extend(["type", "veth", "peer", "name", b, "netns", ns_b]);
            if queues > 1 {
                args.extend(qs);
            }
            ip(&args)
        };
        veth("eth0", &t.west_lan, GW_INSIDE_IF, &t.west_gw)?;
        veth(GW_OUTSIDE_IF, &t.west_gw, GW_OUTSIDE_IF, &t.east_gw)?;
        veth(GW_INSIDE_IF, &t.east_gw, "eth0", &t.east_lan)?;
        let addrs = [
            (&t.west_lan, "eth0", "198.51.100.10/24"),
            (&t.west_gw, GW_INSIDE_IF, "198.51.100.1/24"),
            (&t.west_gw, GW_OUTSIDE_IF, "192.0.2.1/24"),
            (&t.east_gw, GW_OUTSIDE_IF, "192.0.2.2/24"),
            (&t.east_gw, GW_INSIDE_IF, "203.0.113.1/24"),
            (&t.east_lan, "eth0", "203.0.113.10/24"),
        ];
        for (ns, dev, addr) in addrs {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        // veth hands packets on with the TCP/UDP checksum left for "the
        // hardware" to fill in (CHECKSUM_PARTIAL). The gateway finishes such
        // checksums; most tests still have the LAN hosts compute them, as
        // behind a real NIC, and `with_default_offloads` keeps veth's way.
        let full_checksums: &[&String] = if default_offloads {
            &[]
        } else {
            &[&t.west_lan, &t.east_lan]
        };
        for ns in full_checksums {
            sh(Command::new("ip")
                .args(["netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off"]))?;
        }
        ip(&[
            "-n",
            &t.west_lan,
            "route",
            "add",
            "default",
            "via",
            WEST_GW_INSIDE,
        ])?;
        ip(&[
            "-n",
            &t.east_lan,
            "route",
            "add",
            "default",
            "via",
            EAST_GW_INSIDE,
        ])?;
        for gw in [&t.west_gw, &t.east_gw] {
            for key in [
                "net.ipv4.ip_forward=1",
                "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0",
            ] {
                sh(Command::new("ip").args(["netns", "exec", gw, "sysctl", "-q", "-w", key]))?;
            }
        }
        if route_between_gateways {
            ip(&[
                "-n",
                &t.west_gw,
                "route",
                "add",
                "203.0.113.0/24",
                "via",
                EAST_GW_OUTSIDE,
            ])?;
            ip(&[
                "-n",
                &t.east_gw,
                "route",
                "add",
                "198.51.100.0/24",
                "via",
                WEST_GW_OUTSIDE,
            ])?;
        }
        Ok(t)
    }

    /// A command to run inside namespace `ns`.
    pub fn exec(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// One counter of a namespace's /proc/net/snmp: `group` is the row
    /// prefix (`Tcp`, `Udp`, `Icmp`, `Ip`), `name` the column
    /// (`InCsumErrors`, `ReasmOKs`...).
    pub fn snmp(&self, ns: &str, group: &str, name: &str) -> Result<u64> {
        crate::counters::Counters::snmp(ns, group)?.require(name)
    }

    /// `ping -c count` from one namespace; returns how many replies came.
    pub fn ping(&self, ns: &str, dst: &str, count: u32, interval_s: f32) -> Result<u32> {
        self.ping_from(ns, None, dst, count, interval_s)
    }

    /// [`Topology::ping`] from source address `src` (`ping -I`) when
    /// given: a second address of a LAN host, in another ACL line.
    pub fn ping_from(
        &self,
        ns: &str,
        src: Option<&str>,
        dst: &str,
        count: u32,
        interval_s: f32,
    ) -> Result<u32> {
        let mut cmd = self.exec(ns, "ping");
        cmd.args([
            "-n",
            "-q",
            "-c",
            &count.to_string(),
            "-i",
            &interval_s.to_string(),
            "-W",
            "2",
        ]);
        if let Some(src) = src {
            cmd.args(["-I", src]);
        }
        let out = cmd.arg(dst).output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "5 packets transmitted, 5 received, ..."
        let received = text
            .lines()
            .find(|l| l.contains("packets transmitted"))
            .and_then(|l| l.split(", ").nth(1))
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Ok(received)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
