//! `bench-e2e`: end-to-end TCP throughput through the four-namespace
//! topology of DESIGN.md, every path measured side by side in one run:
//!
//! ```text
//! west-lan 198.51.100.10 -- [west-gw] 192.0.2.1 == 192.0.2.2 [east-gw] -- 203.0.113.10 east-lan
//! ```
//!
//! 1. plain routing (the gateways forward, each has a kernel route to the
//!    far LAN: the ceiling of the topology);
//! 2. strongSwan <-> strongSwan (charon + kernel-libipsec, IKEv1) with
//!    AES-128-GCM and 3DES-SHA1;
//! 3. ipsecgw <-> ipsecgw with the same two transforms.
//!
//! Each path gets a fresh topology (same names, same addresses) so that no
//! state of one path (routes in table 220, TUN devices, pins) can help or
//! hurt the next. The tunnel paths get no route between the gateways: the
//! only way from one LAN to the other is through the tunnel, so a number
//! measured there cannot be cleartext leaking around it.
//!
//! iperf3 (`--json`) runs 1 stream, then 4 streams, `--seconds` each; the
//! server in east-lan is started with `-1` for each run and killed by PID.
//! Every wait is bounded; namespaces, charons and daemons are removed on
//! drop, also on error and on SIGINT/SIGTERM (a flag stops the run at the
//! next wait, then the normal drops clean up).
//!
//! Usage: `bench-e2e [--seconds N] [--markdown FILE] [--only plain,strongswan,ipsecgw]
//! [--xdp-mode native|skb] [--ipsecgw-routes] [--queues N]` (root; `cargo xtask bench e2e -- ARGS`).
//! The daemon is `ipsecgw` next to this binary, or `$IPSECGW_BIN`.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use harness::config::GatewayConfig;
use harness::gateway::Gateway;
use harness::process::Proc;
use harness::strongswan::{Charon, Conn};
use harness::topology::{
    EAST_GW_OUTSIDE, EAST_LAN_HOST, Topology, WEST_GW_OUTSIDE, WEST_LAN_HOST, unique,
};

const WEST_NET: &str = "198.51.100.0";
const EAST_NET: &str = "203.0.113.0";
const PSK: &str = "bench-e2e-psk-0123456789";
const STREAMS: [u32; 2] = [1, 4];

/// Set by SIGINT/SIGTERM; every wait loop checks it.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn check_stop() -> Result<()> {
    if STOP.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(())
}

