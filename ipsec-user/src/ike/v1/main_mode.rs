//! Main mode (RFC 2409 section 5, pre-shared key): six messages.
//!
//! ```text
//! I MM1: SA, VIDs                 -> R (MM_WAIT_MSG3)
//! I (MM_WAIT_MSG2)                <- R MM2: SA, VIDs
//! I MM3: KE, Ni, NAT-D x2         -> R (MM_WAIT_MSG5) derives keys
//! I (MM_WAIT_MSG4) derives keys   <- R MM4: KE, Nr, NAT-D x2
//! I MM5*: IDii, HASH_I [, IC]     -> R (MM_ACTIVE), port 4500 if NAT
//! I (MM_WAIT_MSG6 -> MM_ACTIVE)   <- R MM6*: IDir, HASH_R
//! ```

use std::time::Instant;

use tracing::{debug, warn};

use super::engine::{Engine, FailureReason, Output};
use super::exchange::{check_nonce, hash_matches};
use super::message::{Chain, Header, Message, NotifyPayload, SaPayload, nt, pt, xt};
use super::nat_t;
use super::phase1::{
    DhStep, accept_p1_answer, has_initial_contact, hash_mismatch, no_key, no_usable_policy,
    p1_answer, push_initial_contact, push_responder_lifetime,
};
use super::proposal;
use super::sa::{IkeSa, Role, State};
use crate::ike::crypto::{DhPrivate, Prf};

impl Engine {
    pub(super) fn mm_send_1(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        let Some(cfg) = self.peer_config(sa.peer) else {
            return;
        };
        let usable: Vec<_> = cfg
            .policies
            .iter()
            .filter(|p| proposal::usable_p1(p))
            .copied()
            .collect();
        if usable.is_empty() {
            let r = FailureReason::NoPolicyMatch(no_usable_policy(sa.peer, &cfg.policies));
            self.phase1_cannot_start(sa, r, out);
            return;
        }
        if cfg.psk_for(sa.peer).is_empty() {
            self.phase1_cannot_start(sa, no_key(sa.peer), out);
            return;
        }
        let sa_payload = proposal::p1_sa(&usable).emit();
        let mut chain = Chain::new();
        chain.push(pt::SA, sa_payload.clone());
        nat_t::push_vids(&mut chain, cfg, sa.peer);
        sa.sai_b = sa_payload;
        let data = Self::plain(sa, xt::MAIN, 0, &chain);
        self.send_request(out, sa, now, data, None);
    }

    /// Returns false when the SA must be forgotten.
    pub(super) fn mm_handle(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        dg: [u8; 20],
        out: &mut Vec<Output>,
    ) -> bool {
        let res = match (sa.role, sa.state) {
            (Role::Responder, State::MmNoState) => self.mm_recv_1(now, sa, hdr, data, out),
            (Role::Initiator, State::MmWaitMsg2) => self.mm_recv_2(now, sa, hdr, data, out),
            (Role::Responder, State::MmWaitMsg3) => self.mm_recv_3(sa, hdr, data, out),
            (Role::Initiator, State::MmWaitMsg4) => self.mm_recv_4(now, sa, hdr, data, out),
            (Role::Responder, State::MmWaitMsg5) => self.mm_recv_5(now, sa, hdr, data, out),
            (Role::Initiator, State::MmWaitMsg6) => self.mm_recv_6(now, sa, hdr, data, out),
            (_, st) => {
                debug!(peer = %sa.peer, sa = sa.id, state = %st, "main mode message not expected in this state; ignored");
                return true;
            }
        };
        self.phase1_step_outcome(sa, res, dg, out)
    }

