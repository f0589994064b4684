//! Informational exchanges: DELETE (ISAKMP and ESP), DPD R-U-THERE /
//! R-U-THERE-ACK (RFC 3706), INITIAL-CONTACT, INVALID-SPI and the error
//! notifies of the other exchanges. Protected ones carry HASH(1) =
//! prf(SKEYID_a, M-ID | N/D) and their own IV from the phase-1 IV.

use std::net::Ipv4Addr;
use std::time::Instant;

use tracing::{debug, info, warn};

use super::engine::{Engine, FailureReason, Output};
use super::exchange::{hash_matches, prepend_hash};
use super::message::{Chain, DeletePayload, Header, NotifyPayload, nt, pt, xt};
use super::phase1::policy_list;
use super::proposal::p2;
use super::sa::{IkeSa, Role};

impl Engine {
    /// Send a protected informational with `rest` (N or D payloads).
    pub(super) fn send_info(&self, sa: &IkeSa, rest: Chain, out: &mut Vec<Output>) {
        let Some(keys) = sa.keys.as_ref() else {
            return;
        };
        if sa.policy.is_none() || sa.cipher.is_none() {
            return;
        }
        let mid = self.new_mid();
        let hash = keys.hash1(mid, &rest.bytes());
        let chain = prepend_hash(hash.to_vec(), &rest);
        let Some(iv) = sa.exchange_iv(mid) else {
            return;
        };
        if let Some((data, _)) = Self::sealed(sa, xt::INFORMATIONAL, mid, &chain, &iv) {
            Self::send(out, sa, data);
        }
    }

    /// A notify about `protocol`, protected when phase 1 is up.
    pub(super) fn send_notify(
        &self,
        _now: Instant,
        sa: &IkeSa,
        protocol: u8,
        ntype: u16,
        spi: Vec<u8>,
        out: &mut Vec<Output>,
    ) {
        let mut rest = Chain::new();
        rest.push(
            pt::NOTIFY,
            NotifyPayload {
                protocol,
                ntype,
                spi,
                data: vec![],
            }
            .emit(),
        );
        self.send_info(sa, rest, out);
    }

    pub(super) fn send_isakmp_delete(&self, _now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        let mut rest = Chain::new();
        rest.push(
            pt::DELETE,
            DeletePayload {
                protocol: 1,
                spi_size: 16,
                spis: vec![sa.spi_bytes()],
            }
            .emit(),
        );
        self.send_info(sa, rest, out);
    }

    pub(super) fn send_esp_delete(
        &self,
        _now: Instant,
        sa: &mut IkeSa,
        inbound_spi: u32,
        out: &mut Vec<Output>,
    ) {
        let mut rest = Chain::new();
        let d = DeletePayload {
            protocol: p2::PROTO_ESP,
            spi_size: 4,
            spis: vec![inbound_spi.to_be_bytes().to_vec()],
        };
        rest.push(pt::DELETE, d.emit());
        self.send_info(sa, rest, out);
    }

    fn send_dpd(&self, sa: &IkeSa, ntype: u16, seq: u32, out: &mut Vec<Output>) {
        let mut rest = Chain::new();
        rest.push(
            pt::NOTIFY,
            NotifyPayload {
                protocol: 1,
                ntype,
                spi: sa.spi_bytes(),
                data: seq.to_be_bytes().to_vec(),
            }
            .emit(),
        );
        self.send_info(sa, rest, out);
    }

    /// The daemon got ESP with an SPI it does not know from `peer`: tell
    /// the peer (INVALID-SPI), at most once per interval.
    pub fn invalid_spi(&mut self, now: Instant, peer: Ipv4Addr, spi: u32) -> Vec<Output> {
        let mut out = Vec::new();
        if self.peer_config(peer).is_none() {
            return out;
        }
        let interval = self.local.invalid_spi_interval;
        let rt = self.runtime.entry(peer).or_default();
        if rt.last_invalid_spi.is_some_and(|t| now < t + interval) {
            return out;
        }
        rt.last_invalid_spi = Some(now);
        if let Some(sa) = self
            .sas
            .values()
            .filter(|s| s.peer == peer && s.state.is_active())
            .max_by_key(|s| s.id)
        {
            self.send_notify(
                now,
                sa,
                p2::PROTO_ESP,
                nt::INVALID_SPI,
                spi.to_be_bytes().to_vec(),
                &mut out,
            );
        }
        out
    }

