//! The AF_XDP worker: one thread, no locks and no allocation on the packet
//! path. It receives what the XDP programs redirected (metadata in front of
//! each frame says encrypt / hold / decrypt and which SA), runs the ESP
//! core, and transmits on the other interface from the same UMEM.
//!
//! The daemon talks to it only through [`WorkerCmd`]s, taken between
//! batches, so SA tables are owned by this thread alone.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use xdpilone::xdp::XdpDesc;

use super::neigh::{Netlink, interface_mac};
use super::next_hop::{self, Lookup, NextHops};
use super::socket::{FRAME_SIZE, Xsk, XskError};
use crate::dataplane::meta::{self, FrameMeta, FrameVerdict};
use crate::esp::{self, HoldQueue, IcmpRateLimiter, InboundSa, OutboundSa, SaCounters};

const BATCH: u32 = 64;
const EMPTY_DESC: XdpDesc = XdpDesc {
    addr: 0,
    len: 0,
    options: 0,
};
const ETH_HLEN: usize = 14;
/// Packets held per selector while its SA is negotiated, and for how long.
pub const HOLD_PACKETS: usize = 64;
pub const HOLD_TIME: Duration = Duration::from_secs(2);
/// Packets waiting for the resolver thread to find their next hop.
const PENDING_MAX: usize = 128;
const PENDING_TIME: Duration = Duration::from_secs(1);
/// Hold queues waiting at once for their peer's next hop.
const AWAITING_MAX: usize = 64;
/// How long the next hop toward a peer is used before it is looked up
/// again (when the XDP program's FIB answer did not refresh it).
const NEIGH_TTL: Duration = next_hop::POSITIVE_TTL;

/// What the daemon asks of the worker.
pub enum WorkerCmd {
    /// Start encrypting traffic of `selector` with this SA (and release the
    /// packets held for it).
    InstallOutbound {
        sa_id: u32,
        selector: u32,
        peer: Ipv4Addr,
        sa: Box<OutboundSa>,
    },
    InstallInbound {
        sa_id: u32,
        sa: Box<InboundSa>,
    },
    /// Forget an SA (its keys are zeroized by its Drop).
    Remove {
        sa_id: u32,
    },
    /// Drop the packets held for a selector (negotiation failed).
    DropHeld {
        selector: u32,
    },
    Snapshot(mpsc::Sender<Snapshot>),
    Stop,
}

/// An ESP packet (SPI to ICV) the kernel reassembled from outer
/// fragments: XDP passes fragments to the stack, whose reassembly is
/// bounded (`net.ipv4.ipfrag_high_thresh`, `ipfrag_time`); the daemon
/// receives the result on its UDP 4500 or raw ESP socket and hands it
/// here.
pub struct Reassembled {
    pub sa_id: u32,
    pub esp: Vec<u8>,
}

/// Reassembled packets waiting for one worker; past it they are dropped
/// (counted). Fragmented ESP is the slow path.
pub const REASSEMBLED_QUEUE: usize = 64;
/// Taken per turn of the loop, so packets from the rings keep flowing.
const REASSEMBLED_BATCH: usize = 16;

/// Live facts for `show crypto ipsec sa` and for lifetime decisions.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub sas: Vec<SaSnapshot>,
    pub stats: EngineStats,
    /// Each worker's own engine counters, in queue order (filled in by
    /// [`super::pool::Workers::snapshot`]; empty from a single worker).
    pub per_queue: Vec<EngineStats>,
}

#[derive(Debug, Clone)]
pub struct SaSnapshot {
    pub sa_id: u32,
    pub outbound: bool,
    pub counters: SaCounters,
    pub needs_rekey: bool,
    pub expired: bool,
}

/// Engine-wide counters (packets that never reached an SA).
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineStats {
    pub rx_inside: u64,
    pub rx_outside: u64,
    pub tx_inside: u64,
    pub tx_outside: u64,
    pub bad_meta: u64,
    pub unknown_sa: u64,
    pub held: u64,
    pub hold_overflow: u64,
    /// Held packets dropped because their SA did not come in time.
    pub hold_expired: u64,
    pub hold_released: u64,
    pub no_frame: u64,
    pub tx_ring_full: u64,
    pub no_next_hop: u64,
    pub frag_needed_sent: u64,
    pub mss_clamped: u64,
    pub decap_errors: u64,
    /// TCP/UDP checksums finished for senders that left them to offload.
    pub csum_completed: u64,
    /// ICMP errors not sent: over the per-source or total rate.
    pub icmp_rate_limited: u64,
    /// Next-hop misses not asked: the resolver thread was behind.
    pub resolver_busy: u64,
    /// Next-hop cache entries evicted (least recently used first).
    pub next_hop_evictions: u64,
    /// Outer fragments sent (encapsulated packets past the outside MTU).
    pub frags_out: u64,
    pub frag_errors: u64,
    /// ESP the kernel reassembled from fragments, handed over by the
    /// daemon, taken in by this worker.
    pub reassembled_rx: u64,
    /// ... and decrypted and sent on.
    pub reassembled_decaps: u64,
    /// Reassembled ESP the daemon could not hand over (the worker's
    /// channel was full).
    pub reassembled_dropped: u64,
    /// Decrypted packets fragmented to the inside MTU (fragments sent),
    /// and those too big with DF set (dropped).
    pub frags_inside: u64,
    pub inside_too_big: u64,
    /// The kernel's AF_XDP socket counters, inside and outside.
    pub xsk_inside: super::socket::SocketStats,
    pub xsk_outside: super::socket::SocketStats,
}

