//! What the exchanges need to know about this gateway and its peers. The
//! integrator maps the ASA configuration model (crypto maps, ISAKMP
//! policies, tunnel-groups) onto these types.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::algo::{
    DhGroup, EspTransform, IkeAuth, IkeEncryption, IkeHash, Ikev2Encryption, Ikev2Integrity,
    Ikev2Prf,
};

/// Identifies one crypto-map entry's ACL permit line (a pair of protected
/// networks) across the gateway.
pub type SelectorId = u32;

/// Proxy identities use the configuration's network type.
pub use crate::config::Ipv4Net;

/// `addr` + dotted `mask` as a network; `None` unless the mask is contiguous
/// (an ID payload with a mask like 255.0.255.0 is not a subnet).
pub fn net_from_mask(addr: Ipv4Addr, mask: Ipv4Addr) -> Option<Ipv4Net> {
    let m = u32::from(mask);
    let prefix = m.leading_ones();
    let canonical = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (canonical == m)
        .then(|| Ipv4Net::new(addr, prefix as u8))
        .flatten()
}

/// One `crypto isakmp policy N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsakmpPolicy {
    pub priority: u32,
    pub encryption: IkeEncryption,
    pub hash: IkeHash,
    pub auth: IkeAuth,
    pub group: DhGroup,
    pub lifetime_s: u32,
}

impl fmt::Display for IsakmpPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}/{}/{}",
            self.priority, self.encryption, self.hash, self.group, self.lifetime_s
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase1Mode {
    Main,
    Aggressive,
}

/// One ACL permit line of a crypto map entry: the proxy identities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub id: SelectorId,
    /// The ACL name, for operator messages ("crypto map ACL L2L").
    pub acl: String,
    pub local: Ipv4Net,
    pub remote: Ipv4Net,
}

/// `isakmp keepalive threshold T retry R` (RFC 3706 DPD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpdConfig {
    pub threshold: Duration,
    pub retry: Duration,
    /// R-U-THERE messages without an ACK before the peer is declared dead.
    pub max_retries: u32,
}

/// One `crypto ikev2 policy N`: each field lists alternatives, in the
/// order the operator wrote them (their preference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ikev2Policy {
    pub priority: u32,
    pub encryption: Vec<Ikev2Encryption>,
    /// `[Null]` for combined-mode (GCM) encryption.
    pub integrity: Vec<Ikev2Integrity>,
    /// Empty: the PRFs of the integrity algorithms (ASA default; with
    /// GCM and `integrity null` the configuration mapping fills sha256).
    pub prf: Vec<Ikev2Prf>,
    pub groups: Vec<DhGroup>,
    /// Local: IKEv2 lifetimes are not negotiated (RFC 7296 2.8).
    pub lifetime_s: u32,
}

impl Ikev2Policy {
    /// The PRFs this policy offers, in order.
    pub fn prfs(&self) -> Vec<Ikev2Prf> {
        if !self.prf.is_empty() {
            return self.prf.clone();
        }
        let mut v: Vec<Ikev2Prf> = Vec::new();
        for p in self.integrity.iter().filter_map(|i| i.default_prf()) {
            if !v.contains(&p) {
                v.push(p);
            }
        }
        if v.is_empty() {
            v.push(Ikev2Prf::Sha256);
        }
        v
    }
}

/// Gateway-wide IKEv2 settings (`crypto ikev2 ...` lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ikev2Local {
    /// `crypto ikev2 cookie-challenge PERCENT`: cookies are demanded once
    /// half-open IKEv2 SAs reach this percentage of `max_in_negotiation`
    /// (0: always). None: never.
    pub cookie_challenge_percent: Option<u32>,
    /// `crypto ikev2 limit max-in-negotiation-sa N`.
    pub max_in_negotiation: usize,
    /// `crypto ikev2 fragmentation mtu N`: SK payloads of messages larger
    /// than this (IP + UDP included) are sent as RFC 7383 fragments.
    pub fragmentation_mtu: u16,
}

impl Default for Ikev2Local {
    fn default() -> Self {
        Ikev2Local {
            cookie_challenge_percent: Some(50),
            max_in_negotiation: 100,
            fragmentation_mtu: 1280,
        }
    }
}

/// What one address of `set peer A B ...` authenticates with: its own
/// tunnel-group's key and keepalive settings. A backup peer is another
/// box, usually with another key; it must never be offered the primary's.
#[derive(Clone, Default)]
pub struct PeerCredentials {
    pub psk: Zeroizing<Vec<u8>>,
    pub dpd: Option<DpdConfig>,
    /// `ikev2 local-authentication pre-shared-key K`: what we sign our
    /// AUTH with. Empty: none configured.
    pub ikev2_local_psk: Zeroizing<Vec<u8>>,
    /// `ikev2 remote-authentication pre-shared-key K`: what the peer's
    /// AUTH must verify with. Empty: none configured.
    pub ikev2_remote_psk: Zeroizing<Vec<u8>>,
}

