//! Sequence-number exhaustion forces a rekey (RFC 4303 section 3.3.3),
//! end to end between two ipsecgw gateways.
//!
//! Four billion packets cannot be sent in a test, so west runs with the
//! hidden `--esp-first-seq N`: its first outbound SA starts at N instead of
//! 1 (later SAs, the rekeyed one included, start at 1). Without ESN the
//! ESP engine asks for a rekey once the next sequence number reaches
//! 0xF000_0000 (`needs_rekey`), the daemon passes that to the IKE engine
//! (`note_child_volume_soft`), which runs a quick mode for new SPIs both
//! ways; the old pair stays installed until its (time) hard lifetime, so
//! packets still in flight on it are accepted, but nothing new is sent on
//! it. The engine refuses (counted as a send error) any packet that would
//! need a sequence number past 2^32 - 1: nothing crosses with a wrapped
//! number, which the peer would drop as a replay or fail to authenticate.

use std::time::{Duration, Instant};

use harness::gateway::{Gateway, num, seed_pair};
use harness::topology::*;
use serde_json::Value;

const PSK: &str = "seq-exhaustion-psk-5Rk2";
/// Where `needs_rekey` turns true without ESN (esp/outbound.rs).
const SOFT_SEQ_32: u64 = 0xF000_0000;

fn pair(tag: &str, west_first_seq: u64) -> (Topology, Gateway, Gateway) {
    let t = Topology::new(tag, false).unwrap();
    let seq = west_first_seq.to_string();
    let (west, east) = seed_pair(&t, PSK, |c| c, &["--esp-first-seq", &seq]).unwrap();
    (t, west, east)
}

/// West's old pair (outbound SPI `old_out`) and the new one, which must
/// have new SPIs both ways.
fn old_and_new(w: &[Value], old_out: u64, old_in: u64, ctx: &str) -> (Value, Value) {
    let old = by_outbound(w, old_out).expect("old pair still installed on west");
    let new = w
        .iter()
        .find(|s| num(s, "outbound_spi") != old_out)
        .cloned()
        .unwrap_or_else(|| panic!("no new pair on west\n{ctx}"));
    assert_ne!(
        num(&new, "inbound_spi"),
        old_in,
        "new SPIs both ways\n{ctx}"
    );
    (old, new)
}

/// The SA pair whose outbound SPI is `spi`.
fn by_outbound(list: &[Value], spi: u64) -> Option<Value> {
    list.iter().find(|s| num(s, "outbound_spi") == spi).cloned()
}

