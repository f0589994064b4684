//! IKEv2 exchanges between two sans-IO engines wired back to back (the
//! shared engine-pair driver): every exchange in both roles, the failure
//! diagnoses, rekeys, liveness, cookies, fragmentation and collisions.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use harness::engine_config::*;
use harness::engine_pair::*;
use ipsecgw::algo::{DhGroup, EspCipher, EspInteg, Ikev2Encryption, Ikev2Integrity, Ikev2Prf};
use ipsecgw::ike::config::{Ikev2Policy, PeerConfig, Selector};
use ipsecgw::ike::{FailureReason, Output};

fn v2_policy(
    enc: Ikev2Encryption,
    integ: Ikev2Integrity,
    prf: &[Ikev2Prf],
    groups: &[DhGroup],
) -> Ikev2Policy {
    Ikev2Policy {
        priority: 10,
        encryption: vec![enc],
        integrity: vec![integ],
        prf: prf.to_vec(),
        groups: groups.to_vec(),
        lifetime_s: 86400,
    }
}

fn v2_peer(remote: Ipv4Addr, local_net: &str, remote_net: &str) -> PeerConfig {
    let mut p = PeerConfig::new("OUTSIDE_MAP 10", remote, PSK);
    p.ikev2_policies = vec![v2_policy(
        Ikev2Encryption::Aes256,
        Ikev2Integrity::Sha256,
        &[Ikev2Prf::Sha256],
        &[DhGroup::Modp2048],
    )];
    p.ikev2_transforms = vec![esp(EspCipher::Aes256Cbc, EspInteg::HmacSha256_128)];
    p.selectors = vec![Selector {
        id: 1,
        acl: "L2L".into(),
        local: net(local_net),
        remote: net(remote_net),
    }];
    p
}

fn west_v2() -> PeerConfig {
    v2_peer(EAST, "198.51.100.0/24", "203.0.113.0/24")
}

fn east_v2() -> PeerConfig {
    v2_peer(WEST, "203.0.113.0/24", "198.51.100.0/24")
}

/// IKEv2 exchange type (byte 18) of a datagram, and its first payload type.
fn exchange_of(p: &Packet) -> (u8, u8) {
    (
        p.data.get(18).copied().unwrap_or(0),
        p.data.get(16).copied().unwrap_or(0),
    )
}

fn init_requests(p: &Pair) -> usize {
    p.sent
        .iter()
        .filter(|s| exchange_of(s).0 == 34 && s.data[19] & 0x20 == 0)
        .count()
}

fn text(f: &FailureReason) -> String {
    f.text().to_string()
}

#[test]
fn aes256_sha256_modp2048_both_sides_ready_and_mirrored() {
    let mut p = Pair::new(west_v2(), east_v2());
    p.initiate_west();
    let (w, _e) = p.assert_mirrored();
    assert_eq!(
        w.transform,
        esp(EspCipher::Aes256Cbc, EspInteg::HmacSha256_128)
    );
    let ws = p.west.ikev2_sas(p.now);
    let es = p.east.ikev2_sas(p.now);
    assert_eq!((ws.len(), es.len()), (1, 1));
    assert_eq!(ws[0].state, "READY");
    assert_eq!(es[0].state, "READY");
    assert_eq!(ws[0].role, ipsecgw::ike::Role::Initiator);
    assert_eq!(es[0].role, ipsecgw::ike::Role::Responder);
    assert_eq!(
        (
            ws[0].encryption.as_str(),
            ws[0].keysize,
            ws[0].integrity.as_str(),
            ws[0].group
        ),
        ("AES-CBC", 256, "SHA256", 14)
    );
    assert_eq!(ws[0].children.len(), 1);
    assert_eq!(
        ws[0].children[0].local_selector,
        "198.51.100.0/0 - 198.51.100.255/65535"
    );
    assert_eq!(
        es[0].children[0].inbound_spi,
        ws[0].children[0].outbound_spi
    );
    // Only IKE_SA_INIT and IKE_AUTH crossed: 2 requests, 2 responses.
    assert_eq!(p.sent.len(), 4);
    assert!(p.west.isakmp_sas(p.now).is_empty(), "no IKEv1 SA");
}

#[test]
fn gcm_with_null_integrity_and_a_separate_prf() {
    let mut w = west_v2();
    let mut e = east_v2();
    for c in [&mut w, &mut e] {
        c.ikev2_policies = vec![v2_policy(
            Ikev2Encryption::Aes256Gcm,
            Ikev2Integrity::Null,
            &[Ikev2Prf::Sha384],
            &[DhGroup::Ecp256],
        )];
        c.ikev2_transforms = vec![esp(EspCipher::Aes256Gcm, EspInteg::None)];
    }
    let mut p = Pair::new(w, e);
    p.initiate_west();
    let (w, _) = p.assert_mirrored();
    assert_eq!(w.inbound_keymat.len(), 36);
    let s = &p.west.ikev2_sas(p.now)[0];
    assert_eq!(
        (
            s.encryption.as_str(),
            s.integrity.as_str(),
            s.prf.as_str(),
            s.group
        ),
        ("AES-GCM", "none", "SHA384", 19)
    );
}