    fn mm_recv_1(
        &mut self,
        _now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), Option<FailureReason>> {
        let msg = Self::plain_msg(hdr, data)?;
        let sa_b = msg.first(pt::SA).ok_or_else(|| {
            Some(FailureReason::Protocol(
                "main mode message 1 without SA payload".into(),
            ))
        })?;
        let offered = SaPayload::parse(sa_b)
            .map_err(|e| Some(FailureReason::Protocol(format!("peer's SA payload: {e}"))))?;
        let cfg = self.peer_config(sa.peer).ok_or(None)?;
        let choice = match proposal::choose_p1(&cfg.policies, &offered) {
            Ok(c) => c,
            Err(reason) => {
                // tell the peer, unencrypted (no keys yet)
                let n = NotifyPayload {
                    protocol: 1,
                    ntype: nt::NO_PROPOSAL_CHOSEN,
                    spi: sa.spi_bytes(),
                    data: vec![],
                };
                let mut chain = Chain::new();
                chain.push(pt::NOTIFY, n.emit());
                let mid = self.new_mid();
                Self::send(out, sa, Self::plain(sa, xt::INFORMATIONAL, mid, &chain));
                return Err(Some(FailureReason::NoPolicyMatch(reason)));
            }
        };
        nat_t::read_vids(sa, &msg, cfg);
        sa.sai_b = sa_b.to_vec();
        sa.policy = Some(choice.policy);
        sa.lifetime_s = choice.lifetime_s;
        let mut chain = Chain::new();
        chain.push(pt::SA, p1_answer(&offered, &choice).emit());
        push_responder_lifetime(&mut chain, sa, &choice);
        nat_t::push_vids(&mut chain, cfg, sa.peer);
        let data = Self::plain(sa, xt::MAIN, 0, &chain);
        sa.state = State::MmWaitMsg3;
        sa.last_reply = Some(data.clone());
        Self::send(out, sa, data);
        debug!(peer = %sa.peer, sa = sa.id, policy = choice.policy.priority, "main mode: policy chosen");
        Ok(())
    }

    fn mm_recv_2(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), Option<FailureReason>> {
        let msg = Self::plain_msg(hdr, data)?;
        let sa_b = msg.first(pt::SA).ok_or(None)?;
        let chosen = SaPayload::parse(sa_b)
            .map_err(|e| Some(FailureReason::Protocol(format!("peer's SA payload: {e}"))))?;
        let cfg = self.peer_config(sa.peer).ok_or(None)?;
        let t = chosen
            .proposals
            .first()
            .and_then(|p| p.transforms.first())
            .ok_or_else(|| Some(FailureReason::Protocol("peer's SA has no transform".into())))?;
        let (policy, lifetime_s) = accept_p1_answer(&cfg.policies, t, &msg)
            .map_err(|e| Some(FailureReason::Protocol(e)))?;
        sa.policy = Some(policy);
        sa.lifetime_s = lifetime_s;
        nat_t::read_vids(sa, &msg, cfg);
        let dh = DhPrivate::generate(policy.group, &self.rng)
            .map_err(|e| Some(FailureReason::Protocol(e.to_string())))?;
        self.initiator_ke_nonce(sa, dh);
        let mut chain = Chain::new();
        chain
            .push(pt::KE, sa.gxi.clone())
            .push(pt::NONCE, sa.ni.clone());
        let force = cfg.force_encap;
        self.push_natd(&mut chain, sa, Prf::new(policy.hash), force);
        let data = Self::plain(sa, xt::MAIN, 0, &chain);
        sa.state = State::MmWaitMsg4;
        self.send_request(out, sa, now, data, None);
        Ok(())
    }

    fn mm_recv_3(
        &mut self,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), Option<FailureReason>> {
        let msg = Self::plain_msg(hdr, data)?;
        let policy = sa.policy.ok_or(None)?;
        let (ke, ni) = ke_and_nonce(&msg, 3)?;
        self.responder_key_exchange(sa, policy.group, ke, ni, |step, e| {
            Some(FailureReason::Protocol(match step {
                DhStep::Generate => e.to_string(),
                DhStep::Agree => format!("peer's key exchange: {e}"),
            }))
        })?;
        let prf = Prf::new(policy.hash);
        nat_t::check_natd(sa, &msg, prf);
        let cfg = self.peer_config(sa.peer).ok_or(None)?;
        let force = cfg.force_encap;
        let mut chain = Chain::new();
        chain
            .push(pt::KE, sa.gxr.clone())
            .push(pt::NONCE, sa.nr.clone());
        self.push_natd(&mut chain, sa, prf, force);
        let data = Self::plain(sa, xt::MAIN, 0, &chain);
        sa.state = State::MmWaitMsg5;
        sa.last_reply = Some(data.clone());
        Self::send(out, sa, data);
        Ok(())
    }

