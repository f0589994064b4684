//! The typed configuration the daemon consumes. Everything here is
//! resolved: names, objects and groups are gone, ACLs are ordered rules,
//! defaults are filled in the way an ASA fills them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::net::Ipv4Net;
use crate::algo::{DhGroup, EspTransform, IkeAuth, IkeEncryption, IkeHash};

/// ASA default ISAKMP SA lifetime (`lifetime` in a policy), seconds.
pub const DEFAULT_ISAKMP_LIFETIME_S: u32 = 86_400;
/// ASA default IPsec SA lifetime, seconds.
pub const DEFAULT_IPSEC_LIFETIME_S: u32 = 28_800;
/// ASA default IPsec SA lifetime, kilobytes.
pub const DEFAULT_IPSEC_LIFETIME_KB: u64 = 4_608_000;
/// ASA default NAT-T keepalive, seconds (NAT-T is on by default since 8.x).
pub const DEFAULT_NATT_KEEPALIVE_S: u32 = 20;
/// ASA default DPD for LAN-to-LAN tunnel-groups: threshold 10 s, retry 2 s.
pub const DEFAULT_DPD: (u32, u32) = (10, 2);
/// ASA default `vpn-idle-timeout` of `DfltGrpPolicy`, minutes.
pub const DEFAULT_IDLE_TIMEOUT_MIN: u32 = 30;
/// ASA default `sysopt connection tcpmss`.
pub const DEFAULT_TCP_MSS: u16 = 1380;
/// The tunnel-group an ASA uses for a L2L peer without its own.
pub const DEFAULT_L2L_GROUP: &str = "DefaultL2LGroup";

/// The whole supported configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Linux interfaces given an ASA `nameif`, in file order.
    pub interfaces: Vec<Interface>,
    /// ISAKMP (IKEv1) policies sorted by priority, lowest (tried first) first.
    pub isakmp_policies: Vec<IsakmpPolicy>,
    /// Nameifs with `crypto ikev1 enable` / `crypto isakmp enable`, file order.
    pub ikev1_enabled_on: Vec<String>,
    /// NAT traversal keepalive in seconds; `None` after
    /// `no crypto isakmp nat-traversal`. Default: on, 20 s (ASA 8.2+).
    pub nat_traversal: Option<u32>,
    /// ipsecgw knob `crypto isakmp allow-weak-groups`: acknowledges DH
    /// groups 1/2/5, silencing `check`'s warning about them.
    pub allow_weak_groups: bool,
    /// IOS `crypto isakmp invalid-spi-recovery`: ESP from a configured peer
    /// for an SPI we do not know (it holds SAs we lost, e.g. after our
    /// restart) starts phase 1 toward it, whose INITIAL-CONTACT makes it
    /// drop them. Off by default, as on IOS (ASA has no such command): a
    /// forged packet could make us start IKE toward a peer.
    pub invalid_spi_recovery: bool,
    /// `sysopt connection tcpmss N` (0 = do not clamp). Default 1380.
    pub tcp_mss: u16,
    /// Global `crypto ipsec security-association lifetime seconds S`.
    pub ipsec_lifetime_s: u32,
    /// Global `... lifetime kilobytes K`; `None` = `unlimited`.
    pub ipsec_lifetime_kb: Option<u64>,
    pub transform_sets: BTreeMap<String, TransformSet>,
    /// Sorted by (map, seq).
    pub crypto_maps: Vec<CryptoMapEntry>,
    pub tunnel_groups: BTreeMap<TunnelGroupName, TunnelGroup>,
}

impl Default for Config {
    /// An empty configuration with the ASA defaults.
    fn default() -> Config {
        Config {
            interfaces: Vec::new(),
            isakmp_policies: Vec::new(),
            ikev1_enabled_on: Vec::new(),
            nat_traversal: Some(DEFAULT_NATT_KEEPALIVE_S),
            allow_weak_groups: false,
            invalid_spi_recovery: false,
            tcp_mss: DEFAULT_TCP_MSS,
            ipsec_lifetime_s: DEFAULT_IPSEC_LIFETIME_S,
            ipsec_lifetime_kb: Some(DEFAULT_IPSEC_LIFETIME_KB),
            transform_sets: BTreeMap::new(),
            crypto_maps: Vec::new(),
            tunnel_groups: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The permit lines' (local, remote) networks of a crypto map entry:
    /// what the IKE proxy identities (phase 2 selectors) are built from.
    pub fn local_and_remote(&self, entry: &CryptoMapEntry) -> Vec<(Ipv4Net, Ipv4Net)> {
        entry.local_and_remote()
    }

    /// The tunnel-group that authenticates `peer`: the one named after its
    /// address, else `DefaultL2LGroup` (as an ASA picks it).
    pub fn tunnel_group_for(&self, peer: Ipv4Addr) -> Option<&TunnelGroup> {
        self.tunnel_groups
            .get(&TunnelGroupName::Addr(peer))
            .or_else(|| {
                self.tunnel_groups
                    .get(&TunnelGroupName::Name(DEFAULT_L2L_GROUP.to_string()))
            })
    }

    /// The crypto map entries that list `peer` among their peers.
    pub fn crypto_maps_for_peer(&self, peer: Ipv4Addr) -> impl Iterator<Item = &CryptoMapEntry> {
        self.crypto_maps
            .iter()
            .filter(move |e| e.peers.contains(&peer))
    }

    /// The Linux interface carrying ASA name `nameif`.
    pub fn interface_by_nameif(&self, nameif: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.nameif == nameif)
    }
}

/// `interface <linux-ifname>` / ` nameif <name>` / ` ip address A M`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub ifname: String,
    pub nameif: String,
    /// Address and prefix length, host bits kept.
    pub address: Option<(Ipv4Addr, u8)>,
}

