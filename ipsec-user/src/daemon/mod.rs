//! Wires config -> dataplane -> ike -> esp -> control.
//!
//! One tokio task owns all control-plane state (the IKE engine, the SA
//! records, the data plane handle) and reacts to five sources: IKE
//! datagrams on UDP 500 and 4500, punt events from the XDP program, the
//! control socket, the IKE engine's timers and signals. The ESP workers
//! (one per queue) are threads of their own, reached through commands.

mod asa_log;
mod children;
mod failure_log;
mod hardening;
mod housekeeping;
mod ike_io;
pub mod logging;
pub mod mapping;
mod metrics;
mod metrics_http;
mod narrowed;
pub mod notify;
mod options;
mod preflight;
mod reassembled;
mod reload;
mod views;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::algo::EspTransform;
use crate::config::{self, Config};
use crate::control::proto::*;
use crate::control::server;
use crate::dataplane::{Dataplane, DataplaneConfig, OutboundSaSpec, PuntKind, Side};
use crate::esp::{self, InboundSa, OutboundSa, SaParams};
use crate::ike::v1 as ikev1;
use crate::ike::{Engine, Output};
use crate::xsk::pool::Workers;
use crate::xsk::worker::{Snapshot, WorkerConfig};
use mapping::SelectorInfo;

pub use options::Options;
pub use preflight::check_command;

const NON_ESP_MARKER: [u8; 4] = [0; 4];
const MAX_DATAGRAM: usize = 65_535;

/// An installed IPsec SA pair, as the daemon remembers it.
struct ChildSaRec {
    /// The configured selector (crypto-map ACL line) it was negotiated for.
    selector: u32,
    /// The data-plane selector its outbound SA serves: `selector`, or the
    /// line of its own when the peer narrowed the proxy identities.
    dp_selector: u32,
    /// The proxy identities as negotiated (what `show` names).
    negotiated: narrowed::Negotiated,
    peer: Ipv4Addr,
    inbound_spi: u32,
    outbound_spi: u32,
    in_id: u32,
    out_id: u32,
    transform: EspTransform,
    pfs: Option<u16>,
    udp_encap: Option<(u16, u16)>,
    created: Instant,
    lifetime_s: u64,
    lifetime_kb: Option<u64>,
    last_packets: u64,
    /// Inbound packets at the last look: only these prove the peer alive.
    last_inbound: u64,
    /// Outbound bytes at the last look, and when: the rate that tells how
    /// soon the kilobyte lifetime runs out.
    last_out_bytes: u64,
    last_look: Instant,
}

/// How long before the kilobyte lifetime runs out (at the current rate) a
/// rekey starts: housekeeping's period, quick mode and the initiator's
/// grace, with room to spare.
const VOLUME_REKEY_LEAD: Duration = Duration::from_secs(2);

/// `debug crypto ipsec LEVEL` at or above this turns the BPF programs'
/// rare-path log lines on (ASA's 255 is the usual "everything").
const BPF_LOG_LEVEL: u8 = 128;

/// How long an initiator waits after quick mode before it sends ESP.
const INITIATOR_GRACE: Duration = Duration::from_millis(150);

/// An outbound SA waiting for [`INITIATOR_GRACE`] to pass.
struct DeferredOutbound {
    selector: u32,
    sa_id: u32,
    spec: OutboundSaSpec,
    /// One handle per worker.
    sas: Vec<OutboundSa>,
}

/// How long a negotiation we started counts as under way: punts and
/// unknown-SPI events for its selector (or peer) start no other.
const INITIATING_HOLD: Duration = Duration::from_secs(10);

/// What to do about ESP from `src` for an SPI we have no inbound SA for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SpiRecovery {
    /// Not a peer of any crypto map entry: an arbitrary sender must never
    /// make us initiate.
    NotAPeer,
    /// We hold an SA pair with the peer: the newest of its selector carries
    /// our outbound traffic, so the peer knows us and the SPI is a stale
    /// one (a packet in flight across a rekey or a delete).
    HaveSas,
    /// A negotiation with the peer started less than [`INITIATING_HOLD`] ago.
    Busy,
    /// Start phase 1 (INITIAL-CONTACT) toward `src` for `selector`, the
    /// first whose crypto map lists it.
    Initiate { selector: u32 },
}

