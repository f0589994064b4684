//! The sans-IO IKEv2 engine: the IKE SA table (keyed by our SPI), the
//! child table (keyed by inbound SPI), message-id windows, the one
//! retransmission schedule, and the public API the dispatcher in
//! `ike::engine` calls. The exchanges live in their own modules
//! (`ike_sa_init`, `ike_auth`, `create_child_sa`, `informational`) as
//! steps on this engine; `message` protects and opens SK payloads.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};
use tracing::{debug, info};

use super::cookie::CookieJar;
use super::proposal::{asa_encr, asa_integ, asa_prf};
use super::sa::{Child, IkeSa, Queued, State};
use super::ts;
use crate::ike::config::{LocalConfig, PeerConfig, SelectorId};
use crate::ike::failure::FailureReason;
use crate::ike::output::Output;
use crate::ike::spi::SpiPool;
use crate::ike::status::{Ikev2ChildInfo, Ikev2SaInfo, PeerStatus, Role};
use crate::ike::wire::v2::{MessageV2Repr, exchange};

/// Datagrams dropped before any state existed for them, and cookies.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// IKE_SA_INIT requests from addresses no IKEv2 entry names.
    pub unconfigured_first_msgs: u64,
    /// Messages naming no IKE SA we hold.
    pub unknown_sa_drops: u64,
    /// Unparsable messages.
    pub malformed_drops: u64,
    /// SK/SKF payloads whose integrity check failed.
    pub integrity_drops: u64,
    /// Requests outside the window, responses to nothing outstanding.
    pub bad_mid_drops: u64,
    /// Stateless COOKIE answers sent.
    pub cookies_sent: u64,
    /// IKE_SA_INIT requests with a wrong or stale cookie.
    pub bad_cookie_drops: u64,
    /// IKE_SA_INIT requests refused at `max-in-negotiation-sa`.
    pub half_open_drops: u64,
}

#[derive(Debug, Default)]
pub(super) struct PeerRuntime {
    /// The last failure: (state, reason), until a tunnel comes up.
    pub last_failure: Option<(String, String)>,
    /// An IKE SA with this peer completed since start (INITIAL_CONTACT is
    /// sent on the first only).
    pub contacted: bool,
}

pub struct Engine {
    pub(super) local: LocalConfig,
    pub(super) peers: Vec<PeerConfig>,
    pub(super) rng: SystemRandom,
    pub(super) spis: SpiPool,
    /// Every IKE SA, by our SPI.
    pub(super) sas: HashMap<[u8; 8], IkeSa>,
    /// Responder SAs by (peer address, peer's SPIi): a retransmitted
    /// IKE_SA_INIT finds its SA.
    pub(super) by_init: HashMap<(Ipv4Addr, [u8; 8]), [u8; 8]>,
    /// Our SPIs of responder SAs that answered IKE_SA_INIT and wait for
    /// IKE_AUTH: counted on every IKE_SA_INIT (cookies, the limit), so a
    /// set, not a scan of every SA.
    pub(super) half_open: std::collections::HashSet<[u8; 8]>,
    pub(super) next_id: u64,
    pub(super) children: HashMap<u32, Child>,
    pub(super) runtime: HashMap<Ipv4Addr, PeerRuntime>,
    pub(super) stats: Stats,
    pub(super) cookies: CookieJar,
    pub(super) fallbacks: Vec<(Ipv4Addr, SelectorId)>,
    /// Addresses of IKEv1-only entries: their IKE_SA_INIT gets
    /// NO_PROPOSAL_CHOSEN so the peer can fall back.
    pub(super) v1_peers: std::collections::HashSet<Ipv4Addr>,
    pub(super) quiet_log: crate::ike::quiet_log::QuietLog,
}

