//! IKE_AUTH (RFC 7296 1.2, 2.15) with pre-shared keys, one per direction
//! (ASA `ikev2 local-authentication` / `remote-authentication`), IDs as an
//! ASA sends them (our address), and the first CHILD SA. The AUTH step is
//! the only place that knows the method: certificates plug in here.

use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;
use tracing::info;

use super::auth_helpers::{find_auth, find_idr, find_sa, find_tsi, find_tsr};
use super::engine::Engine;
use super::ike_sa_init::{error_notify, notifies, notify_name};
use super::informational::notify;
use super::proposal::{EspChoice, EspRefusal, accept_esp, choose_esp, esp_offer};
use super::sa::{Child, IkeSa, Queued, Sent, State};
use super::ts;
use crate::ike::child::ChildSa;
use crate::ike::config::SelectorId;
use crate::ike::failure::FailureReason;
use crate::ike::output::Output;
use crate::ike::status::Role;
use crate::ike::wire::v2::{
    AuthV2, IdV2, PayloadV2, SaV2, TrafficSelectorV2, TsV2, auth_method, exchange, id_type,
    notify as nt,
};

/// (g^ir of a PFS exchange, Ni, Nr) of a CREATE_CHILD_SA: what a child's
/// KEYMAT is made from when it is not the IKE SA's own nonces.
pub(super) type ChildKeymat<'a> = (Option<&'a [u8]>, &'a [u8], &'a [u8]);

/// A shared-key AUTH payload verifies against `psk` (constant time);
/// `initiator`: whose AUTH it is. An empty key verifies nothing.
fn psk_auth_verifies(
    keys: &crate::ike::crypto::keys_v2::IkeSaKeys,
    initiator: bool,
    psk: &[u8],
    message: &[u8],
    other_nonce: &[u8],
    id: &IdV2,
    auth: &AuthV2,
) -> bool {
    !psk.is_empty()
        && auth.method == auth_method::SHARED_KEY_MIC
        && bool::from(
            keys.psk_auth(initiator, psk, message, other_nonce, &id.body())
                .ct_eq(&auth.data),
        )
}

/// What a child's keys are made from.
pub(super) struct KeymatInputs<'a> {
    pub g_ir: Option<&'a [u8]>,
    pub ni: &'a [u8],
    pub nr: &'a [u8],
    /// We sent the request of the exchange that made the child (Ni is ours).
    pub we_initiated: bool,
}

impl Engine {
    fn our_id(&self) -> IdV2 {
        IdV2 {
            id_type: id_type::IPV4_ADDR,
            data: self.local.address.octets().to_vec(),
        }
    }

    /// Initiator: IKE_AUTH with our identity, AUTH and the first child.
    pub(super) fn send_auth(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        out: &mut Vec<Output>,
    ) -> bool {
        let peer = sa.peer;
        let Some(cfg) = self.peer_config(peer) else {
            return false;
        };
        if sa.pending.is_empty() {
            return false;
        }
        let selector = sa.pending.remove(0);
        let Some(line) = cfg.selectors.iter().find(|s| s.id == selector).cloned() else {
            return false;
        };
        let psk = cfg.ikev2_psks_for(peer).0.to_vec();
        let transforms = cfg.ikev2_transforms.clone();
        let psk = zeroize::Zeroizing::new(psk);
        let Some(keys) = sa.keys.as_ref() else {
            return false;
        };
        let id = self.our_id();
        let auth = keys.psk_auth(true, &psk, &sa.init_req, &sa.nr, &id.body());
        let our_spi = self.new_child_spi();
        let mut payloads = vec![PayloadV2::IdI(id)];
        // Decided again now, not only when IKE_SA_INIT went out: an IKE SA
        // with the peer may have come up meanwhile (the peer's, in a
        // simultaneous initiation), and INITIAL_CONTACT would make the
        // peer drop it while we keep it.
        let contacted = self.runtime.get(&peer).is_some_and(|r| r.contacted);
        if sa.initial_contact && !contacted {
            payloads.push(notify(nt::INITIAL_CONTACT, Vec::new()));
        }
        payloads.push(PayloadV2::Auth(AuthV2 {
            method: auth_method::SHARED_KEY_MIC,
            data: auth.to_vec(),
        }));
        payloads.push(PayloadV2::Sa(esp_offer(&transforms, our_spi, None)));
        payloads.push(PayloadV2::TsI(ts::one(ts::from_net(line.local))));
        payloads.push(PayloadV2::TsR(ts::one(ts::from_net(line.remote))));
        sa.state = State::AuthSent;
        sa.next_mid = 1;
        let tries = self.local.retransmit_tries;
        self.send_request(
            now,
            sa,
            exchange::IKE_AUTH,
            &payloads,
            Sent::Auth { selector, our_spi },
            tries,
            out,
        );
        true
    }

