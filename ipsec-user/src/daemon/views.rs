//! What the control socket answers: the show views (IKEv1, IKEv2, IPsec,
//! data plane), clear, debug, reload, and the metrics text.

use super::*;

impl Daemon {
    pub(super) fn snapshot(&self) -> Snapshot {
        self.workers.snapshot()
    }

    pub(super) async fn control(&mut self, req: Request) -> Reply {
        let now = Instant::now();
        match req.command {
            Command::ShowIsakmpSa => Reply::ok(ReplyData::IsakmpSas(self.isakmp_view())),
            Command::ShowIkev2Sa => Reply::ok(ReplyData::Ikev2Sas(self.ikev2_view())),
            Command::ClearIkev2Sa { peer } => {
                let outs = self.engine.delete_ikev2(now, peer);
                self.apply(outs).await;
                self.initiating.clear();
                Reply::ok(ReplyData::Done("cleared IKEv2 SAs".into()))
            }
            Command::ShowIpsecSa { peer } => Reply::ok(ReplyData::IpsecSas(self.ipsec_view(peer))),
            Command::ShowRunningConfig => Reply::ok(ReplyData::Text(config::print(&self.cfg))),
            Command::ShowDataplane => match self.dataplane_lines() {
                Ok(l) => {
                    let mut v = l.verdicts;
                    v.extend(l.engine);
                    v.extend(
                        l.per_queue
                            .into_iter()
                            .map(|(q, k, x)| (format!("engine_q{q}_{k}"), x)),
                    );
                    Reply::ok(ReplyData::Dataplane(v))
                }
                Err(e) => Reply::error(format!("reading data-plane counters: {e}")),
            },
            Command::ClearIpsecSa { peer } => {
                for (_, s) in self
                    .sessions
                    .iter_mut()
                    .filter(|(a, _)| peer.is_none_or(|p| p == **a))
                {
                    s.end_reason = "Administrator Reset";
                }
                let outs = self.engine.delete_ipsec(now, peer);
                let before = self.children.len();
                self.apply(outs).await;
                Reply::ok(ReplyData::Done(format!(
                    "cleared {} IPsec SA pair(s)",
                    before.saturating_sub(self.children.len())
                )))
            }
            Command::ClearIsakmpSa { peer } => {
                let outs = self.engine.delete_isakmp(now, peer);
                self.apply(outs).await;
                self.initiating.clear();
                Reply::ok(ReplyData::Done("cleared ISAKMP SAs".into()))
            }
            Command::Reload { config } => match self.reload(config).await {
                Ok(s) => Reply::ok(ReplyData::Done(s)),
                Err(e) => Reply::error(format!("reload refused, nothing changed: {e:#}")),
            },
            Command::Debug { facility, level } => match self.log.set(facility, level) {
                Ok(s) => {
                    if facility == DebugFacility::Ipsec {
                        let on = level >= BPF_LOG_LEVEL;
                        if let Err(e) = self.dp.set_bpf_log(on) {
                            return Reply::error(format!("switching BPF logs: {e}"));
                        }
                        return Reply::ok(ReplyData::Done(format!(
                            "{s}; BPF data-plane logs {}",
                            if on { "on" } else { "off" }
                        )));
                    }
                    Reply::ok(ReplyData::Done(s))
                }
                Err(e) => Reply::error(e.to_string()),
            },
        }
    }

