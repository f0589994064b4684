//! The sans-IO IKEv1 engine: every IKE SA of this gateway, driven by the
//! daemon with datagrams and timer ticks, answering with [`Output`]s.
//! No sockets, no clock: time comes in as `Instant`.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};
use tracing::{debug, info};

use super::config::{LocalConfig, PeerConfig, Phase1Mode, SelectorId};
use super::message::{Chain, FLAG_ENCRYPTED, HEADER_LEN, Header, MAX_MESSAGE, Message, xt};
use super::quick_mode::QmState;
use super::sa::{ChildRecord, IkeSa, IsakmpSaInfo, PeerStatus, Retransmit, Role, State};
pub use crate::ike::{ChildSa, FailureReason, Output};

#[derive(Debug, Default)]
pub(super) struct PeerRuntime {
    /// The last failure, (state, reason), until a tunnel comes up.
    pub last_failure: Option<(String, String)>,
    /// We have completed a phase 1 with this peer since start.
    pub contacted: bool,
    pub last_invalid_spi: Option<Instant>,
}

/// Datagrams the engine dropped before any state existed for them. Only
/// counters: a flood of forged first messages from random sources must
/// cost a number, not a record (or a log line) per source.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct EngineStats {
    /// First messages (main or aggressive mode 1) from an address that is
    /// no configured peer.
    pub unconfigured_first_msgs: u64,
    /// Datagrams naming no ISAKMP SA we hold (and not a first message).
    pub unknown_sa_drops: u64,
    /// Quick-mode or informational messages whose message id was used
    /// already on their ISAKMP SA (replays).
    pub replayed_drops: u64,
    /// Authenticated messages ignored because their ISAKMP SA's
    /// message-id memory was full.
    pub mid_memory_full_drops: u64,
}

pub(super) use crate::ike::quiet_log::QuietLog;

/// All IKE SAs of this gateway.
pub struct Engine {
    pub(super) local: LocalConfig,
    pub(super) peers: Vec<PeerConfig>,
    pub(super) rng: SystemRandom,
    pub(super) sas: BTreeMap<u64, IkeSa>,
    pub(super) next_id: u64,
    pub(super) children: Vec<ChildRecord>,
    pub(super) spis: crate::ike::spi::SpiPool,
    /// Per configured peer address only: a record per forged source
    /// would grow without bound.
    pub(super) runtime: HashMap<Ipv4Addr, PeerRuntime>,
    pub(super) stats: EngineStats,
    pub(super) unconfigured_log: QuietLog,
}

/// Digest identifying a datagram for duplicate detection.
pub(super) fn digest(data: &[u8]) -> [u8; 20] {
    use sha1::Digest;
    sha1::Sha1::digest(data).into()
}

impl Engine {
    pub fn new(local: LocalConfig) -> Self {
        Self::with_spi_pool(local, crate::ike::spi::SpiPool::default())
    }

    /// An engine drawing inbound SPIs from `spis`, shared with IKEv2.
    pub fn with_spi_pool(local: LocalConfig, spis: crate::ike::spi::SpiPool) -> Self {
        Engine {
            local,
            peers: Vec::new(),
            rng: SystemRandom::new(),
            sas: BTreeMap::new(),
            next_id: 1,
            children: Vec::new(),
            spis,
            runtime: HashMap::new(),
            stats: EngineStats::default(),
            unconfigured_log: QuietLog::default(),
        }
    }

    /// Counters of dropped unauthenticated datagrams (`show dataplane`).
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    pub fn set_peers(&mut self, peers: Vec<PeerConfig>) {
        self.peers = peers;
        // A reload may remove peers: their records go with them.
        let peers = &self.peers;
        self.runtime
            .retain(|a, _| peers.iter().any(|p| p.addresses.contains(a)));
    }

    pub fn local_config(&self) -> &LocalConfig {
        &self.local
    }

    pub(super) fn peer_config(&self, addr: Ipv4Addr) -> Option<&PeerConfig> {
        self.peers.iter().find(|p| p.addresses.contains(&addr))
    }

    pub(super) fn random_bytes(&self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        // SystemRandom reads getrandom(2); it failing is an unrecoverable
        // platform fault, and continuing with zeros would be worse.
        self.rng.fill(&mut v).expect("system CSPRNG failed");
        v
    }

    pub(super) fn cookie(&self) -> [u8; 8] {
        let mut c = [0u8; 8];
        c.copy_from_slice(&self.random_bytes(8));
        c
    }

