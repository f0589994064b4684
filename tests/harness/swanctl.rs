//! strongSwan's side of the IKEv2 interop tests: `swanctl.conf`
//! connections with any number of children and short rekey timers
//! ([`SwanConn`]), and `swanctl --list-sas --raw` read back into typed
//! SAs ([`IkeSa`], [`SwanChild`]).
//!
//! `--raw` prints the vici reply as one line per IKE SA, `list-sa event
//! {NAME {key=value ... child-sas {CHILD-N {key=value ...}}}}`, lists in
//! brackets (`local-ts=[198.51.100.0/24]`); values never contain spaces.
//! (strongSwan 5.9.8, checked against a live pair of charons.)

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::strongswan::Charon;

/// Rekey and lifetime timers of an IKE or CHILD SA, in seconds. strongSwan
/// rekeys at `rekey` (0: never), gives up at `rekey + over` (IKE) or at
/// `life` (CHILD), and randomizes the rekey by up to `rand`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timers {
    pub rekey_s: u32,
    pub life_s: Option<u32>,
    pub over_s: Option<u32>,
    pub rand_s: Option<u32>,
}

impl Timers {
    /// Never rekeyed.
    pub fn never() -> Timers {
        Timers::default()
    }

    /// Rekeyed every `rekey_s` exactly (no randomization), valid for
    /// `life_s` in all.
    pub fn every(rekey_s: u32, life_s: u32) -> Timers {
        Timers {
            rekey_s,
            life_s: Some(life_s),
            over_s: Some(life_s.saturating_sub(rekey_s)),
            rand_s: Some(0),
        }
    }
}

/// One child of a connection (one ACL line on the ipsecgw side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwanChildConf {
    pub name: String,
    pub local_ts: String,
    pub remote_ts: String,
    /// e.g. `aes256-sha256`, `aes256gcm16`, `aes256-sha256-modp2048` (PFS)
    pub esp_proposals: String,
    pub timers: Timers,
}

/// A site-to-site connection `s2s`: PSK both ways, ids = addresses,
/// `start_action = none` on every child (tests initiate explicitly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwanConn {
    /// 2, or 1 for the IKEv1-only peer of the fallback test.
    pub version: u8,
    pub local_addr: String,
    /// The address to initiate to; `%any` accepts from anywhere (behind a NAT).
    pub remote_addr: String,
    pub local_id: String,
    pub remote_id: String,
    /// e.g. `aes256-sha256-prfsha256-modp2048`; groups listed in one
    /// proposal are guesses in that order for the first KE payload.
    pub proposals: String,
    pub psk: String,
    /// IKE SA timers; IKEv2 reauthentication is always off.
    pub timers: Timers,
    pub children: Vec<SwanChildConf>,
    pub dpd_delay_s: Option<u32>,
}

impl SwanConn {
    /// IKEv2 between `local` and `remote` (addresses and ids), one child
    /// `lan` between `local_ts` and `remote_ts`, nothing rekeyed.
    pub fn v2(
        local: &str,
        remote: &str,
        proposals: &str,
        (local_ts, remote_ts): (&str, &str),
        esp_proposals: &str,
        psk: &str,
    ) -> SwanConn {
        SwanConn {
            version: 2,
            local_addr: local.into(),
            remote_addr: remote.into(),
            local_id: local.into(),
            remote_id: remote.into(),
            proposals: proposals.into(),
            psk: psk.into(),
            timers: Timers::never(),
            children: vec![SwanChildConf {
                name: "lan".into(),
                local_ts: local_ts.into(),
                remote_ts: remote_ts.into(),
                esp_proposals: esp_proposals.into(),
                timers: Timers::never(),
            }],
            dpd_delay_s: None,
        }
    }

