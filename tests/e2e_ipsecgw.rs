//! ipsecgw <-> ipsecgw in the four-namespace topology of DESIGN.md: the
//! first ping raises the tunnel and is not lost, counters on both sides
//! equal the traffic that crossed, `clear` tears down and the next ping
//! brings the tunnel back.

use std::time::Duration;

use harness::config::{east_seed, west_seed};
use harness::gateway::{Gateway, num, seed_pair};
use harness::topology::*;

const PSK: &str = "e2e-test-psk-1234";

fn pair(tag: &str) -> (Topology, Gateway, Gateway) {
    let t = Topology::new(tag, false).unwrap();
    let (west, east) = seed_pair(&t, PSK, |c| c, &[]).unwrap();
    (t, west, east)
}

#[test]
fn first_ping_raises_the_tunnel_and_counters_match() {
    let (t, west, east) = pair("e2e-ping");
    let got = t.ping(&t.west_lan, EAST_LAN_HOST, 5, 0.2).unwrap();
    assert_eq!(
        got,
        5,
        "all five pings answer, the first one included\nwest:\n{}\neast:\n{}",
        west.log(),
        east.log()
    );

    let w = west.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    let e = east.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    let (w, e) = (&w[0], &e[0]);
    assert_eq!(
        num(w, "outbound_spi"),
        num(e, "inbound_spi"),
        "both sides agree on SPIs"
    );
    assert_eq!(num(w, "inbound_spi"), num(e, "outbound_spi"));
    assert_eq!(num(w, "pkts_encaps"), 5, "{w}");
    assert_eq!(num(w, "pkts_decaps"), 5, "{w}");
    assert_eq!(num(e, "pkts_encaps"), 5, "{e}");
    assert_eq!(num(e, "pkts_decaps"), 5, "{e}");
    // 5 echo requests of 84 bytes each way.
    assert_eq!(num(w, "bytes_encaps"), 5 * 84);
    assert_eq!(num(e, "bytes_decaps"), 5 * 84);
    assert_eq!(w["transform"], "esp-3des esp-sha-hmac");

    let isakmp = west.cli(&["show", "crypto", "isakmp", "sa"]).unwrap();
    assert!(isakmp.contains("State   : MM_ACTIVE"), "{isakmp}");
    assert!(isakmp.contains("Role    : initiator"), "{isakmp}");
    let isakmp = east.cli(&["show", "crypto", "isakmp", "sa"]).unwrap();
    assert!(isakmp.contains("Role    : responder"), "{isakmp}");

    // clear removes the SAs on both sides; the next ping brings them back.
    west.cli(&["clear", "crypto", "ipsec", "sa"]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let w = west.cli_json(&["show", "crypto", "ipsec", "sa"]).unwrap();
    assert_eq!(w.as_array().unwrap().len(), 0, "{w}");
    let e = east.cli_json(&["show", "crypto", "ipsec", "sa"]).unwrap();
    assert_eq!(
        e.as_array().unwrap().len(),
        0,
        "the DELETE reached the peer: {e}"
    );
    let got = t.ping(&t.west_lan, EAST_LAN_HOST, 3, 0.2).unwrap();
    assert_eq!(got, 3, "west:\n{}", west.log());
    let w = west.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    assert_eq!(num(&w[0], "pkts_encaps"), 3);
}

/// `clear crypto isakmp sa` tears down phase 1 on both sides (the DELETE
/// reaches the peer) and, as on IOS/ASA, leaves the IPsec SAs carrying
/// traffic; after `clear crypto ipsec sa` too, the next ping negotiates
/// phase 1 and quick mode from scratch and is answered.
#[test]
fn clear_isakmp_then_ipsec_and_the_next_ping_rebuilds_both() {
    let (t, west, east) = pair("e2e-clear");
    assert_eq!(t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.2).unwrap(), 2);
    let first = west.wait_ipsec_sa(Duration::from_secs(2)).unwrap()[0].clone();

    west.cli(&["clear", "crypto", "isakmp", "sa"]).unwrap();
    let active = |gw: &Gateway| {
        gw.cli_json(&["show", "crypto", "isakmp", "sa"])
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["active"] == true)
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while active(&east) != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "east dropped its ISAKMP SA on the DELETE\n{}",
            east.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(active(&west), 0);
    // Phase 2 outlives phase 1: same SPIs, still carrying pings.
    assert_eq!(t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.2).unwrap(), 2);
    let w = west.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    assert_eq!(w[0]["inbound_spi"], first["inbound_spi"], "{w}");
    assert_eq!(num(&w[0], "pkts_encaps"), 4);

    west.cli(&["clear", "crypto", "ipsec", "sa"]).unwrap();
    let w = west.cli_json(&["show", "crypto", "ipsec", "sa"]).unwrap();
    assert_eq!(w.as_array().unwrap().len(), 0, "{w}");
    let got = t.ping(&t.west_lan, EAST_LAN_HOST, 3, 0.2).unwrap();
    assert_eq!(
        got,
        3,
        "first ping held through phase 1 + 2\n{}",
        west.log()
    );
    let w = west.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    let w = w
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["inbound_spi"] != first["inbound_spi"])
        .cloned()
        .unwrap_or_else(|| panic!("a new SA pair: {w}"));
    assert_eq!(num(&w, "pkts_encaps"), 3, "{w}");
    assert_eq!(num(&w, "pkts_decaps"), 3, "{w}");
    assert_eq!(active(&west), 1);
    assert_eq!(active(&east), 1);
    // East's pair for the new SPIs agrees.
    let e = east.cli_json(&["show", "crypto", "ipsec", "sa"]).unwrap();
    assert!(
        e.as_array()
            .unwrap()
            .iter()
            .any(|s| s["outbound_spi"] == w["inbound_spi"] && s["inbound_spi"] == w["outbound_spi"]),
        "{e}"
    );
}

