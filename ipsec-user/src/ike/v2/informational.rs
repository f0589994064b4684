//! INFORMATIONAL (RFC 7296 1.4): liveness checks (ASA `isakmp keepalive`
//! maps to them: an unanswered one after its retries means the peer is
//! dead), DELETE of IKE and CHILD SAs in both directions.

use std::time::Instant;

use tracing::info;

use super::engine::Engine;
use super::sa::{IkeSa, Queued, Sent, State};
use crate::ike::output::Output;
use crate::ike::wire::v2::{DeleteV2, NotifyV2, PayloadV2, exchange, protocol};

pub(super) fn notify(kind: u16, data: Vec<u8>) -> PayloadV2 {
    PayloadV2::Notify(NotifyV2 {
        protocol: 0,
        spi: Vec::new(),
        kind,
        data,
    })
}

pub(super) fn delete_ike_payload() -> PayloadV2 {
    PayloadV2::Delete(DeleteV2 {
        protocol: protocol::IKE,
        spis: Vec::new(),
    })
}

fn delete_esp_payload(spis: &[u32]) -> PayloadV2 {
    PayloadV2::Delete(DeleteV2 {
        protocol: protocol::ESP,
        spis: spis.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
    })
}

impl Engine {
    /// Tries of a liveness check: the tunnel-group's keepalive retries.
    pub(super) fn dpd_tries(&self, sa: &IkeSa) -> u32 {
        self.peer_config(sa.peer)
            .and_then(|c| c.dpd_for(sa.peer))
            .map_or(self.local.retransmit_tries, |d| d.max_retries.max(1))
    }

    /// The keepalive threshold passed: check liveness if nothing
    /// authenticated came from the peer meanwhile.
    pub(super) fn dpd_due(&mut self, now: Instant, sa: &mut IkeSa, out: &mut Vec<Output>) {
        let Some(d) = self.peer_config(sa.peer).and_then(|c| c.dpd_for(sa.peer)) else {
            sa.dpd_next = None;
            return;
        };
        sa.dpd_next = Some(now + d.threshold);
        if sa.state != State::Established
            || now.saturating_duration_since(sa.last_heard) < d.threshold
        {
            return;
        }
        if sa.outstanding.is_some() || sa.queue.contains(&Queued::Dpd) {
            return; // a request is under way: its answer is the proof
        }
        sa.queue.push_back(Queued::Dpd);
        self.pump(now, sa, out);
    }

    /// One DELETE for the IKE SA, not retransmitted (the SA is gone on our
    /// side whatever the answer).
    pub(super) fn send_delete_ike_once(
        &mut self,
        _now: Instant,
        sa: &mut IkeSa,
        out: &mut Vec<Output>,
    ) {
        let mid = sa.next_mid;
        sa.next_mid = sa.next_mid.wrapping_add(1);
        let d = self.protect(
            sa,
            exchange::INFORMATIONAL,
            mid,
            false,
            &[delete_ike_payload()],
        );
        Self::send_all(out, sa, &d);
    }

    pub(super) fn request_delete_children(
        &mut self,
        now: Instant,
        sa: &mut IkeSa,
        spis: Vec<u32>,
        out: &mut Vec<Output>,
    ) {
        let tries = self.local.retransmit_tries;
        self.send_request(
            now,
            sa,
            exchange::INFORMATIONAL,
            &[delete_esp_payload(&spis)],
            Sent::DeleteChildren(spis),
            tries,
            out,
        );
    }

    /// Our DELETE of children was answered (or given up on): they go now
    /// if a rekey kept them until then.
    pub(super) fn children_deleted(&mut self, spis: &[u32], out: &mut Vec<Output>) {
        for s in spis {
            self.remove_child(*s, out);
        }
    }

    /// Responder: an INFORMATIONAL request. False when the SA is gone.
    pub(super) fn info_request(
        &mut self,
        _now: Instant,
        sa: &mut IkeSa,
        mid: u32,
        payloads: &[PayloadV2],
        out: &mut Vec<Output>,
    ) -> bool {
        let mut ours = Vec::new();
        for p in payloads {
            let PayloadV2::Delete(d) = p else { continue };
            match d.protocol {
                protocol::IKE => {
                    info!(target: "ipsecgw::ike::v2", peer = %sa.peer, sa = sa.id, "the peer deleted the IKEv2 SA");
                    self.send_response(sa, exchange::INFORMATIONAL, mid, &[], out);
                    // Children that moved to a rekeyed SA stay.
                    self.drop_sa(sa, false, "Peer Terminate", out);
                    return false;
                }
                protocol::ESP => {
                    for spi in &d.spis {
                        let Ok(b) = <[u8; 4]>::try_from(spi.as_slice()) else {
                            continue;
                        };
                        let theirs = u32::from_be_bytes(b);
                        let found = self
                            .children
                            .values()
                            .find(|c| c.outbound_spi == theirs && c.peer == sa.peer)
                            .map(|c| c.inbound_spi);
                        if let Some(inbound) = found {
                            info!(target: "ipsecgw::ike::v2", peer = %sa.peer, inbound = format_args!("{inbound:#010x}"), "the peer deleted a CHILD SA");
                            self.remove_child(inbound, out);
                            ours.push(inbound);
                        }
                    }
                }
                _ => {}
            }
        }
        let resp = if ours.is_empty() {
            Vec::new()
        } else {
            vec![delete_esp_payload(&ours)]
        };
        self.send_response(sa, exchange::INFORMATIONAL, mid, &resp, out);
        true
    }
}