/// `crypto ikev1 policy N` (or `crypto isakmp policy N`), ASA defaults
/// filled in: pre-share, 3des, sha, group 2, 86400 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsakmpPolicy {
    pub priority: u32,
    pub auth: IkeAuth,
    pub encryption: IkeEncryption,
    pub hash: IkeHash,
    pub group: DhGroup,
    pub lifetime_s: u32,
}

impl IsakmpPolicy {
    /// A policy with the ASA defaults.
    pub fn with_defaults(priority: u32) -> IsakmpPolicy {
        IsakmpPolicy {
            priority,
            auth: IkeAuth::PreShare,
            encryption: IkeEncryption::TripleDes,
            hash: IkeHash::Sha1,
            group: DhGroup::Modp1024,
            lifetime_s: DEFAULT_ISAKMP_LIFETIME_S,
        }
    }
}

/// IPsec encapsulation mode of a transform set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Tunnel,
    Transport,
}

/// `crypto ipsec ikev1 transform-set NAME <cipher> [<integ>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformSet {
    pub name: String,
    pub transform: EspTransform,
    pub mode: Mode,
}

/// How phase 1 is initiated towards the peers of a crypto map entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase1Mode {
    Main,
    /// `set phase1-mode aggressive [groupN]`: the optional group is the DH
    /// group of the single KE payload (ASA default group 2).
    Aggressive(Option<DhGroup>),
}

/// Permit or deny, as written on an access-list line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AclAction {
    Permit,
    Deny,
}

/// One resolved access-list line (objects and groups expanded, ranges
/// covered by CIDRs, so one written line may give several rules).
/// First match wins; a `Deny` excludes the traffic from the tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclRule {
    pub action: AclAction,
    /// IP protocol; `None` = `ip` (any).
    pub proto: Option<u8>,
    pub src: Ipv4Net,
    pub dst: Ipv4Net,
    /// `0..=65535` when the line gives no port.
    pub src_ports: RangeInclusive<u16>,
    pub dst_ports: RangeInclusive<u16>,
}

/// All ports.
pub const ALL_PORTS: RangeInclusive<u16> = 0..=u16::MAX;

/// `crypto map MAP SEQ ...` lines gathered into one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoMapEntry {
    pub map: String,
    pub seq: u32,
    /// ACL named by `match address` (empty if the entry has none).
    pub acl: String,
    /// That ACL, resolved; empty if the ACL does not exist.
    pub rules: Vec<AclRule>,
    /// `set peer A [B ...]`: the first is tried first, the rest are backups.
    pub peers: Vec<Ipv4Addr>,
    /// `set [ikev1] transform-set A [B ...]`, in preference order.
    pub transform_sets: Vec<String>,
    /// `set pfs [groupN]` (bare `set pfs` = group 2, as on an ASA).
    pub pfs: Option<DhGroup>,
    pub phase1_mode: Phase1Mode,
    /// Entry lifetime, else the global one, else 28800.
    pub lifetime_s: u32,
    /// Entry lifetime, else the global one; `None` = unlimited.
    pub lifetime_kb: Option<u64>,
    /// Nameif from `crypto map MAP interface NAMEIF`.
    pub interface: Option<String>,
}

impl CryptoMapEntry {
    /// The permit lines' (local, remote) networks, duplicates removed,
    /// in ACL order.
    pub fn local_and_remote(&self) -> Vec<(Ipv4Net, Ipv4Net)> {
        let mut out: Vec<(Ipv4Net, Ipv4Net)> = Vec::new();
        for r in self.rules.iter().filter(|r| r.action == AclAction::Permit) {
            if !out.contains(&(r.src, r.dst)) {
                out.push((r.src, r.dst));
            }
        }
        out
    }
}