    /// `show dataplane`'s lines (and the metrics'): BPF verdicts, ESP
    /// engine and IKE drop counters, per-worker traffic.
    pub(super) fn dataplane_lines(&self) -> Result<DataplaneLines> {
        let c = self.dp.counters()?;
        let verdicts: Vec<(String, u64)> = c.iter().map(|(k, v)| (k.to_string(), v)).collect();
        let mut v: Vec<(String, u64)> = Vec::new();
        let snap = self.snapshot();
        // IKE datagrams dropped before any state existed.
        let ike = self.engine.stats();
        v.push((
            "ike_unconfigured_first_msgs".into(),
            ike.unconfigured_first_msgs,
        ));
        v.push(("ike_unknown_sa_drops".into(), ike.unknown_sa_drops));
        v.push(("ike_replayed_drops".into(), ike.replayed_drops));
        v.push((
            "ike_mid_memory_full_drops".into(),
            ike.mid_memory_full_drops,
        ));
        // The IKEv2 responder's drops of unauthenticated input, and its
        // cookies: what a flood or hostile sender costs, by kind.
        let v2 = self.engine.v2_stats();
        for (k, x) in [
            ("ikev2_unconfigured_first_msgs", v2.unconfigured_first_msgs),
            ("ikev2_unknown_sa_drops", v2.unknown_sa_drops),
            ("ikev2_malformed_drops", v2.malformed_drops),
            ("ikev2_integrity_drops", v2.integrity_drops),
            ("ikev2_bad_mid_drops", v2.bad_mid_drops),
            ("ikev2_cookies_sent", v2.cookies_sent),
            ("ikev2_bad_cookie_drops", v2.bad_cookie_drops),
            ("ikev2_half_open_drops", v2.half_open_drops),
        ] {
            v.push((k.to_string(), x));
        }
        let s = snap.stats;
        for (k, x) in [
            ("engine_rx_inside", s.rx_inside),
            ("engine_rx_outside", s.rx_outside),
            ("engine_tx_inside", s.tx_inside),
            ("engine_tx_outside", s.tx_outside),
            ("engine_held", s.held),
            ("engine_hold_released", s.hold_released),
            ("engine_hold_overflow", s.hold_overflow),
            ("engine_hold_expired", s.hold_expired),
            ("engine_unknown_sa", s.unknown_sa),
            ("engine_no_next_hop", s.no_next_hop),
            ("engine_decap_errors", s.decap_errors),
            ("engine_no_frame", s.no_frame),
            ("engine_tx_ring_full", s.tx_ring_full),
            ("engine_bad_meta", s.bad_meta),
            ("engine_frag_needed_sent", s.frag_needed_sent),
            ("engine_mss_clamped", s.mss_clamped),
            ("engine_csum_completed", s.csum_completed),
            ("engine_icmp_rate_limited", s.icmp_rate_limited),
            ("engine_resolver_busy", s.resolver_busy),
            ("engine_next_hop_evictions", s.next_hop_evictions),
            ("engine_frags_out", s.frags_out),
            ("engine_frag_errors", s.frag_errors),
            ("engine_reassembled_rx", s.reassembled_rx),
            ("engine_reassembled_decaps", s.reassembled_decaps),
            ("engine_reassembled_dropped", s.reassembled_dropped),
            ("engine_frags_inside", s.frags_inside),
            ("engine_inside_too_big", s.inside_too_big),
            ("xsk_inside_rx_dropped", s.xsk_inside.rx_dropped),
            ("xsk_inside_rx_ring_full", s.xsk_inside.rx_ring_full),
            (
                "xsk_inside_fill_ring_empty",
                s.xsk_inside.rx_fill_ring_empty,
            ),
            ("xsk_outside_rx_dropped", s.xsk_outside.rx_dropped),
            ("xsk_outside_rx_ring_full", s.xsk_outside.rx_ring_full),
            (
                "xsk_outside_fill_ring_empty",
                s.xsk_outside.rx_fill_ring_empty,
            ),
        ] {
            v.push((k.to_string(), x));
        }
        // Which worker (queue) moved what: RSS at work.
        let mut per_queue = Vec::new();
        for (q, w) in snap.per_queue.iter().enumerate() {
            for (k, x) in [
                ("rx_inside", w.rx_inside),
                ("rx_outside", w.rx_outside),
                ("tx_inside", w.tx_inside),
                ("tx_outside", w.tx_outside),
            ] {
                per_queue.push((q, k, x));
            }
        }
        Ok(DataplaneLines {
            verdicts,
            engine: v,
            per_queue,
        })
    }

