//! Traffic through two ipsecgw gateways, seen from the wire: iperf3 TCP
//! with per-SA counters that add up on both sides, a capture that holds
//! only IKE and ESP, a rekey in the middle of a transfer, replayed and
//! tampered ESP dropped by the receiver, and every ESP transform family
//! passing pings.
//!
//! The gateways' wire is spliced through a bridge a capture can watch
//! (`harness::wire`: why ESP is invisible on `wan0` itself).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use harness::capture::PcapCapture as Capture;
use harness::config::{EAST_LAN, GatewayConfig, WEST_LAN};
use harness::counters::{Counters, SA_TRAFFIC, only_sa, sa_traffic, value_delta};
use harness::gateway::{Gateway, in_netns, num};
use harness::netns::{Netns, spawn_in};
use harness::process::{Proc, Scratch};
use harness::topology::*;
use harness::wire::{Kind, MID_EAST, MID_WEST, classify, splice_bridge};
use serde_json::Value;

const PSK: &str = "e2e-traffic-psk-5678";

// ---------------------------------------------------------------- setup

const POLICY: &str =
    " authentication pre-share\n encryption aes-256\n hash sha\n group 14\n lifetime 86400\n";

/// One side's configuration: AES-256/SHA-1/group 14 with a chosen
/// transform set and extra crypto-map lines (lifetimes).
fn config(local_lan: &str, remote_lan: &str, peer: &str, transform: &str, extra: &str) -> String {
    let mut c = GatewayConfig::seed(local_lan, remote_lan, peer, PSK)
        .with_transform_set("TS", transform, true);
    c.policy = Some(POLICY.into());
    c.map_lines = extra.into();
    c.render()
}

/// Two gateways over a bridge. Fields drop in order: daemons first, then
/// the mid namespace, then the four topology namespaces.
struct Net {
    west: Gateway,
    east: Gateway,
    mid: Netns,
    t: Topology,
}

fn net(tag: &str, transform: &str, extra: &str) -> Net {
    let t = Topology::new(tag, false).unwrap();
    let mid = splice_bridge(&t).unwrap();
    let east = Gateway::start(
        "east",
        &t.east_gw,
        &config(EAST_LAN, WEST_LAN, WEST_GW_OUTSIDE, transform, extra),
        &[],
    )
    .unwrap();
    let west = Gateway::start(
        "west",
        &t.west_gw,
        &config(WEST_LAN, EAST_LAN, EAST_GW_OUTSIDE, transform, extra),
        &[],
    )
    .unwrap();
    Net { west, east, mid, t }
}

impl Net {
    fn logs(&self) -> String {
        format!(
            "--- west log:\n{}\n--- east log:\n{}",
            self.west.log(),
            self.east.log()
        )
    }

    /// Pings west-lan -> east-lan until the tunnel carries them.
    fn raise_tunnel(&self) {
        let got = self
            .t
            .ping(&self.t.west_lan, EAST_LAN_HOST, 3, 0.2)
            .unwrap();
        assert_eq!(got, 3, "tunnel up, pings answer\n{}", self.logs());
        self.west.wait_ipsec_sa(Duration::from_secs(3)).unwrap();
        self.east.wait_ipsec_sa(Duration::from_secs(3)).unwrap();
    }
}

// ----------------------------------------------------------- injection

