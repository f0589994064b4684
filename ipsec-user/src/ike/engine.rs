//! The one IKE engine the daemon drives: it owns the IKEv1 and the IKEv2
//! engines, hands each datagram to the one its header's major version
//! names, routes per-child calls to the engine that owns the SPI, and
//! decides which version a crypto-map entry initiates with (IKEv2 first
//! when the entry has an ikev2 ipsec-proposal, falling back to IKEv1 when
//! the peer refuses IKEv2 and the entry has a transform set too).
//!
//! Sans-IO like both engines: datagrams and `Instant`s in, [`Output`]s out.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use super::config::{LocalConfig, PeerConfig, SelectorId};
use super::output::Output;
use super::spi::SpiPool;
use super::status::{Ikev2SaInfo, PeerStatus};
use super::{v1, v2};

pub struct Engine {
    v1: v1::Engine,
    v2: v2::Engine,
    peers: Vec<PeerConfig>,
}

/// IKE major version of a datagram (byte 17's high nibble), if it has a
/// header at all.
fn major_version(data: &[u8]) -> Option<u8> {
    data.get(17).map(|v| v >> 4)
}

impl Engine {
    pub fn new(local: LocalConfig) -> Self {
        let spis = SpiPool::default();
        Engine {
            v1: v1::Engine::with_spi_pool(local.clone(), spis.clone()),
            v2: v2::Engine::new(local, spis),
            peers: Vec::new(),
        }
    }

    pub fn v1(&self) -> &v1::Engine {
        &self.v1
    }

    pub fn v2(&self) -> &v2::Engine {
        &self.v2
    }

    /// Counters of dropped unauthenticated IKEv1 datagrams.
    pub fn stats(&self) -> v1::EngineStats {
        self.v1.stats()
    }

    /// Counters of dropped unauthenticated IKEv2 datagrams and cookies.
    pub fn v2_stats(&self) -> v2::Stats {
        self.v2.stats()
    }

    pub fn local_config(&self) -> &LocalConfig {
        self.v1.local_config()
    }

    /// Each engine serves the entries that allow its version: an IKEv1
    /// first message from an IKEv2-only peer is an unconfigured source to
    /// the IKEv1 engine, and the reverse.
    pub fn set_peers(&mut self, peers: Vec<PeerConfig>) {
        self.v1
            .set_peers(peers.iter().filter(|p| p.wants_ikev1()).cloned().collect());
        self.v2
            .set_peers(peers.iter().filter(|p| p.wants_ikev2()).cloned().collect());
        self.v2.set_v1_only_peers(
            peers
                .iter()
                .filter(|p| !p.wants_ikev2())
                .flat_map(|p| p.addresses.iter().copied()),
        );
        self.peers = peers;
    }

    fn peer_config(&self, addr: Ipv4Addr) -> Option<&PeerConfig> {
        self.peers.iter().find(|p| p.addresses.contains(&addr))
    }

    /// Negotiate `selector` with `peer`, in the entry's preferred version.
    pub fn initiate(&mut self, now: Instant, peer: Ipv4Addr, selector: SelectorId) -> Vec<Output> {
        let v2 = self.peer_config(peer).is_some_and(|p| p.wants_ikev2());
        let outs = if v2 {
            self.v2.initiate(now, peer, selector)
        } else {
            self.v1.initiate(now, peer, selector)
        };
        self.with_fallbacks(now, outs)
    }

    /// Selectors the IKEv2 engine gave up on because the peer refused
    /// IKEv2 go to IKEv1 when the entry allows it.
    fn with_fallbacks(&mut self, now: Instant, mut outs: Vec<Output>) -> Vec<Output> {
        for (peer, selector) in self.v2.take_fallbacks() {
            if self.peer_config(peer).is_some_and(|p| p.wants_ikev1()) {
                outs.extend(self.v1.initiate(now, peer, selector));
            }
        }
        outs
    }

