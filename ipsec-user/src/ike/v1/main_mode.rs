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

use std::net::SocketAddrV4;
use std::time::Instant;

use subtle::ConstantTimeEq;
use tracing::{debug, warn};

use super::engine::{Engine, FailureReason, Output};
use super::message::{
    Chain, HEADER_LEN, Header, ID_IPV4_ADDR, IdPayload, Message, NotifyPayload, SaPayload, nt, pt,
    xt,
};
use super::nat_t;
use super::proposal::{self, p1};
use super::sa::{IkeSa, Role, State};
use crate::ike::crypto::keys::{Phase1Inputs, phase1_iv};
use crate::ike::crypto::{DhPrivate, Phase1Cipher, Phase1Keys, cipher};

pub(super) const NONCE_LEN: usize = 32;

impl Engine {
    pub(super) fn mm_send_1(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        let Some(cfg) = self.peer_config(sa.peer) else {
            return;
        };
        let usable: Vec<_> = cfg
            .policies
            .iter()
            .filter(|p| crate::ike::crypto::dh::is_supported(p.group))
            .copied()
            .collect();
        if usable.is_empty() {
            let r = FailureReason::NoPolicyMatch(no_usable_policy(sa.peer, &cfg.policies));
            let peer = sa.peer;
            sa.state = State::MmNoState;
            self.record_failure(out, peer, Some(sa), r);
            return;
        }
        let sa_payload = proposal::p1_sa(&usable).emit();
        let mut chain = Chain::new();
        chain.push(pt::SA, sa_payload.clone());
        nat_t::push_vids(&mut chain, cfg);
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
            // dropped without killing the SA (e.g. garbage)
            Err(None) => true,
        }
    }

    pub(super) fn plain_msg(hdr: &Header, data: &[u8]) -> Result<Message, Option<FailureReason>> {
        if hdr.encrypted() {
            return Err(None);
        }
        let body = data
            .get(HEADER_LEN..hdr.length as usize)
            .unwrap_or_default()
            .to_vec();
        Message::parse_plain(*hdr, body).map_err(|e| {
            Some(FailureReason::Protocol(format!(
                "malformed message from the peer: {e}"
            )))
        })
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
        chain.push(pt::SA, reply.emit());
        if choice.shortened {
            chain.push(
                pt::NOTIFY,
                responder_lifetime_p1(sa, choice.lifetime_s).emit(),
            );
        }
        nat_t::push_vids(&mut chain, cfg);
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
            .ok_or_else(|| {
                Some(FailureReason::Protocol(format!(
                    "peer chose {offer}, which we did not offer"
                )))
            })?;
        sa.policy = Some(policy);
        sa.lifetime_s = offer
            .lifetime_s
            .unwrap_or(policy.lifetime_s)
            .min(policy.lifetime_s);
        if let Some(l) = responder_lifetime(&msg, 1, p1::LIFE_TYPE, p1::LIFE_DURATION) {
            sa.lifetime_s = sa.lifetime_s.min(l);
        }
        nat_t::read_vids(sa, &msg, cfg);
        let dh = DhPrivate::generate(policy.group, &self.rng)
            .map_err(|e| Some(FailureReason::Protocol(e.to_string())))?;
        sa.gxi = dh.public_value().to_vec();
        sa.dh = Some(dh);
        sa.ni = self.random_bytes(NONCE_LEN);
        let mut chain = Chain::new();
        chain
            .push(pt::KE, sa.gxi.clone())
            .push(pt::NONCE, sa.ni.clone());
        let force = cfg.force_encap;
        self.push_natd(
            &mut chain,
            sa,
            crate::ike::crypto::Prf::new(policy.hash),
            force,
        );
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
        let ke = msg.first(pt::KE).ok_or_else(|| {
            Some(FailureReason::Protocol(
                "main mode message 3 without KE".into(),
            ))
        })?;
        let ni = msg.first(pt::NONCE).ok_or_else(|| {
            Some(FailureReason::Protocol(
                "main mode message 3 without nonce".into(),
            ))
        })?;
        check_nonce(ni)?;
        sa.gxi = ke.to_vec();
        sa.ni = ni.to_vec();
        let dh = DhPrivate::generate(policy.group, &self.rng)
            .map_err(|e| Some(FailureReason::Protocol(e.to_string())))?;
        sa.gxr = dh.public_value().to_vec();
        let gxy = dh
            .agree(ke)
            .map_err(|e| Some(FailureReason::Protocol(format!("peer's key exchange: {e}"))))?;
        sa.nr = self.random_bytes(NONCE_LEN);
        self.derive_phase1(sa, gxy.as_bytes())?;
        let prf = crate::ike::crypto::Prf::new(policy.hash);
        let (from, to) = (sa.remote, sa.local);
        nat_t::check_natd(sa, &msg, prf, from, to);
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

    /// SKEYID chain, cipher and first IV, once g^xy and both nonces exist.
    pub(super) fn derive_phase1(
        &self,
        sa: &mut IkeSa,
        gxy: &[u8],
    ) -> Result<(), Option<FailureReason>> {
        let policy = sa.policy.ok_or(None)?;
        let cfg = self.peer_config(sa.peer).ok_or(None)?;
        let inputs = Phase1Inputs {
            ni_b: &sa.ni,
            nr_b: &sa.nr,
            gxy,
            cky_i: &sa.icookie,
            cky_r: &sa.rcookie,
        };
        let keys = Phase1Keys::derive_psk(policy.hash, policy.encryption, &cfg.psk, &inputs);
        let c = Phase1Cipher::new(policy.encryption, &keys.enc_key)
            .map_err(|e| Some(FailureReason::Protocol(e.to_string())))?;
        sa.iv = phase1_iv(
            policy.hash,
            &sa.gxi,
            &sa.gxr,
            cipher::block_size(policy.encryption),
        );
        sa.keys = Some(keys);
        sa.cipher = Some(c);
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
        let ke = msg.first(pt::KE).ok_or_else(|| {
            Some(FailureReason::Protocol(
                "main mode message 4 without KE".into(),
            ))
        })?;
        let nr = msg.first(pt::NONCE).ok_or_else(|| {
            Some(FailureReason::Protocol(
                "main mode message 4 without nonce".into(),
            ))
        })?;
        check_nonce(nr)?;
        let dh = sa.dh.take().ok_or(None)?;
        let gxy = dh
            .agree(ke)
            .map_err(|e| Some(FailureReason::Protocol(format!("peer's key exchange: {e}"))))?;
        sa.gxr = ke.to_vec();
        sa.nr = nr.to_vec();
        self.derive_phase1(sa, gxy.as_bytes())?;
        let prf = crate::ike::crypto::Prf::new(policy.hash);
        let (from, to) = (sa.remote, sa.local);
        nat_t::check_natd(sa, &msg, prf, from, to);
        self.float_if_nat(sa);
        sa.send_initial_contact = !self.runtime.get(&sa.peer).is_some_and(|r| r.contacted);
        let id = self.own_id();
        let idii_b = id.emit();
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
        chain.push(pt::ID, idii_b).push(pt::HASH, hash_i.to_vec());
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
        let (data, iv) = Self::sealed(sa, xt::MAIN, 0, &chain, &sa.iv).ok_or(None)?;
        sa.iv = iv;
        sa.state = State::MmWaitMsg6;
        self.send_request(out, sa, now, data, None);
        Ok(())
    }

    pub(super) fn own_id(&self) -> IdPayload {
        IdPayload {
            id_type: ID_IPV4_ADDR,
            protocol: 0,
            port: 0,
            data: self.local.address.octets().to_vec(),
        }
    }

    /// The initiator moves to port 4500 when a NAT was detected or when we
    /// force encapsulation ourselves.
    pub(super) fn float_if_nat(&self, sa: &mut IkeSa) {
        let force = self.peer_config(sa.peer).is_some_and(|c| c.force_encap);
        if sa.nat.negotiated
            && (sa.nat.local_behind_nat || sa.nat.remote_behind_nat || force)
            && !sa.nat.floated
        {
            sa.nat.floated = true;
            sa.local = SocketAddrV4::new(self.local.address, self.local.natt_port);
            sa.remote = SocketAddrV4::new(*sa.remote.ip(), 4500);
        }
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
            return Err(Some(FailureReason::AuthFailed(format!(
                "pre-shared key mismatch (the peer's HASH_I did not verify; check the tunnel-group {} pre-shared-key)",
                sa.peer
            ))));
        }
        sa.iv = next_iv;
        let ic = msg
            .all(pt::NOTIFY)
            .filter_map(|n| NotifyPayload::parse(n).ok())
            .any(|n| n.ntype == nt::INITIAL_CONTACT);
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
        let mut chain = Chain::new();
        chain.push(pt::ID, idir_b).push(pt::HASH, hash_r.to_vec());
        let (reply, iv) = Self::sealed(sa, xt::MAIN, 0, &chain, &sa.iv).ok_or(None)?;
        sa.iv = iv;
        sa.state = State::MmActive;
        sa.last_reply = Some(reply.clone());
        Self::send(out, sa, reply);
        if ic {
            self.initial_contact(now, sa.peer, sa.id, out);
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
        let mismatch = || {
            Some(FailureReason::AuthFailed(format!(
                "pre-shared key mismatch (the peer's HASH_R did not verify; check the tunnel-group {} pre-shared-key)",
                sa.peer
            )))
        };
        let (msg, next_iv) = Self::open(sa, hdr, data, &sa.iv).map_err(|_| mismatch())?;
        let idir_b = msg.first(pt::ID).ok_or_else(mismatch)?;
        let hash = msg.first(pt::HASH).ok_or_else(mismatch)?;
        let keys = sa.keys.as_ref().ok_or(None)?;
        let want = keys.hash_r(
            &sa.gxi,
            &sa.gxr,
            &sa.icookie,
            &sa.rcookie,
            &sa.sai_b,
            idir_b,
        );
        if !bool::from(want.as_slice().ct_eq(hash)) {
            return Err(mismatch());
        }
        sa.iv = next_iv;
        sa.state = State::MmActive;
        sa.retransmit = None;
        self.phase1_done(now, sa, out);
        Ok(())
    }
}