impl Engine {
    pub fn new(local: LocalConfig, spis: SpiPool) -> Self {
        let rng = SystemRandom::new();
        let cookies = CookieJar::new(&rng, Instant::now());
        Engine {
            local,
            peers: Vec::new(),
            rng,
            spis,
            sas: HashMap::new(),
            by_init: HashMap::new(),
            half_open: Default::default(),
            next_id: 1,
            children: HashMap::new(),
            runtime: HashMap::new(),
            stats: Stats::default(),
            cookies,
            fallbacks: Vec::new(),
            v1_peers: Default::default(),
            quiet_log: Default::default(),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn set_peers(&mut self, peers: Vec<PeerConfig>) {
        self.peers = peers;
        let peers = &self.peers;
        self.runtime
            .retain(|a, _| peers.iter().any(|p| p.addresses.contains(a)));
    }

    /// Addresses of entries that negotiate IKEv1 only.
    pub fn set_v1_only_peers(&mut self, addrs: impl IntoIterator<Item = Ipv4Addr>) {
        self.v1_peers = addrs.into_iter().collect();
    }

    /// Selectors whose IKEv2 negotiation the peer refused (or never
    /// answered): the dispatcher tries IKEv1 for them.
    pub fn take_fallbacks(&mut self) -> Vec<(Ipv4Addr, SelectorId)> {
        std::mem::take(&mut self.fallbacks)
    }

    pub(super) fn peer_config(&self, addr: Ipv4Addr) -> Option<&PeerConfig> {
        self.peers.iter().find(|p| p.addresses.contains(&addr))
    }

    pub(super) fn random_bytes(&self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        // SystemRandom fails only if the OS RNG is unavailable; an
        // all-zero value is then caught by the SPI/nonce users below.
        let _ = self.rng.fill(&mut v);
        v
    }

    pub(super) fn random_u32(&self) -> u32 {
        let b = self.random_bytes(4);
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// A fresh IKE SPI: random, nonzero, not one of ours.
    pub(super) fn new_ike_spi(&self) -> [u8; 8] {
        loop {
            let mut s = [0u8; 8];
            let _ = self.rng.fill(&mut s);
            if s != [0u8; 8] && !self.sas.contains_key(&s) {
                return s;
            }
        }
    }

    /// A fresh inbound ESP SPI, unique across both IKE versions.
    pub(super) fn new_child_spi(&self) -> u32 {
        loop {
            let s = self.random_u32();
            if s > 255 && self.spis.insert(s) {
                return s;
            }
        }
    }

    pub(super) fn new_nonce(&self) -> Vec<u8> {
        self.random_bytes(32)
    }

    pub(super) fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Records a failure for `peer` (shown until a tunnel comes up) and
    /// tells the daemon. Debug level only: unauthenticated requests under
    /// a peer's address (a proposal nothing matches, a bad KE) fail here
    /// once each, and the daemon writes the warning at a bounded rate
    /// per peer, as it does for IKEv1.
    pub(super) fn fail(
        &mut self,
        peer: Ipv4Addr,
        state: &str,
        reason: FailureReason,
        out: &mut Vec<Output>,
    ) {
        debug!(target: "ipsecgw::ike::v2", %peer, state, reason = %reason, "IKEv2 negotiation failed");
        if self.peer_config(peer).is_some() {
            self.runtime.entry(peer).or_default().last_failure =
                Some((state.to_string(), reason.text().to_string()));
        }
        out.push(Output::Failure { peer, reason });
    }

    /// Forget an IKE SA (already removed from the table) and, unless
    /// `keep_children`, every child under it.
    pub(super) fn drop_sa(
        &mut self,
        sa: &IkeSa,
        keep_children: bool,
        reason: &str,
        out: &mut Vec<Output>,
    ) {
        if sa.role == Role::Responder {
            self.by_init.remove(&(sa.peer, sa.spi_i));
        }
        self.half_open.remove(&sa.our_spi());
        if let Some(o) = &sa.outstanding
            && let super::sa::Sent::Child { our_spi, .. } | super::sa::Sent::Auth { our_spi, .. } =
                o.what
        {
            self.spis.remove(&our_spi);
        }
        if !keep_children {
            let ours: Vec<u32> = self
                .children
                .values()
                .filter(|c| c.ike_spi == sa.our_spi())
                .map(|c| c.inbound_spi)
                .collect();
            for spi in ours {
                self.remove_child(spi, out);
            }
        }
        if sa.established.is_some() {
            out.push(Output::IsakmpDown {
                peer: sa.peer,
                icookie: sa.spi_i,
                rcookie: sa.spi_r,
                reason: reason.to_string(),
            });
        }
    }

    pub(super) fn remove_child(
        &mut self,
        inbound_spi: u32,
        out: &mut Vec<Output>,
    ) -> Option<Child> {
        let c = self.children.remove(&inbound_spi)?;
        self.spis.remove(&c.inbound_spi);
        out.push(Output::ChildSaDown {
            peer: c.peer,
            selector: c.selector,
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
        });
        Some(c)
    }

    /// The established IKE SA with `peer` that new children go under.
    pub(super) fn established_with(&self, peer: Ipv4Addr) -> Option<[u8; 8]> {
        self.sas
            .values()
            .filter(|s| s.peer == peer && s.state == State::Established)
            .max_by_key(|s| s.id)
            .map(|s| s.our_spi())
    }

    // ------------------------------------------------------------ public API

    /// Negotiate `selector` with `peer`: a child under the IKE SA we have,
    /// or a new IKE SA carrying it in IKE_AUTH.
    pub fn initiate(&mut self, now: Instant, peer: Ipv4Addr, selector: SelectorId) -> Vec<Output> {
        let mut out = Vec::new();
        self.initiate_inner(now, peer, selector, &mut out);
        out
    }

    pub(super) fn initiate_inner(
        &mut self,
        now: Instant,
        peer: Ipv4Addr,
        selector: SelectorId,
        out: &mut Vec<Output>,
    ) {
        if self.peer_config(peer).is_none() {
            return;
        }
        if self
            .children
            .values()
            .any(|c| c.peer == peer && c.selector == selector && !c.rekeying)
        {
            return;
        }
        // Already under way: queued, outstanding or pending on an SA.
        for sa in self.sas.values() {
            if sa.peer != peer {
                continue;
            }
            if sa.pending.contains(&selector)
                || sa.queue.iter().any(|q| matches!(q, Queued::Child { selector: s, rekey: None } if *s == selector))
                || sa.outstanding.as_ref().is_some_and(|o| {
                    matches!(o.what, super::sa::Sent::Auth { selector: s, .. } | super::sa::Sent::Child { selector: s, rekey: None, .. } if s == selector)
                })
            {
                return;
            }
        }
        if let Some(spi) = self.established_with(peer) {
            if let Some(mut sa) = self.sas.remove(&spi) {
                sa.queue.push_back(Queued::Child {
                    selector,
                    rekey: None,
                });
                self.pump(now, &mut sa, out);
                self.sas.insert(spi, sa);
            }
            return;
        }
        // An IKE SA of ours being set up: the selector waits for it.
        if let Some(sa) = self.sas.values_mut().find(|s| {
            s.peer == peer
                && s.is_initiator()
                && !s.state.is_established()
                && s.state != State::Retiring
        }) {
            sa.pending.push(selector);
            return;
        }
        self.start_ike_sa(now, peer, vec![selector], out);
    }

    /// An IKEv2 datagram arrived (without the non-ESP marker).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        to: SocketAddrV4,
        data: &[u8],
    ) -> Vec<Output> {
        let mut out = Vec::new();
        let msg = match MessageV2Repr::parse(data) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed_drops += 1;
                debug!(target: "ipsecgw::ike::v2", %from, error = %e, "unparsable IKEv2 datagram dropped");
                return out;
            }
        };
        let data = &data[..(msg.header.length as usize).min(data.len())];
        let h = msg.header;
        if h.exchange == exchange::IKE_SA_INIT {
            if h.is_response() {
                self.init_response(now, from, to, data, &msg, &mut out);
            } else {
                self.init_request(now, from, to, data, &msg, &mut out);
            }
            return out;
        }
        // The sender's role picks which SPI is ours.
        let ours = if h.from_initiator() { h.spi_r } else { h.spi_i };
        let Some(mut sa) = self.sas.remove(&ours) else {
            self.stats.unknown_sa_drops += 1;
            debug!(target: "ipsecgw::ike::v2", %from, "IKEv2 message for an unknown IKE SA dropped");
            return out;
        };
        let from_peer_initiator = h.from_initiator();
        if from_peer_initiator == sa.is_initiator() || sa.spi_i != h.spi_i || sa.spi_r != h.spi_r {
            self.stats.unknown_sa_drops += 1;
            self.sas.insert(ours, sa);
            return out;
        }
        let keep = self.on_protected(now, &mut sa, from, to, data, &msg, &mut out);
        if keep {
            self.sas.insert(ours, sa);
        }
        out
    }

