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

use harness::gateway::{Gateway, seed_config};
use harness::topology::*;
use serde_json::Value;

const PSK: &str = "multiqueue-psk-7Hq3";

fn num(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

/// The one SA pair of a gateway, once its counters stop moving (the
/// workers report asynchronously).
fn settled_sa(gw: &Gateway) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = Value::Null;
    loop {
        let list = gw.cli_json(&["show", "crypto", "ipsec", "sa"]).unwrap();
        let sas = list.as_array().cloned().unwrap_or_default();
        assert_eq!(sas.len(), 1, "one SA pair, shared by the workers: {list}");
        let now = sas[0].clone();
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn two_queues_run_two_workers_sharing_one_sa() {
    let t = Topology::with_queues("mq", false, 2).unwrap();
    // AES-GCM: the cipher should not be what bounds the run.
    let gcm = |c: String| {
        c.replace(
            "crypto ipsec transform-set ESP-3DES-SHA esp-3des esp-sha-hmac",
            "crypto ipsec ikev1 transform-set GCM esp-aes-gcm esp-none",
        )
        .replace(
            "set transform-set ESP-3DES-SHA",
            "set ikev1 transform-set GCM",
        )
    };
    let east_cfg = gcm(seed_config(
        "203.0.113.0",
        "198.51.100.0",
        WEST_GW_OUTSIDE,
        PSK,
    ));
    assert!(
        east_cfg.contains("esp-aes-gcm"),
        "seed config changed: {east_cfg}"
    );
    let east = Gateway::start("east", &t.east_gw, &east_cfg, &[]).unwrap();
    let west = Gateway::start(
        "west",
        &t.west_gw,
        &gcm(seed_config(
            "198.51.100.0",
            "203.0.113.0",
            EAST_GW_OUTSIDE,
            PSK,
        )),
        &[],
    )
    .unwrap();
    for gw in [&west, &east] {
        assert!(
            gw.log().contains("workers=2"),
            "two queues, two workers:\n{}",
            gw.log()
        );
    }

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
