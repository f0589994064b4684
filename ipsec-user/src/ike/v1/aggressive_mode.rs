//! Aggressive mode (RFC 2409 section 5, pre-shared key): three messages.
//!
//! ```text
//! I AM1: SA, KE, Ni, IDii, VIDs                     -> R (AM_WAIT_MSG3)
//! I (AM_WAIT_MSG2)     <- R AM2: SA, KE, Nr, IDir, VIDs, NAT-D x2, HASH_R
//! I AM3*: HASH_I, NAT-D x2 [, IC]  (port 4500 if NAT) -> R (AM_ACTIVE)
//! ```
//! Only one DH group can be offered (KE goes in the first message): the
//! group of our first policy; policies with another group are left out.
//! Answering aggressive mode is off unless the peer config allows it: the
//! responder's HASH_R lets an eavesdropper brute-force the PSK offline.

use std::time::Instant;

use subtle::ConstantTimeEq;
use tracing::debug;

use super::engine::{Engine, FailureReason, Output};
use super::main_mode::{NONCE_LEN, check_nonce, responder_lifetime, responder_lifetime_p1};
use super::message::{Chain, Header, NotifyPayload, SaPayload, nt, pt, xt};
use super::nat_t;
use super::proposal::{self, p1};
use super::sa::{IkeSa, Role, State};
use crate::ike::crypto::{DhPrivate, Prf};

/// When the quick mode started right after AM3 is first sent again.
const QM_AFTER_AM3_RETRANSMIT: std::time::Duration = std::time::Duration::from_millis(250);

impl Engine {
    pub(super) fn am_send_1(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        let Some(cfg) = self.peer_config(sa.peer) else {
            return;
        };
        let Some(group) = cfg
            .policies
            .iter()
            .map(|p| p.group)
            .find(|g| crate::ike::crypto::dh::is_supported(*g))
        else {
            let r = FailureReason::NoPolicyMatch(super::main_mode::no_usable_policy(
                sa.peer,
                &cfg.policies,
            ));
            let peer = sa.peer;
            sa.state = State::MmNoState;
            self.record_failure(out, peer, Some(sa), r);
            return;
        };
        let policies: Vec<_> = cfg
            .policies
            .iter()
            .filter(|p| p.group == group)
            .copied()
            .collect();
        let dh = match DhPrivate::generate(group, &self.rng) {
            Ok(d) => d,
            Err(e) => {
                let peer = sa.peer;
                sa.state = State::MmNoState;
                self.record_failure(out, peer, Some(sa), FailureReason::Protocol(e.to_string()));
                return;
            }
        };
        let sa_payload = proposal::p1_sa(&policies).emit();
        sa.sai_b = sa_payload.clone();
        sa.gxi = dh.public_value().to_vec();
        sa.dh = Some(dh);
        sa.ni = self.random_bytes(NONCE_LEN);
        let mut chain = Chain::new();
        chain
            .push(pt::SA, sa_payload)
            .push(pt::KE, sa.gxi.clone())
            .push(pt::NONCE, sa.ni.clone())
            .push(pt::ID, self.own_id().emit());
        nat_t::push_vids(&mut chain, cfg);
        let data = Self::plain(sa, xt::AGGRESSIVE, 0, &chain);
        self.send_request(out, sa, now, data, None);
    }

    pub(super) fn am_handle(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        dg: [u8; 20],
        out: &mut Vec<Output>,
    ) -> bool {
        let res = match (sa.role, sa.state) {
            (Role::Responder, State::AmWaitMsg3) if sa.keys.is_none() => {
                self.am_recv_1(now, sa, hdr, data, out)
            }
            (Role::Initiator, State::AmWaitMsg2) => self.am_recv_2(now, sa, hdr, data, out),
            (Role::Responder, State::AmWaitMsg3) => self.am_recv_3(now, sa, hdr, data, out),
            (_, st) => {
                debug!(peer = %sa.peer, state = %st, "aggressive mode message not expected; ignored");
                return true;
            }
        };
        match res {
            Ok(()) => {
                sa.last_rx = Some(dg);
                true
            }
            // A message that fails authentication may be forged or
            // damaged: record why, but keep waiting for a genuine one (the
            // half-open timeout or the retransmission limit ends it).
            Err(Some(reason @ FailureReason::AuthFailed(_))) => {
                if sa.failure.as_deref() != Some(reason.text()) {
                    let peer = sa.peer;
                    self.record_failure(out, peer, Some(sa), reason);
                }
                true
            }
            Err(Some(reason)) => {
                let peer = sa.peer;
                self.record_failure(out, peer, Some(sa), reason);
                false
            }
            Err(None) => true,
        }
    }

