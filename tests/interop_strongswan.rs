//! Interoperability with Debian's strongSwan 5.9.8 (charon with
//! kernel-libipsec: userspace ESP, always inside UDP 4500) on the
//! four-namespace topology: ipsecgw on west-gw, strongSwan on east-gw.
//! Each case runs with ipsecgw as the initiator (raised by traffic) and as
//! the responder (`swanctl --initiate`). Both sides must show the tunnel
//! established, agree on SPIs and algorithms, and pass pings and TCP
//! (iperf3) both ways.

use std::time::Duration;

use harness::config::{GatewayConfig, Spelling};
use harness::gateway::Gateway;
use harness::strongswan::{Charon, Conn};
use harness::topology::*;

const PSK: &str = "interop-test-psk-123";

struct Case {
    /// ISAKMP policy and transform-set lines for ipsecgw.
    policy: &'static str,
    transform: &'static str,
    pfs: Option<&'static str>,
    aggressive: bool,
    /// strongSwan's view of the same.
    ike: &'static str,
    esp: &'static str,
    /// What `swanctl --list-sas` shows for the child.
    esp_shown: &'static str,
    ours_shown: &'static str,
}

const SEED: Case = Case {
    policy: " authentication pre-share\n encryption 3des\n hash sha\n group 2\n lifetime 86400\n",
    transform: "esp-3des esp-sha-hmac",
    pfs: None,
    aggressive: false,
    ike: "3des-sha1-modp1024",
    esp: "3des-sha1",
    esp_shown: "ESP:3DES_CBC/HMAC_SHA1_96",
    ours_shown: "esp-3des esp-sha-hmac",
};

const AES256_PFS: Case = Case {
    policy: " authentication pre-share\n encryption aes-256\n hash sha256\n group 14\n lifetime 86400\n",
    transform: "esp-aes-256 esp-sha256-hmac",
    pfs: Some("group14"),
    aggressive: false,
    ike: "aes256-sha256-modp2048",
    esp: "aes256-sha256-modp2048",
    esp_shown: "ESP:AES_CBC-256/HMAC_SHA2_256_128/MODP_2048",
    ours_shown: "esp-aes-256 esp-sha256-hmac",
};

const AGGRESSIVE: Case = Case {
    policy: " authentication pre-share\n encryption aes\n hash sha256\n group 14\n lifetime 86400\n",
    transform: "esp-aes esp-sha256-hmac",
    pfs: None,
    aggressive: true,
    ike: "aes128-sha256-modp2048",
    esp: "aes128-sha256",
    esp_shown: "ESP:AES_CBC-128/HMAC_SHA2_256_128",
    ours_shown: "esp-aes esp-sha256-hmac",
};

const GCM: Case = Case {
    policy: " authentication pre-share\n encryption aes-256\n hash sha256\n group 14\n lifetime 86400\n",
    transform: "esp-aes-gcm-256",
    pfs: None,
    aggressive: false,
    ike: "aes256-sha256-modp2048",
    esp: "aes256gcm16",
    esp_shown: "ESP:AES_GCM_16-256",
    ours_shown: "esp-aes-gcm-256",
};

fn ipsecgw_config(c: &Case) -> String {
    let mut g = GatewayConfig::west(PSK).with_transform_set("TS", c.transform, true);
    g.spelling = Spelling::Ikev1;
    g.policy = Some(c.policy.into());
    if let Some(grp) = c.pfs {
        g.map_lines
            .push_str(&format!("crypto map OUTSIDE_MAP 10 set pfs {grp}\n"));
    }
    if c.aggressive {
        g.map_lines
            .push_str("crypto map OUTSIDE_MAP 10 set phase1-mode aggressive group14\n");
    }
    g.render()
}

fn conn(c: &Case) -> Conn {
    Conn {
        aggressive: c.aggressive,
        ..Conn::east_v1(c.ike, c.esp, PSK)
    }
}