    pub(super) fn random_u32(&self) -> u32 {
        let b = self.random_bytes(4);
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// A fresh inbound SPI: random, above 255 (reserved), unique.
    pub(super) fn new_spi(&mut self) -> u32 {
        loop {
            let s = self.random_u32();
            if s > 255 && self.spis.insert(s) {
                return s;
            }
        }
    }

    pub(super) fn new_mid(&self) -> u32 {
        loop {
            let m = self.random_u32();
            if m != 0 {
                return m;
            }
        }
    }

    pub(super) fn record_failure(
        &mut self,
        out: &mut Vec<Output>,
        peer: Ipv4Addr,
        sa: Option<&mut IkeSa>,
        reason: FailureReason,
    ) {
        // The daemon writes the warning, at a bounded rate per peer.
        debug!(%peer, reason = %reason, "IKE failure");
        // The per-peer record names the state the exchange died in
        // ("MM_WAIT_MSG2: no reply ..."): `show crypto isakmp sa` lists it
        // under "Tunnels not up" after the SA itself is gone.
        let state = sa.as_ref().map_or("IDLE", |sa| sa.state.name());
        if let Some(sa) = sa {
            sa.failure = Some(reason.text().to_string());
        }
        if self.peer_config(peer).is_some() {
            self.runtime.entry(peer).or_default().last_failure =
                Some((state.to_string(), reason.text().to_string()));
        }
        out.push(Output::Failure { peer, reason });
    }

    /// Record `reason` against `sa` (its state names where it died) and
    /// its peer.
    pub(super) fn fail_sa(&mut self, sa: &mut IkeSa, reason: FailureReason, out: &mut Vec<Output>) {
        let peer = sa.peer;
        self.record_failure(out, peer, Some(sa), reason);
    }

    pub(super) fn alloc_sa(
        &mut self,
        peer: Ipv4Addr,
        role: Role,
        mode: Phase1Mode,
        now: Instant,
    ) -> IkeSa {
        let id = self.next_id;
        self.next_id += 1;
        let state = match (role, mode) {
            (Role::Initiator, Phase1Mode::Main) => State::MmWaitMsg2,
            (Role::Initiator, Phase1Mode::Aggressive) => State::AmWaitMsg2,
            (Role::Responder, Phase1Mode::Main) => State::MmNoState,
            (Role::Responder, Phase1Mode::Aggressive) => State::AmWaitMsg3,
        };
        IkeSa {
            id,
            peer,
            role,
            mode,
            state,
            icookie: [0; 8],
            rcookie: [0; 8],
            local: SocketAddrV4::new(self.local.address, self.local.ike_port),
            remote: SocketAddrV4::new(peer, 500),
            policy: None,
            lifetime_s: 0,
            sai_b: Vec::new(),
            peer_id_b: Vec::new(),
            dh: None,
            gxi: Vec::new(),
            gxr: Vec::new(),
            ni: Vec::new(),
            nr: Vec::new(),
            keys: None,
            cipher: None,
            iv: Vec::new(),
            nat: Default::default(),
            retransmit: None,
            last_rx: None,
            last_reply: None,
            created: now,
            established: None,
            expires: None,
            last_heard: now,
            quick: HashMap::new(),
            quick_done: Vec::new(),
            used_mids: Default::default(),
            info_mids: Default::default(),
            initial_contact_done: false,
            pending: Vec::new(),
            dpd: Default::default(),
            keepalive_next: None,
            failure: None,
            send_initial_contact: false,
        }
    }

    /// Half-open SAs in `role`, with `peer` or with anyone. Initiator and
    /// responder entries are counted apart: responder entries are created
    /// by unauthenticated first messages, which anyone can forge from a
    /// peer's address, so they must never stand in the way of our own
    /// initiation.
    fn half_open(&self, peer: Option<Ipv4Addr>, role: Role) -> usize {
        self.sas
            .values()
            .filter(|s| !s.state.is_active() && s.role == role && peer.is_none_or(|p| s.peer == p))
            .count()
    }

    /// May we start phase 1 toward `peer`? Only our own half-open
    /// initiations count (at most one per peer is ever under way).
    pub(super) fn half_open_allowed(&self, peer: Ipv4Addr) -> Result<(), FailureReason> {
        if self.half_open(None, Role::Initiator) >= self.local.max_half_open_total {
            return Err(FailureReason::Limit(format!(
                "half-open ISAKMP SA limit reached ({} in total); refusing {peer}",
                self.local.max_half_open_total
            )));
        }
        if self.half_open(Some(peer), Role::Initiator) >= self.local.max_half_open_per_peer {
            return Err(FailureReason::Limit(format!(
                "half-open ISAKMP SA limit reached for peer {peer} ({})",
                self.local.max_half_open_per_peer
            )));
        }
        Ok(())
    }

    /// Build a plaintext ISAKMP message.
    pub(super) fn plain(sa: &IkeSa, exchange: u8, mid: u32, chain: &Chain) -> Vec<u8> {
        Self::with_header(sa, exchange, mid, chain, 0, &chain.bytes())
    }

    /// Our header (the SA's cookies) followed by `body`, which is `chain`
    /// as is or encrypted.
    fn with_header(
        sa: &IkeSa,
        exchange: u8,
        mid: u32,
        chain: &Chain,
        flags: u8,
        body: &[u8],
    ) -> Vec<u8> {
        let hdr = Header {
            icookie: sa.icookie,
            rcookie: sa.rcookie,
            next: chain.first_type(),
            exchange,
            flags,
            mid,
            length: (HEADER_LEN + body.len()) as u32,
        };
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        hdr.emit(&mut out);
        out.extend_from_slice(body);
        out
    }

    /// Build an encrypted message with `iv`; returns it and the next IV
    /// (its last ciphertext block).
    pub(super) fn sealed(
        sa: &IkeSa,
        exchange: u8,
        mid: u32,
        chain: &Chain,
        iv: &[u8],
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let cipher = sa.cipher.as_ref()?;
        let bs = cipher.block_size();
        let mut body = chain.bytes();
        // IKEv1 pads to the block size; zeros, as strongSwan does.
        let padded = body.len().div_ceil(bs) * bs;
        body.resize(padded, 0);
        cipher.encrypt(iv, &mut body).ok()?;
        // The last ciphertext block is the next IV; an empty body has none.
        let next_iv = body.get(body.len().checked_sub(bs)?..)?.to_vec();
        let out = Self::with_header(sa, exchange, mid, chain, FLAG_ENCRYPTED, &body);
        Some((out, next_iv))
    }

    /// Decrypt a message with `iv`; returns it and the next IV.
    pub(super) fn open(
        sa: &IkeSa,
        hdr: &Header,
        data: &[u8],
        iv: &[u8],
    ) -> Result<(Message, Vec<u8>), String> {
        let cipher = sa
            .cipher
            .as_ref()
            .ok_or("encrypted message before keys exist")?;
        let bs = cipher.block_size();
        let ct = data
            .get(HEADER_LEN..hdr.length as usize)
            .ok_or("truncated message")?;
        if ct.is_empty() || ct.len() % bs != 0 {
            return Err(format!(
                "encrypted body of {} bytes is not a multiple of the {bs}-byte block",
                ct.len()
            ));
        }
        let next_iv = ct[ct.len() - bs..].to_vec();
        let mut body = ct.to_vec();
        cipher.decrypt(iv, &mut body).map_err(|e| e.to_string())?;
        let msg = Message::parse_plain(*hdr, body).map_err(|e| e.to_string())?;
        Ok((msg, next_iv))
    }

    pub(super) fn send(out: &mut Vec<Output>, sa: &IkeSa, data: Vec<u8>) {
        out.push(Output::Send {
            from: sa.local,
            to: sa.remote,
            data,
        });
    }

    /// Send a request and arm its retransmission.
    pub(super) fn send_request(
        &self,
        out: &mut Vec<Output>,
        sa: &mut IkeSa,
        now: Instant,
        data: Vec<u8>,
        mid: Option<u32>,
    ) {
        sa.retransmit = Some(Retransmit::first(
            data.clone(),
            now,
            self.local.retransmit_base,
            mid,
        ));
        Self::send(out, sa, data);
    }

    // ------------------------------------------------------------ public API

    /// Start (or reuse) phase 1 with `peer` and negotiate `selector`.
    pub fn initiate(&mut self, now: Instant, peer: Ipv4Addr, selector: SelectorId) -> Vec<Output> {
        let mut out = Vec::new();
        self.initiate_inner(now, peer, selector, None, &mut out);
        out
    }

    pub(super) fn initiate_inner(
        &mut self,
        now: Instant,
        peer: Ipv4Addr,
        selector: SelectorId,
        replaces: Option<u32>,
        out: &mut Vec<Output>,
    ) {
        let Some((mode, has_sel, name)) = self.peer_config(peer).map(|c| {
            (
                c.mode,
                c.selectors.iter().any(|s| s.id == selector),
                c.name.clone(),
            )
        }) else {
            self.record_failure(
                out,
                peer,
                None,
                FailureReason::NoPeerConfig(format!("no crypto map entry has peer {peer}")),
            );
            return;
        };
        if !has_sel {
            let reason = format!("crypto map {name} has no ACL entry (selector {selector})");
            self.record_failure(out, peer, None, FailureReason::Protocol(reason));
            return;
        }
        // An established phase 1 to this peer: go straight to quick mode.
        if let Some(id) = self
            .sas
            .values()
            .filter(|s| s.peer == peer && s.state.is_active())
            .map(|s| s.id)
            .max()
        {
            if let Some(mut sa) = self.sas.remove(&id) {
                self.start_quick_mode(now, &mut sa, selector, replaces, out);
                self.sas.insert(id, sa);
            }
            return;
        }
        // One under way: queue the selector.
        if let Some(sa) = self
            .sas
            .values_mut()
            .find(|s| s.peer == peer && s.role == Role::Initiator)
        {
            if !sa.pending.iter().any(|(s, _)| *s == selector) {
                sa.pending.push((selector, replaces));
            }
            return;
        }
        if let Err(r) = self.half_open_allowed(peer) {
            self.record_failure(out, peer, None, r);
            return;
        }
        let mut sa = self.alloc_sa(peer, Role::Initiator, mode, now);
        sa.icookie = self.cookie();
        sa.pending.push((selector, replaces));
        info!(%peer, sa = sa.id, ?mode, "initiating phase 1");
        match mode {
            Phase1Mode::Main => self.mm_send_1(now, &mut sa, out),
            Phase1Mode::Aggressive => self.am_send_1(now, &mut sa, out),
        }
        if sa.state != State::MmNoState {
            self.sas.insert(sa.id, sa);
        }
    }

    /// An IKE datagram arrived (without the non-ESP marker).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        to: SocketAddrV4,
        data: &[u8],
    ) -> Vec<Output> {
        let mut out = Vec::new();
        if data == [0xff] {
            return out; // NAT-T keepalive
        }
        if data.len() > MAX_MESSAGE {
            debug!(%from, "oversized IKE datagram dropped");
            return out;
        }
        let hdr = match Header::parse(data) {
            Ok(h) => h,
            Err(e) => {
                debug!(%from, error = %e, "unparsable IKE datagram dropped");
                return out;
            }
        };
        let dg = digest(&data[..hdr.length as usize]);
        let data = &data[..hdr.length as usize];
        let zero = [0u8; 8];

        // Find the SA: exact cookies, or the initiator cookie of an SA whose
        // responder cookie we do not know yet.
        let id = self
            .sas
            .values()
            .find(|s| s.icookie == hdr.icookie && s.rcookie == hdr.rcookie && s.peer == *from.ip())
            .or_else(|| {
                self.sas.values().find(|s| {
                    s.icookie == hdr.icookie
                        && s.peer == *from.ip()
                        && (s.rcookie == zero || hdr.rcookie == zero)
                })
            })
            .map(|s| s.id);

        let Some(id) = id else {
            if hdr.rcookie == zero
                && (hdr.exchange == xt::MAIN || hdr.exchange == xt::AGGRESSIVE)
                && !hdr.encrypted()
            {
                self.respond_new(now, from, to, &hdr, data, dg, &mut out);
            } else {
                self.stats.unknown_sa_drops += 1;
                debug!(%from, exchange = hdr.exchange, "datagram for an unknown ISAKMP SA dropped");
            }
            return out;
        };
        let Some(mut sa) = self.sas.remove(&id) else {
            return out;
        };

        // A retransmission of what we last answered: answer the same again.
        if sa.last_rx == Some(dg) {
            if let Some(reply) = sa.last_reply.clone() {
                debug!(peer = %sa.peer, sa = sa.id, "duplicate message, retransmitting our reply");
                Self::send(&mut out, &sa, reply);
            }
            self.sas.insert(id, sa);
            return out;
        }
        if hdr.rcookie != zero && sa.rcookie == zero && sa.role == Role::Initiator {
            sa.rcookie = hdr.rcookie;
        }
        // NAT-T: the peer moved to 4500 (or its NAT mapping changed). The
        // reply must go to the new address, so move first; but keep the
        // move only if the message made progress (it authenticated and was
        // new): a forged or replayed datagram must not redirect the SA
        // (RFC 3947 section 5).
        let float = from.port() != sa.remote.port() && to.port() == self.local.natt_port;
        let before = (sa.remote, sa.local, sa.nat.floated);
        let progress_before = float.then(|| progress(&sa));
        if float {
            sa.remote = from;
            sa.local = SocketAddrV4::new(self.local.address, self.local.natt_port);
            sa.nat.floated = true;
        }
        // No `last_heard` here: the cookies are cleartext, so anyone can
        // aim a datagram at this SA. Only a message that decrypted and
        // authenticated proves the peer alive (the handlers set it).

        let keep = match hdr.exchange {
            xt::MAIN => self.mm_handle(now, &mut sa, &hdr, data, dg, &mut out),
            xt::AGGRESSIVE => self.am_handle(now, &mut sa, &hdr, data, dg, &mut out),
            xt::QUICK => self.qm_handle(now, &mut sa, &hdr, data, &mut out),
            xt::INFORMATIONAL => self.info_handle(now, &mut sa, &hdr, data, &mut out),
            other => {
                debug!(peer = %sa.peer, exchange = other, "unsupported exchange type ignored");
                true
            }
        };
        if let Some(p) = progress_before
            && p == progress(&sa)
        {
            debug!(peer = %sa.peer, sa = sa.id, %from, "datagram from a new port made no progress; not floating");
            (sa.remote, sa.local, sa.nat.floated) = before;
        }
        if keep {
            self.sas.insert(id, sa);
        }
        out
    }

