//! Steps main mode and aggressive mode share (RFC 2409 section 5, pre-shared
//! key): the SA answer and its acceptance, the Diffie-Hellman exchange and
//! SKEYID derivation, HASH_I / HASH_R, NAT-D and port floating,
//! INITIAL-CONTACT, and what the outcome of a step does to the SA. Each
//! exchange module keeps its own order of messages and its own wording of
//! failures; only the steps themselves live here.

use std::net::SocketAddrV4;

use zeroize::Zeroizing;

use super::config::IsakmpPolicy;
use super::engine::{Engine, FailureReason, Output};
use super::exchange::{NONCE_LEN, responder_lifetime};
use super::message::{
    Chain, ID_IPV4_ADDR, IdPayload, Message, NotifyPayload, SaPayload, Transform, nt, pt,
};
use super::nat_t;
use super::proposal::{self, P1Choice, p1};
use super::sa::{IkeSa, State};
use crate::algo::{DhGroup, IkeAuth};
use crate::ike::crypto::keys::{Phase1Inputs, phase1_iv};
use crate::ike::crypto::{CryptoError, DhPrivate, Phase1Cipher, Phase1Keys, Prf, cipher};

/// Which half of a Diffie-Hellman exchange failed: main mode words the
/// two differently, so the caller maps each to its own failure.
pub(super) enum DhStep {
    Generate,
    Agree,
}

