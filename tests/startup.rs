//! Start-up as scripts and service managers see it: the control socket
//! and systemd's READY=1 appear only once the data plane is attached and
//! the IKE sockets are bound. Needs root.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use harness::capture::Capture;
use harness::gateway::{Gateway, Launch, seed_config};
use harness::topology::*;

const PSK: &str = "startup-psk";

fn west_config() -> String {
    seed_config("198.51.100.0", "203.0.113.0", EAST_GW_OUTSIDE, PSK)
}

fn east_config() -> String {
    seed_config("203.0.113.0", "198.51.100.0", WEST_GW_OUTSIDE, PSK)
}

/// Protected cleartext (198.51.100.0/24 <-> 203.0.113.0/24) among tcpdump lines.
fn leaks(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| l.contains("198.51.100.") && l.contains("203.0.113."))
        .collect()
}

/// A script waits for the control socket and pings through the tunnel at
/// once. The kernel routes the protected subnets between the gateways, so
/// anything the data plane is not yet there to catch would leave in
/// cleartext. The ping must be held and answered through the tunnel.
#[test]
fn first_ping_after_the_socket_appears_is_protected_and_answered() {
    let t = Topology::new("st-ready", true).unwrap();
    let east = Gateway::start("east", &t.east_gw, &east_config(), &[]).unwrap();
    let cap = Capture::start(&t.east_gw, GW_OUTSIDE_IF, "icmp").unwrap();
    let mut west = Gateway::launch(
        "west",
        &t.west_gw,
        &west_config(),
        &[],
        Launch::JoinNetns,
        &[],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !west.control.exists() {
        if let Some(st) = west.exited().unwrap() {
            panic!("west exited ({st}):\n{}", west.log());
        }
        assert!(Instant::now() < deadline, "no control socket:\n{}", west.log());
        std::thread::sleep(Duration::from_millis(2));
    }
    let answered = t.ping(&t.west_lan, EAST_LAN_HOST, 1, 0.2).unwrap();
    // Control: gateway-to-gateway cleartext the capture must see.
    t.ping(&t.west_gw, EAST_GW_OUTSIDE, 2, 0.2).unwrap();
    let lines = cap.stop();
    assert!(
        lines.iter().filter(|l| l.contains("192.0.2.1 > 192.0.2.2")).count() >= 2,
        "the capture works: {lines:?}"
    );
    assert!(
        leaks(&lines).is_empty(),
        "protected cleartext on the wire: {:?}\nwest:\n{}",
        leaks(&lines),
        west.log()
    );
    assert_eq!(
        answered,
        1,
        "the first ping was answered\nwest:\n{}\neast:\n{}",
        west.log(),
        east.log()
    );
}

/// systemd's Type=notify: READY=1 comes once, and at that moment XDP is on
/// both interfaces, the TC guard on the outside one, the IKE sockets are
/// bound and the control socket answers. STOPPING=1 comes at SIGTERM.
#[test]
fn ready_is_notified_only_when_the_gateway_is_up() {
    let t = Topology::new("st-notify", false).unwrap();
    let dir = std::env::temp_dir().join(unique("st-notify"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let notify = UnixDatagram::bind(&path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut west = Gateway::launch(
        "west",
        &t.west_gw,
        &west_config(),
        &[],
        Launch::JoinNetns,
        &[("NOTIFY_SOCKET", path.to_str().unwrap())],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 256];
    let first = loop {
        if let Ok(n) = notify.recv(&mut buf) {
            break String::from_utf8_lossy(&buf[..n]).into_owned();
        }
        if let Some(st) = west.exited().unwrap() {
            panic!("west exited ({st}):\n{}", west.log());
        }
        assert!(
            Instant::now() < deadline,
            "no notification in 30 s:\n{}",
            west.log()
        );
    };
    // What a unit ordered after ipsecgw.service finds at this moment.
    let lan = sh(std::process::Command::new("ip").args(["-n", &t.west_gw, "link", "show", GW_INSIDE_IF]))
        .unwrap();
    let wan = sh(std::process::Command::new("ip").args(["-n", &t.west_gw, "link", "show", GW_OUTSIDE_IF]))
        .unwrap();
    // bpftool 7.1 knows tcx links by number only: ask the pinned link for
    // its program, then the program for its name.
    let tc_pin = format!("/sys/fs/bpf/ipsecgw/{}/link_ipsec_tc_egress", west.instance);
    let link = std::process::Command::new("bpftool")
        .args(["link", "show", "pinned", &tc_pin])
        .output()
        .unwrap();
    let link = String::from_utf8_lossy(&link.stdout).into_owned();
    let prog_id = link
        .split_whitespace()
        .skip_while(|w| *w != "prog")
        .nth(1)
        .unwrap_or_else(|| panic!("TC link pinned at READY: {link:?}"))
        .to_string();
    let tc = std::process::Command::new("bpftool")
        .args(["prog", "show", "id", &prog_id])
        .output()
        .unwrap();
    let udp = t.exec(&t.west_gw, "ss").args(["-Hunl"]).output().unwrap();
    let socket_there = west.control.exists();
    let answers = west.cli(&["show", "running-config"]);
    assert_eq!(first, "READY=1");
    let lan = String::from_utf8_lossy(&lan.stdout);
    let wan = String::from_utf8_lossy(&wan.stdout);
    assert!(lan.contains("xdp"), "XDP on lan0 at READY: {lan}");
    assert!(wan.contains("xdp"), "XDP on wan0 at READY: {wan}");
    let tc = String::from_utf8_lossy(&tc.stdout);
    assert!(
        tc.contains("ipsec_tc_egress") && link.contains("type 11"),
        "TC guard (a tcx link, type 11) at READY: {link} {tc}"
    );
    let udp = String::from_utf8_lossy(&udp.stdout);
    for port in [":500 ", ":4500 "] {
        assert!(
            udp.contains(&format!("{WEST_GW_OUTSIDE}{port}")),
            "UDP{port}bound at READY: {udp}"
        );
    }
    assert!(socket_there, "control socket at READY");
    assert!(answers.is_ok(), "control socket answers at READY: {answers:?}");

    west.stop().unwrap();
    let mut rest = Vec::new();
    while let Ok(n) = notify.recv(&mut buf) {
        rest.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(rest, ["STOPPING=1"], "after READY=1");
    assert!(!west.control.exists(), "socket removed at orderly exit");
    let _ = std::fs::remove_dir_all(&dir);
}
