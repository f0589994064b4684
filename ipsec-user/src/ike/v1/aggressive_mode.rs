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

use tracing::debug;

use super::engine::{Engine, FailureReason, Output};
use super::exchange::{check_nonce, hash_matches};
use super::message::{Chain, Header, SaPayload, pt, xt};
use super::nat_t;
use super::phase1::{
    accept_p1_answer, has_initial_contact, hash_mismatch, no_key, no_usable_policy, p1_answer,
    push_initial_contact, push_responder_lifetime,
};
use super::proposal;
use super::sa::{IkeSa, Role, State};
use crate::ike::crypto::{DhPrivate, Prf};

/// When the quick mode started right after AM3 is first sent again.
const QM_AFTER_AM3_RETRANSMIT: std::time::Duration = std::time::Duration::from_millis(250);

/// The failure for a malformed aggressive mode message `number`.
fn malformed(number: u8) -> impl Fn(&str) -> Option<FailureReason> {
    move |what| {
        Some(FailureReason::Protocol(format!(
            "aggressive mode message {number}: {what}"
        )))
    }
}

impl Engine {
    pub(super) fn am_send_1(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        let Some(cfg) = self.peer_config(sa.peer) else {
            return;
        };
        let Some(group) = cfg
            .policies
            .iter()
            .find(|p| proposal::usable_p1(p))
            .map(|p| p.group)
        else {
            let r = FailureReason::NoPolicyMatch(no_usable_policy(sa.peer, &cfg.policies));
            self.phase1_cannot_start(sa, r, out);
            return;
        };
        if cfg.psk_for(sa.peer).is_empty() {
            self.phase1_cannot_start(sa, no_key(sa.peer), out);
            return;
        }
        let policies: Vec<_> = cfg
            .policies
            .iter()
            .filter(|p| p.group == group && proposal::usable_p1(p))
            .copied()
            .collect();
        let dh = match DhPrivate::generate(group, &self.rng) {
            Ok(d) => d,
            Err(e) => {
                self.phase1_cannot_start(sa, FailureReason::Protocol(e.to_string()), out);
                return;
            }
        };
        let sa_payload = proposal::p1_sa(&policies).emit();
        sa.sai_b = sa_payload.clone();
        self.initiator_ke_nonce(sa, dh);
        let mut chain = Chain::new();
        chain
            .push(pt::SA, sa_payload)
            .push(pt::KE, sa.gxi.clone())
            .push(pt::NONCE, sa.ni.clone())
            .push(pt::ID, self.own_id().emit());
        nat_t::push_vids(&mut chain, cfg, sa.peer);
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
        self.phase1_step_outcome(sa, res, dg, out)
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
        let bad = malformed(1);
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
        self.responder_key_exchange(sa, choice.policy.group, ke, ni, |_, e| bad(&e.to_string()))?;
        let idir_b = self.own_id().emit();
        let hash_r = sa.hash_r(&idir_b).ok_or(None)?;
        let mut chain = Chain::new();
        chain
            .push(pt::SA, p1_answer(&offered, &choice).emit())
            .push(pt::KE, sa.gxr.clone())
            .push(pt::NONCE, sa.nr.clone())
            .push(pt::ID, idir_b);
        push_responder_lifetime(&mut chain, sa, &choice);
        if let Some(cfg) = self.peer_config(sa.peer) {
            nat_t::push_vids(&mut chain, cfg, sa.peer);
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
        let bad = malformed(2);
        let cfg = self.peer_config(sa.peer).ok_or(None)?;
        let chosen = SaPayload::parse(msg.first(pt::SA).ok_or_else(|| bad("no SA"))?)
            .map_err(|e| bad(&e.to_string()))?;
        let t = chosen
            .proposals
            .first()
            .and_then(|p| p.transforms.first())
            .ok_or_else(|| bad("no transform"))?;
        let (policy, lifetime_s) = accept_p1_answer(&cfg.policies, t, &msg).map_err(|e| bad(&e))?;
        let ke = msg.first(pt::KE).ok_or_else(|| bad("no KE"))?;
        let nr = msg.first(pt::NONCE).ok_or_else(|| bad("no nonce"))?;
        check_nonce(nr)?;
        let idir_b = msg.first(pt::ID).ok_or_else(|| bad("no ID"))?.to_vec();
        let hash = msg.first(pt::HASH).ok_or_else(|| bad("no HASH"))?.to_vec();
        nat_t::read_vids(sa, &msg, cfg);
        let force = cfg.force_encap;
        sa.policy = Some(policy);
        sa.lifetime_s = lifetime_s;
        self.initiator_key_exchange(sa, ke, nr, |e| bad(&e.to_string()))?;
        let want = sa.hash_r(&idir_b).ok_or(None)?;
        if !hash_matches(&want, &hash) {
            return Err(Some(hash_mismatch(sa, "HASH_R")));
        }
        let prf = Prf::new(policy.hash);
        self.initiator_nat_and_contact(sa, &msg, prf);
        let idii_b = self.own_id().emit();
        let hash_i = sa.hash_i(&idii_b).ok_or(None)?;
        let mut chain = Chain::new();
        chain.push(pt::HASH, hash_i.to_vec());
        self.push_natd(&mut chain, sa, prf, force);
        push_initial_contact(&mut chain, sa);
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
        let mismatch = || Some(hash_mismatch(sa, "HASH_I"));
        let (msg, next_iv) = if hdr.encrypted() {
            Self::open(sa, hdr, data, &sa.iv).map_err(|_| mismatch())?
        } else {
            (Self::plain_msg(hdr, data)?, sa.iv.clone())
        };
        let hash = msg.first(pt::HASH).ok_or_else(mismatch)?;
        let want = sa.hash_i(&sa.peer_id_b).ok_or(None)?;
        if !hash_matches(&want, hash) {
            return Err(mismatch());
        }
        sa.iv = next_iv;
        if let Some(policy) = sa.policy {
            nat_t::check_natd(sa, &msg, Prf::new(policy.hash));
        }
        let ic = has_initial_contact(&msg);
        sa.state = State::AmActive;
        sa.retransmit = None;
        sa.last_reply = None;
        if ic {
            self.initial_contact(now, sa, out);
        }
        self.phase1_done(now, sa, out);
        Ok(())
    }
}
