//! Replayed protected informationals (issue 10, item 5), driven from
//! inside the crate: the test needs an authentic INITIAL-CONTACT
//! informational, which only an engine with the phase-1 keys can make,
//! and no production API sends one on its own.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use super::config::{IsakmpPolicy, LocalConfig, PeerConfig, Selector};
use super::engine::{Engine, Output};
use super::message::nt;
use super::sa::State;
use crate::algo::{DhGroup, EspCipher, EspInteg, EspTransform, IkeAuth, IkeEncryption, IkeHash};

const WEST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const EAST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn peer(remote: Ipv4Addr, local: &str, far: &str) -> PeerConfig {
    let mut p = PeerConfig::new("OUTSIDE_MAP 10", remote, b"replay-test-psk");
    p.policies = vec![IsakmpPolicy {
        priority: 10,
        encryption: IkeEncryption::Aes128,
        hash: IkeHash::Sha1,
        auth: IkeAuth::PreShare,
        group: DhGroup::Modp1024,
        lifetime_s: 86400,
    }];
    p.transforms = vec![EspTransform {
        cipher: EspCipher::Aes128Cbc,
        integ: EspInteg::HmacSha1_96,
    }];
    let net = |s: &str, h: u8| {
        let a: Ipv4Addr = s.parse().unwrap();
        let o = a.octets();
        crate::config::Ipv4Net::new(Ipv4Addr::new(o[0], o[1], o[2], h), 32).unwrap()
    };
    p.selectors = (1..=3)
        .map(|id| Selector {
            id,
            acl: format!("L{id}"),
            local: net(local, id as u8),
            remote: net(far, id as u8),
        })
        .collect();
    p
}

fn engine(local: Ipv4Addr, cfg: PeerConfig) -> Engine {
    let mut e = Engine::new(LocalConfig::new(local));
    e.set_peers(vec![cfg]);
    e
}

fn west_engine() -> Engine {
    engine(WEST, peer(EAST, "198.51.100.0", "203.0.113.0"))
}

/// Delivers datagrams between `w` and `e` until none is left; returns
/// east's other outputs.
fn run(now: Instant, w: &mut Engine, e: &mut Engine, first: Vec<Output>) -> Vec<Output> {
    let mut queue: Vec<(bool, Output)> = first.into_iter().map(|o| (false, o)).collect();
    let mut east_events = Vec::new();
    for _ in 0..200 {
        let Some((from_east, o)) = queue.pop() else {
            return east_events;
        };
        match o {
            Output::Send { from, to, data } => {
                let (outs, to_east) = if from_east {
                    (w.handle_datagram(now, from, to, &data), false)
                } else {
                    (e.handle_datagram(now, from, to, &data), true)
                };
                queue.extend(outs.into_iter().map(|o| (to_east, o)));
            }
            other if from_east => east_events.push(other),
            _ => {}
        }
    }
    panic!("did not settle");
}

/// West's protected informational carrying INITIAL-CONTACT on its newest
/// active IKE SA, as the datagram east would receive.
fn initial_contact_info(now: Instant, w: &Engine) -> (SocketAddrV4, SocketAddrV4, Vec<u8>) {
    let sa = w
        .sas
        .values()
        .filter(|s| s.peer == EAST && s.state == State::MmActive)
        .max_by_key(|s| s.id)
        .expect("an active IKE SA");
    let mut out = Vec::new();
    w.send_notify(now, sa, 1, nt::INITIAL_CONTACT, sa.spi_bytes(), &mut out);
    match out.pop() {
        Some(Output::Send { from, to, data }) => (from, to, data),
        other => panic!("no informational: {other:?}"),
    }
}

fn downs(events: &[Output]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|o| match o {
            Output::ChildSaDown { inbound_spi, .. } => Some(*inbound_spi),
            _ => None,
        })
        .collect()
}

/// INITIAL-CONTACT drops only what is older than the IKE SA that carried
/// it, once; replayed later, after new child SAs came up, it changes
/// nothing.
#[test]
fn replayed_initial_contact_drops_nothing_new() {
    let now = Instant::now();
    let mut e = engine(EAST, peer(WEST, "203.0.113.0", "198.51.100.0"));
    // IKE SA A with child 1.
    let mut w1 = west_engine();
    let o = w1.initiate(now, EAST, 1);
    run(now, &mut w1, &mut e, o);
    assert_eq!(e.child_count(), 1);
    let old_child = e.children[0].inbound_spi;
    // West comes back without INITIAL-CONTACT in phase 1 (as if it had
    // contacted us before): IKE SA B, and child 2 under it.
    let mut w2 = west_engine();
    w2.runtime.entry(EAST).or_default().contacted = true;
    let o = w2.initiate(now, EAST, 2);
    run(now, &mut w2, &mut e, o);
    assert_eq!(e.child_count(), 2);
    assert_eq!(e.isakmp_sas(now).len(), 2);
    let b_child = e.children[1].inbound_spi;
    // INITIAL-CONTACT on B: A and child 1 go, child 2 (B's own) stays.
    let (from, to, ic) = initial_contact_info(now, &w2);
    let ev = e.handle_datagram(now, from, to, &ic);
    assert_eq!(downs(&ev), vec![old_child], "{ev:?}");
    assert_eq!(e.isakmp_sas(now).len(), 1);
    assert_eq!(e.child_count(), 1);
    assert_eq!(e.children[0].inbound_spi, b_child);
    // A new child under B, then the captured message again: nothing changes.
    let o = w2.initiate(now, EAST, 3);
    run(now, &mut w2, &mut e, o);
    assert_eq!(e.child_count(), 2);
    for _ in 0..3 {
        let ev = e.handle_datagram(now, from, to, &ic);
        assert!(ev.is_empty(), "replayed INITIAL-CONTACT: {ev:?}");
    }
    assert_eq!(e.child_count(), 2);
    assert_eq!(e.isakmp_sas(now).len(), 1);
    assert!(e.stats().replayed_drops >= 3);
    // A second, fresh INITIAL-CONTACT on the same IKE SA is not acted on
    // either: once per IKE SA.
    let (from, to, ic2) = initial_contact_info(now, &w2);
    let ev = e.handle_datagram(now, from, to, &ic2);
    assert!(downs(&ev).is_empty(), "{ev:?}");
    assert_eq!(e.child_count(), 2);
}
