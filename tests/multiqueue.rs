//! One ESP worker per queue: gateways whose interfaces have two queues run
//! two workers each, the LAN's flows spread over both, and one SA pair is
//! used by both workers at once: sequence numbers drawn from one counter
//! (the peer sees no duplicate), one replay window shared without a lock,
//! counters added up for `show crypto ipsec sa`.
//!
//! veth hands a packet to the peer's receive queue with the number of the
//! transmit queue the sender's flow hash picked, so 16 TCP streams from
//! west-lan land on both of west's inside queues, and each west worker
//! sends its ESP on its own outside queue, which lands on the same-numbered
//! queue at east: east's two workers decrypt packets of one SA
//! concurrently.

use std::time::{Duration, Instant};

use harness::config::GatewayConfig;
use harness::gateway::{Gateway, num};
use harness::topology::*;
use serde_json::Value;

const PSK: &str = "multiqueue-psk-7Hq3";

/// The one SA pair of a gateway, once its counters stop moving (the
/// workers report asynchronously).
fn settled_sa(gw: &Gateway) -> Value {
    harness::counters::settled(&[gw]).remove(0)
}

/// Two gateways on two-queue veths with the seed configuration's AES-GCM
/// variant (the cipher should not be what bounds a run) plus `extra`
/// config lines; both must have started two workers.
fn gateways(tag: &str, extra: &str) -> (Topology, Gateway, Gateway) {
    let t = Topology::with_queues(tag, false, 2).unwrap();
    let config = |c: GatewayConfig| c.gcm().render() + extra;
    let east = Gateway::start("east", &t.east_gw, &config(GatewayConfig::east(PSK)), &[]).unwrap();
    let west = Gateway::start("west", &t.west_gw, &config(GatewayConfig::west(PSK)), &[]).unwrap();
    for gw in [&west, &east] {
        // veth has no zero-copy AF_XDP: each worker says so.
        for q in 0..2 {
            let bound = format!(
                "ESP worker: AF_XDP sockets bound queue={q} inside=\"copy\" outside=\"copy\""
            );
            assert!(gw.log().contains(&bound), "{bound}\n{}", gw.log());
        }
        assert!(
            gw.log().contains("workers=2"),
            "two queues, two workers:\n{}",
            gw.log()
        );
    }
    (t, west, east)
}

#[test]
fn two_queues_run_two_workers_sharing_one_sa() {
    let (t, west, east) = gateways("mq", "");
    assert_eq!(t.ping(&t.west_lan, EAST_LAN_HOST, 5, 0.2).unwrap(), 5);
    let r = harness::iperf::run_with(
        &t,
        &t.west_lan,
        &t.east_lan,
        EAST_LAN_HOST,
        3,
        &["-P", "16"],
    )
    .unwrap();
    assert!(r.bytes_received > 0, "{r:?}");
    let w = settled_sa(&west);
    let e = settled_sa(&east);
    let wdp = west.cli_json(&["show", "dataplane"]).unwrap();
    let edp = east.cli_json(&["show", "dataplane"]).unwrap();
    let ctx = format!(
        "iperf3 {r:?}\nwest SA {w}\neast SA {e}\nwest dataplane {wdp}\neast dataplane {edp}"
    );

    // Both workers of each gateway carried traffic of the one SA pair.
    for q in 0..2 {
        for (who, dp, key) in [
            ("west", &wdp, "rx_inside"),
            ("west", &wdp, "tx_outside"),
            ("east", &edp, "rx_outside"),
            ("east", &edp, "tx_inside"),
        ] {
            let k = format!("engine_q{q}_{key}");
            assert!(
                num(dp, &k) > 0,
                "{who} {k} is 0: the queue's worker idled\n{ctx}"
            );
        }
    }
    let per_queue: u64 = (0..2)
        .map(|q| num(&wdp, &format!("engine_q{q}_rx_inside")))
        .sum();
    assert_eq!(per_queue, num(&wdp, "engine_rx_inside"), "{ctx}");

    // Every packet west encapsulated reached east's SA: decapsulated, or
    // refused by the replay window. Had the workers numbered packets each
    // on their own, half would be duplicates; reordering between the two
    // queues beyond the 4,096-packet window is the only legitimate cause
    // of a replay drop, and it must be rare.
    for (from, f, to, tt) in [("west", &w, "east", &e), ("east", &e, "west", &w)] {
        let sent = num(f, "pkts_encaps");
        let (got, replay) = (num(tt, "pkts_decaps"), num(tt, "replay_drops"));
        assert!(sent > 1000, "{from} sent {sent} packets\n{ctx}");
        assert_eq!(num(f, "send_errors"), 0, "{from}\n{ctx}");
        assert_eq!(
            num(tt, "recv_errors"),
            replay,
            "{to}: only replay drops, no integrity or policy failure\n{ctx}"
        );
        assert_eq!(
            got + replay,
            sent,
            "{from} -> {to}: every packet accounted\n{ctx}"
        );
        assert!(
            replay * 100 <= sent,
            "{to}: {replay} replay drops of {sent}: sequence numbers collided\n{ctx}"
        );
        eprintln!("{from} -> {to}: {sent} packets, {replay} dropped as too old");
    }
}

