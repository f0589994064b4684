//! The IKEv2 statements of the ASA dialect, pass 1: `crypto ikev2 policy
//! N` and its attribute lists, `crypto ikev2 enable | cookie-challenge |
//! limit | fragmentation`, `crypto ipsec ikev2 ipsec-proposal P` and its
//! ` protocol esp ...` lists, `crypto map M N set ikev2 ipsec-proposal`,
//! and a tunnel-group's ` ikev2 local-|remote-authentication` lines. Also
//! the defaults an omitted policy line takes (applied in pass 2).
//!
//! Every list (encryption, integrity, groups, PRFs, proposal names) keeps
//! the order written, which is the operator's preference, and refuses a
//! repeated item: a list is then bounded by the number of keywords.

use std::str::FromStr;

use super::diag::{Diagnostic, closest};
use super::lexer::{Line, Word};
use super::model::{DEFAULT_ISAKMP_LIFETIME_S, Ikev2Policy, Ikev2Proposal, TunnelGroupName};
use super::parser::{Cur, Raw, Res, SubMode, c_unknown_first, group_number, psk_arg};
use crate::algo::{DhGroup, Ikev2Encryption, Ikev2Integrity, Ikev2Prf, UnknownKeyword};

/// Attribute lines of `crypto ikev2 policy N`.
pub(super) const POLICY_ATTRS: &[&str] = &["encryption", "integrity", "group", "prf", "lifetime"];

/// Largest `crypto ikev2 limit max-in-negotiation-sa`.
const MAX_IN_NEGOTIATION: u64 = 100_000;

/// A `crypto ikev2 policy N` as written: `None` for an omitted line.
#[derive(Debug, Clone, Default)]
pub(super) struct RawIkev2Policy {
    pub encryption: Option<Vec<Ikev2Encryption>>,
    pub integrity: Option<Vec<Ikev2Integrity>>,
    pub groups: Option<Vec<DhGroup>>,
    pub prf: Option<Vec<Ikev2Prf>>,
    pub lifetime_s: Option<u32>,
}

impl RawIkev2Policy {
    /// The policy with its omitted lines defaulted (see [`Ikev2Policy`]).
    pub(super) fn resolve(&self, priority: u32) -> Ikev2Policy {
        let encryption = self
            .encryption
            .clone()
            .unwrap_or_else(|| vec![Ikev2Policy::DEFAULT_ENCRYPTION]);
        let integrity = self
            .integrity
            .clone()
            .unwrap_or_else(|| Ikev2Policy::default_integrity(&encryption));
        Ikev2Policy {
            priority,
            encryption,
            integrity,
            groups: self
                .groups
                .clone()
                .unwrap_or_else(|| vec![Ikev2Policy::DEFAULT_GROUP]),
            prf: self.prf.clone().unwrap_or_default(),
            lifetime_s: self.lifetime_s.unwrap_or(DEFAULT_ISAKMP_LIFETIME_S),
        }
    }
}

/// The rest of the line: one or more keywords of `T`, none twice.
fn list<T: FromStr<Err = UnknownKeyword> + PartialEq>(
    c: &mut Cur<'_, '_>,
    what: &str,
) -> Res<Vec<T>> {
    let mut out = Vec::new();
    loop {
        let col = c.peek().map(|w| w.col);
        let v: T = c.algo(what)?;
        if out.contains(&v) {
            let w = c.line.words[c.i - 1];
            return Err(Diagnostic::error(
                c.n(),
                col.unwrap_or(w.col),
                format!("{what} `{}` listed twice", w.text),
            ));
        }
        out.push(v);
        if c.peek().is_none() {
            return Ok(out);
        }
    }
}

/// ` group 21 20 19 14`: one or more group numbers, none twice.
fn groups(c: &mut Cur<'_, '_>) -> Res<Vec<DhGroup>> {
    let mut out = Vec::new();
    loop {
        let w = c.need("Diffie-Hellman group")?;
        let g = group_number(c.n(), w)?;
        if out.contains(&g) {
            return Err(Diagnostic::error(
                c.n(),
                w.col,
                format!("Diffie-Hellman group `{}` listed twice", w.text),
            ));
        }
        out.push(g);
        if c.peek().is_none() {
            return Ok(out);
        }
    }
}

