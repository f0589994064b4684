//! The IKEv2 dialect: every line into the model, every parser error with
//! its line and column, every `check` finding, and the printer's round
//! trip (parse -> print -> parse gives the same model).

use std::net::Ipv4Addr;

use ipsecgw::algo::*;
use ipsecgw::config::*;

/// An IKEv2-only gateway: no IKEv1 policy, transform set, enable or key.
const BASE: &str = "\
interface wan0
 nameif outside
interface lan0
 nameif inside
access-list L2L extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0
crypto ikev2 policy 10
 encryption aes-gcm-256
 integrity null
 group 21
crypto ipsec ikev2 ipsec-proposal P1
 protocol esp encryption aes-gcm-256
 protocol esp integrity null
crypto map M 10 match address L2L
crypto map M 10 set peer 192.0.2.2
crypto map M 10 set ikev2 ipsec-proposal P1
crypto map M interface outside
crypto ikev2 enable outside
tunnel-group 192.0.2.2 type ipsec-l2l
tunnel-group 192.0.2.2 ipsec-attributes
 ikev2 remote-authentication pre-shared-key r3mote
 ikev2 local-authentication pre-shared-key l0cal
";

fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

fn load(text: &str) -> Parsed {
    parse(text).unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
}

/// `check`'s findings, advice left out.
fn diags(text: &str) -> Vec<String> {
    check(&load(text))
        .iter()
        .filter(|d| d.severity != Severity::Advice)
        .map(|d| d.to_string())
        .collect()
}

/// The one parser error of a configuration that must not load.
fn err(text: &str) -> String {
    match parse(text) {
        Ok(p) => panic!("loaded but should not:\n{text}\n{:?}", p.config),
        Err(e) => {
            assert_eq!(e.errors.len(), 1, "{e}");
            e.errors[0].to_string()
        }
    }
}