    /// The SA is authenticated both ways.
    pub(super) fn establish(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        sa.state = State::Established;
        sa.established = Some(now);
        self.half_open.remove(&sa.our_spi());
        sa.last_heard = now;
        // The floor only keeps a zero from rekeying in a loop: the
        // configuration's minimum is 120 s, the testing aid's 5 s.
        let life = Duration::from_secs(u64::from(sa.lifetime_s.max(5)));
        // The original initiator rekeys at 85-90% of the lifetime, the
        // responder at 90-95%: one of them starts first.
        let jitter = u64::from(self.random_u32() % 50);
        let permille = if sa.is_initiator() {
            850 + jitter
        } else {
            900 + jitter
        };
        sa.rekey_at = Some(now + life * permille as u32 / 1000);
        sa.expires = Some(now + life);
        let cfg = self.peer_config(sa.peer);
        let dpd = cfg.and_then(|c| c.dpd_for(sa.peer));
        sa.dpd_next = dpd.map(|d| now + d.threshold);
        let keepalive = cfg
            .map(|c| c.nat_keepalive)
            .unwrap_or(Duration::from_secs(20));
        if sa.nat.floated && sa.nat.local_behind {
            sa.keepalive_next = Some(now + keepalive);
        }
        let rt = self.runtime.entry(sa.peer).or_default();
        rt.contacted = true;
        info!(target: "ipsecgw::ike::v2", peer = %sa.peer, sa = sa.id, role = %sa.role, nat_t = sa.nat.floated, "IKEv2 SA established");
        out.push(Output::IsakmpUp {
            peer: sa.peer,
            icookie: sa.spi_i,
            rcookie: sa.spi_r,
        });
    }

