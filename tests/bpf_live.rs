//! The data plane on real veth interfaces in network namespaces: native
//! XDP, real ICMP and UDP, exact counters, BTF field names in bpftool, and
//! fail-closed behaviour after the loader is SIGKILLed. Needs root.
//!
//! Topology (harness::netns::GatewayTopology):
//! lan 198.51.100.10 -- in0 [gw] out0 -- 192.0.2.2 [wan] (203.0.113.10)
//! Protected: 198.51.100.0/24 -> 203.0.113.0/24 (selector 1).

use std::{
    io::{BufRead, BufReader, Read},
    net::{Ipv4Addr, UdpSocket},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use harness::netns::{GatewayTopology, Netns, enter_netns};
use ipsecgw::dataplane::{AclRule, Dataplane, DataplaneConfig, OutboundSaSpec, Verdict, XdpMode};

static N: AtomicUsize = AtomicUsize::new(0);

fn unique_pin_dir() -> PathBuf {
    DataplaneConfig::pin_dir_for(&format!(
        "test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Removes a pin directory on drop (a failed test must not leave pins).
struct PinGuard(PathBuf);
impl Drop for PinGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn protected_acl() -> Vec<AclRule> {
    vec![AclRule::permit_ip(
        1,
        (Ipv4Addr::new(198, 51, 100, 0), 24),
        (Ipv4Addr::new(203, 0, 113, 0), 24),
    )]
}

fn config(pin: &Path) -> DataplaneConfig {
    DataplaneConfig {
        inside_if: "in0".into(),
        outside_if: "out0".into(),
        xdp_mode: XdpMode::Native,
        pin_dir: pin.to_path_buf(),
    }
}

/// Sends `n` UDP datagrams from inside `ns` (optionally from `bind`).
fn send_udp(ns: &Netns, bind: &str, dst: &str, n: usize, gap: Duration) {
    let (bind, dst) = (bind.to_string(), dst.to_string());
    ns.enter(move || {
        let s = UdpSocket::bind(&bind).expect("bind");
        for _ in 0..n {
            // Drops by the guard may surface as send errors: ignore them.
            let _ = s.send_to(b"secret cleartext", &dst);
            std::thread::sleep(gap);
        }
    })
    .unwrap();
}

#[test]
fn live_counters_punts_and_bpftool() {
    let topo = GatewayTopology::new("live").unwrap();
    let pin = unique_pin_dir();
    let _guard = PinGuard(pin.clone());
    let cfg = config(&pin);
    let mut dp = topo
        .gw
        .enter(move || Dataplane::load(cfg))
        .unwrap()
        .expect("load data plane");
    dp.set_acl(&protected_acl()).unwrap();
    let links = topo.gw.ip(&["link", "show", "in0"]).unwrap();
    assert!(
        links.contains("xdp"),
        "XDP attached natively on in0: {links}"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut punts = rt.block_on(async { dp.punt_events() }).unwrap();

    let before = dp.counters().unwrap();
    // Unprotected: 5 pings through the gateway.
    topo.lan
        .exec("ping", &["-c", "5", "-i", "0.2", "-W", "2", "192.0.2.2"])
        .expect("ping through gw");
    // Protected, no SA: 7 datagrams held (dropped, no socket), 5 punted
    // (default burst), 2 rate-limited.
    send_udp(
        &topo.lan,
        "198.51.100.10:0",
        "203.0.113.10:9999",
        7,
        Duration::from_millis(5),
    );
    // From the gateway itself, sourced in the protected subnet: the TC
    // guard on out0 drops it.
    send_udp(
        &topo.gw,
        "198.51.100.1:0",
        "203.0.113.10:9999",
        3,
        Duration::from_millis(5),
    );
    std::thread::sleep(Duration::from_millis(300));
    let d = dp.counters().unwrap().since(&before);
    let got = d.nonzero();
    assert_eq!(d.get(Verdict::InNoMatchPass), 5, "{got:?}");
    assert_eq!(d.get(Verdict::OutOtherPass), 5, "{got:?}");
    assert_eq!(d.get(Verdict::TcOtherPass), 5, "{got:?}");
    assert_eq!(d.get(Verdict::InHoldNoSocketDrop), 7, "{got:?}");
    assert_eq!(d.get(Verdict::PuntSent), 5, "{got:?}");
    assert_eq!(d.get(Verdict::PuntRateLimited), 2, "{got:?}");
    assert_eq!(d.get(Verdict::TcProtectedDrop), 3, "{got:?}");
    assert_eq!(
        d.get(Verdict::InEncryptRedirect) + d.get(Verdict::InHoldRedirect),
        0
    );

    for _ in 0..5 {
        let ev = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(2), punts.recv()).await })
            .expect("punt event")
            .unwrap()
            .unwrap();
        assert_eq!(ev.kind, ipsecgw::dataplane::PuntKind::NoSa { selector: 1 });
        assert_eq!(
            (ev.src, ev.dst, ev.proto),
            (
                Ipv4Addr::new(198, 51, 100, 10),
                Ipv4Addr::new(203, 0, 113, 10),
                17
            )
        );
        assert_eq!(ev.ports.map(|p| p.1), Some(9999));
        assert!(ev.ifindex > 0);
    }
    assert!(punts.try_recv().is_none(), "exactly 5 events");

    // BTF: bpftool prints field names.
    dp.install_outbound_sa(
        1,
        OutboundSaSpec {
            sa_id: 4242,
            peer: Ipv4Addr::new(192, 0, 2, 2),
            local: Ipv4Addr::new(192, 0, 2, 1),
            natt: Some((4500, 4500)),
        },
    )
    .unwrap();
    let dump = Command::new("bpftool")
        .args(["map", "dump", "pinned"])
        .arg(pin.join("maps/OUT_SA"))
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout);
    for field in ["\"sa_id\": 4242", "\"peer\"", "\"natt_dport\": 4500"] {
        assert!(dump.contains(field), "{field} in {dump}");
    }
    let by_name = Command::new("bpftool")
        .args(["map", "dump", "name", "VERDICTS"])
        .output()
        .unwrap();
    assert!(by_name.status.success());
    let by_name = Command::new("bpftool")
        .args(["map", "dump", "name", "ACL_TUPLES"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&by_name.stdout).contains("\"min_index\""));

    dp.detach().unwrap();
    assert!(!pin.exists(), "pins removed on detach");
    let links = topo.gw.ip(&["link", "show", "in0"]).unwrap();
    assert!(!links.contains("xdp"), "XDP detached: {links}");
}

/// The TC guard with real sockets: UDP from the registered IKE socket (the
/// daemon's, on the outside address) passes as IKE; another local socket
/// bound to port 4500 on the inside address, sending protected cleartext
/// to the remote LAN, is dropped and never reaches the far side, whatever
/// its first bytes (an IKE non-ESP marker here).
#[test]
fn live_egress_guard_trusts_only_the_ike_sockets() {
    use std::os::fd::AsRawFd;
    let topo = GatewayTopology::new("ikesock").unwrap();
    let pin = unique_pin_dir();
    let _guard = PinGuard(pin.clone());
    let cfg = config(&pin);
    let mut dp = topo
        .gw
        .enter(move || Dataplane::load(cfg))
        .unwrap()
        .expect("load data plane");
    dp.set_acl(&protected_acl()).unwrap();
    let rx = topo
        .wan
        .enter(|| {
            let r = UdpSocket::bind("0.0.0.0:4500").expect("bind far side");
            r.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            r
        })
        .unwrap();
    let (ike, rogue) = topo
        .gw
        .enter(|| {
            (
                UdpSocket::bind("192.0.2.1:4500").expect("bind IKE"),
                UdpSocket::bind("198.51.100.1:4500").expect("bind rogue"),
            )
        })
        .unwrap();
    dp.set_ike_sockets(&[ike.as_raw_fd()]).unwrap();

    let before = dp.counters().unwrap();
    for _ in 0..3 {
        ike.send_to(b"\0\0\0\0ike from the daemon", "192.0.2.2:4500")
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..3 {
        // Drops by the guard may surface as send errors: ignore them.
        let _ = rogue.send_to(b"\0\0\0\0secret cleartext", "203.0.113.10:4500");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok((n, from)) = rx.recv_from(&mut buf) {
        got.push((from, buf[..n].to_vec()));
        if got.len() > 20 {
            break;
        }
    }
    let d = dp.counters().unwrap().since(&before);
    assert_eq!(d.get(Verdict::TcEspIkePass), 3, "{:?}", d.nonzero());
    assert_eq!(d.get(Verdict::TcProtectedDrop), 3, "{:?}", d.nonzero());
    let from_ike = got
        .iter()
        .filter(|(f, _)| f.to_string() == "192.0.2.1:4500")
        .count();
    assert_eq!(from_ike, 3, "the daemon's IKE crossed: {got:?}");
    assert!(
        !got.iter()
            .any(|(_, p)| p.windows(6).any(|w| w == b"secret")),
        "protected cleartext from a port-4500 socket crossed: {got:?}"
    );
    dp.detach().unwrap();
}

/// Child process for the SIGKILL test: joins the gateway namespace, loads
/// and pins the data plane, says READY, and waits to be killed.
#[test]
#[ignore]
fn live_loader_child() {
    let (Ok(ns), Ok(pin)) = (
        std::env::var("IPSECGW_LIVE_NETNS"),
        std::env::var("IPSECGW_LIVE_PIN"),
    ) else {
        return;
    };
    enter_netns(&ns).unwrap();
    let mut dp = Dataplane::load(config(Path::new(&pin))).unwrap();
    dp.set_acl(&protected_acl()).unwrap();
    println!("READY");
    // Bounded: the parent kills us long before this.
    std::thread::sleep(Duration::from_secs(60));
    std::process::exit(3);
}

/// Waits (bounded) for a line containing `needle` from `r`, on a thread.
fn wait_for_line<R: Read + Send + 'static>(r: R, needle: &'static str, timeout: Duration) -> bool {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if line.contains(needle) {
                let _ = tx.send(());
                return;
            }
        }
    });
    rx.recv_timeout(timeout).is_ok()
}