/// Sends whole Ethernet frames out of `ifname` in `netns` through an
/// AF_PACKET raw socket (opened by a thread that joined the namespace).
fn inject(netns: &str, ifname: &str, frames: &[Vec<u8>]) -> Result<()> {
    let (ifname, frames) = (ifname.to_string(), frames.to_vec());
    let ns = netns.to_string();
    spawn_in(netns, move || -> Result<()> {
        // SAFETY: plain syscalls on valid fds and initialised structs.
        unsafe {
            // Protocol 0: this socket sends only, it receives nothing.
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
            ensure!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(fd);
            let name = std::ffi::CString::new(ifname.clone())?;
            let index = libc::if_nametoindex(name.as_ptr());
            ensure!(index != 0, "no interface {ifname} in {ns}");
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_ifindex = index as i32;
            ensure!(
                libc::bind(
                    fd.as_raw_fd(),
                    &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                ) == 0,
                "bind: {}",
                std::io::Error::last_os_error()
            );
            for f in &frames {
                let n = libc::send(fd.as_raw_fd(), f.as_ptr().cast(), f.len(), 0);
                ensure!(
                    n == f.len() as isize,
                    "send: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
        Ok(())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("injector thread panicked"))?
}

// ------------------------------------------------------------- counters

/// Waits until the counters of both gateways stop moving (in-flight
/// packets landed), then returns them.
fn settled(n: &Net) -> (Value, Value) {
    let mut v = harness::counters::settled(&[&n.west, &n.east]).into_iter();
    (v.next().unwrap(), v.next().unwrap())
}

/// The packet and error counters of an SA (what moves with traffic; not
/// the remaining lifetime, which moves with the clock).
fn counters(v: &Value) -> Vec<u64> {
    debug_assert_eq!(SA_TRAFFIC.len(), 10);
    sa_traffic(v)
}

/// `after - before` of one counter of an SA.
fn delta(after: &Value, before: &Value, k: &str) -> u64 {
    value_delta(before, after, k)
}

/// One `Icmp:` counter of a namespace's /proc/net/snmp (`InEchos`...).
fn icmp_counter(ns: &str, name: &str) -> u64 {
    Counters::snmp(ns, "Icmp").unwrap()[name]
}

// ---------------------------------------------------------------- iperf

/// Runs an iperf3 TCP test west-lan -> east-lan for `secs` and returns its
/// JSON report (`iperf3 -J`).
fn iperf(n: &Net, secs: u32, extra: &[&str]) -> Value {
    let _server = Proc::spawn_in(
        &n.t.east_lan,
        "iperf3",
        &["-s", "-1", "-B", EAST_LAN_HOST],
        Stdio::null(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out =
            n.t.exec(&n.t.east_lan, "ss")
                .args(["-Hltn", "sport = :5201"])
                .output()
                .unwrap();
        if !out.stdout.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "iperf3 server did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut cmd = Command::new("timeout");
    in_netns(&mut cmd, &n.t.west_lan).unwrap();
    let limit = (secs + 20).to_string();
    let t = secs.to_string();
    let out = cmd
        .args([&limit, "iperf3", "-c", EAST_LAN_HOST, "-t", &t, "-J"])
        .args(extra)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "iperf3 gave no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    if v.get("error").is_some() {
        let per_second: Vec<String> = v["intervals"]
            .as_array()
            .map(|a| a.iter().map(|i| format!("{}", i["sum"]["bytes"])).collect())
            .unwrap_or_default();
        panic!(
            "iperf3 failed: {}\nbytes per interval: {per_second:?}\nwest SAs {:?}\neast SAs {:?}\nwest dataplane {}\neast dataplane {}\n{}",
            v["error"],
            n.west.ipsec_sas(),
            n.east.ipsec_sas(),
            n.west.cli(&["show", "dataplane"]).unwrap_or_default(),
            n.east.cli(&["show", "dataplane"]).unwrap_or_default(),
            n.logs()
        );
    }
    v
}

fn iperf_bytes(v: &Value) -> (u64, u64) {
    let s = v["end"]["sum_sent"]["bytes"].as_u64().expect("sum_sent");
    let r = v["end"]["sum_received"]["bytes"]
        .as_u64()
        .expect("sum_received");
    (s, r)
}

// ---------------------------------------------------------------- tests

/// 1. iperf3 TCP through the tunnel; the counters on both sides equal the
///    traffic that crossed.
#[test]
fn iperf_tcp_counters_match_on_both_sides() {
    let n = net("e2e-iperf", "esp-aes esp-sha-hmac", "");
    n.raise_tunnel();
    let (w0, e0) = settled(&n);

    // The wire's view, to tell where a packet went missing if one does.
    let dir = Scratch::new("e2e-iperf");
    let cap = Capture::start(n.mid.name(), MID_WEST, dir.path(), "esp", &["esp"]).unwrap();
    let report = iperf(&n, 3, &[]);
    let (sent, received) = iperf_bytes(&report);
    assert!(sent > 0 && received > 0, "iperf3 moved data: {report}");
    let (w1, e1) = settled(&n);
    let frames = cap.stop().unwrap();
    let on_wire = |from: [u8; 4]| {
        frames
            .iter()
            .filter(|f| matches!(classify(f), Kind::Esp { src, .. } if src == from))
            .count()
    };
    let link = |ns: &str, dev: &str| {
        let o =
            n.t.exec(ns, "ip")
                .args(["-s", "link", "show", dev])
                .output()
                .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let wire = format!(
        "ESP frames seen on the wire: west->east {}, east->west {}\nwest dataplane:\n{}\neast dataplane:\n{}\nwest wan0 {}\neast wan0 {}\nmid te {}",
        on_wire([192, 0, 2, 1]),
        on_wire([192, 0, 2, 2]),
        n.west.cli(&["show", "dataplane"]).unwrap_or_default(),
        n.east.cli(&["show", "dataplane"]).unwrap_or_default(),
        link(&n.t.west_gw, "wan0"),
        link(&n.t.east_gw, "wan0"),
        link(n.mid.name(), MID_EAST),
    );

    // What west encapsulated is exactly what east decapsulated, both ways.
    let we = delta(&w1, &w0, "pkts_encaps");
    let ed = delta(&e1, &e0, "pkts_decaps");
    let ee = delta(&e1, &e0, "pkts_encaps");
    let wd = delta(&w1, &w0, "pkts_decaps");
    assert_eq!(we, ed, "west->east packets; {wire}\nwest {w1}\neast {e1}");
    assert_eq!(ee, wd, "east->west packets; {wire}\nwest {w1}\neast {e1}");
    assert_eq!(
        delta(&w1, &w0, "bytes_encaps"),
        delta(&e1, &e0, "bytes_decaps")
    );
    assert_eq!(
        delta(&e1, &e0, "bytes_encaps"),
        delta(&w1, &w0, "bytes_decaps")
    );
    // The data really went through the tunnel: inner IP bytes carried
    // west->east cover the TCP payload the server received, in at least
    // one packet per 1500 bytes. (iperf3's `sum_sent` counts writes into
    // the socket, which may end with data still buffered.)
    assert!(
        delta(&w1, &w0, "bytes_encaps") >= received,
        "{received} bytes received ({sent} sent), tunnel carried {w1}"
    );
    assert!(we >= received / 1500, "{we} packets for {received} bytes");
    assert!(ee > 0, "ACKs came back through the tunnel");
    for (who, v) in [("west", &w1), ("east", &e1)] {
        assert_eq!(num(v, "recv_errors"), 0, "{who}: {v}");
        assert_eq!(num(v, "send_errors"), 0, "{who}: {v}");
    }
}

/// 2. Between the gateways there is only IKE and ESP: no frame shows an
///    address of a protected LAN, and the ESP is really there.
#[test]
fn wire_holds_only_ike_and_esp() {
    let t = Topology::new("e2e-wire", false).unwrap();
    let mid = splice_bridge(&t).unwrap();
    let dir = Scratch::new("e2e-wire");
    // Capture from before the daemons start: IKE included.
    let cap = Capture::start(mid.name(), MID_WEST, dir.path(), "wire", &[]).unwrap();
    // And on west's own wan0: what the kernel stack of the gateway sends
    // (IKE, ARP, and any cleartext it might leak) passes its taps.
    let cap_wan0 = Capture::start(&t.west_gw, GW_OUTSIDE_IF, dir.path(), "wan0", &[]).unwrap();
    let transform = "esp-3des esp-sha-hmac";
    let east = Gateway::start(
        "east",
        &t.east_gw,
        &config(EAST_LAN, WEST_LAN, WEST_GW_OUTSIDE, transform, ""),
        &[],
    )
    .unwrap();
    let west = Gateway::start(
        "west",
        &t.west_gw,
        &config(WEST_LAN, EAST_LAN, EAST_GW_OUTSIDE, transform, ""),
        &[],
    )
    .unwrap();
    let n = Net { west, east, mid, t };
    n.raise_tunnel();
    let report = iperf(&n, 2, &[]);
    assert!(iperf_bytes(&report).0 > 0);
    let got = n.t.ping(&n.t.east_lan, WEST_LAN_HOST, 3, 0.2).unwrap();
    assert_eq!(got, 3, "pings east -> west");
    let frames = cap.stop().unwrap();
    let wan0_frames = cap_wan0.stop().unwrap();
    let mut wan0_ike = 0;
    for f in &wan0_frames {
        match classify(f) {
            Kind::Ike => wan0_ike += 1,
            Kind::Other(why) => panic!("unexpected frame on west's wan0: {why}"),
            _ => {}
        }
    }
    assert!(
        wan0_ike >= 9,
        "west's wan0 saw the IKE exchange: {wan0_ike}"
    );

    let (mut ike, mut esp_w, mut esp_e) = (0, 0, 0);
    let mut spis = std::collections::HashSet::new();
    for f in &frames {
        match classify(f) {
            Kind::Ike => ike += 1,
            Kind::Esp { src, spi, .. } => {
                spis.insert(spi);
                if src == [192, 0, 2, 1] {
                    esp_w += 1
                } else {
                    esp_e += 1
                }
            }
            Kind::Arp | Kind::Igmp | Kind::Ipv6 | Kind::NatKeepalive => {}
            Kind::Other(why) => panic!("unexpected frame on the wire: {why}"),
        }
    }
    assert!(ike >= 9, "main mode + quick mode seen: {ike} IKE frames");
    let (w, e) = (only_sa(&n.west), only_sa(&n.east));
    // (tcpdump may drop frames under iperf3 load, so no equality here.)
    assert!(
        esp_w > 100,
        "iperf3 data crossed as ESP: {esp_w} frames, {w}"
    );
    assert!(esp_e > 3, "replies crossed as ESP: {esp_e} frames, {e}");
    let expected: std::collections::HashSet<u32> =
        [num(&w, "outbound_spi"), num(&w, "inbound_spi")]
            .into_iter()
            .map(|s| s as u32)
            .collect();
    assert_eq!(spis, expected, "ESP carries exactly the negotiated SPIs");
}

/// 3. A rekey in the middle of an iperf3 run. The smallest seconds
///    lifetime the config accepts is 120 (ASA's minimum; rekey at 85-95%,
///    past 100 s), so the rekey is forced by volume instead:
///    `kilobytes 5000` rekeys at 90% (4.5 MB), which a 4 Mbit/s transfer
///    reaches after about 9 s. The transfer must not notice.
#[test]
fn rekey_during_iperf_is_seamless() {
    let n = net(
        "e2e-rekey",
        "esp-aes esp-sha-hmac",
        "crypto map OUTSIDE_MAP 10 set security-association lifetime seconds 3600 kilobytes 5000\n",
    );
    n.raise_tunnel();
    let w0 = only_sa(&n.west);
    let e0 = only_sa(&n.east);
    assert_eq!(
        num(&w0, "remaining_kb"),
        5000 - num(&w0, "bytes_encaps") / 1024
    );

    let report = iperf(&n, 12, &["-b", "4M"]);
    let (sent, received) = iperf_bytes(&report);
    let retransmits = report["end"]["sum_sent"]["retransmits"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        sent > 5_000 * 1024,
        "the transfer outlasts the kilobyte lifetime: {sent}"
    );
    assert_eq!(sent, received, "every byte sent arrived");
    assert!(retransmits <= 10, "no retransmission storm: {retransmits}");

    // A new SPI pair, agreed by both sides, now carries the traffic.
    let (old_in, old_out) = (num(&w0, "inbound_spi"), num(&w0, "outbound_spi"));
    let w: Vec<Value> = n.west.ipsec_sas();
    let e: Vec<Value> = n.east.ipsec_sas();
    let fresh = w
        .iter()
        .find(|s| num(s, "inbound_spi") != old_in && num(s, "outbound_spi") != old_out)
        .unwrap_or_else(|| panic!("no new SPI pair on west: {w:?}\n{}", n.logs()));
    assert!(
        e.iter()
            .any(|s| num(s, "inbound_spi") == num(fresh, "outbound_spi")
                && num(s, "outbound_spi") == num(fresh, "inbound_spi")),
        "east has the same new pair: {e:?}"
    );
    assert!(
        num(fresh, "pkts_encaps") > 0,
        "the new SA carried traffic: {fresh}"
    );
    assert!(num(&e0, "inbound_spi") == old_out);
    for (who, list) in [("west", &w), ("east", &e)] {
        for s in list {
            assert_eq!(num(s, "recv_errors"), 0, "{who}: {s}");
        }
    }
    // Still a single phase-1 SA: quick mode rekeyed under it.
    let isakmp = n
        .west
        .cli_json(&["show", "crypto", "isakmp", "sa"])
        .unwrap();
    let p1 = isakmp.as_array().unwrap();
    assert_eq!(p1.len(), 1, "{isakmp}");
    assert_eq!(p1[0]["state"], "MM_ACTIVE");
    assert_eq!(p1[0]["active"], true);
    let isakmp = n
        .east
        .cli_json(&["show", "crypto", "isakmp", "sa"])
        .unwrap();
    assert_eq!(isakmp.as_array().unwrap().len(), 1, "{isakmp}");
}

/// Polls `show crypto ipsec sa` on `gw` until `ok` holds for its only SA.
fn wait_sa(gw: &Gateway, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let v = only_sa(gw);
        if ok(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{}: {what}: {v}", gw.name);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// West's ESP frames in a capture.
fn esp_from_west(frames: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    frames
        .into_iter()
        .filter(|f| {
            matches!(
                classify(f),
                Kind::Esp {
                    src: [192, 0, 2, 1],
                    ..
                }
            )
        })
        .collect()
}

/// Classic BPF for `tc ... bpf da`: drop IPv4 protocol 50, pass the rest
/// (ARP and IKE keep flowing).
const TC_DROP_ESP: &str = "6,40 0 0 12,21 0 3 2048,48 0 0 23,21 0 1 50,6 0 0 2,6 0 0 0,";

/// 5. ESP injected again from west's wire is dropped by east's anti-replay
///    window; a frame with one flipped ciphertext bit fails authentication;
///    neither reaches east-lan. The untampered original of the fresh frame
///    is then accepted once, so the injection path itself is proven.
#[test]
fn replayed_and_tampered_esp_is_dropped() {
    let n = net("e2e-replay", "esp-aes esp-sha-hmac", "");
    let dir = Scratch::new("e2e-replay");
    let west_esp = ["esp", "and", "src", "host", WEST_GW_OUTSIDE];
    let cap = Capture::start(n.mid.name(), MID_WEST, dir.path(), "seen", &west_esp).unwrap();
    n.raise_tunnel();
    let seen = esp_from_west(cap.stop().unwrap());
    assert!(seen.len() >= 3, "captured west's ESP: {}", seen.len());
    let e0 = settled(&n).1;
    let echos0 = icmp_counter(&n.t.east_lan, "InEchos");

    // Replay: three frames east has already accepted.
    inject(&n.t.west_gw, GW_OUTSIDE_IF, &seen[..3]).unwrap();
    let base = num(&e0, "replay_drops");
    let e1 = wait_sa(&n.east, "three replay drops", |v| {
        num(v, "replay_drops") >= base + 3
    });
    std::thread::sleep(Duration::from_millis(300));
    let e1b = only_sa(&n.east);
    assert_eq!(counters(&e1), counters(&e1b), "nothing more moved: {e1b}");
    assert_eq!(delta(&e1, &e0, "replay_drops"), 3, "{e1}");
    assert_eq!(delta(&e1, &e0, "recv_errors"), 3, "{e1}");
    assert_eq!(delta(&e1, &e0, "pkts_decaps"), 0, "{e1}");
    assert_eq!(delta(&e1, &e0, "auth_failures"), 0, "{e1}");
    assert_eq!(icmp_counter(&n.t.east_lan, "InEchos"), echos0);

    // Fresh frames east never saw: the bridge drops west's ESP, after
    // tcpdump (which runs ahead of tc ingress) has recorded it.
    let tc = |args: &[&str]| {
        let mut c = Command::new("tc");
        in_netns(&mut c, n.mid.name()).unwrap();
        sh(c.args(args)).unwrap();
    };
    tc(&["qdisc", "add", "dev", MID_WEST, "clsact"]);
    tc(&[
        "filter",
        "add",
        "dev",
        MID_WEST,
        "ingress",
        "bpf",
        "da",
        "bytecode",
        TC_DROP_ESP,
    ]);
    let cap = Capture::start(n.mid.name(), MID_WEST, dir.path(), "fresh", &west_esp).unwrap();
    let got = n.t.ping(&n.t.west_lan, EAST_LAN_HOST, 2, 0.2).unwrap();
    let fresh = esp_from_west(cap.stop().unwrap());
    tc(&["qdisc", "del", "dev", MID_WEST, "clsact"]);
    assert_eq!(got, 0, "the bridge dropped the pings");
    assert_eq!(fresh.len(), 2, "both pings captured as ESP");
    let e2 = only_sa(&n.east);
    assert_eq!(counters(&e2), counters(&e1), "east saw none of them: {e2}");

    // Tamper: one bit inside the ciphertext (Ethernet 14, IPv4 20, ESP
    // header 8, AES-CBC IV 16, then 5 bytes in).
    let mut bad = fresh[0].clone();
    bad[14 + 20 + 8 + 16 + 5] ^= 0x10;
    inject(&n.t.west_gw, GW_OUTSIDE_IF, &[bad]).unwrap();
    let e3 = wait_sa(&n.east, "an authentication failure", |v| {
        num(v, "auth_failures") > num(&e2, "auth_failures")
    });
    std::thread::sleep(Duration::from_millis(300));
    let e3 = only_sa(&n.east).max_by_counter(&e3);
    assert_eq!(delta(&e3, &e2, "auth_failures"), 1, "{e3}");
    assert_eq!(delta(&e3, &e2, "recv_errors"), 1, "{e3}");
    assert_eq!(delta(&e3, &e2, "pkts_decaps"), 0, "nothing decrypted: {e3}");
    assert_eq!(
        delta(&e3, &e2, "pkts_decrypt"),
        0,
        "nothing decrypted: {e3}"
    );
    assert_eq!(delta(&e3, &e2, "replay_drops"), 0, "{e3}");
    assert_eq!(icmp_counter(&n.t.east_lan, "InEchos"), echos0);

    // The same frame untampered: accepted (the failed one did not move
    // the window), delivered, answered.
    inject(&n.t.west_gw, GW_OUTSIDE_IF, &fresh[..1]).unwrap();
    let e4 = wait_sa(&n.east, "the untampered frame decapsulated", |v| {
        num(v, "pkts_decaps") > num(&e3, "pkts_decaps")
    });
    assert_eq!(delta(&e4, &e3, "pkts_decaps"), 1, "{e4}");
    assert_eq!(delta(&e4, &e3, "recv_errors"), 0, "{e4}");
    let deadline = Instant::now() + Duration::from_secs(3);
    while icmp_counter(&n.t.east_lan, "InEchos") == echos0 {
        assert!(Instant::now() < deadline, "east-lan got the echo request");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(icmp_counter(&n.t.east_lan, "InEchos"), echos0 + 1);
}

trait MaxByCounter {
    fn max_by_counter(self, other: &Value) -> Value;
}

impl MaxByCounter for Value {
    /// The later of two reads (counters only grow).
    fn max_by_counter(self, other: &Value) -> Value {
        if num(&self, "recv_errors") >= num(other, "recv_errors") {
            self
        } else {
            other.clone()
        }
    }
}

/// 6. Each ESP transform family carries pings both ways between two
///    ipsecgw gateways, with matching counters.
fn transform_passes_pings(tag: &str, transform: &str) {
    let n = net(tag, transform, "");
    let got = n.t.ping(&n.t.west_lan, EAST_LAN_HOST, 5, 0.2).unwrap();
    assert_eq!(got, 5, "{transform}: west -> east\n{}", n.logs());
    let got = n.t.ping(&n.t.east_lan, WEST_LAN_HOST, 3, 0.2).unwrap();
    assert_eq!(got, 3, "{transform}: east -> west\n{}", n.logs());
    let (w, e) = settled(&n);
    assert_eq!(w["transform"], transform, "{w}");
    assert_eq!(e["transform"], transform, "{e}");
    for (gw, v) in [("west", &w), ("east", &e)] {
        assert_eq!(num(v, "pkts_encaps"), 8, "{gw}: {v}");
        assert_eq!(num(v, "pkts_decaps"), 8, "{gw}: {v}");
        assert_eq!(num(v, "recv_errors"), 0, "{gw}: {v}");
    }
    assert_eq!(num(&w, "outbound_spi"), num(&e, "inbound_spi"));
}

#[test]
fn transform_3des_sha1() {
    transform_passes_pings("e2e-3des", "esp-3des esp-sha-hmac");
}

#[test]
fn transform_aes128_sha1() {
    transform_passes_pings("e2e-aes128", "esp-aes esp-sha-hmac");
}

#[test]
fn transform_aes256_gcm() {
    transform_passes_pings("e2e-gcm", "esp-aes-gcm-256");
}

#[test]
fn transform_chacha20_poly1305() {
    transform_passes_pings("e2e-chacha", "esp-chacha20-poly1305");
}

/// 3b. The same by time, at the shortest lifetime the config accepts
///     (120 s; the initiator rekeys at 85-90% of it): pings every 0.5 s
///     for 118 s all answer across the rekey. Slow, so not run by default:
///     `cargo test -p ipsecgw-tests --test e2e_traffic -- --ignored`.
#[test]
#[ignore = "takes two minutes"]
fn rekey_by_time_keeps_pings_flowing() {
    let n = net(
        "e2e-rekey-time",
        "esp-aes esp-sha-hmac",
        "crypto map OUTSIDE_MAP 10 set security-association lifetime seconds 120\n",
    );
    n.raise_tunnel();
    let w0 = only_sa(&n.west);
    let got = n.t.ping(&n.t.west_lan, EAST_LAN_HOST, 236, 0.5).unwrap();
    assert!(
        got >= 235,
        "pings across the rekey: {got} of 236\n{}",
        n.logs()
    );
    let w = n.west.ipsec_sas();
    let fresh = w
        .iter()
        .find(|s| num(s, "inbound_spi") != num(&w0, "inbound_spi"))
        .unwrap_or_else(|| panic!("no new SPI pair: {w:?}\n{}", n.logs()));
    assert!(num(fresh, "pkts_encaps") > 0, "{fresh}");
    assert!(num(fresh, "remaining_s") > 100, "{fresh}");
    let isakmp = n
        .west
        .cli_json(&["show", "crypto", "isakmp", "sa"])
        .unwrap();
    assert_eq!(isakmp.as_array().unwrap().len(), 1, "{isakmp}");
}
