//! iperf3 TCP between two namespaces for the tests: server with `-1`,
//! client with `--json`, both bounded in time and killed by PID.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::Proc;
use crate::topology::Topology;

/// What the client's JSON report says.
#[derive(Debug, Clone)]
pub struct Iperf {
    pub bits_per_second: f64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub retransmits: u64,
    /// Bytes the client sent in each reporting interval (1 s): a stall
    /// shows as an interval far below the others.
    pub interval_bytes: Vec<u64>,
}

/// Runs `seconds` of TCP from `client_ns` to a server in `server_ns` at
/// `server_addr`; with `reverse` the server sends (iperf3 `-R`), so both
/// directions of a tunnel can be loaded from one side.
pub fn run(
    t: &Topology,
    client_ns: &str,
    server_ns: &str,
    server_addr: &str,
    seconds: u32,
    reverse: bool,
) -> Result<Iperf> {
    let extra: &[&str] = if reverse { &["-R"] } else { &[] };
    run_with(t, client_ns, server_ns, server_addr, seconds, extra)
}

/// As [`run`], with extra client arguments (e.g. `-P 16` for parallel
/// streams).
pub fn run_with(
    t: &Topology,
    client_ns: &str,
    server_ns: &str,
    server_addr: &str,
    seconds: u32,
    extra: &[&str],
) -> Result<Iperf> {
    let _server = Proc::new(
        t.exec(server_ns, "iperf3")
            .args(["-s", "-1", "-B", server_addr])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning iperf3 server")?,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = t
            .exec(server_ns, "ss")
            .args(["-Hltn", "sport = :5201"])
            .output()?;
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        if Instant::now() > deadline {
            bail!("iperf3 server did not listen");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut c = t.exec(client_ns, "timeout");
    c.args([
        &(seconds + 20).to_string(),
        "iperf3",
        "-c",
        server_addr,
        "-J",
        "--connect-timeout",
        "3000",
    ]);
    c.args(["-t", &seconds.to_string()]);
    c.args(extra);
    let out = c
        .stdin(Stdio::null())
        .output()
        .context("running iperf3 client")?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "iperf3 output is not JSON: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        bail!("iperf3: {e}");
    }
    let end = &v["end"];
    Ok(Iperf {
        bits_per_second: end
            .pointer("/sum_received/bits_per_second")
            .and_then(|b| b.as_f64())
            .unwrap_or(0.0),
        bytes_sent: end
            .pointer("/sum_sent/bytes")
            .and_then(|b| b.as_u64())
            .unwrap_or(0),
        bytes_received: end
            .pointer("/sum_received/bytes")
            .and_then(|b| b.as_u64())
            .unwrap_or(0),
        retransmits: end
            .pointer("/sum_sent/retransmits")
            .and_then(|r| r.as_u64())
            .unwrap_or(0),
        interval_bytes: v["intervals"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| {
                        i.pointer("/sum/bytes")
                            .and_then(|b| b.as_u64())
                            .unwrap_or(0)
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}
