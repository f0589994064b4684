//! Quick mode (RFC 2409 section 5.5): three messages under the ISAKMP SA.
//!
//! ```text
//! I QM1*: HASH(1), SA, Ni [, KE], IDci, IDcr   -> R
//! I                                             <- R QM2*: HASH(2), SA, Nr [, KE], IDci, IDcr
//! I QM3*: HASH(3)                               -> R   (the responder committed at QM2)
//! ```
//! The proxy identities are the crypto-map ACL line as IPV4_ADDR_SUBNET.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use super::config::{Ipv4Net, SelectorId, net_from_mask};
use super::engine::{ChildSa, Engine, FailureReason, Output, digest};
use super::exchange::{NONCE_LEN, check_nonce, hash_matches, prepend_hash, responder_lifetime};
use super::message::{
    Attr, Chain, Header, ID_IPV4_ADDR, ID_IPV4_ADDR_SUBNET, IdPayload, Message, NotifyPayload,
    Proposal, SaPayload, emit_attrs, nt, pt, xt,
};
use super::proposal::{self, P2Params, p2};
use super::sa::{ChildRecord, IkeSa, Retransmit, Role};
use crate::algo::EspTransform;
use crate::ike::crypto::{DhPrivate, Phase1Keys, SharedSecret};
use zeroize::Zeroizing;

/// Quick-mode states (as `show crypto ipsec sa` debugging names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QmState {
    WaitMsg2,
    WaitMsg3,
}

const MAX_QUICK_TASKS: usize = 32;

/// One quick-mode exchange in flight.
pub struct QuickTask {
    pub mid: u32,
    pub role: Role,
    pub state: QmState,
    pub selector: SelectorId,
    pub replaces: Option<u32>,
    pub iv: Vec<u8>,
    /// Initiator's and responder's nonces (whatever our role).
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    pub dh: Option<DhPrivate>,
    pub gxy: Option<SharedSecret>,
    pub our_spi: u32,
    pub local_ts: Ipv4Net,
    pub remote_ts: Ipv4Net,
    pub retransmit: Option<Retransmit>,
    pub last_rx: Option<[u8; 20]>,
    pub last_reply: Option<Vec<u8>>,
    /// Responder: the SA to commit when QM3 verifies.
    pub pending: Option<ChildSa>,
}

fn id_subnet(n: Ipv4Net) -> IdPayload {
    let mut data = n.addr().octets().to_vec();
    data.extend_from_slice(&n.mask().octets());
    IdPayload {
        id_type: ID_IPV4_ADDR_SUBNET,
        protocol: 0,
        port: 0,
        data,
    }
}

fn id_to_net(id: &IdPayload) -> Option<Ipv4Net> {
    match (id.id_type, id.data.as_slice()) {
        (ID_IPV4_ADDR, [a, b, c, d]) => Ipv4Net::new(Ipv4Addr::new(*a, *b, *c, *d), 32),
        (ID_IPV4_ADDR_SUBNET, [a, b, c, d, m0, m1, m2, m3]) => net_from_mask(
            Ipv4Addr::new(*a, *b, *c, *d),
            Ipv4Addr::new(*m0, *m1, *m2, *m3),
        ),
        _ => None,
    }
}

fn contains(outer: Ipv4Net, inner: Ipv4Net) -> bool {
    outer.prefix() <= inner.prefix() && Ipv4Net::new(inner.addr(), outer.prefix()) == Some(outer)
}