#[test]
fn invalid_ke_payload_is_retried_with_the_group_the_responder_wants() {
    let mut w = west_v2();
    w.ikev2_policies[0].groups = vec![DhGroup::Ecp256, DhGroup::Modp2048];
    let mut e = east_v2();
    e.ikev2_policies[0].groups = vec![DhGroup::Modp2048];
    let mut p = Pair::new(w, e);
    p.initiate_west();
    p.assert_mirrored();
    assert_eq!(
        init_requests(&p),
        2,
        "one refused with INVALID_KE_PAYLOAD, one retried"
    );
    assert_eq!(p.west.ikev2_sas(p.now)[0].group, 14);
}

#[test]
fn invalid_ke_payload_with_a_group_we_do_not_allow_is_explained() {
    let mut w = west_v2();
    w.ikev2_policies[0].groups = vec![DhGroup::Ecp256];
    let mut e = east_v2();
    e.ikev2_policies[0].groups = vec![DhGroup::Modp2048, DhGroup::Ecp256];
    e.ikev2_policies[0].encryption = vec![Ikev2Encryption::Aes128];
    let mut p = Pair::new(w, e);
    p.initiate_west();
    let f = p.failures(Side::West);
    assert!(!f.is_empty());
    assert!(text(f[0]).contains("NO_PROPOSAL_CHOSEN"), "{f:?}");
    let ef = p.failures(Side::East);
    assert!(
        text(ef[0]).contains("AES-CBC-256"),
        "east names what was offered: {ef:?}"
    );
}

#[test]
fn wrong_key_is_refused_and_both_sides_say_why() {
    let mut e = east_v2();
    e.psk = zeroize::Zeroizing::new(b"another-key".to_vec());
    let mut p = Pair::new(west_v2(), e);
    p.initiate_west();
    assert!(p.ups(Side::West).is_empty() && p.ups(Side::East).is_empty());
    let ef = p.failures(Side::East);
    assert!(matches!(ef[0], FailureReason::AuthFailed(_)), "{ef:?}");
    assert!(
        text(ef[0]).contains("pre-shared key mismatch") && text(ef[0]).contains("we rejected it"),
        "{ef:?}"
    );
    let wf = p.failures(Side::West);
    assert!(
        text(wf[0]).contains("pre-shared key mismatch")
            && text(wf[0]).contains("AUTHENTICATION_FAILED"),
        "{wf:?}"
    );
    assert!(p.west.ikev2_sas(p.now).is_empty() && p.east.ikev2_sas(p.now).is_empty());
}

#[test]
fn per_direction_keys() {
    use ipsecgw::ike::config::PeerCredentials;
    let mut w = west_v2();
    w.per_address = vec![(
        EAST,
        PeerCredentials {
            ikev2_local_psk: zeroize::Zeroizing::new(b"west-to-east".to_vec()),
            ikev2_remote_psk: zeroize::Zeroizing::new(b"east-to-west".to_vec()),
            ..Default::default()
        },
    )];
    let mut e = east_v2();
    e.per_address = vec![(
        WEST,
        PeerCredentials {
            ikev2_local_psk: zeroize::Zeroizing::new(b"east-to-west".to_vec()),
            ikev2_remote_psk: zeroize::Zeroizing::new(b"west-to-east".to_vec()),
            ..Default::default()
        },
    )];
    let mut p = Pair::new(w, e);
    p.initiate_west();
    p.assert_mirrored();
}

#[test]
fn traffic_selectors_outside_every_line_get_ts_unacceptable_naming_both() {
    let w = v2_peer(EAST, "198.51.100.0/24", "203.0.113.0/24");
    let e = v2_peer(WEST, "203.0.113.0/25", "198.51.100.0/24");
    let mut p = Pair::new(w, e);
    p.initiate_west();
    assert!(p.ups(Side::West).is_empty());
    let ef = p.failures(Side::East);
    let t = text(ef[0]);
    assert!(
        t.contains("TS_UNACCEPTABLE")
            && t.contains("203.0.113.0/0 - 203.0.113.255/65535")
            && t.contains("203.0.113.0/25"),
        "{t}"
    );
    let wf = p.failures(Side::West);
    assert!(text(wf[0]).contains("TS_UNACCEPTABLE"), "{wf:?}");
    // The IKE SA stays up (RFC 7296 2.21.3).
    assert_eq!(p.west.ikev2_sas(p.now)[0].state, "READY");
}

#[test]
fn responder_installs_a_narrower_proposal_exactly() {
    let w = v2_peer(EAST, "198.51.100.0/25", "203.0.113.0/24");
    let e = east_v2();
    let mut p = Pair::new(w, e);
    p.initiate_west();
    let (wc, ec) = p.assert_mirrored();
    assert_eq!(wc.local_ts, net("198.51.100.0/25"));
    assert_eq!(ec.remote_ts, net("198.51.100.0/25"));
}

