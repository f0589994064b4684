//! Child SA installation into the ESP engine and the data plane (inbound
//! first, outbound after a short grace), and removal.

use super::*;

impl Daemon {
    /// ASA's 602304 for both directions of `c`, and 113019 when it was the
    /// peer's last SA.
    pub(super) fn sa_gone_log(&mut self, c: &ChildSaRec) {
        for (inbound, spi) in [(true, c.inbound_spi), (false, c.outbound_spi)] {
            asa_log::emit(&asa_log::AsaEvent::Sa {
                created: false,
                inbound,
                spi,
                local: self.local,
                peer: c.peer,
            });
        }
        let snap = self.snapshot();
        let bytes = |id: u32, out: bool| -> u64 {
            snap.sas
                .iter()
                .filter(|s| s.sa_id == id)
                .map(|s| {
                    if out {
                        s.counters.bytes_encaps
                    } else {
                        s.counters.bytes_decaps
                    }
                })
                .sum()
        };
        let (tx, rx) = (bytes(c.out_id, true), bytes(c.in_id, false));
        let last = !self.children.iter().any(|o| o.peer == c.peer);
        let Some(s) = self.sessions.get_mut(&c.peer) else {
            return;
        };
        s.bytes_tx += tx;
        s.bytes_rx += rx;
        if last && let Some(s) = self.sessions.remove(&c.peer) {
            asa_log::emit(&asa_log::AsaEvent::SessionDisconnected {
                group: self.group_of(c.peer),
                peer: c.peer,
                duration: s.start.elapsed(),
                bytes_tx: s.bytes_tx,
                bytes_rx: s.bytes_rx,
                reason: s.end_reason,
            });
        }
    }

    pub(super) fn alloc_id(&mut self) -> u32 {
        let id = self.next_sa_id;
        self.next_sa_id = self.next_sa_id.wrapping_add(1).max(1);
        id
    }

    pub(super) fn install(&mut self, c: crate::ike::ChildSa) -> Result<()> {
        // Install what was negotiated: a narrowed child gets a line of its
        // own in front of its ACL line.
        let negotiated = narrowed::Negotiated {
            local: (c.local_ts.addr(), c.local_ts.prefix()),
            remote: (c.remote_ts.addr(), c.remote_ts.prefix()),
            proto: c.proto,
            local_port: c.local_port,
            remote_port: c.remote_port,
        };
        let (dp_selector, changed) = self.acl.acquire(c.selector, negotiated);
        if changed {
            info!(peer = %c.peer, selector = c.selector, dp_selector, local = %c.local_ts, remote = %c.remote_ts,
                  proto = c.proto, local_port = c.local_port, remote_port = c.remote_port,
                  "peer narrowed the proxy identities: the SA carries only that traffic");
            if let Err(e) = self.dp.set_acl(&self.acl.rules()) {
                self.acl.release(dp_selector);
                return Err(e).context("installing the narrowed ACL line");
            }
        }
        let in_id = self.alloc_id();
        let out_id = self.alloc_id();
        let local_ts = esp::Selector::new(c.local_ts.addr(), c.local_ts.prefix());
        let remote_ts = esp::Selector::new(c.remote_ts.addr(), c.remote_ts.prefix());
        let n = self.workers.len();
        let inbound = InboundSa::new_group(
            &SaParams {
                spi: c.inbound_spi,
                transform: c.transform,
                keymat: &c.inbound_keymat,
                tunnel_src: c.peer,
                tunnel_dst: c.local,
                udp_encap: c.udp_encap.map(|(l, r)| (r, l)),
                esn: c.esn,
                local_ts,
                remote_ts,
                lifetime_kb: c.lifetime_kb,
            },
            n,
        )?;
        let outbound = OutboundSa::new_group(
            &SaParams {
                spi: c.outbound_spi,
                transform: c.transform,
                keymat: &c.outbound_keymat,
                tunnel_src: c.local,
                tunnel_dst: c.peer,
                udp_encap: c.udp_encap,
                esn: c.esn,
                local_ts,
                remote_ts,
                lifetime_kb: c.lifetime_kb,
            },
            n,
        )?;
        // Test knob: only the first SA, or every rekey would start near
        // the end again and rekey forever. The handles share the counter.
        if let Some(seq) = self.esp_first_seq.take() {
            info!(
                seq,
                "--esp-first-seq: first outbound SA starts at this sequence number"
            );
            if let Some(o) = outbound.first() {
                o.set_next_seq(seq);
            }
        }
        // Inbound first: the peer may use the SA as soon as it has it.
        self.workers.install_inbound(in_id, inbound)?;
        self.dp.install_inbound_spi(c.inbound_spi, in_id)?;
        let out = DeferredOutbound {
            selector: dp_selector,
            sa_id: out_id,
            spec: OutboundSaSpec {
                sa_id: out_id,
                peer: c.peer,
                local: c.local,
                natt: c.udp_encap,
            },
            sas: outbound,
        };
        // A rekey: an older pair for this selector still sends, so waiting
        // costs nothing (whichever side started the quick mode).
        let rekey = self.children.iter().any(|o| o.dp_selector == dp_selector);
        if self.initiating.contains_key(&c.selector) || rekey {
            // We initiated: the peer installs its inbound SA only when our
            // QM3 arrives, and our held packets would race it (strongSwan
            // loses them). RFC 2409's commit bit exists for this; a short
            // grace does the same without a round trip. Packets keep being
            // held meanwhile.
            // We respond to a rekey: this runs when we send QM2, before the
            // initiator has read it and installed its inbound SA, so our
            // next packet on the new SA would be dropped there as an
            // unknown SPI. The old SA carries traffic during the grace.
            self.deferred.push((Instant::now() + INITIATOR_GRACE, out));
        } else {
            self.install_outbound(out)?;
        }
        let group = self.group_of(c.peer);
        asa_log::emit(&asa_log::AsaEvent::Phase2Completed {
            group,
            peer: c.peer,
            initiator: self.initiating.contains_key(&c.selector),
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
        });
        for (inbound, spi) in [(true, c.inbound_spi), (false, c.outbound_spi)] {
            asa_log::emit(&asa_log::AsaEvent::Sa {
                created: true,
                inbound,
                spi,
                local: self.local,
                peer: c.peer,
            });
        }
        self.sessions.entry(c.peer).or_insert(Session {
            start: Instant::now(),
            bytes_tx: 0,
            bytes_rx: 0,
            end_reason: "Peer Terminate",
        });
        info!(peer = %c.peer, selector = c.selector, inbound_spi = format_args!("{:08x}", c.inbound_spi),
              outbound_spi = format_args!("{:08x}", c.outbound_spi), transform = %c.transform, "IPsec SA pair installed");
        self.initiating.remove(&c.selector);
        self.children.push(ChildSaRec {
            selector: c.selector,
            dp_selector,
            negotiated,
            peer: c.peer,
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
            in_id,
            out_id,
            transform: c.transform,
            pfs: self
                .selectors
                .iter()
                .find(|s| s.id == c.selector)
                .and_then(|s| self.cfg.crypto_maps.get(s.entry))
                .and_then(|e| e.pfs)
                .map(|g| g.number()),
            udp_encap: c.udp_encap,
            created: Instant::now(),
            lifetime_s: u64::from(c.lifetime_s),
            lifetime_kb: c.lifetime_kb,
            last_packets: 0,
            last_inbound: 0,
            last_out_bytes: 0,
            last_look: Instant::now(),
        });
        Ok(())
    }

