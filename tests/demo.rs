//! `cargo xtask demo [--ikev2]`: two ipsecgw gateways in network
//! namespaces with the seed article's configuration (with `--ikev2`: the
//! same tunnel negotiated by IKEv2, `crypto ikev2 policy` and an
//! `ipsec-proposal`); the first ping from west-lan raises the tunnel (and
//! is not lost); then both gateways show their SAs the way an ASA does
//! (`show crypto isakmp sa`, or `show crypto ikev2 sa` and its `detail`,
//! and `show crypto ipsec sa`), and bpftool dumps the per-SA counter map;
//! an iperf3 TCP transfer crosses the tunnel from LAN hosts that keep
//! veth's default offloads (checksums left to "the NIC", which the gateway
//! finishes). Everything is torn down at the end, also on failure.

use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};
use harness::config::{GatewayConfig, Ikev2};
use harness::gateway::Gateway;
use harness::topology::*;

const PSK: &str = "s3cret-demo-key";

fn banner(s: &str) {
    println!("\n=== {s} ===");
}

/// Which IKE version the demo negotiates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    Ikev1,
    Ikev2,
}

impl Version {
    fn from_args() -> Result<Version> {
        let mut v = Version::Ikev1;
        for a in std::env::args().skip(1) {
            match a.as_str() {
                "--ikev2" => v = Version::Ikev2,
                _ => bail!("unknown argument {a:?}; usage: demo [--ikev2]"),
            }
        }
        Ok(v)
    }

    /// One side's configuration: the seed article's, or its IKEv2 form.
    fn config(self, side: GatewayConfig) -> String {
        match self {
            Version::Ikev1 => side.render(),
            Version::Ikev2 => side.ikev2_only(Ikev2::aes256(PSK)).render(),
        }
    }

    /// The IKE SA views the demo prints: `show crypto ...` words.
    fn ike_views(self) -> &'static [&'static [&'static str]] {
        match self {
            Version::Ikev1 => &[&["show", "crypto", "isakmp", "sa"]],
            Version::Ikev2 => &[
                &["show", "crypto", "ikev2", "sa"],
                &["show", "crypto", "ikev2", "sa", "detail"],
            ],
        }
    }
}

fn main() -> Result<()> {
    let version = Version::from_args()?;
    let started = Instant::now();
    banner(
        "topology: west-lan 198.51.100.10 -- [west-gw] 192.0.2.1 == 192.0.2.2 [east-gw] -- 203.0.113.10 east-lan",
    );
    let t = Topology::with_default_offloads("demo", false)?;
    let west_cfg = version.config(GatewayConfig::west(PSK));
    match version {
        Version::Ikev1 => {
            println!("west-gw configuration (the seed article's ASA crypto config):\n")
        }
        Version::Ikev2 => {
            println!("west-gw configuration (the seed article's tunnel in ASA's IKEv2 dialect):\n")
        }
    }
    for l in west_cfg.lines() {
        println!("    {l}");
    }
    let east_cfg = version.config(GatewayConfig::east(PSK));
    let east = Gateway::start("east", &t.east_gw, &east_cfg, &[])?;
    let west = Gateway::start("west", &t.west_gw, &west_cfg, &[])?;

    let first_view = version.ike_views()[0];
    banner(&format!(
        "before any traffic: ipsecgw {} (west-gw)",
        first_view.join(" ")
    ));
    print!("{}", west.cli(first_view)?);

    banner("ping -c 5 203.0.113.10 from west-lan (the first packet raises the tunnel)");
    let out = t
        .exec(&t.west_lan, "ping")
        .args(["-n", "-c", "5", "-i", "0.2", "-W", "2", EAST_LAN_HOST])
        .output()?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    let replies = String::from_utf8_lossy(&out.stdout)
        .matches("bytes from")
        .count();

    banner("iperf3 TCP, 2 s, west-lan -> east-lan (hosts with default veth offloads)");
    let tcp = harness::iperf::run(&t, &t.west_lan, &t.east_lan, EAST_LAN_HOST, 2, false);
    match &tcp {
        Ok(r) => println!(
            "{} bytes received, {:.1} Mbit/s, {} retransmits",
            r.bytes_received,
            r.bits_per_second / 1e6,
            r.retransmits
        ),
        Err(e) => println!("iperf3 failed: {e:#}"),
    }
    let tcp_bytes = tcp.as_ref().map(|r| r.bytes_received).unwrap_or(0);

    for gw in [&west, &east] {
        for view in version
            .ike_views()
            .iter()
            .chain([&["show", "crypto", "ipsec", "sa"][..]].iter())
        {
            banner(&format!("{}-gw: ipsecgw {}", gw.name, view.join(" ")));
            print!("{}", gw.cli(view)?);
        }
    }
    for gw in [&west, &east] {
        banner(&format!(
            "{}-gw: bpftool map dump pinned .../{}/maps/SA_STATS (per-SA, per-CPU counters)",
            gw.name, gw.instance
        ));
        let pin = format!("/sys/fs/bpf/ipsecgw/{}/maps/SA_STATS", gw.instance);
        match Command::new("bpftool")
            .args(["map", "dump", "pinned", &pin])
            .output()
        {
            Ok(o) if o.status.success() => print!("{}", String::from_utf8_lossy(&o.stdout)),
            Ok(o) => println!("bpftool failed: {}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => println!("bpftool not available: {e}"),
        }
    }
    let v = west.cli_json(&["show", "crypto", "ipsec", "sa"])?;
    let encaps = v[0]["pkts_encaps"].as_u64().unwrap_or(0);
    // The tunnel came up by the version asked for.
    let ike_up = match version {
        Version::Ikev1 => west
            .cli(&["show", "crypto", "isakmp", "sa"])?
            .contains("MM_ACTIVE"),
        Version::Ikev2 => west.ikev2_sas().iter().any(|s| {
            s["state"] == "READY" && s["children"].as_array().is_some_and(|c| !c.is_empty())
        }),
    };
    drop(west);
    drop(east);
    drop(t);
    banner("teardown done");
    let name = match version {
        Version::Ikev1 => "IKEv1",
        Version::Ikev2 => "IKEv2",
    };
    println!(
        "{replies}/5 pings answered; {tcp_bytes} TCP bytes crossed; west-gw encapsulated {encaps} packets; the tunnel was negotiated by {name}; demo took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if replies != 5 || encaps == 0 {
        bail!("the demo did not pass all pings through the tunnel");
    }
    if tcp_bytes == 0 {
        bail!("the demo's TCP transfer did not cross the tunnel");
    }
    if !ike_up {
        bail!("no {name} SA carried the tunnel");
    }
    Ok(())
}