#[test]
fn two_acl_lines_two_children_one_ike_sa() {
    let mut w = west_v2();
    let mut e = east_v2();
    w.selectors.push(Selector {
        id: 2,
        acl: "L2L".into(),
        local: net("198.51.100.0/24"),
        remote: net("192.0.2.128/25"),
    });
    e.selectors.push(Selector {
        id: 2,
        acl: "L2L".into(),
        local: net("192.0.2.128/25"),
        remote: net("198.51.100.0/24"),
    });
    let mut p = Pair::new(w, e);
    let a = p.west.initiate(p.now, EAST, 1);
    let b = p.west.initiate(p.now, EAST, 2);
    p.absorb(Side::West, a);
    p.absorb(Side::West, b);
    p.run();
    assert_eq!(p.ups(Side::West).len(), 2);
    assert_eq!(p.ups(Side::East).len(), 2);
    let ws = p.west.ikev2_sas(p.now);
    assert_eq!(ws.len(), 1);
    assert_eq!(ws[0].children.len(), 2);
    assert_eq!(init_requests(&p), 1);
}

#[test]
fn child_rekey_with_pfs_replaces_the_pair_before_the_old_goes() {
    let mut w = west_v2();
    let mut e = east_v2();
    for c in [&mut w, &mut e] {
        c.lifetime_s = 60;
        c.pfs = Some(DhGroup::Ecp256);
    }
    let mut p = Pair::new(w, e);
    p.initiate_west();
    let (old_w, _) = p.assert_mirrored();
    p.west.note_child_traffic(p.now, old_w.inbound_spi);
    p.advance(Duration::from_secs(58));
    let ups = p.ups(Side::West);
    assert_eq!(ups.len(), 2, "a new pair: {:?}", p.failures(Side::West));
    assert_eq!(ups[1].replaces, Some(old_w.inbound_spi));
    assert!(p.downs(Side::West).contains(&old_w.inbound_spi));
    assert!(p.downs(Side::East).contains(&old_w.outbound_spi));
    assert_eq!(p.west.child_count(), 1);
    assert_eq!(p.east.child_count(), 1);
    // The new pair mirrors.
    let (nw, ne) = (p.ups(Side::West)[1].clone(), p.ups(Side::East)[1].clone());
    assert_eq!(nw.inbound_spi, ne.outbound_spi);
    assert_eq!(*nw.inbound_keymat, *ne.outbound_keymat);
    assert_ne!(*nw.inbound_keymat, *old_w.inbound_keymat);
}

/// After a child rekey the old pair carries on a moment before its
/// DELETE: both sides start sending on the new pair only after a short
/// grace (the daemon's), and ESP sent on the old one meanwhile must still
/// find its inbound SA at the peer. Then the rekey's initiator deletes
/// it and both sides are left with the new pair.
#[test]
fn child_rekey_deletes_the_old_pair_only_after_a_moment() {
    let mut p = Pair::new(west_v2(), east_v2());
    p.initiate_west();
    let (old_w, old_e) = p.assert_mirrored();
    p.west.note_child_volume_soft(p.now, old_w.inbound_spi);
    let outs = p.west.on_timer(p.now);
    p.absorb(Side::West, outs);
    p.run();
    assert_eq!(
        p.ups(Side::West).len(),
        2,
        "rekeyed: {:?}",
        p.failures(Side::West)
    );
    assert_eq!(p.ups(Side::East).len(), 2);
    assert!(
        p.downs(Side::West).is_empty(),
        "the old pair is still there"
    );
    assert!(p.downs(Side::East).is_empty(), "no DELETE yet");
    assert_eq!((p.west.child_count(), p.east.child_count()), (2, 2));
    p.advance(Duration::from_millis(500));
    assert!(
        p.downs(Side::East).is_empty(),
        "still there half a second later"
    );
    p.advance(Duration::from_secs(3));
    assert_eq!(p.downs(Side::West), [old_w.inbound_spi]);
    assert_eq!(p.downs(Side::East), [old_e.inbound_spi]);
    assert_eq!((p.west.child_count(), p.east.child_count()), (1, 1));
    let (w, e) = (&p.west.ikev2_sas(p.now)[0], &p.east.ikev2_sas(p.now)[0]);
    assert_eq!(w.children[0].inbound_spi, e.children[0].outbound_spi);
    assert_eq!(
        w.children[0].inbound_spi,
        p.ups(Side::West)[1].inbound_spi,
        "the new pair stays"
    );
}

#[test]
fn ike_sa_rekey_moves_the_children() {
    let mut w = west_v2();
    let mut e = east_v2();
    w.ikev2_policies[0].lifetime_s = 120;
    e.ikev2_policies[0].lifetime_s = 120;
    let mut p = Pair::new(w, e);
    p.initiate_west();
    let (wc, _) = p.assert_mirrored();
    let before = p.west.ikev2_sas(p.now)[0].session_id;
    p.advance(Duration::from_secs(118));
    let ws = p.west.ikev2_sas(p.now);
    let es = p.east.ikev2_sas(p.now);
    assert_eq!(ws.len(), 1, "{ws:?}");
    assert_eq!(es.len(), 1, "{es:?}");
    assert_ne!(ws[0].session_id, before);
    assert_eq!(ws[0].children.len(), 1);
    assert_eq!(
        ws[0].children[0].inbound_spi, wc.inbound_spi,
        "the child moved, not replaced"
    );
    assert!(p.downs(Side::West).is_empty() && p.downs(Side::East).is_empty());
    // The rekeyed SA still carries exchanges: a new child under it.
    let outs = p.west.delete_ipsec(p.now, None);
    p.absorb(Side::West, outs);
    p.run();
    let outs = p.west.initiate(p.now, EAST, 1);
    p.absorb(Side::West, outs);
    p.run();
    assert_eq!(p.west.child_count(), 1);
    assert_eq!(p.east.child_count(), 1);
}