    fn am_recv_1(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), Option<FailureReason>> {
        let msg = Self::plain_msg(hdr, data)?;
        let bad = |w: &str| {
            Some(FailureReason::Protocol(format!(
                "aggressive mode message 1: {w}"
            )))
        };
        let sa_b = msg.first(pt::SA).ok_or_else(|| bad("no SA"))?;
        let offered = SaPayload::parse(sa_b).map_err(|e| bad(&e.to_string()))?;
        let ke = msg.first(pt::KE).ok_or_else(|| bad("no KE"))?;
        let ni = msg.first(pt::NONCE).ok_or_else(|| bad("no nonce"))?;
        check_nonce(ni)?;
        let idii_b = msg.first(pt::ID).ok_or_else(|| bad("no ID"))?.to_vec();
        let cfg = self.peer_config(sa.peer).ok_or(None)?;
        let choice = proposal::choose_p1(&cfg.policies, &offered)
            .map_err(|r| Some(FailureReason::NoPolicyMatch(r)))?;
        nat_t::read_vids(sa, &msg, cfg);
        let force = cfg.force_encap;
        sa.sai_b = sa_b.to_vec();
        sa.peer_id_b = idii_b;
        sa.policy = Some(choice.policy);
        sa.lifetime_s = choice.lifetime_s;
        sa.gxi = ke.to_vec();
        sa.ni = ni.to_vec();
        let dh =
            DhPrivate::generate(choice.policy.group, &self.rng).map_err(|e| bad(&e.to_string()))?;
        sa.gxr = dh.public_value().to_vec();
        let gxy = dh.agree(ke).map_err(|e| bad(&e.to_string()))?;
        sa.nr = self.random_bytes(NONCE_LEN);
        self.derive_phase1(sa, gxy.as_bytes())?;
        let idir_b = self.own_id().emit();
        let keys = sa.keys.as_ref().ok_or(None)?;
        let hash_r = keys.hash_r(
            &sa.gxi,
            &sa.gxr,
            &sa.icookie,
            &sa.rcookie,
            &sa.sai_b,
            &idir_b,
        );
        let mut reply = SaPayload {
            proposals: offered
                .proposals
                .iter()
                .filter(|p| p.protocol == 1)
                .take(1)
                .cloned()
                .collect(),
        };
        if let Some(p) = reply.proposals.first_mut() {
            p.transforms = vec![choice.transform.clone()];
        }
        let mut chain = Chain::new();
        chain
            .push(pt::SA, reply.emit())
            .push(pt::KE, sa.gxr.clone())
            .push(pt::NONCE, sa.nr.clone())
            .push(pt::ID, idir_b);
        if choice.shortened {
            chain.push(
                pt::NOTIFY,
                responder_lifetime_p1(sa, choice.lifetime_s).emit(),
            );
        }
        if let Some(cfg) = self.peer_config(sa.peer) {
            nat_t::push_vids(&mut chain, cfg);
        }
        self.push_natd(&mut chain, sa, Prf::new(choice.policy.hash), force);
        chain.push(pt::HASH, hash_r.to_vec());
        let data = Self::plain(sa, xt::AGGRESSIVE, 0, &chain);
        sa.last_reply = Some(data.clone());
        // the responder retransmits AM2 until AM3 arrives
        self.send_request(out, sa, now, data, None);
        Ok(())
    }

