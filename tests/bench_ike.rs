//! `cargo xtask bench ike`: IKE handshakes per second with a pre-shared
//! key, ipsecgw against strongSwan 5.9.8 measured in the same run on the
//! same machine, in four modes: IKEv1 main mode + quick mode and IKEv2
//! IKE_SA_INIT + IKE_AUTH (with its first CHILD SA, IKEv2's equivalent of
//! main + quick mode), each with DH group 14 (modp2048) and group 19
//! (ecp256).
//!
//! ipsecgw: two sans-IO `ike::Engine`s (the dispatcher the daemon drives,
//! which hands each datagram to IKEv1 or IKEv2), each on its own thread
//! (like two daemons, so both cores work), talking real UDP on loopback
//! inside a private network namespace. The initiator thread keeps
//! `CONCURRENCY` negotiations in flight; every negotiation comes from a
//! fresh initiator engine on a fresh loopback address (127.1.x.y:500), so
//! each one is a full handshake (an engine reuses an established IKE SA
//! per peer address, which would measure quick mode / CREATE_CHILD_SA
//! only). The responder is one engine (a hub) that keeps every tunnel, so
//! its heap growth per tunnel is its memory cost per tunnel.
//!
//! strongSwan: two charons (kernel-libipsec, the Debian packages) in two
//! namespaces joined by a veth pair. Debian ships no load-tester plugin,
//! so the initiator gets K connections with distinct IDs and distinct
//! child selectors, all `start_action = start`: loading them makes charon
//! itself initiate all K in parallel (no per-handshake `swanctl` process
//! competing for the two cores). Completions are counted from both
//! charons' logs ("CHILD_SA ... established", logged at level 0 by both
//! versions' exchanges).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use harness::engine_config::{esp, policy};
use harness::netns::{Netns, enter_netns, veth};
use harness::strongswan::CHARON;
use ipsecgw::algo::{
    DhGroup, EspCipher, EspInteg, IkeEncryption, IkeHash, Ikev2Encryption, Ikev2Integrity, Ikev2Prf,
};
use ipsecgw::ike::config::{Ikev2Policy, Ipv4Net, LocalConfig, PeerConfig, Selector};
use ipsecgw::ike::crypto::dh::DhPrivate;
use ipsecgw::ike::{Engine, Output};

// ------------------------------------------------------------ heap counter

/// Counts live heap bytes per thread, so the responder's memory per tunnel
/// is measured exactly (RSS is also reported, but it includes the
/// initiator's churn and the allocator's slack).
struct CountingAlloc;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn count(delta: i64) {
    // try_with: allocations during thread teardown must not panic.
    let _ = LIVE.try_with(|c| c.set(c.get() + delta));
}