/// A tunnel-group is named by the peer's address (L2L) or by a word
/// (`DefaultL2LGroup`). Addresses sort before names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TunnelGroupName {
    Addr(Ipv4Addr),
    Name(String),
}

impl TunnelGroupName {
    pub fn parse(s: &str) -> TunnelGroupName {
        match s.parse() {
            Ok(a) => TunnelGroupName::Addr(a),
            Err(_) => TunnelGroupName::Name(s.to_string()),
        }
    }
}

impl fmt::Display for TunnelGroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelGroupName::Addr(a) => write!(f, "{a}"),
            TunnelGroupName::Name(n) => f.write_str(n),
        }
    }
}

/// `tunnel-group X type ipsec-l2l` and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelGroup {
    pub name: TunnelGroupName,
    pub psk: Option<Psk>,
    /// `isakmp keepalive threshold T retry R` as (T, R) seconds; default
    /// (10, 2) like an ASA; `None` after `isakmp keepalive disable`.
    pub dpd: Option<(u32, u32)>,
    /// `vpn-idle-timeout` minutes resolved through `default-group-policy`
    /// (then `DfltGrpPolicy`, default 30); `None` = `none`.
    pub idle_timeout_min: Option<u32>,
}

/// A pre-shared key. Zeroized on drop; `Debug` and `Display` print `*****`;
/// equality is constant time.
#[derive(Clone)]
pub struct Psk(Zeroizing<String>);

impl Psk {
    pub fn new(key: impl Into<String>) -> Psk {
        Psk(Zeroizing::new(key.into()))
    }

    /// The key bytes, for SKEYID = prf(pre-shared-key, Ni | Nr).
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The key as text, for printing a configuration file that must load.
    pub fn expose_str(&self) -> &str {
        &self.0
    }

    /// `show running-config` masks keys as `*` or `*****`: such a word is
    /// never a key.
    pub fn is_mask(word: &str) -> bool {
        !word.is_empty() && word.bytes().all(|b| b == b'*')
    }
}

impl PartialEq for Psk {
    fn eq(&self, other: &Psk) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Psk {}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

impl fmt::Display for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

/// A line of the input the parser did not use (not an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    pub line: usize,
    pub text: String,
}

/// First line of each configured object, so `check` can point at it.
/// Line 0 = unknown (a [`Config`] not parsed from text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceLines {
    pub isakmp_policies: BTreeMap<u32, usize>,
    pub transform_sets: BTreeMap<String, usize>,
    pub crypto_maps: BTreeMap<(String, u32), usize>,
    pub tunnel_groups: BTreeMap<TunnelGroupName, usize>,
    pub interfaces: BTreeMap<String, usize>,
}

/// What [`parse`](super::parse) gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub config: Config,
    /// Lines outside the supported set, in line order.
    pub ignored: Vec<Ignored>,
    /// Non-fatal findings of the parser (not of `check`).
    pub warnings: Vec<super::Diagnostic>,
    pub source: SourceLines,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psk_is_masked_and_compared() {
        let k = Psk::new("s3cret");
        assert_eq!(format!("{k:?}"), "*****");
        assert_eq!(k.to_string(), "*****");
        assert_eq!(k.expose(), b"s3cret");
        assert_eq!(k, Psk::new("s3cret"));
        assert_ne!(k, Psk::new("s3creT"));
        assert_ne!(k, Psk::new("s3cret2"));
        assert!(Psk::is_mask("*") && Psk::is_mask("*****"));
        assert!(!Psk::is_mask("**a") && !Psk::is_mask(""));
        let tg = TunnelGroup {
            name: TunnelGroupName::parse("192.0.2.2"),
            psk: Some(k),
            dpd: None,
            idle_timeout_min: None,
        };
        assert!(!format!("{tg:?}").contains("s3cret"));
    }

    #[test]
    fn tunnel_group_lookup() {
        let mut c = Config::default();
        let peer: Ipv4Addr = "192.0.2.2".parse().unwrap();
        assert!(c.tunnel_group_for(peer).is_none());
        let dflt = TunnelGroupName::parse(DEFAULT_L2L_GROUP);
        c.tunnel_groups.insert(
            dflt.clone(),
            TunnelGroup {
                name: dflt,
                psk: None,
                dpd: Some(DEFAULT_DPD),
                idle_timeout_min: None,
            },
        );
        assert_eq!(
            c.tunnel_group_for(peer).unwrap().name.to_string(),
            "DefaultL2LGroup"
        );
        let own = TunnelGroupName::Addr(peer);
        c.tunnel_groups.insert(
            own.clone(),
            TunnelGroup {
                name: own.clone(),
                psk: None,
                dpd: None,
                idle_timeout_min: None,
            },
        );
        assert_eq!(c.tunnel_group_for(peer).unwrap().name, own);
    }
}
