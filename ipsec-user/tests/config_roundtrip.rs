//! parse -> print -> parse gives an equal `Config`: on the sample files,
//! on hand-written corner cases, and on a few hundred configurations built
//! by a deterministic generator that walks every printer branch.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipsecgw::algo::*;
use ipsecgw::config::*;

fn round_trip(config: &Config) -> String {
    let text = print_with(config, PrintOptions { include_keys: true });
    let again = match parse(&text) {
        Ok(p) => p,
        Err(e) => panic!("printed config does not parse:\n{e}\n---\n{text}"),
    };
    assert_eq!(
        &again.config, config,
        "round trip changed the config:\n{text}"
    );
    assert!(
        again.ignored.is_empty(),
        "printer wrote lines the parser ignores: {:?}",
        again.ignored
    );
    // Printing is a fixed point.
    assert_eq!(
        print_with(&again.config, PrintOptions { include_keys: true }),
        text
    );
    text
}

#[test]
fn sample_files_round_trip() {
    for f in [
        "design.cfg",
        "asa9-running.cfg",
        "asa82-pre84.cfg",
        "ikev2.cfg",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/config")
            .join(f);
        let p = parse_file(&path).unwrap();
        round_trip(&p.config);
    }
}

#[test]
fn masked_print_hides_keys_and_does_not_load() {
    let p = parse(include_str!("data/config/design.cfg")).unwrap();
    let shown = print(&p.config);
    assert!(!shown.contains("s3cret"));
    assert!(shown.contains(" ikev1 pre-shared-key *****"));
    let e = parse(&shown).unwrap_err();
    assert!(e.errors[0].message.contains("is masked"));
    let file = print_with(&p.config, PrintOptions { include_keys: true });
    assert!(file.contains(" ikev1 pre-shared-key s3cret"));
}

