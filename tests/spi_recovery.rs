//! Invalid-SPI recovery: east crashes (SIGKILL) and starts again with no
//! SAs while west keeps encrypting with the old ones. Only west's LAN sends,
//! and DPD is off on both sides, so nothing but east's reaction to ESP for
//! an unknown SPI (a phase 1 toward west carrying INITIAL-CONTACT, on which
//! west drops its old SAs) can bring the tunnel back before the SA lifetime.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::gateway::{Gateway, num, seed_pair};
use harness::topology::*;

const PSK: &str = "spi-recovery-psk-1234";

/// The seed configuration with invalid-SPI recovery on (off by default,
/// as on IOS) and DPD disabled in the tunnel-group (an ASA tunnel-group
/// has DPD 10/2 by default, which would also recover the tunnel, only
/// later): this test must see the unknown-SPI path alone.
fn no_dpd(c: String) -> String {
    assert!(
        c.ends_with(" pre-shared-key spi-recovery-psk-1234\n"),
        "{c}"
    );
    c + " isakmp keepalive disable\ncrypto isakmp invalid-spi-recovery\n"
}

/// (inbound, outbound) SPIs of every IPsec SA pair of `gw`.
fn spis(gw: &Gateway) -> Vec<(u64, u64)> {
    gw.ipsec_sas()
        .iter()
        .map(|s| (num(s, "inbound_spi"), num(s, "outbound_spi")))
        .collect()
}

/// Pings east-lan from west-lan every 100 ms for at most `limit`; returns
/// the time of the first reply (from the start) once `settle` replies in a
/// row followed it, or `None` if that never happened.
fn ping_until_recovered(t: &Topology, limit: Duration, settle: u32) -> Option<Duration> {
    let secs = limit.as_secs().max(1).to_string();
    let mut child = t
        .exec(&t.west_lan, "ping")
        .args(["-n", "-i", "0.1", "-W", "1", "-w", &secs, EAST_LAN_HOST])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ping");
    let start = Instant::now();
    let out = child.stdout.take().expect("ping stdout");
    let mut first = None;
    let mut run = 0;
    // `-w` ends ping after `limit` whatever happens, so this loop ends too.
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        if line.contains("bytes from") {
            first.get_or_insert_with(|| start.elapsed());
            run += 1;
            if run >= settle {
                break;
            }
        } else if line.contains("Unreachable") {
            run = 0;
        }
    }
    // Our own child, by PID.
    let _ = child.kill();
    let _ = child.wait();
    (run >= settle).then_some(first).flatten()
}

#[test]
fn esp_for_unknown_spi_after_peer_restart_recovers_the_tunnel() {
    let t = Topology::new("spirec", false).unwrap();
    let (west, mut east) = seed_pair(&t, PSK, no_dpd, &[]).unwrap();
    for gw in [&west, &east] {
        let rc = gw.cli(&["show", "running-config"]).unwrap();
        assert!(rc.contains("isakmp keepalive disable"), "DPD off:\n{rc}");
        assert!(rc.contains("crypto isakmp invalid-spi-recovery"), "{rc}");
    }

    assert_eq!(t.ping(&t.west_lan, EAST_LAN_HOST, 3, 0.2).unwrap(), 3);
    west.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    let old = spis(&west);
    assert_eq!(old.len(), 1, "{old:?}");

    // Crash and come back: east has no SA, west still has the old pair.
    east.restart().unwrap();
    assert!(spis(&east).is_empty(), "east lost its SAs");
    assert_eq!(spis(&west), old, "west does not know");

    let recovered = ping_until_recovered(&t, Duration::from_secs(15), 10);
    let elog = east.log();
    let first = recovered.unwrap_or_else(|| {
        panic!(
            "pings from west-lan never recovered\nwest:\n{}\neast:\n{elog}",
            west.log()
        )
    });
    eprintln!("first reply after {first:?}");
    assert!(
        first < Duration::from_secs(5),
        "recovered only after {first:?}\neast:\n{elog}"
    );

    let line = elog
        .lines()
        .find(|l| l.contains("for unknown SPI"))
        .unwrap_or_else(|| panic!("no recovery line in east's log:\n{elog}"));
    assert!(line.contains("INFO"), "{line}");
    assert!(
        line.contains(&format!("ESP from {WEST_GW_OUTSIDE} for unknown SPI 0x")),
        "{line}"
    );
    assert!(
        line.contains(&format!("{:#010x}", old[0].1)),
        "names the SPI west used: {line}"
    );
    assert!(line.contains("INITIAL-CONTACT"), "{line}");

    let new = spis(&west);
    assert!(!new.is_empty(), "west has an SA pair again");
    for pair in &new {
        assert_ne!(pair.0, old[0].0, "new inbound SPI: {new:?} vs {old:?}");
        assert_ne!(pair.1, old[0].1, "new outbound SPI: {new:?} vs {old:?}");
    }
    // East initiated this time (the punt from the unknown SPI), and both
    // sides agree on the new pair.
    let east_now = spis(&east);
    assert!(
        new.iter().any(|w| east_now.contains(&(w.1, w.0))),
        "west {new:?} east {east_now:?}"
    );
    let isakmp = east.cli(&["show", "crypto", "isakmp", "sa"]).unwrap();
    assert!(isakmp.contains("Role    : initiator"), "{isakmp}");
}
