//! `ipsecgw reload` and SIGHUP: an unchanged tunnel keeps its SAs and
//! loses no packet while a new entry is added; a config that fails check
//! changes nothing; a removed entry's SAs are deleted at the peer too; the
//! file the daemon was started with is read again on SIGHUP.

use std::time::Duration;

use harness::gateway::{num, seed_pair};
use harness::topology::*;

const PSK: &str = "reload-test-psk-77";

/// A second crypto-map entry, before the seed's `OUTSIDE_MAP 10`, toward a
/// peer that does not exist (nothing ever sends to it in this test).
const EXTRA: &str = "\
access-list L2B extended permit ip 198.51.100.0 255.255.255.0 192.0.2.128 255.255.255.128
crypto map OUTSIDE_MAP 5 match address L2B
crypto map OUTSIDE_MAP 5 set peer 192.0.2.77
crypto map OUTSIDE_MAP 5 set transform-set ESP-3DES-SHA
tunnel-group 192.0.2.77 type ipsec-l2l
tunnel-group 192.0.2.77 ipsec-attributes
 pre-shared-key another-key
";

#[test]
fn reload_changes_only_what_changed() {
    let t = Topology::new("reload", false).unwrap();
    let (west, east) = seed_pair(&t, PSK, |c| c, &[]).unwrap();
    assert_eq!(t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.2).unwrap(), 2);
    let before = west.wait_ipsec_sa(Duration::from_secs(2)).unwrap()[0].clone();
    let original = std::fs::read_to_string(west.config_path()).unwrap();

    // 1. Add an entry while traffic flows: nothing of the tunnel changes.
    let grown = west.dir().join("grown.conf");
    std::fs::write(&grown, format!("{original}{EXTRA}")).unwrap();
    let answered = std::thread::scope(|s| {
        let pings = s.spawn(|| t.ping(&t.west_lan, EAST_LAN_HOST, 40, 0.05).unwrap());
        std::thread::sleep(Duration::from_millis(800));
        let out = west
            .cli(&["reload", "--config", grown.to_str().unwrap()])
            .unwrap();
        assert!(
            out.contains("1 tunnel(s) unchanged, 0 removed or changed, 1 new"),
            "{out}"
        );
        pings.join().unwrap()
    });
    assert_eq!(
        answered,
        40,
        "no packet lost across the reload\n{}",
        west.log()
    );
    let after = west.wait_ipsec_sa(Duration::from_secs(2)).unwrap();
    assert_eq!(after.as_array().unwrap().len(), 1, "{after}");
    assert_eq!(after[0]["inbound_spi"], before["inbound_spi"], "same SA");
    assert_eq!(
        num(&after[0], "pkts_encaps"),
        num(&before, "pkts_encaps") + 40
    );
    let running = west.cli(&["show", "running-config"]).unwrap();
    assert!(
        running.contains("crypto map OUTSIDE_MAP 5 set peer 192.0.2.77"),
        "{running}"
    );

    // 2. A config that fails check: an error, and nothing changes.
    let broken = west.dir().join("broken.conf");
    std::fs::write(
        &broken,
        original.replace("set transform-set ESP-3DES-SHA", "set transform-set NOPE"),
    )
    .unwrap();
    let err = west
        .cli(&["reload", "--config", broken.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reload refused, nothing changed") && err.contains("NOPE"),
        "{err}"
    );
    assert_eq!(west.cli(&["show", "running-config"]).unwrap(), running);
    assert_eq!(t.ping(&t.west_lan, EAST_LAN_HOST, 2, 0.2).unwrap(), 2);

    // 3. Only the extra entry left: the tunnel's SAs go, at the peer too.
    let shrunk = west.dir().join("shrunk.conf");
    let only_extra = original
        .lines()
        .filter(|l| {
            !l.starts_with("crypto map OUTSIDE_MAP 10") && !l.starts_with("access-list L2L")
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
        + EXTRA;
    std::fs::write(&shrunk, only_extra).unwrap();
    let out = west
        .cli(&["reload", "--config", shrunk.to_str().unwrap()])
        .unwrap();
    assert!(out.contains("1 removed or changed"), "{out}");
    assert!(west.ipsec_sas().is_empty());
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !east.ipsec_sas().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        east.ipsec_sas().is_empty(),
        "the DELETE reached east\n{}",
        east.log()
    );

    // 4. SIGHUP reads the daemon's own file again (the original).
    let pid = west.pid().unwrap();
    // SAFETY: a signal to the daemon this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGHUP) }, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !west.log().contains("SIGHUP: reloaded") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(west.log().contains("SIGHUP: reloaded"), "{}", west.log());
    assert_eq!(
        t.ping(&t.west_lan, EAST_LAN_HOST, 3, 0.2).unwrap(),
        3,
        "{}",
        west.log()
    );
}