fn live_bytes() -> i64 {
    LIVE.with(|c| c.get())
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            count(l.size() as i64);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            count(l.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        count(-(l.size() as i64));
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            count(new as i64 - l.size() as i64);
        }
        q
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

// ------------------------------------------------------------ small helpers

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; CLOCK_THREAD_CPUTIME_ID always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Resident set of this process, bytes.
fn rss_bytes() -> u64 {
    let statm = fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// CPU time (user + system) of a process, from /proc/PID/stat.
fn proc_cpu(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after the parenthesised comm; utime and stime are 14 and 15
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// Resident set of a process, bytes.
fn proc_rss(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn group_name(g: DhGroup) -> &'static str {
    match g {
        DhGroup::Modp2048 => "group 14 (modp2048)",
        DhGroup::Ecp256 => "group 19 (ecp256)",
        _ => "other",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// One measured mode: IKE version and DH group. The algorithms around
/// the DH group are fixed per version (see `describe`), the same on both
/// implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mode {
    version: Version,
    group: DhGroup,
}

impl Mode {
    const ALL: [Mode; 4] = [
        Mode {
            version: Version::V1,
            group: DhGroup::Modp2048,
        },
        Mode {
            version: Version::V1,
            group: DhGroup::Ecp256,
        },
        Mode {
            version: Version::V2,
            group: DhGroup::Modp2048,
        },
        Mode {
            version: Version::V2,
            group: DhGroup::Ecp256,
        },
    ];

    fn name(self) -> String {
        let v = match self.version {
            Version::V1 => "IKEv1",
            Version::V2 => "IKEv2",
        };
        format!("{v} {}", group_name(self.group))
    }

    /// What one handshake is, in words (printed above the results).
    fn describe(version: Version) -> &'static str {
        match version {
            Version::V1 => {
                "IKEv1 main mode + quick mode, PSK, IKE aes128-sha256, ESP aes128gcm16, no PFS"
            }
            Version::V2 => {
                "IKEv2 IKE_SA_INIT + IKE_AUTH with its first CHILD SA, PSK, IKE aes256gcm16-prfsha256, ESP aes256gcm16"
            }
        }
    }
}

// ------------------------------------------------------------ ipsecgw side

const CONCURRENCY: usize = 64;
const RESPONDER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const PSK: &[u8] = b"bench-ike-pre-shared-key";

/// The n-th initiator address: 127.1.0.1, 127.1.0.2, ... (loopback inside
/// the bench's own namespace; never 0 or 255 in the last octet).
fn initiator_addr(n: usize) -> Ipv4Addr {
    let n = n as u32;
    let hi = n / 250;
    let lo = n % 250 + 1;
    Ipv4Addr::new(127, 1 + (hi / 256) as u8, (hi % 256) as u8, lo as u8)
}

fn net(a: [u8; 4], p: u8) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::from(a), p).expect("valid prefix")
}

/// One crypto-map entry for `mode`. An IKEv2 entry has no IKEv1
/// transform set, so a failed IKEv2 negotiation cannot fall back to IKEv1
/// and be counted as an IKEv2 handshake.
fn peer_config(
    mode: Mode,
    addresses: Vec<Ipv4Addr>,
    local: Ipv4Net,
    remote: Ipv4Net,
) -> PeerConfig {
    let mut p = PeerConfig::new("BENCH 10", addresses[0], PSK);
    p.addresses = addresses;
    match mode.version {
        Version::V1 => {
            p.policies = vec![policy(
                10,
                IkeEncryption::Aes128,
                IkeHash::Sha256,
                mode.group,
            )];
            p.transforms = vec![esp(EspCipher::Aes128Gcm, EspInteg::None)];
        }
        Version::V2 => {
            // strongSwan's aes256gcm16-prfsha256-<group> / aes256gcm16: an
            // AEAD, so no separate integrity transform.
            p.ikev2_policies = vec![Ikev2Policy {
                priority: 10,
                encryption: vec![Ikev2Encryption::Aes256Gcm],
                integrity: vec![Ikev2Integrity::Null],
                prf: vec![Ikev2Prf::Sha256],
                groups: vec![mode.group],
                lifetime_s: 86400,
            }];
            p.ikev2_transforms = vec![esp(EspCipher::Aes256Gcm, EspInteg::None)];
        }
    }
    p.selectors = vec![Selector {
        id: 1,
        acl: "BENCH".into(),
        local,
        remote,
    }];
    // No DPD (IKEv1 R-U-THERE, IKEv2 liveness INFORMATIONALs): a run
    // must not mix them into the handshakes.
    p.dpd = None;
    p
}

struct SideStats {
    ups: u64,
    failures: u64,
    cpu: Duration,
    /// Responder only: live heap growth while holding every tunnel.
    heap_growth: i64,
    first_failure: Option<String>,
}

struct IpsecgwResult {
    completed: u64,
    elapsed: Duration,
    initiator: SideStats,
    responder: SideStats,
    rss_growth: i64,
    latency_p50: Duration,
    latency_p99: Duration,
}

impl IpsecgwResult {
    fn rate(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64()
    }
}

fn v4(a: SocketAddr) -> Option<SocketAddrV4> {
    match a {
        SocketAddr::V4(a) => Some(a),
        SocketAddr::V6(_) => None,
    }
}

/// The hub: one engine answering every initiator, until `stop`.
fn run_responder(
    mode: Mode,
    max_peers: usize,
    ready: &AtomicBool,
    stop: &AtomicBool,
    ups: &AtomicU64,
) -> Result<SideStats> {
    let sock = UdpSocket::bind((RESPONDER, 500)).context("bind responder 127.0.0.2:500")?;
    sock.set_read_timeout(Some(Duration::from_millis(20)))?;
    let local = SocketAddrV4::new(RESPONDER, 500);
    let mut buf = vec![0u8; 65536];
    let addrs: Vec<Ipv4Addr> = (0..max_peers).map(initiator_addr).collect();
    let heap0 = live_bytes();
    let cpu0 = thread_cpu();
    // Like strongSwan's `dos_protection = no` below: every initiator is a
    // legitimate peer, so no IKEv2 cookies and half-open limits well above
    // the negotiations in flight.
    let mut lc = LocalConfig::new(RESPONDER);
    lc.max_half_open_total = 4 * CONCURRENCY;
    lc.ikev2.cookie_challenge_percent = None;
    lc.ikev2.max_in_negotiation = 4 * CONCURRENCY;
    let mut eng = Engine::new(lc);
    eng.set_peers(vec![peer_config(
        mode,
        addrs,
        net([203, 0, 113, 0], 24),
        net([198, 51, 100, 0], 24),
    )]);
    let mut st = SideStats {
        ups: 0,
        failures: 0,
        cpu: Duration::ZERO,
        heap_growth: 0,
        first_failure: None,
    };
    ready.store(true, Ordering::Release);
    while !stop.load(Ordering::Acquire) {
        let outs = match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                let Some(from) = v4(from) else { continue };
                eng.handle_datagram(Instant::now(), from, local, &buf[..n])
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                let now = Instant::now();
                if eng.next_timeout().is_some_and(|t| t <= now) {
                    eng.on_timer(now)
                } else {
                    continue;
                }
            }
            Err(e) => return Err(e.into()),
        };
        for o in outs {
            match o {
                Output::Send { to, data, .. } => {
                    let _ = sock.send_to(&data, to);
                }
                Output::ChildSaUp(_) => {
                    st.ups += 1;
                    ups.fetch_add(1, Ordering::Release);
                }
                Output::Failure { reason, .. } => {
                    st.failures += 1;
                    st.first_failure
                        .get_or_insert_with(|| reason.text().to_string());
                }
                _ => {}
            }
        }
    }
    st.cpu = thread_cpu() - cpu0;
    // Every tunnel is still held by `eng` here.
    st.heap_growth = live_bytes() - heap0;
    drop(eng);
    Ok(st)
}

