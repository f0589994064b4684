//! Damaged, truncated and random datagrams never panic the engine, in
//! every phase-1 state, and leave established SAs working.

use std::net::{Ipv4Addr, SocketAddrV4};

use harness::engine_config::*;
use harness::engine_pair::*;
use harness::rng::Rng;
use ipsecgw::ike::v1::FailureReason;
use std::time::Duration;

fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    match rng.below(4) {
        0 => {
            let n = rng.index(d.len());
            d.truncate(n);
        }
        1 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.index(d.len());
                d[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            // corrupt a length field of the header or of a payload
            let i = [24, 25, 26, 27, 30, 31, 34, 35][rng.index(8)].min(d.len().saturating_sub(1));
            d[i] = rng.next() as u8;
        }
        _ => {
            let extra = rng.index(64);
            d.extend((0..extra).map(|_| rng.next() as u8));
        }
    }
    d
}

#[test]
fn mutated_exchange_messages_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for upto in 0..9 {
        // a fresh exchange that stops before message `upto`
        let mut p = Pair::new(west_peer(), east_peer());
        p.hook = Box::new(move |i, _| {
            if i < upto {
                Action::Deliver
            } else {
                Action::Drop
            }
        });
        p.initiate_west();
        let m = p.sent[upto].clone();
        for _ in 0..300 {
            let bad = mutate(&mut rng, &m.data);
            let now = p.now;
            let outs = match m.to_side {
                Side::West => p.west.handle_datagram(now, m.from, m.to, &bad),
                Side::East => p.east.handle_datagram(now, m.from, m.to, &bad),
            };
            p.absorb(m.to_side, outs);
        }
        if upto >= 4 {
            // encrypted messages are authenticated: the junk changed
            // nothing, and the genuine message still completes the exchange
            p.hook = Box::new(|_, _| Action::Deliver);
            p.queue.push(m);
            p.run();
            p.assert_mirrored();
        }
    }
    // random junk at a live SA pair does not disturb it
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    for _ in 0..2000 {
        let len = rng.index(200);
        let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let m = &p.sent[rng.index(p.sent.len())].clone();
        let mut d = m.data.clone();
        // keep the cookies so the junk reaches the SA
        d.truncate(28.min(d.len()));
        d.extend(junk);
        let now = p.now;
        let _ = p.east.handle_datagram(now, m.from, m.to, &d);
        let _ = p.west.handle_datagram(now, m.to, m.from, &d);
    }
    assert_eq!(p.west.child_count(), 1);
    assert_eq!(p.east.child_count(), 1);
    assert!(
        p.west
            .isakmp_sas(p.now)
            .iter()
            .all(|s| s.state == "MM_ACTIVE")
    );
}

/// A captured QM1 replayed after its exchange finished must not commit a
/// second SA: the responder commits at QM2, so a replay would install an
/// SA pair with the peer's SPI but new keys, and the data plane would move
/// the selector's outbound traffic onto it (black hole).
#[test]
fn replayed_quick_mode_message_1_creates_no_sa() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    let (_, _) = p.assert_mirrored();
    let ups_before = p.ups(Side::East).len();
    let qm1 = p
        .sent
        .iter()
        .find(|s| s.to_side == Side::East && s.data.get(18) == Some(&32))
        .cloned()
        .expect("west sent a quick mode message 1");
    for _ in 0..3 {
        let outs = p.east.handle_datagram(p.now, qm1.from, qm1.to, &qm1.data);
        assert!(
            !outs
                .iter()
                .any(|o| matches!(o, ipsecgw::ike::v1::Output::ChildSaUp(_))),
            "replayed QM1 committed an SA"
        );
        p.absorb(Side::East, outs);
        p.run();
    }
    assert_eq!(p.ups(Side::East).len(), ups_before);
    assert_eq!(p.east.child_count(), 1);
}

