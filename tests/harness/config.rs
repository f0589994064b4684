//! Gateway configurations (the ASA crypto dialect) for the tests: one
//! crypto-map entry, `OUTSIDE_MAP 10`, protecting one ACL toward one peer,
//! on the topology's `wan0`/`lan0`. [`GatewayConfig`] holds what tests
//! vary (policy, transform set, spelling, extra lines) and renders the
//! text line for line, so tests that point at a line number or look for a
//! line keep finding it; [`seed_config`] is the seed article's.

use std::fmt::Write as _;

use crate::topology::{EAST_GW_OUTSIDE, WEST_GW_OUTSIDE};

pub const WEST_LAN: &str = "198.51.100.0";
pub const EAST_LAN: &str = "203.0.113.0";

/// The seed article's ISAKMP policy body: 3DES, SHA-1, group 2, a day.
pub const SEED_POLICY: &str =
    " authentication pre-share\n encryption 3des\n hash sha\n group 2\n lifetime 86400\n";
/// AES-256, SHA-256, group 14, a day.
pub const AES256_POLICY: &str =
    " authentication pre-share\n encryption aes-256\n hash sha256\n group 14\n lifetime 86400\n";

/// Which ASA release's keywords the IKEv1 lines use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spelling {
    /// Before 8.4: `crypto isakmp policy`, `crypto isakmp enable`,
    /// ` pre-shared-key`.
    Pre84,
    /// 8.4 and later: `crypto ikev1 policy`, `crypto ikev1 enable`,
    /// ` ikev1 pre-shared-key`, and `ikev1 transform-set` always.
    Ikev1,
}

/// `crypto ipsec [ikev1] transform-set NAME TRANSFORMS` and the entry's
/// `set [ikev1] transform-set NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransformSet {
    pub name: String,
    /// e.g. `esp-3des esp-sha-hmac`
    pub transforms: String,
    /// The 8.4 keyword (`ikev1 transform-set`) also under [`Spelling::Pre84`].
    pub ikev1_keyword: bool,
}

impl TransformSet {
    pub fn new(name: &str, transforms: &str, ikev1_keyword: bool) -> TransformSet {
        TransformSet {
            name: name.into(),
            transforms: transforms.into(),
            ikev1_keyword,
        }
    }
}

/// The IKEv2 part of an entry: `crypto ikev2 policy 10`, `crypto ipsec
/// ikev2 ipsec-proposal`, `set ikev2 ipsec-proposal`, `crypto ikev2
/// enable outside` and the tunnel-group's two IKEv2 keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ikev2 {
    /// e.g. `aes-256` or `aes-gcm-256 aes-256`
    pub encryption: String,
    /// e.g. `sha256`, `null` with GCM
    pub integrity: String,
    /// e.g. `14` or `19 14`
    pub group: String,
    /// `None`: no `prf` line (the default follows the integrity).
    pub prf: Option<String>,
    pub proposal: String,
    /// `protocol esp encryption ...`
    pub esp_encryption: String,
    /// `protocol esp integrity ...`
    pub esp_integrity: String,
    /// The key we authenticate with and the one we expect from the peer.
    pub local_psk: String,
    pub remote_psk: String,
}

impl Ikev2 {
    /// AES-256/SHA-256/group 14/PRF SHA-256, ESP AES-256 with SHA-256,
    /// one key both ways.
    pub fn aes256(psk: &str) -> Ikev2 {
        Ikev2 {
            encryption: "aes-256".into(),
            integrity: "sha256".into(),
            group: "14".into(),
            prf: Some("sha256".into()),
            proposal: "P1".into(),
            esp_encryption: "aes-256".into(),
            esp_integrity: "sha-256".into(),
            local_psk: psk.into(),
            remote_psk: psk.into(),
        }
    }
}

/// One gateway's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayConfig {
    pub spelling: Spelling,
    /// `LOCAL LMASK REMOTE RMASK` of the `access-list L2L` line.
    pub acl: String,
    /// Further lines of `L2L`, in order (one CHILD_SA each for IKEv2).
    pub more_acl: Vec<String>,
    pub peer: String,
    /// The IKEv1 key (` pre-shared-key`); `None` for an IKEv2-only entry.
    pub psk: Option<String>,
    /// The lines under `crypto isakmp policy 10`, each ` keyword value\n`;
    /// `None`: no IKEv1 policy.
    pub policy: Option<String>,
    pub transform_set: Option<TransformSet>,
    pub ikev2: Option<Ikev2>,
    /// More `crypto map OUTSIDE_MAP 10 ...` lines (pfs, lifetimes, phase
    /// 1 mode), after the transform set and proposal.
    pub map_lines: String,
    /// Appended after everything: under the tunnel-group's
    /// ipsec-attributes when indented, new blocks otherwise.
    pub tail: String,
}

/// `A 255.255.255.0 B 255.255.255.0`: the ACL between two /24s.
pub fn acl_24(local_lan: &str, remote_lan: &str) -> String {
    format!("{local_lan} 255.255.255.0 {remote_lan} 255.255.255.0")
}