fn run(c: &Case, ipsecgw_initiates: bool) {
    assert!(
        Charon::available(),
        "strongSwan is not installed: run `cargo xtask setup`"
    );
    let t = Topology::new("interop", false).unwrap();
    let charon = Charon::start(&t.east_gw, &conn(c)).unwrap();
    let gw = Gateway::start("west", &t.west_gw, &ipsecgw_config(c), &[]).unwrap();
    let diag = |gw: &Gateway, charon: &Charon| {
        format!("ipsecgw:\n{}\nstrongSwan:\n{}", gw.log(), charon.log())
    };

    if ipsecgw_initiates {
        // Interesting traffic raises the tunnel; no packet may be lost.
        let got = t.ping(&t.west_lan, EAST_LAN_HOST, 5, 0.2).unwrap();
        assert_eq!(
            got,
            5,
            "{got}/5 pings answered (the first one must not be lost)\n{}",
            diag(&gw, &charon)
        );
    } else {
        if let Err(e) = charon.initiate() {
            panic!("swanctl --initiate: {e}\n{}", diag(&gw, &charon));
        }
    }
    let sas = charon
        .wait_installed(Duration::from_secs(15))
        .unwrap_or_else(|e| panic!("{e}\n{}", diag(&gw, &charon)));
    assert!(
        sas.contains(c.esp_shown),
        "strongSwan shows {}:\n{sas}",
        c.esp_shown
    );
    assert!(
        sas.contains("TUNNEL-in-UDP"),
        "ESP in UDP 4500 (NAT-T):\n{sas}"
    );
    let ours = gw.wait_ipsec_sa(Duration::from_secs(5)).unwrap();
    let ours = &ours[0];
    assert_eq!(ours["transform"], c.ours_shown);
    assert_eq!(ours["udp_encap"], 4500);
    let in_spi = ours["inbound_spi"].as_u64().unwrap();
    let out_spi = ours["outbound_spi"].as_u64().unwrap();
    assert!(
        sas.contains(&format!("in  {out_spi:08x}")),
        "strongSwan's inbound SPI is our outbound {out_spi:08x}:\n{sas}"
    );
    assert!(
        sas.contains(&format!("out {in_spi:08x}")),
        "strongSwan's outbound SPI is our inbound {in_spi:08x}:\n{sas}"
    );

    // Traffic both ways, whoever started.
    let got = t.ping(&t.west_lan, EAST_LAN_HOST, 5, 0.1).unwrap();
    assert_eq!(got, 5, "west-lan -> east-lan\n{}", diag(&gw, &charon));
    let got = t.ping(&t.east_lan, WEST_LAN_HOST, 5, 0.1).unwrap();
    assert_eq!(got, 5, "east-lan -> west-lan\n{}", diag(&gw, &charon));
    // TCP both ways through the tunnel (iperf3, then iperf3 -R).
    for reverse in [false, true] {
        let r = harness::iperf::run(&t, &t.west_lan, &t.east_lan, EAST_LAN_HOST, 2, reverse)
            .unwrap_or_else(|e| panic!("iperf3 (reverse: {reverse}): {e}\n{}", diag(&gw, &charon)));
        assert!(
            r.bytes_received > 0 && r.bits_per_second > 0.0,
            "iperf3 (reverse: {reverse}) moved nothing: {r:?}"
        );
    }
    let ours = gw.cli_json(&["show", "crypto", "ipsec", "sa"]).unwrap();
    let ours = &ours[0];
    assert!(ours["pkts_decaps"].as_u64().unwrap() >= 1000, "{ours}");
    assert!(ours["pkts_encaps"].as_u64().unwrap() >= 1000, "{ours}");
    assert_eq!(ours["recv_errors"], 0, "{ours}");
    let isakmp = gw.cli(&["show", "crypto", "isakmp", "sa"]).unwrap();
    let state = if c.aggressive {
        "AM_ACTIVE"
    } else {
        "MM_ACTIVE"
    };
    assert!(isakmp.contains(state), "{isakmp}");
}

#[test]
fn seed_policy_ipsecgw_initiates() {
    run(&SEED, true);
}

#[test]
fn seed_policy_strongswan_initiates() {
    run(&SEED, false);
}

#[test]
fn aes256_sha256_pfs14_ipsecgw_initiates() {
    run(&AES256_PFS, true);
}

#[test]
fn aes256_sha256_pfs14_strongswan_initiates() {
    run(&AES256_PFS, false);
}

#[test]
fn aggressive_aes128_ipsecgw_initiates() {
    run(&AGGRESSIVE, true);
}

#[test]
fn aggressive_aes128_strongswan_initiates() {
    run(&AGGRESSIVE, false);
}

#[test]
fn aes_gcm_256_ipsecgw_initiates() {
    run(&GCM, true);
}

#[test]
fn aes_gcm_256_strongswan_initiates() {
    run(&GCM, false);
}

/// ipsecgw fragments encapsulated packets past its outside MTU (RFC 4303
/// 3.3.5) and strongSwan's kernel reassembles them before libipsec sees
/// them: a 4,000-byte ping (1,500-byte LAN fragments without DF, each too
/// big once in UDP 4500) is answered. (strongSwan's own TUN has a 1,400
/// MTU, so its output fits and the reply needs no outer fragments.)
#[test]
fn fragmented_nat_t_toward_strongswan_carries_a_4000_byte_ping() {
    assert!(
        Charon::available(),
        "strongSwan is not installed: run `cargo xtask setup`"
    );
    let t = Topology::new("interop-frag", false).unwrap();
    let charon = Charon::start(&t.east_gw, &conn(&SEED)).unwrap();
    let gw = Gateway::start("west", &t.west_gw, &ipsecgw_config(&SEED), &[]).unwrap();
    let diag = || format!("ipsecgw:\n{}\nstrongSwan:\n{}", gw.log(), charon.log());
    assert_eq!(
        t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.2).unwrap(),
        2,
        "{}",
        diag()
    );
    let out = t
        .exec(&t.west_lan, "ping")
        .args(["-n", "-q", "-c", "3", "-i", "0.3", "-W", "2", "-s", "4000"])
        .arg(EAST_LAN_HOST)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let dp = gw.cli_json(&["show", "dataplane"]).unwrap();
    assert!(text.contains("3 received"), "{text}\n{dp}\n{}", diag());
    assert!(dp["engine_frags_out"].as_u64().unwrap() >= 12, "{dp}");
}
