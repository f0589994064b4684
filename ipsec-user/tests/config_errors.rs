//! Every error path of the parser: line, column, message and hint.

use ipsecgw::config::*;

/// The rendered errors of a configuration that must not load.
fn errs(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(p) => panic!("loaded but should not:\n{text}\n{:?}", p.config),
        Err(e) => e.errors.iter().map(|d| d.to_string()).collect(),
    }
}

/// The one error of a configuration.
fn err(text: &str) -> String {
    let e = errs(text);
    assert_eq!(e.len(), 1, "{e:#?}");
    e.into_iter().next().unwrap()
}

/// `acl` lines used by a crypto map, so they are resolved.
fn acl(lines: &str) -> String {
    format!("{lines}\ncrypto map M 1 match address A\n")
}

#[test]
fn policy_keywords() {
    assert_eq!(
        err("crypto ikev1 policy 10\n hash sha265\n"),
        "line 2, col 7: error: unknown hash `sha265` (did you mean `sha256`?)"
    );
    assert_eq!(
        err("crypto isakmp policy 10\n encryption aes256\n"),
        "line 2, col 13: error: unknown encryption `aes256` (did you mean `aes-256`?)"
    );
    assert_eq!(
        err("crypto isakmp policy 10\n authentication psk\n"),
        "line 2, col 17: error: unknown authentication `psk` (expected one of: pre-share, rsa-sig)"
    );
    assert_eq!(
        err("crypto isakmp policy 10\n group 3\n"),
        "line 2, col 8: error: unknown Diffie-Hellman group `3` (expected one of: 1 2 5 14 15 16 19 20 21 24 31)"
    );
    assert_eq!(
        err("crypto isakmp policy 10\n lifetime 50\n"),
        "line 2, col 11: error: lifetime seconds `50` out of range (use 120..2147483647)"
    );
    assert_eq!(
        err("crypto isakmp policy 10\n hsah sha\n"),
        "line 2, col 2: error: unknown isakmp policy attribute `hsah` (did you mean `hash`?)"
    );
    assert_eq!(
        err("crypto isakmp policy 10\n hash\n"),
        "line 2, col 7: error: missing hash"
    );
    assert_eq!(
        err("crypto isakmp policy 10\n hash sha extra\n"),
        "line 2, col 11: error: unexpected `extra`"
    );
    assert_eq!(
        err("crypto ikev1 policy ten\n"),
        "line 1, col 21: error: expected policy priority (a number), found `ten`"
    );
    // Sub-lines under a broken header are not reported again.
    assert_eq!(errs("crypto ikev1 policy ten\n hash sha265\n").len(), 1);
}

#[test]
fn transform_sets() {
    assert_eq!(
        err("crypto ipsec ikev1 transform-set T esp-aes-265 esp-sha-hmac\n"),
        "line 1, col 36: error: unknown transform `esp-aes-265` (did you mean `esp-aes-256`?)"
    );
    assert_eq!(
        err("crypto ipsec transform-set T esp-aes esp-sha-hmca\n"),
        "line 1, col 38: error: unknown transform `esp-sha-hmca` (did you mean `esp-sha-hmac`?)"
    );
    assert_eq!(
        err("crypto ipsec ikev1 transform-set T esp-aes-gcm esp-sha-hmac\n"),
        "line 1, col 34: error: `esp-aes-gcm` carries its own integrity, `esp-sha-hmac` cannot be added (drop the HMAC)"
    );
    assert_eq!(
        err("crypto ipsec ikev1 transform-set T esp-null esp-none\n"),
        "line 1, col 34: error: `esp-null` without integrity protects nothing"
    );
    assert_eq!(
        err("crypto ipsec ikev1 transform-set T esp-sha-hmac\n"),
        "line 1, col 49: error: missing ESP encryption (e.g. `esp-aes-256 esp-sha-hmac` or `esp-aes-gcm-256`)"
    );
    assert_eq!(
        err("crypto ipsec ikev1 transform-set T esp-aes esp-3des\n"),
        "line 1, col 44: error: a transform set has one encryption"
    );
    assert_eq!(
        err("crypto ipsec ikev1 transform-set T mode transport\n"),
        "line 1, col 34: error: unknown transform-set `T` (define it before setting its mode)"
    );
    assert_eq!(
        err("crypto ipsek ikev1 transform-set T esp-aes\n"),
        "line 1, col 8: error: unknown crypto subcommand `ipsek` (did you mean `ipsec`?)"
    );
}

