//! `check`: what cannot work is an error, what is weak is a warning.

use ipsecgw::config::*;

const BASE: &str = "\
interface wan0
 nameif outside
interface lan0
 nameif inside
access-list L2L extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0
crypto ikev1 policy 10
 encryption aes-256
 hash sha256
 group 14
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

fn diags(text: &str) -> Vec<String> {
    let p = parse(text).unwrap_or_else(|e| panic!("{e}"));
    check(&p)
        .iter()
        .filter(|d| d.severity != Severity::Advice)
        .map(|d| d.to_string())
        .collect()
}

fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

#[test]
fn clean_config_has_only_advice() {
    let p = parse(BASE).unwrap();
    let all = check(&p);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].severity, Severity::Advice);
    assert!(
        all[0]
            .message
            .contains("responder accepts a proposed lifetime no longer than its own")
    );
}

#[test]
fn overlapping_protected_networks_are_refused() {
    let same = edit("203.0.113.0 255.255.255.0", "198.51.100.0 255.255.255.0");
    let d = diags(&same);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].starts_with(
        "line 11: error: crypto map M 10: local network 198.51.100.0/24 and remote network 198.51.100.0/24 overlap (both sides use the same private addresses"
    ), "{}", d[0]);
    // Partial overlap (a supernet) is the same trap.
    let sup = edit("203.0.113.0 255.255.255.0", "198.51.0.0 255.255.0.0");
    assert!(
        diags(&sup)[0]
            .contains("local network 198.51.100.0/24 and remote network 198.51.0.0/16 overlap")
    );
    // `any any` too.
    let any = edit(
        "198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0",
        "any any",
    );
    assert!(diags(&any)[0].contains("0.0.0.0/0 and remote network 0.0.0.0/0 overlap"));
    // An overlapping deny line is harmless: it only excludes traffic.
    let deny = edit(
        "access-list L2L extended permit",
        "access-list L2L extended deny ip host 198.51.100.7 198.51.100.0 255.255.255.0\naccess-list L2L extended permit",
    );
    assert!(diags(&deny).is_empty(), "{:#?}", diags(&deny));
}

#[test]
fn dangling_references() {
    let d = diags(&edit("crypto map M 10 set peer 192.0.2.2\n", ""));
    assert_eq!(
        d,
        ["line 11: error: crypto map M 10: no peer (add `crypto map M 10 set peer A.B.C.D`)"]
    );

    let d = diags(&edit("match address L2L", "match address L2K"));
    assert_eq!(
        d,
        ["line 11: error: crypto map M 10: access-list `L2K` is not defined (or has no rules)"]
    );

    let d = diags(&edit("crypto map M 10 match address L2L\n", ""));
    assert_eq!(
        d,
        ["line 11: error: crypto map M 10: no `match address` access-list"]
    );

    let d = diags(&edit("extended permit ip", "extended deny ip"));
    assert_eq!(
        d,
        ["line 11: error: crypto map M 10: access-list `L2L` permits nothing"]
    );

    let d = diags(&edit(
        "set ikev1 transform-set T",
        "set ikev1 transform-set T TT",
    ));
    assert_eq!(
        d,
        ["line 11: error: crypto map M 10: unknown transform-set `TT` (expected one of: T)"]
    );

    let d = diags(&edit("crypto map M 10 set ikev1 transform-set T\n", ""));
    assert_eq!(
        d,
        [
            "line 11: error: crypto map M 10: no transform-set or ipsec-proposal (add `crypto map M 10 set ikev1 transform-set NAME` or `crypto map M 10 set ikev2 ipsec-proposal NAME`)"
        ]
    );

    let d = diags(&edit("set peer 192.0.2.2", "set peer 192.0.2.2 192.0.2.3"));
    assert_eq!(
        d,
        [
            "line 11: error: crypto map M 10: peer 192.0.2.3 has no tunnel-group (add `tunnel-group 192.0.2.3 type ipsec-l2l` and its `ipsec-attributes`)"
        ]
    );

    let d = diags(&edit(" ikev1 pre-shared-key k3y\n", ""));
    assert_eq!(
        d,
        [
            "line 16: error: tunnel-group 192.0.2.2: no pre-shared key for peer 192.0.2.2 (add `tunnel-group 192.0.2.2 ipsec-attributes` / ` ikev1 pre-shared-key KEY`)"
        ]
    );

    // DefaultL2LGroup serves a peer without its own group.
    let dflt = edit("tunnel-group 192.0.2.2 ", "tunnel-group DefaultL2LGroup ").replacen(
        "tunnel-group 192.0.2.2 ",
        "tunnel-group DefaultL2LGroup ",
        1,
    );
    assert!(diags(&dflt).is_empty(), "{:#?}", diags(&dflt));
}

#[test]
fn binding_and_enabling() {
    let d = diags(&edit("crypto map M interface outside\n", ""));
    assert_eq!(
        d,
        [
            "line 11: warning: crypto map M is not bound to an interface: it is inactive (add `crypto map M interface outside`)"
        ]
    );
    let d = diags(&edit("crypto ikev1 enable outside\n", ""));
    assert_eq!(
        d,
        [
            "line 11: error: crypto map M is bound to `outside` where IKEv1 is not enabled (add `crypto ikev1 enable outside`)"
        ]
    );
    let no_policy = edit(
        "crypto ikev1 policy 10\n encryption aes-256\n hash sha256\n group 14\n",
        "",
    );
    let d = diags(&no_policy);
    assert_eq!(
        d,
        ["error: no ISAKMP policy: phase 1 can never be negotiated (add `crypto ikev1 policy 10`)"]
    );
}