fn sample(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn every_line_of_the_dialect_reaches_the_model() {
    let p = load(&sample("ikev2.cfg"));
    assert!(p.ignored.is_empty(), "{:#?}", p.ignored);
    assert!(p.warnings.is_empty(), "{:#?}", p.warnings);
    let c = &p.config;

    // Policies, lowest priority first, every list in the order written.
    assert_eq!(
        c.ikev2_policies,
        [
            Ikev2Policy {
                priority: 10,
                encryption: vec![Ikev2Encryption::Aes256Gcm, Ikev2Encryption::Aes128Gcm],
                integrity: vec![Ikev2Integrity::Null],
                groups: vec![
                    DhGroup::Ecp521,
                    DhGroup::Ecp384,
                    DhGroup::Ecp256,
                    DhGroup::Modp2048
                ],
                prf: vec![Ikev2Prf::Sha512, Ikev2Prf::Sha384, Ikev2Prf::Sha256],
                lifetime_s: 86400,
            },
            Ikev2Policy {
                priority: 20,
                encryption: vec![Ikev2Encryption::Aes256, Ikev2Encryption::Aes192],
                integrity: vec![Ikev2Integrity::Sha512, Ikev2Integrity::Sha256],
                groups: vec![DhGroup::Ecp384, DhGroup::Modp2048],
                prf: vec![],
                lifetime_s: 28800,
            },
        ]
    );
    assert_eq!(p.source.ikev2_policies[&10], 12);
    assert_eq!(p.source.ikev2_policies[&20], 18);

    // Globals.
    assert_eq!(c.ikev2_enabled_on, ["outside"]);
    assert_eq!(
        c.ikev2,
        Ikev2Settings {
            cookie_challenge: Some(50),
            max_in_negotiation: 100,
            fragmentation_mtu: 1280,
        }
    );

    // Proposals.
    use Ikev2EspEncryption as E;
    use Ikev2EspIntegrity as I;
    assert_eq!(
        c.ikev2_proposals["P1"],
        Ikev2Proposal {
            name: "P1".into(),
            encryption: vec![E::Aes256Gcm, E::Aes256],
            integrity: vec![I::Null, I::Sha256, I::Sha1],
        }
    );
    assert_eq!(c.ikev2_proposals["P2"].encryption, [E::ChaCha20Poly1305]);
    assert_eq!(p.source.ikev2_proposals["P1"], 35);

    // Entries: IKEv2 only, and both versions on one entry.
    let m10 = &c.crypto_maps[0];
    assert_eq!(m10.ikev2_proposals, ["P1", "P2"]);
    assert!(m10.transform_sets.is_empty());
    assert!(m10.uses_ikev2() && !m10.uses_ikev1());
    assert_eq!(m10.pfs, Some(DhGroup::Ecp521));
    assert_eq!((m10.lifetime_s, m10.lifetime_kb), (3600, Some(4_608_000)));
    assert_eq!(
        p.source.ikev2_proposal_refs[&("OUTSIDE_MAP".to_string(), 10)],
        [(43, 52), (43, 55)]
    );
    let m20 = &c.crypto_maps[1];
    assert_eq!(m20.transform_sets, ["T-AES256"]);
    assert_eq!(m20.ikev2_proposals, ["P1"]);
    assert!(m20.uses_ikev1() && m20.uses_ikev2());
    assert_eq!(m20.lifetime_kb, None);
    assert_eq!(c.versions_of(m10), (false, true));
    assert_eq!(c.versions_of(m20), (true, true));

    // Keys, one per direction; the IKEv1 key is another field.
    let east = c.tunnel_group_for(ip("192.0.2.2")).unwrap();
    assert_eq!(
        east.ikev2_remote_psk.as_ref().unwrap().expose(),
        b"east-to-west"
    );
    assert_eq!(
        east.ikev2_local_psk.as_ref().unwrap().expose(),
        b"west-to-east"
    );
    assert!(east.psk.is_none());
    assert_eq!(east.dpd, Some((10, 2)));
    let branch = c.tunnel_group_for(ip("192.0.2.3")).unwrap();
    assert_eq!(branch.psk.as_ref().unwrap().expose(), b"branch-v1-key");
    assert_eq!(
        branch.ikev2_remote_psk.as_ref().unwrap().expose(),
        b"branch-in"
    );
    assert_eq!(
        branch.ikev2_local_psk.as_ref().unwrap().expose(),
        b"branch-out"
    );

    // And the whole sample passes check with nothing but advice.
    let findings = check(&p);
    assert!(
        findings.iter().all(|d| d.severity == Severity::Advice),
        "{findings:#?}"
    );
    assert!(
        findings
            .iter()
            .any(|d| d.message.starts_with("IKEv2 lifetimes are not negotiated"))
    );
}

#[test]
fn omitted_policy_lines_take_the_defaults() {
    let p = load("crypto ikev2 policy 5\ncrypto ikev2 policy 6\n encryption aes-gcm aes-gcm-256\n");
    let c = &p.config;
    assert_eq!(
        c.ikev2_policies[0],
        Ikev2Policy {
            priority: 5,
            encryption: vec![Ikev2Encryption::Aes256],
            integrity: vec![Ikev2Integrity::Sha256],
            groups: vec![DhGroup::Modp2048],
            prf: vec![],
            lifetime_s: 86400,
        }
    );
    // Only GCM: the default integrity is `null`, GCM carrying its own.
    assert_eq!(c.ikev2_policies[1].integrity, [Ikev2Integrity::Null]);
    // Globals untouched.
    assert_eq!(c.ikev2, Ikev2Settings::default());
    assert!(c.ikev2_enabled_on.is_empty());
}

#[test]
fn sub_lines_unindented_repeated_and_reentered() {
    let p = load(
        "crypto ikev2 policy 10\nencryption aes\nintegrity sha\ngroup 19\nprf sha\nlifetime seconds 600\n\
         crypto ipsec ikev2 ipsec-proposal P\nprotocol esp encryption aes-192\nprotocol esp integrity sha-384\n\
         crypto ikev2 policy 10\n encryption aes-256 aes\n\
         crypto ipsec ikev2 ipsec-proposal P\n protocol esp integrity sha-512 sha-384\n\
         tunnel-group DefaultL2LGroup ipsec-attributes\nikev2 remote-authentication pre-shared-key a\nikev2 local-authentication pre-shared-key b\n",
    );
    assert!(p.ignored.is_empty(), "{:#?}", p.ignored);
    let c = &p.config;
    let pol = &c.ikev2_policies[0];
    // The repeated line replaces the list; the rest stays.
    assert_eq!(
        pol.encryption,
        [Ikev2Encryption::Aes256, Ikev2Encryption::Aes128]
    );
    assert_eq!(pol.integrity, [Ikev2Integrity::Sha1]);
    assert_eq!(pol.groups, [DhGroup::Ecp256]);
    assert_eq!(pol.prf, [Ikev2Prf::Sha1]);
    assert_eq!(pol.lifetime_s, 600);
    let prop = &c.ikev2_proposals["P"];
    assert_eq!(prop.encryption, [Ikev2EspEncryption::Aes192]);
    assert_eq!(
        prop.integrity,
        [Ikev2EspIntegrity::Sha512, Ikev2EspIntegrity::Sha384]
    );
    let dflt = c.tunnel_group_for(ip("192.0.2.99")).unwrap();
    assert_eq!(dflt.ikev2_remote_psk.as_ref().unwrap().expose(), b"a");
    assert_eq!(dflt.ikev2_local_psk.as_ref().unwrap().expose(), b"b");
}

#[test]
fn global_lines_and_their_asa_variants() {
    let p = load(
        "interface wan0\n nameif outside\n\
         crypto ikev2 enable outside client-services port 443\n\
         crypto ikev2 enable outside\n\
         crypto ikev2 cookie-challenge 0\n\
         crypto ikev2 limit max-in-negotiation-sa 2000\n\
         crypto ikev2 fragmentation mtu 1400\n",
    );
    let c = &p.config;
    assert_eq!(c.ikev2_enabled_on, ["outside"], "enabled once");
    assert_eq!(
        c.ikev2,
        Ikev2Settings {
            cookie_challenge: Some(0),
            max_in_negotiation: 2000,
            fragmentation_mtu: 1400,
        }
    );
    let off = load("crypto ikev2 cookie-challenge 80\nno crypto ikev2 cookie-challenge\n");
    assert_eq!(off.config.ikev2.cookie_challenge, None);

    // `preference` is accepted and said to be ignored.
    let pref = load("crypto ikev2 fragmentation mtu 1300 preference 2\n");
    assert_eq!(pref.config.ikev2.fragmentation_mtu, 1300);
    assert_eq!(
        pref.warnings[0].to_string(),
        "line 1, col 37: warning: `preference` ignored: ipsecgw always uses RFC 7383 fragmentation"
    );

    // ASA features an L2L gateway has no use for are listed as ignored.
    let text = "crypto ikev2 remote-access trustpoint RA-TP\n\
                crypto ikev2 limit max-sa 500\n\
                crypto ikev2 notify invalid-selectors\n\
                crypto ipsec ikev2 sa-strength-enforcement\n";
    let p = load(text);
    let lines: Vec<usize> = p.ignored.iter().map(|i| i.line).collect();
    assert_eq!(lines, [1, 2, 3, 4]);
    assert_eq!(p.config, Config::default());
}

#[test]
fn parser_errors_point_at_the_word() {
    let cases: &[(&str, &str)] = &[
        (
            "crypto ikev2 policy 10\n encryption aes-512\n",
            "line 2, col 13: error: unknown encryption `aes-512` (did you mean `aes-192`?)",
        ),
        (
            "crypto ikev2 policy 10\n integrity sha-256\n",
            "line 2, col 12: error: unknown integrity `sha-256` (did you mean `sha256`?)",
        ),
        (
            "crypto ikev2 policy 10\n group 3\n",
            "line 2, col 8: error: unknown Diffie-Hellman group `3` (expected one of: 1 2 5 14 15 16 19 20 21 24 31)",
        ),
        (
            "crypto ikev2 policy 10\n group 14 19 14\n",
            "line 2, col 14: error: Diffie-Hellman group `14` listed twice",
        ),
        (
            "crypto ikev2 policy 10\n prf sha265\n",
            "line 2, col 6: error: unknown prf `sha265` (did you mean `sha256`?)",
        ),
        (
            "crypto ikev2 policy 10\n lifetime 86400\n",
            "line 2, col 11: error: an ikev2 policy lifetime needs its unit (write `lifetime seconds 86400`)",
        ),
        (
            "crypto ikev2 policy 10\n lifetime seconds 50\n",
            "line 2, col 19: error: lifetime seconds `50` out of range (use 120..2147483647)",
        ),
        (
            "crypto ikev2 policy 10\n lifetime kilobytes 50\n",
            "line 2, col 11: error: unknown lifetime unit `kilobytes` (expected one of: seconds)",
        ),
        (
            "crypto ikev2 policy 10\n hash sha\n",
            "line 2, col 2: error: unknown ikev2 policy attribute `hash` (expected one of: encryption, integrity, group, prf, lifetime)",
        ),
        (
            "crypto ikev2 policy 10\n encryption\n",
            "line 2, col 13: error: missing encryption",
        ),
        (
            "crypto ikev2 policy 10\n encryption aes-256 aes-256\n",
            "line 2, col 21: error: encryption `aes-256` listed twice",
        ),
        (
            "crypto ikev2 policy 10\n group 14 extra\n",
            "line 2, col 11: error: unknown Diffie-Hellman group `extra` (expected one of: 1 2 5 14 15 16 19 20 21 24 31)",
        ),
        (
            "crypto ikev2 policy 0\n",
            "line 1, col 21: error: policy priority `0` out of range (use 1..65535)",
        ),
        (
            "crypto ikev2 policy 10 20\n",
            "line 1, col 24: error: unexpected `20`",
        ),
        (
            "crypto ikev2 polcy 10\n",
            "line 1, col 14: error: unknown ikev2 subcommand `polcy` (did you mean `policy`?)",
        ),
        (
            "crypto ikev2 cookie-challenge 101\n",
            "line 1, col 31: error: cookie-challenge percentage `101` out of range (use 0..100)",
        ),
        (
            "crypto ikev2 limit max-in-negotiation-sa 0\n",
            "line 1, col 42: error: max-in-negotiation-sa `0` out of range (use 1..100000)",
        ),
        (
            "crypto ikev2 limit max-in-negotiaton-sa 5\n",
            "line 1, col 20: error: unknown ikev2 limit `max-in-negotiaton-sa` (did you mean `max-in-negotiation-sa`?)",
        ),
        (
            "crypto ikev2 fragmentation mtu 100\n",
            "line 1, col 32: error: fragmentation MTU `100` out of range (use 576..9000)",
        ),
        (
            "crypto ikev2 fragmentation size 1280\n",
            "line 1, col 28: error: unknown fragmentation parameter `size` (expected one of: mtu, preference)",
        ),
        (
            "interface wan0\n nameif outside\ncrypto ikev2 enable outsid\n",
            "line 3, col 21: error: no interface has nameif `outsid` (did you mean `outside`?)",
        ),
        (
            "crypto ikev2 enable\n",
            "line 1, col 21: error: missing interface nameif",
        ),
        (
            "crypto ipsec ikev2 ipsec-proposal P\n protocol esp encryption aes-gcm-265\n",
            "line 2, col 26: error: unknown ESP encryption `aes-gcm-265` (did you mean `aes-gcm-256`?)",
        ),
        (
            "crypto ipsec ikev2 ipsec-proposal P\n protocol esp integrity sha256\n",
            "line 2, col 25: error: unknown ESP integrity `sha256` (did you mean `sha-256`?)",
        ),
        (
            "crypto ipsec ikev2 ipsec-proposal P\n protocol esp integrity sha-1 null sha-1\n",
            "line 2, col 36: error: ESP integrity `sha-1` listed twice",
        ),
        (
            "crypto ipsec ikev2 ipsec-proposal P\n protocol ah integrity sha-1\n",
            "line 2, col 11: error: unknown protocol `ah` (expected one of: esp)",
        ),
        (
            "crypto ipsec ikev2 ipsec-proposal P\n protocol esp hash sha-1\n",
            "line 2, col 15: error: unknown esp attribute `hash` (expected one of: encryption, integrity)",
        ),
        (
            "crypto ipsec ikev2 ipsec-proposal P\n protocol esp encryption\n",
            "line 2, col 26: error: missing ESP encryption",
        ),
        (
            "crypto ipsec ikev2 ipsec-proposal P\n encryption aes\n",
            "line 2, col 2: error: unknown ipsec-proposal command `encryption` (expected one of: protocol)",
        ),
        (
            "crypto ipsec ikev2 ipsec-propsal P\n",
            "line 1, col 20: error: unknown ipsec ikev2 subcommand `ipsec-propsal` (did you mean `ipsec-proposal`?)",
        ),
        (
            "crypto ipsec ikev2 ipsec-proposal\n",
            "line 1, col 35: error: missing ipsec-proposal name",
        ),
        (
            "crypto map M 1 set ikev2 ipsec-proposal\n",
            "line 1, col 41: error: missing ipsec-proposal name",
        ),
        (
            "crypto map M 1 set ikev2 transform-set T\n",
            "line 1, col 26: error: unknown ikev2 parameter `transform-set` (expected one of: ipsec-proposal)",
        ),
        (
            "crypto map M 1 set ikev2 ipsec-proposal A B A\n",
            "line 1, col 45: error: ipsec-proposal `A` listed twice",
        ),
        (
            "crypto map M 1 set ikve2 ipsec-proposal A\n",
            "line 1, col 20: error: unknown `set` parameter `ikve2` (did you mean `ikev2`?)",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&err(text), want, "{text}");
    }
}

#[test]
fn tunnel_group_key_errors() {
    let tg = "tunnel-group 192.0.2.2 type ipsec-l2l\ntunnel-group 192.0.2.2 ipsec-attributes\n";
    let cases: &[(&str, &str)] = &[
        (
            " ikev2 remote-authentication certificate\n",
            "line 3, col 30: error: ikev2 remote-authentication certificate: certificates are not supported yet (use `ikev2 remote-authentication pre-shared-key KEY`)",
        ),
        (
            " ikev2 local-authentication certificate WEST-TP\n",
            "line 3, col 29: error: ikev2 local-authentication certificate: certificates are not supported yet (use `ikev2 local-authentication pre-shared-key KEY`)",
        ),
        (
            " ikev2 local-authentication pre-shared-key *****\n",
            "line 3, col 44: error: ikev2 local-authentication key of tunnel-group 192.0.2.2 is masked (`*****`) \
             (`show running-config` hides keys: paste the real key (on an ASA `more system:running-config` shows it; \
             for ipsecgw, it is in the file the daemon was started with))",
        ),
        (
            " ikev2 remote-authentication pre-shared-key 8 abcdef\n",
            "line 3, col 45: error: ikev2 remote-authentication key of tunnel-group 192.0.2.2 is encrypted (type 8) (paste the clear-text key)",
        ),
        (
            " ikev2 remote-authentication pre-shared-key hex 0a0b\n",
            "line 3, col 45: error: ikev2 remote-authentication key of tunnel-group 192.0.2.2: hex keys are not supported yet (write the key as text)",
        ),
        (
            " ikev2 remote-authentication psk k\n",
            "line 3, col 30: error: unknown authentication method `psk` (expected one of: pre-shared-key, certificate)",
        ),
        (
            " ikev2 local-authentication pre-shared-key two words\n",
            "line 3, col 48: error: a pre-shared key cannot contain spaces",
        ),
        (
            " ikev2 remote-authentcation pre-shared-key k\n",
            "line 3, col 8: error: unknown ikev2 attribute `remote-authentcation` (did you mean `remote-authentication`?)",
        ),
        (
            " ikev2 local-authentication\n",
            "line 3, col 29: error: missing authentication method (expected one of: pre-shared-key, certificate)",
        ),
        (
            " ikev2 local-authentication pre-shared-key\n",
            "line 3, col 44: error: missing ikev2 local-authentication key",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(&err(&format!("{tg}{line}")), want, "{line}");
    }
    let long = format!(
        "{tg} ikev2 local-authentication pre-shared-key {}\n",
        "k".repeat(129)
    );
    assert_eq!(
        err(&long),
        "line 3, col 44: error: pre-shared key longer than 128 characters"
    );
    // A key may hold `!` and `*` (only an all-`*` word is a mask).
    let p = load(&format!(
        "{tg} ikev2 local-authentication pre-shared-key a!b*c\n"
    ));
    let t = p.config.tunnel_group_for(ip("192.0.2.2")).unwrap();
    assert_eq!(t.ikev2_local_psk.as_ref().unwrap().expose(), b"a!b*c");
}

#[test]
fn a_clean_ikev2_only_config_needs_nothing_of_ikev1() {
    let p = load(BASE);
    let all = check(&p);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].severity, Severity::Advice);
    assert!(
        all[0]
            .message
            .starts_with("IKEv2 lifetimes are not negotiated")
    );
}

