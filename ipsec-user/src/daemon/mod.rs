//! Wires config -> dataplane -> ike -> esp -> control.
//!
//! One tokio task owns all control-plane state (the IKE engine, the SA
//! records, the data plane handle) and reacts to five sources: IKE
//! datagrams on UDP 500 and 4500, punt events from the XDP program, the
//! control socket, the IKE engine's timers and signals. The ESP workers
//! (one per queue) are threads of their own, reached through commands.

mod asa_log;
mod failure_log;
mod hardening;
pub mod mapping;
mod metrics;
mod metrics_http;
mod narrowed;
pub mod notify;
mod preflight;
mod reassembled;
mod reload;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::algo::EspTransform;
use crate::cli::{RunArgs, XdpMode};
use crate::config::{self, Config};
use crate::control::proto::*;
use crate::control::server;
use crate::dataplane::{Dataplane, DataplaneConfig, OutboundSaSpec, PuntKind, Side};
use crate::engine::pool::Workers;
use crate::engine::worker::{Snapshot, WorkerConfig};
use crate::esp::{self, InboundSa, OutboundSa, SaParams};
use crate::ike::v1 as ikev1;
use crate::ike::{Engine, Output};
use mapping::SelectorInfo;

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
    log: crate::cli::logging::LogControl,
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

