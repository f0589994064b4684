//! The four-namespace topology with a masquerading NAT between the
//! gateways (for NAT-T):
//!
//! ```text
//! west-gw 192.0.2.1 -- 192.0.2.254 [nat] 198.18.0.1 -- 198.18.0.2 east-gw
//! ```
//!
//! The `nat` namespace forwards and masquerades (nftables) everything
//! leaving its outside port: east-gw sees west-gw as 198.18.0.1 and has no
//! route to 192.0.2.0/24 at all. West-gw reaches 198.18.0.0/15 through the
//! NAT. The LANs and their addresses are those of [`Topology`]; the NAT's
//! outside link uses the benchmark range 198.18.0.0/15, as DESIGN.md
//! allows inside test namespaces.

use std::process::Command;

use anyhow::Result;

use crate::netns::Netns;
use crate::topology::{GW_OUTSIDE_IF, Topology, WEST_GW_OUTSIDE, sh};

/// The NAT's address toward west-gw (west-gw's next hop to the east).
pub const NAT_INSIDE: &str = "192.0.2.254";
/// The NAT's outside address: the source east-gw sees.
pub const NAT_OUTSIDE: &str = "198.18.0.1";
/// east-gw's outside address in this topology (the peer west-gw names).
pub const EAST_GW_BEHIND_NAT: &str = "198.18.0.2";
/// The NAT's ports toward west-gw and toward east-gw.
pub const NAT_IN_IF: &str = "in0";
pub const NAT_OUT_IF: &str = "out0";

/// `nft` is installed (`cargo xtask setup` installs nftables).
pub fn available() -> bool {
    Command::new("sh")
        .args(["-c", "command -v nft"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// [`Topology`] with the NAT spliced in between the gateways. Fields drop
/// in order: the NAT namespace, then the four of the topology.
pub struct NatTopology {
    pub nat: Netns,
    pub t: Topology,
}

impl NatTopology {
    pub fn new(tag: &str) -> Result<NatTopology> {
        let t = Topology::new(tag, false)?;
        let nat = Netns::new(&format!("{tag}-nat"))?;
        let ip = |args: &[&str]| sh(Command::new("ip").args(args)).map(|_| ());
        // Deleting one end of the gateways' veth deletes the pair (and
        // both addresses).
        ip(&["-n", &t.west_gw, "link", "del", GW_OUTSIDE_IF])?;
        for (gw, port, gw_addr, nat_addr) in [
            (&t.west_gw, NAT_IN_IF, "192.0.2.1/24", "192.0.2.254/24"),
            (&t.east_gw, NAT_OUT_IF, "198.18.0.2/24", "198.18.0.1/24"),
        ] {
            ip(&[
                "link",
                "add",
                GW_OUTSIDE_IF,
                "netns",
                gw,
                "type",
                "veth",
                "peer",
                "name",
                port,
                "netns",
                nat.name(),
            ])?;
            ip(&["-n", gw, "addr", "add", gw_addr, "dev", GW_OUTSIDE_IF])?;
            ip(&["-n", gw, "link", "set", GW_OUTSIDE_IF, "up"])?;
            nat.addr(port, nat_addr)?;
        }
        debug_assert_eq!(WEST_GW_OUTSIDE, "192.0.2.1");
        ip(&[
            "-n",
            &t.west_gw,
            "route",
            "add",
            "198.18.0.0/15",
            "via",
            NAT_INSIDE,
        ])?;
        nat.sysctl("net.ipv4.ip_forward", "1")?;
        nat.sysctl("net.ipv4.conf.all.rp_filter", "0")?;
        nat.exec("nft", &["add", "table", "ip", "ipsecgw_nat"])?;
        nat.exec(
            "nft",
            &[
                "add",
                "chain",
                "ip",
                "ipsecgw_nat",
                "postrouting",
                "{ type nat hook postrouting priority 100 ; policy accept ; }",
            ],
        )?;
        nat.exec(
            "nft",
            &[
                "add",
                "rule",
                "ip",
                "ipsecgw_nat",
                "postrouting",
                "oifname",
                NAT_OUT_IF,
                "masquerade",
            ],
        )?;
        Ok(NatTopology { nat, t })
    }
}