    /// An IKE datagram arrived (without the non-ESP marker).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        to: SocketAddrV4,
        data: &[u8],
    ) -> Vec<Output> {
        let outs = match major_version(data) {
            Some(2) => self.v2.handle_datagram(now, from, to, data),
            // Version 1, keepalives, and garbage the IKEv1 parser counts.
            _ => self.v1.handle_datagram(now, from, to, data),
        };
        self.with_fallbacks(now, outs)
    }

    pub fn delete_ipsec(&mut self, now: Instant, peer: Option<Ipv4Addr>) -> Vec<Output> {
        let mut outs = self.v1.delete_ipsec(now, peer);
        outs.extend(self.v2.delete_children(now, peer));
        outs
    }

    /// `clear crypto isakmp sa`: IKEv1 SAs only, as on an ASA.
    pub fn delete_isakmp(&mut self, now: Instant, peer: Option<Ipv4Addr>) -> Vec<Output> {
        self.v1.delete_isakmp(now, peer)
    }

    /// `clear crypto ikev2 sa`.
    pub fn delete_ikev2(&mut self, now: Instant, peer: Option<Ipv4Addr>) -> Vec<Output> {
        self.v2.delete_ike(now, peer)
    }

    /// Shutdown: every IKE SA of both versions, with DELETEs sent.
    pub fn delete_all(&mut self, now: Instant) -> Vec<Output> {
        let mut outs = self.v1.delete_isakmp(now, None);
        outs.extend(self.v2.delete_ike(now, None));
        outs
    }

    pub fn note_child_traffic(&mut self, now: Instant, inbound_spi: u32) {
        if self.v2.owns_child(inbound_spi) {
            self.v2.note_child_traffic(now, inbound_spi);
        } else {
            self.v1.note_child_traffic(now, inbound_spi);
        }
    }

    pub fn note_child_inbound(&mut self, now: Instant, inbound_spi: u32) {
        if self.v2.owns_child(inbound_spi) {
            self.v2.note_child_inbound(now, inbound_spi);
        } else {
            self.v1.note_child_inbound(now, inbound_spi);
        }
    }

    pub fn note_child_volume_soft(&mut self, now: Instant, inbound_spi: u32) {
        if self.v2.owns_child(inbound_spi) {
            self.v2.note_child_volume_soft(now, inbound_spi);
        } else {
            self.v1.note_child_volume_soft(now, inbound_spi);
        }
    }

    pub fn expire_child(&mut self, now: Instant, inbound_spi: u32) -> Vec<Output> {
        if self.v2.owns_child(inbound_spi) {
            self.v2.expire_child(now, inbound_spi)
        } else {
            self.v1.expire_child(now, inbound_spi)
        }
    }

    pub fn isakmp_sas(&self, now: Instant) -> Vec<v1::IsakmpSaInfo> {
        self.v1.isakmp_sas(now)
    }

    pub fn ikev2_sas(&self, now: Instant) -> Vec<Ikev2SaInfo> {
        self.v2.ike_sas(now)
    }

    /// One line per configured peer address. An entry that allows both
    /// versions reports the one that is up, else the one with news.
    pub fn peer_status(&self) -> Vec<PeerStatus> {
        let v1 = self.v1.peer_status();
        let v2 = self.v2.peer_status();
        let mut out = Vec::new();
        for cfg in &self.peers {
            for &addr in &cfg.addresses {
                let a = v1.iter().find(|s| s.peer == addr && s.name == cfg.name);
                let b = v2.iter().find(|s| s.peer == addr && s.name == cfg.name);
                let pick = match (a, b) {
                    (Some(a), Some(b)) => {
                        if a.up && !b.up {
                            a
                        } else if b.up || b.last_failure.is_some() || a.last_failure.is_none() {
                            b
                        } else {
                            a
                        }
                    }
                    (Some(a), None) => a,
                    (None, Some(b)) => b,
                    (None, None) => continue,
                };
                out.push(pick.clone());
            }
        }
        out
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        match (self.v1.next_timeout(), self.v2.next_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn on_timer(&mut self, now: Instant) -> Vec<Output> {
        let mut outs = self.v1.on_timer(now);
        outs.extend(self.v2.on_timer(now));
        self.with_fallbacks(now, outs)
    }

    pub fn child_count(&self) -> usize {
        self.v1.child_count() + self.v2.child_count()
    }
}
