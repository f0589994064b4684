//! Judges a parsed configuration the way an experienced engineer reviews
//! one: what cannot work is an error, what is weak or surprising is a
//! warning, and what people commonly get wrong (lifetimes) is advice.

use super::diag::{Diagnostic, hint_for};
use super::model::*;
use crate::algo::{EspCipher, EspInteg, IkeAuth, IkeEncryption, IkeHash};

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

    if !c.crypto_maps.is_empty() && c.isakmp_policies.is_empty() {
        out.push(
            Diagnostic::error(0, 0, "no ISAKMP policy: phase 1 can never be negotiated")
                .with_hint("add `crypto ikev1 policy 10`"),
        );
    }
    // Every peer authenticates with a pre-shared key: it is the only method
    // this build has (rsa-sig is refused above), and a missing key must
    // never become an empty one.
    let needs_psk = true;
    let set_names: Vec<&str> = c.transform_sets.keys().map(String::as_str).collect();

    for (i, e) in c.crypto_maps.iter().enumerate() {
        let line = src
            .crypto_maps
            .get(&(e.map.clone(), e.seq))
            .copied()
            .unwrap_or(0);
        let who = format!("crypto map {} {}", e.map, e.seq);
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
        if e.transform_sets.is_empty() {
            out.push(
                Diagnostic::error(line, 0, format!("{who}: no transform-set"))
                    .with_hint(format!("add `{who} set ikev1 transform-set NAME`")),
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
        if let Some(g) = e.pfs {
            if g.is_weak() && !c.allow_weak_groups {
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
                Some(t) if t.psk.is_none() && needs_psk => {
                    let tl = src.tunnel_groups.get(&t.name).copied().unwrap_or(line);
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
                Some(_) => {}
            }
        }
        if matches!(e.phase1_mode, Phase1Mode::Aggressive(_)) && needs_psk {
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
            Some(i) if !c.ikev1_enabled_on.contains(i) => out.push(
                Diagnostic::error(
                    line,
                    0,
                    format!(
                        "crypto map {} is bound to `{i}` where IKEv1 is not enabled",
                        e.map
                    ),
                )
                .with_hint(format!("add `crypto ikev1 enable {i}`")),
            ),
            Some(_) => {}
        }
    }

    if !c.crypto_maps.is_empty() {
        out.push(Diagnostic::advice(
            0,
            "lifetimes need not match the peer's: as ASA and IOS do, a responder accepts a proposed lifetime no longer than its own and both sides use the shorter",
        ));
    }
    // Line order; findings tied to no line (line 0) last.
    out.sort_by_key(|d| (d.line == 0, d.line, d.severity));
    out.dedup();
    out
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
