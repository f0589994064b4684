//! Counters the tests read before and after something happens, and the
//! deltas between two reads: `show dataplane --json`, a row of a
//! namespace's `/proc/net/snmp`, and the per-SA counters of `show crypto
//! ipsec sa --json` (whose only-SA and settled reads live here too).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::gateway::{Gateway, num};

/// Named counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters(BTreeMap<String, u64>);

impl Counters {
    /// The members of a JSON object (a member that is not a number counts
    /// as 0).
    pub fn of_json(v: &Value) -> Counters {
        Counters(
            v.as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// `show dataplane --json` of a running gateway (panics if it does
    /// not answer: the test cannot go on).
    pub fn dataplane(gw: &Gateway) -> Counters {
        let v = gw
            .cli_json(&["show", "dataplane"])
            .unwrap_or_else(|e| panic!("{}: show dataplane: {e}", gw.name));
        assert!(v.is_object(), "show dataplane --json is an object: {v}");
        Counters::of_json(&v)
    }

    /// One group of namespace `ns`'s `/proc/net/snmp` (`Ip`, `Icmp`,
    /// `Tcp`, `Udp`...): its header row names the columns of the next.
    pub fn snmp(ns: &str, group: &str) -> Result<Counters> {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "cat", "/proc/net/snmp"])
            .output()
            .context("reading /proc/net/snmp")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let prefix = format!("{group}:");
        let mut rows = text.lines().filter(|l| l.starts_with(&prefix));
        let (Some(head), Some(vals)) = (rows.next(), rows.next()) else {
            bail!("no {group} rows in /proc/net/snmp of {ns}");
        };
        Ok(Counters(
            head.split_whitespace()
                .zip(vals.split_whitespace())
                .skip(1)
                .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0)))
                .collect(),
        ))
    }

    /// The counter `k`, 0 when absent.
    pub fn get(&self, k: &str) -> u64 {
        self.0.get(k).copied().unwrap_or(0)
    }

    /// The counter `k`, an error when absent.
    pub fn require(&self, k: &str) -> Result<u64> {
        self.0
            .get(k)
            .copied()
            .with_context(|| format!("no counter {k}"))
    }
}

/// `c["name"]`: panics, naming it, when the counter is absent.
impl std::ops::Index<&str> for Counters {
    type Output = u64;
    fn index(&self, k: &str) -> &u64 {
        self.0
            .get(k)
            .unwrap_or_else(|| panic!("no counter {k} in {self:?}"))
    }
}

/// How much `k` grew from `before` to `after` (0 if it did not, or is
/// absent from both).
pub fn delta(before: &Counters, after: &Counters, k: &str) -> u64 {
    after.get(k).saturating_sub(before.get(k))
}

/// How much the counter `k` of a `--json` object grew from `before` to
/// `after`; panics if it is missing or went backwards (counters only
/// grow: a smaller one means the two reads are of different SAs).
pub fn value_delta(before: &Value, after: &Value, k: &str) -> u64 {
    let (b, a) = (num(before, k), num(after, k));
    a.checked_sub(b)
        .unwrap_or_else(|| panic!("{k} went backwards: {b} -> {a}"))
}

/// The packet and error counters of one SA of `show crypto ipsec sa
/// --json`: what moves with traffic (not the remaining lifetime, which
/// moves with the clock).
pub const SA_TRAFFIC: [&str; 10] = [
    "pkts_encaps",
    "pkts_decaps",
    "pkts_decrypt",
    "bytes_encaps",
    "bytes_decaps",
    "send_errors",
    "recv_errors",
    "replay_drops",
    "auth_failures",
    "policy_drops",
];

/// The [`SA_TRAFFIC`] counters of an SA, in that order.
pub fn sa_traffic(v: &Value) -> Vec<u64> {
    SA_TRAFFIC.iter().map(|k| num(v, k)).collect()
}

/// The only IPsec SA pair of a gateway (panics if it has not exactly one).
pub fn only_sa(gw: &Gateway) -> Value {
    let v = gw.ipsec_sas();
    assert_eq!(v.len(), 1, "{}: exactly one SA pair: {v:?}", gw.name);
    v.into_iter().next().unwrap_or_default()
}

/// The only SA of each gateway once their traffic counters stop moving
/// (packets in flight landed, the workers reported), or after 5 s.
pub fn settled(gws: &[&Gateway]) -> Vec<Value> {
    settle(
        || gws.iter().map(|g| only_sa(g)).collect::<Vec<_>>(),
        |a, b| sa_traffic(a) == sa_traffic(b),
    )
}

/// Every SA of each gateway (`show crypto ipsec sa --json`, in its
/// order) once their traffic counters stop moving, or after 5 s: as
/// [`settled`], for gateways with more than one SA pair.
pub fn settled_all(gws: &[&Gateway]) -> Vec<Vec<Value>> {
    settle(
        || gws.iter().map(|g| g.ipsec_sas()).collect::<Vec<_>>(),
        |a, b| a.len() == b.len() && a.iter().zip(b).all(|(a, b)| sa_traffic(a) == sa_traffic(b)),
    )
}

/// Reads until two reads 300 ms apart are `same`, or 5 s have passed.
fn settle<T>(read: impl Fn() -> Vec<T>, same: impl Fn(&T, &T) -> bool) -> Vec<T> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = read();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = read();
        let still = now.len() == last.len() && now.iter().zip(&last).all(|(a, b)| same(a, b));
        if still || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}