    /// Set up a responder SA for a first message.
    #[allow(clippy::too_many_arguments)]
    fn respond_new(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        to: SocketAddrV4,
        hdr: &Header,
        data: &[u8],
        dg: [u8; 20],
        out: &mut Vec<Output>,
    ) {
        let peer = *from.ip();
        let Some(cfg) = self.peer_config(peer) else {
            // Anyone can forge this from any address: a counter, and a
            // debug line at most once a second, nothing per source.
            self.stats.unconfigured_first_msgs += 1;
            if let Some(suppressed) = self.unconfigured_log.allow(now) {
                debug!(
                    %peer,
                    suppressed,
                    total = self.stats.unconfigured_first_msgs,
                    "phase 1 from an address with no crypto map entry or tunnel-group dropped"
                );
            }
            return;
        };
        let mode = if hdr.exchange == xt::MAIN {
            Phase1Mode::Main
        } else {
            Phase1Mode::Aggressive
        };
        if mode == Phase1Mode::Aggressive && !cfg.aggressive_responder {
            let reason = format!(
                "aggressive mode from {peer} refused: answering it exposes a pre-shared-key hash to offline cracking (enable it for this peer only if needed)"
            );
            self.record_failure(out, peer, None, FailureReason::PeerRejected(reason));
            return;
        }
        self.make_room_for_responder(peer);
        let mut sa = self.alloc_sa(peer, Role::Responder, mode, now);
        sa.icookie = hdr.icookie;
        sa.rcookie = self.cookie();
        sa.remote = from;
        sa.local = to;
        let keep = match mode {
            Phase1Mode::Main => self.mm_handle(now, &mut sa, hdr, data, dg, out),
            Phase1Mode::Aggressive => self.am_handle(now, &mut sa, hdr, data, dg, out),
        };
        if keep {
            self.sas.insert(sa.id, sa);
        }
    }