    /// `clear crypto ipsec sa`: children only, DELETE sent.
    pub fn delete_children(&mut self, now: Instant, peer: Option<Ipv4Addr>) -> Vec<Output> {
        let mut out = Vec::new();
        let mut by_sa: HashMap<[u8; 8], Vec<u32>> = HashMap::new();
        for c in self
            .children
            .values()
            .filter(|c| peer.is_none_or(|p| c.peer == p))
        {
            by_sa.entry(c.ike_spi).or_default().push(c.inbound_spi);
        }
        for (spi, children) in by_sa {
            for c in &children {
                self.remove_child(*c, &mut out);
            }
            if let Some(mut sa) = self.sas.remove(&spi) {
                sa.queue.push_back(Queued::DeleteChildren(children));
                self.pump(now, &mut sa, &mut out);
                self.sas.insert(spi, sa);
            }
        }
        out
    }

    /// `clear crypto ikev2 sa [ADDR]` and shutdown: each IKE SA deleted
    /// with its children, the peer told (one DELETE, not retransmitted:
    /// the SA is gone whatever the peer says).
    pub fn delete_ike(&mut self, now: Instant, peer: Option<Ipv4Addr>) -> Vec<Output> {
        let mut out = Vec::new();
        let doomed: Vec<[u8; 8]> = self
            .sas
            .values()
            .filter(|s| peer.is_none_or(|p| s.peer == p))
            .map(|s| s.our_spi())
            .collect();
        for spi in doomed {
            if let Some(mut sa) = self.sas.remove(&spi) {
                if sa.keys.is_some() && matches!(sa.state, State::Established | State::Retiring) {
                    self.send_delete_ike_once(now, &mut sa, &mut out);
                }
                self.drop_sa(&sa, false, "Administrator Reset", &mut out);
            }
        }
        out
    }

