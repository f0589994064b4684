//! Next-hop resolution from the kernel's tables, in namespaces of our own:
//! the route, a neighbour the kernel does not know yet (resolution is
//! started through NTF_USE, not a hand-made ARP), then its real MAC.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use ipsecgw::engine::neigh::{Netlink, interface_mac};

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
        ipsecgw::engine::neigh::parse_mac(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
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
