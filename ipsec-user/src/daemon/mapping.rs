//! From the ASA configuration model to what the subsystems take: IKE peer
//! configurations, data-plane ACL rules with selector ids, and the facts
//! `show crypto ipsec sa` prints about each selector.

use std::net::Ipv4Addr;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::algo::{EspTransform, Ikev2Integrity, Ikev2Prf};
use crate::config::{self, AclAction, Config, CryptoMapEntry};
use crate::dataplane::acl as dp;
use crate::ike::v1::config as ike;

/// One crypto-map ACL permit line: a selector of its own, with its own SA
/// pair (as an ASA builds one pair per ACL line).
#[derive(Debug, Clone)]
pub struct SelectorInfo {
    pub id: u32,
    /// Index of the crypto map entry in `Config::crypto_maps`.
    pub entry: usize,
    pub map: String,
    pub seq: u32,
    pub acl: String,
    /// The access-list line as written, normalised (for `show`).
    pub acl_text: String,
    pub local: config::Ipv4Net,
    pub remote: config::Ipv4Net,
    pub proto: u8,
    pub peers: Vec<Ipv4Addr>,
    /// nameif the crypto map is bound to.
    pub interface: String,
}

/// Entries that are live: with at least one peer, bound to an interface
/// that enables a version the entry negotiates (IKEv1 for a transform set,
/// IKEv2 for an ipsec-proposal; see `Config::versions_of`). An IKEv2-only
/// entry is as live as an IKEv1 one: its ACL lines are selectors, and the
/// data plane holds and punts their traffic the same way.
fn live_entries(cfg: &Config) -> impl Iterator<Item = (usize, &CryptoMapEntry)> {
    cfg.crypto_maps.iter().enumerate().filter(move |(_, e)| {
        let (v1, v2) = cfg.versions_of(e);
        (v1 || v2) && !e.peers.is_empty()
    })
}

/// Selector ids are assigned in crypto-map order, permit lines in ACL order.
pub fn selectors(cfg: &Config) -> Vec<SelectorInfo> {
    let mut out = Vec::new();
    for (idx, e) in live_entries(cfg) {
        for r in e.rules.iter().filter(|r| r.action == AclAction::Permit) {
            if out
                .iter()
                .any(|s: &SelectorInfo| s.entry == idx && s.local == r.src && s.remote == r.dst)
            {
                continue;
            }
            out.push(SelectorInfo {
                id: out.len() as u32,
                entry: idx,
                map: e.map.clone(),
                seq: e.seq,
                acl: e.acl.clone(),
                acl_text: format!(
                    "{} extended permit {} {} {} {} {}",
                    e.acl,
                    r.proto.map(proto_name).unwrap_or_else(|| "ip".into()),
                    r.src.addr(),
                    r.src.mask(),
                    r.dst.addr(),
                    r.dst.mask()
                ),
                local: r.src,
                remote: r.dst,
                proto: r.proto.unwrap_or(0),
                peers: e.peers.clone(),
                interface: e.interface.clone().unwrap_or_default(),
            });
        }
    }
    out
}

fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        n => n.to_string(),
    }
}

/// The data plane's ordered ACL set: every live entry's lines in crypto-map
/// order. Deny lines keep their place (they exclude traffic from the
/// tunnel); permit lines carry the selector of their (local, remote) pair.
pub fn acl_rules(cfg: &Config, sels: &[SelectorInfo]) -> Vec<dp::AclRule> {
    let mut out = Vec::new();
    for (idx, e) in live_entries(cfg) {
        for r in &e.rules {
            let selector = sels
                .iter()
                .find(|s| s.entry == idx && s.local == r.src && s.remote == r.dst)
                .map(|s| s.id)
                .unwrap_or(u32::MAX);
            out.push(dp::AclRule {
                selector,
                action: match r.action {
                    AclAction::Permit => dp::AclAction::Permit,
                    AclAction::Deny => dp::AclAction::Deny,
                },
                proto: r.proto,
                src: (r.src.addr(), r.src.prefix()),
                dst: (r.dst.addr(), r.dst.prefix()),
                src_ports: r.src_ports.clone(),
                dst_ports: r.dst_ports.clone(),
            });
        }
    }
    out
}

