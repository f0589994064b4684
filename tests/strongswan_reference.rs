//! The reference pair: strongSwan on both gateways of the topology. It
//! proves the harness (namespaces, charon per namespace, kernel-libipsec)
//! before ipsecgw is put on one side, and it is the baseline the
//! benchmarks compare against.

use std::time::Duration;

use harness::strongswan::{Charon, Conn};
use harness::topology::*;

fn conn(local: &str, remote: &str, lts: &str, rts: &str) -> Conn {
    Conn::v1(
        (local, lts),
        (remote, rts),
        "3des-sha1-modp1024",
        "3des-sha1",
        "interop-test-psk-123",
    )
}

#[test]
fn strongswan_pair_passes_pings() {
    assert!(
        Charon::available(),
        "strongSwan is not installed: run `cargo xtask setup`"
    );
    let t = Topology::new("ssref", false).unwrap();
    let west = Charon::start(
        &t.west_gw,
        &conn(
            WEST_GW_OUTSIDE,
            EAST_GW_OUTSIDE,
            "198.51.100.0/24",
            "203.0.113.0/24",
        ),
    )
    .unwrap();
    let east = Charon::start(
        &t.east_gw,
        &conn(
            EAST_GW_OUTSIDE,
            WEST_GW_OUTSIDE,
            "203.0.113.0/24",
            "198.51.100.0/24",
        ),
    )
    .unwrap();
    west.initiate().unwrap();
    let sas = west.wait_installed(Duration::from_secs(20)).unwrap();
    assert!(sas.contains("3DES_CBC"), "{sas}");
    east.wait_installed(Duration::from_secs(5)).unwrap();
    let got = t.ping(&t.west_lan, EAST_LAN_HOST, 3, 0.2).unwrap();
    assert_eq!(got, 3, "west log:\n{}", west.log());
}