#[test]
fn corner_cases_round_trip() {
    let text = "\
interface wan0
 nameif outside
 ip address 192.0.2.77 255.255.255.128
interface lan0
 nameif inside
object network R
 range 198.51.100.3 198.51.100.70
access-list A extended permit tcp 198.51.100.0 255.255.255.0 lt 1024 203.0.113.0 255.255.255.0 gt 1023
access-list A extended permit udp host 198.51.100.1 neq 53 any4
access-list A extended permit 50 object R host 203.0.113.1
access-list A extended deny icmp any any log
access-list B extended permit ip 10.0.0.0 255.0.0.0 203.0.113.0 255.255.255.0
crypto ipsec ikev1 transform-set GCM esp-aes-gcm-256
crypto ipsec ikev1 transform-set CHACHA esp-chacha20-poly1305 esp-none
crypto ipsec ikev1 transform-set TR esp-aes-192 esp-sha512-hmac
crypto ipsec ikev1 transform-set TR mode transport
crypto ipsec security-association lifetime kilobytes unlimited
crypto map M 10 match address A
crypto map M 10 set peer 192.0.2.2
crypto map M 10 set phase1-mode aggressive
crypto map M 10 set pfs group31
crypto map M 20 set security-association lifetime seconds 28800
crypto map N 5 match address B
crypto map N 5 set transform-set GCM CHACHA
crypto map N 5 set security-association lifetime seconds 600 kilobytes 10
crypto map M interface outside
crypto ikev1 enable outside
crypto ikev1 enable inside
no crypto isakmp nat-traversal
crypto isakmp allow-weak-groups
crypto isakmp invalid-spi-recovery
no sysopt connection tcpmss
crypto isakmp policy 1
 authentication rsa-sig
isakmp policy 7 encryption aes-192
group-policy DfltGrpPolicy attributes
 vpn-idle-timeout 45
group-policy NOIDLE internal
group-policy NOIDLE attributes
 vpn-idle-timeout none
tunnel-group DefaultL2LGroup ipsec-attributes
 pre-shared-key k!y#1
tunnel-group 192.0.2.2 type ipsec-l2l
tunnel-group 192.0.2.2 general-attributes
 default-group-policy NOIDLE
tunnel-group 192.0.2.9 type ipsec-l2l
tunnel-group 192.0.2.9 ipsec-attributes
 isakmp keepalive threshold 30
";
    let p = parse(text).unwrap_or_else(|e| panic!("{e}"));
    let c = &p.config;
    // Spot-check the corner cases before the round trip.
    let a = &c.crypto_maps[0].rules;
    assert_eq!(a[0].src_ports, 0..=1023);
    assert_eq!(a[0].dst_ports, 1024..=65535);
    assert_eq!(
        (a[1].src_ports.clone(), a[2].src_ports.clone()),
        (0..=52, 54..=65535)
    );
    assert_eq!(a[3].proto, Some(50));
    assert_eq!(
        a.iter().filter(|r| r.proto == Some(50)).count(),
        8,
        "3/32 4/30 8/29 16/28 32/27 64/30 68/31 70/32"
    );
    assert_eq!(a.last().unwrap().action, AclAction::Deny);
    assert_eq!(c.crypto_maps[0].phase1_mode, Phase1Mode::Aggressive(None));
    assert_eq!(c.crypto_maps[0].pfs, Some(DhGroup::X25519));
    assert_eq!(c.crypto_maps[0].lifetime_kb, None);
    assert_eq!(c.crypto_maps[1].acl, "");
    assert_eq!(c.crypto_maps[2].interface, None);
    assert_eq!(c.transform_sets["TR"].mode, Mode::Transport);
    assert_eq!(c.transform_sets["CHACHA"].transform.integ, EspInteg::None);
    assert_eq!(c.nat_traversal, None);
    assert_eq!(c.tcp_mss, 0);
    assert_eq!(c.isakmp_policies[0].auth, IkeAuth::RsaSig);
    assert_eq!(c.isakmp_policies[1].encryption, IkeEncryption::Aes192);
    let dflt = c.tunnel_group_for(Ipv4Addr::new(192, 0, 2, 200)).unwrap();
    assert_eq!(dflt.idle_timeout_min, Some(45));
    assert_eq!(dflt.psk.as_ref().unwrap().expose(), b"k!y#1");
    let tg2 = c.tunnel_group_for(Ipv4Addr::new(192, 0, 2, 2)).unwrap();
    assert_eq!((tg2.idle_timeout_min, tg2.psk.is_none()), (None, true));
    let tg9 = c.tunnel_group_for(Ipv4Addr::new(192, 0, 2, 9)).unwrap();
    assert_eq!(tg9.dpd, Some((30, 2)));
    round_trip(c);
}

/// The harness's deterministic xorshift64* (this crate cannot depend on
/// the harness crate), with the configuration words drawn from it.
#[path = "../../tests/harness/rng.rs"]
mod rng;
use rng::Rng;

trait ConfigRng {
    fn word(&mut self, prefix: &str) -> String;
    fn list<T: Clone + PartialEq>(&mut self, xs: &[T], min: usize) -> Vec<T>;
    fn net(&mut self) -> Ipv4Net;
    fn ports(&mut self) -> std::ops::RangeInclusive<u16>;
}

impl ConfigRng for Rng {
    fn word(&mut self, prefix: &str) -> String {
        const CH: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        let len = self.range(1, 12);
        let mut s = prefix.to_string();
        for _ in 0..len {
            s.push(*self.pick(CH) as char);
        }
        s
    }
    /// Distinct items of `xs` in random order, at least `min` of them.
    fn list<T: Clone + PartialEq>(&mut self, xs: &[T], min: usize) -> Vec<T> {
        let n = self.range(min as u64, xs.len() as u64) as usize;
        let mut out = Vec::new();
        while out.len() < n {
            let x = self.pick(xs).clone();
            if !out.contains(&x) {
                out.push(x);
            }
        }
        out
    }
    fn net(&mut self) -> Ipv4Net {
        let p = self.range(0, 32) as u8;
        Ipv4Net::new(Ipv4Addr::from(self.next() as u32), p).unwrap()
    }
    fn ports(&mut self) -> std::ops::RangeInclusive<u16> {
        match self.below(4) {
            0 => 0..=65535,
            1 => {
                let p = self.below(65536) as u16;
                p..=p
            }
            _ => {
                let a = self.below(65536) as u16;
                let b = self.below(65536) as u16;
                a.min(b)..=a.max(b)
            }
        }
    }
}