/// One crypto-map entry with its tunnel-group: everything about a peer.
#[derive(Clone)]
pub struct PeerConfig {
    /// `OUTSIDE_MAP 10`, for messages.
    pub name: String,
    /// `set peer A B ...`: tried in order when initiating; any of them may
    /// initiate to us.
    pub addresses: Vec<Ipv4Addr>,
    /// The key of an address that has no entry in `per_address`. The
    /// configuration mapping fills `per_address` for every address, so
    /// this serves engines built by hand (tests, benchmarks).
    pub psk: Zeroizing<Vec<u8>>,
    /// Each address's own tunnel-group credentials.
    pub per_address: Vec<(Ipv4Addr, PeerCredentials)>,
    /// ISAKMP policies, lowest priority number first.
    pub policies: Vec<IsakmpPolicy>,
    pub mode: Phase1Mode,
    /// Transforms of the crypto map's transform sets, in order (IKEv1;
    /// empty: the entry does not negotiate IKEv1).
    pub transforms: Vec<EspTransform>,
    /// `crypto ikev2 policy` lists, lowest priority number first.
    pub ikev2_policies: Vec<Ikev2Policy>,
    /// Transforms of `set ikev2 ipsec-proposal P1 P2 ...`, in order
    /// (empty: the entry does not negotiate IKEv2).
    pub ikev2_transforms: Vec<EspTransform>,
    pub pfs: Option<DhGroup>,
    pub lifetime_s: u32,
    pub lifetime_kb: Option<u64>,
    pub selectors: Vec<Selector>,
    pub nat_t: bool,
    pub nat_keepalive: Duration,
    /// Always UDP-encapsulate ESP (claim NAT), as strongSwan's libipsec does.
    pub force_encap: bool,
    pub dpd: Option<DpdConfig>,
    /// Answer aggressive mode from this peer. Off by default: aggressive
    /// mode with PSK exposes a hash an eavesdropper can crack offline.
    pub aggressive_responder: bool,
}

impl fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // never print the PSK
        f.debug_struct("PeerConfig")
            .field("name", &self.name)
            .field("addresses", &self.addresses)
            .field("policies", &self.policies)
            .field("mode", &self.mode)
            .field("transforms", &self.transforms)
            .field("pfs", &self.pfs)
            .field("selectors", &self.selectors)
            .finish_non_exhaustive()
    }
}

impl PeerConfig {
    /// A peer with ASA defaults (main mode, lifetime 28800 s / 4608000 KB,
    /// NAT-T on with 20 s keepalives, DPD 10/2, no PFS).
    pub fn new(name: &str, address: Ipv4Addr, psk: &[u8]) -> PeerConfig {
        PeerConfig {
            name: name.to_string(),
            addresses: vec![address],
            psk: Zeroizing::new(psk.to_vec()),
            policies: Vec::new(),
            mode: Phase1Mode::Main,
            transforms: Vec::new(),
            ikev2_policies: Vec::new(),
            ikev2_transforms: Vec::new(),
            pfs: None,
            lifetime_s: 28800,
            lifetime_kb: Some(4_608_000),
            selectors: Vec::new(),
            nat_t: true,
            nat_keepalive: Duration::from_secs(20),
            force_encap: false,
            dpd: Some(DpdConfig {
                threshold: Duration::from_secs(10),
                retry: Duration::from_secs(2),
                max_retries: 5,
            }),
            aggressive_responder: false,
            per_address: Vec::new(),
        }
    }

    fn credentials(&self, addr: Ipv4Addr) -> Option<&PeerCredentials> {
        self.per_address
            .iter()
            .find(|(a, _)| *a == addr)
            .map(|(_, c)| c)
    }

    /// The pre-shared key `addr` authenticates with. Empty means none is
    /// configured: the engine refuses to negotiate rather than derive keys
    /// from an empty secret.
    pub fn psk_for(&self, addr: Ipv4Addr) -> &[u8] {
        self.credentials(addr).map_or(&self.psk[..], |c| &c.psk[..])
    }

    /// This entry negotiates IKEv2 (it has `set ikev2 ipsec-proposal`);
    /// with IKEv1 transform sets too, IKEv2 is tried first.
    pub fn wants_ikev2(&self) -> bool {
        !self.ikev2_transforms.is_empty()
    }

    pub fn wants_ikev1(&self) -> bool {
        !self.transforms.is_empty()
    }

    /// IKEv2 keys of `addr`: (local, remote). Empty slices: not
    /// configured. Hand-built engines (tests) with no per-address entry use
    /// `psk` both ways.
    pub fn ikev2_psks_for(&self, addr: Ipv4Addr) -> (&[u8], &[u8]) {
        match self.credentials(addr) {
            Some(c) => (&c.ikev2_local_psk[..], &c.ikev2_remote_psk[..]),
            None => (&self.psk[..], &self.psk[..]),
        }
    }

    /// The DPD settings of `addr`'s tunnel-group.
    pub fn dpd_for(&self, addr: Ipv4Addr) -> Option<DpdConfig> {
        self.credentials(addr).map_or(self.dpd, |c| c.dpd)
    }
}

/// Gateway-wide settings.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The outside interface's address (IKE source, our ID).
    pub address: Ipv4Addr,
    pub ike_port: u16,
    pub natt_port: u16,
    /// Retransmissions of a request before giving up.
    pub retransmit_tries: u32,
    /// First retransmission interval; doubles each time.
    pub retransmit_base: Duration,
    pub max_half_open_per_peer: usize,
    pub max_half_open_total: usize,
    /// Minimum interval between two INVALID-SPI notifies to one peer.
    pub invalid_spi_interval: Duration,
    pub ikev2: Ikev2Local,
    /// Testing aid (`run --ikev2-lifetime-s`): every IKEv2 SA lives this
    /// many seconds, whatever its policy's `lifetime seconds` says (whose
    /// minimum, 120, puts a rekey past 100 s).
    pub ikev2_sa_lifetime_s: Option<u32>,
}

impl LocalConfig {
    pub fn new(address: Ipv4Addr) -> LocalConfig {
        LocalConfig {
            address,
            ike_port: 500,
            natt_port: 4500,
            retransmit_tries: 5,
            retransmit_base: Duration::from_secs(2),
            max_half_open_per_peer: 4,
            max_half_open_total: 256,
            invalid_spi_interval: Duration::from_secs(10),
            ikev2: Ikev2Local::default(),
            ikev2_sa_lifetime_s: None,
        }
    }
}