#[test]
fn several_algorithms_per_list_are_fine() {
    let many = edit(
        " encryption aes-gcm-256\n integrity null\n group 21\n",
        " encryption aes-256 aes-192 aes\n integrity sha512 sha384 sha256\n group 21 20 19 14\n prf sha512 sha384\n",
    )
    .replace(
        " protocol esp encryption aes-gcm-256\n protocol esp integrity null\n",
        " protocol esp encryption aes-gcm-256 aes-gcm chacha20-poly1305 aes-256 aes\n protocol esp integrity null sha-512 sha-256 sha-1\n",
    );
    assert!(diags(&many).is_empty(), "{:#?}", diags(&many));
    // GCM and CBC in one policy, each with what it pairs with.
    let mixed = edit(
        " encryption aes-gcm-256\n integrity null\n",
        " encryption aes-gcm-256 aes-256\n integrity null sha256\n",
    );
    assert!(diags(&mixed).is_empty(), "{:#?}", diags(&mixed));
}

#[test]
fn gcm_and_integrity_pairings_are_checked() {
    // Policy: GCM with only a real integrity can never be proposed.
    assert_eq!(
        diags(&edit(
            " integrity null\n group",
            " integrity sha256\n group"
        )),
        [
            "line 6: error: ikev2 policy 10: GCM encryption (`aes-gcm-256`) needs `integrity null` (GCM carries its own integrity: write `integrity null`)"
        ]
    );
    // Policy: CBC with only `null` has no integrity at all.
    assert_eq!(
        diags(&edit(
            " encryption aes-gcm-256\n integrity null",
            " encryption aes-256 aes\n integrity null"
        )),
        [
            "line 6: error: ikev2 policy 10: encryption `aes-256`, `aes` needs an integrity algorithm other than `null` (add e.g. `integrity sha256`, or use `encryption aes-gcm-256`)"
        ]
    );
    // Mixed lists load; what pairs with nothing is named.
    assert_eq!(
        diags(&edit(
            " encryption aes-gcm-256\n integrity null",
            " encryption aes-gcm-256 aes-256\n integrity null"
        )),
        [
            "line 6: warning: ikev2 policy 10: encryption `aes-256` is never offered: `integrity null` is for GCM only (add e.g. `sha256` to `integrity`)"
        ]
    );
    assert_eq!(
        diags(&edit(
            " encryption aes-gcm-256\n integrity null",
            " encryption aes-gcm-256 aes-256\n integrity sha256"
        )),
        [
            "line 6: warning: ikev2 policy 10: encryption `aes-gcm-256` is never offered: GCM needs `integrity null` (add `null` to `integrity`)"
        ]
    );

    // Proposal: only GCM and only real integrity.
    assert_eq!(
        diags(&edit(
            " protocol esp integrity null",
            " protocol esp integrity sha-256"
        )),
        [
            "line 10: error: ipsec-proposal P1: encryption `aes-gcm-256` carries its own integrity and needs `protocol esp integrity null` (write ` protocol esp integrity null`)"
        ]
    );
    // Proposal: only CBC and only null (or no integrity line).
    let want_cbc = [
        "line 10: error: ipsec-proposal P1: encryption `aes-256` needs an integrity algorithm other than `null` (add e.g. ` protocol esp integrity sha-256`, or use `aes-gcm-256`)",
    ];
    assert_eq!(
        diags(&edit(
            " protocol esp encryption aes-gcm-256",
            " protocol esp encryption aes-256"
        )),
        want_cbc
    );
    assert_eq!(
        diags(&edit(
            " protocol esp encryption aes-gcm-256\n protocol esp integrity null",
            " protocol esp encryption aes-256"
        )),
        want_cbc
    );
    // A GCM-only proposal may leave integrity out.
    assert!(diags(&edit(" protocol esp integrity null\n", "")).is_empty());
    // Mixed: fine, the unpaired one named.
    assert_eq!(
        diags(&edit(
            " protocol esp encryption aes-gcm-256",
            " protocol esp encryption aes-gcm-256 aes-256"
        )),
        [
            "line 10: warning: ipsec-proposal P1: encryption `aes-256` is never offered: it needs an integrity algorithm other than `null` (add e.g. `sha-256` to ` protocol esp integrity`)"
        ]
    );
    assert_eq!(
        diags(&edit(
            " protocol esp encryption aes-gcm-256\n protocol esp integrity null",
            " protocol esp encryption chacha20-poly1305 aes-256\n protocol esp integrity sha-256"
        )),
        [
            "line 10: warning: ipsec-proposal P1: encryption `chacha20-poly1305` is never offered: it needs integrity `null` (add `null` to ` protocol esp integrity`)"
        ]
    );
    // A proposal without encryption.
    assert_eq!(
        diags(&edit(
            " protocol esp encryption aes-gcm-256\n protocol esp integrity null\n",
            ""
        )),
        [
            "line 10: error: ipsec-proposal P1: no `protocol esp encryption` (add ` protocol esp encryption aes-gcm-256` (or `aes-256` with ` protocol esp integrity sha-256`))"
        ]
    );
}