    fn mm_recv_4(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), Option<FailureReason>> {
        let msg = Self::plain_msg(hdr, data)?;
        let policy = sa.policy.ok_or(None)?;
        let (ke, nr) = ke_and_nonce(&msg, 4)?;
        self.initiator_key_exchange(sa, ke, nr, |e| {
            Some(FailureReason::Protocol(format!("peer's key exchange: {e}")))
        })?;
        self.initiator_nat_and_contact(sa, &msg, Prf::new(policy.hash));
        let idii_b = self.own_id().emit();
        let hash_i = sa.hash_i(&idii_b).ok_or(None)?;
        let mut chain = Chain::new();
        chain.push(pt::ID, idii_b).push(pt::HASH, hash_i.to_vec());
        push_initial_contact(&mut chain, sa);
        let (data, iv) = Self::sealed(sa, xt::MAIN, 0, &chain, &sa.iv).ok_or(None)?;
        sa.iv = iv;
        sa.state = State::MmWaitMsg6;
        self.send_request(out, sa, now, data, None);
        Ok(())
    }

    fn mm_recv_5(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), Option<FailureReason>> {
        if !hdr.encrypted() {
            return Err(None);
        }
        let (msg, next_iv) = match Self::open(sa, hdr, data, &sa.iv) {
            Ok(v) => v,
            Err(e) => {
                warn!(peer = %sa.peer, error = %e, "main mode message 5 did not decrypt");
                return Err(Some(FailureReason::AuthFailed(format!(
                    "pre-shared key mismatch (message 5 from {} did not decrypt; check the tunnel-group pre-shared-key)",
                    sa.peer
                ))));
            }
        };
        let idii_b = msg
            .first(pt::ID)
            .ok_or_else(|| Some(psk_mismatch_5(sa)))?
            .to_vec();
        let hash = msg
            .first(pt::HASH)
            .ok_or_else(|| Some(psk_mismatch_5(sa)))?;
        let want = sa.hash_i(&idii_b).ok_or(None)?;
        if !hash_matches(&want, hash) {
            return Err(Some(hash_mismatch(sa, "HASH_I")));
        }
        sa.iv = next_iv;
        let ic = has_initial_contact(&msg);
        let idir_b = self.own_id().emit();
        let hash_r = sa.hash_r(&idir_b).ok_or(None)?;
        let mut chain = Chain::new();
        chain.push(pt::ID, idir_b).push(pt::HASH, hash_r.to_vec());
        let (reply, iv) = Self::sealed(sa, xt::MAIN, 0, &chain, &sa.iv).ok_or(None)?;
        sa.iv = iv;
        sa.state = State::MmActive;
        sa.last_reply = Some(reply.clone());
        Self::send(out, sa, reply);
        if ic {
            self.initial_contact(now, sa, out);
        }
        self.phase1_done(now, sa, out);
        Ok(())
    }

    fn mm_recv_6(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        out: &mut Vec<Output>,
    ) -> Result<(), Option<FailureReason>> {
        if !hdr.encrypted() {
            return Err(None);
        }
        let mismatch = || Some(hash_mismatch(sa, "HASH_R"));
        let (msg, next_iv) = Self::open(sa, hdr, data, &sa.iv).map_err(|_| mismatch())?;
        let idir_b = msg.first(pt::ID).ok_or_else(mismatch)?;
        let hash = msg.first(pt::HASH).ok_or_else(mismatch)?;
        let want = sa.hash_r(idir_b).ok_or(None)?;
        if !hash_matches(&want, hash) {
            return Err(mismatch());
        }
        sa.iv = next_iv;
        sa.state = State::MmActive;
        sa.retransmit = None;
        self.phase1_done(now, sa, out);
        Ok(())
    }
}

/// The KE and nonce of main mode message 3 or 4.
fn ke_and_nonce(msg: &Message, number: u8) -> Result<(&[u8], &[u8]), Option<FailureReason>> {
    let ke = msg.first(pt::KE).ok_or_else(|| {
        Some(FailureReason::Protocol(format!(
            "main mode message {number} without KE"
        )))
    })?;
    let nonce = msg.first(pt::NONCE).ok_or_else(|| {
        Some(FailureReason::Protocol(format!(
            "main mode message {number} without nonce"
        )))
    })?;
    check_nonce(nonce)?;
    Ok((ke, nonce))
}

fn psk_mismatch_5(sa: &IkeSa) -> FailureReason {
    FailureReason::AuthFailed(format!(
        "pre-shared key mismatch (message 5 from {} decrypted to garbage; check the tunnel-group pre-shared-key)",
        sa.peer
    ))
}