    /// Before a new responder entry for `peer`: with that peer's quota
    /// full, drop its oldest half-open responder entry; with the whole
    /// table full, drop the oldest one of anyone. Refusing newcomers
    /// instead would lock a legitimate peer out for the whole half-open
    /// timeout once spoofed first messages (from its address, or from
    /// anywhere) filled the table; evicting, as a SYN cache does, keeps the
    /// state bounded, and a real peer, which continues within a round
    /// trip, is only displaced by a flood that outruns its quota.
    fn make_room_for_responder(&mut self, peer: Ipv4Addr) {
        let victim =
            if self.half_open(Some(peer), Role::Responder) >= self.local.max_half_open_per_peer {
                Some(Some(peer))
            } else if self.half_open(None, Role::Responder) >= self.local.max_half_open_total {
                Some(None)
            } else {
                None
            };
        let Some(of) = victim else { return };
        if let Some(id) = self
            .sas
            .values()
            .filter(|s| {
                s.role == Role::Responder && !s.state.is_active() && of.is_none_or(|p| s.peer == p)
            })
            .min_by_key(|s| (s.created, s.id))
            .map(|s| s.id)
        {
            debug!(
                sa = id,
                %peer,
                per_peer = of.is_some(),
                "half-open ISAKMP SA quota full: evicting the oldest responder entry"
            );
            self.sas.remove(&id);
        }
    }