#[test]
fn weak_and_clear_algorithms_are_said() {
    let weak = edit(
        " encryption aes-gcm-256\n integrity null\n",
        " encryption des aes-256\n integrity md5 sha256\n",
    )
    .replace(
        " protocol esp encryption aes-gcm-256\n protocol esp integrity null\n",
        " protocol esp encryption null des aes-256\n protocol esp integrity md5 sha-256\n",
    );
    assert_eq!(
        diags(&weak),
        [
            "line 6: warning: ikev2 policy 10: DES is broken (56-bit key) (use `aes-256` or `aes-gcm-256`)",
            "line 6: warning: ikev2 policy 10: MD5 is weak (use `sha256` or better)",
            "line 10: warning: ipsec-proposal P1: encryption null sends traffic in clear",
            "line 10: warning: ipsec-proposal P1: DES is broken (use `aes-256` or `aes-gcm-256`)",
            "line 10: warning: ipsec-proposal P1: MD5 is weak (use `sha-256`)",
        ]
    );
}

#[test]
fn weak_groups_are_refused_unless_allowed() {
    let weak = edit(" group 21\n", " group 21 24 5\n");
    assert_eq!(
        diags(&weak),
        [
            "line 6: error: ikev2 policy 10: DH group 24 is weak (use group 14, 19, 20, 21 or 31; `crypto isakmp allow-weak-groups` allows it)",
            "line 6: error: ikev2 policy 10: DH group 5 is weak (use group 14, 19, 20, 21 or 31; `crypto isakmp allow-weak-groups` allows it)",
        ]
    );
    let pfs = edit(
        "crypto map M 10 set peer",
        "crypto map M 10 set pfs group24\ncrypto map M 10 set peer",
    );
    assert_eq!(
        diags(&pfs),
        [
            "line 13: error: crypto map M 10: PFS group 24 is weak (IKEv2 refuses groups 1, 2, 5 and 24: use `set pfs group14` or better; `crypto isakmp allow-weak-groups` allows it)"
        ]
    );
    // The knob IKEv1 acknowledges weak groups with allows them here.
    for text in [&weak, &pfs] {
        let allowed = format!("{text}crypto isakmp allow-weak-groups\n");
        assert!(diags(&allowed).is_empty(), "{:#?}", diags(&allowed));
    }
    // Groups 1, 2, 5 stay a warning for an IKEv1-only entry; 24 is fine
    // there as before.
    let v1 = BASE
        .replace(
            "crypto map M 10 set ikev2 ipsec-proposal P1",
            "crypto map M 10 set ikev1 transform-set T\ncrypto map M 10 set pfs group5",
        )
        .replace(
            "crypto ikev2 enable outside",
            "crypto ikev1 enable outside\ncrypto ipsec ikev1 transform-set T esp-aes-256 esp-sha256-hmac\ncrypto ikev1 policy 1\n encryption aes-256\n hash sha256\n group 14",
        )
        .replace(" ikev2 remote", " ikev1 pre-shared-key k\n ikev2 remote");
    assert_eq!(
        diags(&v1),
        [
            "line 13: warning: crypto map M 10: PFS group 5 is weak (use `set pfs group14` or better)"
        ]
    );
}

