//! CREATE_CHILD_SA (RFC 7296 1.3): new children (another ACL line under
//! the same IKE SA), child rekey with optional PFS, IKE SA rekey (the
//! children move to the new IKE SA), and simultaneous child rekeys
//! resolved by the nonce rule (2.8.1): the SA made with the lowest of the
//! four nonces is deleted by whoever created it, so one pair survives and
//! the old one carries traffic until then.

use std::time::{Duration, Instant};

use tracing::{debug, info};

use super::auth_helpers::{find_ke, find_nonce, find_sa, find_tsi, find_tsr};
use super::engine::Engine;
use super::ike_auth::KeymatInputs;
use super::ike_sa_init::{error_notify, notifies, notify_name};
use super::informational::notify;
use super::proposal::{IkeRefusal, accept_ike, choose_ike, esp_offer, ike_offer};
use super::sa::{IkeSa, IkeSaStart, Queued, Sent, State};
use super::ts;
use crate::ike::config::SelectorId;
use crate::ike::crypto::DhPrivate;
use crate::ike::crypto::keys_v2::IkeSaKeys;
use crate::ike::failure::FailureReason;
use crate::ike::output::Output;
use crate::ike::status::Role;
use crate::ike::wire::v2::{KeV2, NotifyV2, PayloadV2, SaV2, exchange, notify as nt, protocol};

/// How long a CHILD SA a rekey of ours replaced carries on before we
/// delete it: well past the daemon's grace before a new outbound SA is
/// used (150 ms) and a round trip.
pub(super) const REKEYED_CHILD_LINGER: Duration = Duration::from_secs(2);

impl Engine {
    /// A CHILD SA's PFS exchange failed on the peer's KE value: our SPI
    /// goes back, the failure is recorded.
    fn pfs_ke_refused(
        &mut self,
        peer: std::net::Ipv4Addr,
        our_spi: u32,
        e: crate::ike::crypto::CryptoError,
        out: &mut Vec<Output>,
    ) {
        self.spis.remove(&our_spi);
        self.fail(
            peer,
            "READY",
            FailureReason::Protocol(format!("the peer's PFS KE payload was refused: {e}")),
            out,
        );
    }

    /// Sends CREATE_CHILD_SA for `selector` (a rekey of `rekey` when set).
    pub(super) fn request_child(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        selector: SelectorId,
        rekey: Option<u32>,
        out: &mut Vec<Output>,
    ) {
        let peer = sa.peer;
        let Some(cfg) = self.peer_config(peer) else {
            return;
        };
        let Some(line) = cfg.selectors.iter().find(|s| s.id == selector).cloned() else {
            return;
        };
        let transforms = cfg.ikev2_transforms.clone();
        let pfs = cfg.pfs;
        // A rekey keeps what was agreed; a new child proposes the line.
        let (local_ts, remote_ts) = match rekey.and_then(|s| self.children.get(&s)) {
            Some(c) => (c.local_ts, c.remote_ts),
            None if rekey.is_some() => return, // the child went meanwhile
            None => (ts::from_net(line.local), ts::from_net(line.remote)),
        };
        let dh = match pfs.map(|g| DhPrivate::generate(g, &self.rng)).transpose() {
            Ok(d) => d,
            Err(e) => {
                self.fail(peer, "READY", FailureReason::Protocol(e.to_string()), out);
                return;
            }
        };
        let our_spi = self.new_child_spi();
        let nonce = self.new_nonce();
        let mut payloads = Vec::new();
        if let Some(old) = rekey {
            payloads.push(PayloadV2::Notify(NotifyV2 {
                protocol: protocol::ESP,
                spi: old.to_be_bytes().to_vec(),
                kind: nt::REKEY_SA,
                data: Vec::new(),
            }));
        }
        payloads.push(PayloadV2::Sa(esp_offer(&transforms, our_spi, pfs)));
        payloads.push(PayloadV2::Nonce(nonce.clone()));
        if let Some(d) = &dh {
            payloads.push(PayloadV2::Ke(KeV2 {
                group: d.group().number(),
                data: d.public_value().to_vec(),
            }));
        }
        payloads.push(PayloadV2::TsI(ts::one(local_ts)));
        payloads.push(PayloadV2::TsR(ts::one(remote_ts)));
        debug!(target: "ipsecgw::ike::v2", %peer, selector, rekey = ?rekey, "sending CREATE_CHILD_SA");
        let tries = self.local.retransmit_tries;
        self.send_request(
            now,
            sa,
            exchange::CREATE_CHILD_SA,
            &payloads,
            Sent::Child {
                selector,
                rekey,
                our_spi,
                nonce,
                dh,
                collided: None,
            },
            tries,
            out,
        );
    }