impl GatewayConfig {
    /// The seed article's configuration for one side: 3DES/SHA/group 2
    /// main mode, ESP 3DES-SHA1 (`ESP-3DES-SHA`), PSK, crypto map on `wan0`.
    pub fn seed(local_lan: &str, remote_lan: &str, peer: &str, psk: &str) -> GatewayConfig {
        GatewayConfig {
            spelling: Spelling::Pre84,
            acl: acl_24(local_lan, remote_lan),
            more_acl: Vec::new(),
            peer: peer.into(),
            psk: Some(psk.into()),
            policy: Some(SEED_POLICY.into()),
            transform_set: Some(TransformSet::new(
                "ESP-3DES-SHA",
                "esp-3des esp-sha-hmac",
                false,
            )),
            ikev2: None,
            map_lines: String::new(),
            tail: String::new(),
        }
    }

    /// [`GatewayConfig::seed`] for west-gw of the topology (toward east-gw).
    pub fn west(psk: &str) -> GatewayConfig {
        Self::seed(WEST_LAN, EAST_LAN, EAST_GW_OUTSIDE, psk)
    }

    /// [`GatewayConfig::seed`] for east-gw of the topology (toward west-gw).
    pub fn east(psk: &str) -> GatewayConfig {
        Self::seed(EAST_LAN, WEST_LAN, WEST_GW_OUTSIDE, psk)
    }

    /// The same entry with transform set `TS` = `transforms`.
    pub fn with_transform_set(mut self, name: &str, transforms: &str, ikev1_keyword: bool) -> Self {
        self.transform_set = Some(TransformSet::new(name, transforms, ikev1_keyword));
        self
    }

    /// The seed entry's AES-GCM-128 variant (same phase 1): transform set
    /// `GCM` = `esp-aes-gcm esp-none`, in the 8.4 keyword.
    pub fn gcm(self) -> Self {
        self.with_transform_set("GCM", "esp-aes-gcm esp-none", true)
    }

    /// The entry negotiates IKEv2 only: no IKEv1 policy, transform set or key.
    pub fn ikev2_only(mut self, v2: Ikev2) -> Self {
        self.policy = None;
        self.transform_set = None;
        self.psk = None;
        self.ikev2 = Some(v2);
        self
    }

    fn v1(&self) -> &'static str {
        match self.spelling {
            Spelling::Pre84 => "isakmp",
            Spelling::Ikev1 => "ikev1",
        }
    }

    pub fn render(&self) -> String {
        let mut s =
            String::from("interface wan0\n nameif outside\ninterface lan0\n nameif inside\n");
        for acl in std::iter::once(&self.acl).chain(&self.more_acl) {
            let _ = writeln!(s, "access-list L2L extended permit ip {acl}");
        }
        let v1 = self.v1();
        if let Some(p) = &self.policy {
            let _ = write!(s, "crypto {v1} policy 10\n{p}");
        }
        let ts_kw = |ts: &TransformSet| {
            if ts.ikev1_keyword || self.spelling == Spelling::Ikev1 {
                "ikev1 transform-set"
            } else {
                "transform-set"
            }
        };
        if let Some(ts) = &self.transform_set {
            let _ = writeln!(
                s,
                "crypto ipsec {} {} {}",
                ts_kw(ts),
                ts.name,
                ts.transforms
            );
        }
        if let Some(v2) = &self.ikev2 {
            let _ = write!(
                s,
                "crypto ikev2 policy 10\n encryption {}\n integrity {}\n group {}\n",
                v2.encryption, v2.integrity, v2.group
            );
            if let Some(prf) = &v2.prf {
                let _ = writeln!(s, " prf {prf}");
            }
            let _ = write!(
                s,
                "crypto ipsec ikev2 ipsec-proposal {}\n protocol esp encryption {}\n protocol esp integrity {}\n",
                v2.proposal, v2.esp_encryption, v2.esp_integrity
            );
        }
        let _ = writeln!(s, "crypto map OUTSIDE_MAP 10 match address L2L");
        let _ = writeln!(s, "crypto map OUTSIDE_MAP 10 set peer {}", self.peer);
        if let Some(ts) = &self.transform_set {
            let _ = writeln!(s, "crypto map OUTSIDE_MAP 10 set {} {}", ts_kw(ts), ts.name);
        }
        if let Some(v2) = &self.ikev2 {
            let _ = writeln!(
                s,
                "crypto map OUTSIDE_MAP 10 set ikev2 ipsec-proposal {}",
                v2.proposal
            );
        }
        s.push_str(&self.map_lines);
        s.push_str("crypto map OUTSIDE_MAP interface outside\n");
        if self.policy.is_some() {
            let _ = writeln!(s, "crypto {v1} enable outside");
        }
        if self.ikev2.is_some() {
            s.push_str("crypto ikev2 enable outside\n");
        }
        let peer = &self.peer;
        let _ = write!(
            s,
            "tunnel-group {peer} type ipsec-l2l\ntunnel-group {peer} ipsec-attributes\n"
        );
        if let Some(psk) = &self.psk {
            let kw = match self.spelling {
                Spelling::Pre84 => "pre-shared-key",
                Spelling::Ikev1 => "ikev1 pre-shared-key",
            };
            let _ = writeln!(s, " {kw} {psk}");
        }
        if let Some(v2) = &self.ikev2 {
            let _ = write!(
                s,
                " ikev2 remote-authentication pre-shared-key {}\n ikev2 local-authentication pre-shared-key {}\n",
                v2.remote_psk, v2.local_psk
            );
        }
        s.push_str(&self.tail);
        s
    }
}