/// Invalid-SPI recovery (IOS `crypto isakmp invalid-spi-recovery`): after
/// we restart, the peer still encrypts with SAs we lost; a new phase 1
/// toward it carries INITIAL-CONTACT (the first to that peer since start),
/// on which the peer drops every old SA with us and renegotiates.
fn spi_recovery(
    selectors: &[SelectorInfo],
    mut sa_peers: impl Iterator<Item = Ipv4Addr>,
    initiating: &HashMap<u32, Instant>,
    src: Ipv4Addr,
    now: Instant,
) -> SpiRecovery {
    let Some(first) = selectors.iter().find(|s| s.peers.contains(&src)) else {
        return SpiRecovery::NotAPeer;
    };
    if sa_peers.any(|p| p == src) {
        return SpiRecovery::HaveSas;
    }
    let busy = initiating.iter().any(|(sel, t)| {
        now.saturating_duration_since(*t) < INITIATING_HOLD
            && selectors
                .iter()
                .any(|s| s.id == *sel && s.peers.contains(&src))
    });
    if busy {
        return SpiRecovery::Busy;
    }
    SpiRecovery::Initiate { selector: first.id }
}

struct Daemon {
    cfg: Config,
    selectors: Vec<SelectorInfo>,
    local: Ipv4Addr,
    engine: Engine,
    dp: Dataplane,
    workers: Workers,
    sock500: UdpSocket,
    sock4500: UdpSocket,
    children: Vec<ChildSaRec>,
    deferred: Vec<(Instant, DeferredOutbound)>,
    next_sa_id: u32,
    /// Negotiations we started for a selector and when (punts repeat).
    initiating: HashMap<u32, Instant>,
    log: logging::LogControl,
    path_mtu: u32,
    /// `--esp-first-seq`: consumed by the first outbound SA installed.
    esp_first_seq: Option<u64>,
    /// `--force-udp-encap`, applied to the peers of every reload too.
    force_udp_encap: bool,
    /// The file `reload` reads when given none: the one `run` was given.
    config_path: PathBuf,
    /// The selectors' signatures, for the next reload.
    reload: reload::Current,
    /// The ACL lines in the data plane: configured plus narrowed ones.
    acl: narrowed::NarrowedAcl,
    failure_log: failure_log::FailureLog,
    negotiations: metrics::Negotiations,
    /// Per peer with SAs up: since when and what its removed SAs carried,
    /// for ASA's 113019 when the last one goes (configured peers only).
    sessions: HashMap<Ipv4Addr, Session>,
}

struct Session {
    start: Instant,
    bytes_tx: u64,
    bytes_rx: u64,
    /// ASA's reason, from the last thing that happened to the peer.
    end_reason: &'static str,
}

