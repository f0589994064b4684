//! Judges a parsed configuration the way an experienced engineer reviews
//! one: what cannot work is an error, what is weak or surprising is a
//! warning, and what people commonly get wrong (lifetimes) is advice.

use super::diag::{Diagnostic, hint_for};
use super::model::*;
use crate::algo::{
    DhGroup, EspCipher, EspInteg, IkeAuth, IkeEncryption, IkeHash, Ikev2Encryption,
    Ikev2EspEncryption, Ikev2EspIntegrity, Ikev2Integrity, Ikev2Prf,
};

/// Findings about `parsed`, in line order (errors first within a line).
pub fn check(parsed: &Parsed) -> Vec<Diagnostic> {
    let c = &parsed.config;
    let src = &parsed.source;
    let mut out = Vec::new();

    for i in &c.interfaces {
        if !is_linux_ifname(&i.ifname) {
            let line = src.interfaces.get(&i.nameif).copied().unwrap_or(0);
            out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!("`{}` is not a valid Linux interface name", i.ifname),
                )
                .with_hint("rename it to the Linux interface (`ip link`), e.g. `interface eth0`"),
            );
        }
    }

    for p in &c.isakmp_policies {
        let line = src.isakmp_policies.get(&p.priority).copied().unwrap_or(0);
        if p.auth == IkeAuth::RsaSig {
            out.push(
                Diagnostic::error(
                    line,
                    0,
                    format!(
                        "isakmp policy {}: authentication rsa-sig needs certificates, which ipsecgw does not support yet",
                        p.priority
                    ),
                )
                .with_hint("use `authentication pre-share` with a tunnel-group `ikev1 pre-shared-key`, or remove this policy"),
            );
        }
        if p.encryption == IkeEncryption::Des {
            out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!("isakmp policy {}: DES is broken (56-bit key)", p.priority),
                )
                .with_hint("use `aes-256`"),
            );
        }
        if p.hash == IkeHash::Md5 {
            out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!("isakmp policy {}: MD5 is weak", p.priority),
                )
                .with_hint("use `sha256` or better"),
            );
        }
        if p.group.is_weak() && !c.allow_weak_groups {
            out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!(
                        "isakmp policy {}: DH group {} is weak",
                        p.priority,
                        p.group.number()
                    ),
                )
                .with_hint(
                    "use group 14, 19, 20 or 31; `crypto isakmp allow-weak-groups` acknowledges it",
                ),
            );
        }
    }

    for t in c.transform_sets.values() {
        let line = src.transform_sets.get(&t.name).copied().unwrap_or(0);
        let cipher = t.transform.cipher;
        let integ = t.transform.integ;
        if matches!(cipher, EspCipher::Des) {
            out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!("transform-set {}: esp-des is broken", t.name),
                )
                .with_hint("use `esp-aes-256`"),
            );
        }
        if cipher == EspCipher::Null {
            out.push(Diagnostic::warning(
                line,
                0,
                format!("transform-set {}: esp-null sends traffic in clear", t.name),
            ));
        }
        if integ == EspInteg::HmacMd5_96 {
            out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!("transform-set {}: esp-md5-hmac is weak", t.name),
                )
                .with_hint("use `esp-sha256-hmac`"),
            );
        }
        if integ == EspInteg::None && !cipher.is_aead() {
            out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!("transform-set {}: no integrity protection", t.name),
                )
                .with_hint("add `esp-sha-hmac` or better, or use `esp-aes-gcm-256`"),
            );
        }
        if t.mode == Mode::Transport {
            out.push(Diagnostic::warning(
                line,
                0,
                format!(
                    "transform-set {}: transport mode cannot carry LAN-to-LAN traffic",
                    t.name
                ),
            ));
        }
    }

    for p in &c.ikev2_policies {
        let line = src.ikev2_policies.get(&p.priority).copied().unwrap_or(0);
        ikev2_policy(c, p, line, &mut out);
    }
    for p in c.ikev2_proposals.values() {
        let line = src.ikev2_proposals.get(&p.name).copied().unwrap_or(0);
        ikev2_proposal(p, line, &mut out);
    }

    if c.crypto_maps.iter().any(needs_ikev1) && c.isakmp_policies.is_empty() {
        out.push(
            Diagnostic::error(0, 0, "no ISAKMP policy: phase 1 can never be negotiated")
                .with_hint("add `crypto ikev1 policy 10`"),
        );
    }
    if c.crypto_maps.iter().any(|e| e.uses_ikev2()) && c.ikev2_policies.is_empty() {
        out.push(
            Diagnostic::error(0, 0, "no IKEv2 policy: an IKEv2 SA can never be negotiated")
                .with_hint("add `crypto ikev2 policy 10`"),
        );
    }
    // Every peer authenticates with a pre-shared key: it is the only method
    // this build has (rsa-sig and IKEv2 certificates are refused), and a
    // missing key must never become an empty one.
    let set_names: Vec<&str> = c.transform_sets.keys().map(String::as_str).collect();
    let proposal_names: Vec<&str> = c.ikev2_proposals.keys().map(String::as_str).collect();

    for (i, e) in c.crypto_maps.iter().enumerate() {
        let line = src
            .crypto_maps
            .get(&(e.map.clone(), e.seq))
            .copied()
            .unwrap_or(0);
        let who = format!("crypto map {} {}", e.map, e.seq);
        let v1 = needs_ikev1(e);
        let v2 = e.uses_ikev2();
        // One peer, one entry: the engine negotiates the ACL of the entry a
        // peer belongs to, so a second entry's lines would never be offered
        // or accepted and its traffic would wait for a tunnel that cannot
        // come up. Refuse instead of silently negotiating only one of them.
        for p in &e.peers {
            if let Some(first) = c.crypto_maps[..i]
                .iter()
                .find(|o| o.interface.is_some() && e.interface.is_some() && o.peers.contains(p))
            {
                out.push(
                    Diagnostic::error(
                        line,
                        0,
                        format!(
                            "{who}: peer {p} is also listed in crypto map {} {}; ipsecgw negotiates one crypto map entry per peer",
                            first.map, first.seq
                        ),
                    )
                    .with_hint(format!(
                        "put the networks of both entries in one access-list (crypto map {} {} match address), or remove {p} from one of them",
                        first.map, first.seq
                    )),
                );
            }
        }
        if e.peers.is_empty() {
            out.push(
                Diagnostic::error(line, 0, format!("{who}: no peer"))
                    .with_hint(format!("add `{who} set peer A.B.C.D`")),
            );
        }
        if e.acl.is_empty() {
            out.push(Diagnostic::error(
                line,
                0,
                format!("{who}: no `match address` access-list"),
            ));
        } else if e.rules.is_empty() {
            out.push(Diagnostic::error(
                line,
                0,
                format!(
                    "{who}: access-list `{}` is not defined (or has no rules)",
                    e.acl
                ),
            ));
        } else if !e.rules.iter().any(|r| r.action == AclAction::Permit) {
            out.push(Diagnostic::error(
                line,
                0,
                format!("{who}: access-list `{}` permits nothing", e.acl),
            ));
        }
        for r in e.rules.iter().filter(|r| r.action == AclAction::Permit) {
            if r.src.overlaps(&r.dst) {
                out.push(
                    Diagnostic::error(line, 0, format!("{who}: local network {} and remote network {} overlap", r.src, r.dst))
                        .with_hint("both sides use the same private addresses: traffic for the remote side is local traffic and never enters the tunnel; renumber one side or NAT it to a unique range"),
                );
            }
        }
        if !e.uses_ikev1() && !e.uses_ikev2() {
            out.push(
                Diagnostic::error(line, 0, format!("{who}: no transform-set or ipsec-proposal"))
                    .with_hint(format!(
                        "add `{who} set ikev1 transform-set NAME` or `{who} set ikev2 ipsec-proposal NAME`"
                    )),
            );
        }
        for t in &e.transform_sets {
            if !c.transform_sets.contains_key(t) {
                out.push(
                    Diagnostic::error(line, 0, format!("{who}: unknown transform-set `{t}`"))
                        .with_hint(hint_for(t, &set_names)),
                );
            }
        }
        let refs = src.ikev2_proposal_refs.get(&(e.map.clone(), e.seq));
        for (k, name) in e.ikev2_proposals.iter().enumerate() {
            if !c.ikev2_proposals.contains_key(name) {
                let (l, col) = refs.and_then(|r| r.get(k)).copied().unwrap_or((line, 0));
                out.push(
                    Diagnostic::error(
                        l,
                        col,
                        format!("{who}: unknown ikev2 ipsec-proposal `{name}`"),
                    )
                    .with_hint(hint_for(name, &proposal_names)),
                );
            }
        }
        if let Some(g) = e.pfs {
            if v2 && weak_for_ikev2(g) && !c.allow_weak_groups {
                out.push(
                    Diagnostic::error(
                        line,
                        0,
                        format!("{who}: PFS group {} is weak", g.number()),
                    )
                    .with_hint("IKEv2 refuses groups 1, 2, 5 and 24: use `set pfs group14` or better; `crypto isakmp allow-weak-groups` allows it"),
                );
            } else if g.is_weak() && !c.allow_weak_groups {
                out.push(
                    Diagnostic::warning(
                        line,
                        0,
                        format!("{who}: PFS group {} is weak", g.number()),
                    )
                    .with_hint("use `set pfs group14` or better"),
                );
            }
        }
        for p in &e.peers {
            match c.tunnel_group_for(*p) {
                None => out.push(
                    Diagnostic::error(line, 0, format!("{who}: peer {p} has no tunnel-group"))
                        .with_hint(format!(
                            "add `tunnel-group {p} type ipsec-l2l` and its `ipsec-attributes`"
                        )),
                ),
                Some(t) => {
                    let tl = src.tunnel_groups.get(&t.name).copied().unwrap_or(line);
                    if v1 && t.psk.is_none() {
                        out.push(
                            Diagnostic::error(
                                tl,
                                0,
                                format!("tunnel-group {}: no pre-shared key for peer {p}", t.name),
                            )
                            .with_hint(format!(
                                "add `tunnel-group {} ipsec-attributes` / ` ikev1 pre-shared-key KEY`",
                                t.name
                            )),
                        );
                    }
                    let sides = [
                        ("remote", t.ikev2_remote_psk.is_none()),
                        ("local", t.ikev2_local_psk.is_none()),
                    ];
                    for (side, missing) in sides {
                        if v2 && missing {
                            out.push(
                                Diagnostic::error(
                                    tl,
                                    0,
                                    format!(
                                        "tunnel-group {}: no ikev2 {side}-authentication key for peer {p} ({who} uses IKEv2)",
                                        t.name
                                    ),
                                )
                                .with_hint(format!(
                                    "add `tunnel-group {} ipsec-attributes` / ` ikev2 {side}-authentication pre-shared-key KEY`",
                                    t.name
                                )),
                            );
                        }
                    }
                }
            }
        }
        if matches!(e.phase1_mode, Phase1Mode::Aggressive(_)) && v1 {
            out.push(Diagnostic::warning(line, 0, format!("{who}: aggressive mode with a pre-shared key exposes a hash an eavesdropper can brute-force offline"))
                .with_hint("prefer main mode"));
        }
        match &e.interface {
            None => out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!(
                        "crypto map {} is not bound to an interface: it is inactive",
                        e.map
                    ),
                )
                .with_hint(format!("add `crypto map {} interface outside`", e.map)),
            ),
            Some(i) => {
                if v1 && !c.ikev1_enabled_on.contains(i) {
                    out.push(
                        Diagnostic::error(
                            line,
                            0,
                            format!(
                                "crypto map {} is bound to `{i}` where IKEv1 is not enabled",
                                e.map
                            ),
                        )
                        .with_hint(format!("add `crypto ikev1 enable {i}`")),
                    );
                }
                if v2 && !c.ikev2_enabled_on.contains(i) {
                    out.push(
                        Diagnostic::error(
                            line,
                            0,
                            format!(
                                "{who} uses IKEv2, but crypto map {} is bound to `{i}` where IKEv2 is not enabled",
                                e.map
                            ),
                        )
                        .with_hint(format!("add `crypto ikev2 enable {i}`")),
                    );
                }
            }
        }
    }

    if c.crypto_maps.iter().any(needs_ikev1) {
        out.push(Diagnostic::advice(
            0,
            "lifetimes need not match the peer's: as ASA and IOS do, a responder accepts a proposed lifetime no longer than its own and both sides use the shorter",
        ));
    }
    if c.crypto_maps.iter().any(|e| e.uses_ikev2()) {
        out.push(Diagnostic::advice(
            0,
            "IKEv2 lifetimes are not negotiated (RFC 7296 2.8): each side rekeys when its own lifetime ends, so they need not match the peer's",
        ));
    }
    // Line order; findings tied to no line (line 0) last.
    out.sort_by_key(|d| (d.line == 0, d.line, d.severity));
    out.dedup();
    out
}