impl<'a> Raw<'a> {
    /// `crypto ikev2 ...`
    pub(super) fn ikev2(&mut self, line: &Line<'a>) -> Res<SubMode<'a>> {
        const OURS: &[&str] = &[
            "policy",
            "enable",
            "cookie-challenge",
            "limit",
            "fragmentation",
        ];
        // Remote-access and other ASA features an L2L gateway does not use.
        const THEIRS: &[&str] = &["remote-access", "notify", "redirect", "nat-keepalive"];
        let mut c = Cur::new(line, 2);
        let w = c.need("ikev2 subcommand")?;
        match w.lower().as_str() {
            "policy" => {
                let prio = c.number("policy priority", 1, 65535)? as u32;
                c.done()?;
                // Re-entering a policy continues its configuration.
                self.ikev2_policies
                    .entry(prio)
                    .or_insert((line.number, RawIkev2Policy::default()));
                Ok(SubMode::Ikev2Policy(prio))
            }
            "enable" => {
                let nameif = c.need("interface nameif")?;
                // ` client-services [port N]` is AnyConnect's: nothing an
                // L2L tunnel uses, accepted so a pasted config loads.
                if c.peek().is_some_and(|w| w.is("client-services")) {
                    c.next();
                    if c.peek().is_some_and(|w| w.is("port")) {
                        c.next();
                        c.number("client-services port", 1, 65535)?;
                    }
                }
                c.done()?;
                self.ikev2_enabled_on.push((line.number, nameif));
                Ok(SubMode::None)
            }
            "cookie-challenge" => {
                let p = c.number("cookie-challenge percentage", 0, 100)? as u32;
                c.done()?;
                self.ikev2.cookie_challenge = Some(p);
                Ok(SubMode::None)
            }
            "limit" => {
                let what = c.need("`max-in-negotiation-sa`")?;
                if what.is("max-in-negotiation-sa") {
                    let n = c.number("max-in-negotiation-sa", 1, MAX_IN_NEGOTIATION)? as u32;
                    c.done()?;
                    self.ikev2.max_in_negotiation = n;
                    return Ok(SubMode::None);
                }
                if !what.is("max-sa")
                    && !what.is("queue")
                    && closest(what.text, &["max-in-negotiation-sa"]).is_some()
                {
                    return Err(c.unknown(what, "ikev2 limit", &["max-in-negotiation-sa"]));
                }
                // `max-sa`, `queue sa-init`: limits ipsecgw does not have.
                self.ignore(line);
                Ok(SubMode::None)
            }
            "fragmentation" => {
                // `crypto ikev2 fragmentation [mtu N] [preference N]`.
                while let Some(w) = c.next() {
                    match w.lower().as_str() {
                        "mtu" => {
                            self.ikev2.fragmentation_mtu =
                                c.number("fragmentation MTU", 576, 9000)? as u16
                        }
                        "preference" => {
                            c.number("fragmentation preference", 1, 3)?;
                            self.warnings.push(Diagnostic::warning(
                                line.number,
                                w.col,
                                "`preference` ignored: ipsecgw always uses RFC 7383 fragmentation",
                            ));
                        }
                        _ => {
                            return Err(c.unknown(
                                w,
                                "fragmentation parameter",
                                &["mtu", "preference"],
                            ));
                        }
                    }
                }
                Ok(SubMode::None)
            }
            other => {
                if !THEIRS.contains(&other) {
                    if let Some(s) = closest(other, OURS) {
                        return Err(c.unknown(w, "ikev2 subcommand", &[s]));
                    }
                }
                self.ignore(line);
                Ok(SubMode::Ignore)
            }
        }
    }

    /// `crypto ipsec ikev2 ...` (`c` is past `ikev2`).
    pub(super) fn ipsec_ikev2(&mut self, c: &mut Cur<'_, 'a>) -> Res<SubMode<'a>> {
        let w = c.need("ipsec ikev2 subcommand")?;
        if w.is("ipsec-proposal") {
            let name = c.need("ipsec-proposal name")?;
            c.done()?;
            let line = c.n();
            self.ikev2_proposals
                .entry(name.text.to_string())
                .or_insert_with(|| {
                    (
                        line,
                        Ikev2Proposal {
                            name: name.text.to_string(),
                            encryption: Vec::new(),
                            integrity: Vec::new(),
                        },
                    )
                });
            return Ok(SubMode::Ikev2Proposal(name.text.to_string()));
        }
        if closest(w.text, &["ipsec-proposal"]).is_some() {
            return Err(c.unknown(w, "ipsec ikev2 subcommand", &["ipsec-proposal"]));
        }
        // `sa-strength-enforcement`: not ours.
        self.ignore(c.line);
        Ok(SubMode::Ignore)
    }