/// The `crypto ikev2 policy` blocks as the engine takes them, lowest
/// priority first. An omitted `prf` stays empty (the engine offers the
/// integrity algorithms' PRFs), except where the integrity is only `null`
/// (GCM): there is no integrity to take a PRF from, and sha256 is what an
/// ASA offers then.
pub fn ikev2_policies(cfg: &Config) -> Vec<ike::Ikev2Policy> {
    cfg.ikev2_policies
        .iter()
        .map(|p| ike::Ikev2Policy {
            priority: p.priority,
            encryption: p.encryption.clone(),
            integrity: p.integrity.clone(),
            prf: if p.prf.is_empty() && p.integrity.iter().all(|i| *i == Ikev2Integrity::Null) {
                vec![Ikev2Prf::Sha256]
            } else {
                p.prf.clone()
            },
            groups: p.groups.clone(),
            lifetime_s: p.lifetime_s,
        })
        .collect()
}

/// The ESP transforms of `set ikev2 ipsec-proposal P1 P2 ...`: each
/// proposal's valid pairings in order (`Ikev2Proposal::transforms`), a
/// transform two proposals share offered once, where it first appears.
pub fn ikev2_transforms(cfg: &Config, entry: &CryptoMapEntry) -> Vec<EspTransform> {
    let mut out: Vec<EspTransform> = Vec::new();
    for t in entry
        .ikev2_proposals
        .iter()
        .filter_map(|n| cfg.ikev2_proposals.get(n))
        .flat_map(|p| p.transforms())
    {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// The gateway-wide IKEv2 settings from the `crypto ikev2` lines.
pub fn ikev2_local(cfg: &Config) -> ike::Ikev2Local {
    ike::Ikev2Local {
        cookie_challenge_percent: cfg.ikev2.cookie_challenge,
        max_in_negotiation: cfg.ikev2.max_in_negotiation as usize,
        fragmentation_mtu: cfg.ikev2.fragmentation_mtu,
    }
}

/// One IKE peer configuration per live crypto map entry. Each version's
/// algorithms are filled only where the entry negotiates that version
/// (its interface enables it): the engine picks the version from which
/// of `transforms` / `ikev2_transforms` is non-empty.
pub fn ike_peers(cfg: &Config, sels: &[SelectorInfo]) -> Vec<ike::PeerConfig> {
    let policies: Vec<ike::IsakmpPolicy> = cfg
        .isakmp_policies
        .iter()
        .map(|p| ike::IsakmpPolicy {
            priority: p.priority,
            encryption: p.encryption,
            hash: p.hash,
            auth: p.auth,
            group: p.group,
            lifetime_s: p.lifetime_s,
        })
        .collect();
    let v2_policies = ikev2_policies(cfg);
    let mut out = Vec::new();
    for (idx, e) in live_entries(cfg) {
        let (v1, v2) = cfg.versions_of(e);
        // No key of its own for the entry: every address of `set peer A B C`
        // authenticates with its own tunnel-group (a backup peer is another
        // box with another key and other keepalive settings). An address
        // without a key keeps an empty one, which the engine refuses to
        // negotiate with (and `check` reports).
        let mut p = ike::PeerConfig::new(&format!("{} {}", e.map, e.seq), e.peers[0], &[]);
        p.addresses = e.peers.clone();
        p.per_address = e
            .peers
            .iter()
            .map(|&addr| (addr, peer_credentials(cfg, addr)))
            .collect();
        p.dpd = p.dpd_for(e.peers[0]);
        p.policies = policies.clone();
        p.mode = match e.phase1_mode {
            config::Phase1Mode::Main => ike::Phase1Mode::Main,
            config::Phase1Mode::Aggressive(_) => ike::Phase1Mode::Aggressive,
        };
        p.aggressive_responder = matches!(e.phase1_mode, config::Phase1Mode::Aggressive(_));
        if v1 {
            p.transforms = e
                .transform_sets
                .iter()
                .filter_map(|n| cfg.transform_sets.get(n))
                .map(|t| t.transform)
                .collect();
        }
        if v2 {
            p.ikev2_policies = v2_policies.clone();
            p.ikev2_transforms = ikev2_transforms(cfg, e);
        }
        p.pfs = e.pfs;
        p.lifetime_s = e.lifetime_s;
        p.lifetime_kb = e.lifetime_kb;
        p.selectors = sels
            .iter()
            .filter(|s| s.entry == idx)
            .map(|s| ike::Selector {
                id: s.id,
                acl: s.acl.clone(),
                local: s.local,
                remote: s.remote,
            })
            .collect();
        p.nat_t = cfg.nat_traversal.is_some();
        if let Some(k) = cfg.nat_traversal {
            p.nat_keepalive = Duration::from_secs(u64::from(k.max(1)));
        }
        out.push(p);
    }
    out
}

/// `addr`'s tunnel-group (its own, or DefaultL2LGroup): keys and DPD.
/// A key that is not configured stays empty, which the engines refuse to
/// authenticate with.
fn peer_credentials(cfg: &Config, addr: Ipv4Addr) -> ike::PeerCredentials {
    let tg = cfg.tunnel_group_for(addr);
    let key = |k: Option<&config::Psk>| {
        Zeroizing::new(k.map(|k| k.expose().to_vec()).unwrap_or_default())
    };
    ike::PeerCredentials {
        psk: key(tg.and_then(|t| t.psk.as_ref())),
        dpd: tg
            .and_then(|t| t.dpd)
            .map(|(threshold, retry)| ike::DpdConfig {
                threshold: Duration::from_secs(u64::from(threshold)),
                retry: Duration::from_secs(u64::from(retry.max(1))),
                max_retries: 5,
            }),
        ikev2_local_psk: key(tg.and_then(|t| t.ikev2_local_psk.as_ref())),
        ikev2_remote_psk: key(tg.and_then(|t| t.ikev2_remote_psk.as_ref())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `set peer PRIMARY BACKUP` with a tunnel-group each: every address
    /// authenticates with its own key and keepalive settings. Before, the
    /// backup was offered the primary's key (and DPD).
    #[test]
    fn each_peer_address_has_its_own_tunnel_group() {
        let text = "\
interface wan0
 nameif outside
access-list L2L extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0
crypto ikev1 policy 10
 encryption aes-256
 hash sha256
 group 14
crypto ipsec ikev1 transform-set T esp-aes-256 esp-sha256-hmac
crypto map M 10 match address L2L
crypto map M 10 set peer 192.0.2.2 192.0.2.3
crypto map M 10 set ikev1 transform-set T
crypto map M interface outside
crypto ikev1 enable outside
tunnel-group 192.0.2.2 type ipsec-l2l
tunnel-group 192.0.2.2 ipsec-attributes
 ikev1 pre-shared-key primary-key
 isakmp keepalive threshold 30 retry 3
tunnel-group 192.0.2.3 type ipsec-l2l
tunnel-group 192.0.2.3 ipsec-attributes
 ikev1 pre-shared-key backup-key
 isakmp keepalive disable
";
        let cfg = config::parse(text).unwrap().config;
        let sels = selectors(&cfg);
        let peers = ike_peers(&cfg, &sels);
        assert_eq!(peers.len(), 1);
        let p = &peers[0];
        let (primary, backup) = ("192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap());
        assert_eq!(p.addresses, vec![primary, backup]);
        assert_eq!(p.psk_for(primary), b"primary-key");
        assert_eq!(p.psk_for(backup), b"backup-key");
        assert_eq!(
            p.dpd_for(primary)
                .map(|d| (d.threshold.as_secs(), d.retry.as_secs())),
            Some((30, 3))
        );
        assert_eq!(p.dpd_for(backup), None);
    }

    const IKEV2: &str = "\
interface wan0
 nameif outside
access-list L2L extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0
access-list L2L extended deny ip host 198.51.100.7 any4
access-list L2L extended permit tcp 198.51.100.0 255.255.255.0 203.0.113.128 255.255.255.128 eq 443
access-list L2L-B extended permit ip 198.51.100.0 255.255.255.0 192.0.2.128 255.255.255.128
crypto ikev2 policy 20
 encryption aes-256
 integrity sha384 sha256
 group 20 14
crypto ikev2 policy 10
 encryption aes-gcm-256
 integrity null
 group 21
crypto ikev2 policy 30
 encryption aes-gcm-256
 integrity null
 group 19
 prf sha512
crypto ipsec ikev2 ipsec-proposal P1
 protocol esp encryption aes-gcm-256 aes-256 aes
 protocol esp integrity null sha-256 sha-1
crypto ipsec ikev2 ipsec-proposal P2
 protocol esp encryption chacha20-poly1305 aes-256
 protocol esp integrity sha-512 sha-256
crypto ipsec ikev1 transform-set T esp-aes-256 esp-sha256-hmac
crypto ikev1 policy 10
 encryption aes-256
 hash sha256
 group 14
crypto map M 10 match address L2L
crypto map M 10 set peer 192.0.2.2 192.0.2.3
crypto map M 10 set ikev2 ipsec-proposal P1 P2
crypto map M 20 match address L2L-B
crypto map M 20 set peer 192.0.2.9
crypto map M 20 set ikev1 transform-set T
crypto map M interface outside
crypto ikev2 enable outside
crypto ikev1 enable outside
crypto ikev2 cookie-challenge 0
crypto ikev2 limit max-in-negotiation-sa 40
crypto ikev2 fragmentation mtu 1400
tunnel-group 192.0.2.2 type ipsec-l2l
tunnel-group 192.0.2.2 ipsec-attributes
 ikev2 remote-authentication pre-shared-key from-east
 ikev2 local-authentication pre-shared-key to-east
tunnel-group DefaultL2LGroup ipsec-attributes
 ikev1 pre-shared-key default-v1
 ikev2 remote-authentication pre-shared-key from-any
 ikev2 local-authentication pre-shared-key to-any
";

    fn ikev2_cfg(text: &str) -> Config {
        let p = config::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let errors: Vec<_> = config::check(&p)
            .into_iter()
            .filter(|d| d.is_error())
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        p.config
    }

    /// An IKEv2-only entry is live like an IKEv1 one: one selector per
    /// permit line, and data-plane rules (deny lines kept in place) that
    /// make the classifier hold its traffic. Before, entries were live
    /// only on interfaces with `crypto ikev1 enable`.
    #[test]
    fn an_ikev2_only_entry_has_selectors_and_dataplane_rules() {
        let text = IKEV2.replace("crypto ikev1 enable outside\n", "").replace(
            "crypto map M 20 set ikev1 transform-set T",
            "crypto map M 20 set ikev2 ipsec-proposal P2",
        );
        let cfg = ikev2_cfg(&text);
        let sels = selectors(&cfg);
        let m10: Vec<_> = sels.iter().filter(|s| s.seq == 10).collect();
        assert_eq!(m10.len(), 2, "{sels:#?}");
        assert_eq!(m10[0].remote.to_string(), "203.0.113.0/24");
        assert_eq!(m10[1].proto, 6);
        assert_eq!(sels.len(), 3);
        let rules = acl_rules(&cfg, &sels);
        assert_eq!(rules.len(), 4);
        assert_eq!(rules[0].selector, m10[0].id);
        assert_eq!(rules[1].action, dp::AclAction::Deny);
        assert_eq!(rules[2].selector, m10[1].id);
        let peers = ike_peers(&cfg, &sels);
        assert_eq!(peers.len(), 2);
        for p in &peers {
            assert!(p.wants_ikev2() && !p.wants_ikev1(), "{p:?}");
            assert!(p.transforms.is_empty());
        }
        assert_eq!(peers[0].selectors.len(), 2);

        // Without `crypto ikev2 enable` nothing is live (and check says so).
        let off = config::parse(&text.replace("crypto ikev2 enable outside\n", ""))
            .unwrap()
            .config;
        assert!(selectors(&off).is_empty());
    }

    #[test]
    fn transforms_are_each_proposals_valid_pairings_in_order() {
        use crate::algo::{EspCipher as C, EspInteg as I};
        let cfg = ikev2_cfg(IKEV2);
        let sels = selectors(&cfg);
        let peers = ike_peers(&cfg, &sels);
        let m10 = peers.iter().find(|p| p.name == "M 10").unwrap();
        let t = |cipher, integ| EspTransform { cipher, integ };
        assert_eq!(
            m10.ikev2_transforms,
            [
                // P1: encryption major, integrity minor, GCM only with null.
                t(C::Aes256Gcm, I::None),
                t(C::Aes256Cbc, I::HmacSha256_128),
                t(C::Aes256Cbc, I::HmacSha1_96),
                t(C::Aes128Cbc, I::HmacSha256_128),
                t(C::Aes128Cbc, I::HmacSha1_96),
                // P2: ChaCha20-Poly1305 has no null to pair with here, so
                // it is not offered; aes-256 with sha-256 came from P1.
                t(C::Aes256Cbc, I::HmacSha512_256),
            ]
        );
        // An IKEv2-only entry has no IKEv1 transforms; an IKEv1-only one
        // neither IKEv2 transforms nor policies.
        assert!(m10.transforms.is_empty());
        let m20 = peers.iter().find(|p| p.name == "M 20").unwrap();
        assert_eq!(m20.transforms, [t(C::Aes256Cbc, I::HmacSha256_128)]);
        assert!(m20.ikev2_transforms.is_empty() && m20.ikev2_policies.is_empty());
        assert!(m20.wants_ikev1() && !m20.wants_ikev2());

        // Both on one entry: both lists, IKEv2 tried first by the engine.
        let both = IKEV2.replace(
            "crypto map M 10 set ikev2 ipsec-proposal P1 P2",
            "crypto map M 10 set ikev2 ipsec-proposal P2\ncrypto map M 10 set ikev1 transform-set T",
        );
        let cfg = ikev2_cfg(&both.replace(
            " ikev2 local-authentication pre-shared-key to-east\n",
            " ikev2 local-authentication pre-shared-key to-east\n ikev1 pre-shared-key v1-east\n",
        ));
        let peers = ike_peers(&cfg, &selectors(&cfg));
        let m10 = peers.iter().find(|p| p.name == "M 10").unwrap();
        assert!(m10.wants_ikev1() && m10.wants_ikev2());
        assert_eq!(
            m10.ikev2_transforms,
            [
                t(C::Aes256Cbc, I::HmacSha512_256),
                t(C::Aes256Cbc, I::HmacSha256_128)
            ]
        );
        assert_eq!(m10.transforms.len(), 1);
    }

    #[test]
    fn policies_in_priority_order_with_prf_defaults() {
        use crate::algo::{Ikev2Encryption, Ikev2Integrity as I, Ikev2Prf as F};
        let cfg = ikev2_cfg(IKEV2);
        let peers = ike_peers(&cfg, &selectors(&cfg));
        let m10 = peers.iter().find(|p| p.name == "M 10").unwrap();
        let pols = &m10.ikev2_policies;
        assert_eq!(
            pols.iter().map(|p| p.priority).collect::<Vec<_>>(),
            [10, 20, 30]
        );
        // GCM with only `integrity null` and no prf: sha256.
        assert_eq!(pols[0].encryption, [Ikev2Encryption::Aes256Gcm]);
        assert_eq!(pols[0].integrity, [I::Null]);
        assert_eq!(pols[0].prf, [F::Sha256]);
        assert_eq!(pols[0].groups, [crate::algo::DhGroup::Ecp521]);
        assert_eq!(pols[0].lifetime_s, 86400);
        // A real integrity and no prf: stays empty, the engine offers the
        // integrity algorithms' PRFs.
        assert!(pols[1].prf.is_empty());
        assert_eq!(pols[1].prfs(), [F::Sha384, F::Sha256]);
        // A prf written is kept.
        assert_eq!(pols[2].prf, [F::Sha512]);
    }

    #[test]
    fn each_address_has_its_own_ikev2_keys_per_direction() {
        let cfg = ikev2_cfg(IKEV2);
        let peers = ike_peers(&cfg, &selectors(&cfg));
        let m10 = peers.iter().find(|p| p.name == "M 10").unwrap();
        let (east, backup) = ("192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap());
        // Its own tunnel-group: local is what we sign with, remote what
        // the peer's AUTH verifies with.
        assert_eq!(
            m10.ikev2_psks_for(east),
            (&b"to-east"[..], &b"from-east"[..])
        );
        // No group of its own: DefaultL2LGroup's keys, as for IKEv1.
        assert_eq!(
            m10.ikev2_psks_for(backup),
            (&b"to-any"[..], &b"from-any"[..])
        );
        assert_eq!(m10.psk_for(backup), b"default-v1");
        // The IKEv2 keys are never the IKEv1 key: none is configured for
        // 192.0.2.2, so its IKEv1 key stays empty (refused by the engine).
        assert!(m10.psk_for(east).is_empty());
    }

    #[test]
    fn ikev2_local_settings_come_from_the_global_lines() {
        let l = ikev2_local(&ikev2_cfg(IKEV2));
        assert_eq!(
            (
                l.cookie_challenge_percent,
                l.max_in_negotiation,
                l.fragmentation_mtu
            ),
            (Some(0), 40, 1400)
        );
        // Without the lines: the engine's own defaults.
        assert_eq!(
            ikev2_local(&Config::default()),
            crate::ike::config::Ikev2Local::default()
        );
    }
}