/// The testing aid `LocalConfig::ikev2_sa_lifetime_s` (`run
/// --ikev2-lifetime-s`) replaces the policy's lifetime: an IKE SA with a
/// day in its policy is rekeyed after 10 s, its child moved, and shows
/// the 10 s lifetime.
#[test]
fn ikev2_lifetime_testing_aid_overrides_the_policy() {
    let mut p = Pair::new(west_v2(), east_v2());
    let mut local = ipsecgw::ike::config::LocalConfig::new(WEST);
    local.ikev2_sa_lifetime_s = Some(10);
    p.west = ipsecgw::ike::Engine::new(local);
    p.west.set_peers(vec![west_v2()]);
    p.initiate_west();
    let (wc, _) = p.assert_mirrored();
    let before = p.west.ikev2_sas(p.now)[0].clone();
    assert_eq!(before.lifetime_s, 10);
    assert_eq!(
        p.east.ikev2_sas(p.now)[0].lifetime_s,
        86400,
        "east has no such aid"
    );
    p.advance(Duration::from_secs(10));
    let ws = p.west.ikev2_sas(p.now);
    assert_eq!(ws.len(), 1, "{ws:?}");
    assert_ne!(ws[0].local_spi, before.local_spi, "rekeyed: {ws:?}");
    assert_eq!(
        ws[0].children[0].inbound_spi, wc.inbound_spi,
        "the child moved"
    );
    assert_eq!(p.east.ikev2_sas(p.now).len(), 1);
}

/// Both sides start rekeying the IKE SA at the same moment: each answers
/// the other's request as usual (RFC 7296 2.25.2), and the nonce rule
/// (2.8.2) keeps one of the two new SAs on both sides, with the child
/// moved to it. Before, each refused the other with TEMPORARY_FAILURE,
/// both retried 5 s later at the same moment again, and the SA expired
/// with its children.
#[test]
fn simultaneous_ike_sa_rekeys_leave_one_ike_sa_with_the_child() {
    simultaneous_ike_sa_rekeys(false);
}

/// The same when west's rekey request is lost: east's rekey completes
/// as a plain one and west's retransmission finds the old SA gone.
#[test]
fn simultaneous_ike_sa_rekeys_with_one_request_lost() {
    simultaneous_ike_sa_rekeys(true);
}

fn simultaneous_ike_sa_rekeys(lose_wests: bool) {
    let mut w = west_v2();
    let mut e = east_v2();
    w.ikev2_policies[0].lifetime_s = 100;
    e.ikev2_policies[0].lifetime_s = 100;
    let mut p = Pair::new(w, e);
    p.initiate_west();
    let (wc, ec) = p.assert_mirrored();
    let first = p.west.ikev2_sas(p.now)[0].local_spi.clone();
    if lose_wests {
        let mut dropped = false;
        p.hook = Box::new(move |_, pk| {
            if !dropped && pk.to_side == Side::East && exchange_of(pk).0 == 36 {
                dropped = true;
                Action::Drop
            } else {
                Action::Deliver
            }
        });
    }
    // Past both sides' rekey time (85-90% and 90-95%): both fire at once.
    p.now += Duration::from_secs(96);
    let a = p.west.on_timer(p.now);
    let b = p.east.on_timer(p.now);
    p.absorb(Side::West, a);
    p.absorb(Side::East, b);
    p.run();
    p.advance(Duration::from_secs(3));
    let (ws, es) = (p.west.ikev2_sas(p.now), p.east.ikev2_sas(p.now));
    assert_eq!(ws.len(), 1, "west {ws:?}");
    assert_eq!(es.len(), 1, "east {es:?}");
    let (w, e) = (&ws[0], &es[0]);
    assert_ne!(w.local_spi, first, "rekeyed");
    assert_eq!(w.state, "READY");
    assert_eq!(
        (&w.local_spi, &w.remote_spi),
        (&e.remote_spi, &e.local_spi),
        "west {w:?}\neast {e:?}"
    );
    assert_eq!(
        w.children.len(),
        1,
        "the child moved to the survivor: {w:?}"
    );
    assert_eq!(e.children.len(), 1, "{e:?}");
    assert_eq!(w.children[0].inbound_spi, wc.inbound_spi, "the same child");
    assert_eq!(e.children[0].inbound_spi, ec.inbound_spi);
    assert!(
        p.downs(Side::West).is_empty() && p.downs(Side::East).is_empty(),
        "no child went down"
    );
    // Past the old SA's lifetime: nothing expires, the survivor goes on.
    p.advance(Duration::from_secs(10));
    assert_eq!(p.west.ikev2_sas(p.now).len(), 1);
    assert_eq!(p.west.child_count(), 1);
    assert_eq!(p.east.child_count(), 1);
}