impl Engine {
    /// What the outcome of a phase-1 step does to the SA; false when the
    /// SA must be forgotten.
    pub(super) fn phase1_step_outcome(
        &mut self,
        sa: &mut IkeSa,
        res: Result<(), Option<FailureReason>>,
        dg: [u8; 20],
        out: &mut Vec<Output>,
    ) -> bool {
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
                    self.fail_sa(sa, reason, out);
                }
                true
            }
            Err(Some(reason)) => {
                self.fail_sa(sa, reason, out);
                false
            }
            // dropped without killing the SA (e.g. garbage)
            Err(None) => true,
        }
    }

    /// Phase 1 cannot start: record why, with the SA in MM_NO_STATE.
    pub(super) fn phase1_cannot_start(
        &mut self,
        sa: &mut IkeSa,
        reason: FailureReason,
        out: &mut Vec<Output>,
    ) {
        sa.state = State::MmNoState;
        self.fail_sa(sa, reason, out);
    }

    /// Initiator: our key pair and nonce, for the KE and Ni payloads.
    pub(super) fn initiator_ke_nonce(&self, sa: &mut IkeSa, dh: DhPrivate) {
        sa.gxi = dh.public_value().to_vec();
        sa.dh = Some(dh);
        sa.ni = self.random_bytes(NONCE_LEN);
    }

    /// Responder: take the initiator's KE and Ni, make our key pair and
    /// nonce, and derive the phase-1 keys.
    pub(super) fn responder_key_exchange(
        &self,
        sa: &mut IkeSa,
        group: DhGroup,
        ke: &[u8],
        ni: &[u8],
        fail: impl Fn(DhStep, CryptoError) -> Option<FailureReason>,
    ) -> Result<(), Option<FailureReason>> {
        sa.gxi = ke.to_vec();
        sa.ni = ni.to_vec();
        let dh = DhPrivate::generate(group, &self.rng).map_err(|e| fail(DhStep::Generate, e))?;
        sa.gxr = dh.public_value().to_vec();
        let gxy = dh.agree(ke).map_err(|e| fail(DhStep::Agree, e))?;
        sa.nr = self.random_bytes(NONCE_LEN);
        self.derive_phase1(sa, gxy.as_bytes())
    }

    /// Initiator: complete our key exchange with the responder's KE and Nr
    /// and derive the phase-1 keys.
    pub(super) fn initiator_key_exchange(
        &self,
        sa: &mut IkeSa,
        ke: &[u8],
        nr: &[u8],
        fail: impl Fn(CryptoError) -> Option<FailureReason>,
    ) -> Result<(), Option<FailureReason>> {
        let dh = sa.dh.take().ok_or(None)?;
        let gxy = dh.agree(ke).map_err(fail)?;
        sa.gxr = ke.to_vec();
        sa.nr = nr.to_vec();
        self.derive_phase1(sa, gxy.as_bytes())
    }

    /// SKEYID chain, cipher and first IV, once g^xy and both nonces exist.
    pub(super) fn derive_phase1(
        &self,
        sa: &mut IkeSa,
        gxy: &[u8],
    ) -> Result<(), Option<FailureReason>> {
        let policy = sa.policy.ok_or(None)?;
        let cfg = self.peer_config(sa.peer).ok_or(None)?;
        let psk = cfg.psk_for(sa.peer);
        // An empty key is no secret: anyone could complete this phase 1.
        if psk.is_empty() {
            return Err(Some(no_key(sa.peer)));
        }
        let inputs = Phase1Inputs {
            ni_b: &sa.ni,
            nr_b: &sa.nr,
            gxy,
            cky_i: &sa.icookie,
            cky_r: &sa.rcookie,
        };
        let keys = Phase1Keys::derive_psk(policy.hash, policy.encryption, psk, &inputs);
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

    /// Initiator, keys derived: learn from the responder's NAT-D whether a
    /// NAT is in the way, move to port 4500 if so, and send INITIAL-CONTACT
    /// only on our first phase 1 with this peer since start.
    pub(super) fn initiator_nat_and_contact(&self, sa: &mut IkeSa, msg: &Message, prf: Prf) {
        nat_t::check_natd(sa, msg, prf);
        self.float_if_nat(sa);
        sa.send_initial_contact = !self.runtime.get(&sa.peer).is_some_and(|r| r.contacted);
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
}

impl IkeSa {
    /// HASH_I over `idii_b`, once the keys exist.
    pub(super) fn hash_i(&self, idii_b: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let keys = self.keys.as_ref()?;
        Some(keys.hash_i(
            &self.gxi,
            &self.gxr,
            &self.icookie,
            &self.rcookie,
            &self.sai_b,
            idii_b,
        ))
    }

    /// HASH_R over `idir_b`, once the keys exist.
    pub(super) fn hash_r(&self, idir_b: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let keys = self.keys.as_ref()?;
        Some(keys.hash_r(
            &self.gxi,
            &self.gxr,
            &self.icookie,
            &self.rcookie,
            &self.sai_b,
            idir_b,
        ))
    }
}

/// The peer's `hash` ("HASH_I" or "HASH_R") did not verify: with PSK
/// authentication that almost always means the keys differ.
pub(super) fn hash_mismatch(sa: &IkeSa, hash: &str) -> FailureReason {
    FailureReason::AuthFailed(format!(
        "pre-shared key mismatch (the peer's {hash} did not verify; check the tunnel-group {} pre-shared-key)",
        sa.peer
    ))
}

/// Responder: our SA payload answering `offered`, its first ISAKMP
/// proposal with only the transform we chose.
pub(super) fn p1_answer(offered: &SaPayload, choice: &P1Choice) -> SaPayload {
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
    reply
}

/// Responder: RESPONDER-LIFETIME when we shortened the peer's lifetime.
pub(super) fn push_responder_lifetime(chain: &mut Chain, sa: &IkeSa, choice: &P1Choice) {
    if choice.shortened {
        chain.push(
            pt::NOTIFY,
            responder_lifetime_p1(sa, choice.lifetime_s).emit(),
        );
    }
}

/// Initiator: the policy of ours the responder chose with transform `t`,
/// and the lifetime both sides use (the shortest of ours, the answer's and
/// the answer's RESPONDER-LIFETIME). `Err` says what the peer chose.
pub(super) fn accept_p1_answer(
    policies: &[IsakmpPolicy],
    t: &Transform,
    msg: &Message,
) -> Result<(IsakmpPolicy, u32), String> {
    let offer = proposal::decode_p1(t);
    let policy = policies
        .iter()
        .find(|p| {
            Some(p.encryption) == offer.encryption
                && Some(p.hash) == offer.hash
                && Some(p.group) == offer.group
                && Some(p.auth) == offer.auth
        })
        .copied()
        .ok_or_else(|| format!("peer chose {offer}, which we did not offer"))?;
    let mut lifetime_s = offer
        .lifetime_s
        .unwrap_or(policy.lifetime_s)
        .min(policy.lifetime_s);
    if let Some(l) = responder_lifetime(msg, 1, p1::LIFE_TYPE, p1::LIFE_DURATION) {
        lifetime_s = lifetime_s.min(l);
    }
    Ok((policy, lifetime_s))
}

/// INITIAL-CONTACT (RFC 2407 4.6.3.3), when the SA decided to send it.
pub(super) fn push_initial_contact(chain: &mut Chain, sa: &IkeSa) {
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
}

/// The peer says it restarted: its other SAs with us are stale.
pub(super) fn has_initial_contact(msg: &Message) -> bool {
    msg.all(pt::NOTIFY)
        .filter_map(|n| NotifyPayload::parse(n).ok())
        .any(|n| n.ntype == nt::INITIAL_CONTACT)
}

/// RESPONDER-LIFETIME for phase 1 (protocol ISAKMP, SPI = the cookies).
fn responder_lifetime_p1(sa: &IkeSa, seconds: u32) -> NotifyPayload {
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

/// The policies, as `show` prints them, for failure texts.
pub(super) fn policy_list(policies: &[IsakmpPolicy]) -> String {
    policies
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why we cannot start phase 1 with these policies.
pub(super) fn no_usable_policy(peer: std::net::Ipv4Addr, policies: &[IsakmpPolicy]) -> String {
    if policies.is_empty() {
        return format!("no ISAKMP policy configured for peer {peer}");
    }
    let mut why = Vec::new();
    if policies
        .iter()
        .any(|p| !crate::ike::crypto::dh::is_supported(p.group))
    {
        why.push("Diffie-Hellman group 21 / P-521 is not supported by this build");
    }
    if policies.iter().any(|p| p.auth != IkeAuth::PreShare) {
        why.push("authentication rsa-sig needs certificates, which this build does not support");
    }
    format!(
        "no usable ISAKMP policy for peer {peer}: {} ({})",
        policy_list(policies),
        why.join("; ")
    )
}

/// A peer whose tunnel-group has no pre-shared key: phase 1 is refused,
/// never run with an empty key.
pub(super) fn no_key(peer: std::net::Ipv4Addr) -> FailureReason {
    FailureReason::AuthFailed(format!(
        "no pre-shared key configured for peer {peer}: phase 1 refused (add `tunnel-group {peer} ipsec-attributes` / ` ikev1 pre-shared-key KEY`)"
    ))
}