/// The entry negotiates IKEv1: it has a transform set, or neither a
/// transform set nor an ipsec-proposal (the IKEv1 findings then apply, as
/// before IKEv2 existed).
fn needs_ikev1(e: &CryptoMapEntry) -> bool {
    e.uses_ikev1() || !e.uses_ikev2()
}

/// Groups IKEv2 refuses unless `crypto isakmp allow-weak-groups`: the
/// MODP groups below 2048 bits, and group 24, whose 224-bit subgroup is
/// weaker than its 2048-bit modulus suggests (RFC 8247 says SHOULD NOT).
fn weak_for_ikev2(g: DhGroup) -> bool {
    g.is_weak() || g == DhGroup::Modp2048s256
}

/// Keywords as the operator wrote them, for messages.
fn listed<T: std::fmt::Display>(items: &[T]) -> String {
    let w: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    w.join(", ")
}

/// One `crypto ikev2 policy`. An IKE SA proposal pairs a combined-mode
/// (GCM) encryption with no integrity (`null`) and any other encryption
/// with a real integrity algorithm: a policy no pairing exists for can
/// never be negotiated (error); one where some algorithm pairs with
/// nothing is told which one is never offered (warning).
fn ikev2_policy(c: &Config, p: &Ikev2Policy, line: usize, out: &mut Vec<Diagnostic>) {
    let who = format!("ikev2 policy {}", p.priority);
    let (aead, plain): (Vec<Ikev2Encryption>, Vec<Ikev2Encryption>) =
        p.encryption.iter().partition(|e| e.is_aead());
    let null = p.integrity.contains(&Ikev2Integrity::Null);
    let real = p.integrity.iter().any(|i| *i != Ikev2Integrity::Null);
    let gcm_ok = !aead.is_empty() && null;
    let plain_ok = !plain.is_empty() && real;
    if !gcm_ok && !plain_ok {
        if plain.is_empty() {
            out.push(
                Diagnostic::error(
                    line,
                    0,
                    format!(
                        "{who}: GCM encryption ({}) needs `integrity null`",
                        listed(&aead)
                    ),
                )
                .with_hint("GCM carries its own integrity: write `integrity null`"),
            );
        } else {
            out.push(
                Diagnostic::error(
                    line,
                    0,
                    format!(
                        "{who}: encryption {} needs an integrity algorithm other than `null`",
                        listed(&plain)
                    ),
                )
                .with_hint("add e.g. `integrity sha256`, or use `encryption aes-gcm-256`"),
            );
        }
    } else {
        if !plain.is_empty() && !real {
            out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!(
                        "{who}: encryption {} is never offered: `integrity null` is for GCM only",
                        listed(&plain)
                    ),
                )
                .with_hint("add e.g. `sha256` to `integrity`"),
            );
        }
        if !aead.is_empty() && !null {
            out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!(
                        "{who}: encryption {} is never offered: GCM needs `integrity null`",
                        listed(&aead)
                    ),
                )
                .with_hint("add `null` to `integrity`"),
            );
        }
    }
    for g in &p.groups {
        if weak_for_ikev2(*g) && !c.allow_weak_groups {
            out.push(
                Diagnostic::error(
                    line,
                    0,
                    format!("{who}: DH group {} is weak", g.number()),
                )
                .with_hint(
                    "use group 14, 19, 20, 21 or 31; `crypto isakmp allow-weak-groups` allows it",
                ),
            );
        }
    }
    if p.encryption.contains(&Ikev2Encryption::Des) {
        out.push(
            Diagnostic::warning(line, 0, format!("{who}: DES is broken (56-bit key)"))
                .with_hint("use `aes-256` or `aes-gcm-256`"),
        );
    }
    if p.integrity.contains(&Ikev2Integrity::Md5) || p.prf.contains(&Ikev2Prf::Md5) {
        out.push(
            Diagnostic::warning(line, 0, format!("{who}: MD5 is weak"))
                .with_hint("use `sha256` or better"),
        );
    }
}

