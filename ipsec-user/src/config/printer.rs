//! Prints a [`Config`] back in ASA 8.4+ syntax (`crypto ikev1 policy`,
//! `crypto ipsec ikev1 transform-set`, `ikev1 pre-shared-key`, and the
//! `crypto ikev2` / `ipsec-proposal` / `ikev2 ...-authentication` lines of
//! IKEv2), normalised:
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

/// A key as printed: in clear for a file meant to be loaded, else masked.
/// (Borrowed, so no copy of the key outlives the output.)
fn shown_key(k: &Psk, opts: PrintOptions) -> &str {
    if opts.include_keys {
        k.expose_str()
    } else {
        "*****"
    }
}

/// Keywords separated by spaces (`aes-gcm-256 aes-256`).
fn words<T: std::fmt::Display>(items: &[T]) -> String {
    let w: Vec<String> = items.iter().map(|i| i.to_string()).collect();
    w.join(" ")
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
    for p in c.ikev2_proposals.values() {
        writeln!(o, "crypto ipsec ikev2 ipsec-proposal {}", p.name)?;
        if !p.encryption.is_empty() {
            writeln!(o, " protocol esp encryption {}", words(&p.encryption))?;
        }
        if !p.integrity.is_empty() {
            writeln!(o, " protocol esp integrity {}", words(&p.integrity))?;
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
        if !e.ikev2_proposals.is_empty() {
            writeln!(
                o,
                "{head} set ikev2 ipsec-proposal {}",
                e.ikev2_proposals.join(" ")
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
    for nameif in &c.ikev2_enabled_on {
        writeln!(o, "crypto ikev2 enable {nameif}")?;
    }
    for p in &c.isakmp_policies {
        writeln!(o, "crypto ikev1 policy {}", p.priority)?;
        writeln!(o, " authentication {}", p.auth)?;
        writeln!(o, " encryption {}", p.encryption)?;
        writeln!(o, " hash {}", p.hash)?;
        writeln!(o, " group {}", p.group.number())?;
        writeln!(o, " lifetime {}", p.lifetime_s)?;
    }
    for p in &c.ikev2_policies {
        writeln!(o, "crypto ikev2 policy {}", p.priority)?;
        // An empty list (a Config built in code) is left out: the parser
        // would fill its default, which is all it can mean.
        if !p.encryption.is_empty() {
            writeln!(o, " encryption {}", words(&p.encryption))?;
        }
        if !p.integrity.is_empty() {
            writeln!(o, " integrity {}", words(&p.integrity))?;
        }
        if !p.groups.is_empty() {
            let groups: Vec<String> = p.groups.iter().map(|g| g.number().to_string()).collect();
            writeln!(o, " group {}", groups.join(" "))?;
        }
        if !p.prf.is_empty() {
            writeln!(o, " prf {}", words(&p.prf))?;
        }
        writeln!(o, " lifetime seconds {}", p.lifetime_s)?;
    }
    // The globals only where IKEv2 is configured at all: an IKEv1
    // configuration prints as it did before IKEv2 existed.
    if c.has_ikev2() {
        match c.ikev2.cookie_challenge {
            Some(p) => writeln!(o, "crypto ikev2 cookie-challenge {p}")?,
            None => writeln!(o, "no crypto ikev2 cookie-challenge")?,
        }
        writeln!(
            o,
            "crypto ikev2 limit max-in-negotiation-sa {}",
            c.ikev2.max_in_negotiation
        )?;
        writeln!(
            o,
            "crypto ikev2 fragmentation mtu {}",
            c.ikev2.fragmentation_mtu
        )?;
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
        let key = |k| shown_key(k, opts);
        if let Some(k) = &t.psk {
            writeln!(o, " ikev1 pre-shared-key {}", key(k))?;
        }
        if let Some(k) = &t.ikev2_remote_psk {
            writeln!(o, " ikev2 remote-authentication pre-shared-key {}", key(k))?;
        }
        if let Some(k) = &t.ikev2_local_psk {
            writeln!(o, " ikev2 local-authentication pre-shared-key {}", key(k))?;
        }
        match t.dpd {
            Some((th, re)) => writeln!(o, " isakmp keepalive threshold {th} retry {re}")?,
            None => writeln!(o, " isakmp keepalive disable")?,
        }
    }
    Ok(())
}