/// What `show dataplane` and `/metrics` read off the data plane.
#[derive(Default)]
struct DataplaneLines {
    verdicts: Vec<(String, u64)>,
    engine: Vec<(String, u64)>,
    per_queue: Vec<(usize, &'static str, u64)>,
}

pub fn run(control: &Path, args: Options) -> Result<()> {
    let log = logging::init(args.log_format, args.syslog);
    // Before the configuration (and its keys) is read.
    hardening::no_core_dumps().context("disabling core dumps")?;
    let pre = preflight::preflight(&args)?;
    let instance = args
        .instance
        .clone()
        .unwrap_or_else(|| preflight::instance_from_socket(control));
    // Before anything is attached: pins that would die with us would take
    // the fail-closed guard along at the first crash.
    let pin_root =
        crate::dataplane::pinfs::resolve(args.pin_root.as_deref(), args.no_persistent_guard)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // A live daemon on our socket: stop before touching its data plane.
        // A stale socket goes, so the path means "ready" from here on.
        let claim = server::claim(control).await?;
        // Selector ids stay with their tunnel across reloads.
        let (reload_state, selectors, ike_peers) = reload::Current::new(&pre.config);
        let rules = mapping::acl_rules(&pre.config, &selectors);
        let mut dp = Dataplane::load(DataplaneConfig {
            inside_if: pre.inside_if.clone(),
            outside_if: pre.outside_if.clone(),
            xdp_mode: args.xdp_mode,
            pin_dir: DataplaneConfig::pin_dir_under(&pin_root, &instance),
        })
        .context("loading the BPF data plane")?;
        dp.set_acl(&rules).context("installing the crypto-map ACLs")?;
        let acl = narrowed::NarrowedAcl::new(rules);
        // Unknown-SPI events only for configured peers (sources are
        // spoofable), and none at all when recovery is off.
        dp.set_unknown_spi_peers(&unknown_spi_peers(&pre.config, &selectors))
            .context("installing the peers for invalid-SPI recovery")?;
        let workers = Workers::spawn(&WorkerConfig {
            queue: 0,
            inside: pre.inside_if.clone(),
            outside: pre.outside_if.clone(),
            outside_mtu: pre.outside_mtu,
            tcp_mss: pre.config.tcp_mss,
            inside_addr: pre.inside_addr,
        })
        .context("starting the ESP engine (AF_XDP)")?;
        for (queue, fd_in, fd_out) in workers.sockets() {
            dp.register_xsk(Side::Inside, queue, fd_in)?;
            dp.register_xsk(Side::Outside, queue, fd_out)?;
        }
        info!(workers = workers.len(), "ESP engine: one worker per queue");
        let mut punts = dp.punt_events()?;
        // The programs' rare-path log lines; written only while `debug
        // crypto ipsec` is at BPF_LOG_LEVEL or above.
        if let Some(l) = dp.bpf_logger() {
            tokio::spawn(crate::dataplane::bpf_log::drain(l));
        }

        let sock500 = bind_udp(pre.local, 500).await?;
        let sock4500 = bind_udp(pre.local, 4500).await?;
        {
            use std::os::fd::AsRawFd;
            dp.set_ike_sockets(&[sock500.as_raw_fd(), sock4500.as_raw_fd()])
                .context("telling the egress guard about the IKE sockets")?;
        }
        // Reassembled raw ESP; without it only fragmented ESP is lost.
        let raw_esp = match reassembled::RawEspSocket::open(pre.local) {
            Ok(s) => Some(s),
            Err(e) => {
                warn!(error = %e, "no raw ESP socket: ESP that arrives fragmented (outside UDP) will be dropped");
                None
            }
        };
        let mut ike_local = crate::ike::config::LocalConfig::new(pre.local);
        ike_local.ikev2 = mapping::ikev2_local(&pre.config);
        if let Some(ms) = args.ike_retransmit_ms {
            ike_local.retransmit_base = Duration::from_millis(ms);
        }
        if let Some(s) = args.ikev2_lifetime_s {
            info!(seconds = s, "--ikev2-lifetime-s: every IKEv2 SA rekeys by this lifetime");
            ike_local.ikev2_sa_lifetime_s = Some(s);
        }
        let mut engine = Engine::new(ike_local);
        let mut ike_peers = ike_peers;
        for p in &mut ike_peers {
            p.force_encap |= args.force_udp_encap;
        }
        engine.set_peers(ike_peers);

        // Ready: the data plane is attached with the ACLs, the engine has
        // its AF_XDP sockets, the IKE sockets are bound. Only now does the
        // control socket appear (bound under a temporary name, renamed into
        // place) and does systemd hear READY=1, so whoever waits for
        // either can send protected traffic at once.
        let listener = server::bind_claimed(control, &claim)?;
        let control_ino = server::socket_ino(control);
        let (ctl_tx, mut ctl_rx) = mpsc::channel::<server::Pending>(16);
        tokio::spawn(server::serve(listener, ctl_tx));
        // Off unless asked for: it opens a TCP port.
        let (scrape_tx, mut scrape_rx) = mpsc::channel::<metrics_http::Scrape>(4);
        if let Some(addr) = args.metrics {
            let l = metrics_http::bind(addr)
                .await
                .with_context(|| format!("cannot listen for metrics on {addr}"))?;
            info!(%addr, "serving Prometheus metrics on /metrics");
            tokio::spawn(metrics_http::serve(l, scrape_tx));
        }
        if let Err(e) = notify::notify(notify::READY) {
            warn!(error = %e, "telling the service manager we are ready failed");
        }

        let mut d = Daemon {
            cfg: pre.config,
            selectors,
            config_path: args.config.clone(),
            force_udp_encap: args.force_udp_encap,
            reload: reload_state,
            local: pre.local,
            engine,
            dp,
            workers,
            sock500,
            sock4500,
            children: Vec::new(),
            deferred: Vec::new(),
            next_sa_id: 1,
            initiating: HashMap::new(),
            log,
            path_mtu: pre.outside_mtu as u32,
            esp_first_seq: args.esp_first_seq,
            acl,
            failure_log: Default::default(),
            negotiations: Default::default(),
            sessions: HashMap::new(),
        };
        info!(local = %d.local, inside = %pre.inside_if, outside = %pre.outside_if, selectors = d.selectors.len(), "ipsecgw running");

        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        // SIGHUP: reload the configuration file (`systemctl reload`).
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let mut buf500 = vec![0u8; MAX_DATAGRAM];
        let mut buf4500 = vec![0u8; MAX_DATAGRAM];
        let mut buf_raw = vec![0u8; MAX_DATAGRAM];
        // Housekeeping reads the workers' counters: often enough that a
        // volume rekey starts in time on a fast link.
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            let deadline = d.engine.next_timeout().map(tokio::time::Instant::from_std);
            let deferred = d.next_deferred();
            tokio::select! {
                r = d.sock500.recv_from(&mut buf500) => {
                    if let Ok((n, from)) = r { d.datagram(500, from, &buf500[..n]).await; }
                }
                r = d.sock4500.recv_from(&mut buf4500) => {
                    if let Ok((n, from)) = r { d.datagram(4500, from, &buf4500[..n]).await; }
                }
                r = recv_raw(raw_esp.as_ref(), &mut buf_raw) => {
                    if let Ok(n) = r { d.raw_esp(&buf_raw[..n]); }
                }
                ev = punts.recv() => {
                    match ev {
                        Ok(Ok(ev)) => match ev.kind {
                            PuntKind::NoSa { selector } => d.punt(selector).await,
                            PuntKind::UnknownSpi { spi } => d.unknown_spi(ev.src, spi).await,
                        },
                        Ok(Err(e)) => warn!(error = %e, "malformed punt event dropped"),
                        Err(e) => { warn!(error = %e, "punt ring failed"); tokio::time::sleep(Duration::from_millis(100)).await; }
                    }
                }
                Some((req, reply)) = ctl_rx.recv() => {
                    let r = d.control(req).await;
                    let _ = reply.send(r);
                }
                Some(reply) = scrape_rx.recv() => {
                    let _ = reply.send(d.metrics_text());
                }
                _ = sleep_until(deadline) => {
                    let outs = d.engine.on_timer(Instant::now());
                    d.apply(outs).await;
                }
                _ = sleep_until(deferred) => d.install_deferred(),
                _ = tick.tick() => d.housekeeping().await,
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = hup.recv() => match d.reload(None).await {
                    Ok(s) => info!("SIGHUP: {s}"),
                    Err(e) => warn!("SIGHUP: reload refused, nothing changed: {e:#}"),
                },
            }
        }
        info!("shutting down: deleting SAs and detaching the data plane");
        let _ = notify::notify(notify::STOPPING);
        server::unlink_if_ours(control, control_ino);
        let outs = d.engine.delete_all(Instant::now());
        d.apply(outs).await;
        d.workers.stop();
        d.dp.detach()?;
        Ok(())
    })
}

