//! Start-up as scripts and service managers see it: the control socket
//! and systemd's READY=1 appear only once the data plane is attached and
//! the IKE sockets are bound. Needs root.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use harness::capture::{Capture, count_from_to, protected_cleartext};
use harness::config::{east_seed, west_seed};
use harness::gateway::{Gateway, Launch};
use harness::process::{Scratch, run_bounded};
use harness::topology::*;

const PSK: &str = "startup-psk";
/// A daemon that should have refused must not hang the test.
const LIMIT: Duration = Duration::from_secs(30);

fn west_config() -> String {
    west_seed(PSK)
}

fn east_config() -> String {
    east_seed(PSK)
}

/// Protected cleartext (198.51.100.0/24 <-> 203.0.113.0/24) among tcpdump lines.
fn leaks(lines: &[String]) -> Vec<&String> {
    protected_cleartext(lines)
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
        assert!(
            Instant::now() < deadline,
            "no control socket:\n{}",
            west.log()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let answered = t.ping(&t.west_lan, EAST_LAN_HOST, 1, 0.2).unwrap();
    // Control: gateway-to-gateway cleartext the capture must see.
    t.ping(&t.west_gw, EAST_GW_OUTSIDE, 2, 0.2).unwrap();
    let lines = cap.stop();
    assert!(
        count_from_to(&lines, WEST_GW_OUTSIDE, EAST_GW_OUTSIDE) >= 2,
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
    let dir = Scratch::new("st-notify");
    let path = dir.path().join("notify.sock");
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
    let lan =
        sh(std::process::Command::new("ip").args(["-n", &t.west_gw, "link", "show", GW_INSIDE_IF]))
            .unwrap();
    let wan = sh(std::process::Command::new("ip").args([
        "-n",
        &t.west_gw,
        "link",
        "show",
        GW_OUTSIDE_IF,
    ]))
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
    assert!(
        answers.is_ok(),
        "control socket answers at READY: {answers:?}"
    );

    west.stop().unwrap();
    let mut rest = Vec::new();
    while let Ok(n) = notify.recv(&mut buf) {
        rest.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(rest, ["STOPPING=1"], "after READY=1");
    assert!(!west.control.exists(), "socket removed at orderly exit");
}

/// The reproduction of the issue: started by `ip netns exec` (a private
/// mount namespace whose /sys/fs/bpf is not the host's bpffs), SIGKILLed,
/// then pinged through on a route that would carry cleartext. The pins
/// went to the host's bpffs, so XDP and the TC guard stay attached and no
/// protected packet crosses; the test removes the stale pins itself.
#[test]
fn fail_closed_when_started_by_ip_netns_exec() {
    let t = Topology::new("st-netns", true).unwrap();
    let _east = Gateway::start("east", &t.east_gw, &east_config(), &[]).unwrap();
    let mut west = Gateway::launch(
        "west",
        &t.west_gw,
        &west_config(),
        &[],
        Launch::IpNetnsExec,
        &[],
    )
    .unwrap();
    west.wait_ready(Duration::from_secs(20)).unwrap();
    assert_eq!(
        t.ping(&t.west_lan, EAST_LAN_HOST, 3, 0.2).unwrap(),
        3,
        "{}",
        west.log()
    );
    let pins = std::path::PathBuf::from(format!("/sys/fs/bpf/ipsecgw/{}", west.instance));
    // Asserted after the kill: the leak is what matters.
    let pinned_in_host = pins.join("link_ipsec_tc_egress").exists();

    let cap = Capture::start(&t.east_gw, GW_OUTSIDE_IF, "icmp").unwrap();
    west.kill9().unwrap();
    let answered = t.ping(&t.west_lan, EAST_LAN_HOST, 5, 0.2).unwrap();
    // Control: cleartext the capture must see (not protected).
    t.ping(&t.west_gw, EAST_GW_OUTSIDE, 3, 0.2).unwrap();
    let lines = cap.stop();
    assert!(
        count_from_to(&lines, WEST_GW_OUTSIDE, EAST_GW_OUTSIDE) >= 3,
        "the capture works: {lines:?}"
    );
    assert!(
        leaks(&lines).is_empty(),
        "protected cleartext after kill -9 ({answered}/5 pings answered): {:?}",
        leaks(&lines)
    );
    assert!(
        pinned_in_host,
        "pinned in the host's bpffs:\n{}",
        west.log()
    );
    assert!(
        pins.join("link_ipsec_xdp_inside").exists(),
        "pins outlived the daemon"
    );

    // Started the same way again, it finds and takes over its pins, and an
    // orderly stop removes them from the host's bpffs.
    west.restart().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.ping(&t.west_lan, EAST_LAN_HOST, 1, 0.2).unwrap() != 1 {
        assert!(
            Instant::now() < deadline,
            "no tunnel after the restart:\n{}",
            west.log()
        );
    }
    assert!(
        west.log().contains("pinning in the host's bpffs"),
        "{}",
        west.log()
    );
    west.stop().unwrap();
    assert!(
        !pins.exists(),
        "the daemon removed its pins at orderly exit"
    );
    drop(west);
}

/// `--pin-root` must be a bpffs that outlives the daemon: a plain
/// directory, or a bpffs mounted inside `ip netns exec`'s private mount
/// namespace, is refused with one line naming the flag, before anything
/// is attached; `--no-persistent-guard` accepts the private one.
#[test]
fn pin_root_that_would_die_with_the_daemon_is_refused() {
    let t = Topology::new("st-pinroot", false).unwrap();
    let dir = Scratch::new("st-pinroot");
    let conf = dir.file("gateway.conf", &west_config());
    let control = dir.path().join("control.sock");
    // A private bpffs: mounted in the mount namespace `ip netns exec` made
    // (mounts there do not propagate to the host), then the daemon.
    let run = |pin_root: &str, extra: &[&str]| {
        let mut c = std::process::Command::new("ip");
        c.args(["netns", "exec", &t.west_gw, "sh", "-c"])
            .arg("mount -t bpf bpf /sys/fs/bpf && exec \"$0\" \"$@\"")
            .arg(harness::gateway::ipsecgw_bin())
            .args(["run", "--config"])
            .arg(&conf)
            .arg("--control")
            .arg(&control)
            .args(["--instance", "pinroot", "--pin-root", pin_root])
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c
    };
    let not_bpffs = dir.path().join("pins");
    let out = run_bounded(&mut run(not_bpffs.to_str().unwrap(), &[]), LIMIT);
    assert!(!not_bpffs.exists(), "nothing created off bpffs");
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or("");
    assert!(!out.status.success(), "refused: {err}");
    assert!(
        last.contains("--pin-root") && last.contains("not on a bpffs"),
        "one-line reason: {err}"
    );

    let out = run_bounded(&mut run("/sys/fs/bpf/ipsecgw", &[]), LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or("");
    assert!(!out.status.success(), "refused: {err}");
    assert!(
        last.contains("--pin-root") && last.contains("--no-persistent-guard"),
        "one-line reason: {err}"
    );
    let lan =
        sh(std::process::Command::new("ip").args(["-n", &t.west_gw, "link", "show", GW_INSIDE_IF]))
            .unwrap();
    assert!(
        !String::from_utf8_lossy(&lan.stdout).contains("xdp"),
        "nothing attached by a refused start"
    );

    // Told so, it runs on the private bpffs.
    let mut child = run("/sys/fs/bpf/ipsecgw", &["--no-persistent-guard"]);
    let mut child = child.stderr(std::process::Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !control.exists() {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("exited ({st}) despite --no-persistent-guard");
        }
        assert!(Instant::now() < deadline, "not ready in 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        terminate(&mut child, Duration::from_secs(10)),
        "stops on SIGTERM"
    );
}