fn kill(child: &mut Child, sig: i32) {
    // SAFETY: signalling our own child by its PID.
    unsafe { libc::kill(child.id() as i32, sig) };
}

#[test]
fn live_fail_closed_after_sigkill() {
    let topo = GatewayTopology::new("kill").unwrap();
    let pin = unique_pin_dir();
    let _guard = PinGuard(pin.clone());

    let mut loader = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "live_loader_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("IPSECGW_LIVE_NETNS", topo.gw.path())
        .env("IPSECGW_LIVE_PIN", &pin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = loader.stdout.take().unwrap();
    if !wait_for_line(out, "READY", Duration::from_secs(30)) {
        kill(&mut loader, libc::SIGKILL);
        let _ = loader.wait();
        panic!("loader child did not get ready");
    }
    // Resolve neighbours with unprotected traffic first.
    topo.lan
        .exec("ping", &["-c", "2", "-i", "0.2", "-W", "2", "192.0.2.2"])
        .expect("ping through gw");

    let mut capture = topo
        .wan
        .spawn("tcpdump", &["-n", "-l", "-U", "-i", "eth0", "ip"])
        .unwrap();
    let cap_err = capture.stderr.take().unwrap();
    assert!(
        wait_for_line(cap_err, "listening on", Duration::from_secs(10)),
        "tcpdump started"
    );
    let cap_out = capture.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(cap_out)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });

    // Protected traffic flows from the LAN and from the gateway while the
    // loader is killed 300 ms in.
    let started = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            send_udp(
                &topo.lan,
                "198.51.100.10:0",
                "203.0.113.10:9999",
                150,
                Duration::from_millis(10),
            )
        });
        s.spawn(|| {
            send_udp(
                &topo.gw,
                "198.51.100.1:0",
                "203.0.113.10:9998",
                150,
                Duration::from_millis(10),
            )
        });
        std::thread::sleep(Duration::from_millis(300));
        kill(&mut loader, libc::SIGKILL);
        let status = loader.wait().unwrap();
        assert!(!status.success(), "loader was killed");
    });
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "traffic continued after the kill"
    );
    // The data path still works for unprotected traffic after the crash,
    // and proves the capture sees what crosses the wire.
    send_udp(
        &topo.lan,
        "198.51.100.10:0",
        "192.0.2.2:7777",
        3,
        Duration::from_millis(10),
    );
    std::thread::sleep(Duration::from_millis(300));
    kill(&mut capture, libc::SIGINT);
    let _ = capture.wait();
    let lines = lines.join().unwrap();
    let leaked: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("> 203.0.113."))
        .collect();
    assert!(
        leaked.is_empty(),
        "cleartext of protected subnets on the wire: {leaked:?}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| l.contains("> 192.0.2.2.7777"))
            .count()
            == 3,
        "capture saw the unprotected probes: {lines:?}"
    );

    // The pins survived the crash; a restart reuses them (the ACL is still
    // enforced before anyone sets it again) and then cleans up.
    for l in [
        "link_ipsec_xdp_inside",
        "link_ipsec_xdp_outside",
        "link_ipsec_tc_egress",
        "maps/ACL_RULES",
    ] {
        assert!(pin.join(l).exists(), "{l} still pinned");
    }
    let cfg = config(&pin);
    let dp = topo
        .gw
        .enter(move || Dataplane::load(cfg))
        .unwrap()
        .expect("reload over pins");
    let before = dp.counters().unwrap();
    assert!(
        before.get(Verdict::InHoldNoSocketDrop) >= 100,
        "counters kept: {:?}",
        before.nonzero()
    );
    assert!(
        before.get(Verdict::TcProtectedDrop) >= 100,
        "counters kept: {:?}",
        before.nonzero()
    );
    send_udp(
        &topo.lan,
        "198.51.100.10:0",
        "203.0.113.10:9999",
        4,
        Duration::from_millis(5),
    );
    std::thread::sleep(Duration::from_millis(200));
    let d = dp.counters().unwrap().since(&before);
    assert_eq!(d.get(Verdict::InHoldNoSocketDrop), 4, "{:?}", d.nonzero());
    dp.detach().unwrap();
    assert!(!pin.exists());
}