    /// Makes a child from an agreement and hands it to the daemon.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn install_child(
        &mut self,
        now: Instant,
        sa: &IkeSa,
        selector: SelectorId,
        our_spi: u32,
        choice: EspChoice,
        local_ts: TrafficSelectorV2,
        remote_ts: TrafficSelectorV2,
        km: KeymatInputs<'_>,
        replaces: Option<u32>,
        out: &mut Vec<Output>,
    ) {
        let Some(keys) = sa.keys.as_ref() else { return };
        let Some(cfg) = self.peer_config(sa.peer) else {
            return;
        };
        let (Some(local_net), Some(remote_net)) = (ts::as_net(&local_ts), ts::as_net(&remote_ts))
        else {
            return;
        };
        let n = choice.transform.keymat_len();
        let keymat = keys.child_keymat(km.g_ir, km.ni, km.nr, 2 * n);
        let (i_to_r, r_to_i) = keymat.split_at(n);
        let (outbound, inbound) = if km.we_initiated {
            (i_to_r, r_to_i)
        } else {
            (r_to_i, i_to_r)
        };
        let lifetime_s = cfg.lifetime_s;
        let child = ChildSa {
            peer: sa.peer,
            local: self.local.address,
            selector,
            inbound_spi: our_spi,
            outbound_spi: choice.peer_spi,
            transform: choice.transform,
            inbound_keymat: zeroize::Zeroizing::new(inbound.to_vec()),
            outbound_keymat: zeroize::Zeroizing::new(outbound.to_vec()),
            lifetime_s,
            lifetime_kb: cfg.lifetime_kb,
            udp_encap: sa.nat.floated.then(|| (sa.local.port(), sa.remote.port())),
            local_ts: local_net,
            remote_ts: remote_net,
            replaces,
            esn: choice.esn,
            proto: local_ts.ip_proto,
            local_port: ts::as_port(&local_ts).unwrap_or(0),
            remote_port: ts::as_port(&remote_ts).unwrap_or(0),
        };
        let life = Duration::from_secs(u64::from(lifetime_s.max(1)));
        let jitter = u64::from(self.random_u32() % 50);
        let permille = if km.we_initiated {
            850 + jitter
        } else {
            900 + jitter
        };
        info!(
            target: "ipsecgw::ike::v2",
            peer = %sa.peer,
            selector,
            inbound = format_args!("{our_spi:#010x}"),
            outbound = format_args!("{:#010x}", choice.peer_spi),
            transform = %choice.transform,
            "CHILD SA up"
        );
        self.children.insert(
            our_spi,
            Child {
                peer: sa.peer,
                ike_spi: sa.our_spi(),
                selector,
                inbound_spi: our_spi,
                outbound_spi: choice.peer_spi,
                transform: choice.transform,
                local_ts,
                remote_ts,
                soft: now + life * permille as u32 / 1000,
                hard: now + life,
                used: false,
                rekeying: false,
                replaced: false,
            },
        );
        self.runtime.entry(sa.peer).or_default().last_failure = None;
        out.push(Output::ChildSaUp(child));
    }

    /// Responder: IKE_AUTH request. False when the SA is gone.
    pub(super) fn auth_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        _data: &[u8],
        mid: u32,
        payloads: &[PayloadV2],
        out: &mut Vec<Output>,
    ) -> bool {
        if sa.state != State::InitDone || sa.role != Role::Responder {
            return true;
        }
        let peer = sa.peer;
        let Some(cfg) = self.peer_config(peer) else {
            return false;
        };
        let (local_psk, remote_psk) = cfg.ikev2_psks_for(peer);
        let local_psk = zeroize::Zeroizing::new(local_psk.to_vec());
        let remote_psk = zeroize::Zeroizing::new(remote_psk.to_vec());
        let transforms = cfg.ikev2_transforms.clone();
        let lines = cfg.selectors.clone();
        let name = cfg.name.clone();
        let mut idi = None;
        let mut auth = None;
        let mut offer = None;
        let mut tsi = None;
        let mut tsr = None;
        for p in payloads {
            match p {
                PayloadV2::IdI(i) => idi = Some(i),
                PayloadV2::Auth(a) => auth = Some(a),
                PayloadV2::Sa(s) => offer = Some(s),
                PayloadV2::TsI(t) => tsi = Some(t),
                PayloadV2::TsR(t) => tsr = Some(t),
                _ => {}
            }
        }
        let (Some(idi), Some(auth)) = (idi, auth) else {
            self.send_response(
                sa,
                exchange::IKE_AUTH,
                mid,
                &[notify(nt::INVALID_SYNTAX, Vec::new())],
                out,
            );
            return true;
        };
        let Some(keys) = sa.keys.as_ref() else {
            return false;
        };
        let verified = psk_auth_verifies(keys, true, &remote_psk, &sa.init_req, &sa.nr, idi, auth);
        if !verified || local_psk.is_empty() {
            let why = if remote_psk.is_empty() {
                format!(
                    "tunnel-group {peer} has no ikev2 remote-authentication pre-shared-key; refusing {peer}"
                )
            } else if auth.method != auth_method::SHARED_KEY_MIC {
                format!(
                    "{peer} authenticates with AUTH method {}, we expect a pre-shared key (method 2)",
                    auth.method
                )
            } else if !verified {
                format!(
                    "pre-shared key mismatch: the AUTH payload from {peer} did not verify with the ikev2 remote-authentication pre-shared-key of tunnel-group {peer} (we rejected it)"
                )
            } else {
                format!(
                    "tunnel-group {peer} has no ikev2 local-authentication pre-shared-key; cannot authenticate to {peer}"
                )
            };
            self.send_response(
                sa,
                exchange::IKE_AUTH,
                mid,
                &[notify(nt::AUTHENTICATION_FAILED, Vec::new())],
                out,
            );
            self.fail(peer, "AUTH_RECEIVED", FailureReason::AuthFailed(why), out);
            self.drop_sa(sa, false, "authentication failed", out);
            return false;
        }
        let id = self.our_id();
        let our_auth = keys.psk_auth(false, &local_psk, &sa.init_resp, &sa.ni, &id.body());
        let initial_contact = notifies(payloads).any(|n| n.kind == nt::INITIAL_CONTACT);
        self.establish(now, sa, out);
        if initial_contact {
            self.initial_contact(sa, out);
        }
        let mut resp = vec![
            PayloadV2::IdR(id),
            PayloadV2::Auth(AuthV2 {
                method: auth_method::SHARED_KEY_MIC,
                data: our_auth.to_vec(),
            }),
        ];
        // The first child; its failure leaves the IKE SA up (RFC 7296 2.21.3).
        if let (Some(offer), Some(tsi), Some(tsr)) = (offer, tsi, tsr) {
            {
                match self.answer_child(
                    sa,
                    &transforms,
                    None,
                    &lines,
                    &name,
                    offer,
                    None,
                    tsi,
                    tsr,
                    None,
                    out,
                ) {
                    Ok((choice, our_spi, agreed, chosen)) => {
                        resp.push(PayloadV2::Sa(SaV2 {
                            proposals: vec![chosen],
                        }));
                        resp.push(PayloadV2::TsI(ts::one(agreed.remote)));
                        resp.push(PayloadV2::TsR(ts::one(agreed.local)));
                        self.send_response(sa, exchange::IKE_AUTH, mid, &resp, out);
                        let (ni, nr) = (sa.ni.clone(), sa.nr.clone());
                        self.install_child(
                            now,
                            sa,
                            agreed.selector,
                            our_spi,
                            choice,
                            agreed.local,
                            agreed.remote,
                            KeymatInputs {
                                g_ir: None,
                                ni: &ni,
                                nr: &nr,
                                we_initiated: false,
                            },
                            None,
                            out,
                        );
                        return self.dedupe(now, sa, out);
                    }
                    Err(n) => resp.push(n),
                }
            }
        }
        self.send_response(sa, exchange::IKE_AUTH, mid, &resp, out);
        self.dedupe(now, sa, out)
    }

    /// Responder side of a child proposal (IKE_AUTH or CREATE_CHILD_SA):
    /// the agreement with our new SPI, or the notify to answer with
    /// (the failure already recorded).
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    pub(super) fn answer_child(
        &mut self,
        sa: &IkeSa,
        transforms: &[crate::algo::EspTransform],
        pfs: Option<crate::algo::DhGroup>,
        lines: &[crate::ike::config::Selector],
        name: &str,
        offer: &SaV2,
        ke_group: Option<u16>,
        tsi: &TsV2,
        tsr: &TsV2,
        only: Option<SelectorId>,
        out: &mut Vec<Output>,
    ) -> Result<(EspChoice, u32, ts::Agreed, crate::ike::wire::v2::ProposalV2), PayloadV2> {
        let peer = sa.peer;
        let Some(agreed) = ts::choose(lines, tsi, tsr, only) else {
            self.fail(
                peer,
                "READY",
                FailureReason::ProxyIdMismatch(format!(
                    "TS_UNACCEPTABLE: {peer} proposed local {} / remote {} (its view), which is not equal to or within any ACL line of crypto map {name}: {}",
                    ts::list_text(tsi),
                    ts::list_text(tsr),
                    ts::lines_text(lines)
                )),
                out,
            );
            return Err(notify(nt::TS_UNACCEPTABLE, Vec::new()));
        };
        match choose_esp(transforms, pfs, offer, ke_group) {
            Ok((choice, mut chosen)) => {
                let our_spi = self.new_child_spi();
                chosen.spi = our_spi.to_be_bytes().to_vec();
                Ok((choice, our_spi, agreed, chosen))
            }
            Err(EspRefusal::WrongGroup(g)) => Err(notify(
                nt::INVALID_KE_PAYLOAD,
                g.number().to_be_bytes().to_vec(),
            )),
            Err(EspRefusal::NoMatch(text)) => {
                self.fail(
                    peer,
                    "READY",
                    FailureReason::NoTransformMatch(format!(
                        "no IPsec proposal chosen for crypto map {name}: {text}"
                    )),
                    out,
                );
                Err(notify(nt::NO_PROPOSAL_CHOSEN, Vec::new()))
            }
        }
    }

    /// Initiator: the IKE_AUTH response. False when the SA is gone.
    pub(super) fn auth_response(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        selector: SelectorId,
        our_spi: u32,
        payloads: &[PayloadV2],
        out: &mut Vec<Output>,
    ) -> bool {
        let peer = sa.peer;
        let Some(cfg) = self.peer_config(peer) else {
            return false;
        };
        let remote_psk = zeroize::Zeroizing::new(cfg.ikev2_psks_for(peer).1.to_vec());
        let transforms = cfg.ikev2_transforms.clone();
        let line = cfg.selectors.iter().find(|s| s.id == selector).cloned();
        let name = cfg.name.clone();
        let idr = find_idr(payloads);
        let auth = find_auth(payloads);
        let (Some(idr), Some(auth)) = (idr, auth) else {
            self.spis.remove(&our_spi);
            let reason = match error_notify(payloads) {
                Some(n) if n.kind == nt::AUTHENTICATION_FAILED => {
                    FailureReason::AuthFailed(format!(
                        "pre-shared key mismatch: {peer} rejected our AUTH (AUTHENTICATION_FAILED); its key for us differs from our ikev2 local-authentication pre-shared-key of tunnel-group {peer}"
                    ))
                }
                Some(n) => FailureReason::PeerRejected(format!(
                    "{peer} refused IKE_AUTH with {}",
                    notify_name(n.kind)
                )),
                None => {
                    FailureReason::PeerRejected(format!("{peer} answered IKE_AUTH without AUTH"))
                }
            };
            self.fail(peer, "AUTH_SENT", reason, out);
            self.drop_sa(sa, false, "authentication failed", out);
            return false;
        };
        let Some(keys) = sa.keys.as_ref() else {
            return false;
        };
        let ok = psk_auth_verifies(keys, false, &remote_psk, &sa.init_resp, &sa.ni, idr, auth);
        if !ok {
            self.spis.remove(&our_spi);
            self.fail(
                peer,
                "AUTH_SENT",
                FailureReason::AuthFailed(format!(
                    "pre-shared key mismatch: the AUTH payload from {peer} did not verify with the ikev2 remote-authentication pre-shared-key of tunnel-group {peer} (we rejected it)"
                )),
                out,
            );
            self.send_delete_ike_once(now, sa, out);
            self.drop_sa(sa, false, "authentication failed", out);
            return false;
        }
        self.establish(now, sa, out);
        // The first child.
        let offer = find_sa(payloads);
        let tsi = find_tsi(payloads);
        let tsr = find_tsr(payloads);
        self.finish_child(
            now,
            sa,
            selector,
            our_spi,
            None,
            &transforms,
            None,
            line.as_ref(),
            &name,
            offer,
            tsi,
            tsr,
            error_notify(payloads).map(|n| n.kind),
            None,
            out,
        );
        let pending: Vec<SelectorId> = sa.pending.drain(..).collect();
        for s in pending {
            sa.queue.push_back(Queued::Child {
                selector: s,
                rekey: None,
            });
        }
        self.dedupe(now, sa, out)
    }

    /// Initiator: a child answer (IKE_AUTH or CREATE_CHILD_SA) checked
    /// against what we proposed, and installed.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finish_child(
        &mut self,
        now: Instant,
        sa: &IkeSa,
        selector: SelectorId,
        our_spi: u32,
        replaces: Option<u32>,
        transforms: &[crate::algo::EspTransform],
        pfs: Option<crate::algo::DhGroup>,
        line: Option<&crate::ike::config::Selector>,
        name: &str,
        offer: Option<&SaV2>,
        tsi: Option<&TsV2>,
        tsr: Option<&TsV2>,
        error: Option<u16>,
        km: Option<ChildKeymat<'_>>,
        out: &mut Vec<Output>,
    ) -> bool {
        let peer = sa.peer;
        let Some(line) = line else {
            self.spis.remove(&our_spi);
            return false;
        };
        let ours_local = ts::from_net(line.local);
        let ours_remote = ts::from_net(line.remote);
        let (Some(offer), Some(tsi), Some(tsr)) = (offer, tsi, tsr) else {
            self.spis.remove(&our_spi);
            let reason = match error {
                Some(nt::TS_UNACCEPTABLE) => FailureReason::ProxyIdMismatch(format!(
                    "TS_UNACCEPTABLE: {peer} refused our traffic selectors local {} / remote {} (crypto map {name} ACL {}); its configuration protects other networks",
                    ts::asa_text(&ours_local),
                    ts::asa_text(&ours_remote),
                    line.acl
                )),
                Some(nt::NO_PROPOSAL_CHOSEN) => FailureReason::NoTransformMatch(format!(
                    "{peer} refused all our IPsec proposals (NO_PROPOSAL_CHOSEN): we offered {}{}",
                    transforms
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    pfs.map(|g| format!(" with PFS {g}")).unwrap_or_default()
                )),
                Some(k) => FailureReason::PeerRejected(format!(
                    "{peer} refused the CHILD SA with {}",
                    notify_name(k)
                )),
                None => FailureReason::Protocol(format!("{peer} answered without a CHILD SA")),
            };
            self.fail(peer, "READY", reason, out);
            return false;
        };
        let Some(choice) = accept_esp(transforms, pfs, offer) else {
            self.spis.remove(&our_spi);
            self.fail(
                peer,
                "READY",
                FailureReason::NoTransformMatch(format!(
                    "{peer} chose an IPsec proposal we did not offer"
                )),
                out,
            );
            return false;
        };
        let Some((local_ts, remote_ts)) = ts::accept(&ours_local, &ours_remote, tsi, tsr) else {
            self.spis.remove(&our_spi);
            self.fail(
                peer,
                "READY",
                FailureReason::ProxyIdMismatch(format!(
                    "{peer} answered with traffic selectors local {} / remote {}, not within ours ({} / {})",
                    ts::list_text(tsi),
                    ts::list_text(tsr),
                    ts::asa_text(&ours_local),
                    ts::asa_text(&ours_remote)
                )),
                out,
            );
            return false;
        };
        let (ni, nr) = (sa.ni.clone(), sa.nr.clone());
        let (g, ni, nr): (Option<&[u8]>, &[u8], &[u8]) = match km {
            Some(k) => k,
            None => (None, &ni, &nr),
        };
        self.install_child(
            now,
            sa,
            selector,
            our_spi,
            choice,
            local_ts,
            remote_ts,
            KeymatInputs {
                g_ir: g,
                ni,
                nr,
                we_initiated: true,
            },
            replaces,
            out,
        );
        true
    }

    /// Simultaneous initiation leaves two IKE SAs with one peer, each with
    /// its children. Both sides keep the one whose lowest nonce is higher
    /// (the rule of RFC 7296 2.8.1, applied to whole SAs); the loser's
    /// original initiator deletes it. False when `sa` itself lost and is
    /// gone.
    pub(super) fn dedupe(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) -> bool {
        let min = |s: &IkeSa| s.ni.clone().min(s.nr.clone());
        let other = self
            .sas
            .values()
            .find(|o| {
                o.peer == sa.peer && o.state == State::Established && o.our_spi() != sa.our_spi()
            })
            .map(|o| (o.our_spi(), min(o), o.is_initiator()));
        let Some((other_spi, other_min, other_ours)) = other else {
            return true;
        };
        if min(sa) < other_min {
            if sa.is_initiator() {
                info!(target: "ipsecgw::ike::v2", peer = %sa.peer, sa = sa.id, "duplicate IKEv2 SA from simultaneous initiation: deleting ours");
                self.send_delete_ike_once(now, sa, out);
                self.drop_sa(sa, false, "duplicate", out);
                return false;
            }
        } else if other_ours && let Some(mut o) = self.sas.remove(&other_spi) {
            info!(target: "ipsecgw::ike::v2", peer = %o.peer, sa = o.id, "duplicate IKEv2 SA from simultaneous initiation: deleting ours");
            self.send_delete_ike_once(now, &mut o, out);
            self.drop_sa(&o, false, "duplicate", out);
        }
        true
    }

    /// INITIAL_CONTACT: the peer lost every SA with us; older IKE SAs and
    /// their children go, without notifying (the peer has none).
    ///
    /// Older means established before this SA's IKE_SA_INIT arrived:
    /// only those can the peer have known of and lost. An SA set up
    /// meanwhile is the peer's too: in a simultaneous initiation both
    /// sides send INITIAL_CONTACT on their first IKE SA, and dropping
    /// the one we were negotiating ourselves (as this did for any SA
    /// with the peer) left each side with a different SA, the other
    /// side's, whose peer had dropped it. `dedupe` settles those.
    fn initial_contact(&mut self, sa: &IkeSa, out: &mut Vec<Output>) {
        let old: Vec<[u8; 8]> = self
            .sas
            .values()
            .filter(|s| s.peer == sa.peer && s.established.is_some_and(|e| e < sa.created))
            .map(|s| s.our_spi())
            .collect();
        for spi in old {
            if let Some(o) = self.sas.remove(&spi) {
                info!(target: "ipsecgw::ike::v2", peer = %sa.peer, sa = o.id, "INITIAL_CONTACT: removing an older IKE SA and its children");
                self.drop_sa(&o, false, "initial contact", out);
            }
        }
    }
}
