//! Sample configurations: the DESIGN.md example, a realistic pasted ASA
//! 9.x running-config and a pre-8.4 one.

use std::net::Ipv4Addr;

use ipsecgw::algo::*;
use ipsecgw::config::*;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn net(s: &str) -> Ipv4Net {
    let (a, p) = s.split_once('/').unwrap();
    Ipv4Net::new(ip(a), p.parse().unwrap()).unwrap()
}

fn load(name: &str) -> Parsed {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name);
    match parse_file(&path) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn errors(parsed: &Parsed) -> Vec<Diagnostic> {
    check(parsed).into_iter().filter(|d| d.is_error()).collect()
}

#[test]
fn design_example() {
    let p = load("design.cfg");
    let c = &p.config;
    assert!(p.ignored.is_empty(), "{:?}", p.ignored);
    assert_eq!(
        c.interfaces,
        vec![
            Interface {
                ifname: "wan0".into(),
                nameif: "outside".into(),
                address: None
            },
            Interface {
                ifname: "lan0".into(),
                nameif: "inside".into(),
                address: None
            },
        ]
    );
    assert_eq!(
        c.isakmp_policies,
        vec![IsakmpPolicy {
            priority: 10,
            auth: IkeAuth::PreShare,
            encryption: IkeEncryption::TripleDes,
            hash: IkeHash::Sha1,
            group: DhGroup::Modp1024,
            lifetime_s: 86400,
        }]
    );
    assert_eq!(c.ikev1_enabled_on, vec!["outside".to_string()]);
    assert_eq!(c.nat_traversal, Some(20));
    let ts = &c.transform_sets["ESP-3DES-SHA"];
    assert_eq!(
        ts.transform,
        EspTransform {
            cipher: EspCipher::TripleDes,
            integ: EspInteg::HmacSha1_96
        }
    );
    assert_eq!(ts.mode, Mode::Tunnel);
    assert_eq!(c.crypto_maps.len(), 1);
    let e = &c.crypto_maps[0];
    assert_eq!(
        (e.map.as_str(), e.seq, e.acl.as_str()),
        ("OUTSIDE_MAP", 10, "L2L")
    );
    assert_eq!(
        e.rules,
        vec![AclRule {
            action: AclAction::Permit,
            proto: None,
            src: net("198.51.100.0/24"),
            dst: net("203.0.113.0/24"),
            src_ports: 0..=65535,
            dst_ports: 0..=65535,
        }]
    );
    assert_eq!(e.peers, vec![ip("192.0.2.2")]);
    assert_eq!(e.transform_sets, vec!["ESP-3DES-SHA".to_string()]);
    assert_eq!(e.pfs, None);
    assert_eq!(e.phase1_mode, Phase1Mode::Main);
    assert_eq!((e.lifetime_s, e.lifetime_kb), (28800, Some(4_608_000)));
    assert_eq!(e.interface.as_deref(), Some("outside"));
    assert_eq!(
        c.local_and_remote(e),
        vec![(net("198.51.100.0/24"), net("203.0.113.0/24"))]
    );
    let tg = c.tunnel_group_for(ip("192.0.2.2")).unwrap();
    assert_eq!(tg.psk.as_ref().unwrap().expose(), b"s3cret");
    assert_eq!(tg.dpd, Some((10, 2)));
    assert_eq!(tg.idle_timeout_min, Some(30));
    assert!(c.tunnel_group_for(ip("192.0.2.9")).is_none());

    // It works: no errors, but weak-algorithm warnings and lifetime advice.
    let diags = check(&p);
    assert!(errors(&p).is_empty(), "{diags:?}");
    let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert!(text.iter().any(|t| t == "line 6: warning: isakmp policy 10: DH group 2 is weak (use group 14, 19, 20 or 31; `crypto isakmp allow-weak-groups` acknowledges it)"), "{text:#?}");
    assert!(
        text.iter()
            .any(|t| t.starts_with("advice: lifetimes need not match")),
        "{text:#?}"
    );
}