    /// The text of one `/metrics` scrape.
    pub(super) fn metrics_text(&self) -> String {
        let lines = self.dataplane_lines().unwrap_or_else(|e| {
            warn!(error = %e, "metrics: reading data-plane counters failed");
            DataplaneLines::default()
        });
        metrics::render(&metrics::Facts {
            ipsec: &self.ipsec_view(None),
            isakmp: &self.isakmp_view(),
            negotiations: &self.negotiations,
            verdicts: &lines.verdicts,
            engine: &lines.engine,
            per_queue: &lines.per_queue,
            rss_bytes: metrics::rss_bytes(),
        })
    }

    pub(super) fn isakmp_view(&self) -> IsakmpSaList {
        let sas = self
            .engine
            .isakmp_sas(Instant::now())
            .into_iter()
            .map(|s| IsakmpSaView {
                peer: s.peer,
                kind: "L2L".into(),
                role: match s.role {
                    ikev1::sa::Role::Initiator => Role::Initiator,
                    ikev1::sa::Role::Responder => Role::Responder,
                },
                rekey: s.rekey,
                state: s.state.clone(),
                ike_version: 1,
                encryption: s.encryption.map(|e| e.to_string()).unwrap_or_default(),
                hash: s.hash.map(|e| e.to_string()).unwrap_or_default(),
                group: s.group.map(|g| g.number()).unwrap_or(0),
                auth: s.auth.map(|e| e.to_string()).unwrap_or_default(),
                lifetime_s: u64::from(s.lifetime_s),
                remaining_s: s.remaining_s.unwrap_or(0),
                reason: s.last_failure.clone(),
            })
            .collect::<Vec<_>>();
        let down = Self::diagnoses(self.engine.v1().peer_status(), |p| {
            !sas.iter()
                .any(|s| s.peer == p && s.state.ends_with("_ACTIVE"))
        });
        IsakmpSaList { sas, down }
    }

    /// Configured peers that are down, with the state and reason of the
    /// last attempt. `no_sa(peer)`: no active IKE SA with it.
    pub(super) fn diagnoses(
        status: Vec<crate::ike::PeerStatus>,
        no_sa: impl Fn(Ipv4Addr) -> bool,
    ) -> Vec<PeerDiagnosis> {
        status
            .into_iter()
            // A peer with phase 1 up but a failed quick mode is not up
            // either: list it with the reason.
            .filter(|p| !p.up && (p.last_failure.is_some() || no_sa(p.peer)))
            .map(|p| {
                let (map, seq) = p
                    .name
                    .rsplit_once(' ')
                    .map(|(m, s)| (m.to_string(), s.parse().unwrap_or(0)))
                    .unwrap_or((p.name.clone(), 0));
                PeerDiagnosis {
                    peer: p.peer,
                    crypto_map: map,
                    seq,
                    state: p.state,
                    reason: p.detail,
                }
            })
            .collect()
    }

    /// `show crypto ikev2 sa`: the engine's IKEv2 SAs with the ESP
    /// engine's counters of each child.
    pub(super) fn ikev2_view(&self) -> Ikev2SaList {
        let snap = self.snapshot();
        let find = |id: u32| {
            snap.sas
                .iter()
                .find(|s| s.sa_id == id)
                .map(|s| s.counters)
                .unwrap_or_default()
        };
        let now = Instant::now();
        let sas: Vec<Ikev2SaView> = self
            .engine
            .ikev2_sas(now)
            .into_iter()
            .map(|s| Ikev2SaView {
                session_id: s.session_id,
                peer: s.peer,
                local: s.local,
                remote: s.remote,
                role: match s.role {
                    crate::ike::Role::Initiator => Role::Initiator,
                    crate::ike::Role::Responder => Role::Responder,
                },
                state: s.state,
                encryption: s.encryption,
                keysize: s.keysize,
                integrity: s.integrity,
                prf: s.prf,
                group: s.group,
                auth: s.auth_sign.clone(),
                auth_sign: s.auth_sign,
                auth_verify: s.auth_verify,
                lifetime_s: s.lifetime_s,
                active_s: s.active_s,
                nat_t: s.nat_t,
                local_spi: s.local_spi,
                remote_spi: s.remote_spi,
                children: s
                    .children
                    .into_iter()
                    .map(|c| {
                        let rec = self
                            .children
                            .iter()
                            .find(|r| r.inbound_spi == c.inbound_spi);
                        let o = rec.map(|r| find(r.out_id)).unwrap_or_default();
                        let i = rec.map(|r| find(r.in_id)).unwrap_or_default();
                        Ikev2ChildView {
                            local_selector: c.local_selector,
                            remote_selector: c.remote_selector,
                            inbound_spi: c.inbound_spi,
                            outbound_spi: c.outbound_spi,
                            transform: c.transform.to_string(),
                            packets_in: i.pkts_decaps,
                            packets_out: o.pkts_encaps,
                            bytes_in: i.bytes_decaps,
                            bytes_out: o.bytes_encaps,
                        }
                    })
                    .collect(),
            })
            .collect();
        let down = Self::diagnoses(self.engine.v2().peer_status(), |p| {
            !sas.iter().any(|s| s.peer == p && s.state == "READY")
        });
        Ikev2SaList { sas, down }
    }