/// One negotiation in flight: a fresh engine on a fresh address.
struct Slot {
    sock: UdpSocket,
    local: SocketAddrV4,
    eng: Engine,
    started: Instant,
}

fn new_slot(mode: Mode, n: usize) -> Result<(Slot, Vec<Output>)> {
    let addr = initiator_addr(n);
    let sock = UdpSocket::bind((addr, 500)).with_context(|| format!("bind {addr}:500"))?;
    sock.set_nonblocking(true)?;
    let mut eng = Engine::new(LocalConfig::new(addr));
    eng.set_peers(vec![peer_config(
        mode,
        vec![RESPONDER],
        net([198, 51, 100, 0], 24),
        net([203, 0, 113, 0], 24),
    )]);
    let now = Instant::now();
    let outs = eng.initiate(now, RESPONDER, 1);
    Ok((
        Slot {
            sock,
            local: SocketAddrV4::new(addr, 500),
            eng,
            started: now,
        },
        outs,
    ))
}

/// Keeps `CONCURRENCY` negotiations in flight until `total` have started
/// or `limit` has passed, then waits (bounded) for those in flight.
fn run_initiators(
    mode: Mode,
    total: usize,
    limit: Duration,
    latencies: &mut Vec<Duration>,
) -> Result<(SideStats, Duration)> {
    let cpu0 = thread_cpu();
    let t0 = Instant::now();
    let mut st = SideStats {
        ups: 0,
        failures: 0,
        cpu: Duration::ZERO,
        heap_growth: 0,
        first_failure: None,
    };
    let mut slots: Vec<Option<Slot>> = (0..CONCURRENCY).map(|_| None).collect();
    let mut started = 0usize;
    let mut buf = vec![0u8; 65536];
    let hard_deadline = t0 + limit + Duration::from_secs(10);
    let mut last_done = t0;

    // Performs a slot's outputs; true when its child SA is up (or it failed).
    fn perform(slot: &Slot, outs: Vec<Output>, st: &mut SideStats) -> bool {
        let mut done = false;
        for o in outs {
            match o {
                Output::Send { to, data, .. } => {
                    let _ = slot.sock.send_to(&data, to);
                }
                Output::ChildSaUp(_) => {
                    st.ups += 1;
                    done = true;
                }
                Output::Failure { reason, .. } => {
                    st.failures += 1;
                    st.first_failure
                        .get_or_insert_with(|| reason.text().to_string());
                    done = true;
                }
                _ => {}
            }
        }
        done
    }

    loop {
        let now = Instant::now();
        // Refill free slots while the run lasts.
        for s in slots.iter_mut() {
            if s.is_none() && started < total && now < t0 + limit {
                let (slot, outs) = new_slot(mode, started)?;
                started += 1;
                if !perform(&slot, outs, &mut st) {
                    *s = Some(slot);
                }
            }
        }
        if slots.iter().all(Option::is_none) {
            break;
        }
        if now > hard_deadline {
            bail!("initiators: negotiations still in flight 10 s after the run");
        }
        let mut fds: Vec<libc::pollfd> = slots
            .iter()
            .map(|s| libc::pollfd {
                fd: s.as_ref().map_or(-1, |s| s.sock.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: fds is a valid array of pollfd for its length.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 50) };
        if rc < 0 {
            continue; // EINTR
        }
        let now = Instant::now();
        for (i, fd) in fds.iter().enumerate() {
            let Some(slot) = slots[i].as_mut() else {
                continue;
            };
            let mut done = false;
            if fd.revents & libc::POLLIN != 0 {
                // bounded drain: a handful of datagrams at most per slot
                for _ in 0..8 {
                    match slot.sock.recv_from(&mut buf) {
                        Ok((n, from)) => {
                            let Some(from) = v4(from) else { continue };
                            let outs = slot.eng.handle_datagram(now, from, slot.local, &buf[..n]);
                            done |= perform(slot, outs, &mut st);
                        }
                        Err(_) => break,
                    }
                }
            }
            if !done && slot.eng.next_timeout().is_some_and(|t| t <= now) {
                let outs = slot.eng.on_timer(now);
                done |= perform(slot, outs, &mut st);
            }
            if done {
                latencies.push(now - slot.started);
                last_done = now;
                slots[i] = None;
            }
        }
    }
    st.cpu = thread_cpu() - cpu0;
    Ok((st, last_done - t0))
}

fn bench_ipsecgw(mode: Mode, total: usize, limit: Duration) -> Result<IpsecgwResult> {
    let ns = Netns::new("ikebench")?;
    let path = ns.path();
    let ready = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let resp_ups = AtomicU64::new(0);
    let rss0 = rss_bytes() as i64;
    let mut latencies = Vec::with_capacity(total);
    let (init, elapsed, resp, rss1) = std::thread::scope(|s| -> Result<_> {
        let responder = s.spawn(|| -> Result<SideStats> {
            enter_netns(&path)?;
            run_responder(mode, total, &ready, &stop, &resp_ups)
        });
        let initiator = s.spawn(|| -> Result<(SideStats, Duration)> {
            enter_netns(&path)?;
            let deadline = Instant::now() + Duration::from_secs(5);
            while !ready.load(Ordering::Acquire) {
                if Instant::now() > deadline {
                    bail!("responder did not start");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            run_initiators(mode, total, limit, &mut latencies)
        });
        let init = initiator
            .join()
            .map_err(|_| anyhow::anyhow!("initiator thread panicked"));
        // Let the responder see the last QM3s (IKEv1; an IKEv2 responder
        // is up when it answers IKE_AUTH), bounded, then stop it.
        if let Ok(Ok((st, _))) = &init {
            let deadline = Instant::now() + Duration::from_secs(3);
            while resp_ups.load(Ordering::Acquire) < st.ups && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let rss1 = rss_bytes() as i64;
        stop.store(true, Ordering::Release);
        let resp = responder
            .join()
            .map_err(|_| anyhow::anyhow!("responder thread panicked"))??;
        let (init, elapsed) = init??;
        Ok((init, elapsed, resp, rss1))
    })?;
    drop(ns);
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(IpsecgwResult {
        completed: init.ups.min(resp.ups),
        elapsed,
        latency_p50: pct(0.5),
        latency_p99: pct(0.99),
        initiator: init,
        responder: resp,
        rss_growth: rss1 - rss0,
    })
}

// ------------------------------------------------------------ strongSwan side

const SW_INIT: &str = "192.0.2.1";
const SW_RESP: &str = "192.0.2.2";

/// Settings of the anchor measurement (peers/strongswan/README.md): no
/// DoS protection or half-open limits (all from one address), a big IKE
/// SA table, no IKE SA reuse (`reuse_ikesa = no`: an IKEv2 initiator
/// would otherwise put a new child of an equal peer config into an IKE SA
/// it has); `dos_protection = no` also turns off IKEv2 cookies
/// (`cookie_threshold`); level-0 logging only (one "CHILD_SA ...
/// established" line per completion); default retransmission timers.
const BENCH_OPTIONS: &str = "  install_routes = yes\n  routing_table = 220\n  routing_table_prio = 220\n  dos_protection = no\n  block_threshold = 1000000\n  init_limit_half_open = 0\n  ikesa_table_size = 8192\n  reuse_ikesa = no\n";

/// One charon of the bench (harness::strongswan), and how many
/// completions its log has shown so far.
struct Charon {
    charon: harness::strongswan::Charon,
    log_offset: u64,
    established: u64,
}

impl Charon {
    fn start(ns: &Netns, tag: &str) -> Result<Charon> {
        let mut charon = harness::strongswan::Charon::spawn(
            ns.name(),
            &format!("ipsecgw-bench-ike-{tag}"),
            BENCH_OPTIONS,
            "default = 0",
        )?;
        charon.keep_dir = std::env::var_os("BENCH_IKE_KEEP").is_some();
        Ok(Charon {
            charon,
            log_offset: 0,
            established: 0,
        })
    }

    fn pid(&self) -> u32 {
        self.charon.pid()
    }

    fn swanctl(&self, args: &[&str]) -> Result<String> {
        self.charon.swanctl(args)
    }

    fn load(&self, conf: &str) -> Result<()> {
        self.charon.load(conf)
    }

    /// Counts new "CHILD_SA ... established" lines (reads only what was
    /// appended since the last call).
    fn poll_established(&mut self) -> u64 {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = fs::File::open(self.charon.log_path()) else {
            return self.established;
        };
        if f.seek(SeekFrom::Start(self.log_offset)).is_err() {
            return self.established;
        }
        let mut s = String::new();
        let _ = f.take(64 << 20).read_to_string(&mut s);
        // only whole lines; the rest is read next time
        let whole = s.rfind('\n').map_or(0, |i| i + 1);
        self.established += s[..whole]
            .lines()
            .filter(|l| l.contains("CHILD_SA") && l.contains("established"))
            .count() as u64;
        self.log_offset += whole as u64;
        self.established
    }

    fn log(&self) -> String {
        self.charon.log()
    }
}

/// (IKE proposals, ESP proposals) of `mode`, the same algorithms as
/// `peer_config` gives ipsecgw.
fn sw_proposals(mode: Mode) -> (&'static str, &'static str) {
    match (mode.version, mode.group) {
        (Version::V1, DhGroup::Ecp256) => ("aes128-sha256-ecp256", "aes128gcm16"),
        (Version::V1, _) => ("aes128-sha256-modp2048", "aes128gcm16"),
        (Version::V2, DhGroup::Ecp256) => ("aes256gcm16-prfsha256-ecp256", "aes256gcm16"),
        (Version::V2, _) => ("aes256gcm16-prfsha256-modp2048", "aes256gcm16"),
    }
}

fn sw_version(mode: Mode) -> u8 {
    match mode.version {
        Version::V1 => 1,
        Version::V2 => 2,
    }
}

/// The hub: one connection for every initiator ID, its child narrowed to
/// each initiator's /32 pair. `unique = never`: an IKE_AUTH (or IKEv1
/// phase 1) carrying INITIAL_CONTACT makes charon delete other IKE SAs
/// with the same identities even under the default `unique = no`; the
/// initiator IDs are all distinct, so this changes nothing but rules the
/// case out.
fn sw_responder_conf(mode: Mode) -> String {
    let (p, ep) = sw_proposals(mode);
    format!(
        "connections {{
  hub {{
    version = {v}
    local_addrs = {SW_RESP}
    remote_addrs = {SW_INIT}
    proposals = {p}
    rekey_time = 0
    unique = never
    local {{
      auth = psk
      id = {SW_RESP}
    }}
    remote {{
      auth = psk
    }}
    children {{
      lan {{
        mode = tunnel
        local_ts = 203.0.113.0/24
        remote_ts = 198.51.100.0/24
        esp_proposals = {ep}
        rekey_time = 0
        start_action = none
      }}
    }}
  }}
}}
secrets {{
  ike-any {{
    secret = \"{psk}\"
  }}
}}
",
        v = sw_version(mode),
        psk = String::from_utf8_lossy(PSK),
    )
}

/// K initiator connections; distinct IDs make distinct peer configs, so
/// charon cannot put two children into one IKE SA (IKEv1 always reuses an
/// IKE SA of an equal peer config, whatever `reuse_ikesa` says; IKEv2
/// would with `reuse_ikesa = yes`, which BENCH_OPTIONS turns off as
/// well), and distinct /32 selectors make distinct children.
fn sw_initiator_conf(mode: Mode, k: usize) -> String {
    let (p, ep) = sw_proposals(mode);
    let v = sw_version(mode);
    let mut s = String::from("connections {\n");
    for i in 0..k {
        let (a, b) = (i / 250 + 1, i % 250 + 1);
        s.push_str(&format!(
            "  c{i} {{
    version = {v}
    local_addrs = {SW_INIT}
    remote_addrs = {SW_RESP}
    proposals = {p}
    rekey_time = 0
    local {{
      auth = psk
      id = c{i}.bench.example
    }}
    remote {{
      auth = psk
      id = {SW_RESP}
    }}
    children {{
      lan {{
        mode = tunnel
        local_ts = 198.51.100.{a}/32
        remote_ts = 203.0.113.{b}/32
        esp_proposals = {ep}
        rekey_time = 0
        start_action = start
      }}
    }}
  }}
",
        ));
    }
    s.push_str(&format!(
        "}}\nsecrets {{\n  ike-any {{\n    secret = \"{}\"\n  }}\n}}\n",
        String::from_utf8_lossy(PSK)
    ));
    s
}