fn total(list: &[Value], k: &str) -> u64 {
    list.iter().map(|s| num(s, k)).sum()
}

/// Rekeys while both workers of each gateway carry the SA: the kilobyte
/// lifetime is the SA's (the workers' bytes add up to it), each worker
/// switches to the new SA when it gets it, and the transfer does not
/// notice. A TCP flow stays on one queue, so no flow is reordered.
#[test]
fn volume_rekey_with_two_workers_is_seamless() {
    let (t, west, east) = gateways(
        "mq-rekey",
        "crypto map OUTSIDE_MAP 10 set security-association lifetime seconds 3600 kilobytes 16000\n",
    );
    assert_eq!(t.ping(&t.west_lan, EAST_LAN_HOST, 3, 0.2).unwrap(), 3);
    let first = west.ipsec_sas();
    assert_eq!(first.len(), 1, "{first:?}");
    // 8 streams of 16 Mbit/s for 4 s: 64 MB, four times the lifetime. At
    // 16 MB/s the last 10% of a lifetime last 0.1 s, less than a rekey
    // takes; the daemon rekeys at half the volume instead (2 s of traffic
    // would be more than the rest), leaving 0.5 s.
    let r = harness::iperf::run_with(
        &t,
        &t.west_lan,
        &t.east_lan,
        EAST_LAN_HOST,
        4,
        &["-P", "8", "-b", "16M"],
    )
    .unwrap();
    let settle = Instant::now() + Duration::from_secs(3);
    let (mut w, mut e) = (west.ipsec_sas(), east.ipsec_sas());
    while Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(300));
        let (w2, e2) = (west.ipsec_sas(), east.ipsec_sas());
        if w2 == w && e2 == e {
            break;
        }
        (w, e) = (w2, e2);
    }
    let ctx = format!(
        "iperf3 {r:?}\nwest {w:#?}\neast {e:#?}\nwest log:\n{}",
        west.log()
    );
    assert!(r.bytes_sent > 3 * 16_000 * 1024, "{ctx}");
    // The transfer did not notice: no retransmission storm. (iperf3's
    // sent count includes what was still in flight when the clock
    // stopped, so it is not compared with the received count.)
    // A rekey that loses packets costs thousands of retransmits (about
    // 5,000 with the rate rule switched off); a loaded 2-core machine
    // running other namespace tests beside this one costs about a dozen.
    assert!(r.retransmits <= 100, "no retransmission storm\n{ctx}");
    assert!(r.bytes_received * 100 >= r.bytes_sent * 97, "{ctx}");
    assert!(w.len() >= 3, "at least two rekeys by volume\n{ctx}");
    // Whatever SA carried it, everything west sent east took, and back.
    assert_eq!(total(&w, "pkts_encaps"), total(&e, "pkts_decaps"), "{ctx}");
    assert_eq!(total(&e, "pkts_encaps"), total(&w, "pkts_decaps"), "{ctx}");
    for (who, list) in [("west", &w), ("east", &e)] {
        assert_eq!(total(list, "recv_errors"), 0, "{who}\n{ctx}");
        assert_eq!(total(list, "send_errors"), 0, "{who}\n{ctx}");
        // No SA carried more than its lifetime (plus one packet per worker).
        for s in list.iter() {
            assert!(
                num(s, "bytes_encaps") <= 16_000 * 1024 + 2 * 1500,
                "{who}: {s}\n{ctx}"
            );
        }
    }
}