/// `ip -j link show` facts of an interface: (ifindex, MAC).
fn link_facts(ns: &Netns, ifname: &str) -> (u32, [u8; 6]) {
    let out = ns.ip(&["-j", "link", "show", ifname]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ifindex = v[0]["ifindex"].as_u64().unwrap() as u32;
    let mac: Vec<u8> = v[0]["address"]
        .as_str()
        .unwrap()
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    (ifindex, mac.try_into().unwrap())
}

/// 1 MiB, page-aligned, zeroed UMEM area (heap: too big for a stack).
struct UmemArea(std::ptr::NonNull<u8>);
const UMEM_LAYOUT: std::alloc::Layout = match std::alloc::Layout::from_size_align(1 << 20, 4096) {
    Ok(l) => l,
    Err(_) => panic!("layout"),
};
impl UmemArea {
    fn new() -> Self {
        // SAFETY: non-zero size layout.
        let p = unsafe { std::alloc::alloc_zeroed(UMEM_LAYOUT) };
        Self(std::ptr::NonNull::new(p).expect("alloc"))
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: we own the allocation; the kernel only writes frames we
        // read after the RX ring handed them over.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr(), UMEM_LAYOUT.size()) }
    }
    fn region(&self) -> std::ptr::NonNull<[u8]> {
        std::ptr::NonNull::slice_from_raw_parts(self.0, UMEM_LAYOUT.size())
    }
}
impl Drop for UmemArea {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with the same layout.
        unsafe { std::alloc::dealloc(self.0.as_ptr(), UMEM_LAYOUT) };
    }
}