struct SwanResult {
    k: u64,
    completed: u64,
    elapsed: Duration,
    /// Completions/s until 95 % of K were up: a few handshakes whose
    /// datagram was lost under load wait for a retransmission seconds
    /// later, and that tail says nothing about the rate.
    rate95: Option<f64>,
    cpu_initiator: Duration,
    cpu_responder: Duration,
    rss_growth_responder: i64,
    ike_sas: String,
}

impl SwanResult {
    fn rate(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64()
    }
    /// The headline figure: the rate to 95 % (the higher of the two).
    fn best_rate(&self) -> f64 {
        self.rate95.unwrap_or(0.0).max(self.rate())
    }
}

fn bench_strongswan(mode: Mode, k: usize, limit: Duration) -> Result<SwanResult> {
    if !std::path::Path::new(CHARON).exists() {
        bail!("{CHARON} not installed (run `cargo xtask setup`)");
    }
    let ni = Netns::new("ikebench-swi")?;
    let nr = Netns::new("ikebench-swr")?;
    veth(&ni, "eth0", &nr, "eth0")?;
    ni.addr("eth0", &format!("{SW_INIT}/24"))?;
    nr.addr("eth0", &format!("{SW_RESP}/24"))?;
    // kernel-libipsec routes each child's remote selector into its TUN
    // device with a source address inside the local selector, so every
    // /32 of the selectors must be a local address.
    ni.sh(&format!(
        "for a in $(seq 1 {}); do ip addr add 198.51.100.$a/32 dev lo; done",
        k.div_ceil(250)
    ))?;
    nr.sh("for b in $(seq 1 250); do ip addr add 203.0.113.$b/32 dev lo; done")?;
    let mut resp = Charon::start(&nr, "resp")?;
    let mut init = Charon::start(&ni, "init")?;
    resp.load(&sw_responder_conf(mode))?;
    resp.poll_established();
    let rss0 = proc_rss(resp.pid()).unwrap_or(0) as i64;
    let (ci0, cr0) = (
        proc_cpu(init.pid()).unwrap_or_default(),
        proc_cpu(resp.pid()).unwrap_or_default(),
    );
    let conf = sw_initiator_conf(mode, k);
    let t0 = Instant::now();
    // Loading the connections starts them (start_action = start): charon
    // initiates all K itself, in parallel on its thread pool.
    init.load(&conf)?;
    let k = k as u64;
    let mut t95 = None;
    let mut last = t0;
    let mut done = 0;
    while t0.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(50));
        init.poll_established();
        let r = resp.poll_established();
        let now = Instant::now();
        if r > done {
            done = r;
            last = now;
        }
        if t95.is_none() && r >= k * 95 / 100 {
            t95 = Some((now, r));
        }
        if init.established >= k && r >= k {
            break;
        }
    }
    let (ci1, cr1) = (
        proc_cpu(init.pid()).unwrap_or_default(),
        proc_cpu(resp.pid()).unwrap_or_default(),
    );
    let rss1 = proc_rss(resp.pid()).unwrap_or(0) as i64;
    let completed = init.established.min(resp.established);
    let rate95 = t95.map(|(t, n): (Instant, u64)| n as f64 / (t - t0).as_secs_f64());
    let ike_sas = init
        .swanctl(&["--stats"])
        .unwrap_or_default()
        .lines()
        .find(|l| l.contains("IKE_SAs"))
        .unwrap_or("")
        .trim()
        .to_string();
    if completed < k {
        let log = init.log();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        eprintln!(
            "strongSwan {}: only {completed}/{k} completed in {limit:?}; initiator log tail:\n{}",
            mode.name(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    drop(init);
    drop(resp);
    drop(ni);
    drop(nr);
    Ok(SwanResult {
        k,
        completed,
        elapsed: last - t0,
        rate95,
        cpu_initiator: ci1.saturating_sub(ci0),
        cpu_responder: cr1.saturating_sub(cr0),
        rss_growth_responder: rss1 - rss0,
        ike_sas,
    })
}

// ------------------------------------------------------------ DH floor

/// CPU time one side of a handshake spends in Diffie-Hellman with
/// ipsecgw's own DH code (one key pair + one agreement), measured on this
/// thread: the floor under ipsecgw's CPU per handshake and per side, so
/// the rest (parsing, PRFs, AEAD, state) can be read off as the
/// difference.
fn dh_floor(group: DhGroup) -> Result<Duration> {
    let rng = ring::rand::SystemRandom::new();
    let pairs: u32 = match group {
        DhGroup::Ecp256 => 2000,
        _ => 100,
    };
    let cpu0 = thread_cpu();
    for _ in 0..pairs {
        let a = DhPrivate::generate(group, &rng)?;
        let b = DhPrivate::generate(group, &rng)?;
        let (pa, pb) = (a.public_value().to_vec(), b.public_value().to_vec());
        let za = a.agree(&pb)?;
        let zb = b.agree(&pa)?;
        if za.as_bytes() != zb.as_bytes() {
            bail!("DH {group:?}: the two sides disagree");
        }
    }
    Ok((thread_cpu() - cpu0) / (2 * pairs))
}

// ------------------------------------------------------------ main

/// Handshakes per second two fully busy cores could do at this CPU cost.
fn capacity(cpu_i: Duration, cpu_r: Duration, n: u64) -> f64 {
    let per = (cpu_i + cpu_r).as_secs_f64() / n.max(1) as f64;
    if per > 0.0 { 2.0 / per } else { 0.0 }
}

fn ms_per(d: Duration, n: u64) -> f64 {
    d.as_secs_f64() * 1e3 / n.max(1) as f64
}

/// strongSwan's figures from perf-anchors.md (load-tester plugin, both
/// vCPUs busy, no ESP installed), for rows where it was not measured:
/// (handshakes/s, CPU ms initiator, CPU ms responder, KiB per tunnel).
fn swan_anchor(mode: Mode) -> Option<(f64, f64, f64, f64)> {
    match (mode.version, mode.group) {
        (Version::V1, DhGroup::Modp2048) => Some((368.0, 2.76, 2.30, 15.8)),
        (Version::V2, DhGroup::Ecp256) => Some((1895.0, 0.50, 0.47, 18.2)),
        (Version::V2, DhGroup::Modp2048) => Some((420.0, 2.38, 2.29, 17.9)),
        _ => None,
    }
}

struct Row {
    mode: Mode,
    ours: Option<IpsecgwResult>,
    swan: Option<SwanResult>,
    dh: Option<Duration>,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut quick = false;
    let mut skip_swan = false;
    let mut only_swan = false;
    let mut versions = vec![Version::V1, Version::V2];
    let mut groups = vec![DhGroup::Modp2048, DhGroup::Ecp256];
    let mut total_arg: Option<usize> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--no-strongswan" => skip_swan = true,
            "--only-strongswan" => only_swan = true,
            "--only" => match it.next().map(String::as_str) {
                Some("ikev1") => versions = vec![Version::V1],
                Some("ikev2") => versions = vec![Version::V2],
                other => bail!("--only ikev1|ikev2, not {other:?}"),
            },
            "--total" => {
                total_arg = Some(
                    it.next()
                        .and_then(|n| n.parse().ok())
                        .filter(|n| (1..=60_000).contains(n))
                        .context("--total N: 1 to 60000 ipsecgw handshakes per row")?,
                )
            }
            "--group" => match it.next().map(String::as_str) {
                Some("14") => groups = vec![DhGroup::Modp2048],
                Some("19") => groups = vec![DhGroup::Ecp256],
                other => bail!("--group 14|19, not {other:?}"),
            },
            other => bail!(
                "unknown argument {other:?} (--quick, --no-strongswan, --only-strongswan, --only ikev1|ikev2, --group 14|19, --total N)"
            ),
        }
    }
    // (ipsecgw total, time limit); strongSwan K per group
    let (mut total, limit) = if quick {
        (500, Duration::from_secs(3))
    } else {
        (4000, Duration::from_secs(10))
    };
    // More tunnels held by the responder: how its cost per handshake
    // grows with the table (the run still stops at `limit`).
    if let Some(n) = total_arg {
        total = n;
    }
    let sw_k = |g: DhGroup| match (quick, g) {
        (true, DhGroup::Ecp256) => 200,
        (true, _) => 100,
        (false, DhGroup::Ecp256) => 1500,
        (false, _) => 600,
    };
    let load_before = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before the run: {}", load_before.trim());
    for v in &versions {
        println!("{}", Mode::describe(*v));
    }
    let modes: Vec<Mode> = Mode::ALL
        .into_iter()
        .filter(|m| versions.contains(&m.version) && groups.contains(&m.group))
        .collect();
    let mut rows = Vec::new();
    for mode in modes {
        let ours = if only_swan {
            None
        } else {
            let r = bench_ipsecgw(mode, total, limit)?;
            println!(
                "ipsecgw {}: {} handshakes in {:.2} s = {:.0}/s ({CONCURRENCY} in flight); failures {}/{}; CPU ms/handshake initiator {:.3} responder {:.3}; latency p50 {:.1} ms p99 {:.1} ms; responder heap {:.1} KiB/tunnel, process RSS +{:.1} KiB/tunnel",
                mode.name(),
                r.completed,
                r.elapsed.as_secs_f64(),
                r.rate(),
                r.initiator.failures,
                r.responder.failures,
                ms_per(r.initiator.cpu, r.completed),
                ms_per(r.responder.cpu, r.completed),
                r.latency_p50.as_secs_f64() * 1e3,
                r.latency_p99.as_secs_f64() * 1e3,
                r.responder.heap_growth as f64 / 1024.0 / r.completed.max(1) as f64,
                r.rss_growth as f64 / 1024.0 / r.completed.max(1) as f64,
            );
            if let Some(f) = r
                .initiator
                .first_failure
                .as_ref()
                .or(r.responder.first_failure.as_ref())
            {
                println!("  first failure: {f}");
            }
            if r.completed == 0 {
                bail!("ipsecgw completed no {} handshake", mode.name());
            }
            Some(r)
        };
        let dh = if only_swan {
            None
        } else {
            let d = dh_floor(mode.group)?;
            println!(
                "  DH floor ({}, ipsecgw's DH code, one thread): {:.3} ms per side per handshake (key pair + agreement)",
                group_name(mode.group),
                d.as_secs_f64() * 1e3
            );
            Some(d)
        };
        let swan = if skip_swan {
            None
        } else {
            match bench_strongswan(
                mode,
                sw_k(mode.group),
                Duration::from_secs(if quick { 20 } else { 60 }),
            ) {
                Ok(r) => {
                    println!(
                        "strongSwan 5.9.8 {}: {}/{} handshakes in {:.2} s = {:.0}/s ({:.0}/s to 95 %); initiator {}; CPU ms/handshake initiator {:.3} responder {:.3}; responder RSS +{:.1} KiB/tunnel",
                        mode.name(),
                        r.completed,
                        r.k,
                        r.elapsed.as_secs_f64(),
                        r.rate(),
                        r.rate95.unwrap_or(0.0),
                        r.ike_sas,
                        ms_per(r.cpu_initiator, r.completed),
                        ms_per(r.cpu_responder, r.completed),
                        r.rss_growth_responder as f64 / 1024.0 / r.completed.max(1) as f64,
                    );
                    (r.completed > 0).then_some(r)
                }
                Err(e) => {
                    println!("strongSwan {}: could not be measured: {e:#}", mode.name());
                    None
                }
            }
        };
        rows.push(Row {
            mode,
            ours,
            swan,
            dh,
        });
    }

    println!();
    println!(
        "| mode | ipsecgw hs/s | strongSwan 5.9.8 hs/s | ratio | CPU ms/hs ipsecgw (i + r) | of which DH (per side) | CPU ms/hs strongSwan (i + r) | CPU ratio | responder KiB/tunnel ipsecgw heap / strongSwan RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut anchors_used = false;
    for row in &rows {
        let (o_rate, o_cpu, o_mem) = match &row.ours {
            Some(r) => (
                format!("{:.0}", r.rate()),
                format!(
                    "{:.3} + {:.3}",
                    ms_per(r.initiator.cpu, r.completed),
                    ms_per(r.responder.cpu, r.completed)
                ),
                format!(
                    "{:.1}",
                    r.responder.heap_growth as f64 / 1024.0 / r.completed as f64
                ),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let dh = row
            .dh
            .map_or("-".into(), |d| format!("{:.3}", d.as_secs_f64() * 1e3));
        let o_rate_f = row.ours.as_ref().map(|r| r.rate());
        let o_cpu_f = row
            .ours
            .as_ref()
            .map(|r| (r.initiator.cpu + r.responder.cpu).as_secs_f64() * 1e3 / r.completed as f64);
        let (s_rate, s_rate_f, s_cpu, s_cpu_f, s_mem) = match &row.swan {
            Some(r) => {
                let cpu =
                    (r.cpu_initiator + r.cpu_responder).as_secs_f64() * 1e3 / r.completed as f64;
                (
                    format!("{:.0}", r.best_rate()),
                    Some(r.best_rate()),
                    format!(
                        "{:.3} + {:.3}",
                        ms_per(r.cpu_initiator, r.completed),
                        ms_per(r.cpu_responder, r.completed)
                    ),
                    Some(cpu),
                    format!(
                        "{:.1}",
                        r.rss_growth_responder as f64 / 1024.0 / r.completed as f64
                    ),
                )
            }
            None => match swan_anchor(row.mode) {
                Some((rate, ci, cr, mem)) => {
                    anchors_used = true;
                    (
                        format!("{rate:.0} (anchor)"),
                        Some(rate),
                        format!("{ci:.2} + {cr:.2} (anchor)"),
                        Some(ci + cr),
                        format!("{mem:.1} (anchor)"),
                    )
                }
                None => ("n/a".into(), None, "n/a".into(), None, "n/a".into()),
            },
        };
        let ratio = match (o_rate_f, s_rate_f) {
            (Some(o), Some(s)) if s > 0.0 => format!("{:.1}x", o / s),
            _ => "-".into(),
        };
        let cpu_ratio = match (o_cpu_f, s_cpu_f) {
            (Some(o), Some(s)) if o > 0.0 => format!("{:.1}x", s / o),
            _ => "-".into(),
        };
        println!(
            "| {} | {o_rate} | {s_rate} | {ratio} | {o_cpu} | {dh} | {s_cpu} | {cpu_ratio} | {o_mem} / {s_mem} |",
            row.mode.name()
        );
    }
    for row in &rows {
        if let Some(o) = &row.ours {
            let ours = capacity(o.initiator.cpu, o.responder.cpu, o.completed);
            let swan = row
                .swan
                .as_ref()
                .map(|s| capacity(s.cpu_initiator, s.cpu_responder, s.completed));
            let anchor = match row.mode.version {
                Version::V2 => swan_anchor(row.mode).map(|a| a.0),
                Version::V1 => None,
            };
            println!(
                "{}: CPU-bound capacity on 2 cores: ipsecgw {:.0}/s, strongSwan {}{}",
                row.mode.name(),
                ours,
                swan.map_or("not measured".into(), |s| format!(
                    "{s:.0}/s (this run, {:.1}x)",
                    ours / s.max(f64::MIN_POSITIVE)
                )),
                anchor.map_or(String::new(), |a| format!(
                    "; strongSwan's load-tester anchor {a:.0}/s ({:.1}x; goal 2x)",
                    ours / a
                )),
            );
        }
    }
    if anchors_used {
        println!(
            "NOTE: strongSwan was NOT measured in this run for some rows; those figures are the anchors of shared/perf-anchors.md (load-tester plugin, same kind of machine), not a side-by-side measurement."
        );
    }
    println!(
        "ratio = wall-clock handshakes/s, same machine, same run (strongSwan: the rate up to 95 % of its K connections, or over all of them if higher); CPU ratio = strongSwan CPU per handshake / ipsecgw CPU per handshake (handshakes per second at equal CPU, less sensitive to other load on the shared cores). ipsecgw's group 14 uses 256-bit private exponents (RFC 3526 strength), strongSwan full 2048-bit ones. \"of which DH\" = one key pair + one agreement with ipsecgw's DH code, measured alone."
    );
    let load_after = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after the run: {}", load_after.trim());
    println!(
        "command: cargo xtask bench ike [-- ARGS]   (= cargo run --release -p ipsecgw-tests --bin bench-ike [-- --quick | --no-strongswan | --only-strongswan | --only ikev1|ikev2 | --group 14|19 | --total N])"
    );
    Ok(())
}