    /// A line under `crypto ikev2 policy PRIO`. A repeated attribute line
    /// replaces the earlier list, as on an ASA.
    pub(super) fn ikev2_policy_line(&mut self, prio: u32, line: &Line<'a>) -> Res<()> {
        let mut c = Cur::new(line, 1);
        let first = line.words[0];
        let Some((_, p)) = self.ikev2_policies.get(&prio) else {
            return Ok(());
        };
        let mut p = p.clone();
        match POLICY_ATTRS.iter().find(|a| first.is(a)).copied() {
            Some("encryption") => p.encryption = Some(list(&mut c, "encryption")?),
            Some("integrity") => p.integrity = Some(list(&mut c, "integrity")?),
            Some("group") => p.groups = Some(groups(&mut c)?),
            Some("prf") => p.prf = Some(list(&mut c, "prf")?),
            Some("lifetime") => {
                // The IKEv1 form (`lifetime 86400`) is a common slip here.
                if let Some(w) = c.peek().filter(|w| w.text.parse::<u64>().is_ok()) {
                    return Err(Diagnostic::error(
                        c.n(),
                        w.col,
                        "an ikev2 policy lifetime needs its unit",
                    )
                    .with_hint(format!("write `lifetime seconds {}`", w.text)));
                }
                c.keyword("lifetime unit", &["seconds"])?;
                p.lifetime_s = Some(c.number("lifetime seconds", 120, 2_147_483_647)? as u32);
            }
            _ => {
                return Err(c_unknown_first(
                    line,
                    "ikev2 policy attribute",
                    POLICY_ATTRS,
                ));
            }
        }
        c.done()?;
        if let Some(slot) = self.ikev2_policies.get_mut(&prio) {
            slot.1 = p;
        }
        Ok(())
    }

    /// ` protocol esp encryption ...` / ` protocol esp integrity ...` under
    /// `crypto ipsec ikev2 ipsec-proposal NAME`.
    pub(super) fn ikev2_proposal_line(&mut self, name: &str, line: &Line<'a>) -> Res<()> {
        if !line.words[0].is("protocol") {
            return Err(c_unknown_first(
                line,
                "ipsec-proposal command",
                &["protocol"],
            ));
        }
        let mut c = Cur::new(line, 1);
        c.keyword("protocol", &["esp"])?;
        let what = c.keyword("esp attribute", &["encryption", "integrity"])?;
        let (enc, integ) = if what == "encryption" {
            (Some(list(&mut c, "ESP encryption")?), None)
        } else {
            (None, Some(list(&mut c, "ESP integrity")?))
        };
        if let Some((_, p)) = self.ikev2_proposals.get_mut(name) {
            if let Some(e) = enc {
                p.encryption = e;
            }
            if let Some(i) = integ {
                p.integrity = i;
            }
        }
        Ok(())
    }

    /// `crypto map M N set ikev2 ipsec-proposal P1 [P2 ...]` (`c` is past
    /// `ikev2`).
    pub(super) fn set_ikev2(&mut self, c: &mut Cur<'_, 'a>, key: &(String, u32)) -> Res<()> {
        let n = c.n();
        c.keyword("ikev2 parameter", &["ipsec-proposal"])?;
        let names: Vec<(usize, Word<'a>)> = c.rest().iter().map(|w| (n, *w)).collect();
        if names.is_empty() {
            c.need("ipsec-proposal name")?;
        }
        for (i, (_, w)) in names.iter().enumerate() {
            if names[..i].iter().any(|(_, o)| o.text == w.text) {
                return Err(Diagnostic::error(
                    n,
                    w.col,
                    format!("ipsec-proposal `{}` listed twice", w.text),
                ));
            }
        }
        self.entry(key, n).ikev2_proposals = names;
        Ok(())
    }

    /// ` ikev2 local-authentication pre-shared-key K` / ` ikev2
    /// remote-authentication pre-shared-key K` (`c` is past `ikev2`).
    pub(super) fn tunnel_ikev2_line(
        &mut self,
        tg: &TunnelGroupName,
        c: &mut Cur<'_, 'a>,
    ) -> Res<()> {
        const SIDES: &[&str] = &["local-authentication", "remote-authentication"];
        let w = c.need("`local-authentication` or `remote-authentication`")?;
        let local = if w.is("local-authentication") {
            true
        } else if w.is("remote-authentication") {
            false
        } else if closest(w.text, SIDES).is_some() {
            return Err(c.unknown(w, "ikev2 attribute", SIDES));
        } else {
            // Other `ikev2 ...` attributes are not ours.
            self.ignore(c.line);
            return Ok(());
        };
        let side = if local { "local" } else { "remote" };
        let method_col = c.peek().map(|m| m.col);
        let method = c.keyword("authentication method", &["pre-shared-key", "certificate"])?;
        if method == "certificate" {
            return Err(Diagnostic::error(
                c.n(),
                method_col.unwrap_or(0),
                format!(
                    "ikev2 {side}-authentication certificate: certificates are not supported yet"
                ),
            )
            .with_hint(format!(
                "use `ikev2 {side}-authentication pre-shared-key KEY`"
            )));
        }
        let key = psk_arg(c, tg, &format!("ikev2 {side}-authentication key"))?;
        if let Some(t) = self.tunnel_groups.get_mut(tg) {
            if local {
                t.ikev2_local_psk = Some(key);
            } else {
                t.ikev2_remote_psk = Some(key);
            }
        }
        Ok(())
    }
}