/// No silent black hole: a DF packet too big once encapsulated gets ICMP
/// "fragmentation needed" back from the gateway (with the MTU that fits),
/// and TCP SYNs entering the tunnel have their MSS clamped (1380, ASA's
/// `sysopt connection tcpmss` default).
#[test]
fn path_mtu_is_signalled_and_tcp_mss_is_clamped() {
    let (t, west, _east) = pair("e2e-mtu");
    assert_eq!(
        t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.2).unwrap(),
        2,
        "tunnel up"
    );

    // 1472 bytes of ICMP payload make a 1500-byte packet: it fits the LAN,
    // not the tunnel (ESP, IV, padding and ICV come on top).
    let out = t
        .exec(&t.west_lan, "ping")
        .args([
            "-n",
            "-c",
            "1",
            "-W",
            "2",
            "-M",
            "do",
            "-s",
            "1472",
            EAST_LAN_HOST,
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Frag needed") || text.contains("mtu"),
        "no ICMP frag-needed came back:\n{text}"
    );
    let mtu: u32 = text
        .split("mtu = ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .or_else(|| {
            // Later pings use the cached PMTU: "message too long, mtu=1438".
            text.split("mtu=")
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("no MTU in:\n{text}"));
    assert!((1300..1500).contains(&mtu), "MTU {mtu}");
    // A packet of exactly that size passes the tunnel.
    let size = (mtu - 28).to_string();
    let out = t
        .exec(&t.west_lan, "ping")
        .args([
            "-n",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "2",
            "-M",
            "do",
            "-s",
            &size,
            EAST_LAN_HOST,
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 received"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let dp = west.cli_json(&["show", "dataplane"]).unwrap();
    assert!(dp["engine_frag_needed_sent"].as_u64().unwrap() >= 1, "{dp}");

    // One TCP connection: its SYN is clamped on the way in.
    let r = harness::iperf::run(&t, &t.west_lan, &t.east_lan, EAST_LAN_HOST, 1, false).unwrap();
    assert!(r.bytes_received > 0);
    let dp = west.cli_json(&["show", "dataplane"]).unwrap();
    assert!(dp["engine_mss_clamped"].as_u64().unwrap() >= 1, "{dp}");
}

/// `set peer DEAD EAST`, each with its own tunnel-group and key: the
/// primary never answers (no such host), so west gives up on it and tries
/// the backup, which comes up with the backup's own key. Before, the
/// backup was offered the primary's key and never authenticated.
#[test]
fn backup_peer_with_its_own_key_comes_up_when_the_primary_never_answers() {
    const DEAD: &str = "192.0.2.99";
    let t = Topology::new("e2e-backup", false).unwrap();
    let east = Gateway::start("east", &t.east_gw, &east_seed("backup-peer-key"), &[]).unwrap();
    let west_cfg = west_seed("backup-peer-key").replace(
        &format!("set peer {EAST_GW_OUTSIDE}\n"),
        &format!("set peer {DEAD} {EAST_GW_OUTSIDE}\n"),
    ) + &format!(
        "tunnel-group {DEAD} type ipsec-l2l\ntunnel-group {DEAD} ipsec-attributes\n pre-shared-key primary-peer-key\n"
    );
    // 100 ms first retransmission: the primary is given up after about 3 s.
    let west = Gateway::start(
        "west",
        &t.west_gw,
        &west_cfg,
        &["--ike-retransmit-ms", "100"],
    )
    .unwrap();
    // The first pings wait (held, then dropped by age) while the primary
    // times out; the later ones cross the tunnel to the backup.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut answered = 0;
    while answered == 0 && std::time::Instant::now() < deadline {
        answered = t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.5).unwrap();
    }
    assert!(
        answered > 0,
        "no ping crossed to the backup peer\nwest:\n{}\neast:\n{}",
        west.log(),
        east.log()
    );
    let w = west.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    assert_eq!(w[0]["peer"], EAST_GW_OUTSIDE, "{w}");
    assert!(num(&w[0], "pkts_decaps") > 0, "{w}");
    let isakmp = east.cli(&["show", "crypto", "isakmp", "sa"]).unwrap();
    assert!(isakmp.contains("MM_ACTIVE"), "{isakmp}");
    assert!(
        !east.log().contains("pre-shared key mismatch"),
        "the backup was offered its own key\n{}",
        east.log()
    );
}

/// West's ACL line is a /25 of its LAN, east's the whole /24: east, the
/// responder, accepts the narrower proxy identities and must send only
/// that traffic into the SA. Before, it installed the SA for its whole
/// line, and a packet for the other half went into a tunnel whose far end
/// drops it (counted there as a policy drop).
#[test]
fn narrowed_proxy_identities_carry_only_what_was_negotiated() {
    let t = Topology::new("e2e-narrow", false).unwrap();
    let east = Gateway::start("east", &t.east_gw, &east_seed(PSK), &[]).unwrap();
    let west_cfg = west_seed(PSK).replace(
        "permit ip 198.51.100.0 255.255.255.0",
        "permit ip 198.51.100.0 255.255.255.128",
    );
    let west = Gateway::start("west", &t.west_gw, &west_cfg, &[]).unwrap();
    assert_eq!(
        t.ping(&t.west_lan, EAST_LAN_HOST, 3, 0.2).unwrap(),
        3,
        "{}",
        west.log()
    );
    let e = east.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    assert_eq!(e[0]["remote_ident"]["mask"], "255.255.255.128", "{e}");
    let encaps_before = num(&e[0], "pkts_encaps");
    // 198.51.100.200 is in east's line but outside what was negotiated.
    let _ = t.ping(&t.east_lan, "198.51.100.200", 2, 0.2);
    std::thread::sleep(Duration::from_millis(300));
    let e = east.ipsec_sas();
    let w = west.ipsec_sas();
    let narrowed: Vec<_> = e
        .iter()
        .filter(|s| s["remote_ident"]["mask"] == "255.255.255.128")
        .collect();
    assert_eq!(narrowed.len(), 1, "{e:?}");
    assert_eq!(
        num(narrowed[0], "pkts_encaps"),
        encaps_before,
        "traffic outside the negotiated identities stays out of the SA\neast:\n{}",
        east.log()
    );
    assert!(w.iter().all(|s| num(s, "policy_drops") == 0), "{w:?}");
    // What was negotiated still crosses.
    assert_eq!(t.ping(&t.east_lan, WEST_LAN_HOST, 2, 0.2).unwrap(), 2);
}

/// LAN hosts with veth's default offloads send TCP with the checksum only
/// started (CHECKSUM_PARTIAL); the gateway finishes it before encrypting,
/// so iperf3 connects and moves data and the far host counts no checksum
/// error.
#[test]
fn iperf3_tcp_from_hosts_with_default_offloads() {
    let t = Topology::with_default_offloads("e2e-offload", false).unwrap();
    let (west, east) = seed_pair(&t, PSK, |c| c, &[]).unwrap();
    assert_eq!(
        t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.2).unwrap(),
        2,
        "tunnel up\n{}",
        west.log()
    );
    let errs = |ns: &str| t.snmp(ns, "Tcp", "InCsumErrors").unwrap();
    let (east0, west0) = (errs(&t.east_lan), errs(&t.west_lan));
    let r = harness::iperf::run(&t, &t.west_lan, &t.east_lan, EAST_LAN_HOST, 2, false)
        .unwrap_or_else(|e| {
            panic!(
                "iperf3 through the tunnel: {e}\neast-lan TcpInCsumErrors {}\nwest:\n{}",
                errs(&t.east_lan),
                west.cli(&["show", "dataplane"]).unwrap_or_default()
            )
        });
    assert!(r.bytes_received > 100_000, "{r:?}");
    assert_eq!(errs(&t.east_lan), east0, "east-lan saw bad TCP checksums");
    assert_eq!(errs(&t.west_lan), west0, "west-lan saw bad TCP checksums");
    for gw in [&west, &east] {
        let dp = gw.cli_json(&["show", "dataplane"]).unwrap();
        assert!(
            dp["engine_csum_completed"].as_u64().unwrap() > 0,
            "{}: {dp}",
            gw.name
        );
    }
}