    pub fn swanctl_conf(&self) -> String {
        let mut s = String::from("connections {\n  s2s {\n");
        let _ = write!(
            s,
            "    version = {}\n    local_addrs = {}\n    remote_addrs = {}\n    proposals = {}\n",
            self.version, self.local_addr, self.remote_addr, self.proposals
        );
        let t = &self.timers;
        let _ = writeln!(s, "    rekey_time = {}s", t.rekey_s);
        if self.version == 2 {
            s.push_str("    reauth_time = 0\n");
        }
        if let Some(o) = t.over_s {
            let _ = writeln!(s, "    over_time = {o}s");
        }
        if let Some(r) = t.rand_s {
            let _ = writeln!(s, "    rand_time = {r}s");
        }
        if let Some(d) = self.dpd_delay_s {
            let _ = writeln!(s, "    dpd_delay = {d}s");
        }
        let _ = write!(
            s,
            "    local {{\n      auth = psk\n      id = {}\n    }}\n    remote {{\n      auth = psk\n      id = {}\n    }}\n    children {{\n",
            self.local_id, self.remote_id
        );
        for c in &self.children {
            let _ = write!(
                s,
                "      {} {{\n        mode = tunnel\n        local_ts = {}\n        remote_ts = {}\n        esp_proposals = {}\n        start_action = none\n        rekey_time = {}s\n",
                c.name, c.local_ts, c.remote_ts, c.esp_proposals, c.timers.rekey_s
            );
            if let Some(l) = c.timers.life_s {
                let _ = writeln!(s, "        life_time = {l}s");
            }
            if let Some(r) = c.timers.rand_s {
                let _ = writeln!(s, "        rand_time = {r}s");
            }
            s.push_str("      }\n");
        }
        s.push_str("    }\n  }\n}\n");
        // One shared secret per pair of ids (strongSwan has no per-direction keys).
        let _ = write!(
            s,
            "secrets {{\n  ike-s2s {{\n    id-a = {}\n    id-b = {}\n    secret = \"{}\"\n  }}\n}}\n",
            self.local_id, self.remote_id, self.psk
        );
        s
    }
}

/// One CHILD_SA as `swanctl --list-sas --raw` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwanChild {
    pub name: String,
    pub uniqueid: u32,
    /// `INSTALLED`, `REKEYED`, `DELETED`...
    pub state: String,
    pub protocol: String,
    /// UDP-encapsulated (always, with kernel-libipsec).
    pub encap: bool,
    pub spi_in: u32,
    pub spi_out: u32,
    /// e.g. `AES_CBC`, `AES_GCM_16`
    pub encr_alg: String,
    pub encr_keysize: Option<u32>,
    /// e.g. `HMAC_SHA2_256_128`; none with an AEAD
    pub integ_alg: Option<String>,
    /// The PFS group, if any.
    pub dh_group: Option<String>,
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
    pub packets_in: u64,
    pub packets_out: u64,
}

/// One IKE_SA as `swanctl --list-sas --raw` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IkeSa {
    /// The connection's name.
    pub name: String,
    pub uniqueid: u32,
    pub version: u8,
    /// `ESTABLISHED`, `CONNECTING`, `REKEYED`, `DELETING`...
    pub state: String,
    pub local_host: String,
    pub local_port: u16,
    pub remote_host: String,
    pub remote_port: u16,
    pub initiator: bool,
    pub initiator_spi: String,
    pub responder_spi: String,
    pub encr_alg: String,
    pub encr_keysize: Option<u32>,
    pub integ_alg: Option<String>,
    pub prf_alg: Option<String>,
    /// e.g. `MODP_2048`, `ECP_256`
    pub dh_group: Option<String>,
    /// strongSwan detected a NAT in front of the peer.
    pub nat_remote: bool,
    pub nat_local: bool,
    pub children: Vec<SwanChild>,
}

impl IkeSa {
    /// Its children in state INSTALLED.
    pub fn installed(&self) -> Vec<&SwanChild> {
        self.children
            .iter()
            .filter(|c| c.state == "INSTALLED")
            .collect()
    }
}

/// A node of the vici dump.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Value(String),
    List(Vec<String>),
    Section(Vec<(String, Node)>),
}

