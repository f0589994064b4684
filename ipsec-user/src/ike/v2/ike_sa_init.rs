//! IKE_SA_INIT (RFC 7296 1.2): proposals, KE, nonces, NAT detection,
//! fragmentation support; INVALID_KE_PAYLOAD and COOKIE round trips in
//! both roles. The responder keeps no state for a request it answers with
//! a cookie, an INVALID_KE_PAYLOAD or NO_PROPOSAL_CHOSEN.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use sha1::{Digest, Sha1};
use tracing::{debug, info};

use super::engine::Engine;
use super::proposal::{
    IkeRefusal, accept_ike, choose_ike, describe_ike_offer, describe_policies, ike_offer,
    preferred_group,
};
use super::sa::{IkeSa, IkeSaStart, Nat, Outstanding, Sent, State};
use crate::algo::DhGroup;
use crate::ike::config::SelectorId;
use crate::ike::crypto::DhPrivate;
use crate::ike::crypto::keys_v2::IkeSaKeys;
use crate::ike::failure::FailureReason;
use crate::ike::output::Output;
use crate::ike::status::Role;
use crate::ike::wire::v2::{
    HeaderV2, KeV2, MessageV2Repr, NotifyV2, PayloadV2, emit_message, exchange, flags, notify as nt,
};

/// IKE_SA_INIT restarts (cookie, INVALID_KE) before giving up: a peer
/// that keeps asking for another group is looping.
const MAX_RESTARTS: u32 = 3;

/// RFC 7427 hash algorithms we would verify signatures with.
const SIGNATURE_HASHES: [u8; 6] = [0, 2, 0, 3, 0, 4];

pub(super) fn natd(spi_i: &[u8; 8], spi_r: &[u8; 8], addr: SocketAddrV4) -> Vec<u8> {
    let mut h = Sha1::new();
    h.update(spi_i);
    h.update(spi_r);
    h.update(addr.ip().octets());
    h.update(addr.port().to_be_bytes());
    h.finalize().to_vec()
}

fn status(kind: u16, data: Vec<u8>) -> PayloadV2 {
    PayloadV2::Notify(NotifyV2 {
        protocol: 0,
        spi: Vec::new(),
        kind,
        data,
    })
}

pub(super) fn notifies(payloads: &[PayloadV2]) -> impl Iterator<Item = &NotifyV2> {
    payloads.iter().filter_map(|p| match p {
        PayloadV2::Notify(n) => Some(n),
        _ => None,
    })
}

/// The first error notify of a response, if any.
pub(super) fn error_notify(payloads: &[PayloadV2]) -> Option<&NotifyV2> {
    notifies(payloads).find(|n| nt::is_error(n.kind))
}

pub(super) fn notify_name(kind: u16) -> String {
    match kind {
        nt::NO_PROPOSAL_CHOSEN => "NO_PROPOSAL_CHOSEN".into(),
        nt::INVALID_KE_PAYLOAD => "INVALID_KE_PAYLOAD".into(),
        nt::AUTHENTICATION_FAILED => "AUTHENTICATION_FAILED".into(),
        nt::TS_UNACCEPTABLE => "TS_UNACCEPTABLE".into(),
        nt::INVALID_SYNTAX => "INVALID_SYNTAX".into(),
        nt::TEMPORARY_FAILURE => "TEMPORARY_FAILURE".into(),
        nt::CHILD_SA_NOT_FOUND => "CHILD_SA_NOT_FOUND".into(),
        nt::SINGLE_PAIR_REQUIRED => "SINGLE_PAIR_REQUIRED".into(),
        nt::NO_ADDITIONAL_SAS => "NO_ADDITIONAL_SAS".into(),
        nt::INTERNAL_ADDRESS_FAILURE => "INTERNAL_ADDRESS_FAILURE".into(),
        nt::FAILED_CP_REQUIRED => "FAILED_CP_REQUIRED".into(),
        nt::INVALID_SELECTORS => "INVALID_SELECTORS".into(),
        k => format!("notify {k}"),
    }
}