    /// Phase 1 completed on `sa`.
    pub(super) fn phase1_done(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        sa.established = Some(now);
        sa.expires = Some(now + Duration::from_secs(sa.lifetime_s.max(60) as u64));
        sa.retransmit = None;
        // The message that completed phase 1 authenticated the peer.
        sa.last_heard = now;
        let rt = self.runtime.entry(sa.peer).or_default();
        rt.contacted = true;
        // a phase-1 failure is history once phase 1 is up
        rt.last_failure = None;
        if let Some(cfg) = self.peer_config(sa.peer) {
            if let Some(d) = cfg.dpd_for(sa.peer) {
                sa.dpd.next = Some(now + d.threshold);
            }
            if sa.nat.floated && sa.nat.local_behind_nat {
                sa.keepalive_next = Some(now + cfg.nat_keepalive);
            }
        }
        info!(peer = %sa.peer, sa = sa.id, state = %sa.state, "phase 1 up");
        out.push(Output::IsakmpUp {
            peer: sa.peer,
            icookie: sa.icookie,
            rcookie: sa.rcookie,
        });
        let pending = std::mem::take(&mut sa.pending);
        for (sel, replaces) in pending {
            self.start_quick_mode(now, sa, sel, replaces, out);
        }
    }

    /// `clear crypto ipsec sa [peer ADDR]`.
    pub fn delete_ipsec(&mut self, now: Instant, peer: Option<Ipv4Addr>) -> Vec<Output> {
        let mut out = Vec::new();
        let doomed: Vec<ChildRecord> = self
            .children
            .iter()
            .filter(|c| peer.is_none_or(|p| c.peer == p))
            .cloned()
            .collect();
        for c in doomed {
            self.drop_child(now, c.inbound_spi, true, &mut out);
        }
        out
    }