/// Polls west until it lists an SA pair other than the one sending on
/// `old_out` (the rekey) whose counters have settled, or panics with both
/// logs after `limit`.
fn wait_rekeyed(west: &Gateway, east: &Gateway, old_out: u64, limit: Duration) -> Vec<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let w = west.ipsec_sas();
        if w.iter().any(|s| num(s, "outbound_spi") != old_out) {
            return w;
        }
        assert!(
            Instant::now() < deadline,
            "no rekey: west still has only the SA sending on {old_out:#010x}: {w:?}\nwest:\n{}\neast:\n{}",
            west.log(),
            east.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// East accepted everything west sent: no replay drops, no integrity
/// failures, no other receive errors, on any of its SAs.
fn assert_east_clean(east: &Gateway, e: &[Value]) {
    for s in e {
        for k in ["replay_drops", "auth_failures", "recv_errors"] {
            assert_eq!(num(s, k), 0, "east {k} on {s}\neast:\n{}", east.log());
        }
    }
}

/// The tunnel is up with one ping, then returns (old pair as west sees it).
fn first_ping(t: &Topology, west: &Gateway, east: &Gateway) -> Value {
    let got = t.ping(&t.west_lan, EAST_LAN_HOST, 1, 0.2).unwrap();
    assert_eq!(
        got,
        1,
        "tunnel up\nwest:\n{}\neast:\n{}",
        west.log(),
        east.log()
    );
    let w = west.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    let w = w.as_array().unwrap();
    // With the hard wall the rekey is requested at once: on a loaded
    // machine the new pair can be in before this look. The old pair is
    // the one that carried the ping.
    assert!(!w.is_empty() && w.len() <= 2, "{w:?}");
    assert!(
        west.log().contains("--esp-first-seq"),
        "the knob reached the first SA\n{}",
        west.log()
    );
    let old: Vec<&Value> = w.iter().filter(|s| num(s, "pkts_encaps") >= 1).collect();
    assert_eq!(old.len(), 1, "one pair carried the first ping: {w:?}");
    old[0].clone()
}

/// Soft limit: west's first SA starts 200 packets short of 0xF000_0000.
/// 400 pings at 10 ms: the SA carries at least those 200 to the mark, the
/// next housekeeping pass (every 500 ms) starts a quick mode, west switches
/// to the new pair while the old one still has 2^28 numbers left, so no
/// ping is lost and nothing is ever refused.
#[test]
fn soft_sequence_limit_rekeys_without_loss() {
    let first_seq = SOFT_SEQ_32 - 200;
    let (t, west, east) = pair("seq-soft", first_seq);
    let old = first_ping(&t, &west, &east);
    let (old_out, old_in) = (num(&old, "outbound_spi"), num(&old, "inbound_spi"));

    let sent = 399;
    let got = t.ping(&t.west_lan, EAST_LAN_HOST, sent, 0.01).unwrap();
    let w = wait_rekeyed(&west, &east, old_out, Duration::from_secs(5));
    let e = east.ipsec_sas();
    let ctx = format!(
        "west: {w:#?}\neast: {e:#?}\nwest log:\n{}\neast log:\n{}",
        west.log(),
        east.log()
    );
    assert_eq!(got, sent, "every ping answered across the rekey\n{ctx}");

    // Both pairs are listed: the old one stays until its hard lifetime.
    assert_eq!(w.len(), 2, "{ctx}");
    let (old, new) = old_and_new(&w, old_out, old_in, &ctx);
    let new = &new;
    // The old SA carried traffic up to (and past) the soft mark, the new
    // one the rest; together every echo request, and none refused.
    let (old_pkts, new_pkts) = (num(&old, "pkts_encaps"), num(new, "pkts_encaps"));
    assert!(
        first_seq + old_pkts > SOFT_SEQ_32,
        "old SA sent {old_pkts} packets from {first_seq:#x}: it never reached the mark\n{ctx}"
    );
    assert!(new_pkts > 0, "west switched to the new SA\n{ctx}");
    assert_eq!(old_pkts + new_pkts, 1 + u64::from(sent), "{ctx}");
    assert_eq!(num(&old, "send_errors"), 0, "{ctx}");
    assert_eq!(num(new, "send_errors"), 0, "{ctx}");

    // East agrees on both pairs and decapsulated exactly what was sent.
    assert_eq!(e.len(), 2, "old pair kept on east too\n{ctx}");
    let e_old = e
        .iter()
        .find(|s| num(s, "inbound_spi") == old_out)
        .expect("east's old pair");
    assert_eq!(num(e_old, "outbound_spi"), old_in, "{ctx}");
    let e_new = e
        .iter()
        .find(|s| num(s, "inbound_spi") == num(new, "outbound_spi"))
        .expect("east's new pair");
    assert_eq!(num(e_new, "outbound_spi"), num(new, "inbound_spi"), "{ctx}");
    assert_eq!(num(e_old, "pkts_decaps"), old_pkts, "{ctx}");
    assert_eq!(num(e_new, "pkts_decaps"), new_pkts, "{ctx}");
    assert_east_clean(&east, &e);
}

/// Hard wall: west's first SA starts at 2^32 - 51, already past the soft
/// mark, so it has 51 sequence numbers (2^32 - 51 ..= 2^32 - 1) and a rekey
/// is requested at once. What the system guarantees, and this test checks:
/// - the old SA never sends more than those 51 packets, never a wrapped
///   number;
/// - what arrives for it after its last number waits in the selector's
///   hold queue (as a tunnel's first packets do) and leaves on the new SA
///   once it is installed; what the queue could not take (64 packets per
///   worker) or kept too long is counted, and is exactly what was lost;
/// - east accepts every packet that was sent (no replay drop, no
///   integrity failure);
/// - the rekey happens and traffic flows on the new pair.
///
/// The pings are sent every 2 ms, so the wall is normally reached before
/// the new SA is in (the daemon looks at the SAs every 250 ms and the new
/// outbound SA waits a 150 ms grace): the hold path is exercised.
#[test]
fn hard_sequence_wall_holds_never_wraps_and_rekeys() {
    let first_seq = u64::from(u32::MAX) - 50;
    let room = u64::from(u32::MAX) - first_seq + 1;
    let (t, west, east) = pair("seq-hard", first_seq);
    let old = first_ping(&t, &west, &east);
    let (old_out, old_in) = (num(&old, "outbound_spi"), num(&old, "inbound_spi"));

    let dp0 = west.cli_json(&["show", "dataplane"]).unwrap();
    let burst = 300;
    let got = t.ping(&t.west_lan, EAST_LAN_HOST, burst, 0.002).unwrap();
    wait_rekeyed(&west, &east, old_out, Duration::from_secs(5));
    // Traffic flows on the new pair, all of it.
    let after = 20;
    let got_after = t.ping(&t.west_lan, EAST_LAN_HOST, after, 0.01).unwrap();
    let w_end = west.ipsec_sas();
    let e = east.ipsec_sas();
    let ctx = format!(
        "burst answered {got}/{burst}\nwest: {w_end:#?}\neast: {e:#?}\nwest log:\n{}\neast log:\n{}",
        west.log(),
        east.log()
    );
    assert_eq!(got_after, after, "pings after the rekey\n{ctx}");
    // One rekey, not one per housekeeping pass: the old SA keeps saying
    // `needs_rekey` but is marked rekeyed, and the new one starts at 1.
    assert_eq!(w_end.len(), 2, "{ctx}");
    assert_eq!(e.len(), 2, "old pair kept on east too\n{ctx}");

    let (old, new) = old_and_new(&w_end, old_out, old_in, &ctx);
    let new = &new;
    let (old_pkts, refused) = (num(&old, "pkts_encaps"), num(&old, "send_errors"));
    let new_pkts = num(new, "pkts_encaps");
    let dp1 = west.cli_json(&["show", "dataplane"]).unwrap();
    let moved = |k: &str| num(&dp1, k) - num(&dp0, k);
    let (held, released) = (moved("engine_held"), moved("engine_hold_released"));
    let dropped = moved("engine_hold_overflow") + moved("engine_hold_expired");
    eprintln!(
        "hard wall: old SA sent {old_pkts}/{room}, refused {refused}, held {held} \
         (released {released}, dropped {dropped}); burst answered {got}/{burst}"
    );
    let ctx = format!("{ctx}\nwest dataplane before {dp0}\nafter {dp1}");
    assert!(old_pkts <= room, "old SA sent past 2^32 - 1\n{ctx}");
    if held > 0 {
        assert_eq!(old_pkts, room, "held before its last number\n{ctx}");
    }
    assert_eq!(
        held, released,
        "every held packet left on the new SA\n{ctx}"
    );
    // One worker (one queue here): nothing races it for the last number,
    // so nothing is refused; what came after it was held, not dropped.
    assert_eq!(refused, 0, "refused instead of held\n{ctx}");
    assert_eq!(num(new, "send_errors"), 0, "{ctx}");
    // Every echo request went out on one SA, or could not wait for the
    // new one (refused by a worker racing for the last number, or dropped
    // from a full hold queue), and each lost ping is one of those.
    let requests = 1 + u64::from(burst) + u64::from(after);
    let lost = refused + dropped;
    assert_eq!(old_pkts + new_pkts + lost, requests, "{ctx}");
    assert_eq!(
        u64::from(burst - got),
        lost,
        "lost pings are the ones counted\n{ctx}"
    );

    // East took every packet sent on the old SA, nothing with a wrapped
    // number (that would be a replay drop or an integrity failure).
    let e_old = e
        .iter()
        .find(|s| num(s, "inbound_spi") == old_out)
        .expect("east's old pair");
    let e_new = e
        .iter()
        .find(|s| num(s, "inbound_spi") == num(new, "outbound_spi"))
        .expect("east's new pair");
    assert_eq!(num(e_old, "pkts_decaps"), old_pkts, "{ctx}");
    assert_eq!(num(e_new, "pkts_decaps"), new_pkts, "{ctx}");
    assert_east_clean(&east, &e);
}