impl Engine {
    /// A new IKE SA toward `peer`, carrying `selectors` (the first in
    /// IKE_AUTH).
    pub(super) fn start_ike_sa(
        &mut self,
        now: Instant,
        peer: Ipv4Addr,
        selectors: Vec<SelectorId>,
        out: &mut Vec<Output>,
    ) {
        let Some(cfg) = self.peer_config(peer) else {
            return;
        };
        let name = cfg.name.clone();
        let Some(group) = preferred_group(&cfg.ikev2_policies) else {
            self.fail(
                peer,
                "IDLE",
                FailureReason::NoPolicyMatch(format!(
                    "crypto map {name}: no crypto ikev2 policy to offer"
                )),
                out,
            );
            return;
        };
        if cfg.ikev2_psks_for(peer).0.is_empty() {
            self.fail(
                peer,
                "INIT_DONE",
                FailureReason::NoPeerConfig(format!("tunnel-group {peer}: no ikev2 local-authentication pre-shared-key; not negotiating")),
                out,
            );
            return;
        }
        let initiators = self
            .sas
            .values()
            .filter(|s| s.is_initiator() && !s.state.is_established())
            .count();
        if initiators >= self.local.max_half_open_total {
            self.fail(
                peer,
                "IDLE",
                FailureReason::Limit(format!(
                    "half-open IKEv2 SA limit reached ({initiators}); refusing {peer}"
                )),
                out,
            );
            return;
        }
        let dh = match DhPrivate::generate(group, &self.rng) {
            Ok(d) => d,
            Err(e) => {
                self.fail(peer, "IDLE", FailureReason::Protocol(e.to_string()), out);
                return;
            }
        };
        let spi_i = self.new_ike_spi();
        let id = self.alloc_id();
        let initial_contact = !self.runtime.get(&peer).is_some_and(|r| r.contacted);
        let mut sa = IkeSa {
            dh: Some(dh),
            ni: self.new_nonce(),
            next_mid: 1,
            pending: selectors,
            initial_contact,
            ..IkeSa::new(IkeSaStart {
                id,
                peer,
                role: Role::Initiator,
                state: State::InitSent,
                spi_i,
                spi_r: [0; 8],
                local: SocketAddrV4::new(self.local.address, self.local.ike_port),
                remote: SocketAddrV4::new(peer, 500),
                group,
                now,
            })
        };
        info!(target: "ipsecgw::ike::v2", %peer, sa = id, group = group.number(), "IKEv2: sending IKE_SA_INIT");
        self.send_init(now, &mut sa, out);
        self.sas.insert(spi_i, sa);
    }

    /// (Re)sends our IKE_SA_INIT request with the SA's current group,
    /// nonce and cookie.
    fn send_init(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        let Some(cfg) = self.peer_config(sa.peer) else {
            return;
        };
        let Some(dh) = sa.dh.as_ref() else { return };
        let mut payloads = Vec::new();
        if let Some(c) = &sa.cookie {
            payloads.push(status(nt::COOKIE, c.clone()));
        }
        payloads.push(PayloadV2::Sa(ike_offer(&cfg.ikev2_policies, sa.group, &[])));
        payloads.push(PayloadV2::Ke(KeV2 {
            group: sa.group.number(),
            data: dh.public_value().to_vec(),
        }));
        payloads.push(PayloadV2::Nonce(sa.ni.clone()));
        let zero = [0u8; 8];
        let src = if cfg.force_encap {
            // Claim a NAT, as strongSwan's libipsec does, so ESP goes in UDP.
            self.random_bytes(20)
        } else {
            natd(&sa.spi_i, &zero, sa.local)
        };
        payloads.push(status(nt::NAT_DETECTION_SOURCE_IP, src));
        payloads.push(status(
            nt::NAT_DETECTION_DESTINATION_IP,
            natd(&sa.spi_i, &zero, sa.remote),
        ));
        payloads.push(status(nt::IKEV2_FRAGMENTATION_SUPPORTED, Vec::new()));
        payloads.push(status(
            nt::SIGNATURE_HASH_ALGORITHMS,
            SIGNATURE_HASHES.to_vec(),
        ));
        let header = HeaderV2 {
            spi_i: sa.spi_i,
            spi_r: [0; 8],
            next_payload: 0,
            exchange: exchange::IKE_SA_INIT,
            flags: flags::INITIATOR,
            message_id: 0,
            length: 0,
        };
        let data = emit_message(header, &payloads);
        sa.init_req = data.clone();
        out.push(Output::Send {
            from: sa.local,
            to: sa.remote,
            data: data.clone(),
        });
        sa.outstanding = Some(Outstanding {
            mid: 0,
            datagrams: vec![data],
            sent: 1,
            tries: self.local.retransmit_tries,
            next: now + self.local.retransmit_base,
            interval: self.local.retransmit_base,
            what: Sent::Init,
        });
    }

