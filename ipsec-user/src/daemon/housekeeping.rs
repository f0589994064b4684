//! The periodic pass: counters polled from the ESP engine, traffic and
//! volume notes to the IKE engine, lifetimes, idle timeouts.

use super::*;

impl Daemon {
    /// Four times a second, from the ESP engine's counters: tell the IKE engine
    /// which SAs carry traffic (rekey while in use, DPD liveness), and
    /// which reached their kilobyte lifetime or sequence space (rekey, or
    /// expire at the hard limit).
    pub(super) async fn housekeeping(&mut self) {
        if self.children.is_empty() {
            return;
        }
        let snap = self.snapshot();
        let now = Instant::now();
        let mut expire = Vec::new();
        for c in &mut self.children {
            let mine = || {
                snap.sas
                    .iter()
                    .filter(|s| s.sa_id == c.in_id || s.sa_id == c.out_id)
            };
            let total: u64 = mine()
                .map(|s| s.counters.pkts_encaps + s.counters.pkts_decaps)
                .sum();
            let expired = mine().any(|s| s.expired);
            let out_bytes: u64 = mine()
                .filter(|s| s.sa_id == c.out_id)
                .map(|s| s.counters.bytes_encaps)
                .sum();
            let dt = now.duration_since(c.last_look).as_secs_f64();
            let rate = if dt > 0.0 {
                out_bytes.saturating_sub(c.last_out_bytes) as f64 / dt
            } else {
                0.0
            };
            (c.last_out_bytes, c.last_look) = (out_bytes, now);
            let needs_rekey = mine().any(|s| s.outbound && s.needs_rekey)
                || esp::volume_rekey_due(c.lifetime_kb, out_bytes, rate, VOLUME_REKEY_LEAD);
            let inbound: u64 = mine()
                .filter(|s| s.sa_id == c.in_id)
                .map(|s| s.counters.pkts_decaps)
                .sum();
            if inbound != c.last_inbound {
                c.last_inbound = inbound;
                self.engine.note_child_inbound(now, c.inbound_spi);
            }
            if total != c.last_packets {
                c.last_packets = total;
                self.engine.note_child_traffic(now, c.inbound_spi);
            }
            if expired {
                expire.push(c.inbound_spi);
            } else if needs_rekey {
                // Kilobyte lifetime (or sequence space) nearly used: the
                // ESP engine knows, the IKE engine must start the rekey.
                // The sending side asks (its outbound SA counts what the
                // peer's inbound counts), so both ends do not start one.
                self.engine.note_child_volume_soft(now, c.inbound_spi);
            }
        }
        for spi in expire {
            let outs = self.engine.expire_child(now, spi);
            self.apply(outs).await;
        }
    }
}