const CIPHERS: [EspCipher; 9] = [
    EspCipher::Null,
    EspCipher::Des,
    EspCipher::TripleDes,
    EspCipher::Aes128Cbc,
    EspCipher::Aes192Cbc,
    EspCipher::Aes256Cbc,
    EspCipher::Aes128Gcm,
    EspCipher::Aes256Gcm,
    EspCipher::ChaCha20Poly1305,
];
const INTEGS: [EspInteg; 6] = [
    EspInteg::None,
    EspInteg::HmacMd5_96,
    EspInteg::HmacSha1_96,
    EspInteg::HmacSha256_128,
    EspInteg::HmacSha384_192,
    EspInteg::HmacSha512_256,
];
const ENCS: [IkeEncryption; 5] = [
    IkeEncryption::Des,
    IkeEncryption::TripleDes,
    IkeEncryption::Aes128,
    IkeEncryption::Aes192,
    IkeEncryption::Aes256,
];
const V2_ENCS: [Ikev2Encryption; 7] = [
    Ikev2Encryption::Des,
    Ikev2Encryption::TripleDes,
    Ikev2Encryption::Aes128,
    Ikev2Encryption::Aes192,
    Ikev2Encryption::Aes256,
    Ikev2Encryption::Aes128Gcm,
    Ikev2Encryption::Aes256Gcm,
];
const V2_INTEGS: [Ikev2Integrity; 6] = [
    Ikev2Integrity::Null,
    Ikev2Integrity::Md5,
    Ikev2Integrity::Sha1,
    Ikev2Integrity::Sha256,
    Ikev2Integrity::Sha384,
    Ikev2Integrity::Sha512,
];
const V2_PRFS: [Ikev2Prf; 5] = [
    Ikev2Prf::Md5,
    Ikev2Prf::Sha1,
    Ikev2Prf::Sha256,
    Ikev2Prf::Sha384,
    Ikev2Prf::Sha512,
];
const V2_ESP_ENCS: [Ikev2EspEncryption; 9] = [
    Ikev2EspEncryption::Null,
    Ikev2EspEncryption::Des,
    Ikev2EspEncryption::TripleDes,
    Ikev2EspEncryption::Aes128,
    Ikev2EspEncryption::Aes192,
    Ikev2EspEncryption::Aes256,
    Ikev2EspEncryption::Aes128Gcm,
    Ikev2EspEncryption::Aes256Gcm,
    Ikev2EspEncryption::ChaCha20Poly1305,
];
const V2_ESP_INTEGS: [Ikev2EspIntegrity; 6] = [
    Ikev2EspIntegrity::Null,
    Ikev2EspIntegrity::Md5,
    Ikev2EspIntegrity::Sha1,
    Ikev2EspIntegrity::Sha256,
    Ikev2EspIntegrity::Sha384,
    Ikev2EspIntegrity::Sha512,
];
const HASHES: [IkeHash; 5] = [
    IkeHash::Md5,
    IkeHash::Sha1,
    IkeHash::Sha256,
    IkeHash::Sha384,
    IkeHash::Sha512,
];