fn psk_mismatch_5(sa: &IkeSa) -> FailureReason {
    FailureReason::AuthFailed(format!(
        "pre-shared key mismatch (message 5 from {} decrypted to garbage; check the tunnel-group pre-shared-key)",
        sa.peer
    ))
}

pub(super) fn check_nonce(n: &[u8]) -> Result<(), Option<FailureReason>> {
    if !(8..=256).contains(&n.len()) {
        return Err(Some(FailureReason::Protocol(format!(
            "peer's nonce has {} bytes (RFC 2409 allows 8 to 256)",
            n.len()
        ))));
    }
    Ok(())
}

/// RESPONDER-LIFETIME for phase 1 (protocol ISAKMP, SPI = the cookies).
pub(super) fn responder_lifetime_p1(sa: &IkeSa, seconds: u32) -> NotifyPayload {
    let mut data = Vec::new();
    data.extend_from_slice(&(0x8000u16 | p1::LIFE_TYPE).to_be_bytes());
    data.extend_from_slice(&1u16.to_be_bytes());
    data.extend_from_slice(&p1::LIFE_DURATION.to_be_bytes());
    data.extend_from_slice(&4u16.to_be_bytes());
    data.extend_from_slice(&seconds.to_be_bytes());
    NotifyPayload {
        protocol: 1,
        ntype: nt::RESPONDER_LIFETIME,
        spi: sa.spi_bytes(),
        data,
    }
}

