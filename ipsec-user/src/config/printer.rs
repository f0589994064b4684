//! Prints a [`Config`] back in ASA 8.4+ syntax (`crypto ikev1 policy`,
//! `crypto ipsec ikev1 transform-set`, `ikev1 pre-shared-key`), normalised:
//! resolved ACL rules with literal addresses, defaults written out, one
//! `group-policy` per distinct idle timeout. Parsing the output gives an
//! equal `Config`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::model::*;
use super::net::Ipv4Net;
use super::ports;

/// Printer options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrintOptions {
    /// Print pre-shared keys in clear (for a file meant to be loaded);
    /// otherwise `*****` as `show running-config` does.
    pub include_keys: bool,
}

/// The configuration with keys masked (`show running-config`).
pub fn print(config: &Config) -> String {
    print_with(config, PrintOptions::default())
}

fn net(n: &Ipv4Net) -> String {
    match n.prefix() {
        0 => "any4".to_string(),
        32 => format!("host {}", n.addr()),
        _ => format!("{} {}", n.addr(), n.mask()),
    }
}

fn ports(r: &std::ops::RangeInclusive<u16>) -> String {
    let (lo, hi) = (*r.start(), *r.end());
    match (lo, hi) {
        (0, u16::MAX) => String::new(),
        _ if lo == hi => format!(" eq {lo}"),
        (0, _) => format!(" lt {}", u32::from(hi) + 1),
        (_, u16::MAX) => format!(" gt {}", lo - 1),
        _ => format!(" range {lo} {hi}"),
    }
}

fn lifetime(s: u32, kb: Option<u64>) -> String {
    match kb {
        Some(kb) => format!("lifetime seconds {s} kilobytes {kb}"),
        None => format!("lifetime seconds {s} kilobytes unlimited"),
    }
}

/// Name of the synthetic group-policy carrying an idle timeout.
fn idle_policy_name(idle: Option<u32>) -> String {
    match idle {
        Some(m) => format!("IDLE-{m}MIN"),
        None => "IDLE-NONE".to_string(),
    }
}

/// The configuration in ASA 8.4+ syntax.
pub fn print_with(config: &Config, opts: PrintOptions) -> String {
    let mut o = String::new();
    let _ = print_into(&mut o, config, opts);
    o
}