/// A peer whose ESP arrives in IPv4 fragments. A 4,000-byte ping leaves
/// the LAN host as 1,500-byte fragments without DF, each too big for the
/// tunnel once encapsulated: the sending gateway fragments the outer
/// packet (RFC 4303 3.3.5), the receiving kernel reassembles it, and the
/// daemon hands the result to the ESP engine (raw ESP from its raw socket,
/// NAT-T from its UDP 4500 socket). Both directions: the echo reply is as
/// big.
fn fragmented_esp_carries_a_4000_byte_ping(
    tag: &str,
    args: &[&str],
    natt: bool,
    east_lan_mtu: Option<u32>,
) {
    let t = Topology::new(tag, false).unwrap();
    if let Some(mtu) = east_lan_mtu {
        let mtu = mtu.to_string();
        for (ns, dev) in [(&t.east_gw, GW_INSIDE_IF), (&t.east_lan, "eth0")] {
            sh(t.exec(ns, "ip").args(["link", "set", dev, "mtu", &mtu])).unwrap();
        }
    }
    let east = Gateway::start("east", &t.east_gw, &east_seed(PSK), args).unwrap();
    let west = Gateway::start("west", &t.west_gw, &west_seed(PSK), args).unwrap();
    let logs = || format!("west:\n{}\neast:\n{}", west.log(), east.log());
    assert_eq!(
        t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.2).unwrap(),
        2,
        "tunnel up\n{}",
        logs()
    );
    let w = west.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    assert_eq!(
        w[0]["udp_encap"].is_u64(),
        natt,
        "encapsulation as asked: {w}"
    );
    let out = t
        .exec(&t.west_lan, "ping")
        .args(["-n", "-q", "-c", "3", "-i", "0.3", "-W", "2", "-s", "4000"])
        .arg(EAST_LAN_HOST)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let dp = |gw: &Gateway| gw.cli_json(&["show", "dataplane"]).unwrap();
    assert!(
        text.contains("3 received"),
        "{text}\nwest {}\neast {}\n{}",
        dp(&west),
        dp(&east),
        logs()
    );
    // With a small east LAN the replies fit the tunnel whole: only the
    // requests travel in outer fragments.
    let directions: &[(&Gateway, &Gateway)] = match east_lan_mtu {
        None => &[(&west, &east), (&east, &west)],
        Some(_) => &[(&west, &east)],
    };
    for (from, to) in directions {
        // 3 pings of 3 LAN fragments each, of which 2 need outer
        // fragmentation: at least 6 packets fragmented, 6 reassembled.
        let d = dp(from);
        assert!(num(&d, "engine_frags_out") >= 12, "{}: {d}", from.name);
        let gw = to;
        let d = dp(gw);
        assert!(
            num(&d, "engine_reassembled_decaps") >= 6,
            "{}: {d}",
            gw.name
        );
        assert_eq!(num(&d, "engine_reassembled_dropped"), 0, "{}: {d}", gw.name);
    }
    // The far host got whole pings: its kernel reassembled the inner
    // fragments the tunnel delivered.
    assert!(t.snmp(&t.east_lan, "Ip", "ReasmOKs").unwrap() >= 3);
    if east_lan_mtu.is_some() {
        // 1,500-byte inner packets, each cut in two for east's LAN.
        let d = dp(&east);
        assert!(num(&d, "engine_frags_inside") >= 12, "{d}");
        assert_eq!(num(&d, "engine_inside_too_big"), 0, "{d}");
    }
}

#[test]
fn fragmented_raw_esp_carries_a_4000_byte_ping() {
    fragmented_esp_carries_a_4000_byte_ping("e2e-frag-esp", &[], false, None);
}

#[test]
fn fragmented_nat_t_esp_carries_a_4000_byte_ping() {
    fragmented_esp_carries_a_4000_byte_ping("e2e-frag-natt", &["--force-udp-encap"], true, None);
}

/// The far LAN has a smaller MTU (1,200) than the packets the tunnel
/// delivers (1,500): the receiving gateway fragments them on the inside,
/// as a router would, both those that came in whole and those the kernel
/// reassembled.
#[test]
fn decrypted_packets_are_fragmented_to_a_smaller_inside_mtu() {
    fragmented_esp_carries_a_4000_byte_ping("e2e-frag-lan", &[], false, Some(1200));
}