/// One `crypto ipsec ikev2 ipsec-proposal`: its transforms are the valid
/// pairings ([`Ikev2Proposal::transforms`]); none at all is an error.
fn ikev2_proposal(p: &Ikev2Proposal, line: usize, out: &mut Vec<Diagnostic>) {
    let who = format!("ipsec-proposal {}", p.name);
    if p.encryption.is_empty() {
        out.push(
            Diagnostic::error(line, 0, format!("{who}: no `protocol esp encryption`"))
                .with_hint("add ` protocol esp encryption aes-gcm-256` (or `aes-256` with ` protocol esp integrity sha-256`)"),
        );
        return;
    }
    let (aead, plain): (Vec<Ikev2EspEncryption>, Vec<Ikev2EspEncryption>) =
        p.encryption.iter().partition(|e| e.cipher().is_aead());
    let null = p.integrity.is_empty() || p.integrity.contains(&Ikev2EspIntegrity::Null);
    let real = p.integrity.iter().any(|i| *i != Ikev2EspIntegrity::Null);
    if p.transforms().is_empty() {
        if plain.is_empty() {
            out.push(
                Diagnostic::error(
                    line,
                    0,
                    format!(
                        "{who}: encryption {} carries its own integrity and needs `protocol esp integrity null`",
                        listed(&aead)
                    ),
                )
                .with_hint("write ` protocol esp integrity null`"),
            );
        } else {
            out.push(
                Diagnostic::error(
                    line,
                    0,
                    format!(
                        "{who}: encryption {} needs an integrity algorithm other than `null`",
                        listed(&plain)
                    ),
                )
                .with_hint("add e.g. ` protocol esp integrity sha-256`, or use `aes-gcm-256`"),
            );
        }
    } else {
        if !plain.is_empty() && !real {
            out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!(
                        "{who}: encryption {} is never offered: it needs an integrity algorithm other than `null`",
                        listed(&plain)
                    ),
                )
                .with_hint("add e.g. `sha-256` to ` protocol esp integrity`"),
            );
        }
        if !aead.is_empty() && !null {
            out.push(
                Diagnostic::warning(
                    line,
                    0,
                    format!(
                        "{who}: encryption {} is never offered: it needs integrity `null`",
                        listed(&aead)
                    ),
                )
                .with_hint("add `null` to ` protocol esp integrity`"),
            );
        }
    }
    if p.encryption.contains(&Ikev2EspEncryption::Null) {
        out.push(Diagnostic::warning(
            line,
            0,
            format!("{who}: encryption null sends traffic in clear"),
        ));
    }
    if p.encryption.contains(&Ikev2EspEncryption::Des) {
        out.push(
            Diagnostic::warning(line, 0, format!("{who}: DES is broken"))
                .with_hint("use `aes-256` or `aes-gcm-256`"),
        );
    }
    if p.integrity.contains(&Ikev2EspIntegrity::Md5) {
        out.push(
            Diagnostic::warning(line, 0, format!("{who}: MD5 is weak")).with_hint("use `sha-256`"),
        );
    }
}

/// Linux accepts 1..=15 bytes, no `/`, no whitespace, not `.` or `..`.
fn is_linux_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifnames() {
        assert!(is_linux_ifname("wan0"));
        assert!(is_linux_ifname("eth0.100"));
        assert!(!is_linux_ifname("GigabitEthernet0/0"));
        assert!(!is_linux_ifname("averyveryverylongname"));
        assert!(!is_linux_ifname(".."));
    }
}