#[test]
fn unanswered_liveness_checks_declare_the_peer_dead() {
    let mut p = Pair::new(west_v2(), east_v2());
    p.initiate_west();
    p.assert_mirrored();
    p.hook = Box::new(|_, pk| {
        if pk.to_side == Side::West {
            Action::Drop
        } else {
            Action::Deliver
        }
    });
    p.advance(Duration::from_secs(200));
    let f = p.failures(Side::West);
    assert!(
        f.iter().any(|f| matches!(f, FailureReason::PeerDead(_))),
        "{f:?}"
    );
    assert_eq!(p.west.child_count(), 0);
    assert!(p.west.ikev2_sas(p.now).is_empty());
}

#[test]
fn liveness_answers_keep_the_tunnel() {
    let mut p = Pair::new(west_v2(), east_v2());
    p.initiate_west();
    p.assert_mirrored();
    p.advance(Duration::from_secs(120));
    assert_eq!(p.west.child_count(), 1);
    assert!(p.failures(Side::West).is_empty());
    let infos = p.sent.iter().filter(|s| exchange_of(s).0 == 37).count();
    assert!(infos >= 4, "liveness requests and answers crossed: {infos}");
}

#[test]
fn clear_deletes_on_both_sides() {
    let mut p = Pair::new(west_v2(), east_v2());
    p.initiate_west();
    p.assert_mirrored();
    let outs = p.west.delete_ikev2(p.now, None);
    p.absorb(Side::West, outs);
    p.run();
    assert_eq!(p.west.child_count(), 0);
    assert_eq!(p.east.child_count(), 0);
    assert!(p.east.ikev2_sas(p.now).is_empty());
    // And it comes back on the next traffic.
    p.initiate_west();
    assert_eq!(p.west.child_count(), 1);
}

#[test]
fn child_delete_from_the_peer() {
    let mut p = Pair::new(west_v2(), east_v2());
    p.initiate_west();
    let (wc, _) = p.assert_mirrored();
    let outs = p.east.delete_ipsec(p.now, None);
    p.absorb(Side::East, outs);
    p.run();
    assert!(p.downs(Side::West).contains(&wc.inbound_spi));
    assert_eq!(p.west.child_count(), 0);
    assert_eq!(p.west.ikev2_sas(p.now).len(), 1, "the IKE SA stays");
}

#[test]
fn retransmitted_requests_get_the_same_answer_and_no_new_state() {
    let mut p = Pair::new(west_v2(), east_v2());
    p.hook = Box::new(|_, _| Action::Duplicate);
    p.initiate_west();
    p.assert_mirrored();
    assert_eq!(p.east.ikev2_sas(p.now).len(), 1);
}

#[test]
fn lost_messages_are_retransmitted() {
    let mut p = Pair::new(west_v2(), east_v2());
    // Lose the first IKE_SA_INIT response and the first IKE_AUTH request.
    p.hook = Box::new(|i, _| {
        if i == 1 || i == 2 {
            Action::Drop
        } else {
            Action::Deliver
        }
    });
    p.initiate_west();
    p.advance(Duration::from_secs(10));
    p.assert_mirrored();
}

#[test]
fn cookies_when_always_demanded() {
    let mut p = Pair::new(west_v2(), east_v2());
    let mut local = ipsecgw::ike::config::LocalConfig::new(EAST);
    local.ikev2.cookie_challenge_percent = Some(0);
    p.east = ipsecgw::ike::Engine::new(local);
    p.east.set_peers(vec![east_v2()]);
    p.initiate_west();
    p.assert_mirrored();
    assert_eq!(init_requests(&p), 2, "one without, one with the cookie");
    assert_eq!(p.east.v2_stats().cookies_sent, 1);
}

#[test]
fn a_flood_of_forged_init_requests_costs_bounded_state_and_the_real_peer_still_connects() {
    let mut p = Pair::new(west_v2(), east_v2());
    let mut local = ipsecgw::ike::config::LocalConfig::new(EAST);
    local.ikev2.cookie_challenge_percent = Some(50);
    local.ikev2.max_in_negotiation = 100;
    p.east = ipsecgw::ike::Engine::new(local);
    p.east.set_peers(vec![east_v2()]);
    // Capture one real IKE_SA_INIT request and replay it with new SPIs
    // from the peer's own address (the worst case: a spoofed peer).
    let outs = p.west.initiate(p.now, EAST, 1);
    let Output::Send { data, from, to } = outs
        .into_iter()
        .find(|o| matches!(o, Output::Send { .. }))
        .unwrap()
    else {
        unreachable!()
    };
    let mut answered = 0;
    for i in 0..10_000u32 {
        let mut d = data.clone();
        d[..4].copy_from_slice(&i.to_be_bytes());
        d[4] = 0x5a;
        let r = p.east.handle_datagram(p.now, from, to, &d);
        answered += r.len();
    }
    assert_eq!(
        answered, 10_000,
        "every forged request got one stateless or stateful answer"
    );
    let half_open = p.east.ikev2_sas(p.now).len();
    assert!(
        half_open <= 50,
        "state bounded by the cookie threshold: {half_open}"
    );
    assert!(p.east.v2_stats().cookies_sent >= 9_950);
    // The real peer (our west engine) connects through the cookie.
    p.west = ipsecgw::ike::Engine::new(ipsecgw::ike::config::LocalConfig::new(WEST));
    p.west.set_peers(vec![west_v2()]);
    p.initiate_west();
    assert_eq!(p.ups(Side::West).len(), 1, "{:?}", p.failures(Side::West));
}

