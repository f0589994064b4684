//! Pass 1: walks the lexed lines with a sub-mode state machine and gathers
//! the supported statements into a [`Raw`] configuration. Addresses that may
//! be names, objects, groups and access-lists are kept as words and resolved
//! in pass 2 ([`super::resolve`]) — only what the crypto configuration uses
//! is resolved, so an unrelated object in a pasted running-config can never
//! stop the load.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::str::FromStr;

use super::diag::{Diagnostic, closest, hint_for};
use super::ikev2::RawIkev2Policy;
use super::lexer::{Line, Word};
use super::model::{
    Ignored, Ikev2Proposal, Ikev2Settings, IsakmpPolicy, Mode, Psk, TransformSet, TunnelGroupName,
};
use super::net::mask_to_prefix;
use crate::algo::{DhGroup, EspCipher, EspInteg, EspTransform, UnknownKeyword};

/// An `object network` definition, kept as words.
#[derive(Debug, Clone)]
pub(super) enum ObjectDef<'a> {
    Host(Word<'a>),
    Subnet(Word<'a>, Word<'a>),
    Range(Word<'a>, Word<'a>),
    /// `fqdn`, an IPv6 subnet...: fine unless a crypto ACL uses it.
    Unsupported(Word<'a>, &'static str),
}

#[derive(Debug, Clone)]
pub(super) struct RawObject<'a> {
    pub line: usize,
    /// (line of the definition, the definition)
    pub def: Option<(usize, ObjectDef<'a>)>,
}

