//! Traffic selectors as an ASA does them: one CHILD SA per crypto-map ACL
//! line. As responder a proposal equal to or narrower than a line is
//! accepted and exactly what was agreed is installed (RFC 7296 2.9); as
//! initiator the responder may narrow ours the same way.

use crate::config::Ipv4Net;
use crate::ike::config::Selector;
use crate::ike::wire::v2::{TrafficSelectorV2, TsV2};

/// A whole network, any protocol and port.
pub fn from_net(net: Ipv4Net) -> TrafficSelectorV2 {
    TrafficSelectorV2 {
        ip_proto: 0,
        start_port: 0,
        end_port: 65535,
        start: net.addr(),
        end: net.last(),
    }
}

pub fn one(ts: TrafficSelectorV2) -> TsV2 {
    TsV2 {
        selectors: vec![ts],
        skipped: 0,
    }
}

/// `inner` lies within `outer` (addresses, ports and protocol).
pub fn within(inner: &TrafficSelectorV2, outer: &TrafficSelectorV2) -> bool {
    u32::from(inner.start) >= u32::from(outer.start)
        && u32::from(inner.end) <= u32::from(outer.end)
        && u32::from(inner.start) <= u32::from(inner.end)
        && inner.start_port >= outer.start_port
        && inner.end_port <= outer.end_port
        && inner.start_port <= inner.end_port
        && (outer.ip_proto == 0 || inner.ip_proto == outer.ip_proto)
}

/// The network a selector's address range is, if it is one (the ESP
/// engine's classifier works on prefixes).
pub fn as_net(ts: &TrafficSelectorV2) -> Option<Ipv4Net> {
    let start = u32::from(ts.start);
    let end = u32::from(ts.end);
    if end < start {
        return None;
    }
    let size = (end - start) as u64 + 1;
    if !size.is_power_of_two() || !(start as u64).is_multiple_of(size) {
        return None;
    }
    let prefix = 32 - size.trailing_zeros() as u8;
    Ipv4Net::new(ts.start, prefix)
}

/// The one port a selector names, 0 for any; None for other ranges (not
/// representable on the ESP engine).
pub fn as_port(ts: &TrafficSelectorV2) -> Option<u16> {
    match (ts.start_port, ts.end_port) {
        (0, 65535) => Some(0),
        (a, b) if a == b => Some(a),
        _ => None,
    }
}

/// `A/0 - B/65535`, as `show crypto ikev2 sa` prints a selector.
pub fn asa_text(ts: &TrafficSelectorV2) -> String {
    format!(
        "{}/{} - {}/{}",
        ts.start, ts.start_port, ts.end, ts.end_port
    )
}