#[test]
fn crypto_map_lines() {
    assert_eq!(
        err("crypto map M 10 set peeer 192.0.2.2\n"),
        "line 1, col 21: error: unknown `set` parameter `peeer` (did you mean `peer`?)"
    );
    assert_eq!(
        err("crypto map M 10 match adress L\n"),
        "line 1, col 23: error: unknown match type `adress` (did you mean `address`?)"
    );
    assert_eq!(
        err("crypto map M 10 set pfs group3\n"),
        "line 1, col 25: error: unknown Diffie-Hellman group `group3` (did you mean `group1`?)"
    );
    assert_eq!(
        err("crypto map M 10 set security-association lifetime seconds abc\n"),
        "line 1, col 59: error: expected lifetime seconds (a number), found `abc`"
    );
    assert_eq!(
        err("crypto map M 10 set security-association lifetime minutes 5\n"),
        "line 1, col 51: error: unknown lifetime unit `minutes` (expected one of: seconds, kilobytes)"
    );
    assert_eq!(
        err("crypto map M 0 match address L\n"),
        "line 1, col 14: error: sequence number `0` out of range (use 1..65535)"
    );
    assert_eq!(
        err("crypto map M 10 set peer\n"),
        "line 1, col 26: error: missing peer address"
    );
    assert_eq!(
        err("crypto map M 10 set phase1-mode agressive\n"),
        "line 1, col 33: error: unknown phase 1 mode `agressive` (did you mean `aggressive`?)"
    );
    assert_eq!(
        err("crypto map M 10 set peer 192.0.2.2 PEERB\n"),
        "line 1, col 36: error: `PEERB` is neither an IPv4 address nor a known name"
    );
    assert_eq!(
        err("name 192.0.2.3 PEER-B\ncrypto map M 10 set peer 192.0.2.2 PEER-C\n"),
        "line 2, col 36: error: `PEER-C` is neither an IPv4 address nor a known name (did you mean `PEER-B`?)"
    );
    assert_eq!(
        err("interface wan0\n nameif outside\ncrypto map M interface outsid\n"),
        "line 3, col 24: error: no interface has nameif `outsid` (did you mean `outside`?)"
    );
    assert_eq!(
        err("crypto isakmp enable outside\n"),
        "line 1, col 22: error: no interface has nameif `outside` (bind one with `interface <linux-ifname>` / ` nameif NAME`)"
    );
    assert_eq!(
        err("crypto isakmp polcy 10\n"),
        "line 1, col 15: error: unknown isakmp subcommand `polcy` (did you mean `policy`?)"
    );
    assert_eq!(
        err("crypto isakmp nat-traversal 5\n"),
        "line 1, col 29: error: NAT-T keepalive seconds `5` out of range (use 10..3600)"
    );
}