    /// `clear crypto isakmp sa [ADDR]`.
    pub fn delete_isakmp(&mut self, now: Instant, peer: Option<Ipv4Addr>) -> Vec<Output> {
        let mut out = Vec::new();
        let ids: Vec<u64> = self
            .sas
            .values()
            .filter(|s| peer.is_none_or(|p| s.peer == p))
            .map(|s| s.id)
            .collect();
        for id in ids {
            if let Some(mut sa) = self.sas.remove(&id) {
                if sa.state.is_active() {
                    self.send_isakmp_delete(now, &mut sa, &mut out);
                }
                out.push(Output::IsakmpDown {
                    peer: sa.peer,
                    icookie: sa.icookie,
                    rcookie: sa.rcookie,
                    reason: "cleared by the operator".into(),
                });
            }
        }
        out
    }

    /// The daemon saw ESP traffic on an SA, either way: it is in use, so
    /// it is rekeyed before it expires. Not liveness: packets we send say
    /// nothing about the peer.
    pub fn note_child_traffic(&mut self, _now: Instant, inbound_spi: u32) {
        if let Some(c) = self
            .children
            .iter_mut()
            .find(|c| c.inbound_spi == inbound_spi || c.outbound_spi == inbound_spi)
        {
            c.used = true;
        }
    }

    /// ESP arrived from the peer on an SA (authenticated by the ESP
    /// engine): the peer is alive, so DPD need not ask (RFC 3706 section
    /// 5.5). Outbound traffic alone must not count, or a peer that
    /// restarted would never be declared dead while we keep sending.
    pub fn note_child_inbound(&mut self, now: Instant, inbound_spi: u32) {
        self.note_child_traffic(now, inbound_spi);
        if let Some(peer) = self
            .children
            .iter()
            .find(|c| c.inbound_spi == inbound_spi)
            .map(|c| c.peer)
        {
            for sa in self
                .sas
                .values_mut()
                .filter(|s| s.peer == peer && s.state.is_active())
            {
                sa.last_heard = now;
            }
        }
    }

    /// The ESP engine reports that an SA nears a volume limit (90% of its
    /// kilobyte lifetime, or the end of its sequence-number space): rekey it
    /// now, exactly as the time-based soft lifetime would. Without this a
    /// `lifetime kilobytes` SA would run into its hard limit and black-hole
    /// traffic until the seconds lifetime ended.
    pub fn note_child_volume_soft(&mut self, now: Instant, spi: u32) {
        if let Some(c) = self
            .children
            .iter_mut()
            .find(|c| c.inbound_spi == spi || c.outbound_spi == spi)
            .filter(|c| !c.rekeyed)
        {
            c.used = true;
            c.soft = c.soft.min(now);
        }
    }

    pub fn isakmp_sas(&self, now: Instant) -> Vec<IsakmpSaInfo> {
        self.sas
            .values()
            .map(|s| {
                let newer = self
                    .sas
                    .values()
                    .any(|o| o.peer == s.peer && o.id > s.id && s.state.is_active());
                IsakmpSaInfo {
                    peer: s.peer,
                    role: s.role,
                    state: s.state.name().to_string(),
                    rekey: newer,
                    encryption: s.policy.map(|p| p.encryption),
                    hash: s.policy.map(|p| p.hash),
                    group: s.policy.map(|p| p.group),
                    auth: s.policy.map(|p| p.auth),
                    lifetime_s: s.lifetime_s,
                    remaining_s: s
                        .expires
                        .map(|e| e.saturating_duration_since(now).as_secs()),
                    nat_t: s.nat.floated,
                    last_failure: s.failure.clone(),
                }
            })
            .collect()
    }