#[test]
fn weak_algorithms_are_said() {
    let weak = edit(
        " encryption aes-256\n hash sha256\n group 14\n",
        " encryption des\n hash md5\n group 1\n",
    )
    .replace("esp-aes-256 esp-sha256-hmac", "esp-des esp-md5-hmac")
    .replace(
        "crypto map M 10 set peer",
        "crypto map M 10 set pfs group5\ncrypto map M 10 set peer",
    );
    let d = diags(&weak);
    assert_eq!(
        d,
        [
            "line 6: warning: isakmp policy 10: DES is broken (56-bit key) (use `aes-256`)",
            "line 6: warning: isakmp policy 10: MD5 is weak (use `sha256` or better)",
            "line 6: warning: isakmp policy 10: DH group 1 is weak (use group 14, 19, 20 or 31; `crypto isakmp allow-weak-groups` acknowledges it)",
            "line 10: warning: transform-set T: esp-des is broken (use `esp-aes-256`)",
            "line 10: warning: transform-set T: esp-md5-hmac is weak (use `esp-sha256-hmac`)",
            "line 11: warning: crypto map M 10: PFS group 5 is weak (use `set pfs group14` or better)",
        ]
    );
    // Acknowledged weak groups are no longer said; DES/MD5 still are.
    let ack = format!("{weak}crypto isakmp allow-weak-groups\n");
    assert_eq!(diags(&ack).len(), 4);
    assert!(parse(&ack).unwrap().config.allow_weak_groups);

    let null = edit("esp-aes-256 esp-sha256-hmac", "esp-null esp-sha-hmac");
    assert_eq!(
        diags(&null),
        ["line 10: warning: transform-set T: esp-null sends traffic in clear"]
    );
    let noauth = edit("esp-aes-256 esp-sha256-hmac", "esp-aes-256");
    assert!(diags(&noauth)[0].contains("no integrity protection"));
    let gcm = edit("esp-aes-256 esp-sha256-hmac", "esp-aes-gcm-256");
    assert!(diags(&gcm).is_empty());
    let transport = format!("{BASE}crypto ipsec ikev1 transform-set T mode transport\n");
    assert_eq!(
        diags(&transport),
        ["line 10: warning: transform-set T: transport mode cannot carry LAN-to-LAN traffic"]
    );
}

#[test]
fn interface_names_must_be_linux_names() {
    let d = diags(&edit("interface wan0", "interface GigabitEthernet0/0"));
    assert_eq!(
        d,
        [
            "line 1: warning: `GigabitEthernet0/0` is not a valid Linux interface name (rename it to the Linux interface (`ip link`), e.g. `interface eth0`)"
        ]
    );
}

#[test]
fn lifetimes_resolve_global_then_entry() {
    let p = parse(&format!(
        "{BASE}crypto ipsec security-association lifetime seconds 3600 kilobytes 100000\n\
         crypto map M 20 match address L2L\ncrypto map M 20 set security-association lifetime kilobytes unlimited\n"
    ))
    .unwrap();
    let m = &p.config.crypto_maps;
    assert_eq!((m[0].lifetime_s, m[0].lifetime_kb), (3600, Some(100000)));
    assert_eq!((m[1].lifetime_s, m[1].lifetime_kb), (3600, None));
    assert_eq!(m[1].interface.as_deref(), Some("outside"));
}

#[test]
fn rsa_sig_is_refused_until_certificates_exist() {
    // Before, rsa-sig was accepted and phase 1 ran as pre-shared key with
    // an empty key (no tunnel-group key was even asked for).
    let rsa = edit(
        " encryption aes-256\n",
        " authentication rsa-sig\n encryption aes-256\n",
    )
    .replace(" ikev1 pre-shared-key k3y\n", "");
    let d = diags(&rsa);
    assert!(
        d.iter().any(|l| l.starts_with(
            "line 6: error: isakmp policy 10: authentication rsa-sig needs certificates, which ipsecgw does not support yet"
        )),
        "{d:#?}"
    );
    assert!(
        d.iter()
            .any(|l| l.contains("tunnel-group 192.0.2.2: no pre-shared key for peer 192.0.2.2")),
        "a missing key is an error even when every policy is rsa-sig: {d:#?}"
    );
}

#[test]
fn a_peer_in_two_crypto_map_entries_is_refused() {
    let two = edit(
        "crypto map M interface outside\n",
        "access-list L2 extended permit ip 198.51.100.0 255.255.255.0 192.0.2.128 255.255.255.128\n\
crypto map M 20 match address L2\n\
crypto map M 20 set peer 192.0.2.2\n\
crypto map M 20 set ikev1 transform-set T\n\
crypto map M interface outside\n",
    );
    let d = diags(&two);
    assert!(
        d.iter().any(|l| l.contains(
            "error: crypto map M 20: peer 192.0.2.2 is also listed in crypto map M 10; ipsecgw negotiates one crypto map entry per peer"
        )),
        "{d:#?}"
    );
}