impl Node {
    fn get(&self, k: &str) -> Option<&Node> {
        match self {
            Node::Section(kv) => kv.iter().find(|(n, _)| n == k).map(|(_, v)| v),
            _ => None,
        }
    }
    fn text(&self, k: &str) -> Option<String> {
        match self.get(k)? {
            Node::Value(v) => Some(v.clone()),
            _ => None,
        }
    }
    fn num<T: std::str::FromStr>(&self, k: &str) -> Option<T> {
        self.text(k)?.parse().ok()
    }
    fn list(&self, k: &str) -> Vec<String> {
        match self.get(k) {
            Some(Node::List(l)) => l.clone(),
            Some(Node::Value(v)) => vec![v.clone()],
            _ => Vec::new(),
        }
    }
    fn yes(&self, k: &str) -> bool {
        self.text(k).as_deref() == Some("yes")
    }
}

/// Splits a raw dump into tokens: `{`, `}`, `[`, `]`, `=` and words.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for ch in s.chars() {
        match ch {
            '{' | '}' | '[' | ']' | '=' => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                out.push(ch.to_string());
            }
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The members of a section, up to its closing `}` (or the end).
fn section(t: &[String], pos: &mut usize, depth: usize) -> Result<Vec<(String, Node)>> {
    if depth > 16 {
        bail!("vici dump nested too deep");
    }
    let mut kv = Vec::new();
    while *pos < t.len() {
        let name = t[*pos].clone();
        *pos += 1;
        if name == "}" {
            return Ok(kv);
        }
        match t.get(*pos).map(String::as_str) {
            Some("{") => {
                *pos += 1;
                kv.push((name, Node::Section(section(t, pos, depth + 1)?)));
            }
            Some("=") => {
                *pos += 1;
                if t.get(*pos).map(String::as_str) == Some("[") {
                    *pos += 1;
                    let mut items = Vec::new();
                    while let Some(w) = t.get(*pos) {
                        *pos += 1;
                        if w == "]" {
                            break;
                        }
                        items.push(w.clone());
                    }
                    kv.push((name, Node::List(items)));
                } else {
                    let v = t.get(*pos).cloned().unwrap_or_default();
                    *pos += 1;
                    kv.push((name, Node::Value(v)));
                }
            }
            other => bail!("vici dump: unexpected {other:?} after {name:?}"),
        }
    }
    Ok(kv)
}

fn hex32(s: Option<String>) -> Result<u32> {
    let s = s.context("SPI missing")?;
    u32::from_str_radix(&s, 16).with_context(|| format!("SPI {s:?}"))
}

fn child_of(name: &str, n: &Node) -> Result<SwanChild> {
    Ok(SwanChild {
        name: n.text("name").unwrap_or_else(|| name.to_string()),
        uniqueid: n.num("uniqueid").unwrap_or(0),
        state: n.text("state").unwrap_or_default(),
        protocol: n.text("protocol").unwrap_or_default(),
        encap: n.yes("encap"),
        spi_in: hex32(n.text("spi-in"))?,
        spi_out: hex32(n.text("spi-out"))?,
        encr_alg: n.text("encr-alg").unwrap_or_default(),
        encr_keysize: n.num("encr-keysize"),
        integ_alg: n.text("integ-alg"),
        dh_group: n.text("dh-group"),
        local_ts: n.list("local-ts"),
        remote_ts: n.list("remote-ts"),
        packets_in: n.num("packets-in").unwrap_or(0),
        packets_out: n.num("packets-out").unwrap_or(0),
    })
}

fn ike_of(name: &str, n: &Node) -> Result<IkeSa> {
    let mut children = Vec::new();
    if let Some(Node::Section(kids)) = n.get("child-sas") {
        for (k, c) in kids {
            children.push(child_of(k, c)?);
        }
    }
    Ok(IkeSa {
        name: name.to_string(),
        uniqueid: n.num("uniqueid").unwrap_or(0),
        version: n.num("version").unwrap_or(0),
        state: n.text("state").unwrap_or_default(),
        local_host: n.text("local-host").unwrap_or_default(),
        local_port: n.num("local-port").unwrap_or(0),
        remote_host: n.text("remote-host").unwrap_or_default(),
        remote_port: n.num("remote-port").unwrap_or(0),
        initiator: n.yes("initiator"),
        initiator_spi: n.text("initiator-spi").unwrap_or_default(),
        responder_spi: n.text("responder-spi").unwrap_or_default(),
        encr_alg: n.text("encr-alg").unwrap_or_default(),
        encr_keysize: n.num("encr-keysize"),
        integ_alg: n.text("integ-alg"),
        prf_alg: n.text("prf-alg"),
        dh_group: n.text("dh-group"),
        nat_remote: n.yes("nat-remote"),
        nat_local: n.yes("nat-local"),
        children,
    })
}

