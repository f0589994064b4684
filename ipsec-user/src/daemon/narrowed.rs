//! Proxy identities narrower than their ACL line. A peer may propose, and
//! we accept as responder, a part of a crypto-map ACL line: a smaller
//! subnet, one protocol, one port. The SA it gets carries only that
//! traffic; steering the whole line into it would black-hole the rest
//! (the peer drops what falls outside its SA's selectors). So each
//! narrowed child gets a data-plane line of its own, with a selector id
//! of its own, just before its parent line; the rest of the line still
//! punts and negotiates for itself.

use std::net::Ipv4Addr;

use crate::dataplane::acl::{AclAction, AclRule};

/// Selector ids of narrowed lines start here: above every configured
/// selector, and below the top bit the data plane keeps for other keys.
pub const FIRST_NARROWED_ID: u32 = 0x4000_0000;

/// What a child SA was negotiated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub local: (Ipv4Addr, u8),
    pub remote: (Ipv4Addr, u8),
    /// 0: any.
    pub proto: u8,
    pub local_port: u16,
    pub remote_port: u16,
}

struct Narrowed {
    id: u32,
    parent: u32,
    rule: AclRule,
    /// Child SAs on this line (a rekey overlaps the old one).
    users: usize,
}

/// The configured ACL lines plus one line per narrowed negotiation.
pub struct NarrowedAcl {
    base: Vec<AclRule>,
    extra: Vec<Narrowed>,
    next_id: u32,
}

impl NarrowedAcl {
    pub fn new(base: Vec<AclRule>) -> Self {
        NarrowedAcl {
            base,
            extra: Vec::new(),
            next_id: FIRST_NARROWED_ID,
        }
    }

    /// The data-plane selector for a child of `parent` negotiated as `n`,
    /// and whether the rules changed (and must be installed again).
    /// Exactly the parent's line: the parent itself.
    pub fn acquire(&mut self, parent: u32, n: Negotiated) -> (u32, bool) {
        let Some(line) = self
            .base
            .iter()
            .find(|r| r.selector == parent && r.action == AclAction::Permit)
        else {
            return (parent, false);
        };
        let rule = AclRule {
            selector: parent,
            action: AclAction::Permit,
            // Never wider than the line: "any" keeps the line's protocol
            // and port ranges.
            proto: if n.proto != 0 {
                Some(n.proto)
            } else {
                line.proto
            },
            src: n.local,
            dst: n.remote,
            src_ports: if n.local_port != 0 {
                n.local_port..=n.local_port
            } else {
                line.src_ports.clone()
            },
            dst_ports: if n.remote_port != 0 {
                n.remote_port..=n.remote_port
            } else {
                line.dst_ports.clone()
            },
        };
        if rule == *line {
            return (parent, false);
        }
        if let Some(e) = self
            .extra
            .iter_mut()
            .find(|e| e.parent == parent && e.rule == rule)
        {
            e.users += 1;
            return (e.id, false);
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(FIRST_NARROWED_ID);
        self.extra.push(Narrowed {
            id,
            parent,
            rule,
            users: 1,
        });
        (id, true)
    }

    /// New configured lines (a reload): narrowed lines of selectors still
    /// configured stay, the others go.
    pub fn rebase(&mut self, base: Vec<AclRule>) {
        self.base = base;
        let base = &self.base;
        self.extra
            .retain(|e| base.iter().any(|r| r.selector == e.parent));
    }

    /// A child on data-plane selector `id` is gone; true when its line went
    /// with it (the rules changed).
    pub fn release(&mut self, id: u32) -> bool {
        let Some(pos) = self.extra.iter().position(|e| e.id == id) else {
            return false;
        };
        self.extra[pos].users -= 1;
        if self.extra[pos].users == 0 {
            self.extra.remove(pos);
            return true;
        }
        false
    }

    /// Every line in first-match order: narrowed lines just before the
    /// first permit line of their parent.
    pub fn rules(&self) -> Vec<AclRule> {
        let mut out = Vec::with_capacity(self.base.len() + self.extra.len());
        // A set: a hub's ACLs run to 10,000 lines.
        let mut placed = std::collections::HashSet::new();
        for r in &self.base {
            if r.action == AclAction::Permit && placed.insert(r.selector) {
                for e in self.extra.iter().filter(|e| e.parent == r.selector) {
                    out.push(AclRule {
                        selector: e.id,
                        ..e.rule.clone()
                    });
                }
            }
            out.push(r.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::acl::first_match;

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn acl() -> NarrowedAcl {
        NarrowedAcl::new(vec![
            AclRule::deny_ip((a("198.51.100.0"), 24), (a("203.0.113.99"), 32)),
            AclRule::permit_ip(0, (a("198.51.100.0"), 24), (a("203.0.113.0"), 24)),
        ])
    }

    fn whole() -> Negotiated {
        Negotiated {
            local: (a("198.51.100.0"), 24),
            remote: (a("203.0.113.0"), 24),
            proto: 0,
            local_port: 0,
            remote_port: 0,
        }
    }

    /// Which selector a packet of (src, dst, proto, dport) gets.
    fn lookup(rules: &[AclRule], src: &str, dst: &str, proto: u8, dport: u16) -> Option<u32> {
        first_match(rules, a(src), a(dst), proto, Some((1024, dport)))
            .filter(|(_, r)| r.action == AclAction::Permit)
            .map(|(_, r)| r.selector)
    }

    #[test]
    fn the_whole_line_needs_no_line_of_its_own() {
        let mut n = acl();
        assert_eq!(n.acquire(0, whole()), (0, false));
        assert_eq!(n.rules().len(), 2);
    }

    /// Before, a narrowed child was installed for the whole line: traffic
    /// outside what was negotiated went into an SA the peer drops.
    #[test]
    fn a_narrowed_child_carries_only_what_was_negotiated() {
        let mut n = acl();
        let narrow = Negotiated {
            remote: (a("203.0.113.0"), 25),
            proto: 6,
            remote_port: 443,
            ..whole()
        };
        let (id, changed) = n.acquire(0, narrow);
        assert!(changed && id >= FIRST_NARROWED_ID);
        let rules = n.rules();
        assert_eq!(
            lookup(&rules, "198.51.100.5", "203.0.113.10", 6, 443),
            Some(id)
        );
        // Another port, protocol or the other half: the parent line.
        assert_eq!(
            lookup(&rules, "198.51.100.5", "203.0.113.10", 6, 80),
            Some(0)
        );
        assert_eq!(
            lookup(&rules, "198.51.100.5", "203.0.113.10", 17, 443),
            Some(0)
        );
        assert_eq!(
            lookup(&rules, "198.51.100.5", "203.0.113.200", 6, 443),
            Some(0)
        );
        // The deny line before it still wins.
        assert_eq!(lookup(&rules, "198.51.100.5", "203.0.113.99", 6, 443), None);
        // A rekey shares the line; it goes with the last child.
        assert_eq!(n.acquire(0, narrow), (id, false));
        assert!(!n.release(id));
        assert!(n.release(id));
        assert_eq!(n.rules().len(), 2);
    }
}
