//! `run --metrics ADDR:PORT`: a scrape of /metrics after traffic shows the
//! tunnel's counters equal to what crossed, IKE SAs by state, negotiation
//! outcomes, the data plane's verdicts, and passes `promtool check metrics`.

use std::io::Write;
use std::process::{Command, Stdio};

use harness::gateway::seed_pair;
use harness::topology::*;

/// One scrape from inside `ns` (the listener is on the namespace's own
/// loopback).
fn scrape(t: &Topology, ns: &str, path: &str, accept: &str) -> (String, String) {
    let out = t
        .exec(ns, "curl")
        .args(["-sS", "-m", "5", "-D", "-", "-H"])
        .arg(format!("Accept: {accept}"))
        .arg(format!("http://127.0.0.1:9273{path}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_string(), body.to_string())
}

/// The value of the first sample line starting with `prefix`.
fn sample(body: &str, prefix: &str) -> u64 {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {prefix}:\n{body}"))
}

#[test]
fn metrics_show_the_tunnel_and_pass_promtool() {
    let t = Topology::new("metrics", false).unwrap();
    let (west, _east) = seed_pair(
        &t,
        "metrics-test-psk",
        |c| c,
        &["--metrics", "127.0.0.1:9273"],
    )
    .unwrap();
    assert_eq!(
        t.ping(&t.west_lan, EAST_LAN_HOST, 5, 0.2).unwrap(),
        5,
        "{}",
        west.log()
    );
    west.wait_ipsec_sa(std::time::Duration::from_secs(2))
        .unwrap();

    let (head, body) = scrape(&t, &t.west_gw, "/metrics", "text/plain");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let sa = "ipsecgw_ipsec_sa_packets_encapsulated_total{peer=\"192.0.2.2\",crypto_map=\"OUTSIDE_MAP\",seq=\"10\"";
    assert_eq!(sample(&body, sa), 5, "{body}");
    let sa_in = "ipsecgw_ipsec_sa_packets_decapsulated_total{peer=\"192.0.2.2\",crypto_map=\"OUTSIDE_MAP\",seq=\"10\"";
    assert_eq!(sample(&body, sa_in), 5);
    assert_eq!(
        sample(
            &body,
            "ipsecgw_tunnel_ipsec_sas{peer=\"192.0.2.2\",crypto_map=\"OUTSIDE_MAP\",seq=\"10\"}"
        ),
        1
    );
    assert_eq!(
        sample(&body, "ipsecgw_ike_sas{version=\"1\",state=\"MM_ACTIVE\"}"),
        1
    );
    assert_eq!(sample(&body, "ipsecgw_ike_negotiations_started_total"), 1);
    assert_eq!(sample(&body, "ipsecgw_ike_sas_established_total"), 1);
    assert_eq!(sample(&body, "ipsecgw_ipsec_sas_established_total"), 1);
    // Every ping was encrypted, or held while the tunnel came up (how
    // many were held depends on how fast the negotiation ran).
    let encrypted = sample(
        &body,
        "ipsecgw_dataplane_verdicts_total{name=\"inside_encrypt_redirect\"}",
    );
    let held = sample(
        &body,
        "ipsecgw_dataplane_verdicts_total{name=\"inside_hold_redirect\"}",
    );
    assert!(encrypted >= 1 && encrypted + held >= 5, "{body}");
    assert!(sample(&body, "ipsecgw_process_resident_memory_bytes") > 1 << 20);
    // The IKEv2 responder's drop counters are exported beside IKEv1's,
    // also before any IKEv2 datagram arrived (an IKEv1-only tunnel here).
    for name in [
        "ike_unconfigured_first_msgs",
        "ikev2_unconfigured_first_msgs",
        "ikev2_unknown_sa_drops",
        "ikev2_malformed_drops",
        "ikev2_integrity_drops",
        "ikev2_bad_mid_drops",
        "ikev2_cookies_sent",
        "ikev2_bad_cookie_drops",
        "ikev2_half_open_drops",
    ] {
        let line = format!("ipsecgw_engine_events_total{{name=\"{name}\"}}");
        assert_eq!(sample(&body, &line), 0, "{name}:\n{body}");
    }

    // The exposition format is what Prometheus reads.
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // OpenMetrics for a scraper that asks for it.
    let (head, om) = scrape(
        &t,
        &t.west_gw,
        "/metrics",
        "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
    );
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert_eq!(sample(&om, sa), 5);

    // Anything but GET /metrics is refused.
    let (head, _) = scrape(&t, &t.west_gw, "/", "*/*");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}
