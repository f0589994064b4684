//! `/metrics` in the Prometheus text exposition format (OpenMetrics), from
//! the same facts `show` prints: per IPsec SA counters and lifetimes, IKE
//! SAs by version and state, negotiation outcomes by reason kind, the data
//! plane's verdict counters and per-worker traffic, and the daemon's RSS.
//!
//! Rendered per scrape from absolute values: nothing here keeps state, so
//! a counter is exactly the number `show` would print at that moment.
//! Label values are bounded by the configuration (peers, crypto-map
//! entries, SAs alive now), never by what a remote sender chooses.

use std::collections::BTreeMap;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::control::proto::{IpsecSaView, IsakmpSaList};

/// Outcomes the daemon counts as they happen (the rest is read off live
/// state at scrape time).
#[derive(Debug, Default, Clone)]
pub struct Negotiations {
    /// Phase 1 / IKE SA negotiations we started for interesting traffic.
    pub started: u64,
    pub ike_sas_established: u64,
    pub ipsec_sas_established: u64,
    /// Failures by reason kind (`FailureReason::kind`).
    pub failed: BTreeMap<&'static str, u64>,
}

/// Everything one scrape shows.
pub struct Facts<'a> {
    pub ipsec: &'a [IpsecSaView],
    pub isakmp: &'a IsakmpSaList,
    pub negotiations: &'a Negotiations,
    /// Data-plane verdicts (BPF counters, summed over CPUs).
    pub verdicts: &'a [(String, u64)],
    /// ESP engine and IKE drop counters: `show dataplane`'s other lines.
    pub engine: &'a [(String, u64)],
    /// Per worker (queue): (queue, direction, packets).
    pub per_queue: &'a [(usize, &'static str, u64)],
    pub rss_bytes: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SaLabels {
    peer: String,
    crypto_map: String,
    seq: u32,
    /// The outbound SPI, hex: one series per SA (a rekey overlaps two).
    spi: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SaErrorLabels {
    peer: String,
    crypto_map: String,
    seq: u32,
    spi: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TunnelLabels {
    peer: String,
    crypto_map: String,
    seq: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IkeStateLabels {
    version: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabels {
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
    direction: &'static str,
}

fn family<L, M>(reg: &mut Registry, name: &str, help: &str) -> Family<L, M>
where
    L: Clone + std::hash::Hash + Eq + std::fmt::Debug + EncodeLabelSet + Send + Sync + 'static,
    M: prometheus_client::metrics::TypedMetric
        + prometheus_client::encoding::EncodeMetric
        + Default
        + Send
        + Sync
        + std::fmt::Debug
        + 'static,
{
    let f = Family::<L, M>::default();
    reg.register(name, help, f.clone());
    f
}

fn counter(reg: &mut Registry, name: &str, help: &str, v: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(v);
    reg.register(name, help, c);
}

fn gauge(reg: &mut Registry, name: &str, help: &str, v: i64) {
    let g = Gauge::<i64>::default();
    g.set(v);
    reg.register(name, help, g);
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The text a scrape of `/metrics` returns.
pub fn render(f: &Facts<'_>) -> String {
    let mut reg = Registry::with_prefix("ipsecgw");

    // --- per IPsec SA
    let pkts_out = family::<SaLabels, Counter>(
        &mut reg,
        "ipsec_sa_packets_encapsulated",
        "Packets encapsulated (encrypted and sent) on the SA",
    );
    let pkts_in = family::<SaLabels, Counter>(
        &mut reg,
        "ipsec_sa_packets_decapsulated",
        "Packets decapsulated (verified and decrypted) on the SA",
    );
    let bytes_out = family::<SaLabels, Counter>(
        &mut reg,
        "ipsec_sa_bytes_encapsulated",
        "Inner bytes encapsulated on the SA",
    );
    let bytes_in = family::<SaLabels, Counter>(
        &mut reg,
        "ipsec_sa_bytes_decapsulated",
        "Inner bytes decapsulated on the SA",
    );
    let errors = family::<SaErrorLabels, Counter>(
        &mut reg,
        "ipsec_sa_errors",
        "Packets dropped on the SA, by kind (send, recv, replay, policy, auth)",
    );
    let remaining_s = family::<SaLabels, Gauge>(
        &mut reg,
        "ipsec_sa_remaining_seconds",
        "Seconds until the SA's lifetime ends",
    );
    let remaining_bytes = family::<SaLabels, Gauge>(
        &mut reg,
        "ipsec_sa_remaining_bytes",
        "Bytes until the SA's volume lifetime ends",
    );
    let tunnel_up = family::<TunnelLabels, Gauge>(
        &mut reg,
        "tunnel_ipsec_sas",
        "IPsec SA pairs up per crypto-map entry and peer",
    );
    for sa in f.ipsec {
        let l = SaLabels {
            peer: sa.peer.to_string(),
            crypto_map: sa.crypto_map.clone(),
            seq: sa.seq,
            spi: format!("{:08x}", sa.outbound_spi),
        };
        pkts_out.get_or_create(&l).inc_by(sa.pkts_encaps);
        pkts_in.get_or_create(&l).inc_by(sa.pkts_decaps);
        bytes_out.get_or_create(&l).inc_by(sa.bytes_encaps);
        bytes_in.get_or_create(&l).inc_by(sa.bytes_decaps);
        for (kind, v) in [
            ("send", sa.send_errors),
            ("recv", sa.recv_errors),
            ("replay", sa.replay_drops),
            ("policy", sa.policy_drops),
            ("auth", sa.auth_failures),
        ] {
            errors
                .get_or_create(&SaErrorLabels {
                    peer: l.peer.clone(),
                    crypto_map: l.crypto_map.clone(),
                    seq: l.seq,
                    spi: l.spi.clone(),
                    kind,
                })
                .inc_by(v);
        }
        remaining_s.get_or_create(&l).set(clamp(sa.remaining_s));
        remaining_bytes
            .get_or_create(&l)
            .set(clamp(sa.remaining_kb.saturating_mul(1024)));
        tunnel_up
            .get_or_create(&TunnelLabels {
                peer: l.peer.clone(),
                crypto_map: l.crypto_map.clone(),
                seq: l.seq,
            })
            .inc();
    }

    // --- IKE
    let ike_sas = family::<IkeStateLabels, Gauge>(
        &mut reg,
        "ike_sas",
        "IKE SAs by protocol version and state",
    );
    let mut half_open = 0;
    for s in &f.isakmp.sas {
        if !s.state.ends_with("_ACTIVE") {
            half_open += 1;
        }
        ike_sas
            .get_or_create(&IkeStateLabels {
                version: s.ike_version.to_string(),
                state: s.state.clone(),
            })
            .inc();
    }
    gauge(
        &mut reg,
        "ike_half_open_sas",
        "IKE SAs still negotiating (half-open)",
        half_open,
    );
    let n = f.negotiations;
    counter(
        &mut reg,
        "ike_negotiations_started",
        "IKE negotiations this gateway started for interesting traffic",
        n.started,
    );
    counter(
        &mut reg,
        "ike_sas_established",
        "IKE SAs (phase 1) established, either role",
        n.ike_sas_established,
    );
    counter(
        &mut reg,
        "ipsec_sas_established",
        "IPsec SA pairs (phase 2) established, either role",
        n.ipsec_sas_established,
    );
    let failed = family::<ReasonLabels, Counter>(
        &mut reg,
        "ike_negotiations_failed",
        "Negotiations that failed, by reason kind",
    );
    for (reason, v) in &n.failed {
        failed.get_or_create(&ReasonLabels { reason }).inc_by(*v);
    }

    // --- data plane and ESP engine
    let verdicts = family::<NameLabels, Counter>(
        &mut reg,
        "dataplane_verdicts",
        "XDP and TC verdicts, summed over CPUs (`show dataplane`)",
    );
    for (name, v) in f.verdicts {
        verdicts
            .get_or_create(&NameLabels { name: name.clone() })
            .inc_by(*v);
    }
    let engine = family::<NameLabels, Counter>(
        &mut reg,
        "engine_events",
        "ESP engine and IKE drop counters (`show dataplane`)",
    );
    for (name, v) in f.engine {
        engine
            .get_or_create(&NameLabels { name: name.clone() })
            .inc_by(*v);
    }
    let queues = family::<QueueLabels, Counter>(
        &mut reg,
        "worker_packets",
        "Packets each ESP worker (one per queue) moved, by direction",
    );
    for (q, direction, v) in f.per_queue {
        queues
            .get_or_create(&QueueLabels {
                queue: q.to_string(),
                direction,
            })
            .inc_by(*v);
    }
    gauge(
        &mut reg,
        "process_resident_memory_bytes",
        "Resident memory of the daemon",
        clamp(f.rss_bytes),
    );

    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &reg);
    out
}

/// The same metrics in the Prometheus text format (version 0.0.4), for
/// scrapers that do not ask for OpenMetrics. The two differ in what this
/// encoder writes: a counter family is named without `_total` in its
/// HELP and TYPE lines and with it in its samples, `# UNIT` lines exist,
/// and the text ends with `# EOF`.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((p, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if counters.contains(name) {
                    out.push_str(&format!("{p}{name}_total {tail}"));
                } else {
                    out.push_str(line);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Resident set size of this process, from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_ends_with_eof() {
        let mut n = Negotiations {
            started: 3,
            ..Default::default()
        };
        n.failed.insert("no_reply", 2);
        let isakmp = IsakmpSaList {
            sas: Vec::new(),
            down: Vec::new(),
        };
        let text = render(&Facts {
            ipsec: &[],
            isakmp: &isakmp,
            negotiations: &n,
            verdicts: &[("inside_encrypt".into(), 7)],
            engine: &[("engine_held".into(), 1)],
            per_queue: &[(0, "rx_inside", 9)],
            rss_bytes: 4096,
        });
        for want in [
            "ipsecgw_ike_negotiations_started_total 3",
            "ipsecgw_ike_negotiations_failed_total{reason=\"no_reply\"} 2",
            "ipsecgw_dataplane_verdicts_total{name=\"inside_encrypt\"} 7",
            "ipsecgw_worker_packets_total{queue=\"0\",direction=\"rx_inside\"} 9",
            "ipsecgw_process_resident_memory_bytes 4096",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
        let prom = to_prometheus_text(&text);
        assert!(
            prom.contains("# TYPE ipsecgw_ike_negotiations_started_total counter\n"),
            "{prom}"
        );
        assert!(
            prom.contains("# HELP ipsecgw_ike_negotiations_started_total IKE"),
            "{prom}"
        );
        assert!(
            prom.contains("# TYPE ipsecgw_process_resident_memory_bytes gauge\n"),
            "{prom}"
        );
        assert!(!prom.contains("# EOF"));
    }
}