#[test]
fn forged_init_from_unconfigured_sources_is_only_counted() {
    let mut p = Pair::new(west_v2(), east_v2());
    let outs = p.west.initiate(p.now, EAST, 1);
    let Output::Send { data, to, .. } = outs
        .into_iter()
        .find(|o| matches!(o, Output::Send { .. }))
        .unwrap()
    else {
        unreachable!()
    };
    for i in 0..1000u32 {
        let src = SocketAddrV4::new(Ipv4Addr::from(0xc612_0000 + i), 500);
        assert!(p.east.handle_datagram(p.now, src, to, &data).is_empty());
    }
    assert_eq!(p.east.v2_stats().unconfigured_first_msgs, 1000);
    assert!(p.east.ikev2_sas(p.now).is_empty());
}

#[test]
fn ike_auth_is_fragmented_below_the_fragmentation_mtu() {
    let mut p = Pair::new(west_v2(), east_v2());
    for (side, addr, peer) in [(Side::West, WEST, west_v2()), (Side::East, EAST, east_v2())] {
        let mut l = ipsecgw::ike::config::LocalConfig::new(addr);
        l.ikev2.fragmentation_mtu = 200;
        let mut e = ipsecgw::ike::Engine::new(l);
        e.set_peers(vec![peer]);
        match side {
            Side::West => p.west = e,
            Side::East => p.east = e,
        }
    }
    p.initiate_west();
    p.assert_mirrored();
    let skf = p.sent.iter().filter(|s| exchange_of(s) == (35, 53)).count();
    assert!(
        skf >= 4,
        "IKE_AUTH request and response went as SKF fragments: {skf}"
    );
    // IKE_SA_INIT is never fragmented (RFC 7383 2.5); everything after is.
    assert!(
        p.sent
            .iter()
            .filter(|s| exchange_of(s).0 != 34)
            .all(|s| s.data.len() <= 200 - 28),
        "every protected datagram within the MTU"
    );
}

#[test]
fn simultaneous_initiation_ends_in_one_ike_sa_and_one_child_pair() {
    let mut p = Pair::new(west_v2(), east_v2());
    let a = p.west.initiate(p.now, EAST, 1);
    let b = p.east.initiate(p.now, WEST, 1);
    p.absorb(Side::West, a);
    p.absorb(Side::East, b);
    p.run();
    p.advance(Duration::from_secs(5));
    assert_eq!(
        p.west.ikev2_sas(p.now).len(),
        1,
        "{:?}",
        p.west.ikev2_sas(p.now)
    );
    assert_eq!(p.east.ikev2_sas(p.now).len(), 1);
    assert_eq!(p.west.child_count(), 1);
    assert_eq!(p.east.child_count(), 1);
    // One and the same IKE SA and child pair on both sides. Both
    // IKE_AUTH requests carry INITIAL_CONTACT (each side's first IKE SA
    // with the other): it must not make each side drop the SA it is
    // itself negotiating, which left each with a different SA (and
    // children the other side does not have).
    let (w, e) = (&p.west.ikev2_sas(p.now)[0], &p.east.ikev2_sas(p.now)[0]);
    assert_eq!(
        (&w.local_spi, &w.remote_spi),
        (&e.remote_spi, &e.local_spi),
        "west {w:?}\neast {e:?}"
    );
    assert_ne!(w.role, e.role);
    let (wc, ec) = (&w.children[0], &e.children[0]);
    assert_eq!(
        (wc.inbound_spi, wc.outbound_spi),
        (ec.outbound_spi, ec.inbound_spi),
        "west {w:?}\neast {e:?}"
    );
}

/// Simultaneous initiation where east's first IKE_SA_INIT is lost: west's
/// IKE SA (A) is up on both sides before east's retransmission starts
/// the second one (B). East decided on INITIAL_CONTACT when it began B,
/// but by the time it sends B's IKE_AUTH it holds A with west: sending
/// INITIAL_CONTACT then would make west drop A, which east keeps. Both
/// must end with the same single IKE SA and child pair.
#[test]
fn simultaneous_initiation_with_a_lost_first_message() {
    let mut p = Pair::new(west_v2(), east_v2());
    let mut dropped = false;
    p.hook = Box::new(move |_, pk| {
        if !dropped && pk.to_side == Side::West && exchange_of(pk).0 == 34 {
            dropped = true;
            Action::Drop
        } else {
            Action::Deliver
        }
    });
    let a = p.west.initiate(p.now, EAST, 1);
    let b = p.east.initiate(p.now, WEST, 1);
    p.absorb(Side::West, a);
    p.absorb(Side::East, b);
    p.run();
    assert_eq!(p.west.ikev2_sas(p.now).len(), 1, "A is up on west");
    // East retransmits B's IKE_SA_INIT; B completes and the duplicate
    // rule removes one of A and B.
    p.advance(Duration::from_secs(10));
    let (ws, es) = (p.west.ikev2_sas(p.now), p.east.ikev2_sas(p.now));
    assert_eq!(ws.len(), 1, "west {ws:?}");
    assert_eq!(es.len(), 1, "east {es:?}");
    let (w, e) = (&ws[0], &es[0]);
    assert_eq!(
        (&w.local_spi, &w.remote_spi),
        (&e.remote_spi, &e.local_spi),
        "west {w:?}\neast {e:?}"
    );
    assert_eq!(w.children.len(), 1, "{w:?}");
    assert_eq!(e.children.len(), 1, "{e:?}");
    let (wc, ec) = (&w.children[0], &e.children[0]);
    assert_eq!(
        (wc.inbound_spi, wc.outbound_spi),
        (ec.outbound_spi, ec.inbound_spi)
    );
}