#[test]
fn tunnel_groups() {
    let masked = err(
        "tunnel-group 192.0.2.2 type ipsec-l2l\ntunnel-group 192.0.2.2 ipsec-attributes\n ikev1 pre-shared-key *****\n",
    );
    assert_eq!(
        masked,
        "line 3, col 23: error: pre-shared key of tunnel-group 192.0.2.2 is masked (`*****`) \
         (`show running-config` hides keys: paste the real key (on an ASA `more system:running-config` shows it; \
         for ipsecgw, it is in the file the daemon was started with))"
    );
    assert!(
        err("tunnel-group P type ipsec-l2l\ntunnel-group P ipsec-attributes\n pre-shared-key *\n")
            .contains("is masked (`*`)")
    );
    assert_eq!(
        err(
            "tunnel-group P type ipsec-l2l\ntunnel-group P ipsec-attributes\n pre-shared-key two words\n"
        ),
        "line 3, col 21: error: a pre-shared key cannot contain spaces"
    );
    assert_eq!(
        err(
            "tunnel-group P type ipsec-l2l\ntunnel-group P ipsec-attributes\n isakmp keepalive threshold 5 retry 2\n"
        ),
        "line 3, col 29: error: DPD threshold `5` out of range (use 10..3600)"
    );
    assert_eq!(
        err("tunnel-group P type ipsec-l2l\ntunnel-group P ipsec-attributes\n pre-share-key k\n"),
        "line 3, col 2: error: unknown ipsec-attributes command `pre-share-key` (did you mean `pre-shared-key`?)"
    );
    assert_eq!(
        err(
            "tunnel-group P type ipsec-l2l\ntunnel-group P general-attributes\n default-group-policy GP-EST\ngroup-policy GP-EAST internal\n"
        ),
        "line 3, col 23: error: unknown group-policy `GP-EST` (did you mean `GP-EAST`?)"
    );
    assert_eq!(
        err("tunnel-group P type ipsec-l2"),
        "line 1, col 21: error: unknown tunnel-group type `ipsec-l2` (did you mean `ipsec-l2l`?)"
    );
    assert_eq!(
        err("group-policy G attributes\n vpn-idle-timeout never\n"),
        "line 2, col 19: error: expected idle timeout minutes (a number), found `never`"
    );
    // A masked key in a remote-access group is ignored, not an error.
    let p = parse("tunnel-group RA type remote-access\ntunnel-group RA ipsec-attributes\n ikev1 pre-shared-key *****\n").unwrap();
    assert_eq!(p.ignored.len(), 3);
}