    pub fn owns_child(&self, inbound_spi: u32) -> bool {
        self.children.contains_key(&inbound_spi)
    }

    pub fn note_child_traffic(&mut self, _now: Instant, inbound_spi: u32) {
        if let Some(c) = self.children.get_mut(&inbound_spi) {
            c.used = true;
        }
    }

    /// ESP arrived on a child: the peer is alive (authenticated traffic).
    pub fn note_child_inbound(&mut self, now: Instant, inbound_spi: u32) {
        let Some(c) = self.children.get_mut(&inbound_spi) else {
            return;
        };
        c.used = true;
        let spi = c.ike_spi;
        if let Some(sa) = self.sas.get_mut(&spi) {
            sa.last_heard = now;
        }
    }

    /// The child's soft volume limit: rekey it now.
    pub fn note_child_volume_soft(&mut self, now: Instant, inbound_spi: u32) {
        if let Some(c) = self.children.get_mut(&inbound_spi) {
            c.used = true;
            c.soft = c.soft.min(now);
        }
    }

    /// The child's hard limit (volume, or sequence numbers): delete it.
    pub fn expire_child(&mut self, now: Instant, inbound_spi: u32) -> Vec<Output> {
        let mut out = Vec::new();
        if let Some(c) = self.remove_child(inbound_spi, &mut out)
            && let Some(mut sa) = self.sas.remove(&c.ike_spi)
        {
            sa.queue
                .push_back(Queued::DeleteChildren(vec![inbound_spi]));
            self.pump(now, &mut sa, &mut out);
            self.sas.insert(c.ike_spi, sa);
        }
        out
    }