/// A real AF_XDP socket in copy mode on veth: the XDP metadata
/// (`ipsec_common::XdpMeta`) arrives in UMEM just before the frame, with
/// the SA id and the kernel's route toward the peer.
#[test]
fn live_afxdp_metadata_reaches_userspace() {
    use std::num::NonZeroU32;
    use xdpilone::{BufIdx, IfInfo, Socket, SocketConfig, Umem, UmemConfig};

    let topo = GatewayTopology::new("xsk").unwrap();
    let pin = unique_pin_dir();
    let _guard = PinGuard(pin.clone());
    // The gateway must know the peer's MAC for a complete FIB answer.
    topo.gw
        .exec("ping", &["-c", "1", "-W", "2", "192.0.2.2"])
        .unwrap();
    let (out_ifindex, out_mac) = link_facts(&topo.gw, "out0");
    let (_, peer_mac) = link_facts(&topo.wan, "eth0");
    let lan = &topo.lan;

    let cfg = config(&pin);
    topo.gw
        .enter(move || {
            let mut dp = Dataplane::load(cfg).expect("load");
            dp.set_acl(&protected_acl()).unwrap();
            dp.install_outbound_sa(
                1,
                OutboundSaSpec {
                    sa_id: 99,
                    peer: Ipv4Addr::new(192, 0, 2, 2),
                    local: Ipv4Addr::new(192, 0, 2, 1),
                    natt: None,
                },
            )
            .unwrap();

            let area = UmemArea::new();
            let mem = area.region();
            // SAFETY: `area` outlives the Umem and its sockets (dropped
            // at the end of this closure, after them).
            let umem = unsafe { Umem::new(UmemConfig::default(), mem) }.unwrap();
            let mut info = IfInfo::invalid();
            info.from_name(c"in0").unwrap();
            info.set_queue(0);
            let sock = Socket::with_shared(&info, &umem).unwrap();
            let mut device = umem.fq_cq(&sock).unwrap();
            let rxtx = umem
                .rx_tx(
                    &sock,
                    &SocketConfig {
                        rx_size: NonZeroU32::new(64),
                        tx_size: None,
                        // Copy mode is all veth offers (zero-copy: EOPNOTSUPP).
                        bind_flags: SocketConfig::XDP_BIND_NEED_WAKEUP | (1 << 1),
                    },
                )
                .unwrap();
            let mut rx = rxtx.map_rx().unwrap();
            umem.bind(&rxtx).unwrap();
            {
                let mut fill = device.fill(32);
                let offsets = (0..32).map(|i| umem.frame(BufIdx(i)).unwrap().offset);
                assert_eq!(fill.insert(offsets), 32);
                fill.commit();
            }
            dp.register_xsk(ipsecgw::dataplane::Side::Inside, 0, rxtx.as_raw_fd())
                .unwrap();

            send_udp(
                lan,
                "198.51.100.10:0",
                "203.0.113.10:9999",
                3,
                Duration::from_millis(20),
            );

            let mut frames = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(3);
            while frames.len() < 3 && Instant::now() < deadline {
                let mut r = rx.receive(16);
                while let Some(desc) = r.read() {
                    let (a, l) = (desc.addr as usize, desc.len as usize);
                    let meta_bytes = area.bytes()[a - ipsec_common::XDP_META_SIZE..a].to_vec();
                    frames.push((meta_bytes, area.bytes()[a..a + l].to_vec()));
                }
                r.release();
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!(frames.len(), 3, "three frames on the AF_XDP socket");
            for (meta_bytes, frame) in &frames {
                let m = ipsecgw::dataplane::meta::decode(meta_bytes)
                    .expect("metadata before the frame");
                assert_eq!(m.l3_offset, 14);
                match m.verdict {
                    ipsecgw::dataplane::FrameVerdict::Encrypt {
                        sa_id,
                        route,
                        fib_rc,
                    } => {
                        assert_eq!((sa_id, fib_rc), (99, 0));
                        let r = route.expect("route toward the peer");
                        assert_eq!(
                            (r.ifindex, r.smac, r.dmac),
                            (out_ifindex, out_mac, peer_mac)
                        );
                    }
                    v => panic!("{v:?}"),
                }
                assert_eq!(&frame[14 + 16..14 + 20], &[203, 0, 113, 10]);
                assert!(frame.ends_with(b"secret cleartext"));
            }
            let c = dp.counters().unwrap();
            assert_eq!(c.get(Verdict::InEncryptRedirect), 3, "{:?}", c.nonzero());
            assert_eq!(dp.sa_counters(99).unwrap().packets, 3);
            drop(rx);
            drop(rxtx);
            drop(device);
            drop(sock);
            drop(umem);
            dp.detach().unwrap();
            drop(area);
        })
        .unwrap();
}

/// The four-namespace topology the integration tests build on routes
/// end to end (no data plane loaded) and is removed on drop.
#[test]
fn harness_l2l_topology_routes_and_cleans_up() {
    use harness::topology::{EAST_LAN_HOST, Topology, WEST_LAN_HOST, sh};
    let names: Vec<String>;
    {
        let t = Topology::new("harness", true).unwrap();
        sh(t.exec(&t.west_lan, "ping")
            .args(["-c", "1", "-W", "2", EAST_LAN_HOST]))
        .expect("west-lan -> east-lan");
        sh(t.exec(&t.east_lan, "ping")
            .args(["-c", "1", "-W", "2", WEST_LAN_HOST]))
        .expect("east-lan -> west-lan");
        names = [&t.west_lan, &t.west_gw, &t.east_gw, &t.east_lan]
            .iter()
            .map(|n| n.to_string())
            .collect();
        let listed = Command::new("ip").args(["netns", "list"]).output().unwrap();
        let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
        assert!(names.iter().all(|n| listed.contains(n.as_str())));
    }
    let listed = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    for n in &names {
        assert!(!listed.contains(n.as_str()), "{n} removed");
    }
}