impl std::fmt::Display for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

/// The seed article's configuration for one side of the topology:
/// 3DES/SHA/group 2 main mode, ESP 3DES-SHA1, PSK, crypto map on `wan0`.
pub fn seed_config(local_lan: &str, remote_lan: &str, peer: &str, psk: &str) -> String {
    GatewayConfig::seed(local_lan, remote_lan, peer, psk).render()
}

/// [`seed_config`] of west-gw (toward east-gw).
pub fn west_seed(psk: &str) -> String {
    GatewayConfig::west(psk).render()
}

/// [`seed_config`] of east-gw (toward west-gw).
pub fn east_seed(psk: &str) -> String {
    GatewayConfig::east(psk).render()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loads(text: &str) -> ipsecgw::config::Config {
        let p = ipsecgw::config::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(p.ignored.is_empty(), "ignored lines in:\n{text}");
        p.config
    }

    /// The seed configuration, line for line as the seed article writes
    /// it: tests point at its lines (the key is the last one).
    #[test]
    fn seed_renders_the_seed_article() {
        let c = seed_config(WEST_LAN, EAST_LAN, EAST_GW_OUTSIDE, "k");
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 20, "{c}");
        assert_eq!(
            lines[4],
            "access-list L2L extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0"
        );
        assert_eq!(lines[5], "crypto isakmp policy 10");
        assert_eq!(
            lines[11],
            "crypto ipsec transform-set ESP-3DES-SHA esp-3des esp-sha-hmac"
        );
        assert_eq!(
            lines[14],
            "crypto map OUTSIDE_MAP 10 set transform-set ESP-3DES-SHA"
        );
        assert_eq!(lines[16], "crypto isakmp enable outside");
        assert!(c.ends_with("tunnel-group 192.0.2.2 ipsec-attributes\n pre-shared-key k\n"));
        let cfg = loads(&c);
        assert_eq!(cfg.crypto_maps.len(), 1);
    }

    /// The IKEv2 lines of DESIGN.md's contract, in the order an ASA
    /// prints them; only-IKEv2 entries carry no IKEv1 line.
    #[test]
    fn ikev2_entries_render_the_contract() {
        let mut v2 = GatewayConfig::west("k").ikev2_only(Ikev2::aes256("k"));
        v2.more_acl = vec![acl_24("198.51.100.128", EAST_LAN)];
        let text = v2.render();
        for want in [
            "access-list L2L extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0\naccess-list L2L extended permit ip 198.51.100.128 255.255.255.0 203.0.113.0 255.255.255.0\n",
            "crypto ikev2 policy 10\n encryption aes-256\n integrity sha256\n group 14\n prf sha256\n",
            "crypto ipsec ikev2 ipsec-proposal P1\n protocol esp encryption aes-256\n protocol esp integrity sha-256\n",
            "crypto map OUTSIDE_MAP 10 set ikev2 ipsec-proposal P1\n",
            "crypto ikev2 enable outside\n",
            "tunnel-group 192.0.2.2 ipsec-attributes\n ikev2 remote-authentication pre-shared-key k\n ikev2 local-authentication pre-shared-key k\n",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
        for never in ["isakmp", "ikev1", "transform-set", "\n pre-shared-key"] {
            assert!(!text.contains(never), "{never:?} in\n{text}");
        }
        // Both versions on one entry: IKEv2 first, IKEv1 to fall back to.
        let mut both = GatewayConfig::west("k");
        both.ikev2 = Some(Ikev2::aes256("k"));
        let text = both.render();
        assert!(text.contains("set transform-set ESP-3DES-SHA\ncrypto map OUTSIDE_MAP 10 set ikev2 ipsec-proposal P1\n"), "{text}");
        assert!(
            text.contains("crypto isakmp enable outside\ncrypto ikev2 enable outside\n"),
            "{text}"
        );
    }

    #[test]
    fn every_variant_loads_without_ignored_lines() {
        let mut v84 =
            GatewayConfig::west("k").with_transform_set("TS", "esp-aes-256 esp-sha256-hmac", true);
        v84.spelling = Spelling::Ikev1;
        v84.policy = Some(AES256_POLICY.into());
        v84.map_lines = "crypto map OUTSIDE_MAP 10 set pfs group14\n".into();
        let text = v84.render();
        assert!(text.contains("crypto ikev1 policy 10\n"), "{text}");
        assert!(text.contains(" ikev1 pre-shared-key k\n"), "{text}");
        assert!(text.contains("crypto ikev1 enable outside\n"), "{text}");
        for t in [
            GatewayConfig::east("k").render(),
            GatewayConfig::west("k").gcm().render(),
            text,
        ] {
            loads(&t);
        }
    }
}