#[test]
fn dangling_and_missing_ikev2_pieces() {
    assert_eq!(
        diags(&edit(
            "set ikev2 ipsec-proposal P1",
            "set ikev2 ipsec-proposal P1 P9"
        )),
        [
            "line 15, col 45: error: crypto map M 10: unknown ikev2 ipsec-proposal `P9` (expected one of: P1)"
        ]
    );
    let typo = BASE.replace("P1", "GCM-256").replace(
        "set ikev2 ipsec-proposal GCM-256",
        "set ikev2 ipsec-proposal GCM-265",
    );
    assert_eq!(
        diags(&typo),
        [
            "line 15, col 42: error: crypto map M 10: unknown ikev2 ipsec-proposal `GCM-265` (did you mean `GCM-256`?)"
        ]
    );
    assert_eq!(
        diags(&edit(
            "set ikev2 ipsec-proposal P1",
            "set ikev2 ipsec-proposal P"
        )),
        [
            "line 15, col 42: error: crypto map M 10: unknown ikev2 ipsec-proposal `P` (expected one of: P1)"
        ]
    );
    assert_eq!(
        diags(&edit(
            " ikev2 remote-authentication pre-shared-key r3mote\n",
            ""
        )),
        [
            "line 18: error: tunnel-group 192.0.2.2: no ikev2 remote-authentication key for peer 192.0.2.2 (crypto map M 10 uses IKEv2) (add `tunnel-group 192.0.2.2 ipsec-attributes` / ` ikev2 remote-authentication pre-shared-key KEY`)"
        ]
    );
    assert_eq!(
        diags(&edit(
            " ikev2 local-authentication pre-shared-key l0cal\n",
            ""
        )),
        [
            "line 18: error: tunnel-group 192.0.2.2: no ikev2 local-authentication key for peer 192.0.2.2 (crypto map M 10 uses IKEv2) (add `tunnel-group 192.0.2.2 ipsec-attributes` / ` ikev2 local-authentication pre-shared-key KEY`)"
        ]
    );
    // An IKEv1 key is no IKEv2 key.
    let v1_key = edit(
        " ikev2 remote-authentication pre-shared-key r3mote\n ikev2 local-authentication pre-shared-key l0cal\n",
        " ikev1 pre-shared-key k3y\n",
    );
    assert_eq!(diags(&v1_key).len(), 2, "{:#?}", diags(&v1_key));
    // DefaultL2LGroup serves the keys of a peer without its own group.
    let dflt = BASE.replace("tunnel-group 192.0.2.2 ", "tunnel-group DefaultL2LGroup ");
    assert!(diags(&dflt).is_empty(), "{:#?}", diags(&dflt));
    assert_eq!(
        diags(&edit("crypto ikev2 enable outside\n", "")),
        [
            "line 13: error: crypto map M 10 uses IKEv2, but crypto map M is bound to `outside` where IKEv2 is not enabled (add `crypto ikev2 enable outside`)"
        ]
    );
    assert_eq!(
        diags(&edit(
            "crypto ikev2 policy 10\n encryption aes-gcm-256\n integrity null\n group 21\n",
            ""
        )),
        [
            "error: no IKEv2 policy: an IKEv2 SA can never be negotiated (add `crypto ikev2 policy 10`)"
        ]
    );
}