    /// The peer restarted (INITIAL-CONTACT on the authenticated IKE SA
    /// `carrier`): every SA with it that is older than `carrier` is stale.
    /// Acted on once per IKE SA, and never on SAs newer than the carrier,
    /// so a replay of the message can drop nothing that came up since.
    pub(super) fn initial_contact(
        &mut self,
        now: Instant,
        carrier: &mut IkeSa,
        out: &mut Vec<Output>,
    ) {
        if std::mem::replace(&mut carrier.initial_contact_done, true) {
            debug!(peer = %carrier.peer, sa = carrier.id, "INITIAL-CONTACT again on this ISAKMP SA; ignored");
            return;
        }
        let (peer, newest) = (carrier.peer, carrier.id);
        let stale: Vec<u64> = self
            .sas
            .values()
            .filter(|s| s.peer == peer && s.id < newest)
            .map(|s| s.id)
            .collect();
        for id in stale {
            if let Some(s) = self.sas.remove(&id) {
                info!(%peer, sa = id, "INITIAL-CONTACT: dropping stale ISAKMP SA");
                out.push(Output::IsakmpDown {
                    peer,
                    icookie: s.icookie,
                    rcookie: s.rcookie,
                    reason: "peer sent INITIAL-CONTACT (it restarted)".into(),
                });
            }
        }
        let children: Vec<u32> = self
            .children
            .iter()
            .filter(|c| c.peer == peer && c.ike_sa < newest)
            .map(|c| c.inbound_spi)
            .collect();
        for spi in children {
            self.drop_child(now, spi, false, out);
        }
    }

    /// Remove every child SA with `peer` (it restarted or is dead).
    fn drop_children_of(&mut self, now: Instant, peer: Ipv4Addr, out: &mut Vec<Output>) {
        let children: Vec<u32> = self
            .children
            .iter()
            .filter(|c| c.peer == peer)
            .map(|c| c.inbound_spi)
            .collect();
        for spi in children {
            self.drop_child(now, spi, false, out);
        }
    }

    /// Our inbound SPI of the child SA with `peer` whose outbound SPI is
    /// `spi` (the peer names its inbound SPI, which is our outbound one).
    fn child_by_outbound(&self, peer: Ipv4Addr, spi: u32) -> Option<u32> {
        self.children
            .iter()
            .find(|c| c.peer == peer && c.outbound_spi == spi)
            .map(|c| c.inbound_spi)
    }

