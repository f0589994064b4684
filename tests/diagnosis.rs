//! The operator's diagnosis under real misconfiguration: each test breaks
//! ONE thing on one side of the four-namespace topology (ISAKMP policy,
//! pre-shared key, reachability, proxy identities, transform set), lets
//! the gateways really negotiate, and checks that `show crypto isakmp sa`
//! (and its `--json`) on ipsecgw says why, in words an engineer can act
//! on. The peer is another ipsecgw or Debian's strongSwan, and ipsecgw is
//! tried as initiator (raised by traffic) and as responder.

use std::time::{Duration, Instant};

use harness::config::{GatewayConfig, SEED_POLICY, TransformSet};
use harness::gateway::Gateway;
use harness::strongswan::{Charon, Conn};
use harness::topology::*;

const PSK: &str = "diagnosis-test-psk-42";
const OTHER_PSK: &str = "not-the-same-psk-17";

/// The seed article's policy and transform set.
const P_3DES: &str = SEED_POLICY;
const P_AES: &str = harness::config::AES256_POLICY;
const T_3DES: &str = "esp-3des esp-sha-hmac";
const T_AES: &str = "esp-aes-256 esp-sha256-hmac";

/// A fast retransmission schedule (0.2 s doubling, 5 tries: ~6 s) so that
/// "no reply" diagnoses arrive within the test's budget.
const FAST_RETRANSMIT: &[&str] = &["--ike-retransmit-ms", "200"];

/// One gateway's configuration; `acl` is `"LOCAL LMASK REMOTE RMASK"`.
struct Gw<'a> {
    acl: &'a str,
    peer: &'a str,
    policy: &'a str,
    transform: &'a str,
    psk: &'a str,
}

const WEST_ACL: &str = "198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0";
const EAST_ACL: &str = "203.0.113.0 255.255.255.0 198.51.100.0 255.255.255.0";

fn config(g: &Gw) -> String {
    GatewayConfig {
        acl: g.acl.into(),
        policy: Some(g.policy.into()),
        transform_set: Some(TransformSet::new("TS", g.transform, false)),
        ..GatewayConfig::seed("", "", g.peer, g.psk)
    }
    .render()
}

