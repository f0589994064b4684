//! IKE and ESP events into the engine, and its outputs back out: datagrams
//! on UDP 500/4500, punted first packets, ESP for unknown SPIs, reassembled
//! raw ESP; sending, and applying what the engine asks for.

use super::*;

impl Daemon {
    pub(super) async fn datagram(&mut self, port: u16, from: SocketAddr, data: &[u8]) {
        let SocketAddr::V4(from) = from else { return };
        let payload = if port == 4500 {
            if data == [0xff] {
                return; // NAT-T keepalive
            }
            match data.strip_prefix(&NON_ESP_MARKER) {
                Some(ike) => ike,
                None => {
                    // ESP the XDP program could not redirect: it came in
                    // fragments and the kernel reassembled it.
                    self.reassembled_esp(*from.ip(), data);
                    return;
                }
            }
        } else {
            data
        };
        let to = SocketAddrV4::new(self.local, port);
        let outs = self
            .engine
            .handle_datagram(Instant::now(), from, to, payload);
        self.apply(outs).await;
    }

    /// A raw ESP packet (IPv4 header included) from the raw socket.
    pub(super) fn raw_esp(&mut self, packet: &[u8]) {
        match esp::parse_outer(packet) {
            Ok(o) if o.udp_encap.is_none() && o.dst == self.local => {
                self.reassembled_esp(o.src, &packet[o.range()]);
            }
            _ => debug!(len = packet.len(), "raw ESP socket: not ESP to us; dropped"),
        }
    }

    /// Reassembled ESP (SPI to ICV): to the worker for its inbound SA.
    /// An unknown SPI is dropped here, as XDP drops it unfragmented.
    pub(super) fn reassembled_esp(&mut self, from: Ipv4Addr, esp_packet: &[u8]) {
        let Some(spi) = reassembled::esp_spi(esp_packet) else {
            return;
        };
        let Some(c) = self.children.iter().find(|c| c.inbound_spi == spi) else {
            debug!(%from, spi = format_args!("{spi:#010x}"), "reassembled ESP for an unknown SPI dropped");
            return;
        };
        // Bounded: a full worker queue drops and counts it.
        self.workers
            .deliver_reassembled(c.in_id, esp_packet.to_vec());
    }

    pub(super) async fn punt(&mut self, selector: u32) {
        let now = Instant::now();
        if self.children.iter().any(|c| c.selector == selector) {
            return; // an SA exists; the program will see it on the next packet
        }
        if let Some(t) = self.initiating.get(&selector)
            && now.duration_since(*t) < INITIATING_HOLD
        {
            return;
        }
        let Some(sel) = self.selectors.iter().find(|s| s.id == selector) else {
            return;
        };
        let Some(&peer) = sel.peers.first() else {
            return;
        };
        info!(%peer, selector, map = %sel.map, seq = sel.seq, "interesting traffic: starting negotiation");
        self.initiating.insert(selector, now);
        self.negotiations.started += 1;
        let outs = self.engine.initiate(now, peer, selector);
        self.apply(outs).await;
    }

    /// ESP from `src` for an SPI with no inbound SA (invalid-SPI recovery,
    /// like IOS `crypto isakmp invalid-spi-recovery`). After a restart the
    /// peer still encrypts with SAs we lost; a new phase 1 toward it carries
    /// INITIAL-CONTACT (the first one to that peer since start), on which
    /// the peer drops every old SA with us and renegotiates.
    pub(super) async fn unknown_spi(&mut self, src: Ipv4Addr, spi: u32) {
        if !self.cfg.invalid_spi_recovery {
            debug!(%src, spi = format_args!("{spi:#010x}"), "ESP for unknown SPI ignored (crypto isakmp invalid-spi-recovery is off)");
            return;
        }
        let now = Instant::now();
        let selector = match spi_recovery(
            &self.selectors,
            self.children.iter().map(|c| c.peer),
            &self.initiating,
            src,
            now,
        ) {
            SpiRecovery::NotAPeer => {
                debug!(%src, spi = format_args!("{spi:#010x}"), "ESP for unknown SPI from a non-peer ignored");
                return;
            }
            SpiRecovery::HaveSas => {
                debug!(peer = %src, spi = format_args!("{spi:#010x}"), "ESP for unknown SPI from a peer we have SAs with: stale, ignored");
                return;
            }
            SpiRecovery::Busy => return,
            SpiRecovery::Initiate { selector } => selector,
        };
        info!(
            peer = %src,
            "ESP from {src} for unknown SPI {spi:#010x}: the peer holds SAs we lost; starting phase 1 with INITIAL-CONTACT"
        );
        self.initiating.insert(selector, now);
        self.negotiations.started += 1;
        let outs = self.engine.initiate(now, src, selector);
        self.apply(outs).await;
    }