/// Every IKE SA of a `swanctl --list-sas --raw` output.
pub fn parse_list_sas(raw: &str) -> Result<Vec<IkeSa>> {
    let mut sas = Vec::new();
    for line in raw.lines() {
        let Some(body) = line.strip_prefix("list-sa event") else {
            continue;
        };
        // `{ NAME { ... } }`: the event's members are the IKE SAs.
        let t = tokens(body);
        if t.first().map(String::as_str) != Some("{") {
            bail!("vici dump: no section in {line:?}");
        }
        let mut pos = 1;
        for (conn, node) in section(&t, &mut pos, 0)? {
            if !matches!(node, Node::Section(_)) {
                bail!("vici dump: {conn} is not a section");
            }
            sas.push(ike_of(&conn, &node)?);
        }
    }
    Ok(sas)
}

impl Charon {
    /// `swanctl --list-sas --raw`, parsed.
    pub fn ike_sas(&self) -> Result<Vec<IkeSa>> {
        parse_list_sas(&self.swanctl(&["--list-sas", "--raw"])?)
    }

    /// `swanctl --initiate --child NAME` (waits up to 20 s for it).
    pub fn initiate_child(&self, child: &str) -> Result<String> {
        self.swanctl(&["--initiate", "--child", child, "--timeout", "20"])
    }