    /// A stateless answer to an IKE_SA_INIT request: one notify.
    fn stateless_reply(
        &self,
        from: SocketAddrV4,
        to: SocketAddrV4,
        req: &HeaderV2,
        kind: u16,
        data: Vec<u8>,
        out: &mut Vec<Output>,
    ) {
        let header = HeaderV2 {
            spi_i: req.spi_i,
            spi_r: [0; 8],
            next_payload: 0,
            exchange: exchange::IKE_SA_INIT,
            flags: flags::RESPONSE,
            message_id: 0,
            length: 0,
        };
        out.push(Output::Send {
            from: to,
            to: from,
            data: emit_message(header, &[status(kind, data)]),
        });
    }

    /// Responder: IKE_SA_INIT request.
    pub(super) fn init_request(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        to: SocketAddrV4,
        data: &[u8],
        msg: &MessageV2Repr,
        out: &mut Vec<Output>,
    ) {
        let h = msg.header;
        let peer = *from.ip();
        if h.spi_r != [0; 8] || h.message_id != 0 || !h.from_initiator() {
            self.stats.malformed_drops += 1;
            return;
        }
        let Some(cfg) = self.peer_config(peer) else {
            if self.v1_peers.contains(&peer) {
                // An IKEv1-only entry: say so, so the peer can fall back.
                self.stateless_reply(from, to, &h, nt::NO_PROPOSAL_CHOSEN, Vec::new(), out);
            } else {
                self.stats.unconfigured_first_msgs += 1;
                if self.quiet_log.allow(now).is_some() {
                    debug!(target: "ipsecgw::ike::v2", %from, "IKE_SA_INIT from an address no crypto map names: dropped");
                }
            }
            return;
        };
        // A retransmission of a request we answered: the same answer.
        if let Some(spi) = self.by_init.get(&(peer, h.spi_i))
            && let Some(sa) = self.sas.get(spi)
        {
            if sa.state == State::InitDone && sa.init_req == data {
                out.push(Output::Send {
                    from: sa.local,
                    to: sa.remote,
                    data: sa.init_resp.clone(),
                });
            }
            return;
        }
        let mut sa_p = None;
        let mut ke = None;
        let mut ni = None;
        for p in &msg.payloads {
            match p {
                PayloadV2::Sa(s) => sa_p = Some(s),
                PayloadV2::Ke(k) => ke = Some(k),
                PayloadV2::Nonce(n) => ni = Some(n),
                _ => {}
            }
        }
        let (Some(offer), Some(ke), Some(ni)) = (sa_p, ke, ni) else {
            self.stats.malformed_drops += 1;
            self.stateless_reply(from, to, &h, nt::INVALID_SYNTAX, Vec::new(), out);
            return;
        };
        // Half-open limit and cookies, before any expensive work.
        let half_open = self.half_open.len();
        let limit = self.local.ikev2.max_in_negotiation.max(1);
        if half_open >= limit {
            self.stats.half_open_drops += 1;
            return;
        }
        if let Some(pct) = self.local.ikev2.cookie_challenge_percent
            && half_open * 100 >= limit * pct as usize
        {
            let offered = notifies(&msg.payloads).find(|n| n.kind == nt::COOKIE);
            let valid = offered.is_some_and(|c| self.cookies.check(&c.data, ni, peer, &h.spi_i));
            if !valid {
                if offered.is_some() {
                    self.stats.bad_cookie_drops += 1;
                }
                self.stats.cookies_sent += 1;
                let c = self.cookies.make(ni, peer, &h.spi_i).to_vec();
                self.stateless_reply(from, to, &h, nt::COOKIE, c, out);
                return;
            }
        }
        let policies = cfg.ikev2_policies.clone();
        let force_encap = cfg.force_encap;
        let (choice, chosen) = match choose_ike(&policies, offer, ke.group) {
            Ok(c) => c,
            Err(IkeRefusal::WrongGroup(g)) => {
                debug!(target: "ipsecgw::ike::v2", %peer, got = ke.group, want = g.number(), "IKE_SA_INIT: asking for another DH group");
                self.stateless_reply(
                    from,
                    to,
                    &h,
                    nt::INVALID_KE_PAYLOAD,
                    g.number().to_be_bytes().to_vec(),
                    out,
                );
                return;
            }
            Err(IkeRefusal::NoMatch(text)) => {
                self.stateless_reply(from, to, &h, nt::NO_PROPOSAL_CHOSEN, Vec::new(), out);
                self.fail(
                    peer,
                    "INIT_RECEIVED",
                    FailureReason::NoPolicyMatch(format!("no IKEv2 proposal chosen: {text}")),
                    out,
                );
                return;
            }
        };
        let dh = match DhPrivate::generate(choice.group, &self.rng) {
            Ok(d) => d,
            Err(e) => {
                self.fail(
                    peer,
                    "INIT_RECEIVED",
                    FailureReason::Protocol(e.to_string()),
                    out,
                );
                return;
            }
        };
        let public = dh.public_value().to_vec();
        let shared = match dh.agree(&ke.data) {
            Ok(s) => s,
            Err(e) => {
                self.stateless_reply(from, to, &h, nt::INVALID_SYNTAX, Vec::new(), out);
                self.fail(
                    peer,
                    "INIT_RECEIVED",
                    FailureReason::Protocol(format!("the peer's KE payload was refused: {e}")),
                    out,
                );
                return;
            }
        };
        let spi_r = self.new_ike_spi();
        let nr = self.new_nonce();
        let keys = IkeSaKeys::derive(choice.suite, ni, &nr, shared.as_bytes(), &h.spi_i, &spi_r);
        // NAT detection (request hashes use SPIr = 0).
        let zero = [0u8; 8];
        let peer_natd_src: Vec<&NotifyV2> = notifies(&msg.payloads)
            .filter(|n| n.kind == nt::NAT_DETECTION_SOURCE_IP)
            .collect();
        let peer_natd_dst =
            notifies(&msg.payloads).find(|n| n.kind == nt::NAT_DETECTION_DESTINATION_IP);
        let mut nat = Nat::default();
        if !peer_natd_src.is_empty() {
            let want = natd(&h.spi_i, &zero, from);
            nat.remote_behind = !peer_natd_src.iter().any(|n| n.data == want);
        }
        if let Some(d) = peer_natd_dst {
            nat.local_behind = d.data != natd(&h.spi_i, &zero, to);
        }
        let peer_frag =
            notifies(&msg.payloads).any(|n| n.kind == nt::IKEV2_FRAGMENTATION_SUPPORTED);
        let mut payloads = vec![PayloadV2::Sa(crate::ike::wire::v2::SaV2 {
            proposals: vec![chosen],
        })];
        payloads.push(PayloadV2::Ke(KeV2 {
            group: choice.group.number(),
            data: public,
        }));
        payloads.push(PayloadV2::Nonce(nr.clone()));
        if !peer_natd_src.is_empty() {
            let src = if force_encap {
                self.random_bytes(20)
            } else {
                natd(&h.spi_i, &spi_r, to)
            };
            payloads.push(status(nt::NAT_DETECTION_SOURCE_IP, src));
            payloads.push(status(
                nt::NAT_DETECTION_DESTINATION_IP,
                natd(&h.spi_i, &spi_r, from),
            ));
        }
        if peer_frag {
            payloads.push(status(nt::IKEV2_FRAGMENTATION_SUPPORTED, Vec::new()));
        }
        payloads.push(status(
            nt::SIGNATURE_HASH_ALGORITHMS,
            SIGNATURE_HASHES.to_vec(),
        ));
        let header = HeaderV2 {
            spi_i: h.spi_i,
            spi_r,
            next_payload: 0,
            exchange: exchange::IKE_SA_INIT,
            flags: flags::RESPONSE,
            message_id: 0,
            length: 0,
        };
        let resp = emit_message(header, &payloads);
        out.push(Output::Send {
            from: to,
            to: from,
            data: resp.clone(),
        });
        let id = self.alloc_id();
        debug!(target: "ipsecgw::ike::v2", %peer, sa = id, suite = ?choice.suite, group = choice.group.number(), "INIT_DONE");
        let sa = IkeSa {
            keys: Some(keys),
            ni: ni.clone(),
            nr,
            init_req: data.to_vec(),
            init_resp: resp,
            fragmentation: peer_frag,
            nat,
            peer_mid: 1,
            lifetime_s: self.ike_lifetime_s(policies.first().map_or(86400, |p| p.lifetime_s)),
            ..IkeSa::new(IkeSaStart {
                id,
                peer,
                role: Role::Responder,
                state: State::InitDone,
                spi_i: h.spi_i,
                spi_r,
                local: to,
                remote: from,
                group: choice.group,
                now,
            })
        };
        self.by_init.insert((peer, h.spi_i), spi_r);
        self.half_open.insert(spi_r);
        self.sas.insert(spi_r, sa);
    }