/// A datagram on 4500 from a new port that does not authenticate (here a
/// replayed QM1 and a forged body under the SA's cookies) must not move
/// the IKE SA's peer address: its next message still goes to port 500.
#[test]
fn unauthenticated_datagram_does_not_float_the_sa() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    p.assert_mirrored();
    let qm1 = p
        .sent
        .iter()
        .find(|s| s.to_side == Side::East && s.data.get(18) == Some(&32))
        .cloned()
        .expect("west sent a quick mode message 1");
    let attacker = std::net::SocketAddrV4::new(*qm1.from.ip(), 5501);
    let natt = std::net::SocketAddrV4::new(*qm1.to.ip(), 4500);
    let mut forged = qm1.data.clone();
    let n = forged.len();
    forged[n - 8..].fill(0xa5);
    for d in [&qm1.data, &forged] {
        let outs = p.east.handle_datagram(p.now, attacker, natt, d);
        assert!(
            outs.iter().all(
                |o| !matches!(o, ipsecgw::ike::v1::Output::Send { to, .. } if *to == attacker)
            ),
            "answered the attacker's port"
        );
    }
    let outs = p.east.delete_ipsec(p.now, None);
    let sends: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            ipsecgw::ike::v1::Output::Send { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert!(!sends.is_empty());
    assert!(sends.iter().all(|to| to.port() == 500), "{sends:?}");
}

/// A peer that went silent (crashed and restarted: it drops our ESP as an
/// unknown SPI) is declared dead by DPD even while we keep sending:
/// outbound traffic marks the SA as used but is no proof of life.
#[test]
fn outbound_traffic_alone_does_not_keep_a_dead_peer_alive() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    let (w, _) = p.assert_mirrored();
    p.hook = Box::new(|_, pk| {
        if pk.to_side == Side::West {
            Action::Drop
        } else {
            Action::Deliver
        }
    });
    // West sends ESP every second; nothing comes back.
    for _ in 0..40 {
        p.west.note_child_traffic(p.now, w.inbound_spi);
        p.advance(std::time::Duration::from_secs(1));
    }
    let f = p.failures(Side::West);
    assert!(
        f.iter()
            .any(|f| matches!(f, ipsecgw::ike::v1::FailureReason::PeerDead(_))),
        "{f:?}"
    );
    assert_eq!(p.west.child_count(), 0);
}

/// Inbound ESP is proof of life: no DPD question is asked while it flows.
#[test]
fn inbound_traffic_keeps_the_peer_alive_without_dpd() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    let (w, _) = p.assert_mirrored();
    let before = p.sent.len();
    for _ in 0..40 {
        p.west.note_child_inbound(p.now, w.inbound_spi);
        p.east.note_child_inbound(p.now, w.outbound_spi);
        p.advance(std::time::Duration::from_secs(1));
    }
    assert!(p.failures(Side::West).is_empty());
    assert_eq!(p.sent.len(), before, "no R-U-THERE while ESP arrives");
    assert_eq!(p.west.child_count(), 1);
}

/// A first message from an address that is no configured peer costs a
/// counter and nothing else: no answer, no failure event (the daemon logs
/// those), no SA; the configured peer is unaffected.
#[test]
fn first_messages_from_unconfigured_sources_only_count() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.hook = Box::new(|_, _| Action::Drop);
    p.initiate_west();
    let mm1 = p.sent[0].clone();
    p.hook = Box::new(|_, _| Action::Deliver);
    for i in 0..1000u32 {
        let forged = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 1)) + i);
        let mut d = mm1.data.clone();
        d[..4].copy_from_slice(&i.to_be_bytes());
        let outs = p
            .east
            .handle_datagram(p.now, SocketAddrV4::new(forged, 500), mm1.to, &d);
        assert!(outs.is_empty(), "forged source {forged} got {outs:?}");
    }
    assert_eq!(p.east.stats().unconfigured_first_msgs, 1000);
    assert!(p.east.isakmp_sas(p.now).is_empty());
    assert_eq!(p.east.peer_status().len(), 1);
    p.west = ipsecgw::ike::Engine::new(ipsecgw::ike::v1::LocalConfig::new(WEST));
    p.west.set_peers(vec![west_peer()]);
    p.initiate_west();
    p.assert_mirrored();
}