/// A peer that restarted (a fresh engine: it knows nothing) sends
/// INITIAL_CONTACT with its new IKE SA: the responder drops the stale
/// IKE SA and its child, and keeps the new ones.
#[test]
fn initial_contact_drops_the_stale_ike_sa_and_its_children() {
    let mut p = Pair::new(west_v2(), east_v2());
    p.initiate_west();
    let (_, old_e) = p.assert_mirrored();
    let old_sa = p.east.ikev2_sas(p.now)[0].local_spi.clone();
    p.advance(Duration::from_secs(2));
    p.west = ipsecgw::ike::Engine::new(ipsecgw::ike::config::LocalConfig::new(WEST));
    p.west.set_peers(vec![west_v2()]);
    p.events_west.clear();
    p.events_east.clear();
    p.initiate_west();
    assert!(
        p.downs(Side::East).contains(&old_e.inbound_spi),
        "stale child dropped"
    );
    let es = p.east.ikev2_sas(p.now);
    assert_eq!(es.len(), 1, "{es:?}");
    assert_ne!(
        es[0].local_spi, old_sa,
        "the new IKE SA is kept, the stale one gone"
    );
    assert_eq!(p.east.child_count(), 1);
    p.assert_mirrored();
}

/// The same when the two IKE_AUTH exchanges do not cross: one side has
/// its own IKE SA established when the other's IKE_AUTH request, with
/// INITIAL_CONTACT, arrives for the second one. INITIAL_CONTACT covers
/// only SAs the peer knew of when it began (established before), not
/// the one it was answering meanwhile; the duplicate rule settles it.
#[test]
fn simultaneous_initiation_with_one_side_established_first() {
    let mut p = Pair::new(west_v2(), east_v2());
    let a = p.west.initiate(p.now, EAST, 1);
    let b = p.east.initiate(p.now, WEST, 1);
    p.absorb(Side::West, a);
    p.absorb(Side::East, b);
    // Everything is delivered in order, except that east's IKE_AUTH
    // request (for B) waits until nothing else is in flight: west's
    // own IKE_AUTH exchange (A) completes first.
    let auth_request_to_west = |pk: &Packet| {
        pk.to_side == Side::West && exchange_of(pk).0 == 35 && pk.data[19] & 0x20 == 0
    };
    for _ in 0..100 {
        let Some(i) = p
            .queue
            .iter()
            .position(|pk| !auth_request_to_west(pk))
            .or((!p.queue.is_empty()).then_some(0))
        else {
            break;
        };
        let pk = p.queue.remove(i);
        p.deliver(&pk);
    }
    assert!(p.queue.is_empty());
    p.advance(Duration::from_secs(5));
    let (ws, es) = (p.west.ikev2_sas(p.now), p.east.ikev2_sas(p.now));
    assert_eq!(ws.len(), 1, "west {ws:?}");
    assert_eq!(es.len(), 1, "east {es:?}");
    let (w, e) = (&ws[0], &es[0]);
    assert_eq!(
        (&w.local_spi, &w.remote_spi),
        (&e.remote_spi, &e.local_spi),
        "west {w:?}\neast {e:?}"
    );
    assert_eq!(w.children.len(), 1, "{w:?}");
    assert_eq!(e.children.len(), 1, "{e:?}");
    let (wc, ec) = (&w.children[0], &e.children[0]);
    assert_eq!(
        (wc.inbound_spi, wc.outbound_spi),
        (ec.outbound_spi, ec.inbound_spi)
    );
}

#[test]
fn simultaneous_child_rekeys_leave_one_pair() {
    let mut w = west_v2();
    let mut e = east_v2();
    w.lifetime_s = 60;
    e.lifetime_s = 60;
    let mut p = Pair::new(w, e);
    p.initiate_west();
    let (wc, ec) = p.assert_mirrored();
    // Both ends decide to rekey at the same moment.
    p.west.note_child_volume_soft(p.now, wc.inbound_spi);
    p.east.note_child_volume_soft(p.now, ec.inbound_spi);
    let a = p.west.on_timer(p.now);
    let b = p.east.on_timer(p.now);
    p.absorb(Side::West, a);
    p.absorb(Side::East, b);
    p.run();
    p.advance(Duration::from_secs(5));
    assert_eq!(
        p.west.child_count(),
        1,
        "ups {:?} downs {:?}",
        p.ups(Side::West).len(),
        p.downs(Side::West)
    );
    assert_eq!(p.east.child_count(), 1);
    let w_in: Vec<u32> = p.west.ikev2_sas(p.now)[0]
        .children
        .iter()
        .map(|c| c.outbound_spi)
        .collect();
    let e_in: Vec<u32> = p.east.ikev2_sas(p.now)[0]
        .children
        .iter()
        .map(|c| c.inbound_spi)
        .collect();
    assert_eq!(w_in, e_in, "the surviving pair is the same on both sides");
}