    /// Initiator: the answer to our IKE_SA_INIT.
    pub(super) fn init_response(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        _to: SocketAddrV4,
        data: &[u8],
        msg: &MessageV2Repr,
        out: &mut Vec<Output>,
    ) {
        let h = msg.header;
        let Some(mut sa) = self.sas.remove(&h.spi_i) else {
            self.stats.unknown_sa_drops += 1;
            return;
        };
        if sa.state != State::InitSent
            || !sa.is_initiator()
            || from.ip() != sa.remote.ip()
            || h.message_id != 0
        {
            self.stats.unknown_sa_drops += 1;
            self.sas.insert(h.spi_i, sa);
            return;
        }
        if self.init_response_inner(now, &mut sa, data, msg, out) {
            self.sas.insert(h.spi_i, sa);
        }
    }

    fn restart_init(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        sa.restarts += 1;
        sa.outstanding = None;
        self.send_init(now, sa, out);
    }

    /// False when the SA is gone.
    fn init_response_inner(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        data: &[u8],
        msg: &MessageV2Repr,
        out: &mut Vec<Output>,
    ) -> bool {
        let h = msg.header;
        let peer = sa.peer;
        let Some(cfg) = self.peer_config(peer) else {
            return false;
        };
        let policies = cfg.ikev2_policies.clone();
        let force_encap = cfg.force_encap;
        let nat_t = cfg.nat_t;
        if let Some(c) = notifies(&msg.payloads).find(|n| n.kind == nt::COOKIE) {
            if sa.restarts >= MAX_RESTARTS || c.data.is_empty() || c.data.len() > 64 {
                self.fail(
                    peer,
                    "INIT_SENT",
                    FailureReason::PeerRejected(format!(
                        "{} keeps answering with a COOKIE",
                        sa.remote
                    )),
                    out,
                );
                self.drop_sa(sa, false, "cookie loop", out);
                return false;
            }
            debug!(target: "ipsecgw::ike::v2", %peer, "IKE_SA_INIT: the responder asks for a cookie; retrying with it");
            sa.cookie = Some(c.data.clone());
            self.restart_init(now, sa, out);
            return true;
        }
        if let Some(n) = error_notify(&msg.payloads) {
            match n.kind {
                nt::INVALID_KE_PAYLOAD => {
                    let want = <[u8; 2]>::try_from(n.data.get(..2).unwrap_or_default())
                        .ok()
                        .map(u16::from_be_bytes);
                    let group = want
                        .and_then(DhGroup::from_number)
                        .filter(|g| policies.iter().any(|p| p.groups.contains(g)));
                    match group {
                        Some(g) if sa.restarts < MAX_RESTARTS && g != sa.group => {
                            info!(target: "ipsecgw::ike::v2", %peer, from = sa.group.number(), to = g.number(), "IKE_SA_INIT: the responder wants another DH group (INVALID_KE_PAYLOAD); retrying");
                            match DhPrivate::generate(g, &self.rng) {
                                Ok(d) => {
                                    sa.dh = Some(d);
                                    sa.group = g;
                                    self.restart_init(now, sa, out);
                                    return true;
                                }
                                Err(e) => {
                                    self.fail(
                                        peer,
                                        "INIT_SENT",
                                        FailureReason::Protocol(e.to_string()),
                                        out,
                                    );
                                }
                            }
                        }
                        _ => {
                            let asked =
                                want.map_or("no group".to_string(), |g| format!("group {g}"));
                            let text = if sa.restarts >= MAX_RESTARTS
                                || want == Some(sa.group.number())
                            {
                                format!(
                                    "INVALID_KE_PAYLOAD loop: {} keeps asking for {asked} after {} retries",
                                    sa.remote, sa.restarts
                                )
                            } else {
                                format!(
                                    "{} asks for {asked} (INVALID_KE_PAYLOAD), which no crypto ikev2 policy allows; we allow {}",
                                    sa.remote,
                                    describe_policies(&policies)
                                )
                            };
                            self.fail(peer, "INIT_SENT", FailureReason::NoPolicyMatch(text), out);
                        }
                    }
                }
                nt::NO_PROPOSAL_CHOSEN => {
                    let offer = ike_offer(&policies, sa.group, &[]);
                    self.fail(
                        peer,
                        "INIT_SENT",
                        FailureReason::NoPolicyMatch(format!(
                            "{} refused all our IKEv2 proposals (NO_PROPOSAL_CHOSEN); we offered {}",
                            sa.remote,
                            describe_ike_offer(&offer)
                        )),
                        out,
                    );
                    self.fall_back(peer, &sa.pending);
                    sa.pending.clear();
                }
                k => {
                    self.fail(
                        peer,
                        "INIT_SENT",
                        FailureReason::PeerRejected(format!(
                            "{} refused IKE_SA_INIT with {}",
                            sa.remote,
                            notify_name(k)
                        )),
                        out,
                    );
                }
            }
            self.drop_sa(sa, false, "refused", out);
            return false;
        }
        let mut chosen = None;
        let mut ke = None;
        let mut nr = None;
        for p in &msg.payloads {
            match p {
                PayloadV2::Sa(s) => chosen = Some(s),
                PayloadV2::Ke(k) => ke = Some(k),
                PayloadV2::Nonce(n) => nr = Some(n),
                _ => {}
            }
        }
        let (Some(chosen), Some(ke), Some(nr)) = (chosen, ke, nr) else {
            self.stats.malformed_drops += 1;
            return true; // a forged answer must not end our attempt
        };
        let Some(choice) = accept_ike(&policies, chosen)
            .filter(|c| c.group == sa.group && ke.group == sa.group.number())
        else {
            self.fail(
                peer,
                "INIT_SENT",
                FailureReason::NoPolicyMatch(format!(
                    "{} chose {}, which we did not offer",
                    sa.remote,
                    describe_ike_offer(chosen)
                )),
                out,
            );
            self.drop_sa(sa, false, "bad choice", out);
            return false;
        };
        let Some(dh) = sa.dh.take() else { return false };
        let shared = match dh.agree(&ke.data) {
            Ok(s) => s,
            Err(e) => {
                self.fail(
                    peer,
                    "INIT_SENT",
                    FailureReason::Protocol(format!("the responder's KE payload was refused: {e}")),
                    out,
                );
                self.drop_sa(sa, false, "bad KE", out);
                return false;
            }
        };
        sa.spi_r = h.spi_r;
        sa.nr = nr.clone();
        sa.keys = Some(IkeSaKeys::derive(
            choice.suite,
            &sa.ni,
            nr,
            shared.as_bytes(),
            &sa.spi_i,
            &sa.spi_r,
        ));
        sa.init_resp = data.to_vec();
        sa.outstanding = None;
        sa.fragmentation =
            notifies(&msg.payloads).any(|n| n.kind == nt::IKEV2_FRAGMENTATION_SUPPORTED);
        sa.lifetime_s = self.ike_lifetime_s(
            policies
                .iter()
                .find(|p| {
                    p.encryption.contains(&choice.suite.encr) && p.groups.contains(&choice.group)
                })
                .map_or(86400, |p| p.lifetime_s),
        );
        let src: Vec<&NotifyV2> = notifies(&msg.payloads)
            .filter(|n| n.kind == nt::NAT_DETECTION_SOURCE_IP)
            .collect();
        if !src.is_empty() {
            let want = natd(&sa.spi_i, &sa.spi_r, sa.remote);
            sa.nat.remote_behind = !src.iter().any(|n| n.data == want);
        }
        if let Some(d) =
            notifies(&msg.payloads).find(|n| n.kind == nt::NAT_DETECTION_DESTINATION_IP)
        {
            sa.nat.local_behind = d.data != natd(&sa.spi_i, &sa.spi_r, sa.local);
        }
        if nat_t && (sa.nat.local_behind || sa.nat.remote_behind || force_encap) && !src.is_empty()
        {
            sa.nat.floated = true;
            sa.local.set_port(self.local.natt_port);
            sa.remote.set_port(self.local.natt_port);
        }
        self.send_auth(now, sa, out)
    }