impl EngineStats {
    /// Adds another worker's counters to these.
    pub fn add(&mut self, o: &EngineStats) {
        let pairs: [(&mut u64, u64); 27] = [
            (&mut self.rx_inside, o.rx_inside),
            (&mut self.rx_outside, o.rx_outside),
            (&mut self.tx_inside, o.tx_inside),
            (&mut self.tx_outside, o.tx_outside),
            (&mut self.bad_meta, o.bad_meta),
            (&mut self.unknown_sa, o.unknown_sa),
            (&mut self.held, o.held),
            (&mut self.hold_overflow, o.hold_overflow),
            (&mut self.hold_expired, o.hold_expired),
            (&mut self.hold_released, o.hold_released),
            (&mut self.no_frame, o.no_frame),
            (&mut self.tx_ring_full, o.tx_ring_full),
            (&mut self.no_next_hop, o.no_next_hop),
            (&mut self.frag_needed_sent, o.frag_needed_sent),
            (&mut self.mss_clamped, o.mss_clamped),
            (&mut self.decap_errors, o.decap_errors),
            (&mut self.csum_completed, o.csum_completed),
            (&mut self.icmp_rate_limited, o.icmp_rate_limited),
            (&mut self.resolver_busy, o.resolver_busy),
            (&mut self.next_hop_evictions, o.next_hop_evictions),
            (&mut self.frags_out, o.frags_out),
            (&mut self.frag_errors, o.frag_errors),
            (&mut self.reassembled_rx, o.reassembled_rx),
            (&mut self.reassembled_decaps, o.reassembled_decaps),
            (&mut self.reassembled_dropped, o.reassembled_dropped),
            (&mut self.frags_inside, o.frags_inside),
            (&mut self.inside_too_big, o.inside_too_big),
        ];
        for (a, b) in pairs {
            *a += b;
        }
        self.xsk_inside.add(&o.xsk_inside);
        self.xsk_outside.add(&o.xsk_outside);
    }
}

struct Outbound {
    sa: Box<OutboundSa>,
    /// The selector whose traffic it carries (and whose hold queue takes
    /// that traffic if the SA runs out of sequence numbers).
    selector: u32,
    /// Next hop MACs toward the peer, from the program's fib lookup or
    /// from rtnetlink.
    l2: Option<([u8; 6], [u8; 6])>,
    l2_checked: Instant,
    peer: Ipv4Addr,
}

struct Pending {
    addr: u64,
    len: usize,
    dst: Ipv4Addr,
    since: Instant,
}

#[derive(Clone)]
pub struct WorkerConfig {
    /// The queue (of both interfaces) this worker serves.
    pub queue: u32,
    pub inside: String,
    pub outside: String,
    /// Largest frame the outside link carries (Ethernet payload).
    pub outside_mtu: usize,
    /// `sysopt connection tcpmss`; 0 disables clamping.
    pub tcp_mss: u16,
    pub inside_addr: Ipv4Addr,
}