#[test]
fn fallback_to_ikev1_when_the_peer_refuses_ikev2() {
    // West allows both versions; east is IKEv1 only.
    let mut w = west_v2();
    w.policies = west_peer().policies;
    w.transforms = west_peer().transforms;
    let mut p = Pair::new(w, east_peer());
    p.initiate_west();
    p.assert_mirrored();
    assert_eq!(p.west.isakmp_sas(p.now).len(), 1, "IKEv1 carried it");
    assert!(p.west.ikev2_sas(p.now).is_empty());
    assert!(text(p.failures(Side::West)[0]).contains("NO_PROPOSAL_CHOSEN"));
}

/// (source, destination, IKE message without the non-ESP marker) of a
/// real strongSwan 5.9.8 capture.
fn strongswan_datagrams(name: &str) -> Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)> {
    let path = format!(
        "{}/../ipsec-user/tests/data/pcaps/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let cap = harness::pcap::read(std::path::Path::new(&path)).unwrap();
    cap.udp_datagrams()
        .into_iter()
        .filter_map(|u| Some((u.src, u.dst, u.ike_message()?.to_vec())))
        .collect()
}

#[test]
fn answers_strongswan_ike_sa_init_aes256gcm16_prfsha256_ecp256() {
    let pkts = strongswan_datagrams("ikev2-aes256gcm16-ecp256-libipsec5.9.8-udpencap.pcap");
    let (from, to, init) = pkts[0].clone();
    assert_eq!(init[17], 0x20, "an IKEv2 message");
    let mut east = v2_peer(*from.ip(), "10.2.0.0/24", "10.1.0.0/24");
    east.ikev2_policies = vec![v2_policy(
        Ikev2Encryption::Aes256Gcm,
        Ikev2Integrity::Null,
        &[Ikev2Prf::Sha256],
        &[DhGroup::Ecp256],
    )];
    east.ikev2_transforms = vec![esp(EspCipher::Aes256Gcm, EspInteg::None)];
    let mut e = ipsecgw::ike::Engine::new(ipsecgw::ike::config::LocalConfig::new(*to.ip()));
    e.set_peers(vec![east]);
    let outs = e.handle_datagram(std::time::Instant::now(), from, to, &init);
    let resp = outs
        .iter()
        .find_map(|o| match o {
            Output::Send { data, .. } => Some(data.clone()),
            _ => None,
        })
        .expect("an answer");
    let m = ipsecgw::ike::wire::v2::MessageV2Repr::parse(&resp).unwrap();
    assert!(m.header.is_response());
    let sa = m
        .payloads
        .iter()
        .find_map(|p| match p {
            ipsecgw::ike::wire::v2::PayloadV2::Sa(s) => Some(s.clone()),
            _ => None,
        })
        .expect("SA chosen, not a notify");
    assert_eq!(sa.proposals.len(), 1);
    let ids: Vec<(u8, u16, Option<u16>)> = sa.proposals[0]
        .transforms
        .iter()
        .map(|t| (t.kind, t.id, t.key_len))
        .collect();
    assert_eq!(ids, vec![(1, 20, Some(256)), (2, 5, None), (4, 19, None)]);
    assert_eq!(e.ikev2_sas(std::time::Instant::now())[0].state, "IN-NEG");
    // strongSwan proposed ecp256 only: a responder allowing modp2048 only
    // has no proposal to choose (INVALID_KE is for groups both allow).
    let mut east2 = v2_peer(*from.ip(), "10.2.0.0/24", "10.1.0.0/24");
    east2.ikev2_policies = vec![v2_policy(
        Ikev2Encryption::Aes256Gcm,
        Ikev2Integrity::Null,
        &[Ikev2Prf::Sha256],
        &[DhGroup::Modp2048],
    )];
    let mut e2 = ipsecgw::ike::Engine::new(ipsecgw::ike::config::LocalConfig::new(*to.ip()));
    e2.set_peers(vec![east2]);
    let outs = e2.handle_datagram(std::time::Instant::now(), from, to, &init);
    let Output::Send { data, .. } = &outs[0] else {
        panic!("{outs:?}")
    };
    let m = ipsecgw::ike::wire::v2::MessageV2Repr::parse(data).unwrap();
    let n = m
        .payloads
        .iter()
        .find_map(|p| match p {
            ipsecgw::ike::wire::v2::PayloadV2::Notify(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(n.kind, 14, "NO_PROPOSAL_CHOSEN");
    assert!(
        e2.ikev2_sas(std::time::Instant::now()).is_empty(),
        "stateless"
    );
}