/// A random configuration within what the language can express.
fn generate(rng: &mut Rng) -> Config {
    let mut c = Config::default();
    for i in 0..rng.range(0, 3) {
        c.interfaces.push(Interface {
            ifname: format!("eth{i}"),
            nameif: rng.word("n"),
            address: rng
                .chance(50)
                .then(|| (Ipv4Addr::from(rng.next() as u32), rng.range(0, 32) as u8)),
        });
    }
    c.interfaces.dedup_by(|a, b| a.nameif == b.nameif);
    let nameifs: Vec<String> = c.interfaces.iter().map(|i| i.nameif.clone()).collect();
    for n in &nameifs {
        if rng.chance(60) {
            c.ikev1_enabled_on.push(n.clone());
        }
    }
    let mut prios: Vec<u32> = (0..rng.range(0, 4))
        .map(|_| rng.range(1, 65535) as u32)
        .collect();
    prios.sort();
    prios.dedup();
    for priority in prios {
        c.isakmp_policies.push(IsakmpPolicy {
            priority,
            auth: *rng.pick(&[IkeAuth::PreShare, IkeAuth::RsaSig]),
            encryption: *rng.pick(&ENCS),
            hash: *rng.pick(&HASHES),
            group: *rng.pick(&DhGroup::ALL),
            lifetime_s: rng.range(120, 2_147_483_647) as u32,
        });
    }
    for n in &nameifs {
        if rng.chance(40) {
            c.ikev2_enabled_on.push(n.clone());
        }
    }
    let mut prios: Vec<u32> = (0..rng.range(0, 3))
        .map(|_| rng.range(1, 65535) as u32)
        .collect();
    prios.sort();
    prios.dedup();
    for priority in prios {
        c.ikev2_policies.push(Ikev2Policy {
            priority,
            encryption: rng.list(&V2_ENCS, 1),
            integrity: rng.list(&V2_INTEGS, 1),
            groups: rng.list(&DhGroup::ALL, 1),
            prf: rng.list(&V2_PRFS, 0),
            lifetime_s: rng.range(120, 2_147_483_647) as u32,
        });
    }
    if rng.chance(30) {
        c.ikev2 = Ikev2Settings {
            cookie_challenge: rng.chance(80).then(|| rng.range(0, 100) as u32),
            max_in_negotiation: rng.range(1, 100_000) as u32,
            fragmentation_mtu: rng.range(576, 9000) as u16,
        };
    }
    for _ in 0..rng.range(0, 3) {
        let name = rng.word("P");
        c.ikev2_proposals.insert(
            name.clone(),
            Ikev2Proposal {
                name,
                encryption: rng.list(&V2_ESP_ENCS, 0),
                integrity: rng.list(&V2_ESP_INTEGS, 0),
            },
        );
    }
    let proposal_names: Vec<String> = c.ikev2_proposals.keys().cloned().collect();
    c.nat_traversal = rng.chance(70).then(|| rng.range(10, 3600) as u32);
    c.allow_weak_groups = rng.chance(30);
    c.tcp_mss = rng.below(65536) as u16;
    c.ipsec_lifetime_s = rng.range(120, 2_147_483_647) as u32;
    c.ipsec_lifetime_kb = rng.chance(80).then(|| rng.range(10, 2_147_483_647));
    for _ in 0..rng.range(0, 4) {
        let cipher = *rng.pick(&CIPHERS);
        let integ = if cipher.is_aead() {
            EspInteg::None
        } else if cipher == EspCipher::Null {
            *rng.pick(&INTEGS[1..])
        } else {
            *rng.pick(&INTEGS)
        };
        let name = rng.word("TS");
        let mode = if rng.chance(20) {
            Mode::Transport
        } else {
            Mode::Tunnel
        };
        c.transform_sets.insert(
            name.clone(),
            TransformSet {
                name,
                transform: EspTransform { cipher, integ },
                mode,
            },
        );
    }
    let set_names: Vec<String> = c.transform_sets.keys().cloned().collect();
    let mut acls: BTreeMap<String, Vec<AclRule>> = BTreeMap::new();
    for _ in 0..rng.range(0, 3) {
        let rules = (0..rng.range(0, 5))
            .map(|_| {
                let proto = *rng.pick(&[None, Some(1), Some(6), Some(17), Some(50), Some(132)]);
                let ports = matches!(proto, Some(6 | 17));
                AclRule {
                    action: if rng.chance(25) {
                        AclAction::Deny
                    } else {
                        AclAction::Permit
                    },
                    proto,
                    src: rng.net(),
                    dst: rng.net(),
                    src_ports: if ports { rng.ports() } else { 0..=65535 },
                    dst_ports: if ports { rng.ports() } else { 0..=65535 },
                }
            })
            .collect();
        acls.insert(rng.word("ACL"), rules);
    }
    let acl_names: Vec<String> = acls.keys().cloned().collect();
    let maps: Vec<String> = (0..rng.range(1, 2)).map(|_| rng.word("MAP")).collect();
    let map_iface: BTreeMap<String, Option<String>> = maps
        .iter()
        .map(|m| {
            (
                m.clone(),
                if nameifs.is_empty() || rng.chance(20) {
                    None
                } else {
                    Some(rng.pick(&nameifs).clone())
                },
            )
        })
        .collect();
    let mut entries = BTreeMap::new();
    for _ in 0..rng.range(0, 4) {
        let map = rng.pick(&maps).clone();
        let seq = rng.range(1, 65535) as u32;
        let acl = if acl_names.is_empty() || rng.chance(10) {
            String::new()
        } else {
            rng.pick(&acl_names).clone()
        };
        let mut peers: Vec<Ipv4Addr> = (0..rng.range(0, 3))
            .map(|_| Ipv4Addr::from(rng.next() as u32))
            .collect();
        peers.dedup();
        let transform_sets = if set_names.is_empty() {
            vec![]
        } else {
            (0..rng.range(0, 2))
                .map(|_| rng.pick(&set_names).clone())
                .collect()
        };
        let phase1_mode = match rng.below(3) {
            0 => Phase1Mode::Main,
            1 => Phase1Mode::Aggressive(None),
            _ => Phase1Mode::Aggressive(Some(*rng.pick(&DhGroup::ALL))),
        };
        // Occasionally a name no proposal has: the language can say it
        // (`check` refuses it), so the printer must keep it.
        let ikev2_proposals = if rng.chance(10) {
            vec![rng.word("UNDEFINED")]
        } else {
            rng.list(&proposal_names, 0)
        };
        let entry = CryptoMapEntry {
            rules: acls.get(&acl).cloned().unwrap_or_default(),
            acl,
            peers,
            transform_sets,
            ikev2_proposals,
            pfs: rng.chance(50).then(|| *rng.pick(&DhGroup::ALL)),
            phase1_mode,
            lifetime_s: if rng.chance(50) {
                c.ipsec_lifetime_s
            } else {
                rng.range(120, 2_147_483_647) as u32
            },
            lifetime_kb: match rng.below(3) {
                0 => c.ipsec_lifetime_kb,
                1 => None,
                _ => Some(rng.range(10, 2_147_483_647)),
            },
            interface: map_iface[&map].clone(),
            map: map.clone(),
            seq,
        };
        entries.insert((map, seq), entry);
    }
    c.crypto_maps = entries.into_values().collect();
    for _ in 0..rng.range(0, 3) {
        let name = if rng.chance(70) {
            TunnelGroupName::Addr(Ipv4Addr::from(rng.next() as u32))
        } else if rng.chance(50) {
            TunnelGroupName::Name("DefaultL2LGroup".into())
        } else {
            TunnelGroupName::Name(rng.word("TG"))
        };
        let psk = rng.chance(80).then(|| Psk::new(rng.word("k!")));
        let ikev2_local_psk = rng.chance(40).then(|| Psk::new(rng.word("l*")));
        let ikev2_remote_psk = rng.chance(40).then(|| Psk::new(rng.word("r#")));
        let dpd = rng
            .chance(70)
            .then(|| (rng.range(10, 3600) as u32, rng.range(2, 10) as u32));
        let idle_timeout_min = match rng.below(3) {
            0 => Some(30),
            1 => None,
            _ => Some(rng.range(1, 35_791_394) as u32),
        };
        c.tunnel_groups.insert(
            name.clone(),
            TunnelGroup {
                name,
                psk,
                ikev2_local_psk,
                ikev2_remote_psk,
                dpd,
                idle_timeout_min,
            },
        );
    }
    c
}

#[test]
fn generated_configs_round_trip() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut printed_bytes = 0;
    for _ in 0..500 {
        let c = generate(&mut rng);
        printed_bytes += round_trip(&c).len();
    }
    assert!(
        printed_bytes > 100_000,
        "generator too tame: {printed_bytes} bytes"
    );
}