/// The SA's cookies are cleartext: anyone on the path can aim encrypted
/// garbage at it. Such datagrams do not decrypt and authenticate, so they
/// are no proof of life: DPD still declares the silent peer dead, and the
/// next negotiation ends on the backup peer.
#[test]
fn garbage_under_the_cookies_does_not_keep_a_dead_peer_alive() {
    let backup = Ipv4Addr::new(192, 0, 2, 9);
    let mut w = west_peer();
    w.addresses = vec![EAST, backup];
    let mut p = Pair::new(w, east_peer());
    p.initiate_west();
    p.assert_mirrored();
    let mm = p
        .sent
        .iter()
        .find(|s| s.to_side == Side::West && s.data.get(18) == Some(&2))
        .cloned()
        .expect("east sent a main mode message");
    // East goes silent; a spoofer sends garbage under the SA's cookies
    // from east's address, every 500 ms, as quick mode and informational.
    p.hook = Box::new(|_, pk| {
        if pk.to_side == Side::West {
            Action::Drop
        } else {
            Action::Deliver
        }
    });
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut garbage = |exchange: u8| {
        let mut d = mm.data[..16].to_vec();
        d.extend_from_slice(&[8, 0x10, exchange, 1]);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        d.extend_from_slice(&((x as u32) | 1).to_be_bytes());
        d.extend_from_slice(&(28u32 + 64).to_be_bytes());
        d.extend((0..64).map(|i| (x >> (i % 8 * 8)) as u8));
        d
    };
    let mut dead_at = None;
    for step in 0..120 {
        for exchange in [32u8, 5] {
            let d = garbage(exchange);
            let outs = p.west.handle_datagram(p.now, mm.from, mm.to, &d);
            p.absorb(Side::West, outs);
        }
        p.advance(Duration::from_millis(500));
        if dead_at.is_none()
            && p.failures(Side::West)
                .iter()
                .any(|f| matches!(f, FailureReason::PeerDead(_)))
        {
            dead_at = Some(step);
            break;
        }
    }
    assert!(
        dead_at.is_some(),
        "garbage kept the dead peer alive: {:?}",
        p.failures(Side::West)
    );
    assert_eq!(p.west.child_count(), 0);
    // The daemon's next punt asks for the primary again; it stays silent,
    // so the backup is tried.
    let outs = p.west.initiate(p.now, EAST, 1);
    p.absorb(Side::West, outs);
    p.run();
    p.advance(Duration::from_secs(70));
    assert!(
        p.sent.iter().any(|s| *s.to.ip() == backup),
        "the backup peer was never tried: {:?}",
        p.failures(Side::West)
    );
}

/// A captured DPD R-U-THERE (an authenticated informational) replayed
/// later is recognised by its message id: no answer, and it is no proof
/// of life either.
#[test]
fn replayed_informational_is_ignored() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    p.assert_mirrored();
    // Only west asks (east's DPD answers but never needs to ask first).
    let before = p.sent.len();
    p.advance(Duration::from_secs(12));
    let info = p.sent[before..]
        .iter()
        .find(|s| s.to_side == Side::East && s.data.get(18) == Some(&5))
        .cloned()
        .expect("west sent a DPD R-U-THERE");
    for _ in 0..3 {
        let outs = p
            .east
            .handle_datagram(p.now, info.from, info.to, &info.data);
        assert!(
            outs.is_empty(),
            "a replayed R-U-THERE was answered: {outs:?}"
        );
    }
    assert!(p.east.stats().replayed_drops >= 3);
    assert_eq!(p.east.child_count(), 1);
}

/// The quick-mode replay memory lasts as long as the phase 1: a QM1
/// captured more than 1,024 quick modes ago (the old memory's size) is
/// still recognised and commits no SA.
#[test]
fn quick_mode_ids_are_remembered_for_the_whole_phase_1() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    p.assert_mirrored();
    let qm1 = p
        .sent
        .iter()
        .find(|s| s.to_side == Side::East && s.data.get(18) == Some(&32))
        .cloned()
        .expect("west sent a quick mode message 1");
    for _ in 0..1100 {
        let outs = p.west.delete_ipsec(p.now, None);
        p.absorb(Side::West, outs);
        p.run();
        let outs = p.west.initiate(p.now, EAST, 1);
        p.absorb(Side::West, outs);
        p.run();
        p.sent.clear();
    }
    assert_eq!(p.east.child_count(), 1);
    assert_eq!(p.east.isakmp_sas(p.now).len(), 1, "still the first phase 1");
    let ups = p.ups(Side::East).len();
    let outs = p.east.handle_datagram(p.now, qm1.from, qm1.to, &qm1.data);
    assert!(
        !outs
            .iter()
            .any(|o| matches!(o, ipsecgw::ike::v1::Output::ChildSaUp(_))),
        "an old QM1 replayed committed an SA"
    );
    assert_eq!(p.ups(Side::East).len(), ups);
    assert_eq!(p.east.child_count(), 1);
}
