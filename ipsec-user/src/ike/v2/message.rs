//! Protected IKEv2 messages on one IKE SA: building requests and
//! responses (SK, or SKF fragments above the fragmentation MTU), the
//! window of size 1 each way, the one retransmission schedule, and
//! opening what arrives before the exchange steps see it.

use std::net::SocketAddrV4;
use std::time::Instant;

use tracing::debug;

use super::engine::Engine;
use super::sa::{IkeSa, Outstanding, Queued, Sent, State};
use crate::ike::crypto::sk;
use crate::ike::failure::FailureReason;
use crate::ike::output::Output;
use crate::ike::wire::v2::{
    HeaderV2, MessageV2Repr, PayloadV2, Protected, emit_chain, exchange, flags, parse_chain,
};

/// IPv4 + UDP header bytes, and the non-ESP marker on port 4500.
const IP_UDP: usize = 28;
const MARKER: usize = 4;

impl Engine {
    fn header(sa: &IkeSa, exchange: u8, mid: u32, response: bool) -> HeaderV2 {
        let mut f = 0;
        if sa.is_initiator() {
            f |= flags::INITIATOR;
        }
        if response {
            f |= flags::RESPONSE;
        }
        HeaderV2 {
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
            next_payload: 0,
            exchange,
            flags: f,
            message_id: mid,
            length: 0,
        }
    }

    /// The datagram(s) of one protected message.
    pub(super) fn protect(
        &self,
        sa: &IkeSa,
        exchange: u8,
        mid: u32,
        response: bool,
        payloads: &[PayloadV2],
    ) -> Vec<Vec<u8>> {
        let Some(keys) = sa.keys.as_ref() else {
            return Vec::new();
        };
        let (first, inner) = emit_chain(payloads);
        let header = Self::header(sa, exchange, mid, response);
        let whole = match sk::seal(keys, sa.is_initiator(), header, first, &inner, &self.rng) {
            Ok(m) => m,
            Err(e) => {
                debug!(target: "ipsecgw::ike::v2", error = %e, "sealing an IKEv2 message failed");
                return Vec::new();
            }
        };
        let overhead = IP_UDP
            + if sa.local.port() == self.local.natt_port {
                MARKER
            } else {
                0
            };
        let limit = usize::from(self.local.ikev2.fragmentation_mtu).saturating_sub(overhead);
        // IKE_AUTH and later only (RFC 7383 2.5: never IKE_SA_INIT).
        if sa.fragmentation && whole.len() > limit && limit > 100 {
            match sk::seal_fragments(
                keys,
                sa.is_initiator(),
                header,
                first,
                &inner,
                limit,
                &self.rng,
            ) {
                Ok(frags) => return frags,
                Err(e) => {
                    debug!(target: "ipsecgw::ike::v2", error = %e, "fragmenting failed; sending whole")
                }
            }
        }
        vec![whole]
    }

    pub(super) fn send_all(out: &mut Vec<Output>, sa: &IkeSa, datagrams: &[Vec<u8>]) {
        for d in datagrams {
            out.push(Output::Send {
                from: sa.local,
                to: sa.remote,
                data: d.clone(),
            });
        }
    }