    /// Initiator: the CREATE_CHILD_SA response for a child.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn child_response(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        selector: SelectorId,
        rekey: Option<u32>,
        our_spi: u32,
        ni: Vec<u8>,
        dh: Option<DhPrivate>,
        collided: Option<(Vec<u8>, Vec<u8>, u32)>,
        payloads: &[PayloadV2],
        out: &mut Vec<Output>,
    ) {
        let peer = sa.peer;
        let Some(cfg) = self.peer_config(peer) else {
            return;
        };
        let transforms = cfg.ikev2_transforms.clone();
        let pfs = cfg.pfs;
        let line = cfg.selectors.iter().find(|s| s.id == selector).cloned();
        let name = cfg.name.clone();
        let error = error_notify(payloads).map(|n| n.kind);
        if matches!(
            error,
            Some(nt::TEMPORARY_FAILURE) | Some(nt::CHILD_SA_NOT_FOUND)
        ) {
            self.spis.remove(&our_spi);
            debug!(target: "ipsecgw::ike::v2", %peer, "CREATE_CHILD_SA answered {}: retrying later", notify_name(error.unwrap_or(0)));
            if let Some(old) = rekey.and_then(|s| self.children.get_mut(&s)) {
                old.rekeying = false;
                old.soft = now + Duration::from_secs(2);
            }
            return;
        }
        let nr = find_nonce(payloads);
        let g = match (dh, find_ke(payloads)) {
            (Some(d), Some(ke)) if ke.group == d.group().number() => match d.agree(&ke.data) {
                Ok(s) => Some(s),
                Err(e) => {
                    self.pfs_ke_refused(peer, our_spi, e, out);
                    return;
                }
            },
            (Some(_), _) if error.is_none() => {
                self.spis.remove(&our_spi);
                self.fail(
                    peer,
                    "READY",
                    FailureReason::NoTransformMatch(format!(
                        "{peer} answered our PFS CREATE_CHILD_SA without a matching KE payload"
                    )),
                    out,
                );
                return;
            }
            _ => None,
        };
        let Some(nr) = nr.filter(|_| error.is_none()) else {
            self.finish_child(
                now,
                sa,
                selector,
                our_spi,
                rekey,
                &transforms,
                pfs,
                line.as_ref(),
                &name,
                None,
                None,
                None,
                error.or(Some(0)),
                None,
                out,
            );
            if let Some(old) = rekey.and_then(|s| self.children.get_mut(&s)) {
                old.rekeying = false;
            }
            return;
        };
        let installed = self.finish_child(
            now,
            sa,
            selector,
            our_spi,
            rekey,
            &transforms,
            pfs,
            line.as_ref(),
            &name,
            find_sa(payloads),
            find_tsi(payloads),
            find_tsr(payloads),
            error,
            Some((g.as_ref().map(|s| s.as_bytes()), &ni, nr)),
            out,
        );
        if !installed {
            return;
        }
        if let Some((pni, pnr, theirs)) = collided {
            // RFC 7296 2.8.1: the lowest of the four nonces marks the SA
            // its creator deletes.
            let ours_min = ni.as_slice().min(nr.as_slice());
            let theirs_min = pni.as_slice().min(pnr.as_slice());
            if ours_min < theirs_min {
                info!(target: "ipsecgw::ike::v2", %peer, "simultaneous child rekey: ours has the lowest nonce and is deleted");
                sa.queue.push_back(Queued::DeleteChildren(vec![our_spi]));
            } else {
                debug!(target: "ipsecgw::ike::v2", %peer, theirs = format_args!("{theirs:#010x}"), "simultaneous child rekey: the peer deletes its redundant SA");
            }
        }
        if let Some(old) = rekey.and_then(|s| self.children.get_mut(&s)) {
            // The old pair goes (the peer told) once both sides send on
            // the new one, not at once: each side keeps sending on the old
            // pair a moment after the new one is in (the daemon's grace,
            // so the peer has its inbound SA first), and ESP still in the
            // engines' rings or on the wire needs the old inbound SA. A
            // DELETE right away dropped those packets at the peer as an
            // unknown SPI on every rekey under load.
            old.rekeying = true;
            old.replaced = true;
            old.hard = old.hard.min(now + REKEYED_CHILD_LINGER);
        }
    }

    /// Responder: CREATE_CHILD_SA (a child, a child rekey, or an IKE SA
    /// rekey). False when the SA is gone.
    pub(super) fn create_child_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        mid: u32,
        payloads: &[PayloadV2],
        out: &mut Vec<Output>,
    ) -> bool {
        if sa.state != State::Established {
            self.send_response(
                sa,
                exchange::CREATE_CHILD_SA,
                mid,
                &[notify(nt::TEMPORARY_FAILURE, Vec::new())],
                out,
            );
            return true;
        }
        let Some(offer) = find_sa(payloads) else {
            self.send_response(
                sa,
                exchange::CREATE_CHILD_SA,
                mid,
                &[notify(nt::INVALID_SYNTAX, Vec::new())],
                out,
            );
            return true;
        };
        if offer
            .proposals
            .first()
            .is_some_and(|p| p.protocol == protocol::IKE)
        {
            self.ike_rekey_request(now, sa, mid, offer, payloads, out);
            return true;
        }
        let peer = sa.peer;
        let Some(cfg) = self.peer_config(peer) else {
            return true;
        };
        let transforms = cfg.ikev2_transforms.clone();
        let pfs = cfg.pfs;
        let lines = cfg.selectors.clone();
        let name = cfg.name.clone();
        let (Some(ni), Some(tsi), Some(tsr)) =
            (find_nonce(payloads), find_tsi(payloads), find_tsr(payloads))
        else {
            self.send_response(
                sa,
                exchange::CREATE_CHILD_SA,
                mid,
                &[notify(nt::INVALID_SYNTAX, Vec::new())],
                out,
            );
            return true;
        };
        // REKEY_SA names the SPI the peer receives on: our outbound.
        let rekey_of = notifies(payloads)
            .find(|n| n.kind == nt::REKEY_SA)
            .map(|n| n.spi.clone());
        let old = match &rekey_of {
            Some(spi) => {
                let spi = <[u8; 4]>::try_from(spi.as_slice())
                    .ok()
                    .map(u32::from_be_bytes);
                match self
                    .children
                    .values()
                    .find(|c| Some(c.outbound_spi) == spi && c.peer == peer)
                {
                    Some(c) => Some((c.inbound_spi, c.selector)),
                    None => {
                        let n = PayloadV2::Notify(NotifyV2 {
                            protocol: protocol::ESP,
                            spi: rekey_of.clone().unwrap_or_default(),
                            kind: nt::CHILD_SA_NOT_FOUND,
                            data: Vec::new(),
                        });
                        self.send_response(sa, exchange::CREATE_CHILD_SA, mid, &[n], out);
                        return true;
                    }
                }
            }
            None => None,
        };
        let ke = find_ke(payloads);
        let answer = self.answer_child(
            sa,
            &transforms,
            pfs,
            &lines,
            &name,
            offer,
            ke.map(|k| k.group),
            tsi,
            tsr,
            old.map(|o| o.1),
            out,
        );
        let (choice, our_spi, agreed, chosen) = match answer {
            Ok(a) => a,
            Err(n) => {
                self.send_response(sa, exchange::CREATE_CHILD_SA, mid, &[n], out);
                return true;
            }
        };
        let nr = self.new_nonce();
        let mut shared = None;
        let mut ke_out = None;
        if let (Some(g), Some(ke)) = (choice.pfs, ke) {
            let agreed_dh = DhPrivate::generate(g, &self.rng).and_then(|d| {
                let public = d.public_value().to_vec();
                d.agree(&ke.data).map(|s| (public, s))
            });
            match agreed_dh {
                Ok((public, s)) => {
                    ke_out = Some(KeV2 {
                        group: g.number(),
                        data: public,
                    });
                    shared = Some(s);
                }
                Err(e) => {
                    self.pfs_ke_refused(peer, our_spi, e, out);
                    self.send_response(
                        sa,
                        exchange::CREATE_CHILD_SA,
                        mid,
                        &[notify(nt::INVALID_SYNTAX, Vec::new())],
                        out,
                    );
                    return true;
                }
            }
        }
        let mut resp = vec![
            PayloadV2::Sa(SaV2 {
                proposals: vec![chosen],
            }),
            PayloadV2::Nonce(nr.clone()),
        ];
        if let Some(k) = ke_out {
            resp.push(PayloadV2::Ke(k));
        }
        resp.push(PayloadV2::TsI(ts::one(agreed.remote)));
        resp.push(PayloadV2::TsR(ts::one(agreed.local)));
        self.send_response(sa, exchange::CREATE_CHILD_SA, mid, &resp, out);
        let replaces = old.map(|o| o.0);
        // A collision with our own rekey of the same child (2.8.1).
        if let (Some(old_in), Some(o)) = (replaces, sa.outstanding.as_mut())
            && let Sent::Child {
                rekey: Some(r),
                collided,
                ..
            } = &mut o.what
            && *r == old_in
        {
            *collided = Some((ni.clone(), nr.clone(), our_spi));
        }
        if let Some(c) = replaces.and_then(|s| self.children.get_mut(&s)) {
            c.rekeying = true; // the peer replaces it and deletes it
        }
        self.install_child(
            now,
            sa,
            agreed.selector,
            our_spi,
            choice,
            agreed.local,
            agreed.remote,
            KeymatInputs {
                g_ir: shared.as_ref().map(|s| s.as_bytes()),
                ni,
                nr: &nr,
                we_initiated: false,
            },
            replaces,
            out,
        );
        true
    }

    /// Sends CREATE_CHILD_SA rekeying the IKE SA.
    pub(super) fn request_ike_rekey(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        out: &mut Vec<Output>,
    ) {
        let Some(cfg) = self.peer_config(sa.peer) else {
            return;
        };
        let policies = cfg.ikev2_policies.clone();
        let dh = match DhPrivate::generate(sa.group, &self.rng) {
            Ok(d) => d,
            Err(_) => return,
        };
        let new_spi = self.new_ike_spi();
        let nonce = self.new_nonce();
        let payloads = vec![
            PayloadV2::Sa(ike_offer(&policies, sa.group, &new_spi)),
            PayloadV2::Nonce(nonce.clone()),
            PayloadV2::Ke(KeV2 {
                group: sa.group.number(),
                data: dh.public_value().to_vec(),
            }),
        ];
        let tries = self.local.retransmit_tries;
        self.send_request(
            now,
            sa,
            exchange::CREATE_CHILD_SA,
            &payloads,
            Sent::RekeyIke { new_spi, nonce, dh },
            tries,
            out,
        );
    }

    /// A new IKE SA replacing `old`, the children moved to it.
    #[allow(clippy::too_many_arguments)]
    fn rekeyed_sa(
        &mut self,
        now: Instant,
        old: &mut IkeSa,
        role: Role,
        spi_i: [u8; 8],
        spi_r: [u8; 8],
        keys: IkeSaKeys,
        group: crate::algo::DhGroup,
        ni: Vec<u8>,
        nr: Vec<u8>,
        out: &mut Vec<Output>,
    ) {
        let id = self.alloc_id();
        let mut sa = IkeSa {
            keys: Some(keys),
            ni,
            nr,
            fragmentation: old.fragmentation,
            nat: old.nat,
            queue: std::mem::take(&mut old.queue)
                .into_iter()
                .filter(|q| !matches!(q, Queued::RekeyIke))
                .collect(),
            lifetime_s: old.lifetime_s,
            pending: std::mem::take(&mut old.pending),
            ..IkeSa::new(IkeSaStart {
                id,
                peer: old.peer,
                role,
                state: State::Established,
                spi_i,
                spi_r,
                local: old.local,
                remote: old.remote,
                group,
                now,
            })
        };
        self.establish(now, &mut sa, out);
        let new_spi = sa.our_spi();
        let old_spi = old.our_spi();
        for c in self.children.values_mut().filter(|c| c.ike_spi == old_spi) {
            c.ike_spi = new_spi;
        }
        info!(target: "ipsecgw::ike::v2", peer = %sa.peer, old = old.id, new = sa.id, "IKEv2 SA rekeyed; children moved");
        old.state = State::Retiring;
        old.rekey_at = None;
        old.dpd_next = None;
        // The peer deletes the old SA when it rekeyed; if it never does,
        // it goes after the retransmission schedule.
        old.expires = Some(now + self.half_open_timeout());
        self.pump(now, &mut sa, out);
        self.sas.insert(new_spi, sa);
    }

    /// Initiator: our IKE SA rekey answered. False when the SA is gone.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn ike_rekey_response(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        new_spi: [u8; 8],
        ni: Vec<u8>,
        dh: DhPrivate,
        payloads: &[PayloadV2],
        out: &mut Vec<Output>,
    ) -> bool {
        let peer = sa.peer;
        let Some(cfg) = self.peer_config(peer) else {
            return true;
        };
        let policies = cfg.ikev2_policies.clone();
        if let Some(n) = error_notify(payloads) {
            debug!(target: "ipsecgw::ike::v2", %peer, "IKE SA rekey refused with {}; retrying later", notify_name(n.kind));
            if sa.rekey_collision.take().is_some() {
                // The peer's rekey (which we answered) is the one.
                return true;
            }
            sa.rekey_at = Some(now + Duration::from_secs(5));
            return true;
        }
        let (Some(chosen), Some(nr), Some(ke)) =
            (find_sa(payloads), find_nonce(payloads), find_ke(payloads))
        else {
            return true;
        };
        let Some(choice) = accept_ike(&policies, chosen)
            .filter(|c| c.group == dh.group() && ke.group == c.group.number())
        else {
            self.fail(
                peer,
                "READY",
                FailureReason::NoPolicyMatch(format!(
                    "{peer} answered our IKE SA rekey with a proposal we did not offer"
                )),
                out,
            );
            return true;
        };
        let Some(peer_spi) = chosen
            .proposals
            .first()
            .and_then(|p| <[u8; 8]>::try_from(p.spi.as_slice()).ok())
        else {
            return true;
        };
        let Ok(shared) = dh.agree(&ke.data) else {
            return true;
        };
        let Some(old_keys) = sa.keys.as_ref() else {
            return true;
        };
        let keys = IkeSaKeys::rekey(
            old_keys,
            choice.suite,
            shared.as_bytes(),
            &ni,
            nr,
            &new_spi,
            &peer_spi,
        );
        let collision = sa.rekey_collision.take();
        let ours_min = ni.as_slice().min(nr.as_slice()).to_vec();
        self.rekeyed_sa(
            now,
            sa,
            Role::Initiator,
            new_spi,
            peer_spi,
            keys,
            choice.group,
            ni,
            nr.clone(),
            out,
        );
        if let Some((theirs_spi, theirs_min)) = collision {
            // Both rekeys went through (2.8.2): the new SA made with the
            // lowest of the four nonces is redundant and deleted by its
            // initiator; the other's initiator deletes the old SA.
            if ours_min < theirs_min {
                info!(target: "ipsecgw::ike::v2", %peer, "simultaneous IKE SA rekey: ours has the lowest nonce and is deleted");
                if let Some(mut a) = self.sas.remove(&new_spi) {
                    self.send_delete_ike_once(now, &mut a, out);
                    self.drop_sa(&a, false, "duplicate rekey", out);
                }
                return true;
            }
            info!(target: "ipsecgw::ike::v2", %peer, "simultaneous IKE SA rekey: the peer's has the lowest nonce; ours stays");
            self.adopt_from_redundant(now, theirs_spi, new_spi, out);
        }
        // We rekeyed: we delete the old SA.
        sa.queue.clear();
        self.send_request(
            now,
            sa,
            exchange::INFORMATIONAL,
            &[super::informational::delete_ike_payload()],
            Sent::DeleteIke,
            2,
            out,
        );
        true
    }

    /// After a simultaneous IKE SA rekey: the peer's new SA `redundant`
    /// goes (the peer deletes it); its children and queued work move to
    /// ours, `keep`.
    fn adopt_from_redundant(
        &mut self,
        now: Instant,
        redundant: [u8; 8],
        keep: [u8; 8],
        out: &mut Vec<Output>,
    ) {
        for c in self
            .children
            .values_mut()
            .filter(|c| c.ike_spi == redundant)
        {
            c.ike_spi = keep;
        }
        let timeout = self.half_open_timeout();
        let (queue, pending) = match self.sas.get_mut(&redundant) {
            Some(b) => {
                b.state = State::Retiring;
                b.rekey_at = None;
                b.dpd_next = None;
                b.expires = Some(now + timeout);
                (std::mem::take(&mut b.queue), std::mem::take(&mut b.pending))
            }
            None => return,
        };
        if let Some(mut a) = self.sas.remove(&keep) {
            a.queue
                .extend(queue.into_iter().filter(|q| !matches!(q, Queued::RekeyIke)));
            a.pending.extend(pending);
            self.pump(now, &mut a, out);
            self.sas.insert(keep, a);
        }
    }

    /// Responder: the peer rekeys the IKE SA.
    fn ike_rekey_request(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        mid: u32,
        offer: &SaV2,
        payloads: &[PayloadV2],
        out: &mut Vec<Output>,
    ) {
        let peer = sa.peer;
        let Some(cfg) = self.peer_config(peer) else {
            return;
        };
        let policies = cfg.ikev2_policies.clone();
        if sa
            .outstanding
            .as_ref()
            .is_some_and(|o| matches!(o.what, Sent::Child { .. }))
        {
            // A child exchange of ours is under way: the peer retries (2.25).
            self.send_response(
                sa,
                exchange::CREATE_CHILD_SA,
                mid,
                &[notify(nt::TEMPORARY_FAILURE, Vec::new())],
                out,
            );
            return;
        }
        // Our own rekey of this IKE SA under way too (both timers fired
        // together) is answered as usual (2.25.2): refusing it, as both
        // sides did, made each retry at the same moment and collide again
        // until the SA expired with its children. Our rekey's answer
        // settles which of the two new SAs stays (2.8.2).
        let collided = sa
            .outstanding
            .as_ref()
            .is_some_and(|o| matches!(o.what, Sent::RekeyIke { .. }));
        let (Some(ni), Some(ke)) = (find_nonce(payloads), find_ke(payloads)) else {
            self.send_response(
                sa,
                exchange::CREATE_CHILD_SA,
                mid,
                &[notify(nt::INVALID_SYNTAX, Vec::new())],
                out,
            );
            return;
        };
        let (choice, mut chosen) = match choose_ike(&policies, offer, ke.group) {
            Ok(c) => c,
            Err(IkeRefusal::WrongGroup(g)) => {
                self.send_response(
                    sa,
                    exchange::CREATE_CHILD_SA,
                    mid,
                    &[notify(
                        nt::INVALID_KE_PAYLOAD,
                        g.number().to_be_bytes().to_vec(),
                    )],
                    out,
                );
                return;
            }
            Err(IkeRefusal::NoMatch(text)) => {
                self.fail(
                    peer,
                    "READY",
                    FailureReason::NoPolicyMatch(format!("IKE SA rekey: {text}")),
                    out,
                );
                self.send_response(
                    sa,
                    exchange::CREATE_CHILD_SA,
                    mid,
                    &[notify(nt::NO_PROPOSAL_CHOSEN, Vec::new())],
                    out,
                );
                return;
            }
        };
        let Ok(peer_spi) = <[u8; 8]>::try_from(chosen.spi.as_slice()) else {
            self.send_response(
                sa,
                exchange::CREATE_CHILD_SA,
                mid,
                &[notify(nt::INVALID_SYNTAX, Vec::new())],
                out,
            );
            return;
        };
        let Ok(dh) = DhPrivate::generate(choice.group, &self.rng) else {
            return;
        };
        let public = dh.public_value().to_vec();
        let Ok(shared) = dh.agree(&ke.data) else {
            self.send_response(
                sa,
                exchange::CREATE_CHILD_SA,
                mid,
                &[notify(nt::INVALID_SYNTAX, Vec::new())],
                out,
            );
            return;
        };
        let our_spi = self.new_ike_spi();
        let nr = self.new_nonce();
        chosen.spi = our_spi.to_vec();
        let resp = vec![
            PayloadV2::Sa(SaV2 {
                proposals: vec![chosen],
            }),
            PayloadV2::Nonce(nr.clone()),
            PayloadV2::Ke(KeV2 {
                group: choice.group.number(),
                data: public,
            }),
        ];
        self.send_response(sa, exchange::CREATE_CHILD_SA, mid, &resp, out);
        let Some(old_keys) = sa.keys.as_ref() else {
            return;
        };
        let keys = IkeSaKeys::rekey(
            old_keys,
            choice.suite,
            shared.as_bytes(),
            ni,
            &nr,
            &peer_spi,
            &our_spi,
        );
        if collided {
            sa.rekey_collision = Some((our_spi, ni.as_slice().min(nr.as_slice()).to_vec()));
        }
        // The rekey's initiator is the new SA's original initiator.
        self.rekeyed_sa(
            now,
            sa,
            Role::Responder,
            peer_spi,
            our_spi,
            keys,
            choice.group,
            ni.clone(),
            nr,
            out,
        );
    }
}