    pub(super) async fn send(&self, from: SocketAddrV4, to: SocketAddrV4, data: &[u8]) {
        let r = if from.port() == 4500 || to.port() == 4500 {
            let mut framed = Vec::with_capacity(data.len() + 4);
            if !(data.len() == 1 && data[0] == 0xff) {
                framed.extend_from_slice(&NON_ESP_MARKER);
            }
            framed.extend_from_slice(data);
            self.sock4500.send_to(&framed, to).await
        } else {
            self.sock500.send_to(data, to).await
        };
        if let Err(e) = r {
            warn!(%to, error = %e, "sending IKE datagram failed");
        }
    }

    pub(super) async fn apply(&mut self, outs: Vec<Output>) {
        for out in outs {
            match out {
                Output::Send { from, to, data } => self.send(from, to, &data).await,
                Output::ChildSaUp(c) => match self.install(c) {
                    Ok(()) => self.negotiations.ipsec_sas_established += 1,
                    Err(e) => warn!(error = %e, "installing IPsec SA failed"),
                },
                Output::ChildSaDown {
                    peer,
                    inbound_spi,
                    outbound_spi,
                    ..
                } => self.uninstall(peer, inbound_spi, outbound_spi),
                Output::Failure { peer, reason } => {
                    *self.negotiations.failed.entry(reason.kind()).or_default() += 1;
                    let configured = self.selectors.iter().any(|s| s.peers.contains(&peer));
                    match configured
                        .then(|| self.failure_log.judge(Instant::now(), peer, reason.text()))
                    {
                        Some(failure_log::Verdict::Warn { suppressed }) => {
                            warn!(%peer, %reason, suppressed, "tunnel negotiation failed");
                            let group = self.group_of(peer);
                            asa_log::emit(&match reason {
                                crate::ike::FailureReason::PeerDead(_) => {
                                    asa_log::AsaEvent::LostContact { group, peer }
                                }
                                _ => asa_log::AsaEvent::Failure {
                                    group,
                                    peer,
                                    reason: reason.to_string(),
                                },
                            });
                        }
                        _ => debug!(%peer, %reason, "tunnel negotiation failed"),
                    }
                    if matches!(reason, crate::ike::FailureReason::PeerDead(_))
                        && let Some(s) = self.sessions.get_mut(&peer)
                    {
                        s.end_reason = "Lost Service";
                    }
                    self.initiating.retain(|sel, _| {
                        self.selectors
                            .iter()
                            .find(|s| s.id == *sel)
                            .is_none_or(|s| !s.peers.contains(&peer))
                    });
                }
                Output::IsakmpUp { peer, .. } => {
                    self.negotiations.ike_sas_established += 1;
                    asa_log::emit(&asa_log::AsaEvent::Phase1Completed {
                        group: self.group_of(peer),
                        peer,
                    });
                }
                Output::IsakmpDown {
                    peer, ref reason, ..
                } => {
                    if let Some(s) = self.sessions.get_mut(&peer) {
                        s.end_reason = asa_log::disconnect_reason(reason);
                    }
                    debug!(event = ?out, "IKE event");
                }
            }
        }
    }

    /// The tunnel-group a peer authenticates with, as ASA names it.
    pub(super) fn group_of(&self, peer: Ipv4Addr) -> String {
        self.cfg
            .tunnel_group_for(peer)
            .map_or_else(|| peer.to_string(), |t| t.name.to_string())
    }
}