/// One member of an `object-group network`.
#[derive(Debug, Clone)]
pub(super) enum GroupMember<'a> {
    Net(Word<'a>, Word<'a>),
    Host(Word<'a>),
    Object(Word<'a>),
    Group(Word<'a>),
    Unsupported(Word<'a>, &'static str),
}

#[derive(Debug, Clone)]
pub(super) struct RawGroup<'a> {
    pub members: Vec<(usize, GroupMember<'a>)>,
}

#[derive(Debug, Clone)]
pub(super) struct RawInterface<'a> {
    pub line: usize,
    pub ifname: Word<'a>,
    pub nameif: Option<Word<'a>>,
    pub address: Option<(Ipv4Addr, u8)>,
}

/// `crypto map M N ...` lines gathered, not yet resolved.
#[derive(Debug, Clone, Default)]
pub(super) struct RawEntry<'a> {
    pub line: usize,
    pub acl: Option<(usize, Word<'a>)>,
    pub peers: Vec<(usize, Word<'a>)>,
    pub transform_sets: Vec<(usize, Word<'a>)>,
    pub ikev2_proposals: Vec<(usize, Word<'a>)>,
    pub pfs: Option<DhGroup>,
    pub aggressive: Option<Option<DhGroup>>,
    pub lifetime_s: Option<u32>,
    /// `Some(None)` = unlimited.
    pub lifetime_kb: Option<Option<u64>>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct RawTunnelGroup<'a> {
    pub line: usize,
    pub psk: Option<Psk>,
    pub ikev2_local_psk: Option<Psk>,
    pub ikev2_remote_psk: Option<Psk>,
    pub dpd: Option<Option<(u32, u32)>>,
    pub default_group_policy: Option<(usize, Word<'a>)>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct RawGroupPolicy {
    /// `Some(None)` = `vpn-idle-timeout none`.
    pub idle: Option<Option<u32>>,
}

/// Everything pass 1 found.
#[derive(Debug, Default)]
pub(super) struct Raw<'a> {
    pub names: HashMap<&'a str, Ipv4Addr>,
    pub objects: HashMap<&'a str, RawObject<'a>>,
    pub groups: HashMap<&'a str, RawGroup<'a>>,
    /// Access-list lines by ACL name, in file order.
    pub acls: HashMap<&'a str, Vec<Line<'a>>>,
    pub interfaces: Vec<RawInterface<'a>>,
    pub policies: BTreeMap<u32, (usize, IsakmpPolicy)>,
    pub transform_sets: BTreeMap<String, (usize, TransformSet)>,
    pub entries: BTreeMap<(String, u32), RawEntry<'a>>,
    /// map name -> (line, nameif word)
    pub map_interfaces: BTreeMap<String, (usize, Word<'a>)>,
    pub ikev1_enabled_on: Vec<(usize, Word<'a>)>,
    pub ikev2_policies: BTreeMap<u32, (usize, RawIkev2Policy)>,
    pub ikev2_proposals: BTreeMap<String, (usize, Ikev2Proposal)>,
    pub ikev2_enabled_on: Vec<(usize, Word<'a>)>,
    pub ikev2: Ikev2Settings,
    pub nat_traversal: Option<Option<u32>>,
    pub allow_weak_groups: bool,
    pub invalid_spi_recovery: bool,
    pub tcp_mss: Option<u16>,
    pub ipsec_lifetime_s: Option<u32>,
    pub ipsec_lifetime_kb: Option<Option<u64>>,
    pub tunnel_groups: BTreeMap<TunnelGroupName, RawTunnelGroup<'a>>,
    pub group_policies: HashMap<String, RawGroupPolicy>,
    pub ignored: Vec<Ignored>,
    pub warnings: Vec<Diagnostic>,
    pub errors: Vec<Diagnostic>,
    /// Tunnel-groups of a remote-access type: their blocks are ignored.
    remote_access: HashSet<String>,
}

/// The sub-mode opened by the last top-level line.
#[derive(Debug, Clone)]
pub(super) enum SubMode<'a> {
    None,
    /// Sub-lines belong to an ignored command: ignored with it.
    Ignore,
    /// The header line had an error: its sub-lines are skipped silently.
    Broken,
    Interface(usize),
    Policy(u32),
    Object(&'a str),
    Group(&'a str),
    TunnelIpsec(TunnelGroupName),
    TunnelGeneral(TunnelGroupName),
    GroupPolicy(String),
    /// `crypto ikev2 policy N`
    Ikev2Policy(u32),
    /// `crypto ipsec ikev2 ipsec-proposal NAME`
    Ikev2Proposal(String),
}

pub(super) type Res<T> = Result<T, Diagnostic>;

/// A cursor over one line's words.
pub(super) struct Cur<'l, 'a> {
    pub line: &'l Line<'a>,
    pub i: usize,
}

impl<'l, 'a> Cur<'l, 'a> {
    pub(super) fn new(line: &'l Line<'a>, skip: usize) -> Self {
        Cur { line, i: skip }
    }

    pub(super) fn n(&self) -> usize {
        self.line.number
    }

    pub(super) fn peek(&self) -> Option<Word<'a>> {
        self.line.words.get(self.i).copied()
    }

    pub(super) fn next(&mut self) -> Option<Word<'a>> {
        let w = self.peek();
        if w.is_some() {
            self.i += 1;
        }
        w
    }

    pub(super) fn rest(&self) -> &'l [Word<'a>] {
        self.line.words.get(self.i..).unwrap_or(&[])
    }

    /// The next word, or "missing WHAT" pointing just past the line.
    pub(super) fn need(&mut self, what: &str) -> Res<Word<'a>> {
        self.next().ok_or_else(|| {
            Diagnostic::error(self.n(), self.line.end_col() + 1, format!("missing {what}"))
        })
    }

    /// The next word, which must be one of `options` (case-insensitive).
    pub(super) fn keyword(&mut self, what: &str, options: &[&'static str]) -> Res<&'static str> {
        let w = self
            .need(what)
            .map_err(|d| d.with_hint(format!("expected one of: {}", options.join(", "))))?;
        match options.iter().find(|o| w.is(o)) {
            Some(o) => Ok(o),
            None => Err(self.unknown(w, what, options)),
        }
    }

    pub(super) fn unknown(&self, w: Word<'a>, what: &str, options: &[&str]) -> Diagnostic {
        Diagnostic::error(self.n(), w.col, format!("unknown {what} `{}`", w.text))
            .with_hint(hint_for(w.text, options))
    }

    /// A decimal number within `min..=max`.
    pub(super) fn number(&mut self, what: &str, min: u64, max: u64) -> Res<u64> {
        let w = self.need(what)?;
        number_word(self.n(), w, what, min, max)
    }

    /// An algorithm keyword from `algo.rs`.
    pub(super) fn algo<T: FromStr<Err = UnknownKeyword>>(&mut self, what: &str) -> Res<T> {
        let w = self.need(what)?;
        w.text.parse::<T>().map_err(|e| {
            Diagnostic::error(self.n(), w.col, format!("unknown {what} `{}`", w.text))
                .with_hint(hint_for(w.text, e.expected))
        })
    }

    /// Nothing may follow.
    pub(super) fn done(&self) -> Res<()> {
        match self.peek() {
            None => Ok(()),
            Some(w) => Err(Diagnostic::error(
                self.n(),
                w.col,
                format!("unexpected `{}`", w.text),
            )),
        }
    }
}

fn number_word(line: usize, w: Word<'_>, what: &str, min: u64, max: u64) -> Res<u64> {
    match w.text.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        Ok(_) => Err(
            Diagnostic::error(line, w.col, format!("{what} `{}` out of range", w.text))
                .with_hint(format!("use {min}..{max}")),
        ),
        Err(_) => Err(Diagnostic::error(
            line,
            w.col,
            format!("expected {what} (a number), found `{}`", w.text),
        )),
    }
}

fn ipv4(line: usize, w: Word<'_>, what: &str) -> Res<Ipv4Addr> {
    w.text.parse().map_err(|_| {
        Diagnostic::error(
            line,
            w.col,
            format!("expected {what} (an IPv4 address), found `{}`", w.text),
        )
    })
}

/// A group number (as in `group 14` of a policy).
pub(super) fn group_number(line: usize, w: Word<'_>) -> Res<DhGroup> {
    w.text
        .parse::<u16>()
        .ok()
        .and_then(DhGroup::from_number)
        .ok_or_else(|| {
            let all: Vec<String> = DhGroup::ALL
                .iter()
                .map(|g| g.number().to_string())
                .collect();
            Diagnostic::error(
                line,
                w.col,
                format!("unknown Diffie-Hellman group `{}`", w.text),
            )
            .with_hint(format!("expected one of: {}", all.join(" ")))
        })
}

/// `groupN` (as in `set pfs group14`).
fn group_word(line: usize, w: Word<'_>) -> Res<DhGroup> {
    const GROUPS: &[&str] = &[
        "group1", "group2", "group5", "group14", "group15", "group16", "group19", "group20",
        "group21", "group24", "group31",
    ];
    let lower = w.lower();
    lower
        .strip_prefix("group")
        .and_then(|n| n.parse::<u16>().ok())
        .and_then(DhGroup::from_number)
        .ok_or_else(|| {
            Diagnostic::error(
                line,
                w.col,
                format!("unknown Diffie-Hellman group `{}`", w.text),
            )
            .with_hint(hint_for(w.text, GROUPS))
        })
}

/// Top-level commands we act on (for typo hints).
const SUPPORTED_TOP: &[&str] = &[
    "interface",
    "name",
    "names",
    "object",
    "object-group",
    "access-list",
    "crypto",
    "isakmp",
    "tunnel-group",
    "group-policy",
    "sysopt",
];

/// Real ASA top-level commands close to a supported one: never "typos".
const KNOWN_TOP: &[&str] = &[
    "nat",
    "same",
    "arp",
    "ntp",
    "aaa",
    "mtu",
    "dns",
    "ssh",
    "http",
    "icmp",
    "ipv6",
    "route",
    "nameif",
    "names",
    "object",
    "ip",
    "interface",
    "sysopt",
    "crypto",
    "webvpn",
    "user",
    "username",
    "enable",
    "passwd",
    "hostname",
    "domain-name",
    "logging",
    "timeout",
    "failover",
    "monitor-interface",
    "class-map",
    "policy-map",
    "service-policy",
    "prompt",
    "call-home",
    "telnet",
    "console",
    "snmp-server",
    "dhcpd",
    "threat-detection",
    "pager",
    "license",
    "asdm",
    "boot",
    "ftp",
    "clock",
    "dynamic-access-policy-record",
    "access-group",
    "no",
    "terminal",
    "end",
    "exit",
    "cryptochecksum",
    "service",
    "banner",
    "firewall",
    "xlate",
    "mac-address",
    "igmp",
    "router",
    "vpn-sessiondb",
    "management-access",
    "tls-proxy",
    "ssl",
    "auth-prompt",
    "quit",
];

impl<'a> Raw<'a> {
    pub(super) fn ignore(&mut self, line: &Line<'_>) {
        self.ignored.push(Ignored {
            line: line.number,
            text: line.text.trim().to_string(),
        });
    }

    /// Pass 1 over all lines.
    pub fn build(lines: &[Line<'a>]) -> Raw<'a> {
        let mut raw = Raw::default();
        let mut mode = SubMode::None;
        for line in lines {
            if line.words.is_empty() {
                continue;
            }
            if line.indented {
                let first = line.words[0];
                if first.is("exit") || first.is("quit") {
                    if matches!(mode, SubMode::Ignore) {
                        raw.ignore(line);
                    }
                    mode = SubMode::None;
                    continue;
                }
                match mode.clone() {
                    SubMode::None | SubMode::Ignore => raw.ignore(line),
                    SubMode::Broken => {}
                    m => {
                        if let Err(d) = raw.sub_line(&m, line) {
                            raw.errors.push(d);
                        }
                    }
                }
                continue;
            }
            // Hand-typed configs often lose the indentation of sub-mode
            // lines; the ASA CLI is modal and takes them anyway.
            if raw.mode_takes_unindented(&mode, line) {
                let m = mode.clone();
                if let Err(d) = raw.sub_line(&m, line) {
                    raw.errors.push(d);
                }
                continue;
            }
            mode = match raw.top_line(line) {
                Ok(m) => m,
                Err(d) => {
                    raw.errors.push(d);
                    SubMode::Broken
                }
            };
        }
        raw
    }

    /// Whether a line without indentation is a sub-mode line of `mode`:
    /// its first word is a sub-command there and not a global command.
    fn mode_takes_unindented(&self, mode: &SubMode<'a>, line: &Line<'a>) -> bool {
        let first = line.words[0];
        let second = |kw: &str| line.words.get(1).is_some_and(|w| w.is(kw));
        let any = |kws: &[&str]| kws.iter().any(|k| first.is(k));
        match mode {
            SubMode::Interface(_) => {
                any(&["nameif", "security-level", "description"])
                    || (first.is("ip") && second("address"))
            }
            SubMode::Policy(_) => {
                any(&["authentication", "encryption", "hash", "group", "lifetime"])
            }
            SubMode::Object(_) => any(&["host", "subnet", "range", "fqdn", "description"]),
            SubMode::Group(_) => any(&["network-object", "group-object", "description"]),
            SubMode::TunnelIpsec(_) => {
                first.is("pre-shared-key")
                    || (first.is("ikev1") && second("pre-shared-key"))
                    || (first.is("isakmp") && second("keepalive"))
                    || (first.is("ikev2")
                        && (second("local-authentication") || second("remote-authentication")))
            }
            SubMode::Ikev2Policy(_) => any(super::ikev2::POLICY_ATTRS),
            SubMode::Ikev2Proposal(_) => first.is("protocol"),
            SubMode::TunnelGeneral(_) => first.is("default-group-policy"),
            SubMode::GroupPolicy(_) => first.is("vpn-idle-timeout"),
            SubMode::None | SubMode::Ignore | SubMode::Broken => false,
        }
    }

    fn top_line(&mut self, line: &Line<'a>) -> Res<SubMode<'a>> {
        let mut c = Cur::new(line, 1);
        let first = line.words[0].lower();
        match first.as_str() {
            "exit" | "end" | "names" => Ok(SubMode::None),
            "interface" => {
                let ifname = c.need("interface name")?;
                c.done()?;
                // Re-entering an interface continues its configuration.
                if let Some(idx) = self
                    .interfaces
                    .iter()
                    .position(|i| i.ifname.text == ifname.text)
                {
                    return Ok(SubMode::Interface(idx));
                }
                self.interfaces.push(RawInterface {
                    line: line.number,
                    ifname,
                    nameif: None,
                    address: None,
                });
                Ok(SubMode::Interface(self.interfaces.len() - 1))
            }
            "name" => {
                let addr = c.need("address")?;
                let addr = ipv4(line.number, addr, "address").map_err(|d| {
                    if addr.text.contains(':') {
                        d.with_hint("IPv6 names are not supported")
                    } else {
                        d
                    }
                })?;
                let name = c.need("name")?;
                // ` description ...` may follow.
                if let Some(w) = c.next() {
                    if !w.is("description") {
                        return Err(Diagnostic::error(
                            line.number,
                            w.col,
                            format!("unexpected `{}`", w.text),
                        )
                        .with_hint("expected `description`"));
                    }
                }
                self.names.insert(name.text, addr);
                Ok(SubMode::None)
            }
            "object" => {
                let kind = c.need("object type")?;
                if !kind.is("network") {
                    self.ignore(line);
                    return Ok(SubMode::Ignore);
                }
                let name = c.need("object name")?;
                c.done()?;
                // A running-config opens an object twice: once to define
                // it, once (later) for its object NAT. Keep the first.
                self.objects.entry(name.text).or_insert(RawObject {
                    line: line.number,
                    def: None,
                });
                Ok(SubMode::Object(name.text))
            }
            "object-group" => {
                let kind = c.need("object-group type")?;
                if !kind.is("network") {
                    self.ignore(line);
                    return Ok(SubMode::Ignore);
                }
                let name = c.need("object-group name")?;
                c.done()?;
                self.groups.entry(name.text).or_insert(RawGroup {
                    members: Vec::new(),
                });
                Ok(SubMode::Group(name.text))
            }
            "access-list" => {
                let name = c.need("access-list name")?;
                self.acls.entry(name.text).or_default().push(line.clone());
                Ok(SubMode::None)
            }
            "crypto" => self.crypto(line),
            "isakmp" => self.isakmp(line, 1),
            "tunnel-group" => self.tunnel_group(line),
            "group-policy" => self.group_policy(line),
            "sysopt" => {
                let rest = c.rest();
                if rest.len() >= 2 && rest[0].is("connection") && rest[1].is("tcpmss") {
                    c.i += 2;
                    if c.peek().is_some_and(|w| w.is("minimum")) {
                        self.ignore(line);
                        return Ok(SubMode::None);
                    }
                    let n = c.number("MSS", 0, 65535)?;
                    c.done()?;
                    self.tcp_mss = u16::try_from(n).ok();
                } else {
                    self.ignore(line);
                }
                Ok(SubMode::None)
            }
            "no" => {
                let rest = c.rest();
                let is = |i: usize, kw: &str| rest.get(i).is_some_and(|w| w.is(kw));
                if is(0, "crypto") && is(1, "isakmp") && is(2, "nat-traversal") && rest.len() == 3 {
                    self.nat_traversal = Some(None);
                } else if is(0, "crypto")
                    && is(1, "ikev2")
                    && is(2, "cookie-challenge")
                    && rest.len() == 3
                {
                    self.ikev2.cookie_challenge = None;
                } else if is(0, "sysopt")
                    && is(1, "connection")
                    && is(2, "tcpmss")
                    && rest.len() == 3
                {
                    self.tcp_mss = Some(0);
                } else {
                    self.ignore(line);
                }
                Ok(SubMode::None)
            }
            _ => {
                let w = line.words[0];
                if !KNOWN_TOP.contains(&first.as_str()) {
                    if let Some(s) = closest(&first, SUPPORTED_TOP) {
                        self.warnings.push(
                            Diagnostic::warning(
                                line.number,
                                w.col,
                                format!("unknown command `{}` ignored", w.text),
                            )
                            .with_hint(format!("did you mean `{s}`?")),
                        );
                    }
                }
                self.ignore(line);
                Ok(SubMode::Ignore)
            }
        }
    }

    /// `crypto ...`
    fn crypto(&mut self, line: &Line<'a>) -> Res<SubMode<'a>> {
        const KNOWN: &[&str] = &["isakmp", "ikev1", "ikev2", "ipsec", "map"];
        let mut c = Cur::new(line, 1);
        let w = c.need("crypto subcommand")?;
        match w.lower().as_str() {
            "isakmp" | "ikev1" => self.isakmp(line, 2),
            "ikev2" => self.ikev2(line),
            "ipsec" => self.crypto_ipsec(line),
            "map" => self.crypto_map(line),
            // ca, dynamic-map, key, engine, logging, ...: not ours.
            other => {
                if let Some(s) = closest(other, KNOWN) {
                    return Err(c.unknown(w, "crypto subcommand", &[s]));
                }
                self.ignore(line);
                Ok(SubMode::Ignore)
            }
        }
    }

    /// `[crypto] isakmp|ikev1 ...`; `at` is the index of the word after
    /// `isakmp`/`ikev1`.
    fn isakmp(&mut self, line: &Line<'a>, at: usize) -> Res<SubMode<'a>> {
        const OURS: &[&str] = &[
            "policy",
            "enable",
            "nat-traversal",
            "allow-weak-groups",
            "invalid-spi-recovery",
        ];
        const THEIRS: &[&str] = &[
            "identity",
            "reload-wait",
            "disconnect-notify",
            "ipsec-over-tcp",
            "am-disable",
            "keepalive",
            "limit",
            "fragmentation",
            "remote-access",
            "invalid-message",
            "cert-auth",
        ];
        let mut c = Cur::new(line, at);
        let w = c.need("isakmp subcommand")?;
        match w.lower().as_str() {
            "policy" => {
                let prio = c.number("policy priority", 1, 65535)? as u32;
                self.policies
                    .entry(prio)
                    .or_insert((line.number, IsakmpPolicy::with_defaults(prio)));
                let mode = SubMode::Policy(prio);
                // Old one-line form: `isakmp policy 10 encryption 3des`.
                if c.peek().is_some() {
                    let sub = Line {
                        number: line.number,
                        indented: true,
                        words: c.rest().to_vec(),
                        text: line.text,
                    };
                    self.sub_line(&mode, &sub)?;
                }
                Ok(mode)
            }
            "enable" => {
                let nameif = c.need("interface nameif")?;
                c.done()?;
                self.ikev1_enabled_on.push((line.number, nameif));
                Ok(SubMode::None)
            }
            "nat-traversal" => {
                let keepalive = match c.peek() {
                    None => 20,
                    Some(_) => c.number("NAT-T keepalive seconds", 10, 3600)? as u32,
                };
                c.done()?;
                self.nat_traversal = Some(Some(keepalive));
                Ok(SubMode::None)
            }
            "allow-weak-groups" => {
                c.done()?;
                self.allow_weak_groups = true;
                Ok(SubMode::None)
            }
            "invalid-spi-recovery" => {
                c.done()?;
                self.invalid_spi_recovery = true;
                Ok(SubMode::None)
            }
            other => {
                if !THEIRS.contains(&other) {
                    if let Some(s) = closest(other, OURS) {
                        return Err(c.unknown(w, "isakmp subcommand", &[s]));
                    }
                }
                self.ignore(line);
                Ok(SubMode::Ignore)
            }
        }
    }

    /// `crypto ipsec ...`
    fn crypto_ipsec(&mut self, line: &Line<'a>) -> Res<SubMode<'a>> {
        const OURS: &[&str] = &["transform-set", "ikev1", "ikev2", "security-association"];
        let mut c = Cur::new(line, 2);
        let w = c.need("ipsec subcommand")?;
        match w.lower().as_str() {
            "transform-set" => self.transform_set(&mut c),
            "ikev1" => {
                c.keyword("ikev1 subcommand", &["transform-set"])?;
                self.transform_set(&mut c)
            }
            "ikev2" => return self.ipsec_ikev2(&mut c),
            "security-association" => {
                if c.peek().is_some_and(|w| w.is("lifetime")) {
                    c.next();
                    let (s, kb) = lifetime_args(&mut c)?;
                    if s.is_some() {
                        self.ipsec_lifetime_s = s;
                    }
                    if kb.is_some() {
                        self.ipsec_lifetime_kb = kb;
                    }
                } else {
                    // replay window-size, pmtu-aging: not ours.
                    self.ignore(line);
                }
                Ok(())
            }
            other => {
                if let Some(s) = closest(other, OURS) {
                    return Err(c.unknown(w, "ipsec subcommand", &[s]));
                }
                self.ignore(line);
                Ok(())
            }
        }?;
        Ok(SubMode::None)
    }

    /// `... transform-set NAME esp-X [esp-Y]` or `... transform-set NAME mode tunnel|transport`
    fn transform_set(&mut self, c: &mut Cur<'_, 'a>) -> Res<()> {
        let name = c.need("transform-set name")?;
        if c.peek().is_some_and(|w| w.is("mode")) {
            c.next();
            let m = c.keyword("mode", &["tunnel", "transport"])?;
            c.done()?;
            let Some((_, set)) = self.transform_sets.get_mut(name.text) else {
                return Err(Diagnostic::error(
                    c.n(),
                    name.col,
                    format!("unknown transform-set `{}`", name.text),
                )
                .with_hint("define it before setting its mode"));
            };
            set.mode = if m == "transport" {
                Mode::Transport
            } else {
                Mode::Tunnel
            };
            return Ok(());
        }
        let mut cipher: Option<EspCipher> = None;
        let mut integ: Option<EspInteg> = None;
        let end = c.line.end_col();
        while let Some(w) = c.next() {
            if let Ok(ci) = w.text.parse::<EspCipher>() {
                if cipher.replace(ci).is_some() {
                    return Err(Diagnostic::error(
                        c.n(),
                        w.col,
                        "a transform set has one encryption",
                    ));
                }
            } else if let Ok(ig) = w.text.parse::<EspInteg>() {
                if integ.replace(ig).is_some() {
                    return Err(Diagnostic::error(
                        c.n(),
                        w.col,
                        "a transform set has one integrity algorithm",
                    ));
                }
            } else {
                let mut all: Vec<&str> = ALL_CIPHERS.iter().map(|x| x.keyword()).collect();
                all.extend(ALL_INTEGS.iter().map(|x| x.keyword()));
                return Err(c.unknown(w, "transform", &all));
            }
        }
        let Some(cipher) = cipher else {
            return Err(Diagnostic::error(c.n(), end + 1, "missing ESP encryption")
                .with_hint("e.g. `esp-aes-256 esp-sha-hmac` or `esp-aes-gcm-256`"));
        };
        let integ = match (cipher.is_aead(), integ) {
            (true, None | Some(EspInteg::None)) => EspInteg::None,
            (true, Some(i)) => {
                return Err(Diagnostic::error(
                    c.n(),
                    name.col,
                    format!("`{cipher}` carries its own integrity, `{i}` cannot be added"),
                )
                .with_hint("drop the HMAC"));
            }
            (false, None) => EspInteg::None,
            (false, Some(i)) => i,
        };
        if cipher == EspCipher::Null && integ == EspInteg::None {
            return Err(Diagnostic::error(
                c.n(),
                name.col,
                "`esp-null` without integrity protects nothing",
            ));
        }
        let set = TransformSet {
            name: name.text.to_string(),
            transform: EspTransform { cipher, integ },
            mode: Mode::Tunnel,
        };
        self.transform_sets
            .insert(name.text.to_string(), (c.n(), set));
        Ok(())
    }

    /// `crypto map M N ...` / `crypto map M interface NAMEIF`
    fn crypto_map(&mut self, line: &Line<'a>) -> Res<SubMode<'a>> {
        let mut c = Cur::new(line, 2);
        let map = c.need("crypto map name")?;
        let w = c.need("sequence number or `interface`")?;
        if w.is("interface") {
            let nameif = c.need("interface nameif")?;
            c.done()?;
            self.map_interfaces
                .insert(map.text.to_string(), (line.number, nameif));
            return Ok(SubMode::None);
        }
        let seq = number_word(line.number, w, "sequence number", 1, 65535)? as u32;
        const VERBS: &[&str] = &["match", "set", "ipsec-isakmp"];
        let verb = c.need("`match` or `set`")?;
        let key = (map.text.to_string(), seq);
        match verb.lower().as_str() {
            "match" => {
                c.keyword("match type", &["address"])?;
                let acl = c.need("access-list name")?;
                c.done()?;
                self.entry(&key, line.number).acl = Some((line.number, acl));
            }
            "set" => self.crypto_map_set(&mut c, &key)?,
            "ipsec-isakmp" => {
                self.warnings.push(Diagnostic::warning(
                    line.number,
                    verb.col,
                    "dynamic crypto maps are not supported; line ignored",
                ));
                self.ignore(line);
            }
            other => {
                if let Some(s) = closest(other, VERBS) {
                    return Err(c.unknown(verb, "crypto map command", &[s]));
                }
                self.ignore(line);
            }
        }
        Ok(SubMode::None)
    }

    pub(super) fn entry(&mut self, key: &(String, u32), line: usize) -> &mut RawEntry<'a> {
        self.entries.entry(key.clone()).or_insert_with(|| RawEntry {
            line,
            ..RawEntry::default()
        })
    }

    fn crypto_map_set(&mut self, c: &mut Cur<'_, 'a>, key: &(String, u32)) -> Res<()> {
        const OURS: &[&str] = &[
            "peer",
            "transform-set",
            "ikev1",
            "ikev2",
            "pfs",
            "phase1-mode",
            "security-association",
        ];
        let n = c.n();
        let what = c.need("`set` parameter")?;
        match what.lower().as_str() {
            "peer" => {
                let peers: Vec<(usize, Word<'a>)> = c.rest().iter().map(|w| (n, *w)).collect();
                if peers.is_empty() {
                    c.need("peer address")?;
                }
                if peers.len() > 10 {
                    return Err(Diagnostic::error(
                        n,
                        peers[10].1.col,
                        "at most 10 peers per crypto map entry",
                    ));
                }
                self.entry(key, n).peers = peers;
            }
            "transform-set" => self.set_transform_sets(c, key)?,
            // 8.4+: `set ikev1 transform-set ...`, `set ikev1 phase1-mode ...`
            "ikev1" => match c.keyword("ikev1 parameter", &["transform-set", "phase1-mode"])? {
                "transform-set" => self.set_transform_sets(c, key)?,
                _ => self.set_phase1_mode(c, key)?,
            },
            "ikev2" => self.set_ikev2(c, key)?,
            "pfs" => {
                let g = match c.next() {
                    None => DhGroup::Modp1024,
                    Some(w) => group_word(n, w)?,
                };
                c.done()?;
                self.entry(key, n).pfs = Some(g);
            }
            "phase1-mode" => self.set_phase1_mode(c, key)?,
            "security-association" => {
                if c.peek().is_some_and(|w| w.is("lifetime")) {
                    c.next();
                    let (s, kb) = lifetime_args(c)?;
                    let e = self.entry(key, n);
                    if s.is_some() {
                        e.lifetime_s = s;
                    }
                    if kb.is_some() {
                        e.lifetime_kb = kb;
                    }
                } else {
                    self.ignore(c.line);
                }
            }
            other => {
                // reverse-route, nat-t-disable, connection-type, inheritance,
                // trustpoint...: ASA features we do not need for L2L.
                if let Some(s) = closest(other, OURS) {
                    return Err(c.unknown(what, "`set` parameter", &[s]));
                }
                self.ignore(c.line);
            }
        }
        Ok(())
    }

    /// `main` or `aggressive [groupN]`.
    fn set_phase1_mode(&mut self, c: &mut Cur<'_, 'a>, key: &(String, u32)) -> Res<()> {
        let n = c.n();
        let m = c.keyword("phase 1 mode", &["main", "aggressive"])?;
        let g = match c.next() {
            Some(w) if m == "aggressive" => Some(group_word(n, w)?),
            Some(w) => {
                return Err(Diagnostic::error(
                    n,
                    w.col,
                    format!("unexpected `{}`", w.text),
                ));
            }
            None => None,
        };
        c.done()?;
        self.entry(key, n).aggressive = (m == "aggressive").then_some(g);
        Ok(())
    }

    fn set_transform_sets(&mut self, c: &mut Cur<'_, 'a>, key: &(String, u32)) -> Res<()> {
        let n = c.n();
        let sets: Vec<(usize, Word<'a>)> = c.rest().iter().map(|w| (n, *w)).collect();
        if sets.is_empty() {
            c.need("transform-set name")?;
        }
        self.entry(key, n).transform_sets = sets;
        Ok(())
    }

    fn tunnel_group(&mut self, line: &Line<'a>) -> Res<SubMode<'a>> {
        let mut c = Cur::new(line, 1);
        let name = c.need("tunnel-group name")?;
        let what = c.keyword(
            "tunnel-group command",
            &[
                "type",
                "ipsec-attributes",
                "general-attributes",
                "webvpn-attributes",
                "ppp-attributes",
            ],
        )?;
        let tg = TunnelGroupName::parse(name.text);
        let remote_access = self.remote_access.contains(name.text)
            || name.is("DefaultRAGroup")
            || name.is("DefaultWEBVPNGroup");
        match what {
            "type" => {
                let t = c.keyword(
                    "tunnel-group type",
                    &["ipsec-l2l", "remote-access", "webvpn", "ipsec-ra"],
                )?;
                c.done()?;
                if t == "ipsec-l2l" {
                    self.tunnel_groups.entry(tg).or_insert(RawTunnelGroup {
                        line: line.number,
                        ..Default::default()
                    });
                } else {
                    self.remote_access.insert(name.text.to_string());
                    self.ignore(line);
                }
                Ok(SubMode::None)
            }
            "ipsec-attributes" | "general-attributes" if !remote_access => {
                c.done()?;
                self.tunnel_groups
                    .entry(tg.clone())
                    .or_insert(RawTunnelGroup {
                        line: line.number,
                        ..Default::default()
                    });
                Ok(if what == "ipsec-attributes" {
                    SubMode::TunnelIpsec(tg)
                } else {
                    SubMode::TunnelGeneral(tg)
                })
            }
            _ => {
                self.ignore(line);
                Ok(SubMode::Ignore)
            }
        }
    }

    fn group_policy(&mut self, line: &Line<'a>) -> Res<SubMode<'a>> {
        let mut c = Cur::new(line, 1);
        let name = c.need("group-policy name")?;
        let what = c.keyword(
            "group-policy command",
            &["internal", "attributes", "external"],
        )?;
        match what {
            "internal" => {
                c.done()?;
                self.group_policies
                    .entry(name.text.to_string())
                    .or_default();
                Ok(SubMode::None)
            }
            "attributes" => {
                c.done()?;
                self.group_policies
                    .entry(name.text.to_string())
                    .or_default();
                Ok(SubMode::GroupPolicy(name.text.to_string()))
            }
            _ => {
                self.ignore(line);
                Ok(SubMode::Ignore)
            }
        }
    }

    /// An indented line under `mode`.
    fn sub_line(&mut self, mode: &SubMode<'a>, line: &Line<'a>) -> Res<()> {
        let mut c = Cur::new(line, 1);
        let n = line.number;
        let first = line.words[0];
        let kw = first.lower();
        match mode {
            SubMode::Interface(idx) => match kw.as_str() {
                "nameif" => {
                    let name = c.need("nameif")?;
                    c.done()?;
                    if let Some(i) = self.interfaces.get_mut(*idx) {
                        i.nameif = Some(name);
                    }
                }
                "ip" if line.words.get(1).is_some_and(|w| w.is("address")) => {
                    c.next();
                    let a = c.need("address")?;
                    if a.is("dhcp") || a.is("pppoe") {
                        self.warnings.push(Diagnostic::warning(
                            n,
                            a.col,
                            "dynamic interface address: not recorded",
                        ));
                        self.ignore(line);
                        return Ok(());
                    }
                    let addr = ipv4(n, a, "interface address")?;
                    let m = c.need("mask")?;
                    let mask = ipv4(n, m, "mask")?;
                    let prefix = mask_to_prefix(mask).ok_or_else(|| {
                        Diagnostic::error(
                            n,
                            m.col,
                            format!("`{}` is not a contiguous mask", m.text),
                        )
                    })?;
                    // ` standby B` (failover) may follow; not ours.
                    if let Some(w) = c.next() {
                        if !w.is("standby") {
                            return Err(Diagnostic::error(
                                n,
                                w.col,
                                format!("unexpected `{}`", w.text),
                            ));
                        }
                    }
                    if let Some(i) = self.interfaces.get_mut(*idx) {
                        i.address = Some((addr, prefix));
                    }
                }
                _ => self.ignore(line),
            },
            SubMode::Policy(prio) => {
                const ATTRS: &[&str] =
                    &["authentication", "encryption", "hash", "group", "lifetime"];
                let Some((_, p)) = self.policies.get(prio).copied() else {
                    return Ok(());
                };
                let mut p = p;
                match ATTRS.iter().find(|a| first.is(a)).copied() {
                    Some("authentication") => p.auth = c.algo("authentication")?,
                    Some("encryption") => p.encryption = c.algo("encryption")?,
                    Some("hash") => p.hash = c.algo("hash")?,
                    Some("group") => {
                        let w = c.need("Diffie-Hellman group")?;
                        p.group = group_number(n, w)?;
                    }
                    Some("lifetime") => {
                        p.lifetime_s = c.number("lifetime seconds", 120, 2_147_483_647)? as u32
                    }
                    _ => return Err(c_unknown_first(line, "isakmp policy attribute", ATTRS)),
                }
                c.done()?;
                if let Some(slot) = self.policies.get_mut(prio) {
                    slot.1 = p;
                }
            }
            SubMode::Object(name) => {
                let def = match kw.as_str() {
                    "host" => {
                        let a = c.need("address")?;
                        c.done()?;
                        if a.text.contains(':') {
                            ObjectDef::Unsupported(a, "IPv6 hosts")
                        } else {
                            ObjectDef::Host(a)
                        }
                    }
                    "subnet" => {
                        let a = c.need("address")?;
                        if a.text.contains(':') {
                            ObjectDef::Unsupported(a, "IPv6 subnets")
                        } else {
                            let m = c.need("mask")?;
                            c.done()?;
                            ObjectDef::Subnet(a, m)
                        }
                    }
                    "range" => {
                        let a = c.need("first address")?;
                        let b = c.need("last address")?;
                        c.done()?;
                        if a.text.contains(':') {
                            ObjectDef::Unsupported(a, "IPv6 ranges")
                        } else {
                            ObjectDef::Range(a, b)
                        }
                    }
                    "fqdn" => ObjectDef::Unsupported(first, "FQDN objects"),
                    "description" => return Ok(()),
                    _ => {
                        // `nat ...` (object NAT) and anything else: not ours.
                        self.ignore(line);
                        return Ok(());
                    }
                };
                if let Some(o) = self.objects.get_mut(name) {
                    o.def = Some((n, def));
                }
            }
            SubMode::Group(name) => {
                let member = match kw.as_str() {
                    "network-object" => {
                        let w = c.need("address, `host` or `object`")?;
                        let m = if w.is("host") {
                            let a = c.need("address")?;
                            if a.text.contains(':') {
                                GroupMember::Unsupported(a, "IPv6 hosts")
                            } else {
                                GroupMember::Host(a)
                            }
                        } else if w.is("object") {
                            GroupMember::Object(c.need("object name")?)
                        } else if w.text.contains(':') {
                            GroupMember::Unsupported(w, "IPv6 networks")
                        } else {
                            GroupMember::Net(w, c.need("mask")?)
                        };
                        c.done()?;
                        m
                    }
                    "group-object" => {
                        let g = c.need("object-group name")?;
                        c.done()?;
                        GroupMember::Group(g)
                    }
                    "description" => return Ok(()),
                    _ => {
                        return Err(c_unknown_first(
                            line,
                            "network object-group member",
                            &["network-object", "group-object", "description"],
                        ));
                    }
                };
                if let Some(g) = self.groups.get_mut(name) {
                    g.members.push((n, member));
                }
            }
            SubMode::TunnelIpsec(tg) => self.tunnel_ipsec_line(tg, line)?,
            SubMode::Ikev2Policy(prio) => self.ikev2_policy_line(*prio, line)?,
            SubMode::Ikev2Proposal(name) => self.ikev2_proposal_line(name, line)?,
            SubMode::TunnelGeneral(tg) => {
                if first.is("default-group-policy") {
                    let g = c.need("group-policy name")?;
                    c.done()?;
                    if let Some(t) = self.tunnel_groups.get_mut(tg) {
                        t.default_group_policy = Some((n, g));
                    }
                } else {
                    self.ignore(line);
                }
            }
            SubMode::GroupPolicy(gp) => {
                if first.is("vpn-idle-timeout")
                    && !line.words.get(1).is_some_and(|w| w.is("alert-interval"))
                {
                    let w = c.need("minutes or `none`")?;
                    let v = if w.is("none") {
                        None
                    } else {
                        Some(number_word(n, w, "idle timeout minutes", 1, 35_791_394)? as u32)
                    };
                    c.done()?;
                    if let Some(p) = self.group_policies.get_mut(gp) {
                        p.idle = Some(v);
                    }
                } else {
                    self.ignore(line);
                }
            }
            SubMode::None | SubMode::Ignore | SubMode::Broken => self.ignore(line),
        }
        Ok(())
    }

    fn tunnel_ipsec_line(&mut self, tg: &TunnelGroupName, line: &Line<'a>) -> Res<()> {
        let n = line.number;
        let mut c = Cur::new(line, 0);
        let first = c.need("attribute")?;
        let is_psk = if first.is("pre-shared-key") {
            true
        } else if first.is("ikev1") && c.peek().is_some_and(|w| w.is("pre-shared-key")) {
            c.next();
            true
        } else {
            false
        };
        if is_psk {
            let key = psk_arg(&mut c, tg, "pre-shared key")?;
            if let Some(t) = self.tunnel_groups.get_mut(tg) {
                t.psk = Some(key);
            }
            return Ok(());
        }
        if first.is("isakmp") && c.peek().is_some_and(|w| w.is("keepalive")) {
            c.next();
            let mut threshold = None;
            let mut retry = None;
            let mut disabled = false;
            while let Some(w) = c.next() {
                match w.lower().as_str() {
                    "threshold" => {
                        let v = c.need("threshold seconds")?;
                        if v.is("infinite") {
                            disabled = true;
                        } else {
                            threshold = Some(number_word(n, v, "DPD threshold", 10, 3600)? as u32);
                        }
                    }
                    "retry" => retry = Some(c.number("DPD retry", 2, 10)? as u32),
                    "disable" => disabled = true,
                    _ => {
                        return Err(c.unknown(
                            w,
                            "keepalive parameter",
                            &["threshold", "retry", "disable"],
                        ));
                    }
                }
            }
            if threshold.is_none() && retry.is_none() && !disabled {
                return Err(Diagnostic::error(
                    n,
                    line.end_col() + 1,
                    "missing keepalive parameters",
                )
                .with_hint(
                    "`isakmp keepalive threshold 10 retry 2` or `isakmp keepalive disable`",
                ));
            }
            let dpd = if disabled {
                None
            } else {
                Some((
                    threshold.unwrap_or(super::model::DEFAULT_DPD.0),
                    retry.unwrap_or(super::model::DEFAULT_DPD.1),
                ))
            };
            if let Some(t) = self.tunnel_groups.get_mut(tg) {
                t.dpd = Some(dpd);
            }
            return Ok(());
        }
        if first.is("ikev2") {
            return self.tunnel_ikev2_line(tg, &mut c);
        }
        if closest(first.text, &["pre-shared-key"]).is_some() {
            return Err(c_unknown_first(
                line,
                "ipsec-attributes command",
                &["pre-shared-key", "ikev1", "ikev2", "isakmp"],
            ));
        }
        // peer-id-validate, chain, ikev1 trust-point, ...: not ours.
        self.ignore(line);
        Ok(())
    }
}

/// The key word of a `pre-shared-key K` (IKEv1) or `ikev2
/// local-authentication pre-shared-key K` line, which must end the line.
/// `what` names the key in messages ("pre-shared key").
pub(super) fn psk_arg(c: &mut Cur<'_, '_>, tg: &TunnelGroupName, what: &str) -> Res<Psk> {
    let n = c.n();
    let key = c.need(what)?;
    if Psk::is_mask(key.text) {
        return Err(Diagnostic::error(n, key.col, format!("{what} of tunnel-group {tg} is masked (`{}`)", key.text))
            .with_hint("`show running-config` hides keys: paste the real key (on an ASA `more system:running-config` shows it; for ipsecgw, it is in the file the daemon was started with)"));
    }
    if key.text == "8" && c.peek().is_some() {
        return Err(Diagnostic::error(
            n,
            key.col,
            format!("{what} of tunnel-group {tg} is encrypted (type 8)"),
        )
        .with_hint("paste the clear-text key"));
    }
    if key.is("hex") && c.peek().is_some() {
        return Err(Diagnostic::error(
            n,
            key.col,
            format!("{what} of tunnel-group {tg}: hex keys are not supported yet"),
        )
        .with_hint("write the key as text"));
    }
    if let Some(w) = c.peek() {
        return Err(Diagnostic::error(
            n,
            w.col,
            "a pre-shared key cannot contain spaces",
        ));
    }
    if key.text.len() > 128 {
        return Err(Diagnostic::error(
            n,
            key.col,
            "pre-shared key longer than 128 characters",
        ));
    }
    Ok(Psk::new(key.text))
}

/// "unknown WHAT `first word`" with a hint among `options`.
pub(super) fn c_unknown_first(line: &Line<'_>, what: &str, options: &[&str]) -> Diagnostic {
    let w = line.words[0];
    Diagnostic::error(line.number, w.col, format!("unknown {what} `{}`", w.text))
        .with_hint(hint_for(w.text, options))
}

/// `seconds S` and/or `kilobytes K|unlimited`, in either order.
fn lifetime_args(c: &mut Cur<'_, '_>) -> Res<(Option<u32>, Option<Option<u64>>)> {
    let mut s = None;
    let mut kb = None;
    let n = c.n();
    loop {
        let w = match c.next() {
            Some(w) => w,
            None if s.is_none() && kb.is_none() => {
                return Err(Diagnostic::error(
                    n,
                    c.line.end_col() + 1,
                    "missing `seconds` or `kilobytes`",
                ));
            }
            None => break,
        };
        match w.lower().as_str() {
            "seconds" => s = Some(c.number("lifetime seconds", 120, 2_147_483_647)? as u32),
            "kilobytes" => {
                let v = c.need("kilobytes or `unlimited`")?;
                kb = Some(if v.is("unlimited") {
                    None
                } else {
                    Some(number_word(n, v, "lifetime kilobytes", 10, 2_147_483_647)?)
                });
            }
            _ => return Err(c.unknown(w, "lifetime unit", &["seconds", "kilobytes"])),
        }
    }
    Ok((s, kb))
}

const ALL_CIPHERS: [EspCipher; 9] = [
    EspCipher::Null,
    EspCipher::Des,
    EspCipher::TripleDes,
    EspCipher::Aes128Cbc,
    EspCipher::Aes192Cbc,
    EspCipher::Aes256Cbc,
    EspCipher::Aes128Gcm,
    EspCipher::Aes256Gcm,
    EspCipher::ChaCha20Poly1305,
];

const ALL_INTEGS: [EspInteg; 6] = [
    EspInteg::None,
    EspInteg::HmacMd5_96,
    EspInteg::HmacSha1_96,
    EspInteg::HmacSha256_128,
    EspInteg::HmacSha384_192,
    EspInteg::HmacSha512_256,
];