/// The seconds of a RESPONDER-LIFETIME notify for `protocol`, if present.
pub(super) fn responder_lifetime(
    msg: &Message,
    protocol: u8,
    type_attr: u16,
    dur_attr: u16,
) -> Option<u32> {
    let n = msg
        .all(pt::NOTIFY)
        .filter_map(|b| NotifyPayload::parse(b).ok())
        .find(|n| n.ntype == nt::RESPONDER_LIFETIME && n.protocol == protocol)?;
    let attrs = super::message::parse_attrs(&n.data).ok()?;
    let mut seconds = None;
    let mut cur = None;
    for a in &attrs {
        if a.atype == type_attr {
            cur = Some(a.value);
        } else if a.atype == dur_attr && cur == Some(1) {
            seconds = Some(a.value.min(u32::MAX as u64) as u32);
        }
    }
    seconds
}

/// Why we cannot start phase 1 with these policies.
pub(super) fn no_usable_policy(
    peer: std::net::Ipv4Addr,
    policies: &[super::config::IsakmpPolicy],
) -> String {
    if policies.is_empty() {
        format!("no ISAKMP policy configured for peer {peer}")
    } else {
        format!(
            "no usable ISAKMP policy for peer {peer}: {} (Diffie-Hellman group 21 / P-521 is not supported by this build)",
            policies
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