    pub fn ike_sas(&self, now: Instant) -> Vec<Ikev2SaInfo> {
        let mut v: Vec<Ikev2SaInfo> = self
            .sas
            .values()
            .map(|sa| {
                let (encr, keysize, integ, prf) = match sa.keys.as_ref().map(|k| k.suite) {
                    Some(s) => {
                        let (e, k) = asa_encr(s.encr);
                        (
                            e.to_string(),
                            k,
                            asa_integ(s.integ).to_string(),
                            asa_prf(s.prf).to_string(),
                        )
                    }
                    None => ("none".into(), 0, "none".into(), "none".into()),
                };
                let mut children: Vec<Ikev2ChildInfo> = self
                    .children
                    .values()
                    .filter(|c| c.ike_spi == sa.our_spi())
                    .map(|c| Ikev2ChildInfo {
                        selector: c.selector,
                        local_selector: ts::asa_text(&c.local_ts),
                        remote_selector: ts::asa_text(&c.remote_ts),
                        inbound_spi: c.inbound_spi,
                        outbound_spi: c.outbound_spi,
                        transform: c.transform,
                    })
                    .collect();
                children.sort_by_key(|c| (c.selector, c.inbound_spi));
                Ikev2SaInfo {
                    session_id: sa.id,
                    peer: sa.peer,
                    local: format!("{}/{}", sa.local.ip(), sa.local.port()),
                    remote: format!("{}/{}", sa.remote.ip(), sa.remote.port()),
                    role: sa.role,
                    state: sa.state.asa_name().to_string(),
                    encryption: encr,
                    keysize,
                    integrity: integ,
                    prf,
                    group: sa.group.number(),
                    auth_sign: "PSK".into(),
                    auth_verify: "PSK".into(),
                    lifetime_s: sa.lifetime_s,
                    active_s: sa
                        .established
                        .map_or(0, |e| now.saturating_duration_since(e).as_secs()),
                    nat_t: sa.nat.floated,
                    local_spi: hex(&sa.our_spi()),
                    remote_spi: hex(if sa.is_initiator() {
                        &sa.spi_r
                    } else {
                        &sa.spi_i
                    }),
                    children,
                }
            })
            .collect();
        v.sort_by_key(|s| s.session_id);
        v
    }

    pub fn peer_status(&self) -> Vec<PeerStatus> {
        let mut v = Vec::new();
        for cfg in &self.peers {
            for &addr in &cfg.addresses {
                let sas = self.children.values().filter(|c| c.peer == addr).count();
                let active = self
                    .sas
                    .values()
                    .any(|s| s.peer == addr && s.state.is_established());
                let negotiating = self.sas.values().find(|s| {
                    s.peer == addr && !s.state.is_established() && s.state != State::Retiring
                });
                let failure = self
                    .runtime
                    .get(&addr)
                    .and_then(|r| r.last_failure.as_ref());
                let (up, state, detail) = crate::ike::status::PeerFacts {
                    ipsec_sas: sas,
                    ike_up: active,
                    negotiating: negotiating.map(|s| state_word(s.state)),
                    failure: failure.map(|(s, r)| (s.as_str(), r.as_str())),
                    ike_name: "IKEv2 SA",
                }
                .judge();
                v.push(PeerStatus {
                    name: cfg.name.clone(),
                    peer: addr,
                    up,
                    ipsec_sas: sas,
                    state,
                    detail,
                    last_failure: failure.map(|(s, r)| crate::ike::status::failure_text(s, r)),
                });
            }
        }
        v
    }

    /// An IKE SA's lifetime: its policy's, unless the testing aid
    /// `LocalConfig::ikev2_sa_lifetime_s` says otherwise.
    pub(super) fn ike_lifetime_s(&self, policy_s: u32) -> u32 {
        self.local.ikev2_sa_lifetime_s.unwrap_or(policy_s)
    }

    pub(super) fn half_open_timeout(&self) -> Duration {
        self.local.retransmit_base * (1u32 << self.local.retransmit_tries.min(10))
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut upd = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for sa in self.sas.values() {
            upd(sa.outstanding.as_ref().map(|o| o.next));
            upd(sa.rekey_at);
            upd(sa.expires);
            upd(sa.dpd_next);
            upd(sa.keepalive_next);
            if !sa.state.is_established() {
                upd(Some(sa.created + self.half_open_timeout()));
            }
        }
        for c in self.children.values() {
            upd(Some(c.hard));
            if c.used && !c.rekeying {
                upd(Some(c.soft));
            }
        }
        upd(Some(self.cookies.next_rotation()));
        t
    }

    pub fn on_timer(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        self.cookies.rotate(&self.rng, now);
        let spis: Vec<[u8; 8]> = self.sas.keys().copied().collect();
        for spi in spis {
            let Some(mut sa) = self.sas.remove(&spi) else {
                continue;
            };
            if self.sa_timers(now, &mut sa, &mut out) {
                self.sas.insert(spi, sa);
            }
        }
        self.child_timers(now, &mut out);
        out
    }