pub fn run(control: &Path, args: RunArgs) -> Result<()> {
    let log = crate::cli::logging::init(args.log_format, args.syslog);
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
            xdp_mode: match args.xdp_mode {
                XdpMode::Native => crate::dataplane::XdpMode::Native,
                XdpMode::Skb => crate::dataplane::XdpMode::Skb,
            },
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
    async fn datagram(&mut self, port: u16, from: SocketAddr, data: &[u8]) {
        let SocketAddr::V4(from) = from else { return };
        let payload = if port == 4500 {
            if data == [0xff] {
                return; // NAT-T keepalive
            }
            match data.strip_prefix(&NON_ESP_MARKER) {
                Some(ike) => ike,
                None => {
                    // ESP the XDP program could not redirect: it came in
                    // fragments and the kernel reassembled it.
                    self.reassembled_esp(*from.ip(), data);
                    return;
                }
            }
        } else {
            data
        };
        let to = SocketAddrV4::new(self.local, port);
        let outs = self
            .engine
            .handle_datagram(Instant::now(), from, to, payload);
        self.apply(outs).await;
    }

    /// A raw ESP packet (IPv4 header included) from the raw socket.
    fn raw_esp(&mut self, packet: &[u8]) {
        match esp::parse_outer(packet) {
            Ok(o) if o.udp_encap.is_none() && o.dst == self.local => {
                self.reassembled_esp(o.src, &packet[o.range()]);
            }
            _ => debug!(len = packet.len(), "raw ESP socket: not ESP to us; dropped"),
        }
    }

    /// Reassembled ESP (SPI to ICV): to the worker for its inbound SA.
    /// An unknown SPI is dropped here, as XDP drops it unfragmented.
    fn reassembled_esp(&mut self, from: Ipv4Addr, esp_packet: &[u8]) {
        let Some(spi) = reassembled::esp_spi(esp_packet) else {
            return;
        };
        let Some(c) = self.children.iter().find(|c| c.inbound_spi == spi) else {
            debug!(%from, spi = format_args!("{spi:#010x}"), "reassembled ESP for an unknown SPI dropped");
            return;
        };
        // Bounded: a full worker queue drops and counts it.
        self.workers
            .deliver_reassembled(c.in_id, esp_packet.to_vec());
    }

    async fn punt(&mut self, selector: u32) {
        let now = Instant::now();
        if self.children.iter().any(|c| c.selector == selector) {
            return; // an SA exists; the program will see it on the next packet
        }
        if let Some(t) = self.initiating.get(&selector)
            && now.duration_since(*t) < INITIATING_HOLD
        {
            return;
        }
        let Some(sel) = self.selectors.iter().find(|s| s.id == selector) else {
            return;
        };
        let Some(&peer) = sel.peers.first() else {
            return;
        };
        info!(%peer, selector, map = %sel.map, seq = sel.seq, "interesting traffic: starting negotiation");
        self.initiating.insert(selector, now);
        self.negotiations.started += 1;
        let outs = self.engine.initiate(now, peer, selector);
        self.apply(outs).await;
    }

    /// ESP from `src` for an SPI with no inbound SA (invalid-SPI recovery,
    /// like IOS `crypto isakmp invalid-spi-recovery`). After a restart the
    /// peer still encrypts with SAs we lost; a new phase 1 toward it carries
    /// INITIAL-CONTACT (the first one to that peer since start), on which
    /// the peer drops every old SA with us and renegotiates.
    async fn unknown_spi(&mut self, src: Ipv4Addr, spi: u32) {
        if !self.cfg.invalid_spi_recovery {
            debug!(%src, spi = format_args!("{spi:#010x}"), "ESP for unknown SPI ignored (crypto isakmp invalid-spi-recovery is off)");
            return;
        }
        let now = Instant::now();
        let selector = match spi_recovery(
            &self.selectors,
            self.children.iter().map(|c| c.peer),
            &self.initiating,
            src,
            now,
        ) {
            SpiRecovery::NotAPeer => {
                debug!(%src, spi = format_args!("{spi:#010x}"), "ESP for unknown SPI from a non-peer ignored");
                return;
            }
            SpiRecovery::HaveSas => {
                debug!(peer = %src, spi = format_args!("{spi:#010x}"), "ESP for unknown SPI from a peer we have SAs with: stale, ignored");
                return;
            }
            SpiRecovery::Busy => return,
            SpiRecovery::Initiate { selector } => selector,
        };
        info!(
            peer = %src,
            "ESP from {src} for unknown SPI {spi:#010x}: the peer holds SAs we lost; starting phase 1 with INITIAL-CONTACT"
        );
        self.initiating.insert(selector, now);
        self.negotiations.started += 1;
        let outs = self.engine.initiate(now, src, selector);
        self.apply(outs).await;
    }

    async fn send(&self, from: SocketAddrV4, to: SocketAddrV4, data: &[u8]) {
        let r = if from.port() == 4500 || to.port() == 4500 {
            let mut framed = Vec::with_capacity(data.len() + 4);
            if !(data.len() == 1 && data[0] == 0xff) {
                framed.extend_from_slice(&NON_ESP_MARKER);
            }
            framed.extend_from_slice(data);
            self.sock4500.send_to(&framed, to).await
        } else {
            self.sock500.send_to(data, to).await
        };
        if let Err(e) = r {
            warn!(%to, error = %e, "sending IKE datagram failed");
        }
    }

    async fn apply(&mut self, outs: Vec<Output>) {
        for out in outs {
            match out {
                Output::Send { from, to, data } => self.send(from, to, &data).await,
                Output::ChildSaUp(c) => match self.install(c) {
                    Ok(()) => self.negotiations.ipsec_sas_established += 1,
                    Err(e) => warn!(error = %e, "installing IPsec SA failed"),
                },
                Output::ChildSaDown {
                    peer,
                    inbound_spi,
                    outbound_spi,
                    ..
                } => self.uninstall(peer, inbound_spi, outbound_spi),
                Output::Failure { peer, reason } => {
                    *self.negotiations.failed.entry(reason.kind()).or_default() += 1;
                    let configured = self.selectors.iter().any(|s| s.peers.contains(&peer));
                    match configured
                        .then(|| self.failure_log.judge(Instant::now(), peer, reason.text()))
                    {
                        Some(failure_log::Verdict::Warn { suppressed }) => {
                            warn!(%peer, %reason, suppressed, "tunnel negotiation failed");
                            let group = self.group_of(peer);
                            asa_log::emit(&match reason {
                                crate::ike::FailureReason::PeerDead(_) => {
                                    asa_log::AsaEvent::LostContact { group, peer }
                                }
                                _ => asa_log::AsaEvent::Failure {
                                    group,
                                    peer,
                                    reason: reason.to_string(),
                                },
                            });
                        }
                        _ => debug!(%peer, %reason, "tunnel negotiation failed"),
                    }
                    if matches!(reason, crate::ike::FailureReason::PeerDead(_))
                        && let Some(s) = self.sessions.get_mut(&peer)
                    {
                        s.end_reason = "Lost Service";
                    }
                    self.initiating.retain(|sel, _| {
                        self.selectors
                            .iter()
                            .find(|s| s.id == *sel)
                            .is_none_or(|s| !s.peers.contains(&peer))
                    });
                }
                Output::IsakmpUp { peer, .. } => {
                    self.negotiations.ike_sas_established += 1;
                    asa_log::emit(&asa_log::AsaEvent::Phase1Completed {
                        group: self.group_of(peer),
                        peer,
                    });
                }
                Output::IsakmpDown {
                    peer, ref reason, ..
                } => {
                    if let Some(s) = self.sessions.get_mut(&peer) {
                        s.end_reason = asa_log::disconnect_reason(reason);
                    }
                    debug!(event = ?out, "IKE event");
                }
            }
        }
    }

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

    /// The tunnel-group a peer authenticates with, as ASA names it.
    fn group_of(&self, peer: Ipv4Addr) -> String {
        self.cfg
            .tunnel_group_for(peer)
            .map_or_else(|| peer.to_string(), |t| t.name.to_string())
    }

    /// ASA's 602304 for both directions of `c`, and 113019 when it was the
    /// peer's last SA.
    fn sa_gone_log(&mut self, c: &ChildSaRec) {
        for (inbound, spi) in [(true, c.inbound_spi), (false, c.outbound_spi)] {
            asa_log::emit(&asa_log::AsaEvent::Sa {
                created: false,
                inbound,
                spi,
                local: self.local,
                peer: c.peer,
            });
        }
        let snap = self.snapshot();
        let bytes = |id: u32, out: bool| -> u64 {
            snap.sas
                .iter()
                .filter(|s| s.sa_id == id)
                .map(|s| {
                    if out {
                        s.counters.bytes_encaps
                    } else {
                        s.counters.bytes_decaps
                    }
                })
                .sum()
        };
        let (tx, rx) = (bytes(c.out_id, true), bytes(c.in_id, false));
        let last = !self.children.iter().any(|o| o.peer == c.peer);
        let Some(s) = self.sessions.get_mut(&c.peer) else {
            return;
        };
        s.bytes_tx += tx;
        s.bytes_rx += rx;
        if last && let Some(s) = self.sessions.remove(&c.peer) {
            asa_log::emit(&asa_log::AsaEvent::SessionDisconnected {
                group: self.group_of(c.peer),
                peer: c.peer,
                duration: s.start.elapsed(),
                bytes_tx: s.bytes_tx,
                bytes_rx: s.bytes_rx,
                reason: s.end_reason,
            });
        }
    }

    fn alloc_id(&mut self) -> u32 {
        let id = self.next_sa_id;
        self.next_sa_id = self.next_sa_id.wrapping_add(1).max(1);
        id
    }

    fn install(&mut self, c: crate::ike::ChildSa) -> Result<()> {
        // Install what was negotiated: a narrowed child gets a line of its
        // own in front of its ACL line.
        let negotiated = narrowed::Negotiated {
            local: (c.local_ts.addr(), c.local_ts.prefix()),
            remote: (c.remote_ts.addr(), c.remote_ts.prefix()),
            proto: c.proto,
            local_port: c.local_port,
            remote_port: c.remote_port,
        };
        let (dp_selector, changed) = self.acl.acquire(c.selector, negotiated);
        if changed {
            info!(peer = %c.peer, selector = c.selector, dp_selector, local = %c.local_ts, remote = %c.remote_ts,
                  proto = c.proto, local_port = c.local_port, remote_port = c.remote_port,
                  "peer narrowed the proxy identities: the SA carries only that traffic");
            if let Err(e) = self.dp.set_acl(&self.acl.rules()) {
                self.acl.release(dp_selector);
                return Err(e).context("installing the narrowed ACL line");
            }
        }
        let in_id = self.alloc_id();
        let out_id = self.alloc_id();
        let local_ts = esp::Selector::new(c.local_ts.addr(), c.local_ts.prefix());
        let remote_ts = esp::Selector::new(c.remote_ts.addr(), c.remote_ts.prefix());
        let n = self.workers.len();
        let inbound = InboundSa::new_group(
            &SaParams {
                spi: c.inbound_spi,
                transform: c.transform,
                keymat: &c.inbound_keymat,
                tunnel_src: c.peer,
                tunnel_dst: c.local,
                udp_encap: c.udp_encap.map(|(l, r)| (r, l)),
                esn: c.esn,
                local_ts,
                remote_ts,
                lifetime_kb: c.lifetime_kb,
            },
            n,
        )?;
        let outbound = OutboundSa::new_group(
            &SaParams {
                spi: c.outbound_spi,
                transform: c.transform,
                keymat: &c.outbound_keymat,
                tunnel_src: c.local,
                tunnel_dst: c.peer,
                udp_encap: c.udp_encap,
                esn: c.esn,
                local_ts,
                remote_ts,
                lifetime_kb: c.lifetime_kb,
            },
            n,
        )?;
        // Test knob: only the first SA, or every rekey would start near
        // the end again and rekey forever. The handles share the counter.
        if let Some(seq) = self.esp_first_seq.take() {
            info!(
                seq,
                "--esp-first-seq: first outbound SA starts at this sequence number"
            );
            if let Some(o) = outbound.first() {
                o.set_next_seq(seq);
            }
        }
        // Inbound first: the peer may use the SA as soon as it has it.
        self.workers.install_inbound(in_id, inbound)?;
        self.dp.install_inbound_spi(c.inbound_spi, in_id)?;
        let out = DeferredOutbound {
            selector: dp_selector,
            sa_id: out_id,
            spec: OutboundSaSpec {
                sa_id: out_id,
                peer: c.peer,
                local: c.local,
                natt: c.udp_encap,
            },
            sas: outbound,
        };
        // A rekey: an older pair for this selector still sends, so waiting
        // costs nothing (whichever side started the quick mode).
        let rekey = self.children.iter().any(|o| o.dp_selector == dp_selector);
        if self.initiating.contains_key(&c.selector) || rekey {
            // We initiated: the peer installs its inbound SA only when our
            // QM3 arrives, and our held packets would race it (strongSwan
            // loses them). RFC 2409's commit bit exists for this; a short
            // grace does the same without a round trip. Packets keep being
            // held meanwhile.
            // We respond to a rekey: this runs when we send QM2, before the
            // initiator has read it and installed its inbound SA, so our
            // next packet on the new SA would be dropped there as an
            // unknown SPI. The old SA carries traffic during the grace.
            self.deferred.push((Instant::now() + INITIATOR_GRACE, out));
        } else {
            self.install_outbound(out)?;
        }
        let group = self.group_of(c.peer);
        asa_log::emit(&asa_log::AsaEvent::Phase2Completed {
            group,
            peer: c.peer,
            initiator: self.initiating.contains_key(&c.selector),
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
        });
        for (inbound, spi) in [(true, c.inbound_spi), (false, c.outbound_spi)] {
            asa_log::emit(&asa_log::AsaEvent::Sa {
                created: true,
                inbound,
                spi,
                local: self.local,
                peer: c.peer,
            });
        }
        self.sessions.entry(c.peer).or_insert(Session {
            start: Instant::now(),
            bytes_tx: 0,
            bytes_rx: 0,
            end_reason: "Peer Terminate",
        });
        info!(peer = %c.peer, selector = c.selector, inbound_spi = format_args!("{:08x}", c.inbound_spi),
              outbound_spi = format_args!("{:08x}", c.outbound_spi), transform = %c.transform, "IPsec SA pair installed");
        self.initiating.remove(&c.selector);
        self.children.push(ChildSaRec {
            selector: c.selector,
            dp_selector,
            negotiated,
            peer: c.peer,
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
            in_id,
            out_id,
            transform: c.transform,
            pfs: self
                .selectors
                .iter()
                .find(|s| s.id == c.selector)
                .and_then(|s| self.cfg.crypto_maps.get(s.entry))
                .and_then(|e| e.pfs)
                .map(|g| g.number()),
            udp_encap: c.udp_encap,
            created: Instant::now(),
            lifetime_s: u64::from(c.lifetime_s),
            lifetime_kb: c.lifetime_kb,
            last_packets: 0,
            last_inbound: 0,
            last_out_bytes: 0,
            last_look: Instant::now(),
        });
        Ok(())
    }

    fn install_outbound(&mut self, o: DeferredOutbound) -> Result<()> {
        self.workers
            .install_outbound(o.sa_id, o.selector, o.spec.peer, o.sas)?;
        self.dp.install_outbound_sa(o.selector, o.spec)?;
        Ok(())
    }

    fn next_deferred(&self) -> Option<tokio::time::Instant> {
        self.deferred
            .iter()
            .map(|(t, _)| *t)
            .min()
            .map(tokio::time::Instant::from_std)
    }

    fn install_deferred(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.deferred = later;
        for (_, o) in due {
            // Skip an SA that was deleted during the grace.
            if !self.children.iter().any(|c| c.out_id == o.sa_id) {
                continue;
            }
            if let Err(e) = self.install_outbound(o) {
                warn!(error = %e, "installing outbound SA failed");
            }
        }
    }

    fn uninstall(&mut self, peer: Ipv4Addr, inbound_spi: u32, outbound_spi: u32) {
        let Some(pos) = self.children.iter().position(|c| {
            c.peer == peer && c.inbound_spi == inbound_spi && c.outbound_spi == outbound_spi
        }) else {
            return;
        };
        let c = self.children.remove(pos);
        let _ = self.dp.remove_inbound_spi(c.inbound_spi);
        self.sa_gone_log(&c);
        // Only if no newer SA took the selector over (rekey).
        // A narrowed line goes with its last child.
        if self.acl.release(c.dp_selector)
            && let Err(e) = self.dp.set_acl(&self.acl.rules())
        {
            warn!(error = %e, "removing a narrowed ACL line failed");
        }
        if !self.children.iter().any(|o| o.dp_selector == c.dp_selector) {
            let _ = self.dp.remove_outbound_sa(c.dp_selector);
        } else if let Some(newest) = self
            .children
            .iter()
            .rev()
            .find(|o| o.dp_selector == c.dp_selector)
        {
            let spec = OutboundSaSpec {
                sa_id: newest.out_id,
                peer: newest.peer,
                local: self.local,
                natt: newest.udp_encap,
            };
            // The newer SA may still wait out its grace (the peer deleted
            // the old one right after a rekey): the worker does not know
            // it yet, so install it now rather than point at it.
            match self
                .deferred
                .iter()
                .position(|(_, o)| o.sa_id == spec.sa_id)
            {
                Some(pos) => {
                    let (_, o) = self.deferred.remove(pos);
                    if let Err(e) = self.install_outbound(o) {
                        warn!(error = %e, "installing outbound SA failed");
                    }
                }
                None => {
                    let _ = self.dp.install_outbound_sa(newest.dp_selector, spec);
                }
            }
        }
        self.workers.remove(c.in_id);
        self.workers.remove(c.out_id);
        let _ = self.dp.remove_sa_counters(c.out_id);
        info!(%peer, inbound_spi = format_args!("{:08x}", inbound_spi), "IPsec SA pair removed");
    }

    fn snapshot(&self) -> Snapshot {
        self.workers.snapshot()
    }

    /// Four times a second, from the ESP engine's counters: tell the IKE engine
    /// which SAs carry traffic (rekey while in use, DPD liveness), and
    /// which reached their kilobyte lifetime or sequence space (rekey, or
    /// expire at the hard limit).
    async fn housekeeping(&mut self) {
        if self.children.is_empty() {
            return;
        }
        let snap = self.snapshot();
        let now = Instant::now();
        let mut expire = Vec::new();
        for c in &mut self.children {
            let mine = || {
                snap.sas
                    .iter()
                    .filter(|s| s.sa_id == c.in_id || s.sa_id == c.out_id)
            };
            let total: u64 = mine()
                .map(|s| s.counters.pkts_encaps + s.counters.pkts_decaps)
                .sum();
            let expired = mine().any(|s| s.expired);
            let out_bytes: u64 = mine()
                .filter(|s| s.sa_id == c.out_id)
                .map(|s| s.counters.bytes_encaps)
                .sum();
            let dt = now.duration_since(c.last_look).as_secs_f64();
            let rate = if dt > 0.0 {
                out_bytes.saturating_sub(c.last_out_bytes) as f64 / dt
            } else {
                0.0
            };
            (c.last_out_bytes, c.last_look) = (out_bytes, now);
            let needs_rekey = mine().any(|s| s.outbound && s.needs_rekey)
                || esp::volume_rekey_due(c.lifetime_kb, out_bytes, rate, VOLUME_REKEY_LEAD);
            let inbound: u64 = mine()
                .filter(|s| s.sa_id == c.in_id)
                .map(|s| s.counters.pkts_decaps)
                .sum();
            if inbound != c.last_inbound {
                c.last_inbound = inbound;
                self.engine.note_child_inbound(now, c.inbound_spi);
            }
            if total != c.last_packets {
                c.last_packets = total;
                self.engine.note_child_traffic(now, c.inbound_spi);
            }
            if expired {
                expire.push(c.inbound_spi);
            } else if needs_rekey {
                // Kilobyte lifetime (or sequence space) nearly used: the
                // ESP engine knows, the IKE engine must start the rekey.
                // The sending side asks (its outbound SA counts what the
                // peer's inbound counts), so both ends do not start one.
                self.engine.note_child_volume_soft(now, c.inbound_spi);
            }
        }
        for spi in expire {
            let outs = self.engine.expire_child(now, spi);
            self.apply(outs).await;
        }
    }

    async fn control(&mut self, req: Request) -> Reply {
        let now = Instant::now();
        match req.command {
            Command::ShowIsakmpSa => Reply::ok(ReplyData::IsakmpSas(self.isakmp_view())),
            Command::ShowIkev2Sa => Reply::ok(ReplyData::Ikev2Sas(self.ikev2_view())),
            Command::ClearIkev2Sa { peer } => {
                let outs = self.engine.delete_ikev2(now, peer);
                self.apply(outs).await;
                self.initiating.clear();
                Reply::ok(ReplyData::Done("cleared IKEv2 SAs".into()))
            }
            Command::ShowIpsecSa { peer } => Reply::ok(ReplyData::IpsecSas(self.ipsec_view(peer))),
            Command::ShowRunningConfig => Reply::ok(ReplyData::Text(config::print(&self.cfg))),
            Command::ShowDataplane => match self.dataplane_lines() {
                Ok(l) => {
                    let mut v = l.verdicts;
                    v.extend(l.engine);
                    v.extend(
                        l.per_queue
                            .into_iter()
                            .map(|(q, k, x)| (format!("engine_q{q}_{k}"), x)),
                    );
                    Reply::ok(ReplyData::Dataplane(v))
                }
                Err(e) => Reply::error(format!("reading data-plane counters: {e}")),
            },
            Command::ClearIpsecSa { peer } => {
                for (_, s) in self
                    .sessions
                    .iter_mut()
                    .filter(|(a, _)| peer.is_none_or(|p| p == **a))
                {
                    s.end_reason = "Administrator Reset";
                }
                let outs = self.engine.delete_ipsec(now, peer);
                let before = self.children.len();
                self.apply(outs).await;
                Reply::ok(ReplyData::Done(format!(
                    "cleared {} IPsec SA pair(s)",
                    before.saturating_sub(self.children.len())
                )))
            }
            Command::ClearIsakmpSa { peer } => {
                let outs = self.engine.delete_isakmp(now, peer);
                self.apply(outs).await;
                self.initiating.clear();
                Reply::ok(ReplyData::Done("cleared ISAKMP SAs".into()))
            }
            Command::Reload { config } => match self.reload(config).await {
                Ok(s) => Reply::ok(ReplyData::Done(s)),
                Err(e) => Reply::error(format!("reload refused, nothing changed: {e:#}")),
            },
            Command::Debug { facility, level } => match self.log.set(facility, level) {
                Ok(s) => {
                    if facility == DebugFacility::Ipsec {
                        let on = level >= BPF_LOG_LEVEL;
                        if let Err(e) = self.dp.set_bpf_log(on) {
                            return Reply::error(format!("switching BPF logs: {e}"));
                        }
                        return Reply::ok(ReplyData::Done(format!(
                            "{s}; BPF data-plane logs {}",
                            if on { "on" } else { "off" }
                        )));
                    }
                    Reply::ok(ReplyData::Done(s))
                }
                Err(e) => Reply::error(e.to_string()),
            },
        }
    }

    /// `show dataplane`'s lines (and the metrics'): BPF verdicts, ESP
    /// engine and IKE drop counters, per-worker traffic.
    fn dataplane_lines(&self) -> Result<DataplaneLines> {
        let c = self.dp.counters()?;
        let verdicts: Vec<(String, u64)> = c.iter().map(|(k, v)| (k.to_string(), v)).collect();
        let mut v: Vec<(String, u64)> = Vec::new();
        let snap = self.snapshot();
        // IKE datagrams dropped before any state existed.
        let ike = self.engine.stats();
        v.push((
            "ike_unconfigured_first_msgs".into(),
            ike.unconfigured_first_msgs,
        ));
        v.push(("ike_unknown_sa_drops".into(), ike.unknown_sa_drops));
        v.push(("ike_replayed_drops".into(), ike.replayed_drops));
        v.push((
            "ike_mid_memory_full_drops".into(),
            ike.mid_memory_full_drops,
        ));
        let s = snap.stats;
        for (k, x) in [
            ("engine_rx_inside", s.rx_inside),
            ("engine_rx_outside", s.rx_outside),
            ("engine_tx_inside", s.tx_inside),
            ("engine_tx_outside", s.tx_outside),
            ("engine_held", s.held),
            ("engine_hold_released", s.hold_released),
            ("engine_hold_overflow", s.hold_overflow),
            ("engine_hold_expired", s.hold_expired),
            ("engine_unknown_sa", s.unknown_sa),
            ("engine_no_next_hop", s.no_next_hop),
            ("engine_decap_errors", s.decap_errors),
            ("engine_no_frame", s.no_frame),
            ("engine_tx_ring_full", s.tx_ring_full),
            ("engine_bad_meta", s.bad_meta),
            ("engine_frag_needed_sent", s.frag_needed_sent),
            ("engine_mss_clamped", s.mss_clamped),
            ("engine_csum_completed", s.csum_completed),
            ("engine_icmp_rate_limited", s.icmp_rate_limited),
            ("engine_resolver_busy", s.resolver_busy),
            ("engine_next_hop_evictions", s.next_hop_evictions),
            ("engine_frags_out", s.frags_out),
            ("engine_frag_errors", s.frag_errors),
            ("engine_reassembled_rx", s.reassembled_rx),
            ("engine_reassembled_decaps", s.reassembled_decaps),
            ("engine_reassembled_dropped", s.reassembled_dropped),
            ("engine_frags_inside", s.frags_inside),
            ("engine_inside_too_big", s.inside_too_big),
            ("xsk_inside_rx_dropped", s.xsk_inside.rx_dropped),
            ("xsk_inside_rx_ring_full", s.xsk_inside.rx_ring_full),
            (
                "xsk_inside_fill_ring_empty",
                s.xsk_inside.rx_fill_ring_empty,
            ),
            ("xsk_outside_rx_dropped", s.xsk_outside.rx_dropped),
            ("xsk_outside_rx_ring_full", s.xsk_outside.rx_ring_full),
            (
                "xsk_outside_fill_ring_empty",
                s.xsk_outside.rx_fill_ring_empty,
            ),
        ] {
            v.push((k.to_string(), x));
        }
        // Which worker (queue) moved what: RSS at work.
        let mut per_queue = Vec::new();
        for (q, w) in snap.per_queue.iter().enumerate() {
            for (k, x) in [
                ("rx_inside", w.rx_inside),
                ("rx_outside", w.rx_outside),
                ("tx_inside", w.tx_inside),
                ("tx_outside", w.tx_outside),
            ] {
                per_queue.push((q, k, x));
            }
        }
        Ok(DataplaneLines {
            verdicts,
            engine: v,
            per_queue,
        })
    }

    /// The text of one `/metrics` scrape.
    fn metrics_text(&self) -> String {
        let lines = self.dataplane_lines().unwrap_or_else(|e| {
            warn!(error = %e, "metrics: reading data-plane counters failed");
            DataplaneLines::default()
        });
        metrics::render(&metrics::Facts {
            ipsec: &self.ipsec_view(None),
            isakmp: &self.isakmp_view(),
            negotiations: &self.negotiations,
            verdicts: &lines.verdicts,
            engine: &lines.engine,
            per_queue: &lines.per_queue,
            rss_bytes: metrics::rss_bytes(),
        })
    }

    fn isakmp_view(&self) -> IsakmpSaList {
        let sas = self
            .engine
            .isakmp_sas(Instant::now())
            .into_iter()
            .map(|s| IsakmpSaView {
                peer: s.peer,
                kind: "L2L".into(),
                role: match s.role {
                    ikev1::sa::Role::Initiator => Role::Initiator,
                    ikev1::sa::Role::Responder => Role::Responder,
                },
                rekey: s.rekey,
                state: s.state.clone(),
                ike_version: 1,
                encryption: s.encryption.map(|e| e.to_string()).unwrap_or_default(),
                hash: s.hash.map(|e| e.to_string()).unwrap_or_default(),
                group: s.group.map(|g| g.number()).unwrap_or(0),
                auth: s.auth.map(|e| e.to_string()).unwrap_or_default(),
                lifetime_s: u64::from(s.lifetime_s),
                remaining_s: s.remaining_s.unwrap_or(0),
                reason: s.last_failure.clone(),
            })
            .collect::<Vec<_>>();
        let down = Self::diagnoses(self.engine.v1().peer_status(), |p| {
            !sas.iter().any(|s| s.peer == p && s.state.ends_with("_ACTIVE"))
        });
        IsakmpSaList { sas, down }
    }

    /// Configured peers that are down, with the state and reason of the
    /// last attempt. `no_sa(peer)`: no active IKE SA with it.
    fn diagnoses(status: Vec<crate::ike::PeerStatus>, no_sa: impl Fn(Ipv4Addr) -> bool) -> Vec<PeerDiagnosis> {
        status
            .into_iter()
            // A peer with phase 1 up but a failed quick mode is not up
            // either: list it with the reason.
            .filter(|p| !p.up && (p.last_failure.is_some() || no_sa(p.peer)))
            .map(|p| {
                let (map, seq) = p
                    .name
                    .rsplit_once(' ')
                    .map(|(m, s)| (m.to_string(), s.parse().unwrap_or(0)))
                    .unwrap_or((p.name.clone(), 0));
                let (state, reason) = split_state(&p.detail);
                PeerDiagnosis {
                    peer: p.peer,
                    crypto_map: map,
                    seq,
                    state,
                    reason,
                }
            })
            .collect()
    }

    /// `show crypto ikev2 sa`: the engine's IKEv2 SAs with the ESP
    /// engine's counters of each child.
    fn ikev2_view(&self) -> Ikev2SaList {
        let snap = self.snapshot();
        let find = |id: u32| {
            snap.sas
                .iter()
                .find(|s| s.sa_id == id)
                .map(|s| s.counters)
                .unwrap_or_default()
        };
        let now = Instant::now();
        let sas: Vec<Ikev2SaView> = self
            .engine
            .ikev2_sas(now)
            .into_iter()
            .map(|s| Ikev2SaView {
                session_id: s.session_id,
                peer: s.peer,
                local: s.local,
                remote: s.remote,
                role: match s.role {
                    crate::ike::Role::Initiator => Role::Initiator,
                    crate::ike::Role::Responder => Role::Responder,
                },
                state: s.state,
                encryption: s.encryption,
                keysize: s.keysize,
                integrity: s.integrity,
                prf: s.prf,
                group: s.group,
                auth: s.auth_sign.clone(),
                auth_sign: s.auth_sign,
                auth_verify: s.auth_verify,
                lifetime_s: s.lifetime_s,
                active_s: s.active_s,
                nat_t: s.nat_t,
                local_spi: s.local_spi,
                remote_spi: s.remote_spi,
                children: s
                    .children
                    .into_iter()
                    .map(|c| {
                        let rec = self.children.iter().find(|r| r.inbound_spi == c.inbound_spi);
                        let o = rec.map(|r| find(r.out_id)).unwrap_or_default();
                        let i = rec.map(|r| find(r.in_id)).unwrap_or_default();
                        Ikev2ChildView {
                            local_selector: c.local_selector,
                            remote_selector: c.remote_selector,
                            inbound_spi: c.inbound_spi,
                            outbound_spi: c.outbound_spi,
                            transform: c.transform.to_string(),
                            packets_in: i.pkts_decaps,
                            packets_out: o.pkts_encaps,
                            bytes_in: i.bytes_decaps,
                            bytes_out: o.bytes_encaps,
                        }
                    })
                    .collect(),
            })
            .collect();
        let down = Self::diagnoses(self.engine.v2().peer_status(), |p| {
            !sas.iter().any(|s| s.peer == p && s.state == "READY")
        });
        Ikev2SaList { sas, down }
    }

    fn ipsec_view(&self, peer: Option<Ipv4Addr>) -> Vec<IpsecSaView> {
        let snap = self.snapshot();
        let find = |id: u32| {
            snap.sas
                .iter()
                .find(|s| s.sa_id == id)
                .map(|s| s.counters)
                .unwrap_or_default()
        };
        let now = Instant::now();
        let mut out = Vec::new();
        for c in self
            .children
            .iter()
            .filter(|c| peer.is_none_or(|p| p == c.peer))
        {
            let Some(sel) = self.selectors.iter().find(|s| s.id == c.selector) else {
                continue;
            };
            let o = find(c.out_id);
            let i = find(c.in_id);
            let used_kb = (o.bytes_encaps.max(i.bytes_decaps)) / 1024;
            let iv = c.transform.cipher.iv_len() as u32;
            let overhead = 20
                + 8
                + iv
                + 2
                + c.transform.integ.icv_len() as u32
                + if c.transform.cipher.is_aead() { 16 } else { 0 }
                + if c.udp_encap.is_some() { 8 } else { 0 };
            out.push(IpsecSaView {
                interface: sel.interface.clone(),
                crypto_map: sel.map.clone(),
                seq: sel.seq,
                local_addr: self.local,
                acl: sel.acl_text.clone(),
                // What was negotiated (a peer may have narrowed the line).
                local_ident: negotiated_ident(
                    c.negotiated.local,
                    sel,
                    c.negotiated.proto,
                    c.negotiated.local_port,
                ),
                remote_ident: negotiated_ident(
                    c.negotiated.remote,
                    sel,
                    c.negotiated.proto,
                    c.negotiated.remote_port,
                ),
                peer: c.peer,
                pkts_encaps: o.pkts_encaps,
                pkts_encrypt: o.pkts_encrypt,
                pkts_digest: o.pkts_digest,
                pkts_decaps: i.pkts_decaps,
                pkts_decrypt: i.pkts_decrypt,
                pkts_verify: i.pkts_verify,
                bytes_encaps: o.bytes_encaps,
                bytes_decaps: i.bytes_decaps,
                send_errors: o.send_errors,
                recv_errors: i.recv_errors,
                replay_drops: i.replay_drops,
                policy_drops: i.policy_drops,
                auth_failures: i.auth_failures,
                path_mtu: self.path_mtu,
                ipsec_overhead: overhead,
                inbound_spi: c.inbound_spi,
                outbound_spi: c.outbound_spi,
                transform: c.transform.to_string(),
                mode: "tunnel".into(),
                udp_encap: c.udp_encap.map(|(_, r)| r),
                remaining_s: c
                    .lifetime_s
                    .saturating_sub(now.duration_since(c.created).as_secs()),
                remaining_kb: c
                    .lifetime_kb
                    .map(|kb| kb.saturating_sub(used_kb))
                    .unwrap_or(0),
                iv_size: iv,
                replay_window: esp::REPLAY_WINDOW as u32,
                pfs_group: c.pfs,
            });
        }
        out
    }
}

/// "MM_WAIT_MSG2: no reply ..." -> ("MM_WAIT_MSG2", "no reply ...").
fn split_state(detail: &str) -> (String, String) {
    match detail.split_once(": ") {
        Some((s, r))
            if s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
        {
            (s.to_string(), r.to_string())
        }
        _ => ("IDLE".to_string(), detail.to_string()),
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