    pub(super) fn install_outbound(&mut self, o: DeferredOutbound) -> Result<()> {
        self.workers
            .install_outbound(o.sa_id, o.selector, o.spec.peer, o.sas)?;
        self.dp.install_outbound_sa(o.selector, o.spec)?;
        Ok(())
    }

    pub(super) fn next_deferred(&self) -> Option<tokio::time::Instant> {
        self.deferred
            .iter()
            .map(|(t, _)| *t)
            .min()
            .map(tokio::time::Instant::from_std)
    }

    pub(super) fn install_deferred(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.deferred = later;
        for (_, o) in due {
            // Skip an SA that was deleted during the grace.
            if !self.children.iter().any(|c| c.out_id == o.sa_id) {
                continue;
            }
            if let Err(e) = self.install_outbound(o) {
                warn!(error = %e, "installing outbound SA failed");
            }
        }
    }

    pub(super) fn uninstall(&mut self, peer: Ipv4Addr, inbound_spi: u32, outbound_spi: u32) {
        let Some(pos) = self.children.iter().position(|c| {
            c.peer == peer && c.inbound_spi == inbound_spi && c.outbound_spi == outbound_spi
        }) else {
            return;
        };
        let c = self.children.remove(pos);
        let _ = self.dp.remove_inbound_spi(c.inbound_spi);
        self.sa_gone_log(&c);
        // Only if no newer SA took the selector over (rekey).
        // A narrowed line goes with its last child.
        if self.acl.release(c.dp_selector)
            && let Err(e) = self.dp.set_acl(&self.acl.rules())
        {
            warn!(error = %e, "removing a narrowed ACL line failed");
        }
        if !self.children.iter().any(|o| o.dp_selector == c.dp_selector) {
            let _ = self.dp.remove_outbound_sa(c.dp_selector);
        } else if let Some(newest) = self
            .children
            .iter()
            .rev()
            .find(|o| o.dp_selector == c.dp_selector)
        {
            let spec = OutboundSaSpec {
                sa_id: newest.out_id,
                peer: newest.peer,
                local: self.local,
                natt: newest.udp_encap,
            };
            // The newer SA may still wait out its grace (the peer deleted
            // the old one right after a rekey): the worker does not know
            // it yet, so install it now rather than point at it.
            match self
                .deferred
                .iter()
                .position(|(_, o)| o.sa_id == spec.sa_id)
            {
                Some(pos) => {
                    let (_, o) = self.deferred.remove(pos);
                    if let Err(e) = self.install_outbound(o) {
                        warn!(error = %e, "installing outbound SA failed");
                    }
                }
                None => {
                    let _ = self.dp.install_outbound_sa(newest.dp_selector, spec);
                }
            }
        }
        self.workers.remove(c.in_id);
        self.workers.remove(c.out_id);
        let _ = self.dp.remove_sa_counters(c.out_id);
        info!(%peer, inbound_spi = format_args!("{:08x}", inbound_spi), "IPsec SA pair removed");
    }
}