fn west(policy: &'static str, transform: &'static str, psk: &'static str) -> Gw<'static> {
    Gw {
        acl: WEST_ACL,
        peer: EAST_GW_OUTSIDE,
        policy,
        transform,
        psk,
    }
}

fn east(policy: &'static str, transform: &'static str, psk: &'static str) -> Gw<'static> {
    Gw {
        acl: EAST_ACL,
        peer: WEST_GW_OUTSIDE,
        policy,
        transform,
        psk,
    }
}

/// Waits until `show crypto isakmp sa` contains every one of `needles`;
/// returns the output (or panics with both logs).
fn wait_show(
    gw: &Gateway,
    needles: &[&str],
    limit: Duration,
    other: &dyn Fn() -> String,
) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let out = gw.cli(&["show", "crypto", "isakmp", "sa"]).unwrap();
        if needles.iter().all(|n| out.contains(n)) {
            return out;
        }
        if Instant::now() > deadline {
            panic!(
                "{}: `show crypto isakmp sa` never said {needles:?} in {limit:?}; it says:\n{out}\n--- {} log:\n{}\n--- peer:\n{}",
                gw.name,
                gw.name,
                gw.log(),
                other()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The `reason` fields of `show crypto isakmp sa --json`, SAs and peers
/// that are down alike, with the state they name.
fn json_reasons(gw: &Gateway) -> Vec<(String, String)> {
    let v = gw.cli_json(&["show", "crypto", "isakmp", "sa"]).unwrap();
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .filter_map(|e| {
            Some((
                e["state"].as_str().unwrap_or_default().to_string(),
                e["reason"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// `--json` carries the same reason as the human output, with `needle`.
fn assert_json_reason(gw: &Gateway, needle: &str, human: &str) {
    let reasons = json_reasons(gw);
    let hit = reasons
        .iter()
        .find(|(_, r)| r.contains(needle))
        .unwrap_or_else(|| {
            panic!(
                "{}: no JSON reason contains {needle:?}: {reasons:?}",
                gw.name
            )
        });
    assert!(
        human.contains(&hit.1),
        "{}: the JSON reason {:?} is not in the human output:\n{human}",
        gw.name,
        hit.1
    );
}

/// The line of "Tunnels not up:" for `peer`.
fn down_line<'a>(show: &'a str, peer: &str) -> &'a str {
    show.split("Tunnels not up:")
        .nth(1)
        .and_then(|s| s.lines().find(|l| l.trim_start().starts_with(peer)))
        .unwrap_or_else(|| panic!("no \"Tunnels not up\" line for {peer}:\n{show}"))
}

/// Interesting traffic from west-lan (one ping; it will not be answered).
fn poke(t: &Topology) {
    let _ = t.ping(&t.west_lan, EAST_LAN_HOST, 1, 0.2);
}

fn pair(tag: &str, w: &Gw, e: &Gw, west_args: &[&str]) -> (Topology, Gateway, Gateway) {
    let t = Topology::new(tag, false).unwrap();
    let east = Gateway::start("east", &t.east_gw, &config(e), &[]).unwrap();
    let west = Gateway::start("west", &t.west_gw, &config(w), west_args).unwrap();
    (t, west, east)
}

fn conn(ike: &str, esp: &str, psk: &str, local_ts: &str, remote_ts: &str) -> Conn {
    Conn {
        local_ts: local_ts.into(),
        remote_ts: remote_ts.into(),
        ..Conn::east_v1(ike, esp, psk)
    }
}

fn with_charon(tag: &str, w: &Gw, west_args: &[&str], c: &Conn) -> (Topology, Gateway, Charon) {
    assert!(
        Charon::available(),
        "strongSwan is not installed: run `cargo xtask setup`"
    );
    let t = Topology::new(tag, false).unwrap();
    let charon = Charon::start(&t.east_gw, c).unwrap();
    let west = Gateway::start("west", &t.west_gw, &config(w), west_args).unwrap();
    (t, west, charon)
}

/// strongSwan starts the child SA; swanctl detaches after 2 s (the
/// negotiation goes on, and is expected to fail).
fn charon_initiates(c: &Charon) {
    let _ = c.swanctl(&["--initiate", "--child", "lan", "--timeout", "2"]);
}

const LIMIT: Duration = Duration::from_secs(20);

// ------------------------------------------------------- 1. ISAKMP policy

#[test]
fn policy_mismatch_between_two_ipsecgw() {
    let (t, west, east) = pair(
        "diag-pol",
        &west(P_AES, T_3DES, PSK),
        &east(P_3DES, T_3DES, PSK),
        &[],
    );
    poke(&t);
    // The responder names both sides' attribute values.
    let want = "no ISAKMP policy matched: peer offered aes-256/sha256/group 14/86400; ours: 10 3des/sha/group 2/86400";
    let e = wait_show(&east, &[want], LIMIT, &|| west.log());
    assert!(
        e.contains("differs in encryption, hash, DH group"),
        "the closest policy's differences are named:\n{e}"
    );
    assert!(
        down_line(&e, WEST_GW_OUTSIDE)
            .contains("(crypto map OUTSIDE_MAP 10): MM_NO_STATE: no ISAKMP policy matched"),
        "{e}"
    );
    assert_json_reason(&east, want, &e);
    // The initiator learns it at once from NO-PROPOSAL-CHOSEN, in MM_WAIT_MSG2.
    let w = wait_show(&west, &["NO-PROPOSAL-CHOSEN received"], LIMIT, &|| {
        east.log()
    });
    let line = down_line(&w, EAST_GW_OUTSIDE);
    assert!(
        line.contains("MM_WAIT_MSG2: no ISAKMP policy matched: peer 192.0.2.2 rejected all our proposals (NO-PROPOSAL-CHOSEN received); we offered: 10 aes-256/sha256/group 14/86400"),
        "{w}"
    );
    assert_json_reason(&west, "NO-PROPOSAL-CHOSEN", &w);
}

#[test]
fn policy_mismatch_strongswan_initiates() {
    let (_t, west, charon) = with_charon(
        "diag-pol-si",
        &west(P_3DES, T_3DES, PSK),
        &[],
        &conn(
            "aes256-sha256-modp2048",
            "3des-sha1",
            PSK,
            "203.0.113.0/24",
            "198.51.100.0/24",
        ),
    );
    charon_initiates(&charon);
    let want = "no ISAKMP policy matched: peer offered aes-256/sha256/group 14/";
    let w = wait_show(
        &west,
        &[want, "ours: 10 3des/sha/group 2/86400"],
        LIMIT,
        &|| charon.log(),
    );
    assert_json_reason(&west, want, &w);
}

#[test]
fn policy_mismatch_ipsecgw_initiates_to_strongswan() {
    let (t, west, charon) = with_charon(
        "diag-pol-ii",
        &west(P_AES, T_3DES, PSK),
        &[],
        &conn(
            "3des-sha1-modp1024",
            "3des-sha1",
            PSK,
            "203.0.113.0/24",
            "198.51.100.0/24",
        ),
    );
    poke(&t);
    let w = wait_show(
        &west,
        &[
            "MM_WAIT_MSG2: no ISAKMP policy matched",
            "NO-PROPOSAL-CHOSEN received",
        ],
        LIMIT,
        &|| charon.log(),
    );
    assert_json_reason(&west, "NO-PROPOSAL-CHOSEN", &w);
}

// ------------------------------------------------------ 2. pre-shared key

#[test]
fn wrong_psk_between_two_ipsecgw() {
    let (t, west, east) = pair(
        "diag-psk",
        &west(P_3DES, T_3DES, PSK),
        &east(P_3DES, T_3DES, OTHER_PSK),
        FAST_RETRANSMIT,
    );
    poke(&t);
    // The responder cannot verify message 5 (HASH_I) and says so at once.
    let e = wait_show(&east, &["pre-shared key mismatch"], LIMIT, &|| west.log());
    assert!(e.contains("State   : MM_WAIT_MSG5"), "{e}");
    assert!(
        e.contains("Reason  : pre-shared key mismatch"),
        "the half-open SA carries the reason:\n{e}"
    );
    assert!(
        down_line(&e, WEST_GW_OUTSIDE).contains("MM_WAIT_MSG5: pre-shared key mismatch"),
        "{e}"
    );
    assert!(
        e.contains("check the tunnel-group"),
        "the fix is named:\n{e}"
    );
    assert_json_reason(&east, "pre-shared key mismatch", &e);
    // The initiator only sees silence after its message 5.
    let w = wait_show(
        &west,
        &[
            "MM_WAIT_MSG6: pre-shared key mismatch (probably): no reply to our encrypted message 5 from 192.0.2.2:500 after 5 tries",
        ],
        LIMIT,
        &|| east.log(),
    );
    assert_json_reason(&west, "pre-shared key mismatch", &w);
}

#[test]
fn wrong_psk_strongswan_initiates() {
    let (_t, west, charon) = with_charon(
        "diag-psk-si",
        &west(P_3DES, T_3DES, PSK),
        &[],
        &conn(
            "3des-sha1-modp1024",
            "3des-sha1",
            OTHER_PSK,
            "203.0.113.0/24",
            "198.51.100.0/24",
        ),
    );
    charon_initiates(&charon);
    let w = wait_show(
        &west,
        &[
            "MM_WAIT_MSG5: pre-shared key mismatch",
            "check the tunnel-group",
        ],
        LIMIT,
        &|| charon.log(),
    );
    assert_json_reason(&west, "pre-shared key mismatch", &w);
}

#[test]
fn wrong_psk_ipsecgw_initiates_to_strongswan() {
    let (t, west, charon) = with_charon(
        "diag-psk-ii",
        &west(P_3DES, T_3DES, PSK),
        FAST_RETRANSMIT,
        &conn(
            "3des-sha1-modp1024",
            "3des-sha1",
            OTHER_PSK,
            "203.0.113.0/24",
            "198.51.100.0/24",
        ),
    );
    poke(&t);
    let w = wait_show(
        &west,
        &["MM_WAIT_MSG6: pre-shared key mismatch"],
        LIMIT,
        &|| charon.log(),
    );
    assert_json_reason(&west, "pre-shared key mismatch", &w);
}

// ------------------------------------------------------ 3. unreachable peer

#[test]
fn unreachable_peer() {
    const NOBODY: &str = "192.0.2.99";
    let t = Topology::new("diag-unreach", false).unwrap();
    let w = Gw {
        peer: NOBODY,
        ..west(P_3DES, T_3DES, PSK)
    };
    let west = Gateway::start("west", &t.west_gw, &config(&w), FAST_RETRANSMIT).unwrap();
    let started = Instant::now();
    poke(&t);
    let want = "MM_WAIT_MSG2: no reply from 192.0.2.99:500 after 5 tries (check reachability and UDP 500/4500)";
    let out = wait_show(&west, &[want], LIMIT, &String::new);
    assert!(
        down_line(&out, NOBODY).contains(&format!("(crypto map OUTSIDE_MAP 10): {want}")),
        "{out}"
    );
    // 0.2 + 0.4 + 0.8 + 1.6 + 3.2 s: the whole schedule ran, not less.
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let reasons = json_reasons(&west);
    assert!(
        reasons.iter().any(|(state, r)| state == "MM_WAIT_MSG2"
            && r.starts_with("no reply from 192.0.2.99:500 after 5 tries")),
        "{reasons:?}"
    );
}

// ------------------------------------------------ 4. proxy identities

#[test]
fn proxy_identity_mismatch_between_two_ipsecgw() {
    // east protects only half of west's LAN: west's proposal is not inside it
    let e = Gw {
        acl: "203.0.113.0 255.255.255.0 198.51.100.128 255.255.255.128",
        ..east(P_3DES, T_3DES, PSK)
    };
    let (t, west, east) = pair("diag-pid", &west(P_3DES, T_3DES, PSK), &e, &[]);
    poke(&t);
    let want = "quick mode: proxy identities do not match: peer proposed 198.51.100.0/24 -> 203.0.113.0/24 (its local -> its remote), crypto map OUTSIDE_MAP 10 ACL L2L is 203.0.113.0/24 -> 198.51.100.128/25";
    let out = wait_show(&east, &[want], LIMIT, &|| west.log());
    assert!(
        down_line(&out, WEST_GW_OUTSIDE).contains("MM_ACTIVE: quick mode: proxy identities"),
        "phase 1 is up, the tunnel is not: listed with the reason\n{out}"
    );
    assert_json_reason(&east, "proxy identities do not match", &out);
    let w = wait_show(
        &west,
        &[
            "quick mode: proxy identities do not match: peer 192.0.2.2 rejected our proxy ids 198.51.100.0/24 -> 203.0.113.0/24 (INVALID-ID-INFORMATION received)",
        ],
        LIMIT,
        &|| east.log(),
    );
    assert_json_reason(&west, "INVALID-ID-INFORMATION", &w);
}

#[test]
fn proxy_identity_mismatch_strongswan_initiates() {
    // strongSwan proposes its WAN subnet instead of its LAN
    let (_t, west, charon) = with_charon(
        "diag-pid-si",
        &west(P_3DES, T_3DES, PSK),
        &[],
        &conn(
            "3des-sha1-modp1024",
            "3des-sha1",
            PSK,
            "192.0.2.0/24",
            "198.51.100.0/24",
        ),
    );
    charon_initiates(&charon);
    let want = "quick mode: proxy identities do not match: peer proposed 192.0.2.0/24 -> 198.51.100.0/24 (its local -> its remote), crypto map OUTSIDE_MAP 10 ACL L2L is 198.51.100.0/24 -> 203.0.113.0/24";
    let w = wait_show(&west, &[want], LIMIT, &|| charon.log());
    assert_json_reason(&west, "proxy identities do not match", &w);
}

#[test]
fn proxy_identity_mismatch_ipsecgw_initiates_to_strongswan() {
    let (t, west, charon) = with_charon(
        "diag-pid-ii",
        &west(P_3DES, T_3DES, PSK),
        &[],
        &conn(
            "3des-sha1-modp1024",
            "3des-sha1",
            PSK,
            "203.0.113.0/24",
            "192.0.2.0/24",
        ),
    );
    poke(&t);
    let w = wait_show(
        &west,
        &[
            "MM_ACTIVE: quick mode: proxy identities do not match: peer 192.0.2.2 rejected our proxy ids 198.51.100.0/24 -> 203.0.113.0/24 (INVALID-ID-INFORMATION received)",
        ],
        LIMIT,
        &|| charon.log(),
    );
    assert_json_reason(&west, "INVALID-ID-INFORMATION", &w);
}

// ------------------------------------------------------- 5. transform set

#[test]
fn transform_mismatch_between_two_ipsecgw() {
    let (t, west, east) = pair(
        "diag-ts",
        &west(P_3DES, T_AES, PSK),
        &east(P_3DES, T_3DES, PSK),
        &[],
    );
    poke(&t);
    let want = "quick mode: no transform set matched: peer offered esp-aes-256 esp-sha256-hmac; ours esp-3des esp-sha-hmac";
    let e = wait_show(&east, &[want], LIMIT, &|| west.log());
    assert!(
        down_line(&e, WEST_GW_OUTSIDE).contains("MM_ACTIVE: quick mode: no transform set matched"),
        "{e}"
    );
    assert_json_reason(&east, "no transform set matched", &e);
    let w = wait_show(
        &west,
        &[
            "no transform set matched: peer 192.0.2.2 rejected our quick mode proposals (NO-PROPOSAL-CHOSEN received); we offered: esp-aes-256 esp-sha256-hmac",
        ],
        LIMIT,
        &|| east.log(),
    );
    assert_json_reason(&west, "NO-PROPOSAL-CHOSEN", &w);
}

#[test]
fn transform_mismatch_strongswan_initiates() {
    let (_t, west, charon) = with_charon(
        "diag-ts-si",
        &west(P_3DES, T_3DES, PSK),
        &[],
        &conn(
            "3des-sha1-modp1024",
            "aes256-sha256",
            PSK,
            "203.0.113.0/24",
            "198.51.100.0/24",
        ),
    );
    charon_initiates(&charon);
    let want = "quick mode: no transform set matched: peer offered esp-aes-256 esp-sha256-hmac; ours esp-3des esp-sha-hmac";
    let w = wait_show(&west, &[want], LIMIT, &|| charon.log());
    assert_json_reason(&west, "no transform set matched", &w);
}

#[test]
fn transform_mismatch_ipsecgw_initiates_to_strongswan() {
    let (t, west, charon) = with_charon(
        "diag-ts-ii",
        &west(P_3DES, T_AES, PSK),
        &[],
        &conn(
            "3des-sha1-modp1024",
            "3des-sha1",
            PSK,
            "203.0.113.0/24",
            "198.51.100.0/24",
        ),
    );
    poke(&t);
    let w = wait_show(
        &west,
        &[
            "MM_ACTIVE: no transform set matched: peer 192.0.2.2 rejected our quick mode proposals (NO-PROPOSAL-CHOSEN received); we offered: esp-aes-256 esp-sha256-hmac",
        ],
        LIMIT,
        &|| charon.log(),
    );
    assert_json_reason(&west, "NO-PROPOSAL-CHOSEN", &w);
}