impl Engine {
    pub(super) fn start_quick_mode(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        selector: SelectorId,
        replaces: Option<u32>,
        out: &mut Vec<Output>,
    ) {
        let Some(cfg) = self.peer_config(sa.peer) else {
            return;
        };
        let Some(sel) = cfg.selectors.iter().find(|s| s.id == selector).cloned() else {
            return;
        };
        if sa.quick.len() >= MAX_QUICK_TASKS {
            return;
        }
        if sa.used_mids.is_full() {
            // Every message id of this phase 1 must stay remembered, so it
            // takes no more quick modes: end it now; the next negotiation
            // for the selector starts a fresh phase 1.
            let reason = FailureReason::Limit(format!(
                "quick-mode message-id memory of the ISAKMP SA with {} full ({} exchanges); replacing the ISAKMP SA",
                sa.peer,
                super::sa::MAX_USED_MIDS
            ));
            self.fail_sa(sa, reason, out);
            sa.expires = Some(now);
            return;
        }
        if sa
            .quick
            .values()
            .any(|q| q.selector == selector && q.role == Role::Initiator)
        {
            return; // already negotiating this one
        }
        let (transforms, pfs, life_s, life_kb) = (
            cfg.transforms.clone(),
            cfg.pfs,
            cfg.lifetime_s,
            cfg.lifetime_kb,
        );
        let mut mid = self.new_mid();
        while sa.used_mids.contains(mid) {
            mid = self.new_mid();
        }
        let our_spi = self.new_spi();
        let ni = self.random_bytes(NONCE_LEN);
        let dh = match pfs.map(|g| DhPrivate::generate(g, &self.rng)) {
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                self.fail_sa(
                    sa,
                    FailureReason::Protocol(format!("quick mode: PFS: {e}")),
                    out,
                );
                return;
            }
            None => None,
        };
        let encap = if sa.nat.floated {
            p2::ENCAP_UDP_TUNNEL
        } else {
            p2::ENCAP_TUNNEL
        };
        let params = P2Params {
            pfs,
            encap,
            lifetime_s: life_s,
            lifetime_kb: life_kb,
        };
        let mut rest = Chain::new();
        rest.push(
            pt::SA,
            proposal::p2_sa(&transforms, &params, our_spi).emit(),
        )
        .push(pt::NONCE, ni.clone());
        if let Some(d) = &dh {
            rest.push(pt::KE, d.public_value().to_vec());
        }
        rest.push(pt::ID, id_subnet(sel.local).emit())
            .push(pt::ID, id_subnet(sel.remote).emit());
        let Some(keys) = sa.keys.as_ref() else { return };
        let Some(iv) = sa.exchange_iv(mid) else {
            return;
        };
        let hash1 = keys.hash1(mid, &rest.bytes());
        let chain = prepend_hash(hash1.to_vec(), &rest);
        let Some((data, next_iv)) = Self::sealed(sa, xt::QUICK, mid, &chain, &iv) else {
            return;
        };
        info!(peer = %sa.peer, sa = sa.id, mid = format_args!("{mid:#010x}"), selector, "quick mode: initiating");
        let task = QuickTask {
            mid,
            role: Role::Initiator,
            state: QmState::WaitMsg2,
            selector,
            replaces,
            iv: next_iv,
            ni,
            nr: Vec::new(),
            dh,
            gxy: None,
            our_spi,
            local_ts: sel.local,
            remote_ts: sel.remote,
            retransmit: Some(Retransmit::first(
                data.clone(),
                now,
                self.local.retransmit_base,
                Some(mid),
            )),
            last_rx: None,
            last_reply: None,
            pending: None,
        };
        sa.quick.insert(mid, task);
        sa.used_mids.insert(mid);
        Self::send(out, sa, data);
    }

    /// Returns false when the IKE SA must be forgotten (never, here).
    pub(super) fn qm_handle(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        out: &mut Vec<Output>,
    ) -> bool {
        if !sa.state.is_active() || !hdr.encrypted() || hdr.mid == 0 {
            debug!(peer = %sa.peer, "quick mode message before phase 1 completed, or unencrypted: dropped");
            return true;
        }
        let dg = digest(data);
        let mid = hdr.mid;
        if let Some((_, reply)) = sa.quick_done.iter().find(|(m, _)| *m == mid) {
            Self::send(out, sa, reply.clone());
            return true;
        }
        if let Some(t) = sa.quick.get(&mid) {
            if t.last_rx == Some(dg) {
                if let Some(r) = t.last_reply.clone() {
                    Self::send(out, sa, r);
                }
                return true;
            }
        }
        if !sa.quick.contains_key(&mid) {
            if sa.used_mids.contains(mid) {
                self.stats.replayed_drops += 1;
                debug!(peer = %sa.peer, mid = format_args!("{mid:#010x}"), "quick mode message for a finished exchange (replay); dropped");
                return true;
            }
            if sa.used_mids.is_full() {
                self.stats.mid_memory_full_drops += 1;
                debug!(peer = %sa.peer, "quick-mode message-id memory of this ISAKMP SA is full; new quick mode dropped");
                return true;
            }
        }
        if sa.policy.is_none() {
            return true;
        }
        let Some(iv) = sa
            .quick
            .get(&mid)
            .map(|t| t.iv.clone())
            .or_else(|| sa.exchange_iv(mid))
        else {
            return true;
        };
        let (msg, next_iv) = match Self::open(sa, hdr, data, &iv) {
            Ok(v) => v,
            Err(e) => {
                debug!(peer = %sa.peer, error = %e, "quick mode message did not decrypt; dropped");
                return true;
            }
        };
        if msg.payloads.first().map(|p| p.ptype) != Some(pt::HASH) {
            debug!(peer = %sa.peer, "quick mode message without leading HASH; dropped");
            return true;
        }
        let res = match sa.quick.get(&mid).map(|t| (t.role, t.state)) {
            None => self.qm_recv_1(now, sa, &msg, next_iv, dg, out),
            Some((Role::Initiator, QmState::WaitMsg2)) => {
                self.qm_recv_2(now, sa, &msg, next_iv, out)
            }
            Some((Role::Responder, QmState::WaitMsg3)) => self.qm_recv_3(now, sa, &msg, out),
            Some(_) => Ok(()),
        };
        if let Err(reason) = res {
            self.fail_sa(sa, reason, out);
        }
        true
    }

    fn qm_recv_1(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        msg: &Message,
        next_iv: Vec<u8>,
        dg: [u8; 20],
        out: &mut Vec<Output>,
    ) -> Result<(), FailureReason> {
        let mid = msg.header.mid;
        if !leading_hash_verifies(sa, msg, |k| k.hash1(mid, msg.after_first()))? {
            debug!(peer = %sa.peer, "quick mode HASH(1) did not verify; dropped");
            return Ok(());
        }
        // Authentic and new (replays stop at the message-id check): proof
        // of life for DPD.
        sa.last_heard = now;
        if sa.quick.len() >= MAX_QUICK_TASKS {
            return Ok(());
        }
        let bad = |w: &str| {
            FailureReason::Protocol(format!(
                "quick mode: malformed message 1 from the peer ({w})"
            ))
        };
        let sa_b = msg.first(pt::SA).ok_or_else(|| bad("no SA"))?;
        let offered = SaPayload::parse(sa_b).map_err(|e| bad(&e.to_string()))?;
        let ni = msg
            .first(pt::NONCE)
            .ok_or_else(|| bad("no nonce"))?
            .to_vec();
        check_nonce(&ni).map_err(|e| e.unwrap_or_else(|| bad("nonce")))?;
        let ids: Vec<&[u8]> = msg.all(pt::ID).collect();
        let (idci_b, idcr_b) = match ids.as_slice() {
            [a, b] => (a.to_vec(), b.to_vec()),
            _ => return Err(bad("expected two ID payloads")),
        };
        let idci_p = IdPayload::parse(&idci_b).map_err(|_| bad("IDci"))?;
        let idcr_p = IdPayload::parse(&idcr_b).map_err(|_| bad("IDcr"))?;
        let idci = id_to_net(&idci_p).ok_or_else(|| bad("IDci"))?;
        let idcr = id_to_net(&idcr_p).ok_or_else(|| bad("IDcr"))?;
        // Both identities name one protocol (or none): traffic of protocol
        // A one way and B the other is no selector an SA can carry.
        if idci_p.protocol != idcr_p.protocol && idci_p.protocol != 0 && idcr_p.protocol != 0 {
            return Err(bad("IDci and IDcr name different IP protocols"));
        }
        let id_proto = idci_p.protocol.max(idcr_p.protocol);
        let cfg = self
            .peer_config(sa.peer)
            .ok_or_else(|| bad("peer no longer configured"))?;
        // The peer's initiator id is our remote network; its responder id is
        // our local network. ASA: a crypto-map ACL line must cover both.
        let sel = cfg
            .selectors
            .iter()
            .find(|s| s.remote == idci && s.local == idcr)
            .or_else(|| {
                cfg.selectors
                    .iter()
                    .find(|s| contains(s.remote, idci) && contains(s.local, idcr))
            })
            .cloned();
        let Some(sel) = sel else {
            let acls: Vec<String> = cfg
                .selectors
                .iter()
                .map(|s| format!("{} is {} -> {}", s.acl, s.local, s.remote))
                .collect();
            let reason = format!(
                "quick mode: proxy identities do not match: peer proposed {idci} -> {idcr} (its local -> its remote), crypto map {} ACL {}",
                cfg.name,
                if acls.is_empty() {
                    "(none)".to_string()
                } else {
                    acls.join("; ")
                }
            );
            self.send_notify(
                now,
                sa,
                p2::PROTO_ESP,
                nt::INVALID_ID_INFORMATION,
                Vec::new(),
                out,
            );
            return Err(FailureReason::ProxyIdMismatch(reason));
        };
        let choice = match proposal::choose_p2(
            &cfg.transforms,
            cfg.pfs,
            cfg.lifetime_s,
            cfg.lifetime_kb,
            &offered,
        ) {
            Ok(c) => c,
            Err(reason) => {
                let spi = offered
                    .proposals
                    .first()
                    .map(|p| p.spi.clone())
                    .unwrap_or_default();
                self.send_notify(now, sa, p2::PROTO_ESP, nt::NO_PROPOSAL_CHOSEN, spi, out);
                return Err(FailureReason::NoTransformMatch(format!(
                    "quick mode: {reason}"
                )));
            }
        };
        let mut dh_pub = None;
        let gxy = match choice.pfs {
            Some(g) => {
                let ke = msg
                    .first(pt::KE)
                    .ok_or_else(|| bad("PFS proposed without KE"))?;
                let d = DhPrivate::generate(g, &self.rng)
                    .map_err(|e| FailureReason::Protocol(format!("quick mode: PFS: {e}")))?;
                dh_pub = Some(d.public_value().to_vec());
                Some(
                    d.agree(ke)
                        .map_err(|e| FailureReason::Protocol(format!("quick mode: PFS: {e}")))?,
                )
            }
            None => None,
        };
        let our_spi = self.new_spi();
        let nr = self.random_bytes(NONCE_LEN);
        let mut reply_sa = SaPayload {
            proposals: vec![Proposal {
                number: choice.proposal.number,
                protocol: p2::PROTO_ESP,
                spi: our_spi.to_be_bytes().to_vec(),
                transforms: choice.proposal.transforms.iter().take(1).cloned().collect(),
            }],
        };
        // when we shorten, answer with our lifetimes (and say so below)
        if choice.shortened {
            if let Some(t) = reply_sa.proposals[0].transforms.first_mut() {
                t.attrs
                    .retain(|a| a.atype != p2::LIFE_TYPE && a.atype != p2::LIFE_DURATION);
                let mut life = lifetime_attrs(choice.lifetime_s, choice.lifetime_kb);
                life.append(&mut t.attrs);
                t.attrs = life;
            }
        }
        let mut rest = Chain::new();
        rest.push(pt::SA, reply_sa.emit())
            .push(pt::NONCE, nr.clone());
        if let Some(p) = dh_pub {
            rest.push(pt::KE, p);
        }
        rest.push(pt::ID, idci_b).push(pt::ID, idcr_b);
        if choice.shortened {
            let attrs = lifetime_attrs(choice.lifetime_s, choice.lifetime_kb);
            let mut data = Vec::new();
            emit_attrs(&attrs, &mut data);
            let n = NotifyPayload {
                protocol: p2::PROTO_ESP,
                ntype: nt::RESPONDER_LIFETIME,
                spi: choice.peer_spi.to_be_bytes().to_vec(),
                data,
            };
            rest.push(pt::NOTIFY, n.emit());
        }
        let keys = sa.keys.as_ref().ok_or_else(|| bad("no keys"))?;
        let hash2 = keys.hash2(mid, &ni, &rest.bytes());
        let chain = prepend_hash(hash2.to_vec(), &rest);
        let (data, iv) =
            Self::sealed(sa, xt::QUICK, mid, &chain, &next_iv).ok_or_else(|| bad("encryption"))?;
        let mut child = self.make_child(
            sa,
            &sel.id,
            choice.esp,
            our_spi,
            choice.peer_spi,
            &ni,
            &nr,
            gxy.as_ref(),
            idcr,
            idci,
            choice.lifetime_s,
            choice.lifetime_kb,
            None,
        );
        // Our reply echoes the chosen proposal, ESN attribute included.
        child.esn = choice.offer.esn;
        // What was negotiated, not the whole ACL line: the peer's IDci is
        // our remote side, its IDcr our local side.
        child.proto = id_proto;
        child.local_port = idcr_p.port;
        child.remote_port = idci_p.port;
        let task = QuickTask {
            mid,
            role: Role::Responder,
            state: QmState::WaitMsg3,
            selector: sel.id,
            replaces: None,
            iv,
            ni,
            nr,
            dh: None,
            gxy,
            our_spi,
            local_ts: idcr,
            remote_ts: idci,
            retransmit: Some(Retransmit::first(
                data.clone(),
                now,
                self.local.retransmit_base,
                Some(mid),
            )),
            last_rx: Some(dg),
            last_reply: Some(data.clone()),
            pending: None,
        };
        sa.quick.insert(mid, task);
        sa.used_mids.insert(mid);
        // Commit before QM2 leaves, as IOS/ASA do: the initiator installs
        // on QM2 and may send ESP at once, racing its own QM3; our inbound
        // SA must already be there or the first packets are lost.
        self.commit_child(now, sa.id, child, Role::Responder, out);
        Self::send(out, sa, data);
        Ok(())
    }

    fn qm_recv_2(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        msg: &Message,
        next_iv: Vec<u8>,
        out: &mut Vec<Output>,
    ) -> Result<(), FailureReason> {
        let mid = msg.header.mid;
        let Some(mut task) = sa.quick.remove(&mid) else {
            return Ok(());
        };
        if !leading_hash_verifies(sa, msg, |k| k.hash2(mid, &task.ni, msg.after_first()))? {
            debug!(peer = %sa.peer, "quick mode HASH(2) did not verify; dropped");
            sa.quick.insert(mid, task);
            return Ok(());
        }
        // Authentic and new (replays stop at the message-id check): proof
        // of life for DPD.
        sa.last_heard = now;
        let bad = |w: &str| {
            FailureReason::Protocol(format!(
                "quick mode: malformed message 2 from the peer ({w})"
            ))
        };
        let cfg = self
            .peer_config(sa.peer)
            .ok_or_else(|| bad("peer no longer configured"))?;
        let chosen = SaPayload::parse(msg.first(pt::SA).ok_or_else(|| bad("no SA"))?)
            .map_err(|e| bad(&e.to_string()))?;
        let prop = chosen.proposals.first().ok_or_else(|| bad("empty SA"))?;
        let t = prop.transforms.first().ok_or_else(|| bad("no transform"))?;
        let offer = proposal::decode_p2(t);
        let esp = offer
            .esp
            .filter(|e| cfg.transforms.contains(e))
            .ok_or_else(|| {
                FailureReason::NoTransformMatch(format!(
                    "quick mode: peer chose {offer}, which we did not offer"
                ))
            })?;
        let peer_spi = match prop.spi.as_slice() {
            [a, b, c, d] => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => return Err(bad("SPI size")),
        };
        let nr = msg
            .first(pt::NONCE)
            .ok_or_else(|| bad("no nonce"))?
            .to_vec();
        check_nonce(&nr).map_err(|e| e.unwrap_or_else(|| bad("nonce")))?;
        let gxy = match task.dh.take() {
            Some(d) => {
                let ke = msg.first(pt::KE).ok_or_else(|| {
                    FailureReason::NoTransformMatch(
                        "quick mode: we require PFS but the peer's answer has no KE payload".into(),
                    )
                })?;
                Some(
                    d.agree(ke)
                        .map_err(|e| FailureReason::Protocol(format!("quick mode: PFS: {e}")))?,
                )
            }
            None => None,
        };
        let mut life_s = offer
            .lifetime_s
            .map(|v| v.min(u32::MAX as u64) as u32)
            .unwrap_or(cfg.lifetime_s)
            .min(cfg.lifetime_s);
        if let Some(l) = responder_lifetime(msg, p2::PROTO_ESP, p2::LIFE_TYPE, p2::LIFE_DURATION) {
            life_s = life_s.min(l);
        }
        let life_kb = match (offer.lifetime_kb, cfg.lifetime_kb) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let keys = sa.keys.as_ref().ok_or_else(|| bad("no keys"))?;
        let hash3 = keys.hash3(mid, &task.ni, &nr);
        let mut chain = Chain::new();
        chain.push(pt::HASH, hash3.to_vec());
        let (data, _) =
            Self::sealed(sa, xt::QUICK, mid, &chain, &next_iv).ok_or_else(|| bad("encryption"))?;
        Self::send(out, sa, data.clone());
        sa.quick_done.push((mid, data));
        if sa.quick_done.len() > 8 {
            sa.quick_done.remove(0);
        }
        let mut child = self.make_child(
            sa,
            &task.selector,
            esp,
            task.our_spi,
            peer_spi,
            &task.ni,
            &nr,
            gxy.as_ref(),
            task.local_ts,
            task.remote_ts,
            life_s,
            life_kb,
            task.replaces,
        );
        // We never offer ESN, but a responder that answers with it means
        // to use it: follow the answer rather than break every packet.
        child.esn = offer.esn;
        task.nr = nr;
        self.commit_child(now, sa.id, child, Role::Initiator, out);
        Ok(())
    }

    fn qm_recv_3(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        msg: &Message,
        out: &mut Vec<Output>,
    ) -> Result<(), FailureReason> {
        let mid = msg.header.mid;
        let Some(task) = sa.quick.get(&mid) else {
            return Ok(());
        };
        if !leading_hash_verifies(sa, msg, |k| k.hash3(mid, &task.ni, &task.nr))? {
            debug!(peer = %sa.peer, "quick mode HASH(3) did not verify; dropped");
            return Ok(());
        }
        // Authentic and new (replays stop at the message-id check): proof
        // of life for DPD.
        sa.last_heard = now;
        if let Some(mut task) = sa.quick.remove(&mid) {
            if let Some(child) = task.pending.take() {
                self.commit_child(now, sa.id, child, Role::Responder, out);
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn make_child(
        &self,
        sa: &IkeSa,
        selector: &SelectorId,
        esp: EspTransform,
        our_spi: u32,
        peer_spi: u32,
        ni: &[u8],
        nr: &[u8],
        gxy: Option<&SharedSecret>,
        local_ts: Ipv4Net,
        remote_ts: Ipv4Net,
        lifetime_s: u32,
        lifetime_kb: Option<u64>,
        replaces: Option<u32>,
    ) -> ChildSa {
        let len = esp.keymat_len();
        let g = gxy.map(|s| s.as_bytes());
        let (inbound, outbound) = match sa.keys.as_ref() {
            Some(k) => (
                k.keymat(g, p2::PROTO_ESP, our_spi, ni, nr, len),
                k.keymat(g, p2::PROTO_ESP, peer_spi, ni, nr, len),
            ),
            None => Default::default(),
        };
        ChildSa {
            peer: sa.peer,
            local: self.local.address,
            selector: *selector,
            inbound_spi: our_spi,
            outbound_spi: peer_spi,
            transform: esp,
            inbound_keymat: inbound,
            outbound_keymat: outbound,
            lifetime_s,
            lifetime_kb,
            udp_encap: sa.nat.floated.then(|| (sa.local.port(), sa.remote.port())),
            local_ts,
            remote_ts,
            replaces,
            esn: false,
            proto: 0,
            local_port: 0,
            remote_port: 0,
        }
    }

    fn commit_child(
        &mut self,
        now: Instant,
        ike_sa: u64,
        child: ChildSa,
        role: Role,
        out: &mut Vec<Output>,
    ) {
        let life = Duration::from_secs(child.lifetime_s.max(1) as u64);
        // Rekey at 85-90% of the lifetime, jittered so both ends do not
        // start at once; the responder of the SA waits a little longer.
        let jitter = (self.random_u32() % 50) as u64;
        let permille = if role == Role::Initiator {
            850 + jitter
        } else {
            900 + jitter
        };
        let soft = now + life * permille as u32 / 1000;
        info!(
            peer = %child.peer,
            selector = child.selector,
            inbound = format_args!("{:#010x}", child.inbound_spi),
            outbound = format_args!("{:#010x}", child.outbound_spi),
            transform = %child.transform,
            "IPsec SA up"
        );
        self.spis.insert(child.inbound_spi);
        self.children.push(ChildRecord {
            peer: child.peer,
            ike_sa,
            selector: child.selector,
            inbound_spi: child.inbound_spi,
            outbound_spi: child.outbound_spi,
            created: now,
            soft,
            hard: now + life,
            used: false,
            rekeyed: false,
        });
        self.runtime.entry(child.peer).or_default().last_failure = None;
        out.push(Output::ChildSaUp(child));
    }

    pub(super) fn qm_timers(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        let mut dead = Vec::new();
        let mut resend = Vec::new();
        for (mid, t) in sa.quick.iter_mut() {
            let Some(r) = t.retransmit.as_mut().filter(|r| now >= r.next) else {
                continue;
            };
            if r.sent >= self.local.retransmit_tries {
                dead.push((*mid, t.role));
                continue;
            }
            r.sent += 1;
            r.interval *= 2;
            r.next = now + r.interval;
            resend.push(r.data.clone());
        }
        for d in resend {
            Self::send(out, sa, d);
        }
        for (mid, role) in dead {
            if let Some(t) = sa.quick.remove(&mid) {
                self.spis.remove(&t.our_spi);
                let reason = match role {
                    Role::Initiator => format!(
                        "quick mode: no reply from {} after {} tries (phase 1 is up: check the peer's logs for why it ignored our proposal)",
                        sa.remote, self.local.retransmit_tries
                    ),
                    Role::Responder => format!(
                        "quick mode: the peer {} never confirmed (no HASH(3))",
                        sa.remote
                    ),
                };
                self.fail_sa(sa, FailureReason::NoReply(reason), out);
            }
        }
    }
}

/// Whether the message's HASH is the one `expected` computes from the
/// phase-1 keys (`qm_handle` checked that the HASH comes first).
fn leading_hash_verifies(
    sa: &IkeSa,
    msg: &Message,
    expected: impl FnOnce(&Phase1Keys) -> Zeroizing<Vec<u8>>,
) -> Result<bool, FailureReason> {
    let keys = sa
        .keys
        .as_ref()
        .ok_or_else(|| FailureReason::Protocol("no keys".into()))?;
    let hash = msg.first(pt::HASH).unwrap_or_default();
    Ok(hash_matches(&expected(keys), hash))
}

/// Phase-2 lifetime attributes: seconds, then kilobytes when limited.
fn lifetime_attrs(seconds: u32, kb: Option<u64>) -> Vec<Attr> {
    let mut attrs = vec![
        Attr {
            atype: p2::LIFE_TYPE,
            value: 1,
        },
        Attr {
            atype: p2::LIFE_DURATION,
            value: seconds as u64,
        },
    ];
    if let Some(kb) = kb {
        attrs.extend([
            Attr {
                atype: p2::LIFE_TYPE,
                value: 2,
            },
            Attr {
                atype: p2::LIFE_DURATION,
                value: kb,
            },
        ]);
    }
    attrs
}