    pub fn peer_status(&self) -> Vec<PeerStatus> {
        let mut v = Vec::new();
        for cfg in &self.peers {
            for &addr in &cfg.addresses {
                let sas = self.children.iter().filter(|c| c.peer == addr).count();
                let active = self
                    .sas
                    .values()
                    .any(|s| s.peer == addr && s.state.is_active());
                let negotiating = self
                    .sas
                    .values()
                    .find(|s| s.peer == addr && !s.state.is_active());
                let rt = self.runtime.get(&addr);
                let parts = rt.and_then(|r| r.last_failure.as_ref());
                let last_failure = parts.map(|(s, r)| crate::ike::status::failure_text(s, r));
                let (up, state, detail) = crate::ike::status::PeerFacts {
                    ipsec_sas: sas,
                    ike_up: active,
                    negotiating: negotiating.map(|s| s.state.name()),
                    failure: parts.map(|(s, r)| (s.as_str(), r.as_str())),
                    ike_name: "ISAKMP SA",
                }
                .judge();
                v.push(PeerStatus {
                    name: cfg.name.clone(),
                    peer: addr,
                    up,
                    ipsec_sas: sas,
                    state,
                    detail,
                    last_failure,
                });
            }
        }
        v
    }

    // ------------------------------------------------------------ timers