/// One proxy identity as `show` prints it: the negotiated network, and
/// the ACL line's protocol unless the peer named one.
fn negotiated_ident(net: (Ipv4Addr, u8), sel: &SelectorInfo, proto: u8, port: u16) -> Ident {
    Ident {
        addr: net.0,
        mask: config::Ipv4Net::new(net.0, net.1).map_or(Ipv4Addr::BROADCAST, |n| n.mask()),
        prot: if proto != 0 { proto } else { sel.proto },
        port,
    }
}

/// Unknown-SPI events only for configured peers (sources are spoofable),
/// and none at all when recovery is off.
fn unknown_spi_peers(cfg: &Config, selectors: &[SelectorInfo]) -> Vec<Ipv4Addr> {
    if cfg.invalid_spi_recovery {
        selectors
            .iter()
            .flat_map(|s| s.peers.iter().copied())
            .collect()
    } else {
        Vec::new()
    }
}

async fn recv_raw(s: Option<&reassembled::RawEspSocket>, buf: &mut [u8]) -> std::io::Result<usize> {
    match s {
        Some(s) => s.recv(buf).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn bind_udp(addr: Ipv4Addr, port: u16) -> Result<UdpSocket> {
    let s = std::net::UdpSocket::bind(SocketAddrV4::new(addr, port))
        .with_context(|| format!("cannot bind UDP {addr}:{port} (another IKE daemon running?)"))?;
    s.set_nonblocking(true)?;
    Ok(UdpSocket::from_std(s)?)
}

impl Daemon {
    /// `ipsecgw reload` / SIGHUP: apply a new configuration, changing only
    /// what differs (`reload.rs` decides, tunnel by tunnel). Nothing
    /// changes when the file does not pass `check`, or when it moves the
    /// interfaces (that takes a restart).
    async fn reload(&mut self, path: Option<PathBuf>) -> Result<String> {
        let path = path.unwrap_or_else(|| self.config_path.clone());
        let cfg = preflight::load_checked(&path)?;
        if cfg.interfaces != self.cfg.interfaces {
            anyhow::bail!(
                "the interface lines changed: binding other interfaces or addresses takes a restart"
            );
        }
        let now = Instant::now();
        let plan = reload::plan(&self.reload, &cfg);
        // Removed or changed tunnels: their SAs go, the peer told.
        let doomed: Vec<u32> = self
            .children
            .iter()
            .filter(|c| plan.removed.contains(&c.selector))
            .map(|c| c.inbound_spi)
            .collect();
        for spi in doomed {
            if let Some(s) = self
                .children
                .iter()
                .find(|c| c.inbound_spi == spi)
                .and_then(|c| self.sessions.get_mut(&c.peer))
            {
                s.end_reason = "Administrator Reset";
            }
            let outs = self.engine.expire_child(now, spi);
            self.apply(outs).await;
        }
        // A peer whose key, policies or keepalives changed: its phase 1
        // was made with the old ones.
        for peer in &plan.stale_peers {
            let mut outs = self.engine.delete_isakmp(now, Some(*peer));
            outs.extend(self.engine.delete_ikev2(now, Some(*peer)));
            self.apply(outs).await;
        }
        let mut peers = plan.peers;
        for p in &mut peers {
            p.force_encap |= self.force_udp_encap;
        }
        self.engine.set_peers(peers);
        let rules = mapping::acl_rules(&cfg, &plan.selectors);
        self.acl.rebase(rules);
        self.dp
            .set_acl(&self.acl.rules())
            .context("installing the new crypto-map ACLs")?;
        self.dp
            .set_unknown_spi_peers(&unknown_spi_peers(&cfg, &plan.selectors))
            .context("installing the peers for invalid-SPI recovery")?;
        let live: Vec<u32> = plan.selectors.iter().map(|s| s.id).collect();
        self.initiating.retain(|sel, _| live.contains(sel));
        self.selectors = plan.selectors;
        self.cfg = cfg;
        self.reload = plan.next;
        let summary = format!(
            "reloaded {}: {} tunnel(s) unchanged, {} removed or changed, {} new",
            path.display(),
            plan.kept,
            plan.removed.len(),
            plan.added
        );
        // `reload --config FILE` applies FILE once; the daemon's own file
        // stays the one it was started with, so `systemctl reload` (and
        // SIGHUP) never picks up a file someone tried by hand.
        info!("{summary}");
        Ok(summary)
    }
}

#[cfg(test)]
mod spi_recovery_tests {
    use super::*;

    fn sel(id: u32, peers: &[[u8; 4]]) -> SelectorInfo {
        let net = |a: [u8; 4]| config::Ipv4Net::new(Ipv4Addr::from(a), 24).unwrap();
        SelectorInfo {
            id,
            entry: id as usize,
            map: "OUTSIDE_MAP".into(),
            seq: 10 + id,
            acl: "L2L".into(),
            acl_text: String::new(),
            local: net([198, 51, 100, 0]),
            remote: net([203, 0, 113, 0]),
            proto: 0,
            peers: peers.iter().map(|p| Ipv4Addr::from(*p)).collect(),
            interface: "outside".into(),
        }
    }

    const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const BACKUP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);

    #[test]
    fn decides_who_may_make_us_initiate() {
        let sels = [
            sel(0, &[[192, 0, 2, 9]]),
            sel(1, &[[192, 0, 2, 2], [192, 0, 2, 3]]),
            sel(2, &[[192, 0, 2, 2]]),
        ];
        let now = Instant::now();
        let none = HashMap::new();
        let d = |peers: &[Ipv4Addr], init: &HashMap<u32, Instant>, src| {
            spi_recovery(&sels, peers.iter().copied(), init, src, now)
        };
        // The first selector whose crypto map lists the sender, backup
        // peers included.
        assert_eq!(d(&[], &none, PEER), SpiRecovery::Initiate { selector: 1 });
        assert_eq!(d(&[], &none, BACKUP), SpiRecovery::Initiate { selector: 1 });
        assert_eq!(
            d(&[], &none, Ipv4Addr::new(203, 0, 113, 7)),
            SpiRecovery::NotAPeer
        );
        // An SA pair with that peer (any selector): stale SPI.
        assert_eq!(d(&[PEER], &none, PEER), SpiRecovery::HaveSas);
        // An SA pair with another peer does not count.
        assert_eq!(
            d(&[Ipv4Addr::new(192, 0, 2, 9)], &none, PEER),
            SpiRecovery::Initiate { selector: 1 }
        );
        // A negotiation toward the peer (any of its selectors) under way
        // for less than 10 s: wait; older, or for another peer: go.
        let recent = HashMap::from([(2, now - Duration::from_secs(3))]);
        assert_eq!(d(&[], &recent, PEER), SpiRecovery::Busy);
        let old = HashMap::from([(2, now - Duration::from_secs(11))]);
        assert_eq!(d(&[], &old, PEER), SpiRecovery::Initiate { selector: 1 });
        let other = HashMap::from([(0, now)]);
        assert_eq!(d(&[], &other, PEER), SpiRecovery::Initiate { selector: 1 });
    }
}