/// Sleeps in small steps so that a signal is noticed quickly.
fn nap(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        check_stop()?;
        std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transform {
    AesGcm128,
    TdesSha1,
}

impl Transform {
    fn label(self) -> &'static str {
        match self {
            Transform::AesGcm128 => "AES-128-GCM",
            Transform::TdesSha1 => "3DES-SHA1",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    Plain,
    StrongSwan(Transform),
    Ipsecgw(Transform),
}

impl Path {
    fn family(self) -> &'static str {
        match self {
            Path::Plain => "plain",
            Path::StrongSwan(_) => "strongswan",
            Path::Ipsecgw(_) => "ipsecgw",
        }
    }

    fn label(self) -> String {
        match self {
            Path::Plain => "plain routing, no tunnel".into(),
            Path::StrongSwan(t) => format!("strongSwan kernel-libipsec, {}", t.label()),
            Path::Ipsecgw(t) => format!("ipsecgw, {}", t.label()),
        }
    }
}

const PATHS: [Path; 5] = [
    Path::Plain,
    Path::StrongSwan(Transform::AesGcm128),
    Path::StrongSwan(Transform::TdesSha1),
    Path::Ipsecgw(Transform::AesGcm128),
    Path::Ipsecgw(Transform::TdesSha1),
];

struct Opts {
    seconds: u32,
    markdown: Option<PathBuf>,
    only: Option<Vec<String>>,
    xdp_mode: Option<String>,
    /// Give the ipsecgw gateways kernel routes to the far LAN too (if the
    /// daemon needs them); off by default so that a figure cannot be
    /// cleartext routed around a broken data plane.
    ipsecgw_routes: bool,
    /// Receive/transmit queues per veth (ipsecgw runs a worker per queue).
    queues: u32,
}

fn parse_args() -> Result<Opts> {
    let mut o = Opts {
        seconds: 5,
        markdown: None,
        only: None,
        xdp_mode: None,
        ipsecgw_routes: false,
        queues: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| anyhow!("{name} needs a value"));
        match a.as_str() {
            "--seconds" => {
                o.seconds = value("--seconds")?
                    .parse()
                    .context("--seconds takes a whole number")?;
                if !(1..=120).contains(&o.seconds) {
                    bail!("--seconds must be 1..=120");
                }
            }
            "--markdown" => o.markdown = Some(value("--markdown")?.into()),
            "--only" => {
                let v: Vec<String> = value("--only")?
                    .split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .collect();
                for f in &v {
                    if !["plain", "strongswan", "ipsecgw"].contains(&f.as_str()) {
                        bail!("--only takes plain, strongswan, ipsecgw (comma-separated)");
                    }
                }
                o.only = Some(v);
            }
            "--xdp-mode" => o.xdp_mode = Some(value("--xdp-mode")?),
            "--ipsecgw-routes" => o.ipsecgw_routes = true,
            "--queues" => {
                o.queues = value("--queues")?
                    .parse()
                    .ok()
                    .filter(|q| (1..=16).contains(q))
                    .context("--queues takes 1 to 16")?
            }
            "-h" | "--help" => {
                println!(
                    "bench-e2e [--seconds N] [--markdown FILE] [--only plain,strongswan,ipsecgw] [--xdp-mode native|skb] [--ipsecgw-routes] [--queues N]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    Ok(o)
}

/// One iperf3 run, from its `--json` report.
#[derive(Clone, Copy, Debug)]
struct Measure {
    /// Receiver-side goodput: what actually crossed the tunnel.
    gbps: f64,
    retransmits: u64,
}

enum Outcome {
    Measured(Vec<Measure>),
    /// ipsecgw could not be started: reported, not an error of the run.
    NotAvailable(String),
    Failed(String),
}

/// Parses iperf3's `--json` report (TCP): receiver bits/s and retransmits.
fn parse_iperf_json(text: &str) -> Result<Measure> {
    let v: serde_json::Value = serde_json::from_str(text).context("iperf3 output is not JSON")?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        bail!("iperf3: {e}");
    }
    let end = v
        .get("end")
        .ok_or_else(|| anyhow!("iperf3 JSON has no `end`"))?;
    let bps = end
        .pointer("/sum_received/bits_per_second")
        .and_then(|b| b.as_f64())
        .ok_or_else(|| anyhow!("iperf3 JSON has no end.sum_received.bits_per_second"))?;
    let retransmits = end
        .pointer("/sum_sent/retransmits")
        .and_then(|r| r.as_u64())
        .unwrap_or(0);
    Ok(Measure {
        gbps: bps / 1e9,
        retransmits,
    })
}

/// Waits until something listens on TCP 5201 in `ns`.
fn wait_listening(t: &Topology, ns: &str, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        check_stop()?;
        let out = t
            .exec(ns, "ss")
            .args(["-Hltn", "sport = :5201"])
            .output()
            .context("running ss")?;
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("iperf3 server did not listen within {limit:?}");
        }
        nap(Duration::from_millis(50))?;
    }
}

/// One iperf3 TCP run west-lan -> east-lan with `streams` parallel streams.
fn iperf(t: &Topology, streams: u32, seconds: u32) -> Result<Measure> {
    let _server = Proc::new(
        t.exec(&t.east_lan, "iperf3")
            .args(["-s", "-1", "-B", EAST_LAN_HOST])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning iperf3 server")?,
    );
    wait_listening(t, &t.east_lan, Duration::from_secs(5))?;
    // The report goes to a file: a pipe could fill while we wait.
    let dir = std::env::temp_dir().join(unique("ipsecgw-bench-e2e"));
    fs::create_dir_all(&dir)?;
    let report = dir.join("iperf3.json");
    let result = (|| {
        let mut client = Proc::new(
            t.exec(&t.west_lan, "iperf3")
                .args(["-c", EAST_LAN_HOST, "-B", WEST_LAN_HOST, "-J"])
                .args(["--connect-timeout", "3000"])
                .args(["-t", &seconds.to_string(), "-P", &streams.to_string()])
                .stdin(Stdio::null())
                .stdout(fs::File::create(&report)?)
                .stderr(Stdio::null())
                .spawn()
                .context("spawning iperf3 client")?,
        );
        // iperf3 itself gives up after the connect timeout; the margin
        // covers setup and the final exchange of results.
        let limit = Duration::from_secs(u64::from(seconds) + 20);
        let deadline = Instant::now() + limit;
        loop {
            check_stop()?;
            let exited = match client.child() {
                Some(c) => c.try_wait()?.is_some(),
                None => true,
            };
            if exited {
                break;
            }
            if Instant::now() > deadline {
                bail!("iperf3 client still running after {limit:?}: killed");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        parse_iperf_json(&fs::read_to_string(&report)?)
    })();
    let _ = fs::remove_dir_all(&dir);
    result
}

/// Pings west-lan -> east-lan until one reply (the first packets may be
/// what raises the tunnel), bounded by `limit`.
fn wait_reachable(t: &Topology, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        check_stop()?;
        if t.ping(&t.west_lan, EAST_LAN_HOST, 1, 0.2)? == 1 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("east-lan not reachable from west-lan within {limit:?}");
        }
    }
}

fn charon_conn(t: Transform, local: &str, remote: &str, lts: &str, rts: &str) -> Conn {
    let (proposals, esp) = match t {
        Transform::AesGcm128 => ("aes128-sha256-modp2048", "aes128gcm16"),
        Transform::TdesSha1 => ("3des-sha1-modp1024", "3des-sha1"),
    };
    Conn::v1((local, lts), (remote, rts), proposals, esp, PSK)
}

/// The seed configuration, or its AES-GCM variant (same phase 1).
fn ipsecgw_config(t: Transform, local_lan: &str, remote_lan: &str, peer: &str) -> Result<String> {
    let seed = GatewayConfig::seed(local_lan, remote_lan, peer, PSK);
    Ok(match t {
        Transform::TdesSha1 => seed.render(),
        Transform::AesGcm128 => seed.gcm().render(),
    })
}

/// Everything that must outlive the measurement (dropped before the
/// topology, which is dropped last). One value per benchmark path, so
/// the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Peers {
    None,
    StrongSwan(Charon, Charon),
    Ipsecgw(Gateway, Gateway),
}

