//! The sans-IO IKEv2 engine.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use crate::ike::config::{LocalConfig, PeerConfig, SelectorId};
use crate::ike::output::Output;
use crate::ike::spi::SpiPool;
use crate::ike::status::{Ikev2SaInfo, PeerStatus};

/// Datagrams dropped before any state existed for them, and cookies.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub unconfigured_first_msgs: u64,
    pub unknown_sa_drops: u64,
    pub cookies_sent: u64,
    pub bad_cookie_drops: u64,
}

pub struct Engine {
    #[allow(dead_code)]
    local: LocalConfig,
    peers: Vec<PeerConfig>,
    #[allow(dead_code)]
    spis: SpiPool,
    stats: Stats,
    fallbacks: Vec<(Ipv4Addr, SelectorId)>,
}

impl Engine {
    pub fn new(local: LocalConfig, spis: SpiPool) -> Self {
        Engine {
            local,
            peers: Vec::new(),
            spis,
            stats: Stats::default(),
            fallbacks: Vec::new(),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn set_peers(&mut self, peers: Vec<PeerConfig>) {
        self.peers = peers;
    }

    pub fn take_fallbacks(&mut self) -> Vec<(Ipv4Addr, SelectorId)> {
        std::mem::take(&mut self.fallbacks)
    }

    pub fn initiate(&mut self, _now: Instant, peer: Ipv4Addr, selector: SelectorId) -> Vec<Output> {
        self.fallbacks.push((peer, selector));
        Vec::new()
    }

    pub fn handle_datagram(
        &mut self,
        _now: Instant,
        _from: SocketAddrV4,
        _to: SocketAddrV4,
        _data: &[u8],
    ) -> Vec<Output> {
        Vec::new()
    }

    pub fn delete_children(&mut self, _now: Instant, _peer: Option<Ipv4Addr>) -> Vec<Output> {
        Vec::new()
    }

    pub fn delete_ike(&mut self, _now: Instant, _peer: Option<Ipv4Addr>) -> Vec<Output> {
        Vec::new()
    }

    pub fn owns_child(&self, _inbound_spi: u32) -> bool {
        false
    }

    pub fn note_child_traffic(&mut self, _now: Instant, _inbound_spi: u32) {}

    pub fn note_child_inbound(&mut self, _now: Instant, _inbound_spi: u32) {}

    pub fn note_child_volume_soft(&mut self, _now: Instant, _inbound_spi: u32) {}

    pub fn expire_child(&mut self, _now: Instant, _inbound_spi: u32) -> Vec<Output> {
        Vec::new()
    }

    pub fn ike_sas(&self, _now: Instant) -> Vec<Ikev2SaInfo> {
        Vec::new()
    }

    pub fn peer_status(&self) -> Vec<PeerStatus> {
        Vec::new()
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        None
    }

    pub fn on_timer(&mut self, _now: Instant) -> Vec<Output> {
        Vec::new()
    }

    pub fn child_count(&self) -> usize {
        0
    }
}