#[test]
fn asa9_running_config() {
    let p = load("asa9-running.cfg");
    let c = &p.config;
    // Interfaces: Management1/1 has no nameif and is not ours.
    assert_eq!(c.interfaces.len(), 2);
    assert_eq!(c.interfaces[0].address, Some((ip("192.0.2.1"), 24)));
    assert_eq!(c.interface_by_nameif("inside").unwrap().ifname, "lan0");
    // Policies sorted, defaults filled.
    let prios: Vec<u32> = c.isakmp_policies.iter().map(|p| p.priority).collect();
    assert_eq!(prios, [10, 20]);
    assert_eq!(c.isakmp_policies[0].encryption, IkeEncryption::Aes256);
    assert_eq!(c.isakmp_policies[0].hash, IkeHash::Sha256);
    assert_eq!(c.isakmp_policies[0].group, DhGroup::Modp2048);
    assert_eq!(c.isakmp_policies[1].group, DhGroup::Modp1536);
    assert_eq!(c.isakmp_policies[1].lifetime_s, 28800);
    assert_eq!(c.tcp_mss, 1350);
    assert_eq!(c.transform_sets.len(), 2);
    assert_eq!(
        c.transform_sets["ESP-AES128-SHA256"].transform,
        EspTransform {
            cipher: EspCipher::Aes128Cbc,
            integ: EspInteg::HmacSha256_128
        }
    );

    // Entry 1: deny first, groups flattened, objects resolved, range covered.
    let e1 = &c.crypto_maps[0];
    assert_eq!((e1.map.as_str(), e1.seq), ("outside_map", 1));
    assert_eq!(e1.peers, vec![ip("192.0.2.2"), ip("192.0.2.3")]);
    assert_eq!(e1.transform_sets, ["ESP-AES256-SHA", "ESP-AES128-SHA256"]);
    assert_eq!(e1.pfs, Some(DhGroup::Modp2048));
    assert_eq!((e1.lifetime_s, e1.lifetime_kb), (3600, Some(4_608_000)));
    let rule = |action, proto, s: &str, d: &str, dp: std::ops::RangeInclusive<u16>| AclRule {
        action,
        proto,
        src: net(s),
        dst: net(d),
        src_ports: 0..=65535,
        dst_ports: dp,
    };
    use AclAction::*;
    let all = 0..=65535;
    assert_eq!(
        e1.rules,
        vec![
            rule(Deny, None, "198.51.100.5/32", "203.0.113.0/24", all.clone()),
            rule(
                Permit,
                None,
                "198.51.100.0/25",
                "203.0.113.0/24",
                all.clone()
            ),
            rule(
                Permit,
                None,
                "198.51.100.200/32",
                "203.0.113.0/24",
                all.clone()
            ),
            rule(
                Permit,
                None,
                "198.51.100.0/24",
                "203.0.113.0/24",
                all.clone()
            ),
            rule(
                Permit,
                Some(6),
                "198.51.100.5/32",
                "203.0.113.10/31",
                9100..=9100
            ),
            rule(
                Permit,
                Some(6),
                "198.51.100.5/32",
                "203.0.113.12/30",
                9100..=9100
            ),
            rule(
                Permit,
                Some(6),
                "198.51.100.5/32",
                "203.0.113.16/30",
                9100..=9100
            ),
            rule(
                Permit,
                Some(6),
                "198.51.100.5/32",
                "203.0.113.20/32",
                9100..=9100
            ),
        ]
    );
    // Entry 2: unlimited kilobytes, aggressive, inactive line dropped.
    let e2 = &c.crypto_maps[1];
    assert_eq!(e2.seq, 2);
    assert_eq!(e2.lifetime_kb, None);
    assert_eq!(e2.lifetime_s, 28800);
    // Both versions: IKEv2 first, IKEv1 when the peer refuses it.
    assert_eq!(e2.transform_sets, ["ESP-AES128-SHA256"]);
    assert_eq!(e2.ikev2_proposals, ["AES256-GCM"]);
    assert!(c.crypto_maps[0].ikev2_proposals.is_empty());
    assert_eq!(
        e2.phase1_mode,
        Phase1Mode::Aggressive(Some(DhGroup::Modp2048))
    );
    assert_eq!(
        e2.rules,
        vec![AclRule {
            action: Permit,
            proto: Some(17),
            src: net("198.51.100.0/24"),
            dst: net("203.0.113.128/25"),
            src_ports: 0..=65535,
            dst_ports: 5060..=5061,
        }]
    );
    assert!(
        c.crypto_maps
            .iter()
            .all(|e| e.interface.as_deref() == Some("outside"))
    );

    // Tunnel-groups: idle timeouts through group-policies, DPD, RA ignored.
    assert_eq!(c.tunnel_groups.len(), 3);
    let east = c.tunnel_group_for(ip("192.0.2.2")).unwrap();
    assert_eq!(east.psk.as_ref().unwrap().expose(), b"Eas7-Pr1mary!key");
    assert_eq!(east.dpd, Some((15, 3)));
    assert_eq!(east.idle_timeout_min, Some(120));
    let backup = c.tunnel_group_for(ip("192.0.2.3")).unwrap();
    assert_eq!(backup.dpd, None);
    assert_eq!(backup.idle_timeout_min, Some(30));
    let partner = c.tunnel_group_for(ip("192.0.2.66")).unwrap();
    assert_eq!(partner.idle_timeout_min, None);

    // IKEv2: the policy, the proposal, the enabled interface and the keys.
    assert_eq!(
        c.ikev2_policies,
        [Ikev2Policy {
            priority: 1,
            encryption: vec![Ikev2Encryption::Aes256],
            integrity: vec![Ikev2Integrity::Sha256],
            groups: vec![DhGroup::Modp2048],
            prf: vec![Ikev2Prf::Sha256],
            lifetime_s: 86400,
        }]
    );
    assert_eq!(
        c.ikev2_proposals["AES256-GCM"],
        Ikev2Proposal {
            name: "AES256-GCM".into(),
            encryption: vec![Ikev2EspEncryption::Aes256Gcm],
            integrity: vec![Ikev2EspIntegrity::Null],
        }
    );
    assert_eq!(c.ikev2_enabled_on, ["outside"]);
    assert_eq!(
        east.ikev2_remote_psk.as_ref().unwrap().expose(),
        b"Eas7-Pr1mary!key"
    );
    assert_eq!(
        east.ikev2_local_psk.as_ref().unwrap().expose(),
        b"Eas7-Pr1mary!key"
    );
    assert_eq!(
        partner.ikev2_remote_psk.as_ref().unwrap().expose(),
        b"partner-in-66"
    );
    assert_eq!(
        partner.ikev2_local_psk.as_ref().unwrap().expose(),
        b"partner-out-66"
    );
    assert!(backup.ikev2_local_psk.is_none() && backup.ikev2_remote_psk.is_none());

    // What was ignored, with line numbers.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/config/asa9-running.cfg"
    ))
    .unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l.trim_end() == needle).unwrap() + 1;
    let ignored = |needle: &str| {
        p.ignored
            .iter()
            .any(|i| i.text == needle.trim() && i.line == line_of(needle))
    };
    for l in [
        "hostname west-fw",
        "nat (inside,outside) source static WEST-SERVERS WEST-SERVERS destination static EAST-LAN EAST-LAN no-proxy-arp route-lookup",
        " nat (inside,outside) dynamic interface",
        "route outside 0.0.0.0 0.0.0.0 192.0.2.254 1",
        "policy-map global_policy",
        "  inspect dns preset_dns_map",
        "service-policy global_policy global",
        "same-security-traffic permit intra-interface",
        "object service HTTPS-8443",
        " service tcp destination eq 8443",
        "access-list outside_access_in extended permit tcp any object WEB-FQDN object-group WEB-PORTS",
        "crypto map outside_map 1 set reverse-route",
        " vpn-tunnel-protocol ikev1 ikev2",
        " ikev1 pre-shared-key *****",
        "tunnel-group REMOTE-USERS type remote-access",
        " security-level 0",
        "    30820560 30820348 a0030201 02021000 8e8d9b8d 0d06092a 864886f7 0d01010b",
        "Cryptochecksum:0123456789abcdef0123456789abcdef",
        "sysopt connection permit-vpn",
        "interface Management1/1",
        " no nameif",
    ] {
        assert!(ignored(l), "not listed as ignored: {l:?}");
    }
    // Supported lines are not in the ignored list.
    for l in [
        "crypto ikev1 enable outside",
        " ikev1 pre-shared-key Eas7-Pr1mary!key",
        " nameif outside",
        // IKEv2 is configuration like any other now.
        "crypto ipsec ikev2 ipsec-proposal AES256-GCM",
        " protocol esp encryption aes-gcm-256",
        " protocol esp integrity null",
        "crypto map outside_map 2 set ikev2 ipsec-proposal AES256-GCM",
        "crypto ikev2 policy 1",
        " prf sha256",
        "crypto ikev2 enable outside",
        " ikev2 remote-authentication pre-shared-key Eas7-Pr1mary!key",
        " ikev2 local-authentication pre-shared-key Eas7-Pr1mary!key",
    ] {
        assert!(!ignored(l), "wrongly ignored: {l:?}");
    }
    assert!(p.ignored.windows(2).all(|w| w[0].line <= w[1].line));
    // No "IKEv2 is ignored" notice any more.
    assert!(
        !p.warnings.iter().any(|w| w.message.contains("IKEv2")),
        "{:#?}",
        p.warnings
    );

    // check: loads, no errors (aggressive mode and group 5 are warned).
    let diags = check(&p);
    assert!(errors(&p).is_empty(), "{diags:#?}");
    assert!(diags.iter().any(|d| d.message.contains("aggressive mode")));
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("isakmp policy 20: DH group 5 is weak"))
    );
}