impl Peers {
    fn log_tail(&self) -> String {
        let tail = |s: String| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        };
        match self {
            Peers::None => String::new(),
            Peers::StrongSwan(w, e) => {
                format!("west:\n{}\neast:\n{}", tail(w.log()), tail(e.log()))
            }
            Peers::Ipsecgw(w, e) => format!("west:\n{}\neast:\n{}", tail(w.log()), tail(e.log())),
        }
    }
}

fn bring_up(path: Path, t: &Topology, opts: &Opts) -> Result<Peers, Outcome> {
    let failed = |e: anyhow::Error| Outcome::Failed(format!("{e:#}"));
    match path {
        Path::Plain => Ok(Peers::None),
        Path::StrongSwan(tr) => {
            let west = Charon::start(
                &t.west_gw,
                &charon_conn(
                    tr,
                    WEST_GW_OUTSIDE,
                    EAST_GW_OUTSIDE,
                    "198.51.100.0/24",
                    "203.0.113.0/24",
                ),
            )
            .map_err(failed)?;
            let east = Charon::start(
                &t.east_gw,
                &charon_conn(
                    tr,
                    EAST_GW_OUTSIDE,
                    WEST_GW_OUTSIDE,
                    "203.0.113.0/24",
                    "198.51.100.0/24",
                ),
            )
            .map_err(failed)?;
            west.initiate().map_err(failed)?;
            let sas = west
                .wait_installed(Duration::from_secs(20))
                .map_err(failed)?;
            east.wait_installed(Duration::from_secs(5))
                .map_err(failed)?;
            // The number belongs to the transform only if charon really
            // negotiated it (swanctl names: AES_GCM_16-128, 3DES_CBC/HMAC_SHA1_96).
            let expect = match tr {
                Transform::AesGcm128 => "AES_GCM_16-128",
                Transform::TdesSha1 => "3DES_CBC/HMAC_SHA1_96",
            };
            if !sas.contains(expect) {
                return Err(Outcome::Failed(format!(
                    "charon did not negotiate {expect}:\n{sas}"
                )));
            }
            Ok(Peers::StrongSwan(west, east))
        }
        Path::Ipsecgw(tr) => {
            let na = |e: anyhow::Error| Outcome::NotAvailable(reason(&e));
            let extra: Vec<&str> = match &opts.xdp_mode {
                Some(m) => vec!["--xdp-mode", m.as_str()],
                None => vec![],
            };
            let wcfg = ipsecgw_config(tr, WEST_NET, EAST_NET, EAST_GW_OUTSIDE).map_err(failed)?;
            let ecfg = ipsecgw_config(tr, EAST_NET, WEST_NET, WEST_GW_OUTSIDE).map_err(failed)?;
            let west = Gateway::start("bench-west", &t.west_gw, &wcfg, &extra).map_err(na)?;
            let east = Gateway::start("bench-east", &t.east_gw, &ecfg, &extra).map_err(na)?;
            // The tunnel is raised by interesting traffic.
            wait_reachable(t, Duration::from_secs(20))
                .map_err(|e| Outcome::NotAvailable(format!("no tunnel traffic: {}", reason(&e))))?;
            west.wait_ipsec_sa(Duration::from_secs(5)).map_err(na)?;
            Ok(Peers::Ipsecgw(west, east))
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(200).collect()
}

/// A one-line reason from a harness error, which is often a headline
/// followed by the daemon's whole log: the headline plus the log's
/// `Error:` line (what `ipsecgw run` prints when it gives up), if any.
fn reason(e: &anyhow::Error) -> String {
    let full = format!("{e:#}");
    let head = first_line(&full);
    match full
        .lines()
        .skip(1)
        .find(|l| l.trim_start().starts_with("Error:"))
    {
        Some(err) => format!("{} {}", head, first_line(err.trim())),
        None => head,
    }
}

fn run_path(path: Path, opts: &Opts) -> Outcome {
    let routes = match path {
        Path::Plain => true,
        Path::StrongSwan(_) => false,
        Path::Ipsecgw(_) => opts.ipsecgw_routes,
    };
    let topo = match Topology::with_queues("bench", routes, opts.queues) {
        Ok(t) => t,
        Err(e) => return Outcome::Failed(format!("topology: {e:#}")),
    };
    let peers = match bring_up(path, &topo, opts) {
        Ok(p) => p,
        Err(o) => return o,
    };
    if let Err(e) = wait_reachable(&topo, Duration::from_secs(10)) {
        return Outcome::Failed(format!("{e:#}\n{}", peers.log_tail()));
    }
    let mut got = Vec::new();
    for streams in STREAMS {
        eprintln!("   iperf3 -P {streams} -t {} ...", opts.seconds);
        match iperf(&topo, streams, opts.seconds) {
            Ok(m) => got.push(m),
            Err(e) => return Outcome::Failed(format!("{e:#}\n{}", peers.log_tail())),
        }
    }
    drop(peers);
    drop(topo);
    Outcome::Measured(got)
}

fn fmt_gbps(g: f64) -> String {
    if g >= 10.0 {
        format!("{g:.1}")
    } else if g >= 1.0 {
        format!("{g:.2}")
    } else {
        format!("{g:.3}")
    }
}

fn fmt_ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => {
            let r = a / b;
            if r >= 0.1 {
                format!("{r:.2}")
            } else {
                format!("{r:.3}")
            }
        }
        _ => "–".into(),
    }
}

