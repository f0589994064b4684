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
use crate::algo::{
    DhGroup, EspInteg, EspTransform, IkeAuth, IkeEncryption, IkeHash, Ikev2Encryption,
    Ikev2EspEncryption, Ikev2EspIntegrity, Ikev2Integrity, Ikev2Prf,
};

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
/// Default `crypto ikev2 cookie-challenge` percentage.
pub const DEFAULT_IKEV2_COOKIE_CHALLENGE: u32 = 50;
/// Default `crypto ikev2 limit max-in-negotiation-sa`.
pub const DEFAULT_IKEV2_MAX_IN_NEGOTIATION: u32 = 100;
/// Default `crypto ikev2 fragmentation mtu` (IPv6's minimum MTU: fits
/// every path an IKE message is likely to cross).
pub const DEFAULT_IKEV2_FRAGMENTATION_MTU: u16 = 1280;

/// The whole supported configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Linux interfaces given an ASA `nameif`, in file order.
    pub interfaces: Vec<Interface>,
    /// ISAKMP (IKEv1) policies sorted by priority, lowest (tried first) first.
    pub isakmp_policies: Vec<IsakmpPolicy>,
    /// Nameifs with `crypto ikev1 enable` / `crypto isakmp enable`, file order.
    pub ikev1_enabled_on: Vec<String>,
    /// `crypto ikev2 policy N` blocks sorted by priority, lowest first.
    pub ikev2_policies: Vec<Ikev2Policy>,
    /// Nameifs with `crypto ikev2 enable`, file order.
    pub ikev2_enabled_on: Vec<String>,
    /// Gateway-wide `crypto ikev2 ...` knobs.
    pub ikev2: Ikev2Settings,
    /// NAT traversal keepalive in seconds; `None` after
    /// `no crypto isakmp nat-traversal`. Default: on, 20 s (ASA 8.2+).
    pub nat_traversal: Option<u32>,
    /// ipsecgw knob `crypto isakmp allow-weak-groups`: acknowledges DH
    /// groups 1/2/5, silencing `check`'s warning about them (IKEv1), and
    /// allows 1/2/5/24, which `check` otherwise refuses for IKEv2.
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
    /// `crypto ipsec ikev2 ipsec-proposal NAME` by name.
    pub ikev2_proposals: BTreeMap<String, Ikev2Proposal>,
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
            ikev2_policies: Vec::new(),
            ikev2_enabled_on: Vec::new(),
            ikev2: Ikev2Settings::default(),
            nat_traversal: Some(DEFAULT_NATT_KEEPALIVE_S),
            allow_weak_groups: false,
            invalid_spi_recovery: false,
            tcp_mss: DEFAULT_TCP_MSS,
            ipsec_lifetime_s: DEFAULT_IPSEC_LIFETIME_S,
            ipsec_lifetime_kb: Some(DEFAULT_IPSEC_LIFETIME_KB),
            transform_sets: BTreeMap::new(),
            ikev2_proposals: BTreeMap::new(),
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

    /// Whether anything IKEv2 is configured (the printer writes the
    /// `crypto ikev2` globals only then, so IKEv1 configurations print as
    /// they always did).
    pub fn has_ikev2(&self) -> bool {
        !self.ikev2_policies.is_empty()
            || !self.ikev2_enabled_on.is_empty()
            || !self.ikev2_proposals.is_empty()
            || self.ikev2 != Ikev2Settings::default()
            || self.crypto_maps.iter().any(|e| e.uses_ikev2())
            || self
                .tunnel_groups
                .values()
                .any(|t| t.ikev2_local_psk.is_some() || t.ikev2_remote_psk.is_some())
    }

    /// The versions `entry` negotiates as configured: (IKEv1, IKEv2). An
    /// entry is IKEv1 when it has a transform set, IKEv2 when it has an
    /// ipsec-proposal, each only where its interface enables that version.
    /// An entry with neither counts as IKEv1 (as before IKEv2 existed: its
    /// traffic is classified and held, and `check` reports it).
    pub fn versions_of(&self, entry: &CryptoMapEntry) -> (bool, bool) {
        let Some(i) = &entry.interface else {
            return (false, false);
        };
        let v1 = (entry.uses_ikev1() || !entry.uses_ikev2()) && self.ikev1_enabled_on.contains(i);
        let v2 = entry.uses_ikev2() && self.ikev2_enabled_on.contains(i);
        (v1, v2)
    }
}

/// Gateway-wide IKEv2 settings (`crypto ikev2 cookie-challenge`, `limit`,
/// `fragmentation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ikev2Settings {
    /// `crypto ikev2 cookie-challenge P`: cookies are demanded once
    /// half-open SAs reach P% of `max_in_negotiation` (0: always);
    /// `None` after `no crypto ikev2 cookie-challenge`.
    pub cookie_challenge: Option<u32>,
    /// `crypto ikev2 limit max-in-negotiation-sa N`: half-open IKEv2 SAs.
    pub max_in_negotiation: u32,
    /// `crypto ikev2 fragmentation mtu N`: larger messages go as RFC 7383
    /// fragments.
    pub fragmentation_mtu: u16,
}