fn print_into(o: &mut String, c: &Config, opts: PrintOptions) -> std::fmt::Result {
    writeln!(o, ": ipsecgw normalised configuration (ASA 8.4+ syntax)")?;
    for i in &c.interfaces {
        writeln!(o, "interface {}", i.ifname)?;
        writeln!(o, " nameif {}", i.nameif)?;
        if let Some((a, p)) = i.address {
            let mask = Ipv4Net::new(a, p)
                .map(|n| n.mask())
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
            writeln!(o, " ip address {a} {mask}")?;
        }
    }
    writeln!(o, "!")?;

    // Access-lists used by crypto maps, each once, in first-use order.
    let mut printed_acls = BTreeSet::new();
    for e in &c.crypto_maps {
        if e.acl.is_empty() || !printed_acls.insert(e.acl.as_str()) {
            continue;
        }
        for r in &e.rules {
            let action = match r.action {
                AclAction::Permit => "permit",
                AclAction::Deny => "deny",
            };
            writeln!(
                o,
                "access-list {} extended {action} {} {}{} {}{}",
                e.acl,
                ports::protocol_name(r.proto),
                net(&r.src),
                ports(&r.src_ports),
                net(&r.dst),
                ports(&r.dst_ports),
            )?;
        }
    }

    for t in c.transform_sets.values() {
        if t.transform.cipher.is_aead() {
            writeln!(
                o,
                "crypto ipsec ikev1 transform-set {} {}",
                t.name, t.transform.cipher
            )?;
        } else {
            writeln!(
                o,
                "crypto ipsec ikev1 transform-set {} {}",
                t.name, t.transform
            )?;
        }
        if t.mode == Mode::Transport {
            writeln!(
                o,
                "crypto ipsec ikev1 transform-set {} mode transport",
                t.name
            )?;
        }
    }
    writeln!(
        o,
        "crypto ipsec security-association {}",
        lifetime(c.ipsec_lifetime_s, c.ipsec_lifetime_kb)
    )?;

    let mut map_ifaces: BTreeMap<&str, &str> = BTreeMap::new();
    for e in &c.crypto_maps {
        let head = format!("crypto map {} {}", e.map, e.seq);
        let mut any = false;
        if !e.acl.is_empty() {
            writeln!(o, "{head} match address {}", e.acl)?;
            any = true;
        }
        if let Some(g) = e.pfs {
            writeln!(o, "{head} set pfs group{}", g.number())?;
            any = true;
        }
        if !e.peers.is_empty() {
            let peers: Vec<String> = e.peers.iter().map(|p| p.to_string()).collect();
            writeln!(o, "{head} set peer {}", peers.join(" "))?;
            any = true;
        }
        if !e.transform_sets.is_empty() {
            writeln!(
                o,
                "{head} set ikev1 transform-set {}",
                e.transform_sets.join(" ")
            )?;
            any = true;
        }
        match e.phase1_mode {
            Phase1Mode::Main => {}
            Phase1Mode::Aggressive(None) => {
                writeln!(o, "{head} set phase1-mode aggressive")?;
                any = true;
            }
            Phase1Mode::Aggressive(Some(g)) => {
                writeln!(o, "{head} set phase1-mode aggressive group{}", g.number())?;
                any = true;
            }
        }
        // Always said when it differs from the global; also when nothing
        // else would make the entry exist.
        if !any || e.lifetime_s != c.ipsec_lifetime_s || e.lifetime_kb != c.ipsec_lifetime_kb {
            writeln!(
                o,
                "{head} set security-association {}",
                lifetime(e.lifetime_s, e.lifetime_kb)
            )?;
        }
        if let Some(i) = &e.interface {
            map_ifaces.entry(e.map.as_str()).or_insert(i.as_str());
        }
    }
    for (map, nameif) in &map_ifaces {
        writeln!(o, "crypto map {map} interface {nameif}")?;
    }
    for nameif in &c.ikev1_enabled_on {
        writeln!(o, "crypto ikev1 enable {nameif}")?;
    }
    for p in &c.isakmp_policies {
        writeln!(o, "crypto ikev1 policy {}", p.priority)?;
        writeln!(o, " authentication {}", p.auth)?;
        writeln!(o, " encryption {}", p.encryption)?;
        writeln!(o, " hash {}", p.hash)?;
        writeln!(o, " group {}", p.group.number())?;
        writeln!(o, " lifetime {}", p.lifetime_s)?;
    }
    match c.nat_traversal {
        Some(k) => writeln!(o, "crypto isakmp nat-traversal {k}")?,
        None => writeln!(o, "no crypto isakmp nat-traversal")?,
    }
    if c.allow_weak_groups {
        writeln!(o, "crypto isakmp allow-weak-groups")?;
    }
    if c.invalid_spi_recovery {
        writeln!(o, "crypto isakmp invalid-spi-recovery")?;
    }
    writeln!(o, "sysopt connection tcpmss {}", c.tcp_mss)?;

    // One group-policy per idle timeout other than the default.
    let idles: BTreeSet<Option<u32>> = c
        .tunnel_groups
        .values()
        .map(|t| t.idle_timeout_min)
        .filter(|i| *i != Some(DEFAULT_IDLE_TIMEOUT_MIN))
        .collect();
    for idle in &idles {
        let name = idle_policy_name(*idle);
        writeln!(o, "group-policy {name} internal")?;
        writeln!(o, "group-policy {name} attributes")?;
        match idle {
            Some(m) => writeln!(o, " vpn-idle-timeout {m}")?,
            None => writeln!(o, " vpn-idle-timeout none")?,
        }
    }
    for t in c.tunnel_groups.values() {
        writeln!(o, "tunnel-group {} type ipsec-l2l", t.name)?;
        if t.idle_timeout_min != Some(DEFAULT_IDLE_TIMEOUT_MIN) {
            writeln!(o, "tunnel-group {} general-attributes", t.name)?;
            writeln!(
                o,
                " default-group-policy {}",
                idle_policy_name(t.idle_timeout_min)
            )?;
        }
        writeln!(o, "tunnel-group {} ipsec-attributes", t.name)?;
        if let Some(k) = &t.psk {
            if opts.include_keys {
                writeln!(o, " ikev1 pre-shared-key {}", k.expose_str())?;
            } else {
                writeln!(o, " ikev1 pre-shared-key *****")?;
            }
        }
        match t.dpd {
            Some((th, re)) => writeln!(o, " isakmp keepalive threshold {th} retry {re}")?,
            None => writeln!(o, " isakmp keepalive disable")?,
        }
    }
    Ok(())
}