fn gbps(results: &[(Path, Outcome)], path: Path, i: usize) -> Option<f64> {
    results
        .iter()
        .find(|(p, _)| *p == path)
        .and_then(|(_, o)| match o {
            Outcome::Measured(m) => m.get(i).map(|m| m.gbps),
            _ => None,
        })
}

/// The result table (Markdown, also readable on a terminal).
fn table(results: &[(Path, Outcome)]) -> String {
    let mut s = String::new();
    s.push_str(
        "| path | 1 stream Gbit/s | 4 streams Gbit/s | / plain (1, 4) | ipsecgw / strongSwan (1, 4) | retransmits (1, 4) |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut notes = Vec::new();
    for (path, outcome) in results {
        let label = path.label();
        match outcome {
            Outcome::Measured(m) => {
                let vs_plain: Vec<String> = (0..STREAMS.len())
                    .map(|i| fmt_ratio(gbps(results, *path, i), gbps(results, Path::Plain, i)))
                    .collect();
                let vs_swan = match path {
                    Path::Ipsecgw(t) => (0..STREAMS.len())
                        .map(|i| {
                            fmt_ratio(
                                gbps(results, *path, i),
                                gbps(results, Path::StrongSwan(*t), i),
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => "–".into(),
                };
                let _ = writeln!(
                    s,
                    "| {label} | {} | {} | {} | {vs_swan} | {} |",
                    m.first().map_or("–".into(), |m| fmt_gbps(m.gbps)),
                    m.get(1).map_or("–".into(), |m| fmt_gbps(m.gbps)),
                    if vs_plain.iter().all(|r| r == "–") {
                        "–".into()
                    } else {
                        vs_plain.join(", ")
                    },
                    m.iter()
                        .map(|m| m.retransmits.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                );
            }
            Outcome::NotAvailable(why) => {
                let _ = writeln!(s, "| {label} | not available | | | | |");
                notes.push(format!("{}: not available ({why})", label));
            }
            Outcome::Failed(why) => {
                let _ = writeln!(s, "| {label} | failed | | | | |");
                notes.push(format!("{label}: failed: {}", first_line(why)));
            }
        }
    }
    for n in notes {
        let _ = write!(s, "\n- {n}");
    }
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn shell_out(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn markdown_section(opts: &Opts, load_before: &str, table: &str) -> String {
    let date = shell_out("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    // xtask passes the command the user typed; run directly, rebuild it.
    let command = std::env::var("IPSECGW_BENCH_COMMAND").unwrap_or_else(|_| {
        let args: Vec<String> = std::env::args().skip(1).collect();
        format!("bench-e2e {}", args.join(" ")).trim().to_string()
    });
    format!(
        "\n### End-to-end run, {date}\n\n\
         Command: `{command}` (iperf3 TCP west-lan -> east-lan, {s} s per run, receiver goodput). \
         Machine: {cpus} CPUs, kernel {kernel}, load average before the run: {load_before}.\n\n{table}",
        s = opts.seconds,
        cpus = shell_out("nproc", &[]),
        kernel = shell_out("uname", &["-r"]),
    )
}

fn main() -> Result<()> {
    let opts = parse_args()?;
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        let h = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::signal(libc::SIGINT, h);
        libc::signal(libc::SIGTERM, h);
    }
    if !Charon::available() {
        eprintln!("note: strongSwan (charon, swanctl) missing: `cargo xtask setup` installs it");
    }
    let load_before = fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let mut results: Vec<(Path, Outcome)> = Vec::new();
    for path in PATHS {
        if let Some(only) = &opts.only
            && !only.iter().any(|f| f == path.family())
        {
            continue;
        }
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        eprintln!("== {}", path.label());
        let started = Instant::now();
        let outcome = run_path(path, &opts);
        match &outcome {
            Outcome::Measured(m) => eprintln!(
                "   {} Gbit/s ({:.0?})",
                m.iter()
                    .map(|m| fmt_gbps(m.gbps))
                    .collect::<Vec<_>>()
                    .join(" / "),
                started.elapsed()
            ),
            Outcome::NotAvailable(why) => eprintln!("   ipsecgw: not available ({why})"),
            Outcome::Failed(why) => eprintln!("   failed: {why}"),
        }
        results.push((path, outcome));
    }
    if STOP.load(Ordering::SeqCst) {
        bail!("interrupted: namespaces and processes removed, no results written");
    }
    let t = table(&results);
    println!("\n{t}");
    if let Some(file) = &opts.markdown {
        let section = markdown_section(&opts, &load_before, &t);
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .with_context(|| format!("opening {}", file.display()))?;
        f.write_all(section.as_bytes())?;
        eprintln!("appended to {}", file.display());
    }
    let failed = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .count();
    if failed > 0 {
        bail!("{failed} path(s) failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iperf3_tcp_report() {
        let j = r#"{"start":{},"intervals":[],"end":{"sum_sent":{"bits_per_second":2.5e9,"retransmits":7},
                   "sum_received":{"bits_per_second":2.4e9}}}"#;
        let m = parse_iperf_json(j).unwrap();
        assert!((m.gbps - 2.4).abs() < 1e-9);
        assert_eq!(m.retransmits, 7);
    }

    #[test]
    fn iperf3_error_is_reported() {
        let j = r#"{"start":{},"intervals":[],"end":{},"error":"unable to connect to server: Connection refused"}"#;
        let e = parse_iperf_json(j).unwrap_err().to_string();
        assert!(e.contains("Connection refused"), "{e}");
        assert!(parse_iperf_json("not json").is_err());
        assert!(parse_iperf_json(r#"{"end":{}}"#).is_err());
    }

    #[test]
    fn gcm_variant_replaces_the_transform_set() {
        let c = ipsecgw_config(Transform::AesGcm128, WEST_NET, EAST_NET, EAST_GW_OUTSIDE).unwrap();
        assert!(c.contains("crypto ipsec ikev1 transform-set GCM esp-aes-gcm esp-none\n"));
        assert!(c.contains("crypto map OUTSIDE_MAP 10 set ikev1 transform-set GCM\n"));
        assert!(!c.contains("ESP-3DES-SHA"));
    }

    #[test]
    fn ratios_in_the_table() {
        let m = |g| Measure {
            gbps: g,
            retransmits: 0,
        };
        let r = vec![
            (Path::Plain, Outcome::Measured(vec![m(10.0), m(20.0)])),
            (
                Path::StrongSwan(Transform::AesGcm128),
                Outcome::Measured(vec![m(0.5), m(0.4)]),
            ),
            (
                Path::Ipsecgw(Transform::AesGcm128),
                Outcome::Measured(vec![m(2.0), m(4.0)]),
            ),
            (
                Path::Ipsecgw(Transform::TdesSha1),
                Outcome::NotAvailable("exited".into()),
            ),
        ];
        let t = table(&r);
        assert!(
            t.contains("| ipsecgw, AES-128-GCM | 2.00 | 4.00 | 0.20, 0.20 | 4.00, 10.00 |"),
            "{t}"
        );
        assert!(
            t.contains(
                "| strongSwan kernel-libipsec, AES-128-GCM | 0.500 | 0.400 | 0.050, 0.020 | – |"
            ),
            "{t}"
        );
        assert!(
            t.contains("ipsecgw, 3DES-SHA1: not available (exited)"),
            "{t}"
        );
    }

    #[test]
    fn reason_picks_the_daemon_error_line() {
        let e = anyhow!(
            "bench-west exited early (exit status: 1):\nINFO starting\nError: the daemon is not wired yet\n\nStack backtrace:\n  0: x"
        );
        assert_eq!(
            reason(&e),
            "bench-west exited early (exit status: 1): Error: the daemon is not wired yet"
        );
        assert_eq!(reason(&anyhow!("spawning ipsecgw")), "spawning ipsecgw");
    }

    /// Both configurations load in ipsecgw's own parser, and the crypto
    /// map really points at the transform the row is named after.
    #[test]
    fn configs_parse_to_the_named_transforms() {
        use ipsecgw::algo::{EspCipher, EspInteg};
        for (t, cipher, integ) in [
            (Transform::AesGcm128, EspCipher::Aes128Gcm, EspInteg::None),
            (
                Transform::TdesSha1,
                EspCipher::TripleDes,
                EspInteg::HmacSha1_96,
            ),
        ] {
            for (l, r, peer) in [
                (WEST_NET, EAST_NET, EAST_GW_OUTSIDE),
                (EAST_NET, WEST_NET, WEST_GW_OUTSIDE),
            ] {
                let text = ipsecgw_config(t, l, r, peer).unwrap();
                let p = ipsecgw::config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
                assert!(p.ignored.is_empty(), "ignored lines in:\n{text}");
                let c = &p.config;
                assert_eq!(c.crypto_maps.len(), 1);
                let set = &c.crypto_maps[0].transform_sets;
                assert_eq!(set.len(), 1);
                let ts = &c.transform_sets[&set[0]];
                assert_eq!((ts.transform.cipher, ts.transform.integ), (cipher, integ));
            }
        }
    }
}