    pub fn next_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut upd = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for sa in self.sas.values() {
            upd(sa.retransmit.as_ref().map(|r| r.next));
            for q in sa.quick.values() {
                upd(q.retransmit.as_ref().map(|r| r.next));
            }
            upd(sa.expires);
            upd(sa.dpd.next);
            upd(sa.keepalive_next);
            if !sa.state.is_active() {
                upd(Some(sa.created + self.half_open_timeout()));
            }
        }
        for c in &self.children {
            upd(Some(c.hard));
            if c.used && !c.rekeyed {
                upd(Some(c.soft));
            }
        }
        t
    }

    fn half_open_timeout(&self) -> Duration {
        // long enough for the initiator's whole retransmission schedule
        self.local.retransmit_base * (1u32 << self.local.retransmit_tries.min(10))
    }

    pub fn on_timer(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        let ids: Vec<u64> = self.sas.keys().copied().collect();
        for id in ids {
            let Some(mut sa) = self.sas.remove(&id) else {
                continue;
            };
            if self.sa_timers(now, &mut sa, &mut out) {
                self.sas.insert(id, sa);
            }
        }
        self.child_timers(now, &mut out);
        out
    }

    /// Returns false when the SA is gone.
    fn sa_timers(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) -> bool {
        // phase-1 retransmission
        if let Some(r) = sa.retransmit.as_mut().filter(|r| now >= r.next) {
            if r.sent >= self.local.retransmit_tries {
                let reason = match sa.state {
                    // Message 5 is the first one encrypted with keys derived
                    // from the PSK: a peer with another key cannot decrypt
                    // or verify it and stays silent.
                    State::MmWaitMsg6 => FailureReason::AuthFailed(format!(
                        "pre-shared key mismatch (probably): no reply to our encrypted message 5 from {} after {} tries; the peer cannot verify it with its key (check the tunnel-group pre-shared-key on both sides)",
                        sa.remote, r.sent
                    )),
                    _ => FailureReason::NoReply(format!(
                        "no reply from {} after {} tries (check reachability and UDP 500/4500)",
                        sa.remote, r.sent
                    )),
                };
                let peer = sa.peer;
                let pending = std::mem::take(&mut sa.pending);
                self.fail_sa(sa, reason, out);
                self.try_backup_peer(now, peer, pending, out);
                return false;
            }
            r.sent += 1;
            r.interval *= 2;
            r.next = now + r.interval;
            let data = r.data.clone();
            debug!(peer = %sa.peer, sa = sa.id, tries = r.sent, "retransmitting");
            Self::send(out, sa, data);
        }
        // half-open cleanup (responder side never retransmits phase 1)
        if !sa.state.is_active()
            && now >= sa.created + self.half_open_timeout()
            && sa.retransmit.is_none()
        {
            debug!(peer = %sa.peer, sa = sa.id, state = %sa.state, "half-open ISAKMP SA expired");
            return false;
        }
        self.qm_timers(now, sa, out);
        if let Some(exp) = sa.expires.filter(|e| now >= *e) {
            let _ = exp;
            info!(peer = %sa.peer, sa = sa.id, "ISAKMP SA lifetime expired");
            self.send_isakmp_delete(now, sa, out);
            out.push(Output::IsakmpDown {
                peer: sa.peer,
                icookie: sa.icookie,
                rcookie: sa.rcookie,
                reason: "lifetime expired".into(),
            });
            return false;
        }
        if !self.dpd_timer(now, sa, out) {
            return false;
        }
        let peer = sa.peer;
        crate::ike::output::nat_keepalive_due(
            now,
            &mut sa.keepalive_next,
            sa.local,
            sa.remote,
            || self.peer_config(peer).map(|c| c.nat_keepalive),
            out,
        );
        true
    }

    fn try_backup_peer(
        &mut self,
        now: Instant,
        failed: Ipv4Addr,
        pending: Vec<(SelectorId, Option<u32>)>,
        out: &mut Vec<Output>,
    ) {
        let Some(cfg) = self.peer_config(failed) else {
            return;
        };
        let pos = cfg.addresses.iter().position(|a| *a == failed);
        let Some(next) = pos.and_then(|p| cfg.addresses.get(p + 1)).copied() else {
            return;
        };
        info!(%failed, backup = %next, "trying the next peer of the crypto map");
        for (sel, rep) in pending {
            self.initiate_inner(now, next, sel, rep, out);
        }
    }

    /// The ESP engine reports an SA past its hard kilobyte lifetime: it is
    /// gone, and the peer is told (DELETE).
    pub fn expire_child(&mut self, now: Instant, inbound_spi: u32) -> Vec<Output> {
        let mut out = Vec::new();
        info!(
            spi = format_args!("{inbound_spi:#010x}"),
            "IPsec SA kilobyte lifetime used up"
        );
        self.drop_child(now, inbound_spi, true, &mut out);
        out
    }

    fn child_timers(&mut self, now: Instant, out: &mut Vec<Output>) {
        let hard: Vec<u32> = self
            .children
            .iter()
            .filter(|c| now >= c.hard)
            .map(|c| c.inbound_spi)
            .collect();
        for spi in hard {
            info!(
                spi = format_args!("{spi:#010x}"),
                "IPsec SA lifetime expired"
            );
            self.drop_child(now, spi, true, out);
        }
        let soft: Vec<(Ipv4Addr, SelectorId, u32)> = self
            .children
            .iter_mut()
            .filter(|c| c.used && !c.rekeyed && now >= c.soft)
            .map(|c| {
                c.rekeyed = true;
                (c.peer, c.selector, c.inbound_spi)
            })
            .collect();
        for (peer, sel, spi) in soft {
            info!(%peer, selector = sel, "rekeying IPsec SA before its lifetime ends");
            self.initiate_inner(now, peer, sel, Some(spi), out);
        }
    }

    /// Forget a child SA; optionally tell the peer.
    pub(super) fn drop_child(
        &mut self,
        now: Instant,
        inbound_spi: u32,
        notify_peer: bool,
        out: &mut Vec<Output>,
    ) {
        let Some(pos) = self
            .children
            .iter()
            .position(|c| c.inbound_spi == inbound_spi)
        else {
            return;
        };
        let c = self.children.remove(pos);
        self.spis.remove(&c.inbound_spi);
        if notify_peer {
            if let Some(id) = self
                .sas
                .values()
                .filter(|s| s.peer == c.peer && s.state.is_active())
                .map(|s| s.id)
                .max()
            {
                if let Some(mut sa) = self.sas.remove(&id) {
                    self.send_esp_delete(now, &mut sa, c.inbound_spi, out);
                    self.sas.insert(id, sa);
                }
            }
        }
        out.push(Output::ChildSaDown {
            peer: c.peer,
            selector: c.selector,
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
        });
    }

    /// Number of IPsec SA pairs up (for tests and `show`).
    pub fn child_count(&self) -> usize {
        self.children.len()
    }
}

/// What an accepted message changes on an IKE SA: phase-1 state and last
/// accepted datagram, quick-mode tasks, finished quick modes, DPD.
type Progress = (
    State,
    Option<[u8; 20]>,
    Vec<(u32, QmState)>,
    Option<u32>,
    Option<u32>,
);

fn progress(sa: &IkeSa) -> Progress {
    let mut quick: Vec<(u32, QmState)> = sa.quick.iter().map(|(m, t)| (*m, t.state)).collect();
    quick.sort_by_key(|(m, _)| *m);
    (
        sa.state,
        sa.last_rx,
        quick,
        sa.quick_done.last().map(|(m, _)| *m),
        sa.dpd.outstanding,
    )
}