impl Default for Ikev2Settings {
    fn default() -> Ikev2Settings {
        Ikev2Settings {
            cookie_challenge: Some(DEFAULT_IKEV2_COOKIE_CHALLENGE),
            max_in_negotiation: DEFAULT_IKEV2_MAX_IN_NEGOTIATION,
            fragmentation_mtu: DEFAULT_IKEV2_FRAGMENTATION_MTU,
        }
    }
}

/// `crypto ikev2 policy N`. Each list holds alternatives in the order
/// written (the operator's preference). Omitted lines take ipsecgw's
/// defaults, modelled on a current ASA: `encryption aes-256`, `integrity
/// sha256` (`null` when every encryption is GCM), `group 14`, `lifetime
/// seconds 86400`; an omitted `prf` stays empty (the PRFs of the
/// integrity algorithms are offered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ikev2Policy {
    pub priority: u32,
    pub encryption: Vec<Ikev2Encryption>,
    pub integrity: Vec<Ikev2Integrity>,
    pub groups: Vec<DhGroup>,
    pub prf: Vec<Ikev2Prf>,
    /// Local only: IKEv2 lifetimes are not negotiated (RFC 7296 2.8).
    pub lifetime_s: u32,
}

impl Ikev2Policy {
    /// The default encryption list.
    pub const DEFAULT_ENCRYPTION: Ikev2Encryption = Ikev2Encryption::Aes256;
    /// The default group list.
    pub const DEFAULT_GROUP: DhGroup = DhGroup::Modp2048;

    /// The integrity list an omitted `integrity` line means for
    /// `encryption`: `null` when every algorithm is combined-mode (GCM
    /// carries its own integrity), else sha256.
    pub fn default_integrity(encryption: &[Ikev2Encryption]) -> Vec<Ikev2Integrity> {
        if !encryption.is_empty() && encryption.iter().all(|e| e.is_aead()) {
            vec![Ikev2Integrity::Null]
        } else {
            vec![Ikev2Integrity::Sha256]
        }
    }
}

/// `crypto ipsec ikev2 ipsec-proposal NAME` with its ` protocol esp
/// encryption ...` and ` protocol esp integrity ...` lists, as written
/// (empty when the line is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ikev2Proposal {
    pub name: String,
    pub encryption: Vec<Ikev2EspEncryption>,
    pub integrity: Vec<Ikev2EspIntegrity>,
}

impl Ikev2Proposal {
    /// The ESP transforms this proposal allows: every valid pairing of an
    /// encryption with an integrity, encryption order major, integrity
    /// order minor. A combined-mode cipher (GCM, ChaCha20-Poly1305) pairs
    /// only with `null` (or with no integrity line at all); any other
    /// cipher only with a real integrity algorithm, so `aes-256` with
    /// `null` (no integrity) is never offered.
    pub fn transforms(&self) -> Vec<EspTransform> {
        let mut out = Vec::new();
        for enc in &self.encryption {
            let cipher = enc.cipher();
            if cipher.is_aead() {
                if self.integrity.is_empty() || self.integrity.contains(&Ikev2EspIntegrity::Null) {
                    out.push(EspTransform {
                        cipher,
                        integ: EspInteg::None,
                    });
                }
                continue;
            }
            for i in &self.integrity {
                let integ = i.integ();
                if integ != EspInteg::None {
                    out.push(EspTransform { cipher, integ });
                }
            }
        }
        out
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
    /// `set ikev2 ipsec-proposal A [B ...]`, in preference order.
    pub ikev2_proposals: Vec<String>,
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
    /// The entry names an IKEv1 transform set.
    pub fn uses_ikev1(&self) -> bool {
        !self.transform_sets.is_empty()
    }

    /// The entry names an IKEv2 ipsec-proposal (it then initiates IKEv2,
    /// falling back to IKEv1 when it has a transform set too).
    pub fn uses_ikev2(&self) -> bool {
        !self.ikev2_proposals.is_empty()
    }

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
    /// `[ikev1] pre-shared-key K` (IKEv1 only).
    pub psk: Option<Psk>,
    /// `ikev2 local-authentication pre-shared-key K`: what our AUTH
    /// payload is computed with.
    pub ikev2_local_psk: Option<Psk>,
    /// `ikev2 remote-authentication pre-shared-key K`: what the peer's
    /// AUTH payload must verify with.
    pub ikev2_remote_psk: Option<Psk>,
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
    pub ikev2_policies: BTreeMap<u32, usize>,
    pub ikev2_proposals: BTreeMap<String, usize>,
    /// (line, column) of each name of an entry's `set ikev2
    /// ipsec-proposal`, in the order of `CryptoMapEntry::ikev2_proposals`.
    pub ikev2_proposal_refs: BTreeMap<(String, u32), Vec<(usize, usize)>>,
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
            ikev2_local_psk: Some(Psk::new("l0cal")),
            ikev2_remote_psk: Some(Psk::new("rem0te")),
            dpd: None,
            idle_timeout_min: None,
        };
        let shown = format!("{tg:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("l0cal") && !shown.contains("rem0te"));
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
                ikev2_local_psk: None,
                ikev2_remote_psk: None,
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
                ikev2_local_psk: None,
                ikev2_remote_psk: None,
                dpd: None,
                idle_timeout_min: None,
            },
        );
        assert_eq!(c.tunnel_group_for(peer).unwrap().name, own);
    }
}
