//! `cargo xtask demo`: two ipsecgw gateways in network namespaces with the
//! seed article's configuration; the first ping from west-lan raises the
//! tunnel (and is not lost); then both gateways show their SAs the way an
//! ASA does, and bpftool dumps the per-SA counter map; an iperf3 TCP
//! transfer crosses the tunnel from LAN hosts that keep veth's default
//! offloads (checksums left to "the NIC", which the gateway finishes).
//! Everything is torn down at the end, also on failure.

use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};
use harness::config::{east_seed, west_seed};
use harness::gateway::Gateway;
use harness::topology::*;

const PSK: &str = "s3cret-demo-key";

fn banner(s: &str) {
    println!("\n=== {s} ===");
}

fn main() -> Result<()> {
    let started = Instant::now();
    banner(
        "topology: west-lan 198.51.100.10 -- [west-gw] 192.0.2.1 == 192.0.2.2 [east-gw] -- 203.0.113.10 east-lan",
    );
    let t = Topology::with_default_offloads("demo", false)?;
    let west_cfg = west_seed(PSK);
    println!("west-gw configuration (the seed article's ASA crypto config):\n");
    for l in west_cfg.lines() {
        println!("    {l}");
    }
    let east = Gateway::start("east", &t.east_gw, &east_seed(PSK), &[])?;
    let west = Gateway::start("west", &t.west_gw, &west_cfg, &[])?;

    banner("before any traffic: ipsecgw show crypto isakmp sa (west-gw)");
    print!("{}", west.cli(&["show", "crypto", "isakmp", "sa"])?);

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
        banner(&format!("{}-gw: ipsecgw show crypto isakmp sa", gw.name));
        print!("{}", gw.cli(&["show", "crypto", "isakmp", "sa"])?);
        banner(&format!("{}-gw: ipsecgw show crypto ipsec sa", gw.name));
        print!("{}", gw.cli(&["show", "crypto", "ipsec", "sa"])?);
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
    drop(west);
    drop(east);
    drop(t);
    banner("teardown done");
    println!(
        "{replies}/5 pings answered; {tcp_bytes} TCP bytes crossed; west-gw encapsulated {encaps} packets; demo took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if replies != 5 || encaps == 0 {
        bail!("the demo did not pass all pings through the tunnel");
    }
    if tcp_bytes == 0 {
        bail!("the demo's TCP transfer did not cross the tunnel");
    }
    Ok(())
}