#[test]
fn pre_84_spelling() {
    let p = load("asa82-pre84.cfg");
    let c = &p.config;
    let e = &c.crypto_maps[0];
    assert_eq!(e.acl, "101");
    assert_eq!(e.pfs, Some(DhGroup::Modp1024), "bare `set pfs` is group 2");
    assert_eq!(e.transform_sets, ["TS-AES", "TS-3DES"]);
    assert_eq!(e.rules.len(), 2);
    assert_eq!(e.rules[0].src, net("198.51.100.0/24"));
    assert_eq!(e.rules[0].dst, net("203.0.113.0/24"));
    assert_eq!(e.rules[1].action, AclAction::Deny);
    assert_eq!(e.rules[1].src, Ipv4Net::ANY);
    assert_eq!(c.nat_traversal, Some(30));
    assert_eq!(c.isakmp_policies[1].priority, 65535);
    assert_eq!(c.isakmp_policies[1].group, DhGroup::Modp768);
    assert_eq!(c.isakmp_policies[1].hash, IkeHash::Md5);
    assert_eq!(c.isakmp_policies[1].lifetime_s, 86400, "default lifetime");
    assert_eq!(
        c.tunnel_group_for(ip("192.0.2.2")).unwrap().psk,
        Some(Psk::new("hq-branch-secret"))
    );
    // The NAT exemption ACL is not a crypto ACL: listed as ignored.
    assert!(
        p.ignored
            .iter()
            .any(|i| i.text.starts_with("access-list inside_nat0_outbound"))
    );
    let diags = check(&p);
    assert!(errors(&p).is_empty(), "{diags:#?}");
    let msgs: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert!(
        msgs.contains(&"isakmp policy 65535: MD5 is weak"),
        "{msgs:#?}"
    );
    assert!(msgs.contains(&"isakmp policy 65535: DH group 1 is weak"));
    assert!(msgs.contains(&"transform-set TS-3DES: esp-md5-hmac is weak"));
    assert!(msgs.contains(&"crypto map CMAP 10: PFS group 2 is weak"));
}