    fn am_recv_2(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), Option<FailureReason>> {
        let msg = Self::plain_msg(hdr, data)?;
        let bad = |w: &str| {
            Some(FailureReason::Protocol(format!(
                "aggressive mode message 2: {w}"
            )))
        };
        let cfg = self.peer_config(sa.peer).ok_or(None)?;
        let chosen = SaPayload::parse(msg.first(pt::SA).ok_or_else(|| bad("no SA"))?)
            .map_err(|e| bad(&e.to_string()))?;
        let t = chosen
            .proposals
            .first()
            .and_then(|p| p.transforms.first())
            .ok_or_else(|| bad("no transform"))?;
        let offer = proposal::decode_p1(t);
        let policy = cfg
            .policies
            .iter()
            .find(|p| {
                Some(p.encryption) == offer.encryption
                    && Some(p.hash) == offer.hash
                    && Some(p.group) == offer.group
                    && Some(p.auth) == offer.auth
            })
            .copied()
            .ok_or_else(|| bad(&format!("peer chose {offer}, which we did not offer")))?;
        let ke = msg.first(pt::KE).ok_or_else(|| bad("no KE"))?;
        let nr = msg.first(pt::NONCE).ok_or_else(|| bad("no nonce"))?;
        check_nonce(nr)?;
        let idir_b = msg.first(pt::ID).ok_or_else(|| bad("no ID"))?.to_vec();
        let hash = msg.first(pt::HASH).ok_or_else(|| bad("no HASH"))?.to_vec();
        nat_t::read_vids(sa, &msg, cfg);
        let force = cfg.force_encap;
        sa.policy = Some(policy);
        sa.lifetime_s = offer
            .lifetime_s
            .unwrap_or(policy.lifetime_s)
            .min(policy.lifetime_s);
        if let Some(l) = responder_lifetime(&msg, 1, p1::LIFE_TYPE, p1::LIFE_DURATION) {
            sa.lifetime_s = sa.lifetime_s.min(l);
        }
        let dh = sa.dh.take().ok_or(None)?;
        let gxy = dh.agree(ke).map_err(|e| bad(&e.to_string()))?;
        sa.gxr = ke.to_vec();
        sa.nr = nr.to_vec();
        self.derive_phase1(sa, gxy.as_bytes())?;
        let keys = sa.keys.as_ref().ok_or(None)?;
        let want = keys.hash_r(
            &sa.gxi,
            &sa.gxr,
            &sa.icookie,
            &sa.rcookie,
            &sa.sai_b,
            &idir_b,
        );
        if !bool::from(want.as_slice().ct_eq(&hash)) {
            return Err(Some(FailureReason::AuthFailed(format!(
                "pre-shared key mismatch (the peer's HASH_R did not verify; check the tunnel-group {} pre-shared-key)",
                sa.peer
            ))));
        }
        let prf = Prf::new(policy.hash);
        let (from, to) = (sa.remote, sa.local);
        nat_t::check_natd(sa, &msg, prf, from, to);
        self.float_if_nat(sa);
        sa.send_initial_contact = !self.runtime.get(&sa.peer).is_some_and(|r| r.contacted);
        let idii_b = self.own_id().emit();
        let keys = sa.keys.as_ref().ok_or(None)?;
        let hash_i = keys.hash_i(
            &sa.gxi,
            &sa.gxr,
            &sa.icookie,
            &sa.rcookie,
            &sa.sai_b,
            &idii_b,
        );
        let mut chain = Chain::new();
        chain.push(pt::HASH, hash_i.to_vec());
        self.push_natd(&mut chain, sa, prf, force);
        if sa.send_initial_contact {
            chain.push(
                pt::NOTIFY,
                NotifyPayload {
                    protocol: 1,
                    ntype: nt::INITIAL_CONTACT,
                    spi: sa.spi_bytes(),
                    data: vec![],
                }
                .emit(),
            );
        }
        let (data, iv) = Self::sealed(sa, xt::AGGRESSIVE, 0, &chain, &sa.iv).ok_or(None)?;
        sa.iv = iv;
        sa.state = State::AmActive;
        sa.retransmit = None;
        // AM3 is the last message: a retransmitted AM2 gets it again
        sa.last_reply = Some(data.clone());
        Self::send(out, sa, data);
        self.phase1_done(now, sa, out);
        // AM3 and QM1 leave back to back, and a peer may process QM1 first
        // (strongSwan queues them to different threads and then logs
        // "ignoring QUICK_MODE request while phase 1 is incomplete"). Send
        // QM1 again soon instead of after the full retransmission interval,
        // which would cost the held first packets of the flow.
        for t in sa.quick.values_mut().filter(|t| t.role == Role::Initiator) {
            if let Some(r) = t.retransmit.as_mut() {
                r.next = r.next.min(now + QM_AFTER_AM3_RETRANSMIT);
            }
        }
        Ok(())
    }

    fn am_recv_3(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), Option<FailureReason>> {
        let mismatch = || {
            Some(FailureReason::AuthFailed(format!(
                "pre-shared key mismatch (the peer's HASH_I did not verify; check the tunnel-group {} pre-shared-key)",
                sa.peer
            )))
        };
        let (msg, next_iv) = if hdr.encrypted() {
            Self::open(sa, hdr, data, &sa.iv).map_err(|_| mismatch())?
        } else {
            (Self::plain_msg(hdr, data)?, sa.iv.clone())
        };
        let hash = msg.first(pt::HASH).ok_or_else(mismatch)?;
        let idii_b = sa.peer_id_b.clone();
        let keys = sa.keys.as_ref().ok_or(None)?;
        let want = keys.hash_i(
            &sa.gxi,
            &sa.gxr,
            &sa.icookie,
            &sa.rcookie,
            &sa.sai_b,
            &idii_b,
        );
        if !bool::from(want.as_slice().ct_eq(hash)) {
            return Err(mismatch());
        }
        sa.iv = next_iv;
        if let Some(policy) = sa.policy {
            let (from, to) = (sa.remote, sa.local);
            nat_t::check_natd(sa, &msg, Prf::new(policy.hash), from, to);
        }
        let ic = msg
            .all(pt::NOTIFY)
            .filter_map(|n| NotifyPayload::parse(n).ok())
            .any(|n| n.ntype == nt::INITIAL_CONTACT);
        sa.state = State::AmActive;
        sa.retransmit = None;
        sa.last_reply = None;
        if ic {
            self.initial_contact(now, sa.peer, sa.id, out);
        }
        self.phase1_done(now, sa, out);
        Ok(())
    }
}