pub fn list_text(ts: &TsV2) -> String {
    if ts.selectors.is_empty() {
        return "none".into();
    }
    ts.selectors
        .iter()
        .map(asa_text)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a responder agreed for one child: (line, peer's side = TSi,
/// our side = TSr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    pub selector: u32,
    pub remote: TrafficSelectorV2,
    pub local: TrafficSelectorV2,
}

fn representable(ts: &TrafficSelectorV2) -> bool {
    as_net(ts).is_some() && as_port(ts).is_some()
}

/// Responder: the first pair (TSi x TSr, in the peer's order) equal to or
/// narrower than one of `lines` (TSi is the initiator's side: our
/// remote). Lines in `only` (a rekey keeps its line) when given.
pub fn choose(lines: &[Selector], tsi: &TsV2, tsr: &TsV2, only: Option<u32>) -> Option<Agreed> {
    for i in &tsi.selectors {
        for r in &tsr.selectors {
            if !representable(i) || !representable(r) {
                continue;
            }
            for line in lines.iter().filter(|l| only.is_none_or(|o| o == l.id)) {
                if within(i, &from_net(line.remote)) && within(r, &from_net(line.local)) {
                    return Some(Agreed {
                        selector: line.id,
                        remote: *i,
                        local: *r,
                    });
                }
            }
        }
    }
    None
}

/// Initiator: the responder's answer must be within what we proposed.
pub fn accept(
    ours_local: &TrafficSelectorV2,
    ours_remote: &TrafficSelectorV2,
    tsi: &TsV2,
    tsr: &TsV2,
) -> Option<(TrafficSelectorV2, TrafficSelectorV2)> {
    let i = tsi
        .selectors
        .iter()
        .find(|t| within(t, ours_local) && representable(t))?;
    let r = tsr
        .selectors
        .iter()
        .find(|t| within(t, ours_remote) && representable(t))?;
    Some((*i, *r))
}

/// Lines of a peer in words, for TS_UNACCEPTABLE diagnosis.
pub fn lines_text(lines: &[Selector]) -> String {
    lines
        .iter()
        .map(|l| format!("{} {} -> {}", l.acl, l.local, l.remote))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn host(a: Ipv4Addr) -> TrafficSelectorV2 {
        TrafficSelectorV2 {
            ip_proto: 0,
            start_port: 0,
            end_port: 65535,
            start: a,
            end: a,
        }
    }

    fn net(s: &str) -> Ipv4Net {
        let (a, p) = s.split_once('/').unwrap();
        Ipv4Net::new(a.parse().unwrap(), p.parse().unwrap()).unwrap()
    }

    fn line(id: u32, local: &str, remote: &str) -> Selector {
        Selector {
            id,
            acl: "L2L".into(),
            local: net(local),
            remote: net(remote),
        }
    }

    #[test]
    fn responder_accepts_equal_or_narrower_and_refuses_wider() {
        let lines = [
            line(1, "203.0.113.0/24", "198.51.100.0/24"),
            line(2, "203.0.113.0/24", "192.0.2.128/25"),
        ];
        let eq = choose(
            &lines,
            &one(from_net(net("198.51.100.0/24"))),
            &one(from_net(net("203.0.113.0/24"))),
            None,
        )
        .unwrap();
        assert_eq!(eq.selector, 1);
        let narrow = choose(
            &lines,
            &one(host("198.51.100.10".parse().unwrap())),
            &one(from_net(net("203.0.113.0/25"))),
            None,
        )
        .unwrap();
        assert_eq!(narrow.selector, 1);
        assert_eq!(as_net(&narrow.remote), Some(net("198.51.100.10/32")));
        assert_eq!(as_net(&narrow.local), Some(net("203.0.113.0/25")));
        let second = choose(
            &lines,
            &one(from_net(net("192.0.2.128/25"))),
            &one(from_net(net("203.0.113.0/24"))),
            None,
        )
        .unwrap();
        assert_eq!(second.selector, 2);
        assert!(
            choose(
                &lines,
                &one(from_net(net("198.51.100.0/23"))),
                &one(from_net(net("203.0.113.0/24"))),
                None
            )
            .is_none()
        );
        assert!(
            choose(
                &lines,
                &one(from_net(net("198.51.100.0/24"))),
                &one(from_net(net("203.0.113.0/24"))),
                Some(2)
            )
            .is_none()
        );
    }

    #[test]
    fn ranges_that_are_not_prefixes_are_not_installed() {
        let odd = TrafficSelectorV2 {
            ip_proto: 0,
            start_port: 0,
            end_port: 65535,
            start: "198.51.100.1".parse().unwrap(),
            end: "198.51.100.6".parse().unwrap(),
        };
        assert!(as_net(&odd).is_none());
        let ports = TrafficSelectorV2 {
            start_port: 1000,
            end_port: 2000,
            ..from_net(net("198.51.100.0/24"))
        };
        assert!(as_port(&ports).is_none());
        assert_eq!(
            asa_text(&from_net(net("198.51.100.0/24"))),
            "198.51.100.0/0 - 198.51.100.255/65535"
        );
    }
}