    pub fn child_count(&self) -> usize {
        self.children.len()
    }

    fn child_timers(&mut self, now: Instant, out: &mut Vec<Output>) {
        let hard: Vec<(u32, bool)> = self
            .children
            .values()
            .filter(|c| now >= c.hard)
            .map(|c| (c.inbound_spi, c.replaced))
            .collect();
        for (spi, replaced) in hard {
            if replaced {
                debug!(target: "ipsecgw::ike::v2", spi = format_args!("{spi:#010x}"), "deleting the CHILD SA our rekey replaced");
            } else {
                info!(target: "ipsecgw::ike::v2", spi = format_args!("{spi:#010x}"), "CHILD SA lifetime expired");
            }
            let _ = self.expire_child_inner(now, spi, out);
        }
        let soft: Vec<(u32, [u8; 8], SelectorId)> = self
            .children
            .values_mut()
            .filter(|c| c.used && !c.rekeying && now >= c.soft)
            .map(|c| {
                c.rekeying = true;
                (c.inbound_spi, c.ike_spi, c.selector)
            })
            .collect();
        for (spi, ike, selector) in soft {
            if let Some(mut sa) = self.sas.remove(&ike) {
                if sa.state == State::Established {
                    info!(target: "ipsecgw::ike::v2", peer = %sa.peer, selector, "rekeying CHILD SA before its lifetime ends");
                    sa.queue.push_back(Queued::Child {
                        selector,
                        rekey: Some(spi),
                    });
                    self.pump(now, &mut sa, out);
                }
                self.sas.insert(ike, sa);
            }
        }
    }

    fn expire_child_inner(&mut self, now: Instant, spi: u32, out: &mut Vec<Output>) -> Option<()> {
        let c = self.remove_child(spi, out)?;
        let mut sa = self.sas.remove(&c.ike_spi)?;
        if sa.state == State::Established {
            sa.queue.push_back(Queued::DeleteChildren(vec![spi]));
            self.pump(now, &mut sa, out);
        }
        self.sas.insert(c.ike_spi, sa);
        Some(())
    }

    /// False when the SA is gone.
    fn sa_timers(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) -> bool {
        if !self.retransmit_timer(now, sa, out) {
            return false;
        }
        if !sa.state.is_established()
            && sa.state != State::Retiring
            && now >= sa.created + self.half_open_timeout()
            && sa.outstanding.is_none()
        {
            debug!(target: "ipsecgw::ike::v2", peer = %sa.peer, sa = sa.id, "half-open IKEv2 SA expired");
            if sa.role == Role::Responder && sa.state == State::InitDone {
                // A peer that never sent IKE_AUTH, usually because it
                // could not agree with our IKE_SA_INIT answer.
                self.fail(
                    sa.peer,
                    "INIT_DONE",
                    FailureReason::NoReply(format!(
                        "we answered IKE_SA_INIT but {} never sent IKE_AUTH (it may not accept our choice or our answer never reached it)",
                        sa.remote
                    )),
                    out,
                );
            }
            self.drop_sa(sa, false, "half-open timeout", out);
            return false;
        }
        if let Some(exp) = sa.expires
            && now >= exp
        {
            info!(target: "ipsecgw::ike::v2", peer = %sa.peer, sa = sa.id, "IKEv2 SA lifetime expired");
            if sa.keys.is_some() {
                self.send_delete_ike_once(now, sa, out);
            }
            self.drop_sa(sa, false, "lifetime expired", out);
            return false;
        }
        if let Some(r) = sa.rekey_at
            && now >= r
            && sa.state == State::Established
        {
            sa.rekey_at = None;
            info!(target: "ipsecgw::ike::v2", peer = %sa.peer, sa = sa.id, "rekeying IKEv2 SA before its lifetime ends");
            sa.queue.push_back(Queued::RekeyIke);
            self.pump(now, sa, out);
        }
        if let Some(d) = sa.dpd_next
            && now >= d
        {
            self.dpd_due(now, sa, out);
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
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn state_word(s: State) -> &'static str {
    match s {
        State::InitSent => "INIT_SENT",
        State::InitDone => "INIT_DONE",
        State::AuthSent => "AUTH_SENT",
        State::Established => "READY",
        State::Retiring => "DELETE",
    }
}