    /// Sends a request now (the window must be free) and arms its
    /// retransmission.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_request(
        &self,
        now: Instant,
        sa: &mut IkeSa,
        exchange: u8,
        payloads: &[PayloadV2],
        what: Sent,
        tries: u32,
        out: &mut Vec<Output>,
    ) {
        let mid = sa.next_mid;
        sa.next_mid = sa.next_mid.wrapping_add(1);
        let datagrams = self.protect(sa, exchange, mid, false, payloads);
        Self::send_all(out, sa, &datagrams);
        sa.outstanding = Some(Outstanding {
            mid,
            datagrams,
            sent: 1,
            tries,
            next: now + self.local.retransmit_base,
            interval: self.local.retransmit_base,
            what,
        });
    }

    /// Answers the peer's request `mid` and remembers the answer for its
    /// retransmissions.
    pub(super) fn send_response(
        &self,
        sa: &mut IkeSa,
        exchange: u8,
        mid: u32,
        payloads: &[PayloadV2],
        out: &mut Vec<Output>,
    ) {
        let datagrams = self.protect(sa, exchange, mid, true, payloads);
        Self::send_all(out, sa, &datagrams);
        sa.last_response = Some((mid, datagrams));
        sa.peer_mid = mid.wrapping_add(1);
    }

    /// Starts the next queued request if the window is free.
    pub(super) fn pump(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        while sa.outstanding.is_none() && sa.state == State::Established {
            let Some(q) = sa.queue.pop_front() else {
                return;
            };
            match q {
                Queued::Child { selector, rekey } => {
                    self.request_child(now, sa, selector, rekey, out)
                }
                Queued::RekeyIke => self.request_ike_rekey(now, sa, out),
                Queued::Dpd => self.send_request(
                    now,
                    sa,
                    exchange::INFORMATIONAL,
                    &[],
                    Sent::Dpd,
                    self.dpd_tries(sa),
                    out,
                ),
                Queued::DeleteChildren(spis) => self.request_delete_children(now, sa, spis, out),
            }
        }
    }

    /// Retransmits the outstanding request when due; false when the SA
    /// gave up (peer unreachable: the SA and its children are gone).
    pub(super) fn retransmit_timer(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        out: &mut Vec<Output>,
    ) -> bool {
        let Some(o) = sa.outstanding.as_mut().filter(|o| now >= o.next) else {
            return true;
        };
        if o.sent >= o.tries {
            let what = sa.outstanding.take().map(|o| o.what);
            return self.request_timed_out(now, sa, what, out);
        }
        o.sent += 1;
        o.interval *= 2;
        o.next = now + o.interval;
        debug!(target: "ipsecgw::ike::v2", peer = %sa.peer, sa = sa.id, tries = o.sent, "retransmitting IKEv2 request");
        let d = o.datagrams.clone();
        Self::send_all(out, sa, &d);
        true
    }

    /// Our request was never answered.
    fn request_timed_out(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        what: Option<Sent>,
        out: &mut Vec<Output>,
    ) -> bool {
        let tries = self.local.retransmit_tries;
        let (reason, state) = match &what {
            Some(Sent::Dpd) => (
                FailureReason::PeerDead(format!(
                    "peer {} did not answer IKEv2 liveness checks: declared dead, its SAs removed",
                    sa.remote
                )),
                "READY",
            ),
            // Nothing to report: the SAs go on our side anyway.
            Some(Sent::DeleteIke) => {
                self.drop_sa(sa, false, "deleted", out);
                return false;
            }
            Some(Sent::DeleteChildren(spis)) => {
                self.children_deleted(spis, out);
                self.pump(now, sa, out);
                return true;
            }
            Some(Sent::Init) => (
                FailureReason::NoReply(format!(
                    "no answer from {} to IKE_SA_INIT after {tries} tries (check reachability, UDP 500/4500, and that the peer runs IKEv2)",
                    sa.remote
                )),
                "INIT_SENT",
            ),
            Some(w @ Sent::Auth { .. }) => (
                FailureReason::AuthFailed(format!(
                    "pre-shared key mismatch (probably): no answer from {} to our {} after {tries} tries; a peer that cannot verify our IKE_SA_INIT keys or AUTH stays silent (check the ikev2 pre-shared keys on both sides)",
                    sa.remote,
                    w.name()
                )),
                "AUTH_SENT",
            ),
            Some(w) => (
                FailureReason::NoReply(format!(
                    "no answer from {} to our {} after {tries} tries",
                    sa.remote,
                    w.name()
                )),
                "READY",
            ),
            None => return true,
        };
        let peer = sa.peer;
        let pending: Vec<_> = match &what {
            Some(Sent::Auth { selector, .. }) => std::iter::once(*selector)
                .chain(sa.pending.drain(..))
                .collect(),
            _ => sa.pending.drain(..).collect(),
        };
        self.fail(peer, state, reason, out);
        self.drop_sa(sa, false, "peer not answering", out);
        self.try_backup(now, peer, pending, out);
        false
    }

    /// An opened (or not) message on an existing SA; false when the SA
    /// is gone afterwards.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_protected(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        from: SocketAddrV4,
        to: SocketAddrV4,
        data: &[u8],
        msg: &MessageV2Repr,
        out: &mut Vec<Output>,
    ) -> bool {
        let h = msg.header;
        let mid = h.message_id;
        // Window checks before any crypto for requests we answered.
        if !h.is_response() {
            if let Some((m, d)) = &sa.last_response
                && *m == mid
            {
                // A retransmitted request: the same answer, nothing redone
                // (for fragments, once per retransmission: on fragment 1).
                let first = !matches!(msg.protected, Protected::Skf { number, .. } if number != 1);
                if first {
                    let d = d.clone();
                    Self::send_all(out, sa, &d);
                }
                return true;
            }
            if mid != sa.peer_mid {
                self.stats.bad_mid_drops += 1;
                return true;
            }
        } else if sa.outstanding.as_ref().is_none_or(|o| o.mid != mid) {
            self.stats.bad_mid_drops += 1;
            return true;
        }
        let Some(keys) = sa.keys.as_ref() else {
            return true;
        };
        let sender_is_initiator = h.from_initiator();
        let (first, plain) = match msg.protected {
            Protected::Sk {
                first_inner,
                offset,
            } => match sk::open(keys, sender_is_initiator, data, offset) {
                Ok(p) => (first_inner, p),
                Err(e) => {
                    self.stats.integrity_drops += 1;
                    debug!(target: "ipsecgw::ike::v2", %from, error = %e, "IKEv2 message failed its integrity check");
                    return true;
                }
            },
            Protected::Skf {
                first_inner,
                offset,
                number,
                total,
            } => {
                match sa.frag_rx.add(
                    keys,
                    sender_is_initiator,
                    data,
                    mid,
                    offset,
                    number,
                    total,
                    first_inner,
                ) {
                    Ok(Some((f, p))) => (f, p),
                    Ok(None) => return true,
                    Err(e) => {
                        self.stats.integrity_drops += 1;
                        debug!(target: "ipsecgw::ike::v2", %from, error = %e, "IKEv2 fragment dropped");
                        return true;
                    }
                }
            }
            Protected::None => {
                self.stats.malformed_drops += 1;
                return true;
            }
        };
        let payloads = match parse_chain(first, &plain) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed_drops += 1;
                debug!(target: "ipsecgw::ike::v2", %from, error = %e, "IKEv2 encrypted payloads unparsable");
                if !h.is_response() {
                    let n = super::informational::notify(
                        crate::ike::wire::v2::notify::INVALID_SYNTAX,
                        Vec::new(),
                    );
                    self.send_response(sa, h.exchange, mid, &[n], out);
                }
                return true;
            }
        };
        // Authenticated: the peer is alive; it may have moved (NAT).
        sa.last_heard = now;
        if to.port() == self.local.natt_port && (from != sa.remote || to != sa.local) {
            // The peer floated to 4500 (RFC 7296 2.23) or its NAT mapping
            // changed: answer where it is now. ESP goes in UDP when a NAT
            // was detected.
            debug!(target: "ipsecgw::ike::v2", peer = %sa.peer, old = %sa.remote, new = %from, "IKE moved to port 4500 / the peer's address changed");
            sa.remote = from;
            sa.local = to;
            if sa.nat.local_behind || sa.nat.remote_behind {
                sa.nat.floated = true;
            }
        }
        if h.is_response() {
            let Some(o) = sa.outstanding.take() else {
                return true;
            };
            let keep = match o.what {
                Sent::Auth { selector, our_spi } => {
                    self.auth_response(now, sa, selector, our_spi, &payloads, out)
                }
                Sent::Child {
                    selector,
                    rekey,
                    our_spi,
                    nonce,
                    dh,
                    collided,
                } => {
                    self.child_response(
                        now, sa, selector, rekey, our_spi, nonce, dh, collided, &payloads, out,
                    );
                    true
                }
                Sent::RekeyIke { new_spi, nonce, dh } => {
                    self.ike_rekey_response(now, sa, new_spi, nonce, dh, &payloads, out)
                }
                Sent::Dpd | Sent::Init => true,
                Sent::DeleteChildren(spis) => {
                    self.children_deleted(&spis, out);
                    true
                }
                Sent::DeleteIke => {
                    self.drop_sa(sa, false, "deleted", out);
                    false
                }
            };
            if keep {
                self.pump(now, sa, out);
            }
            keep
        } else {
            let keep = match h.exchange {
                exchange::IKE_AUTH => self.auth_request(now, sa, data, mid, &payloads, out),
                exchange::CREATE_CHILD_SA => {
                    self.create_child_request(now, sa, mid, &payloads, out)
                }
                exchange::INFORMATIONAL => self.info_request(now, sa, mid, &payloads, out),
                _ => true,
            };
            if keep {
                self.pump(now, sa, out);
            }
            keep
        }
    }
}