#[test]
fn an_entry_with_both_versions_needs_what_each_needs() {
    let both = edit(
        "crypto map M 10 set ikev2 ipsec-proposal P1\n",
        "crypto map M 10 set ikev2 ipsec-proposal P1\ncrypto map M 10 set ikev1 transform-set T\n",
    );
    let d = diags(&both);
    assert_eq!(
        d,
        [
            "line 13: error: crypto map M 10: unknown transform-set `T` (expected one of: )",
            "line 13: error: crypto map M is bound to `outside` where IKEv1 is not enabled (add `crypto ikev1 enable outside`)",
            "line 19: error: tunnel-group 192.0.2.2: no pre-shared key for peer 192.0.2.2 (add `tunnel-group 192.0.2.2 ipsec-attributes` / ` ikev1 pre-shared-key KEY`)",
            "error: no ISAKMP policy: phase 1 can never be negotiated (add `crypto ikev1 policy 10`)",
        ]
    );
    let complete = format!(
        "{}crypto ipsec ikev1 transform-set T esp-aes-256 esp-sha256-hmac\ncrypto ikev1 policy 10\n encryption aes-256\n hash sha256\n group 14\ncrypto ikev1 enable outside\ntunnel-group 192.0.2.2 ipsec-attributes\n ikev1 pre-shared-key k3y\n",
        both
    );
    let p = load(&complete);
    assert!(diags(&complete).is_empty(), "{:#?}", diags(&complete));
    // Both lifetime notes: IKEv1 negotiates, IKEv2 does not.
    assert_eq!(
        check(&p)
            .iter()
            .filter(|d| d.severity == Severity::Advice)
            .count(),
        2
    );
}

