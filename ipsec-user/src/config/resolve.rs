//! Pass 2: turns the gathered [`Raw`] statements into a [`Config`]:
//! names, objects and groups become networks, the access-lists used by
//! crypto maps become ordered rules, defaults and inheritance (global SA
//! lifetimes, group-policy idle timeouts) are applied.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use super::diag::{Diagnostic, closest, hint_for};
use super::lexer::{Line, Word};
use super::model::*;
use super::net::{Ipv4Net, mask_to_prefix, range_to_cidrs};
use super::parser::{GroupMember, ObjectDef, Raw};
use super::ports;

/// Bound on the rules one access-list may expand to (groups multiply):
/// beyond this the load fails rather than allocating without limit.
pub const MAX_RULES_PER_ACL: usize = 4096;
/// Bound on the networks one object-group may flatten to.
pub const MAX_GROUP_NETWORKS: usize = 4096;
/// Bound on object-group nesting.
pub const MAX_GROUP_DEPTH: usize = 16;

type Res<T> = Result<T, Diagnostic>;

struct Resolver<'r, 'a> {
    raw: &'r Raw<'a>,
}

impl<'a> Resolver<'_, 'a> {
    /// An address literal or a `name`.
    fn addr(&self, line: usize, w: Word<'a>) -> Res<Ipv4Addr> {
        if let Ok(a) = w.text.parse() {
            return Ok(a);
        }
        if let Some(a) = self.raw.names.get(w.text) {
            return Ok(*a);
        }
        let mut d = Diagnostic::error(
            line,
            w.col,
            format!("`{}` is neither an IPv4 address nor a known name", w.text),
        );
        let names: Vec<&str> = self.raw.names.keys().copied().collect();
        if let Some(c) = closest(w.text, &names) {
            d = d.with_hint(format!("did you mean `{c}`?"));
        }
        Err(d)
    }

    /// Address + dotted mask, refusing host bits outside the mask like an ASA.
    fn net(&self, line: usize, a: Word<'a>, m: Word<'a>) -> Res<Ipv4Net> {
        let addr = self.addr(line, a)?;
        let mask: Ipv4Addr = m.text.parse().map_err(|_| {
            Diagnostic::error(line, m.col, format!("expected a mask, found `{}`", m.text))
        })?;
        let prefix = mask_to_prefix(mask).ok_or_else(|| {
            Diagnostic::error(
                line,
                m.col,
                format!("`{}` is not a contiguous mask", m.text),
            )
        })?;
        let net = Ipv4Net::new(addr, prefix).unwrap_or(Ipv4Net::ANY);
        if net.addr() != addr {
            return Err(Diagnostic::error(
                line,
                a.col,
                format!("address {addr} has bits outside mask {mask}"),
            )
            .with_hint(format!("did you mean `{}`?", net.addr())));
        }
        Ok(net)
    }

    fn object(&self, line: usize, w: Word<'a>) -> Res<Vec<Ipv4Net>> {
        let Some(obj) = self.raw.objects.get(w.text) else {
            let names: Vec<&str> = self.raw.objects.keys().copied().collect();
            let mut d =
                Diagnostic::error(line, w.col, format!("unknown network object `{}`", w.text));
            if let Some(c) = closest(w.text, &names) {
                d = d.with_hint(format!("did you mean `{c}`?"));
            }
            return Err(d);
        };
        let Some((dl, def)) = &obj.def else {
            return Err(Diagnostic::error(
                obj.line,
                0,
                format!("network object `{}` has no host, subnet or range", w.text),
            ));
        };
        match def {
            ObjectDef::Host(a) => Ok(vec![Ipv4Net::host(self.addr(*dl, *a)?)]),
            ObjectDef::Subnet(a, m) => Ok(vec![self.net(*dl, *a, *m)?]),
            ObjectDef::Range(a, b) => {
                let (first, last) = (self.addr(*dl, *a)?, self.addr(*dl, *b)?);
                if first > last {
                    return Err(Diagnostic::error(
                        *dl,
                        b.col,
                        format!("range end {last} is below its start {first}"),
                    ));
                }
                Ok(range_to_cidrs(first, last))
            }
            ObjectDef::Unsupported(kw, what) => Err(Diagnostic::error(
                *dl,
                kw.col,
                format!(
                    "{what} are not supported in crypto ACLs (object `{}`)",
                    w.text
                ),
            )),
        }
    }

    /// Flattens a network object-group; `stack` holds the groups being
    /// expanded, to refuse cycles.
    fn group(
        &self,
        line: usize,
        w: Word<'a>,
        stack: &mut Vec<&'a str>,
        out: &mut Vec<Ipv4Net>,
    ) -> Res<()> {
        let Some(g) = self.raw.groups.get(w.text) else {
            let names: Vec<&str> = self.raw.groups.keys().copied().collect();
            let mut d = Diagnostic::error(
                line,
                w.col,
                format!("unknown network object-group `{}`", w.text),
            );
            if let Some(c) = closest(w.text, &names) {
                d = d.with_hint(format!("did you mean `{c}`?"));
            }
            return Err(d);
        };
        if stack.contains(&w.text) {
            return Err(Diagnostic::error(
                line,
                w.col,
                format!("object-group `{}` contains itself", w.text),
            )
            .with_hint(format!("cycle: {} -> {}", stack.join(" -> "), w.text)));
        }
        if stack.len() >= MAX_GROUP_DEPTH {
            return Err(Diagnostic::error(
                line,
                w.col,
                format!("object-groups nested deeper than {MAX_GROUP_DEPTH}"),
            ));
        }
        stack.push(w.text);
        for (ml, m) in &g.members {
            match m {
                GroupMember::Net(a, mask) => out.push(self.net(*ml, *a, *mask)?),
                GroupMember::Host(a) => out.push(Ipv4Net::host(self.addr(*ml, *a)?)),
                GroupMember::Object(o) => out.extend(self.object(*ml, *o)?),
                GroupMember::Group(sub) => self.group(*ml, *sub, stack, out)?,
                GroupMember::Unsupported(kw, what) => {
                    return Err(Diagnostic::error(
                        *ml,
                        kw.col,
                        format!(
                            "{what} are not supported in crypto ACLs (object-group `{}`)",
                            w.text
                        ),
                    ));
                }
            }
            if out.len() > MAX_GROUP_NETWORKS {
                return Err(Diagnostic::error(
                    line,
                    w.col,
                    format!(
                        "object-group `{}` expands to more than {MAX_GROUP_NETWORKS} networks",
                        w.text
                    ),
                ));
            }
        }
        stack.pop();
        Ok(())
    }

    /// One address specification of an ACL line, consuming its words.
    fn spec(
        &self,
        line: usize,
        words: &[Word<'a>],
        i: &mut usize,
        what: &str,
        end_col: usize,
    ) -> Res<Vec<Ipv4Net>> {
        let Some(w) = words.get(*i).copied() else {
            return Err(
                Diagnostic::error(line, end_col + 1, format!("missing {what}"))
                    .with_hint("`any4`, `host A`, `A MASK`, `object X` or `object-group Y`"),
            );
        };
        *i += 1;
        let mut arg = |what: &str| -> Res<Word<'a>> {
            let a = words
                .get(*i)
                .copied()
                .ok_or_else(|| Diagnostic::error(line, end_col + 1, format!("missing {what}")))?;
            *i += 1;
            Ok(a)
        };
        match w.lower().as_str() {
            "any" | "any4" => Ok(vec![Ipv4Net::ANY]),
            "any6" => Err(
                Diagnostic::error(line, w.col, "IPv6 (`any6`) is not supported yet")
                    .with_hint("use `any4`"),
            ),
            "host" => {
                let a = arg("host address")?;
                Ok(vec![Ipv4Net::host(self.addr(line, a)?)])
            }
            "object" => {
                let o = arg("object name")?;
                self.object(line, o)
            }
            "object-group" => {
                let g = arg("object-group name")?;
                let mut out = Vec::new();
                self.group(line, g, &mut Vec::new(), &mut out)?;
                Ok(out)
            }
            "interface" => Err(Diagnostic::error(
                line,
                w.col,
                "`interface` addresses are not supported in crypto ACLs",
            )),
            _ => {
                let m = arg("mask")?;
                Ok(vec![self.net(line, w, m)?])
            }
        }
    }

    /// Optional port operator after an address spec.
    fn ports(
        &self,
        line: usize,
        words: &[Word<'a>],
        i: &mut usize,
        proto: Option<u8>,
    ) -> Res<Vec<RangeInclusive<u16>>> {
        const OPS: &[&str] = &["eq", "lt", "gt", "neq", "range"];
        let Some(op) = words.get(*i).copied() else {
            return Ok(vec![ALL_PORTS]);
        };
        let Some(op_kw) = OPS.iter().find(|o| op.is(o)).copied() else {
            return Ok(vec![ALL_PORTS]);
        };
        let p = match proto {
            Some(p @ (ports::PROTO_TCP | ports::PROTO_UDP)) => p,
            _ => {
                return Err(Diagnostic::error(
                    line,
                    op.col,
                    "ports need protocol `tcp` or `udp`",
                ));
            }
        };
        *i += 1;
        let port = |i: &mut usize| -> Res<u16> {
            let w = words.get(*i).copied().ok_or_else(|| {
                Diagnostic::error(line, op.col, format!("missing port after `{}`", op.text))
            })?;
            *i += 1;
            ports::port(w.text, p).ok_or_else(|| {
                Diagnostic::error(line, w.col, format!("unknown port `{}`", w.text))
                    .with_hint(hint_for(w.text, &ports::port_names(p)))
            })
        };
        let v = port(i)?;
        let r = match op_kw {
            "eq" => vec![v..=v],
            "lt" if v == 0 => {
                return Err(Diagnostic::error(line, op.col, "`lt 0` matches nothing"));
            }
            "lt" => vec![0..=v - 1],
            "gt" if v == u16::MAX => {
                return Err(Diagnostic::error(
                    line,
                    op.col,
                    "`gt 65535` matches nothing",
                ));
            }
            "gt" => vec![v + 1..=u16::MAX],
            "neq" => {
                let mut r = Vec::new();
                if v > 0 {
                    r.push(0..=v - 1);
                }
                if v < u16::MAX {
                    r.push(v + 1..=u16::MAX);
                }
                r
            }
            _ => {
                let hi = port(i)?;
                if hi < v {
                    return Err(Diagnostic::error(
                        line,
                        op.col,
                        format!("port range {v}-{hi} is empty"),
                    ));
                }
                vec![v..=hi]
            }
        };
        Ok(r)
    }

    /// Resolves one `access-list` line into rules appended to `out`.
    fn acl_line(&self, line: &Line<'a>, out: &mut Vec<AclRule>) -> Res<()> {
        let n = line.number;
        let words = &line.words;
        let end = line.end_col();
        let mut i = 2; // after `access-list NAME`
        let kw = |i: usize, k: &str| words.get(i).is_some_and(|w| w.is(k));
        if kw(i, "remark") {
            return Ok(());
        }
        if kw(i, "line") {
            i += 2;
        }
        if kw(i, "extended") {
            i += 1;
        } else if let Some(w) = words.get(i).filter(|w| {
            ["standard", "webtype", "ethertype", "ipv6"]
                .iter()
                .any(|k| w.is(k))
        }) {
            return Err(Diagnostic::error(
                n,
                w.col,
                format!("a `{}` access-list cannot select crypto traffic", w.text),
            )
            .with_hint("use an `extended` access-list"));
        }
        let Some(act) = words.get(i).copied() else {
            return Err(Diagnostic::error(n, end + 1, "missing `permit` or `deny`"));
        };
        i += 1;
        let action = if act.is("permit") {
            AclAction::Permit
        } else if act.is("deny") {
            AclAction::Deny
        } else {
            return Err(Diagnostic::error(
                n,
                act.col,
                format!("unknown access-list action `{}`", act.text),
            )
            .with_hint(hint_for(
                act.text,
                &["permit", "deny", "remark", "extended"],
            )));
        };
        let Some(pw) = words.get(i).copied() else {
            return Err(Diagnostic::error(n, end + 1, "missing protocol"));
        };
        i += 1;
        if pw.is("object") || pw.is("object-group") {
            return Err(Diagnostic::error(
                n,
                pw.col,
                "service objects are not supported in crypto ACLs",
            )
            .with_hint("write the protocol and ports on the line (`tcp ... eq https`)"));
        }
        let proto = ports::protocol(pw.text).ok_or_else(|| {
            Diagnostic::error(n, pw.col, format!("unknown protocol `{}`", pw.text))
                .with_hint(hint_for(pw.text, &ports::protocol_names()))
        })?;
        let srcs = self.spec(n, words, &mut i, "source", end)?;
        let sports = self.ports(n, words, &mut i, proto)?;
        let dsts = self.spec(n, words, &mut i, "destination", end)?;
        let dports = self.ports(n, words, &mut i, proto)?;
        // Trailing options.
        if let Some(w) = words.get(i).copied() {
            match w.lower().as_str() {
                // Logging changes nothing about what is protected.
                "log" => {}
                // A disabled line protects nothing.
                "inactive" => return Ok(()),
                "time-range" => {
                    return Err(Diagnostic::error(
                        n,
                        w.col,
                        "time-ranges are not supported in crypto ACLs",
                    ));
                }
                _ if proto == Some(1) => {
                    return Err(Diagnostic::error(
                        n,
                        w.col,
                        format!("ICMP type `{}` cannot be a crypto selector", w.text),
                    )
                    .with_hint("IKE proxy identities carry no ICMP type; drop it"));
                }
                _ => {
                    return Err(Diagnostic::error(
                        n,
                        w.col,
                        format!("unexpected `{}`", w.text),
                    ));
                }
            }
        }
        let count = srcs.len() * sports.len() * dsts.len() * dports.len();
        if out.len() + count > MAX_RULES_PER_ACL {
            return Err(Diagnostic::error(
                n,
                1,
                format!("access-list expands to more than {MAX_RULES_PER_ACL} rules"),
            ));
        }
        for src in &srcs {
            for sp in &sports {
                for dst in &dsts {
                    for dp in &dports {
                        out.push(AclRule {
                            action,
                            proto,
                            src: *src,
                            dst: *dst,
                            src_ports: sp.clone(),
                            dst_ports: dp.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn acl(&self, name: &str) -> Result<Vec<AclRule>, Vec<Diagnostic>> {
        let mut out = Vec::new();
        let mut errs = Vec::new();
        for line in self.raw.acls.get(name).map(Vec::as_slice).unwrap_or(&[]) {
            if let Err(d) = self.acl_line(line, &mut out) {
                // Past the rule bound, or after many errors, more lines
                // would only cost time.
                let fatal = d.message.starts_with("access-list expands");
                errs.push(d);
                if fatal || errs.len() >= 20 {
                    break;
                }
            }
        }
        if errs.is_empty() { Ok(out) } else { Err(errs) }
    }
}

/// Pass 2. Errors are appended to `raw.errors`.
pub(super) fn resolve(mut raw: Raw<'_>) -> (Parsed, Vec<Diagnostic>) {
    let mut errors = std::mem::take(&mut raw.errors);
    let mut config = Config::default();
    let mut source = SourceLines::default();
    let mut ignored = std::mem::take(&mut raw.ignored);
    let mut warnings = std::mem::take(&mut raw.warnings);
    let r = Resolver { raw: &raw };

    // Interfaces: only those given a nameif take part.
    let mut nameifs = HashSet::new();
    for i in &raw.interfaces {
        match i.nameif {
            Some(nameif) => {
                if !nameifs.insert(nameif.text) {
                    errors.push(Diagnostic::error(
                        i.line,
                        0,
                        format!("nameif `{}` used by two interfaces", nameif.text),
                    ));
                }
                source.interfaces.insert(nameif.text.to_string(), i.line);
                config.interfaces.push(Interface {
                    ifname: i.ifname.text.to_string(),
                    nameif: nameif.text.to_string(),
                    address: i.address,
                });
            }
            None => ignored.push(Ignored {
                line: i.line,
                text: format!("interface {}", i.ifname.text),
            }),
        }
    }
    let nameif_known = |line: usize, w: Word<'_>, errors: &mut Vec<Diagnostic>| -> bool {
        if nameifs.contains(w.text) {
            return true;
        }
        let all: Vec<&str> = nameifs.iter().copied().collect();
        let mut d = Diagnostic::error(line, w.col, format!("no interface has nameif `{}`", w.text));
        d = match closest(w.text, &all) {
            Some(c) => d.with_hint(format!("did you mean `{c}`?")),
            None => d.with_hint("bind one with `interface <linux-ifname>` / ` nameif NAME`"),
        };
        errors.push(d);
        false
    };

    for (prio, (line, p)) in &raw.policies {
        source.isakmp_policies.insert(*prio, *line);
        config.isakmp_policies.push(*p);
    }
    for (l, w) in &raw.ikev1_enabled_on {
        if nameif_known(*l, *w, &mut errors) && !config.ikev1_enabled_on.iter().any(|n| n == w.text)
        {
            config.ikev1_enabled_on.push(w.text.to_string());
        }
    }
    for (prio, (line, p)) in &raw.ikev2_policies {
        source.ikev2_policies.insert(*prio, *line);
        config.ikev2_policies.push(p.resolve(*prio));
    }
    for (l, w) in &raw.ikev2_enabled_on {
        if nameif_known(*l, *w, &mut errors) && !config.ikev2_enabled_on.iter().any(|n| n == w.text)
        {
            config.ikev2_enabled_on.push(w.text.to_string());
        }
    }
    config.ikev2 = raw.ikev2;
    for (name, (line, p)) in &raw.ikev2_proposals {
        source.ikev2_proposals.insert(name.clone(), *line);
        config.ikev2_proposals.insert(name.clone(), p.clone());
    }
    if let Some(n) = raw.nat_traversal {
        config.nat_traversal = n;
    }
    config.allow_weak_groups = raw.allow_weak_groups;
    config.invalid_spi_recovery = raw.invalid_spi_recovery;
    if let Some(m) = raw.tcp_mss {
        config.tcp_mss = m;
    }
    if let Some(s) = raw.ipsec_lifetime_s {
        config.ipsec_lifetime_s = s;
    }
    if let Some(kb) = raw.ipsec_lifetime_kb {
        config.ipsec_lifetime_kb = kb;
    }
    for (name, (line, set)) in &raw.transform_sets {
        source.transform_sets.insert(name.clone(), *line);
        config.transform_sets.insert(name.clone(), set.clone());
    }

    // Crypto maps, resolving each used ACL once.
    let mut acls: HashMap<String, Vec<AclRule>> = HashMap::new();
    let mut map_ifaces: BTreeMap<&str, String> = BTreeMap::new();
    for (map, (l, w)) in &raw.map_interfaces {
        if nameif_known(*l, *w, &mut errors) {
            map_ifaces.insert(map.as_str(), w.text.to_string());
        }
    }
    for ((map, seq), e) in &raw.entries {
        source.crypto_maps.insert((map.clone(), *seq), e.line);
        if !e.ikev2_proposals.is_empty() {
            source.ikev2_proposal_refs.insert(
                (map.clone(), *seq),
                e.ikev2_proposals.iter().map(|(l, w)| (*l, w.col)).collect(),
            );
        }
        let acl = e.acl.map(|(_, w)| w.text.to_string()).unwrap_or_default();
        if !acl.is_empty() && !acls.contains_key(&acl) {
            match r.acl(&acl) {
                Ok(rules) => {
                    acls.insert(acl.clone(), rules);
                }
                Err(errs) => {
                    errors.extend(errs);
                    acls.insert(acl.clone(), Vec::new());
                }
            }
        }
        let mut peers = Vec::new();
        for (l, w) in &e.peers {
            match r.addr(*l, *w) {
                Ok(a) if !peers.contains(&a) => peers.push(a),
                Ok(a) => errors.push(Diagnostic::error(
                    *l,
                    w.col,
                    format!("peer {a} listed twice"),
                )),
                Err(d) => errors.push(d),
            }
        }
        config.crypto_maps.push(CryptoMapEntry {
            map: map.clone(),
            seq: *seq,
            rules: acls.get(&acl).cloned().unwrap_or_default(),
            acl,
            peers,
            transform_sets: e
                .transform_sets
                .iter()
                .map(|(_, w)| w.text.to_string())
                .collect(),
            ikev2_proposals: e
                .ikev2_proposals
                .iter()
                .map(|(_, w)| w.text.to_string())
                .collect(),
            pfs: e.pfs,
            phase1_mode: match e.aggressive {
                Some(g) => Phase1Mode::Aggressive(g),
                None => Phase1Mode::Main,
            },
            lifetime_s: e.lifetime_s.unwrap_or(config.ipsec_lifetime_s),
            lifetime_kb: e.lifetime_kb.unwrap_or(config.ipsec_lifetime_kb),
            interface: map_ifaces.get(map.as_str()).cloned(),
        });
    }
    // Access-lists no crypto map uses: listed, not interpreted (interface
    // ACLs use features a crypto selector cannot, and are not ours).
    for (name, lines) in &raw.acls {
        if !acls.contains_key(*name) {
            ignored.extend(lines.iter().map(|l| Ignored {
                line: l.number,
                text: l.text.trim().to_string(),
            }));
        }
    }

    // Tunnel-groups, idle timeout through group-policy then DfltGrpPolicy.
    let dflt_idle = raw
        .group_policies
        .get("DfltGrpPolicy")
        .and_then(|p| p.idle)
        .unwrap_or(Some(DEFAULT_IDLE_TIMEOUT_MIN));
    for (name, t) in &raw.tunnel_groups {
        source.tunnel_groups.insert(name.clone(), t.line);
        let idle = match t.default_group_policy {
            None => dflt_idle,
            Some((l, w)) => match raw.group_policies.get(w.text) {
                Some(p) => p.idle.unwrap_or(dflt_idle),
                None => {
                    let all: Vec<&str> = raw.group_policies.keys().map(String::as_str).collect();
                    errors.push(
                        Diagnostic::error(l, w.col, format!("unknown group-policy `{}`", w.text))
                            .with_hint(hint_for(w.text, &all)),
                    );
                    dflt_idle
                }
            },
        };
        config.tunnel_groups.insert(
            name.clone(),
            TunnelGroup {
                name: name.clone(),
                psk: t.psk.clone(),
                ikev2_local_psk: t.ikev2_local_psk.clone(),
                ikev2_remote_psk: t.ikev2_remote_psk.clone(),
                dpd: t.dpd.unwrap_or(Some(DEFAULT_DPD)),
                idle_timeout_min: idle,
            },
        );
    }

    ignored.sort_by_key(|i| i.line);
    warnings.sort_by_key(|d| (d.line, d.column));
    errors.sort_by_key(|d| (d.line, d.column));
    errors.dedup();
    (
        Parsed {
            config,
            ignored,
            warnings,
            source,
        },
        errors,
    )
}