    pub(super) fn ipsec_view(&self, peer: Option<Ipv4Addr>) -> Vec<IpsecSaView> {
        let snap = self.snapshot();
        let find = |id: u32| {
            snap.sas
                .iter()
                .find(|s| s.sa_id == id)
                .map(|s| s.counters)
                .unwrap_or_default()
        };
        let now = Instant::now();
        let mut out = Vec::new();
        for c in self
            .children
            .iter()
            .filter(|c| peer.is_none_or(|p| p == c.peer))
        {
            let Some(sel) = self.selectors.iter().find(|s| s.id == c.selector) else {
                continue;
            };
            let o = find(c.out_id);
            let i = find(c.in_id);
            let used_kb = (o.bytes_encaps.max(i.bytes_decaps)) / 1024;
            let iv = c.transform.cipher.iv_len() as u32;
            let overhead = 20
                + 8
                + iv
                + 2
                + c.transform.integ.icv_len() as u32
                + if c.transform.cipher.is_aead() { 16 } else { 0 }
                + if c.udp_encap.is_some() { 8 } else { 0 };
            out.push(IpsecSaView {
                interface: sel.interface.clone(),
                crypto_map: sel.map.clone(),
                seq: sel.seq,
                local_addr: self.local,
                acl: sel.acl_text.clone(),
                // What was negotiated (a peer may have narrowed the line).
                local_ident: negotiated_ident(
                    c.negotiated.local,
                    sel,
                    c.negotiated.proto,
                    c.negotiated.local_port,
                ),
                remote_ident: negotiated_ident(
                    c.negotiated.remote,
                    sel,
                    c.negotiated.proto,
                    c.negotiated.remote_port,
                ),
                peer: c.peer,
                pkts_encaps: o.pkts_encaps,
                pkts_encrypt: o.pkts_encrypt,
                pkts_digest: o.pkts_digest,
                pkts_decaps: i.pkts_decaps,
                pkts_decrypt: i.pkts_decrypt,
                pkts_verify: i.pkts_verify,
                bytes_encaps: o.bytes_encaps,
                bytes_decaps: i.bytes_decaps,
                send_errors: o.send_errors,
                recv_errors: i.recv_errors,
                replay_drops: i.replay_drops,
                policy_drops: i.policy_drops,
                auth_failures: i.auth_failures,
                path_mtu: self.path_mtu,
                ipsec_overhead: overhead,
                inbound_spi: c.inbound_spi,
                outbound_spi: c.outbound_spi,
                transform: c.transform.to_string(),
                mode: "tunnel".into(),
                udp_encap: c.udp_encap.map(|(_, r)| r),
                remaining_s: c
                    .lifetime_s
                    .saturating_sub(now.duration_since(c.created).as_secs()),
                remaining_kb: c
                    .lifetime_kb
                    .map(|kb| kb.saturating_sub(used_kb))
                    .unwrap_or(0),
                iv_size: iv,
                replay_window: esp::REPLAY_WINDOW as u32,
                pfs_group: c.pfs,
            });
        }
        out
    }
}