#[test]
fn ikev2_enable_is_needed_only_by_ikev2_entries() {
    // A policy and a proposal nobody uses, IKEv2 enabled nowhere: fine.
    let text = "\
interface wan0
 nameif outside
access-list L2L extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0
crypto ikev1 policy 10
 encryption aes-256
 hash sha256
 group 14
crypto ikev2 policy 10
crypto ipsec ikev2 ipsec-proposal P1
 protocol esp encryption aes-gcm-256
crypto ipsec ikev1 transform-set T esp-aes-256 esp-sha256-hmac
crypto map M 10 match address L2L
crypto map M 10 set peer 192.0.2.2
crypto map M 10 set ikev1 transform-set T
crypto map M interface outside
crypto ikev1 enable outside
tunnel-group 192.0.2.2 type ipsec-l2l
tunnel-group 192.0.2.2 ipsec-attributes
 ikev1 pre-shared-key k3y
";
    assert!(diags(text).is_empty(), "{:#?}", diags(text));
}

#[test]
fn proposal_transforms_are_the_valid_pairings_in_order() {
    use Ikev2EspEncryption as E;
    use Ikev2EspIntegrity as I;
    let t = |cipher, integ| EspTransform { cipher, integ };
    let p = Ikev2Proposal {
        name: "P1".into(),
        encryption: vec![E::Aes256Gcm, E::Aes256, E::ChaCha20Poly1305, E::Aes128],
        integrity: vec![I::Null, I::Sha256, I::Sha1],
    };
    assert_eq!(
        p.transforms(),
        [
            t(EspCipher::Aes256Gcm, EspInteg::None),
            t(EspCipher::Aes256Cbc, EspInteg::HmacSha256_128),
            t(EspCipher::Aes256Cbc, EspInteg::HmacSha1_96),
            t(EspCipher::ChaCha20Poly1305, EspInteg::None),
            t(EspCipher::Aes128Cbc, EspInteg::HmacSha256_128),
            t(EspCipher::Aes128Cbc, EspInteg::HmacSha1_96),
        ]
    );
    let no_null = Ikev2Proposal {
        integrity: vec![I::Sha512],
        ..p.clone()
    };
    assert_eq!(
        no_null.transforms(),
        [
            t(EspCipher::Aes256Cbc, EspInteg::HmacSha512_256),
            t(EspCipher::Aes128Cbc, EspInteg::HmacSha512_256),
        ]
    );
    let only_null = Ikev2Proposal {
        integrity: vec![I::Null],
        ..p.clone()
    };
    assert_eq!(
        only_null.transforms(),
        [
            t(EspCipher::Aes256Gcm, EspInteg::None),
            t(EspCipher::ChaCha20Poly1305, EspInteg::None),
        ]
    );
    // Null encryption pairs only with a real integrity (never null-null).
    let clear = Ikev2Proposal {
        name: "C".into(),
        encryption: vec![E::Null],
        integrity: vec![I::Null, I::Sha256],
    };
    assert_eq!(
        clear.transforms(),
        [t(EspCipher::Null, EspInteg::HmacSha256_128)]
    );
}

