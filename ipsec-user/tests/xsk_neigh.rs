//! Next-hop resolution from the kernel's tables, in namespaces of our own:
//! the route, a neighbour the kernel does not know yet (resolution is
//! started through NTF_USE, not a hand-made ARP), then its real MAC.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use ipsecgw::xsk::neigh::{Netlink, interface_mac};

struct Ns(Vec<String>);
impl Drop for Ns {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().unwrap();
    assert!(st.success(), "ip {args:?}");
}

#[test]
fn resolves_route_and_neighbour_in_a_namespace() {
    let a = format!("ipsecgw-nb-a-{}", std::process::id());
    let b = format!("ipsecgw-nb-b-{}", std::process::id());
    ip(&["netns", "add", &a]);
    let _g = Ns(vec![a.clone(), b.clone()]);
    ip(&["netns", "add", &b]);
    ip(&[
        "link", "add", "nb0", "netns", &a, "type", "veth", "peer", "name", "nb1", "netns", &b,
    ]);
    ip(&["-n", &a, "addr", "add", "192.0.2.1/24", "dev", "nb0"]);
    ip(&["-n", &b, "addr", "add", "192.0.2.2/24", "dev", "nb1"]);
    ip(&["-n", &a, "link", "set", "nb0", "up"]);
    ip(&["-n", &b, "link", "set", "nb1", "up"]);
    ip(&[
        "-n",
        &a,
        "route",
        "add",
        "203.0.113.0/24",
        "via",
        "192.0.2.2",
    ]);
    let peer_mac = {
        let out = Command::new("ip")
            .args(["netns", "exec", &b, "cat", "/sys/class/net/nb1/address"])
            .output()
            .unwrap();
        ipsecgw::xsk::neigh::parse_mac(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
    };

    let a2 = a.clone();
    let result = std::thread::spawn(move || {
        let f = std::fs::File::open(format!("/run/netns/{a2}")).unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        let own = interface_mac("nb0").unwrap();
        let mut nl = Netlink::open().unwrap();
        let r = nl.route_get(Ipv4Addr::new(203, 0, 113, 10)).unwrap();
        assert_eq!(r.next_hop, Ipv4Addr::new(192, 0, 2, 2), "via the gateway");
        let direct = nl.route_get(Ipv4Addr::new(192, 0, 2, 2)).unwrap();
        assert_eq!(direct.next_hop, Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(direct.prefsrc, Some(Ipv4Addr::new(192, 0, 2, 1)));
        // Unknown at first; the first call starts resolution.
        assert_eq!(nl.neigh_get(r.oif, r.next_hop).unwrap(), None);
        let deadline = Instant::now() + Duration::from_secs(3);
        let mac = loop {
            if let Some((oif, mac)) = nl.next_hop_mac(Ipv4Addr::new(203, 0, 113, 10)).unwrap() {
                assert_eq!(oif, r.oif);
                break mac;
            }
            assert!(Instant::now() < deadline, "neighbour never resolved");
            std::thread::sleep(Duration::from_millis(20));
        };
        // No route at all is an error, not a hang.
        assert!(nl.route_get(Ipv4Addr::new(198, 51, 100, 7)).is_err());
        (own, mac)
    })
    .join()
    .unwrap();
    assert_eq!(result.1, peer_mac);
    assert_ne!(result.0, peer_mac);
}

/// The worker's resolver thread in a namespace of our own: every lookup
/// answers at once (pending), and the answers come back on the channel:
/// the real MAC through a gateway, "unreachable" for a destination with
/// no route and for an on-link host that never answers ARP, which is then
/// cached as negative.
#[test]
fn resolver_thread_answers_asynchronously_in_a_namespace() {
    use ipsecgw::xsk::next_hop::{Lookup, spawn_resolver};
    let a = format!("ipsecgw-nr-a-{}", std::process::id());
    let b = format!("ipsecgw-nr-b-{}", std::process::id());
    ip(&["netns", "add", &a]);
    let _g = Ns(vec![a.clone(), b.clone()]);
    ip(&["netns", "add", &b]);
    ip(&[
        "link", "add", "nr0", "netns", &a, "type", "veth", "peer", "name", "nr1", "netns", &b,
    ]);
    ip(&["-n", &a, "addr", "add", "192.0.2.1/24", "dev", "nr0"]);
    ip(&["-n", &b, "addr", "add", "192.0.2.2/24", "dev", "nr1"]);
    ip(&["-n", &a, "link", "set", "nr0", "up"]);
    ip(&["-n", &b, "link", "set", "nr1", "up"]);
    ip(&[
        "-n",
        &a,
        "route",
        "add",
        "203.0.113.0/24",
        "via",
        "192.0.2.2",
    ]);
    let peer_mac = {
        let out = Command::new("ip")
            .args(["netns", "exec", &b, "cat", "/sys/class/net/nr1/address"])
            .output()
            .unwrap();
        ipsecgw::xsk::neigh::parse_mac(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
    };
    let a2 = a.clone();
    std::thread::spawn(move || {
        let f = std::fs::File::open(format!("/run/netns/{a2}")).unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        let mut nh = spawn_resolver(Netlink::open().unwrap(), "test-nh".into()).unwrap();
        let via_gw = Ipv4Addr::new(203, 0, 113, 10);
        let no_route = Ipv4Addr::new(198, 51, 100, 7);
        let silent = Ipv4Addr::new(192, 0, 2, 99);
        let t0 = Instant::now();
        for d in [via_gw, no_route, silent] {
            assert_eq!(nh.lookup(d, t0), Lookup::Pending, "{d}: a miss never waits");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen = [None; 3];
        while seen.iter().any(|s| s.is_none()) {
            assert!(Instant::now() < deadline, "answers: {seen:?}");
            std::thread::sleep(Duration::from_millis(10));
            let now = Instant::now();
            nh.poll_answers(now);
            for (i, d) in [via_gw, no_route, silent].into_iter().enumerate() {
                match nh.lookup(d, now) {
                    Lookup::Pending => {}
                    other => seen[i] = seen[i].or(Some(other)),
                }
            }
        }
        assert_eq!(seen[0], Some(Lookup::Ready(peer_mac)));
        assert_eq!(seen[1], Some(Lookup::Unreachable));
        assert_eq!(seen[2], Some(Lookup::Unreachable));
        // Negative now: asked about again, nothing new is requested.
        let asked = nh.stats().requests;
        assert_eq!(nh.lookup(silent, Instant::now()), Lookup::Unreachable);
        assert_eq!(nh.stats().requests, asked);
    })
    .join()
    .unwrap();
}