    /// Returns false when the IKE SA must be forgotten.
    pub(super) fn info_handle(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        hdr: &Header,
        data: &[u8],
        out: &mut Vec<Output>,
    ) -> bool {
        if !hdr.encrypted() {
            // Only meaningful before keys exist: the peer refused phase 1.
            if sa.keys.is_some() {
                return true;
            }
            let Ok(msg) = Self::plain_msg(hdr, data) else {
                return true;
            };
            for n in msg
                .all(pt::NOTIFY)
                .filter_map(|b| NotifyPayload::parse(b).ok())
            {
                if n.ntype == nt::NO_PROPOSAL_CHOSEN && sa.role == Role::Initiator {
                    let ours = self
                        .peer_config(sa.peer)
                        .map(|c| policy_list(&c.policies))
                        .unwrap_or_default();
                    let reason = format!(
                        "no ISAKMP policy matched: peer {} rejected all our proposals (NO-PROPOSAL-CHOSEN received); we offered: {ours}; compare the crypto isakmp policies on both sides",
                        sa.peer
                    );
                    self.fail_sa(sa, FailureReason::PeerRejected(reason), out);
                    return false;
                }
                debug!(peer = %sa.peer, ntype = n.ntype, "unprotected notify ignored");
            }
            return true;
        }
        if sa.info_mids.contains(hdr.mid) {
            self.stats.replayed_drops += 1;
            debug!(peer = %sa.peer, mid = format_args!("{:#010x}", hdr.mid), "informational with a message id used already (replay); dropped");
            return true;
        }
        let Some(iv) = sa.exchange_iv(hdr.mid) else {
            return true;
        };
        let Ok((msg, _)) = Self::open(sa, hdr, data, &iv) else {
            debug!(peer = %sa.peer, "informational did not decrypt; dropped");
            return true;
        };
        let Some(keys) = sa.keys.as_ref() else {
            return true;
        };
        let hash_ok = msg.payloads.first().map(|p| p.ptype) == Some(pt::HASH)
            && hash_matches(
                &keys.hash1(hdr.mid, msg.after_first()),
                msg.first(pt::HASH).unwrap_or_default(),
            );
        if !hash_ok {
            debug!(peer = %sa.peer, "informational with a bad HASH dropped");
            return true;
        }
        // Authentic: remember its id for the SA's life so that a replay
        // of it is dropped above, before it can delete anything again.
        if !sa.info_mids.insert(hdr.mid) {
            self.stats.mid_memory_full_drops += 1;
            debug!(peer = %sa.peer, "informational message-id memory of this ISAKMP SA is full; ignored");
            return true;
        }
        sa.last_heard = now;
        let mut keep = true;
        for d in msg
            .all(pt::DELETE)
            .filter_map(|b| DeletePayload::parse(b).ok())
        {
            match d.protocol {
                1 if d.spis.contains(&sa.spi_bytes()) => {
                    info!(peer = %sa.peer, sa = sa.id, "peer deleted the ISAKMP SA");
                    out.push(Output::IsakmpDown {
                        peer: sa.peer,
                        icookie: sa.icookie,
                        rcookie: sa.rcookie,
                        reason: "deleted by the peer".into(),
                    });
                    keep = false;
                }
                p2::PROTO_ESP => {
                    for s in &d.spis {
                        let Ok(b) = <[u8; 4]>::try_from(s.as_slice()) else {
                            continue;
                        };
                        let spi = u32::from_be_bytes(b);
                        if let Some(inb) = self.child_by_outbound(sa.peer, spi) {
                            info!(peer = %sa.peer, spi = format_args!("{spi:#010x}"), "peer deleted an IPsec SA");
                            self.drop_child(now, inb, false, out);
                        }
                    }
                }
                _ => {}
            }
        }
        for n in msg
            .all(pt::NOTIFY)
            .filter_map(|b| NotifyPayload::parse(b).ok())
        {
            match n.ntype {
                nt::R_U_THERE => {
                    let seq = be_u32(&n.data).unwrap_or(0);
                    self.send_dpd(sa, nt::R_U_THERE_ACK, seq, out);
                }
                nt::R_U_THERE_ACK => {
                    let seq = be_u32(&n.data);
                    if sa.dpd.outstanding.is_some() && seq == sa.dpd.outstanding {
                        sa.dpd.outstanding = None;
                        sa.dpd.sent = 0;
                        sa.dpd.next = self
                            .peer_config(sa.peer)
                            .and_then(|c| c.dpd_for(sa.peer))
                            .map(|d| now + d.threshold);
                    }
                }
                nt::INITIAL_CONTACT => self.initial_contact(now, sa, out),
                nt::NO_PROPOSAL_CHOSEN | nt::INVALID_ID_INFORMATION
                    if n.protocol == p2::PROTO_ESP =>
                {
                    // the peer refused one of our quick modes
                    let mid = sa
                        .quick
                        .iter()
                        .filter(|(_, t)| t.role == Role::Initiator)
                        .map(|(m, _)| *m)
                        .next();
                    let task = mid.and_then(|mid| sa.quick.remove(&mid));
                    if let Some(t) = &task {
                        self.spis.remove(&t.our_spi);
                    }
                    let reason = if n.ntype == nt::NO_PROPOSAL_CHOSEN {
                        let ours = self
                            .peer_config(sa.peer)
                            .map(|c| {
                                let ts: Vec<String> =
                                    c.transforms.iter().map(|t| t.to_string()).collect();
                                let pfs = c.pfs.map(|g| format!(" pfs {g}")).unwrap_or_default();
                                format!("{}{pfs}", ts.join(", "))
                            })
                            .unwrap_or_default();
                        FailureReason::NoTransformMatch(format!(
                            "no transform set matched: peer {} rejected our quick mode proposals (NO-PROPOSAL-CHOSEN received); we offered: {ours}; compare transform sets and PFS",
                            sa.peer
                        ))
                    } else {
                        let ids = task
                            .as_ref()
                            .map(|t| format!(" {} -> {}", t.local_ts, t.remote_ts))
                            .unwrap_or_default();
                        FailureReason::ProxyIdMismatch(format!(
                            "quick mode: proxy identities do not match: peer {} rejected our proxy ids{ids} (INVALID-ID-INFORMATION received); its crypto ACL must mirror ours",
                            sa.peer
                        ))
                    };
                    self.fail_sa(sa, reason, out);
                }
                nt::INVALID_SPI => {
                    let spi = be_u32(&n.data).or(be_u32(&n.spi));
                    if let Some(spi) = spi {
                        if let Some(inb) = self.child_by_outbound(sa.peer, spi) {
                            warn!(peer = %sa.peer, spi = format_args!("{spi:#010x}"), "peer reports INVALID-SPI: dropping the SA");
                            self.drop_child(now, inb, false, out);
                        }
                    }
                }
                other => debug!(peer = %sa.peer, ntype = other, "notify ignored"),
            }
        }
        keep
    }