#[test]
fn printer_round_trips_and_masks_ikev2_keys() {
    let p = load(&sample("ikev2.cfg"));
    let with_keys = print_with(&p.config, PrintOptions { include_keys: true });
    let again = load(&with_keys);
    assert_eq!(again.config, p.config, "{with_keys}");
    assert!(again.ignored.is_empty(), "{:#?}", again.ignored);
    assert_eq!(
        print_with(&again.config, PrintOptions { include_keys: true }),
        with_keys,
        "printing is a fixed point"
    );
    for line in [
        "crypto ipsec ikev2 ipsec-proposal P1",
        " protocol esp encryption aes-gcm-256 aes-256",
        " protocol esp integrity null sha-256 sha-1",
        "crypto map OUTSIDE_MAP 10 set ikev2 ipsec-proposal P1 P2",
        "crypto map OUTSIDE_MAP 20 set ikev1 transform-set T-AES256",
        "crypto map OUTSIDE_MAP 20 set ikev2 ipsec-proposal P1",
        "crypto ikev2 enable outside",
        "crypto ikev2 policy 10",
        " encryption aes-gcm-256 aes-gcm",
        " integrity null",
        " group 21 20 19 14",
        " prf sha512 sha384 sha256",
        " lifetime seconds 86400",
        "crypto ikev2 cookie-challenge 50",
        "crypto ikev2 limit max-in-negotiation-sa 100",
        "crypto ikev2 fragmentation mtu 1280",
        " ikev2 remote-authentication pre-shared-key east-to-west",
        " ikev2 local-authentication pre-shared-key west-to-east",
    ] {
        assert!(
            with_keys.lines().any(|l| l == line),
            "missing {line:?}:\n{with_keys}"
        );
    }
    // Policy 20 names no prf: none is printed (the default stays a default).
    let p20 = with_keys.split("crypto ikev2 policy 20\n").nth(1).unwrap();
    assert!(p20.lines().take(4).all(|l| !l.starts_with(" prf")), "{p20}");

    // `show running-config`: every key masked, and such a file refuses to
    // load at the first masked key.
    let shown = print(&p.config);
    for secret in [
        "east-to-west",
        "west-to-east",
        "branch-in",
        "branch-out",
        "branch-v1-key",
    ] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
    assert!(shown.contains(" ikev2 remote-authentication pre-shared-key *****"));
    assert!(shown.contains(" ikev2 local-authentication pre-shared-key *****"));
    let e = parse(&shown).unwrap_err();
    let first = shown
        .lines()
        .position(|l| l.contains("pre-shared-key *****"))
        .unwrap()
        + 1;
    assert!(
        e.errors[0].to_string().starts_with(&format!(
            "line {first}, col 45: error: ikev2 remote-authentication key of tunnel-group 192.0.2.2 is masked"
        )),
        "{e}"
    );

    // `no crypto ikev2 cookie-challenge` survives the round trip.
    let off = load(&format!("{BASE}no crypto ikev2 cookie-challenge\n"));
    let text = print_with(&off.config, PrintOptions { include_keys: true });
    assert!(
        text.contains("\nno crypto ikev2 cookie-challenge\n"),
        "{text}"
    );
    assert_eq!(load(&text).config, off.config);
}

#[test]
fn an_ikev1_configuration_prints_no_ikev2_line() {
    let p = load(&sample("design.cfg"));
    let text = print(&p.config);
    assert!(!text.to_ascii_lowercase().contains("ikev2"), "{text}");
    // Changed globals alone are IKEv2 configuration, and are printed.
    let p = load(&format!(
        "{}crypto ikev2 fragmentation mtu 1400\n",
        sample("design.cfg")
    ));
    let text = print_with(&p.config, PrintOptions { include_keys: true });
    assert!(
        text.contains("crypto ikev2 fragmentation mtu 1400"),
        "{text}"
    );
    assert_eq!(load(&text).config, p.config);
}