#[test]
fn both_spellings_give_the_same_config() {
    let old = "interface wan0\n nameif outside\n\
        access-list A extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0\n\
        crypto isakmp policy 5\n encryption aes-256\n hash sha256\n group 14\n\
        crypto isakmp enable outside\n\
        crypto ipsec transform-set T esp-aes-256 esp-sha-hmac\n\
        crypto map M 1 match address A\ncrypto map M 1 set peer 192.0.2.2\ncrypto map M 1 set transform-set T\n\
        crypto map M interface outside\n\
        tunnel-group 192.0.2.2 type ipsec-l2l\ntunnel-group 192.0.2.2 ipsec-attributes\n pre-shared-key k1\n";
    let new = "interface wan0\n nameif outside\n\
        access-list A extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0\n\
        crypto ikev1 policy 5\n encryption aes-256\n hash sha256\n group 14\n\
        crypto ikev1 enable outside\n\
        crypto ipsec ikev1 transform-set T esp-aes-256 esp-sha-hmac\n\
        crypto map M 1 match address A\ncrypto map M 1 set peer 192.0.2.2\ncrypto map M 1 set ikev1 transform-set T\n\
        crypto map M interface outside\n\
        tunnel-group 192.0.2.2 type ipsec-l2l\ntunnel-group 192.0.2.2 ipsec-attributes\n ikev1 pre-shared-key k1\n";
    let a = parse(old).unwrap();
    let b = parse(new).unwrap();
    assert_eq!(a.config, b.config);
    assert!(check(&a).iter().all(|d| !d.is_error()));
}

#[test]
fn unindented_sub_mode_lines_are_accepted() {
    // Copied from a web page, the indentation is often lost.
    let indented = include_str!("data/config/asa9-running.cfg");
    let flat: String = indented
        .lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    let a = parse(indented).unwrap();
    let b = parse(&flat).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.config, b.config);
    let d = load("design.cfg");
    let flat: String = include_str!("data/config/design.cfg")
        .lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    assert_eq!(parse(&flat).unwrap().config, d.config);
}

#[test]
fn ikev1_phase1_mode_spelling() {
    let p = parse("crypto map M 1 set ikev1 phase1-mode aggressive group5\ncrypto map M 2 set phase1-mode main\n").unwrap();
    assert_eq!(
        p.config.crypto_maps[0].phase1_mode,
        Phase1Mode::Aggressive(Some(DhGroup::Modp1536))
    );
    assert_eq!(p.config.crypto_maps[1].phase1_mode, Phase1Mode::Main);
}

#[test]
fn reentering_an_interface_continues_it() {
    let p = parse("interface wan0\n nameif outside\ninterface lan0\n nameif inside\ninterface wan0\n ip address 192.0.2.1 255.255.255.0\n").unwrap();
    assert_eq!(p.config.interfaces.len(), 2);
    assert_eq!(p.config.interfaces[0].address, Some((ip("192.0.2.1"), 24)));
}