pub struct Worker {
    cfg: WorkerConfig,
    xsk: Xsk,
    /// Next-hop MACs, resolved by a thread of their own.
    next_hops: NextHops,
    icmp_limit: IcmpRateLimiter,
    inside_mac: [u8; 6],
    outside_mac: [u8; 6],
    /// Largest IPv4 packet the inside link carries.
    inside_mtu: usize,
    out_by_id: HashMap<u32, Outbound>,
    out_by_selector: HashMap<u32, u32>,
    inbound: HashMap<u32, Box<InboundSa>>,
    hold: HashMap<u32, HoldQueue>,
    pending: Vec<Pending>,
    /// Hold queues waiting for the next hop toward their peer:
    /// (selector, SA, since).
    awaiting_peer: Vec<(u32, u32, Instant)>,
    tx_in: Vec<XdpDesc>,
    tx_out: Vec<XdpDesc>,
    stats: EngineStats,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Xsk(#[from] XskError),
    #[error("{0}: {1}")]
    Io(&'static str, std::io::Error),
}

impl Worker {
    /// Opens the sockets. Call from a thread in the gateway's namespace.
    pub fn new(cfg: WorkerConfig) -> Result<Worker, WorkerError> {
        let xsk = Xsk::open(&cfg.inside, &cfg.outside, cfg.queue)?;
        // Opened here, in the gateway's namespace, and handed to the
        // resolver thread.
        let nl = Netlink::open().map_err(|e| WorkerError::Io("rtnetlink", e))?;
        let next_hops = next_hop::spawn_resolver(nl, format!("ipsecgw-nh/{}", cfg.queue))
            .map_err(|e| WorkerError::Io("spawn next-hop resolver", e))?;
        let inside_mtu = super::iface::mtu(&cfg.inside).map_or(1500, |m| m.max(68));
        let inside_mac =
            interface_mac(&cfg.inside).map_err(|e| WorkerError::Io("inside MAC", e))?;
        let outside_mac =
            interface_mac(&cfg.outside).map_err(|e| WorkerError::Io("outside MAC", e))?;
        let mode = |p: &super::socket::Port| match p.zero_copy() {
            Some(true) => "zero-copy",
            Some(false) => "copy",
            None => "unknown",
        };
        tracing::info!(
            queue = cfg.queue,
            inside = mode(&xsk.inside),
            outside = mode(&xsk.outside),
            "ESP worker: AF_XDP sockets bound"
        );
        Ok(Worker {
            cfg,
            xsk,
            next_hops,
            icmp_limit: IcmpRateLimiter::default(),
            inside_mac,
            outside_mac,
            inside_mtu,
            out_by_id: HashMap::new(),
            out_by_selector: HashMap::new(),
            inbound: HashMap::new(),
            hold: HashMap::new(),
            pending: Vec::with_capacity(PENDING_MAX),
            awaiting_peer: Vec::with_capacity(AWAITING_MAX),
            tx_in: Vec::with_capacity(BATCH as usize * 2),
            tx_out: Vec::with_capacity(BATCH as usize * 2),
            stats: EngineStats::default(),
        })
    }

    /// The AF_XDP socket fds, to be registered in the XSKMAPs at the
    /// worker's queue.
    pub fn socket_fds(&self) -> (i32, i32) {
        (self.xsk.inside.fd, self.xsk.outside.fd)
    }

    /// Runs until `Stop` or the command channel closes.
    pub fn run(
        mut self,
        cmds: mpsc::Receiver<WorkerCmd>,
        reassembled: mpsc::Receiver<Reassembled>,
    ) {
        loop {
            loop {
                match cmds.try_recv() {
                    Ok(WorkerCmd::Stop) | Err(mpsc::TryRecvError::Disconnected) => return,
                    Ok(cmd) => self.command(cmd),
                    Err(mpsc::TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            let busy = self.poll_inside(now)
                + self.poll_outside(now)
                + self.poll_reassembled(&reassembled, now);
            self.retry_pending(now);
            self.release_awaiting(now);
            self.flush();
            self.xsk.reap_completions();
            self.xsk.refill();
            if busy == 0 {
                self.wait(Duration::from_millis(1));
            }
        }
    }

    fn wait(&self, timeout: Duration) {
        let mut fds = [
            libc::pollfd {
                fd: self.xsk.inside.fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.xsk.outside.fd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout.as_millis() as i32) };
    }

    fn command(&mut self, cmd: WorkerCmd) {
        match cmd {
            WorkerCmd::InstallOutbound {
                sa_id,
                selector,
                peer,
                sa,
            } => {
                self.out_by_id.insert(
                    sa_id,
                    Outbound {
                        sa,
                        selector,
                        l2: None,
                        l2_checked: Instant::now() - NEIGH_TTL,
                        peer,
                    },
                );
                self.out_by_selector.insert(selector, sa_id);
                self.release_held(selector, sa_id);
            }
            WorkerCmd::InstallInbound { sa_id, sa } => {
                self.inbound.insert(sa_id, sa);
            }
            WorkerCmd::Remove { sa_id } => {
                self.out_by_id.remove(&sa_id);
                self.out_by_selector.retain(|_, v| *v != sa_id);
                self.inbound.remove(&sa_id);
            }
            WorkerCmd::DropHeld { selector } => {
                if let Some(q) = self.hold.get_mut(&selector) {
                    q.clear();
                }
            }
            WorkerCmd::Snapshot(reply) => {
                let mut sas = Vec::with_capacity(self.out_by_id.len() + self.inbound.len());
                for (id, o) in &self.out_by_id {
                    sas.push(SaSnapshot {
                        sa_id: *id,
                        outbound: true,
                        counters: *o.sa.counters(),
                        needs_rekey: o.sa.needs_rekey(),
                        expired: o.sa.expired(),
                    });
                }
                for (id, i) in &self.inbound {
                    sas.push(SaSnapshot {
                        sa_id: *id,
                        outbound: false,
                        counters: *i.counters(),
                        needs_rekey: i.needs_rekey(),
                        expired: i.expired(),
                    });
                }
                let mut stats = self.stats;
                let nh = self.next_hops.stats();
                stats.resolver_busy = nh.resolver_busy;
                stats.next_hop_evictions = nh.evictions;
                stats.xsk_inside = self.xsk.inside.stats();
                stats.xsk_outside = self.xsk.outside.stats();
                for q in self.hold.values() {
                    stats.hold_overflow += q.counters().overflow + q.counters().too_big;
                    stats.hold_expired += q.counters().expired;
                }
                let _ = reply.send(Snapshot {
                    sas,
                    stats,
                    per_queue: Vec::new(),
                });
            }
            WorkerCmd::Stop => {}
        }
    }

    /// The metadata the XDP program wrote in front of the frame at `off`.
    fn meta(frame: &[u8], off: usize) -> Option<FrameMeta> {
        meta::decode(frame.get(..off)?)
    }

    fn poll_inside(&mut self, now: Instant) -> usize {
        let mut descs = [EMPTY_DESC; BATCH as usize];
        let n = self.xsk.receive(true, &mut descs);
        for d in &descs[..n] {
            self.stats.rx_inside += 1;
            if !self.handle_inside(d, now) {
                self.xsk.release(d.addr);
            }
        }
        n
    }

    /// Returns true when the frame left encrypted (it is no longer ours).
    fn handle_inside(&mut self, d: &XdpDesc, now: Instant) -> bool {
        // SAFETY: the frame was just received and is ours until released.
        let (frame, off) = unsafe { self.xsk.whole_frame_mut(d.addr) };
        let Some(meta) = Self::meta(frame, off) else {
            self.stats.bad_meta += 1;
            return false;
        };
        let l3 = off + meta.l3_offset as usize;
        let end = off + d.len as usize;
        let Some(inner) = frame.get_mut(l3..end) else {
            self.stats.bad_meta += 1;
            return false;
        };
        let inner = trim_ipv4(inner);
        // An SA out of sequence numbers sends nothing more; its rekey has
        // been under way since the soft mark. Its traffic goes to the SA
        // that replaced it, if this worker has it already (the program
        // may still name the old one), or waits in the selector's hold
        // queue for it, as a tunnel's first packets do.
        let sa_id = match meta.verdict {
            FrameVerdict::Encrypt { sa_id, route, .. } => match self.out_by_id.get_mut(&sa_id) {
                Some(o) => {
                    // The program's FIB answer toward the peer is the freshest.
                    if let Some(r) = route {
                        o.l2 = Some((r.smac, r.dmac));
                        o.l2_checked = now;
                    }
                    if !o.sa.exhausted() {
                        sa_id
                    } else {
                        match self.out_by_selector.get(&o.selector) {
                            Some(&newer) if newer != sa_id => newer,
                            _ => {
                                let selector = o.selector;
                                self.hold_packet(selector, inner, now);
                                return false;
                            }
                        }
                    }
                }
                // Counted by `prepare` as an unknown SA.
                None => sa_id,
            },
            FrameVerdict::Hold { selector } => {
                // The SA may have arrived since the program looked (the
                // selector's newest: if even it is used up, wait for the
                // next one).
                let usable = self
                    .out_by_selector
                    .get(&selector)
                    .copied()
                    .filter(|id| !self.out_by_id.get(id).is_some_and(|o| o.sa.exhausted()));
                match usable {
                    Some(sa_id) => sa_id,
                    None => {
                        self.hold_packet(selector, inner, now);
                        return false;
                    }
                }
            }
            FrameVerdict::Decrypt { .. } => {
                self.stats.bad_meta += 1;
                return false;
            }
        };
        let Some((smac, dmac)) = self.prepare(sa_id, inner, now) else {
            return false;
        };
        // What was received (link-layer padding cut), and nothing after it.
        let inner_len = inner.len();
        // Encrypt in the frame the packet arrived in: the outer headers go
        // into the headroom in front of it (the kernel leaves 256 bytes
        // there, where the program's metadata was), the trailer after it.
        let Some(o) = self.out_by_id.get_mut(&sa_id) else {
            return false;
        };
        if l3 < ETH_HLEN + o.sa.header_len() {
            // Not enough headroom (a driver that leaves none): copy.
            let mut copy = [0u8; FRAME_SIZE as usize];
            copy[..inner_len].copy_from_slice(&frame[l3..l3 + inner_len]);
            self.encrypt_copy_prepared(sa_id, &copy[..inner_len], smac, dmac);
            return false;
        }
        let Ok(r) = o.sa.encapsulate_in_place(frame, l3..l3 + inner_len) else {
            return false;
        };
        let Some(eth) = r.start.checked_sub(ETH_HLEN) else {
            return false;
        };
        write_eth(&mut frame[eth..r.start], dmac, smac);
        if r.len() > self.cfg.outside_mtu {
            // DF clear (prepare answered DF packets with ICMP): fragment
            // the outer packet, each piece in a frame of its own.
            self.send_fragments(&frame[r], smac, dmac);
            return false;
        }
        let base = d.addr - d.addr % FRAME_SIZE as u64;
        self.tx_out.push(XdpDesc {
            addr: base + eth as u64,
            len: (r.end - eth) as u32,
            options: 0,
        });
        true
    }

    /// Queues the outer IPv4 packet `outer` for the outside as fragments
    /// of at most the outside MTU (RFC 4303 3.3.5: after ESP processing).
    /// The caller still owns `outer`'s frame.
    fn send_fragments(&mut self, outer: &[u8], smac: [u8; 6], dmac: [u8; 6]) {
        let mtu = self.cfg.outside_mtu;
        self.send_fragmented(outer, mtu, FragmentsTo::Outside { smac, dmac });
    }

    /// Cuts `packet` into IPv4 fragments of at most `mtu` bytes, each
    /// copied into a fresh frame and sent as `to` says; a packet that
    /// cannot be fragmented (DF set, malformed) is counted and dropped.
    fn send_fragmented(&mut self, packet: &[u8], mtu: usize, to: FragmentsTo) {
        let failed = |s: &mut EngineStats| match to {
            FragmentsTo::Outside { .. } => s.frag_errors += 1,
            FragmentsTo::Inside { .. } => s.inside_too_big += 1,
        };
        let Ok(mut f) = esp::Fragmenter::new(packet, mtu) else {
            failed(&mut self.stats);
            return;
        };
        loop {
            let Some(frame_addr) = self.xsk.alloc() else {
                self.stats.no_frame += 1;
                return;
            };
            // SAFETY: a free frame belongs to us alone.
            let (buf, _) = unsafe { self.xsk.whole_frame_mut(frame_addr) };
            let len = match f.next_into(&mut buf[ETH_HLEN..]) {
                Some(Ok(len)) => ETH_HLEN + len,
                Some(Err(_)) => {
                    failed(&mut self.stats);
                    self.xsk.release(frame_addr);
                    return;
                }
                None => {
                    self.xsk.release(frame_addr);
                    return;
                }
            };
            match to {
                FragmentsTo::Outside { smac, dmac } => {
                    write_eth(&mut buf[..ETH_HLEN], dmac, smac);
                    self.tx_out.push(XdpDesc {
                        addr: frame_addr,
                        len: len as u32,
                        options: 0,
                    });
                    self.stats.frags_out += 1;
                }
                FragmentsTo::Inside { dst, now } => {
                    self.stats.frags_inside += 1;
                    self.queue_inside(frame_addr, len, dst, now);
                }
            }
        }
    }

    /// Keeps a copy of `inner` until the selector's SA is installed.
    fn hold_packet(&mut self, selector: u32, inner: &[u8], now: Instant) {
        let q = self
            .hold
            .entry(selector)
            .or_insert_with(|| HoldQueue::new(HOLD_PACKETS, FRAME_SIZE as usize, HOLD_TIME));
        if q.push(inner, now) {
            self.stats.held += 1;
        }
    }

    /// Encapsulates one inner IPv4 packet with outbound SA `sa_id` into a
    /// fresh frame queued for the outside interface (for packets that are
    /// not in a frame of their own: those released from a hold queue).
    fn encrypt_copy(&mut self, sa_id: u32, inner: &mut [u8], now: Instant) {
        if let Some((smac, dmac)) = self.prepare(sa_id, inner, now) {
            self.encrypt_copy_prepared(sa_id, inner, smac, dmac);
        }
    }

    fn encrypt_copy_prepared(&mut self, sa_id: u32, inner: &[u8], smac: [u8; 6], dmac: [u8; 6]) {
        let Some(o) = self.out_by_id.get_mut(&sa_id) else {
            return;
        };
        let Some(frame_addr) = self.xsk.alloc() else {
            self.stats.no_frame += 1;
            return;
        };
        // SAFETY: a free frame belongs to us alone.
        let (buf, _) = unsafe { self.xsk.whole_frame_mut(frame_addr) };
        write_eth(&mut buf[..ETH_HLEN], dmac, smac);
        match o.sa.encapsulate(inner, &mut buf[ETH_HLEN..]) {
            Ok(len) if len > self.cfg.outside_mtu => {
                self.send_fragments(&buf[ETH_HLEN..ETH_HLEN + len], smac, dmac);
                self.xsk.release(frame_addr);
            }
            Ok(len) => self.tx_out.push(XdpDesc {
                addr: frame_addr,
                len: (ETH_HLEN + len) as u32,
                options: 0,
            }),
            Err(_) => self.xsk.release(frame_addr),
        }
    }

    /// What comes before encapsulating a packet with SA `sa_id`: a
    /// checksum left to offload finished, the MSS clamp, the path-MTU check (a too-big DF packet gets ICMP
    /// fragmentation-needed back and is not sent) and the next hop toward
    /// the peer. Returns the (source, destination) MACs, or None when the
    /// packet is not to be encrypted (and has been counted).
    fn prepare(
        &mut self,
        sa_id: u32,
        inner: &mut [u8],
        now: Instant,
    ) -> Option<([u8; 6], [u8; 6])> {
        // First, so the clamp's incremental update starts from a real
        // checksum, not a pseudo-header sum.
        if esp::complete_partial_checksum(inner) {
            self.stats.csum_completed += 1;
        }
        if self.cfg.tcp_mss != 0 && esp::clamp_tcp_mss(inner, self.cfg.tcp_mss) {
            self.stats.mss_clamped += 1;
        }
        let Some(o) = self.out_by_id.get_mut(&sa_id) else {
            self.stats.unknown_sa += 1;
            return None;
        };
        let max_inner = o.sa.max_inner_len(self.cfg.outside_mtu);
        if inner.len() > max_inner && inner.get(6).is_some_and(|b| b & 0x40 != 0) {
            // DF set and too big once encapsulated: tell the sender, ASA
            // style, instead of a silent black hole; within a rate per
            // source, as sources may be forged.
            let src = Ipv4Addr::new(inner[12], inner[13], inner[14], inner[15]);
            if !self.icmp_limit.allow(src, now) {
                self.stats.icmp_rate_limited += 1;
                return None;
            }
            let Some(frame_addr) = self.xsk.alloc() else {
                self.stats.no_frame += 1;
                return None;
            };
            let (buf, _) = unsafe { self.xsk.whole_frame_mut(frame_addr) };
            let mtu = u16::try_from(max_inner).unwrap_or(u16::MAX);
            match esp::build_frag_needed(inner, mtu, self.cfg.inside_addr, &mut buf[ETH_HLEN..]) {
                Ok(len) => {
                    // Back to whoever sent it: the inner source's MAC is
                    // not at hand here, so resolve it like any inside hop.
                    self.queue_inside(frame_addr, ETH_HLEN + len, src, now);
                    self.stats.frag_needed_sent += 1;
                }
                Err(_) => self.xsk.release(frame_addr),
            }
            return None;
        }
        if o.l2.is_none() || now.duration_since(o.l2_checked) > NEIGH_TTL {
            // Never waits: until the resolver answers, a known MAC is
            // kept, and a packet with none waits in the selector's hold
            // queue, released when the answer comes.
            match self.next_hops.lookup(o.peer, now) {
                Lookup::Ready(mac) => {
                    o.l2 = Some((self.outside_mac, mac));
                    o.l2_checked = now;
                }
                Lookup::Pending if o.l2.is_none() => {
                    let selector = o.selector;
                    self.hold_packet(selector, inner, now);
                    self.await_peer(selector, sa_id, now);
                    return None;
                }
                Lookup::Pending | Lookup::Unreachable => {}
            }
        }
        if o.l2.is_none() {
            self.stats.no_next_hop += 1;
        }
        o.l2
    }

    fn release_held(&mut self, selector: u32, sa_id: u32) {
        let now = Instant::now();
        if !self.hold.contains_key(&selector) {
            return;
        }
        // Not before the next hop toward the peer is known: until then
        // the packets stay in the hold queue (bounded, and timed).
        if let Some(o) = self.out_by_id.get(&sa_id)
            && o.l2.is_none()
            && self.next_hops.lookup(o.peer, now) == Lookup::Pending
        {
            self.await_peer(selector, sa_id, now);
            return;
        }
        let Some(mut q) = self.hold.remove(&selector) else {
            return;
        };
        let mut buf = vec![0u8; FRAME_SIZE as usize];
        let mut packets = Vec::new();
        q.drain(now, |p| packets.push(p.to_vec()));
        for p in packets {
            let n = p.len();
            buf[..n].copy_from_slice(&p);
            self.encrypt_copy(sa_id, &mut buf[..n], now);
            self.stats.hold_released += 1;
        }
        self.hold.insert(selector, q);
        self.flush();
    }

    /// Remembers to release `selector`'s held packets with `sa_id` once
    /// the next hop toward its peer is resolved.
    fn await_peer(&mut self, selector: u32, sa_id: u32, now: Instant) {
        if self.awaiting_peer.iter().any(|a| a.0 == selector) {
            return;
        }
        if self.awaiting_peer.len() < AWAITING_MAX {
            self.awaiting_peer.push((selector, sa_id, now));
        }
    }

    /// Releases the hold queues whose peer's next hop has been resolved;
    /// gives up on those it could not be (their packets expire in the
    /// queue, counted).
    fn release_awaiting(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.awaiting_peer.len() {
            let (selector, sa_id, since) = self.awaiting_peer[i];
            let verdict = match self.out_by_id.get(&sa_id) {
                Some(o) if now.duration_since(since) <= HOLD_TIME => {
                    self.next_hops.lookup(o.peer, now)
                }
                _ => Lookup::Unreachable,
            };
            match verdict {
                Lookup::Pending => i += 1,
                Lookup::Ready(_) => {
                    self.awaiting_peer.swap_remove(i);
                    self.release_held(selector, sa_id);
                }
                Lookup::Unreachable => {
                    self.awaiting_peer.swap_remove(i);
                }
            }
        }
    }

    fn poll_outside(&mut self, now: Instant) -> usize {
        let mut descs = [EMPTY_DESC; BATCH as usize];
        let n = self.xsk.receive(false, &mut descs);
        for d in &descs[..n] {
            self.stats.rx_outside += 1;
            if !self.handle_outside(d, now) {
                self.xsk.release(d.addr);
            }
        }
        n
    }

    /// Decrypts ESP the kernel reassembled and sends the inner packet out
    /// of the inside interface in a frame of its own.
    fn poll_reassembled(&mut self, rx: &mpsc::Receiver<Reassembled>, now: Instant) -> usize {
        let mut n = 0;
        while n < REASSEMBLED_BATCH {
            let Ok(mut r) = rx.try_recv() else { break };
            n += 1;
            self.stats.reassembled_rx += 1;
            let Some(sa) = self.inbound.get_mut(&r.sa_id) else {
                self.stats.unknown_sa += 1;
                continue;
            };
            let Ok(inner) = sa.decapsulate(&mut r.esp) else {
                self.stats.decap_errors += 1;
                continue;
            };
            let packet = &r.esp[inner];
            if packet.len() < 20 {
                self.stats.decap_errors += 1;
                continue;
            }
            let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
            self.stats.reassembled_decaps += 1;
            // Bigger than the inside link (or a frame): in fragments.
            if packet.len() > self.inside_mtu || packet.len() + ETH_HLEN > FRAME_SIZE as usize {
                self.send_inside_fragmented(packet, dst, now);
                continue;
            }
            let Some(frame_addr) = self.xsk.alloc() else {
                self.stats.no_frame += 1;
                continue;
            };
            // SAFETY: a free frame belongs to us alone.
            let (buf, _) = unsafe { self.xsk.whole_frame_mut(frame_addr) };
            buf[ETH_HLEN..ETH_HLEN + packet.len()].copy_from_slice(packet);
            self.queue_inside(frame_addr, ETH_HLEN + packet.len(), dst, now);
        }
        n
    }

    /// Decapsulates in place; on success the same frame goes out the
    /// inside interface (returns true: the frame is no longer ours).
    fn handle_outside(&mut self, d: &XdpDesc, now: Instant) -> bool {
        // SAFETY: the frame was just received and is ours until released.
        let (frame, off) = unsafe { self.xsk.whole_frame_mut(d.addr) };
        let Some(meta) = Self::meta(frame, off) else {
            self.stats.bad_meta += 1;
            return false;
        };
        let FrameVerdict::Decrypt { sa_id, .. } = meta.verdict else {
            self.stats.bad_meta += 1;
            return false;
        };
        let end = off + d.len as usize;
        let Ok(outer) = esp::parse_outer_ethernet(&frame[off..end]) else {
            self.stats.decap_errors += 1;
            return false;
        };
        let Some(sa) = self.inbound.get_mut(&sa_id) else {
            self.stats.unknown_sa += 1;
            return false;
        };
        let esp_range = off + outer.esp_offset..off + outer.esp_offset + outer.esp_len;
        let esp_start = esp_range.start;
        let Ok(inner) = sa.decapsulate(&mut frame[esp_range]) else {
            self.stats.decap_errors += 1;
            return false;
        };
        let start = esp_start + inner.start;
        let len = inner.len();
        if start < off + ETH_HLEN {
            self.stats.decap_errors += 1;
            return false;
        }
        let dst = Ipv4Addr::new(
            frame[start + 16],
            frame[start + 17],
            frame[start + 18],
            frame[start + 19],
        );
        if len > self.inside_mtu {
            // A peer with a larger inside MTU than ours: fragment (DF
            // clear) into frames of their own, as a router would.
            self.send_inside_fragmented(&frame[start..start + len], dst, now);
            return false;
        }
        let base = d.addr - d.addr % FRAME_SIZE as u64;
        let addr = base + (start - ETH_HLEN) as u64;
        self.queue_inside(addr, ETH_HLEN + len, dst, now);
        true
    }

    /// Sends a decrypted packet bigger than the inside MTU as IPv4
    /// fragments; with DF set it is dropped and counted (no ICMP back
    /// through the tunnel).
    fn send_inside_fragmented(&mut self, packet: &[u8], dst: Ipv4Addr, now: Instant) {
        let mtu = self.inside_mtu.min(FRAME_SIZE as usize - ETH_HLEN);
        self.send_fragmented(packet, mtu, FragmentsTo::Inside { dst, now });
    }

    /// Sends a frame whose IPv4 packet starts at `addr + 14` out of the
    /// inside interface toward `dst`'s next hop; a frame whose next hop
    /// is being resolved waits (bounded in number and time) in `pending`.
    fn queue_inside(&mut self, addr: u64, len: usize, dst: Ipv4Addr, now: Instant) {
        match self.next_hops.lookup(dst, now) {
            Lookup::Ready(mac) => {
                let buf = unsafe { self.xsk.frame_mut(addr) };
                write_eth(&mut buf[..ETH_HLEN], mac, self.inside_mac);
                self.tx_in.push(XdpDesc {
                    addr,
                    len: len as u32,
                    options: 0,
                });
            }
            Lookup::Pending if self.pending.len() < PENDING_MAX => self.pending.push(Pending {
                addr,
                len,
                dst,
                since: now,
            }),
            Lookup::Pending | Lookup::Unreachable => {
                self.stats.no_next_hop += 1;
                self.xsk.release(addr);
            }
        }
    }

    /// Takes the resolver's answers and sends (or drops) the frames that
    /// waited for them. No netlink here: lookups only read the cache.
    fn retry_pending(&mut self, now: Instant) {
        self.next_hops.poll_answers(now);
        let mut i = 0;
        while i < self.pending.len() {
            let p = &self.pending[i];
            let (addr, len, dst) = (p.addr, p.len, p.dst);
            let verdict = if now.duration_since(p.since) > PENDING_TIME {
                Lookup::Unreachable
            } else {
                self.next_hops.lookup(dst, now)
            };
            match verdict {
                Lookup::Pending => {
                    i += 1;
                    continue;
                }
                Lookup::Ready(mac) => {
                    // SAFETY: a pending frame is still ours.
                    let buf = unsafe { self.xsk.frame_mut(addr) };
                    write_eth(&mut buf[..ETH_HLEN], mac, self.inside_mac);
                    self.tx_in.push(XdpDesc {
                        addr,
                        len: len as u32,
                        options: 0,
                    });
                }
                Lookup::Unreachable => {
                    self.stats.no_next_hop += 1;
                    self.xsk.release(addr);
                }
            }
            // In place, no allocation: order does not matter here.
            self.pending.swap_remove(i);
        }
    }

    fn flush(&mut self) {
        if !self.tx_out.is_empty() {
            let descs = std::mem::take(&mut self.tx_out);
            let sent = self.xsk.transmit(false, &descs);
            self.stats.tx_outside += sent as u64;
            self.stats.tx_ring_full += (descs.len() - sent) as u64;
            self.tx_out = descs;
            self.tx_out.clear();
        }
        if !self.tx_in.is_empty() {
            let descs = std::mem::take(&mut self.tx_in);
            let sent = self.xsk.transmit(true, &descs);
            self.stats.tx_inside += sent as u64;
            self.stats.tx_ring_full += (descs.len() - sent) as u64;
            self.tx_in = descs;
            self.tx_in.clear();
        }
    }
}

/// Where the fragments of [`Worker::send_fragmented`] go.
#[derive(Clone, Copy)]
enum FragmentsTo {
    /// Encapsulated ESP toward the peer's next hop.
    Outside { smac: [u8; 6], dmac: [u8; 6] },
    /// A decrypted packet toward `dst` on the inside.
    Inside { dst: Ipv4Addr, now: Instant },
}

fn write_eth(h: &mut [u8], dst: [u8; 6], src: [u8; 6]) {
    h[0..6].copy_from_slice(&dst);
    h[6..12].copy_from_slice(&src);
    h[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
}

/// Cuts link-layer padding: the IPv4 total length says where the packet
/// ends (a short minimum-size Ethernet frame carries trailing zeros).
fn trim_ipv4(p: &mut [u8]) -> &mut [u8] {
    let total = p
        .get(2..4)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        .unwrap_or(0);
    if total >= 20 && total < p.len() {
        &mut p[..total]
    } else {
        p
    }
}

/// A running worker: its command channel, its channel for reassembled
/// ESP, the (inside, outside) AF_XDP socket fds for the XSKMAPs, and its
/// thread.
pub type Spawned = (
    mpsc::Sender<WorkerCmd>,
    mpsc::SyncSender<Reassembled>,
    (i32, i32),
    std::thread::JoinHandle<()>,
);

/// Opens the worker's sockets and starts its thread.
pub fn spawn(cfg: WorkerConfig) -> Result<Spawned, WorkerError> {
    let cfg_queue = cfg.queue;
    let worker = Worker::new(cfg)?;
    let fds = worker.socket_fds();
    let (tx, rx) = mpsc::channel();
    let (re_tx, re_rx) = mpsc::sync_channel(REASSEMBLED_QUEUE);
    let handle = std::thread::Builder::new()
        .name(format!("ipsecgw-esp/{}", cfg_queue))
        .spawn(move || worker.run(rx, re_rx))
        .map_err(|e| WorkerError::Io("spawn worker", e))?;
    Ok((tx, re_tx, fds, handle))
}