    /// Selectors of an IKEv2 attempt the peer refused go to IKEv1 when
    /// the entry has a transform set too.
    pub(super) fn fall_back(&mut self, peer: Ipv4Addr, selectors: &[SelectorId]) {
        let Some(cfg) = self.peer_config(peer) else {
            return;
        };
        if cfg.wants_ikev1() {
            info!(target: "ipsecgw::ike::v2", %peer, "the peer refused IKEv2: falling back to IKEv1");
            for s in selectors {
                self.fallbacks.push((peer, *s));
            }
        }
    }

    /// An IKE SA attempt toward `failed` gave up: the next `set peer`
    /// address gets the selectors, or IKEv1 when the entry allows it.
    pub(super) fn try_backup(
        &mut self,
        now: Instant,
        failed: Ipv4Addr,
        pending: Vec<SelectorId>,
        out: &mut Vec<Output>,
    ) {
        if pending.is_empty() {
            return;
        }
        let Some(cfg) = self.peer_config(failed) else {
            return;
        };
        let pos = cfg.addresses.iter().position(|a| *a == failed);
        match pos.and_then(|p| cfg.addresses.get(p + 1)).copied() {
            Some(next) => {
                info!(target: "ipsecgw::ike::v2", %failed, backup = %next, "trying the next peer of the crypto map");
                self.start_ike_sa(now, next, pending, out);
            }
            None => self.fall_back(failed, &pending),
        }
    }
}