    /// Waits until an ESTABLISHED IKE SA of `version` has `children`
    /// INSTALLED children; returns it.
    pub fn wait_established(&self, version: u8, children: usize, limit: Duration) -> Result<IkeSa> {
        let deadline = Instant::now() + limit;
        loop {
            let sas = self.ike_sas()?;
            if let Some(sa) = sas.iter().find(|s| {
                s.version == version && s.state == "ESTABLISHED" && s.installed().len() >= children
            }) {
                return Ok(sa.clone());
            }
            if Instant::now() > deadline {
                bail!(
                    "no ESTABLISHED IKEv{version} SA with {children} INSTALLED children after {limit:?}: {sas:#?}\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What strongSwan 5.9.8 printed for an IKEv2 pair during a CHILD
    /// rekey: two IKE SAs (the old one REKEYED), two children of one.
    const RAW: &str = "list-sa event {s2s {uniqueid=2 version=2 state=ESTABLISHED local-host=192.0.2.1 local-port=4500 local-id=192.0.2.1 remote-host=192.0.2.2 remote-port=4500 remote-id=192.0.2.2 initiator=yes initiator-spi=cb199d4996e49848 responder-spi=780661f0975fc18a nat-remote=yes nat-any=yes encr-alg=AES_CBC encr-keysize=256 integ-alg=HMAC_SHA2_256_128 prf-alg=PRF_HMAC_SHA2_256 dh-group=MODP_2048 established=4 rekey-time=4 child-sas {lan-2 {name=lan uniqueid=2 reqid=1 state=DELETED mode=TUNNEL protocol=ESP encap=yes spi-in=62774d9a spi-out=6e333011 encr-alg=AES_CBC encr-keysize=256 integ-alg=HMAC_SHA2_256_128 bytes-in=0 packets-in=0 bytes-out=0 packets-out=0 rekey-time=-2 life-time=3 install-time=7 local-ts=[198.51.100.0/24] remote-ts=[203.0.113.0/24]} lan-3 {name=lan uniqueid=3 reqid=1 state=INSTALLED mode=TUNNEL protocol=ESP encap=yes spi-in=7d5d8d6b spi-out=c1a0fa4f encr-alg=AES_CBC encr-keysize=256 integ-alg=HMAC_SHA2_256_128 bytes-in=0 packets-in=7 bytes-out=0 packets-out=0 rekey-time=3 life-time=8 install-time=2 local-ts=[198.51.100.0/24] remote-ts=[203.0.113.0/24]}}}}
list-sa event {s2s {uniqueid=3 version=2 state=REKEYED local-host=192.0.2.1 local-port=4500 local-id=%any remote-host=192.0.2.2 remote-port=4500 remote-id=%any initiator-spi=ddd4770bc9c713b6 responder-spi=51f33f7964c26330 nat-remote=yes nat-any=yes encr-alg=AES_CBC encr-keysize=256 integ-alg=HMAC_SHA2_256_128 prf-alg=PRF_HMAC_SHA2_256 dh-group=MODP_2048 child-sas {}}}
list-sas reply {}
";

    #[test]
    fn raw_list_sas_parses_into_ike_and_child_sas() {
        let sas = parse_list_sas(RAW).unwrap();
        assert_eq!(sas.len(), 2);
        let sa = &sas[0];
        assert_eq!(
            (sa.name.as_str(), sa.uniqueid, sa.version, sa.state.as_str()),
            ("s2s", 2, 2, "ESTABLISHED")
        );
        assert_eq!(
            (sa.local_host.as_str(), sa.remote_port),
            ("192.0.2.1", 4500)
        );
        assert!(sa.initiator && sa.nat_remote && !sa.nat_local);
        assert_eq!(sa.encr_alg, "AES_CBC");
        assert_eq!(sa.encr_keysize, Some(256));
        assert_eq!(sa.prf_alg.as_deref(), Some("PRF_HMAC_SHA2_256"));
        assert_eq!(sa.dh_group.as_deref(), Some("MODP_2048"));
        assert_eq!(sa.children.len(), 2);
        let live = sa.installed();
        assert_eq!(live.len(), 1);
        let c = live[0];
        assert_eq!(
            (c.uniqueid, c.spi_in, c.spi_out),
            (3, 0x7d5d8d6b, 0xc1a0fa4f)
        );
        assert_eq!(c.integ_alg.as_deref(), Some("HMAC_SHA2_256_128"));
        assert_eq!(c.local_ts, ["198.51.100.0/24"]);
        assert_eq!(c.remote_ts, ["203.0.113.0/24"]);
        assert!(c.encap);
        assert_eq!(c.packets_in, 7);
        assert_eq!(sas[1].state, "REKEYED");
        assert!(sas[1].children.is_empty());
        assert!(parse_list_sas("list-sas reply {}\n").unwrap().is_empty());
    }

    #[test]
    fn damaged_dumps_are_errors_or_empty_never_panics() {
        for bad in [
            "list-sa event {s2s {uniqueid=1 child-sas {lan-1 {spi-in=zz}}}}",
            "list-sa event {s2s uniqueid}",
            "list-sa event {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
            "list-sa event {s2s {local-ts=[a b",
        ] {
            let _ = parse_list_sas(bad);
        }
        assert!(
            parse_list_sas("list-sa event {s2s {uniqueid=1 child-sas {lan-1 {spi-in=zz}}}}")
                .is_err()
        );
    }

    #[test]
    fn ikev2_conf_has_the_timers_and_children() {
        let mut c = SwanConn::v2(
            "192.0.2.2",
            "192.0.2.1",
            "aes256-sha256-prfsha256-modp2048",
            ("203.0.113.0/24", "198.51.100.0/24"),
            "aes256-sha256",
            "k",
        );
        c.timers = Timers::every(8, 12);
        c.children[0].timers = Timers::every(5, 10);
        let mut second = c.children[0].clone();
        second.name = "lan2".into();
        c.children.push(second);
        let s = c.swanctl_conf();
        for want in [
            "    version = 2\n",
            "    rekey_time = 8s\n    reauth_time = 0\n    over_time = 4s\n    rand_time = 0s\n",
            "      lan {\n",
            "      lan2 {\n",
            "        start_action = none\n        rekey_time = 5s\n        life_time = 10s\n        rand_time = 0s\n",
            "    id-a = 192.0.2.2\n    id-b = 192.0.2.1\n    secret = \"k\"\n",
        ] {
            assert!(s.contains(want), "{want:?} in\n{s}");
        }
        assert_eq!(s.matches('{').count(), s.matches('}').count(), "{s}");
    }
}