    /// DPD (RFC 3706): returns false when the peer is declared dead.
    pub(super) fn dpd_timer(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        out: &mut Vec<Output>,
    ) -> bool {
        if !sa.state.is_active() || !sa.nat.peer_dpd {
            return true;
        }
        let Some(d) = self.peer_config(sa.peer).and_then(|c| c.dpd_for(sa.peer)) else {
            return true;
        };
        let Some(next) = sa.dpd.next else { return true };
        if now < next {
            return true;
        }
        match sa.dpd.outstanding {
            None => {
                if now < sa.last_heard + d.threshold {
                    sa.dpd.next = Some(sa.last_heard + d.threshold);
                    return true;
                }
                sa.dpd.seq = sa.dpd.seq.wrapping_add(1).max(1);
                sa.dpd.outstanding = Some(sa.dpd.seq);
                sa.dpd.sent = 1;
                sa.dpd.next = Some(now + d.retry);
                self.send_dpd(sa, nt::R_U_THERE, sa.dpd.seq, out);
                true
            }
            Some(seq) => {
                if sa.dpd.sent >= d.max_retries {
                    let reason = format!(
                        "peer {} is dead: no answer to {} DPD R-U-THERE messages (isakmp keepalive); its SAs were removed",
                        sa.peer, sa.dpd.sent
                    );
                    let peer = sa.peer;
                    self.fail_sa(sa, FailureReason::PeerDead(reason), out);
                    self.drop_children_of(now, peer, out);
                    out.push(Output::IsakmpDown {
                        peer,
                        icookie: sa.icookie,
                        rcookie: sa.rcookie,
                        reason: "peer dead (DPD)".into(),
                    });
                    return false;
                }
                sa.dpd.sent += 1;
                sa.dpd.next = Some(now + d.retry);
                self.send_dpd(sa, nt::R_U_THERE, seq, out);
                true
            }
        }
    }
}

/// The first four bytes as a big-endian number (a DPD sequence number or
/// an SPI), if there are four.
fn be_u32(b: &[u8]) -> Option<u32> {
    let b: [u8; 4] = b.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}