#[test]
fn access_list_resolution() {
    let cases: &[(&str, &str)] = &[
        (
            "access-list A extended permit ip object NOPE any",
            "line 1, col 41: error: unknown network object `NOPE`",
        ),
        (
            "object network WEST\n subnet 198.51.100.0 255.255.255.0\naccess-list A extended permit ip object WST any",
            "line 3, col 41: error: unknown network object `WST` (did you mean `WEST`?)",
        ),
        (
            "object-group network G1\n group-object G2\nobject-group network G2\n group-object G1\naccess-list A extended permit ip object-group G1 any",
            "line 4, col 15: error: object-group `G1` contains itself (cycle: G1 -> G2 -> G1)",
        ),
        (
            "access-list A extended permit ip 198.51.100.1 255.255.255.0 any",
            "line 1, col 34: error: address 198.51.100.1 has bits outside mask 255.255.255.0 (did you mean `198.51.100.0`?)",
        ),
        (
            "access-list A extended permit ip 198.51.100.0 255.0.255.0 any",
            "line 1, col 47: error: `255.0.255.0` is not a contiguous mask",
        ),
        (
            "access-list A extended permit tcp any any eq wwww",
            "line 1, col 46: error: unknown port `wwww` (did you mean `www`?)",
        ),
        (
            "access-list A extended permit ip any any eq 80",
            "line 1, col 42: error: ports need protocol `tcp` or `udp`",
        ),
        (
            "access-list A extended permit tpc any any",
            "line 1, col 31: error: unknown protocol `tpc` (did you mean `tcp`?)",
        ),
        (
            "access-list A extended permit ip any6 any",
            "line 1, col 34: error: IPv6 (`any6`) is not supported yet (use `any4`)",
        ),
        (
            "access-list A extended permit object-group SVC any any",
            "line 1, col 31: error: service objects are not supported in crypto ACLs (write the protocol and ports on the line (`tcp ... eq https`))",
        ),
        (
            "object network WEB\n fqdn www.example.net\naccess-list A extended permit ip any object WEB",
            "line 2, col 2: error: FQDN objects are not supported in crypto ACLs (object `WEB`)",
        ),
        (
            "access-list A standard permit 198.51.100.0 255.255.255.0",
            "line 1, col 15: error: a `standard` access-list cannot select crypto traffic (use an `extended` access-list)",
        ),
        (
            "access-list A extended allow ip any any",
            "line 1, col 24: error: unknown access-list action `allow` (expected one of: permit, deny, remark, extended)",
        ),
        (
            "access-list A extended permit icmp any any echo",
            "line 1, col 44: error: ICMP type `echo` cannot be a crypto selector (IKE proxy identities carry no ICMP type; drop it)",
        ),
        (
            "access-list A extended permit ip any",
            "line 1, col 38: error: missing destination (`any4`, `host A`, `A MASK`, `object X` or `object-group Y`)",
        ),
        (
            "object network R\n range 198.51.100.20 198.51.100.10\naccess-list A extended permit ip object R any",
            "line 2, col 22: error: range end 198.51.100.10 is below its start 198.51.100.20",
        ),
        (
            "access-list A extended permit tcp any any range 90 80",
            "line 1, col 43: error: port range 90-80 is empty",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(err(&acl(text)), *want, "for:\n{text}");
    }
}

#[test]
fn unused_objects_and_acls_never_fail() {
    // Broken things no crypto map uses: listed, not errors.
    let p = parse(
        "object network WEB\n fqdn www.example.net\n\
         object-group network LOOP\n group-object LOOP\n\
         access-list outside_in extended permit tcp any object WEB object-group WEB-PORTS\n\
         access-list outside_in extended permit icmp any any echo-reply\n",
    )
    .unwrap();
    let lines: Vec<usize> = p.ignored.iter().map(|i| i.line).collect();
    assert_eq!(lines, [5, 6]);
}

#[test]
fn all_errors_reported_in_order() {
    let e = errs(
        "crypto ikev1 policy 10\n hash sha265\n encryption blowfish\ncrypto map M 1 set pfs group7\n",
    );
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(e[0].starts_with("line 2, col 7"));
    assert!(e[1].starts_with("line 3, col 13"));
    assert!(e[2].starts_with("line 4, col 24"));
    // The error type's Display lists them one per line.
    let whole = parse("crypto ikev1 policy 10\n hash sha265\n encryption blowfish\n")
        .unwrap_err()
        .to_string();
    assert_eq!(whole.lines().count(), 2);
}

#[test]
fn interfaces() {
    assert_eq!(
        err("interface wan0\n nameif outside\n ip address 192.0.2.1 255.0.255.0\n"),
        "line 3, col 23: error: `255.0.255.0` is not a contiguous mask"
    );
    assert_eq!(
        err("interface wan0\n nameif outside\ninterface wan1\n nameif outside\n"),
        "line 3: error: nameif `outside` used by two interfaces"
    );
}

#[test]
fn typo_in_unknown_top_level_command_is_a_warning() {
    let p = parse("tunnel-grup 192.0.2.2 type ipsec-l2l\nhostname fw\nnat (inside,outside) dynamic interface\n").unwrap();
    assert_eq!(p.ignored.len(), 3);
    let w: Vec<String> = p.warnings.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        w,
        [
            "line 1, col 1: warning: unknown command `tunnel-grup` ignored (did you mean `tunnel-group`?)"
        ]
    );
}

#[test]
fn keywords_are_case_insensitive() {
    let p = parse(
        "INTERFACE wan0\n NAMEIF outside\nCRYPTO IKEV1 POLICY 10\n HASH SHA256\n ENCRYPTION AES-256\n GROUP 14\n\
         CRYPTO IPSEC IKEV1 TRANSFORM-SET T ESP-AES-256 ESP-SHA-HMAC\n",
    )
    .unwrap();
    assert_eq!(
        p.config.isakmp_policies[0].hash,
        ipsecgw::algo::IkeHash::Sha256
    );
    assert_eq!(p.config.interfaces[0].nameif, "outside");
    assert!(p.config.transform_sets.contains_key("T"));
}
