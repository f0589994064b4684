//! Two IKEv1 engines back to back: main and aggressive mode, quick mode,
//! failures with their reasons, retransmission, duplicates, rekey, DELETE,
//! DPD, NAT-T.

use std::time::Duration;

use harness::engine_config::*;
use harness::engine_pair::*;
use ipsecgw::algo::{DhGroup, EspCipher, EspInteg, IkeEncryption, IkeHash};
use ipsecgw::ike::v1::{FailureReason, Output, Phase1Mode};

#[test]
fn main_mode_seed_policy_3des_sha1_modp1024() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    let (w, e) = p.assert_mirrored();
    assert_eq!(
        w.transform,
        esp(EspCipher::TripleDes, EspInteg::HmacSha1_96)
    );
    assert_eq!(w.inbound_keymat.len(), 44);
    assert_eq!(w.local_ts, net("198.51.100.0/24"));
    assert_eq!(e.local_ts, net("203.0.113.0/24"));
    assert_eq!(w.udp_encap, None, "no NAT, no encapsulation");
    let sas = p.west.isakmp_sas(p.now);
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].state, "MM_ACTIVE");
    assert_eq!(sas[0].role.to_string(), "Initiator");
    assert_eq!(sas[0].encryption, Some(IkeEncryption::TripleDes));
    assert_eq!(sas[0].group, Some(DhGroup::Modp1024));
    let esas = p.east.isakmp_sas(p.now);
    assert_eq!(esas[0].state, "MM_ACTIVE");
    assert_eq!(esas[0].role.to_string(), "Responder");
    // 6 main-mode + 3 quick-mode datagrams, nothing else
    assert_eq!(p.sent.len(), 9);
    let st = p.west.peer_status();
    assert!(st[0].up, "{st:?}");
}

#[test]
fn main_mode_aes256_sha256_group14_pfs14_gcm256() {
    let mut w = west_peer();
    let mut e = east_peer();
    for c in [&mut w, &mut e] {
        c.policies = vec![policy(
            5,
            IkeEncryption::Aes256,
            IkeHash::Sha256,
            DhGroup::Modp2048,
        )];
        c.transforms = vec![esp(EspCipher::Aes256Gcm, EspInteg::None)];
        c.pfs = Some(DhGroup::Modp2048);
    }
    let mut p = Pair::new(w, e);
    p.initiate_west();
    let (w, _) = p.assert_mirrored();
    assert_eq!(w.transform.cipher, EspCipher::Aes256Gcm);
    assert_eq!(w.inbound_keymat.len(), 36);
}

#[test]
fn aggressive_mode_aes128_sha256_group14() {
    let mut w = west_peer();
    let mut e = east_peer();
    for c in [&mut w, &mut e] {
        c.policies = vec![policy(
            10,
            IkeEncryption::Aes128,
            IkeHash::Sha256,
            DhGroup::Modp2048,
        )];
        c.transforms = vec![esp(EspCipher::Aes128Cbc, EspInteg::HmacSha256_128)];
    }
    w.mode = Phase1Mode::Aggressive;
    e.aggressive_responder = true;
    let mut p = Pair::new(w, e);
    p.initiate_west();
    p.assert_mirrored();
    assert_eq!(p.west.isakmp_sas(p.now)[0].state, "AM_ACTIVE");
    assert_eq!(p.east.isakmp_sas(p.now)[0].state, "AM_ACTIVE");
    // 3 aggressive-mode + 3 quick-mode datagrams
    assert_eq!(p.sent.len(), 6);
}

#[test]
fn aggressive_mode_quick_mode_overtaking_am3_is_resent_soon() {
    let mut w = west_peer();
    let mut e = east_peer();
    w.mode = Phase1Mode::Aggressive;
    e.aggressive_responder = true;
    let mut p = Pair::new(w, e);
    // AM1, AM2, then AM3 is held back until QM1 has been delivered: the
    // responder drops QM1 (phase 1 not complete), as strongSwan does.
    p.hook = Box::new(|n, _| {
        if n == 2 {
            Action::Delay
        } else {
            Action::Deliver
        }
    });
    p.initiate_west();
    assert!(p.ups(Side::West).is_empty(), "QM1 was dropped");
    assert_eq!(p.east.isakmp_sas(p.now)[0].state, "AM_ACTIVE");
    // well before the 2 s retransmission interval, QM1 goes again
    p.advance(Duration::from_secs(1));
    p.assert_mirrored();
}

#[test]
fn aggressive_mode_refused_unless_allowed() {
    let mut w = west_peer();
    w.mode = Phase1Mode::Aggressive;
    let mut p = Pair::new(w, east_peer());
    p.initiate_west();
    assert!(p.ups(Side::East).is_empty());
    let f = p.failures(Side::East);
    assert!(
        f[0].text()
            .contains("aggressive mode from 192.0.2.1 refused"),
        "{f:?}"
    );
    assert!(f[0].text().contains("offline"));
}

#[test]
fn east_initiates_too() {
    let mut p = Pair::new(west_peer(), east_peer());
    let outs = p.east.initiate(p.now, WEST, 1);
    p.absorb(Side::East, outs);
    p.run();
    p.assert_mirrored();
    assert_eq!(p.east.isakmp_sas(p.now)[0].role.to_string(), "Initiator");
}

#[test]
fn every_supported_dh_group_main_mode_and_pfs() {
    let groups = [
        DhGroup::Modp768,
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp4096,
        DhGroup::Ecp256,
        DhGroup::Ecp384,
        DhGroup::Ecp521,
        DhGroup::Modp2048s256,
        DhGroup::X25519,
    ];
    for g in groups {
        let mut w = west_peer();
        let mut e = east_peer();
        for c in [&mut w, &mut e] {
            c.policies = vec![policy(10, IkeEncryption::Aes128, IkeHash::Sha1, g)];
            c.pfs = Some(g);
        }
        let mut p = Pair::new(w, e);
        p.initiate_west();
        p.assert_mirrored();
        assert_eq!(p.west.isakmp_sas(p.now)[0].group, Some(g));
    }
}

#[test]
fn group_21_is_negotiated_like_the_others() {
    // P-521 comes from RustCrypto's p521 (ring has none): a responder
    // whose first policy is group 21 takes a group-21 offer.
    let mut e = east_peer();
    e.policies.insert(
        0,
        policy(5, IkeEncryption::Aes256, IkeHash::Sha384, DhGroup::Ecp521),
    );
    let mut w = west_peer();
    w.policies.insert(
        0,
        policy(5, IkeEncryption::Aes256, IkeHash::Sha384, DhGroup::Ecp521),
    );
    let mut p = Pair::new(w, e);
    p.initiate_west();
    p.assert_mirrored();
    assert!(p.failures(Side::West).is_empty());
    assert_eq!(p.east.isakmp_sas(p.now)[0].group, Some(DhGroup::Ecp521));
}

#[test]
fn responder_takes_its_own_first_matching_policy() {
    let mut w = west_peer();
    w.policies = vec![
        policy(
            10,
            IkeEncryption::TripleDes,
            IkeHash::Sha1,
            DhGroup::Modp1024,
        ),
        policy(
            20,
            IkeEncryption::Aes256,
            IkeHash::Sha256,
            DhGroup::Modp2048,
        ),
    ];
    let mut e = east_peer();
    e.policies = vec![
        policy(5, IkeEncryption::Aes256, IkeHash::Sha256, DhGroup::Modp2048),
        policy(
            10,
            IkeEncryption::TripleDes,
            IkeHash::Sha1,
            DhGroup::Modp1024,
        ),
    ];
    let mut p = Pair::new(w, e);
    p.initiate_west();
    p.assert_mirrored();
    // ASA behaviour: east's priority 5 wins although west listed 3DES first
    assert_eq!(
        p.west.isakmp_sas(p.now)[0].encryption,
        Some(IkeEncryption::Aes256)
    );
}

#[test]
fn shorter_lifetime_wins_and_responder_lifetime_is_sent() {
    let mut w = west_peer();
    w.policies[0].lifetime_s = 86400;
    let mut e = east_peer();
    e.policies[0].lifetime_s = 3600;
    e.lifetime_s = 1800;
    let mut p = Pair::new(w, e);
    p.initiate_west();
    let (wc, ec) = p.assert_mirrored();
    assert_eq!(p.west.isakmp_sas(p.now)[0].lifetime_s, 3600);
    assert_eq!(p.east.isakmp_sas(p.now)[0].lifetime_s, 3600);
    assert_eq!(wc.lifetime_s, 1800);
    assert_eq!(ec.lifetime_s, 1800);
}

#[test]
fn policy_mismatch_names_the_attributes() {
    let mut w = west_peer();
    w.policies = vec![policy(
        10,
        IkeEncryption::Aes256,
        IkeHash::Sha256,
        DhGroup::Modp2048,
    )];
    let mut p = Pair::new(w, east_peer());
    p.initiate_west();
    let f = p.failures(Side::East);
    assert_eq!(f.len(), 1);
    assert!(matches!(f[0], FailureReason::NoPolicyMatch(_)));
    assert!(
        f[0].text().starts_with("no ISAKMP policy matched: peer offered aes-256/sha256/group 14/86400; ours: 10 3des/sha/group 2/86400"),
        "{}",
        f[0]
    );
    assert!(
        f[0].text()
            .contains("differs in encryption, hash, DH group"),
        "{}",
        f[0]
    );
    // the initiator learns it from NO-PROPOSAL-CHOSEN, not from a timeout
    let fw = p.failures(Side::West);
    assert_eq!(fw.len(), 1);
    assert!(fw[0].text().contains("NO-PROPOSAL-CHOSEN"), "{}", fw[0]);
    assert!(p.west.isakmp_sas(p.now).is_empty());
    assert!(!p.west.peer_status()[0].up);
    assert!(
        p.west.peer_status()[0]
            .detail
            .contains("NO-PROPOSAL-CHOSEN")
    );
}

#[test]
fn only_the_group_differs() {
    let mut w = west_peer();
    w.policies[0].group = DhGroup::Modp1536;
    let mut p = Pair::new(w, east_peer());
    p.initiate_west();
    let f = p.failures(Side::East);
    assert!(
        f[0].text()
            .ends_with("(closest: policy 10 differs in DH group)"),
        "{}",
        f[0]
    );
}

#[test]
fn wrong_psk_is_named_and_initiator_times_out() {
    let mut e = east_peer();
    e.psk = zeroize::Zeroizing::new(b"not-the-same".to_vec());
    let mut p = Pair::new(west_peer(), e);
    p.initiate_west();
    let f = p.failures(Side::East);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(matches!(f[0], FailureReason::AuthFailed(_)));
    assert!(
        f[0].text().starts_with("pre-shared key mismatch"),
        "{}",
        f[0]
    );
    assert_eq!(p.west.isakmp_sas(p.now)[0].state, "MM_WAIT_MSG6");
    p.advance(Duration::from_secs(70));
    let fw = p.failures(Side::West);
    assert_eq!(fw.len(), 1, "{fw:?}");
    // the initiator only sees silence after message 5: say what it means
    assert!(matches!(fw[0], FailureReason::AuthFailed(_)), "{:?}", fw[0]);
    assert!(
        fw[0].text().starts_with(
            "pre-shared key mismatch (probably): no reply to our encrypted message 5 from 192.0.2.2:500 after 5 tries"
        ),
        "{}",
        fw[0]
    );
    // The state is its own field; the words say what went wrong.
    let st = &p.west.peer_status()[0];
    assert_eq!(st.state, "MM_WAIT_MSG6", "{st:?}");
    assert!(st.detail.starts_with("pre-shared key mismatch"), "{st:?}");
    assert!(p.ups(Side::West).is_empty());
}

#[test]
fn unreachable_peer_gives_up_after_five_tries() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.hook = Box::new(|_, _| Action::Drop);
    p.initiate_west();
    p.advance(Duration::from_secs(40));
    assert!(
        p.failures(Side::West).is_empty(),
        "not before 2+4+8+16+32 s"
    );
    p.advance(Duration::from_secs(30));
    let f = p.failures(Side::West);
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].text(),
        "no reply from 192.0.2.2:500 after 5 tries (check reachability and UDP 500/4500)"
    );
    assert_eq!(p.sent.len(), 5, "exactly five transmissions of MM1");
    assert!(p.west.isakmp_sas(p.now).is_empty());
}

#[test]
fn backup_peer_is_tried_next() {
    let mut w = west_peer();
    let dead = std::net::Ipv4Addr::new(192, 0, 2, 99);
    w.addresses = vec![dead, EAST];
    let mut p = Pair::new(w, east_peer());
    p.hook = Box::new(move |_, pk| {
        if *pk.to.ip() == dead {
            Action::Drop
        } else {
            Action::Deliver
        }
    });
    let outs = p.west.initiate(p.now, dead, 1);
    p.absorb(Side::West, outs);
    p.run();
    p.advance(Duration::from_secs(70));
    assert_eq!(p.ups(Side::West).len(), 1, "{:?}", p.failures(Side::West));
    assert_eq!(p.ups(Side::West)[0].peer, EAST);
}

#[test]
fn lost_messages_are_retransmitted() {
    // drop the first copy of every message number in turn
    for lost in 0..9 {
        let mut p = Pair::new(west_peer(), east_peer());
        p.hook = Box::new(move |i, _| {
            if i == lost {
                Action::Drop
            } else {
                Action::Deliver
            }
        });
        p.initiate_west();
        p.advance(Duration::from_secs(5));
        p.assert_mirrored();
        assert!(
            p.failures(Side::West).is_empty() && p.failures(Side::East).is_empty(),
            "lost {lost}"
        );
    }
}

#[test]
fn duplicated_messages_do_not_create_state() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.hook = Box::new(|_, _| Action::Duplicate);
    p.initiate_west();
    p.advance(Duration::from_secs(3));
    p.assert_mirrored();
    assert_eq!(
        p.count(Side::West, |o| matches!(o, Output::IsakmpUp { .. })),
        1
    );
    assert_eq!(
        p.count(Side::East, |o| matches!(o, Output::IsakmpUp { .. })),
        1
    );
    assert_eq!(p.west.isakmp_sas(p.now).len(), 1);
    assert_eq!(p.east.isakmp_sas(p.now).len(), 1);
}

#[test]
fn reordered_quick_mode_still_completes() {
    let mut p = Pair::new(west_peer(), east_peer());
    // hold MM5 back behind nothing (it is alone), then QM1 behind QM2...
    p.hook = Box::new(|i, _| {
        if i == 4 || i == 6 {
            Action::Delay
        } else {
            Action::Deliver
        }
    });
    p.initiate_west();
    p.advance(Duration::from_secs(5));
    p.assert_mirrored();
}

#[test]
fn proxy_id_mismatch_is_explained() {
    let e = seed_peer(WEST, "203.0.113.0/25", "198.51.100.0/24");
    let mut p = Pair::new(west_peer(), e);
    p.initiate_west();
    let f = p.failures(Side::East);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(matches!(f[0], FailureReason::ProxyIdMismatch(_)));
    assert_eq!(
        f[0].text(),
        "quick mode: proxy identities do not match: peer proposed 198.51.100.0/24 -> 203.0.113.0/24 (its local -> its remote), crypto map OUTSIDE_MAP 10 ACL L2L is 203.0.113.0/25 -> 198.51.100.0/24"
    );
    let fw = p.failures(Side::West);
    assert!(
        fw.iter()
            .any(|f| f.text().contains("INVALID-ID-INFORMATION")),
        "{fw:?}"
    );
    assert!(p.ups(Side::West).is_empty() && p.ups(Side::East).is_empty());
}

#[test]
fn transform_mismatch_is_explained() {
    let mut e = east_peer();
    e.transforms = vec![esp(EspCipher::Aes256Cbc, EspInteg::HmacSha256_128)];
    let mut p = Pair::new(west_peer(), e);
    p.initiate_west();
    let f = p.failures(Side::East);
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].text(),
        "quick mode: no transform set matched: peer offered esp-3des esp-sha-hmac; ours esp-aes-256 esp-sha256-hmac"
    );
    assert!(
        p.failures(Side::West)[0]
            .text()
            .contains("NO-PROPOSAL-CHOSEN")
    );
}

#[test]
fn pfs_required_but_not_offered() {
    let mut e = east_peer();
    e.pfs = Some(DhGroup::Modp2048);
    let mut p = Pair::new(west_peer(), e);
    p.initiate_west();
    let f = p.failures(Side::East);
    assert!(f[0].text().contains("pfs group 14"), "{}", f[0]);
}

#[test]
fn rekey_while_in_use_then_old_sa_expires() {
    let mut w = west_peer();
    w.lifetime_s = 100;
    let mut e = east_peer();
    e.lifetime_s = 100;
    let mut p = Pair::new(w, e);
    p.initiate_west();
    let (old, _) = p.assert_mirrored();
    p.west.note_child_traffic(p.now, old.inbound_spi);
    p.advance(Duration::from_secs(92));
    let ups = p.ups(Side::West);
    assert_eq!(ups.len(), 2, "rekeyed before the soft lifetime");
    assert_eq!(ups[1].replaces, Some(old.inbound_spi));
    assert_ne!(ups[1].inbound_spi, old.inbound_spi);
    assert_ne!(*ups[1].inbound_keymat, *old.inbound_keymat);
    assert_eq!(p.ups(Side::East).len(), 2);
    assert!(
        p.downs(Side::West).is_empty(),
        "old SA lives until its hard lifetime"
    );
    p.advance(Duration::from_secs(10));
    assert!(p.downs(Side::West).contains(&old.inbound_spi));
    assert_eq!(p.west.child_count(), 1);
}

/// The ESP engine's volume (kilobytes) soft limit rekeys at once, long
/// before the seconds lifetime, and only once per SA.
#[test]
fn volume_soft_limit_rekeys_now() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    let (old, _) = p.assert_mirrored();
    p.advance(Duration::from_secs(2));
    assert_eq!(p.ups(Side::West).len(), 1, "no rekey without a reason");
    p.west.note_child_volume_soft(p.now, old.outbound_spi);
    p.advance(Duration::from_secs(1));
    let ups = p.ups(Side::West);
    assert_eq!(ups.len(), 2, "rekeyed on volume");
    assert_eq!(ups[1].replaces, Some(old.inbound_spi));
    assert_ne!(ups[1].inbound_spi, old.inbound_spi);
    assert_eq!(p.ups(Side::East).len(), 2);
    p.west.note_child_volume_soft(p.now, old.inbound_spi);
    p.advance(Duration::from_secs(2));
    assert_eq!(p.ups(Side::West).len(), 2, "an SA is rekeyed once");
}

#[test]
fn unused_sa_is_not_rekeyed() {
    let mut w = west_peer();
    w.lifetime_s = 100;
    let mut p = Pair::new(w, east_peer());
    p.initiate_west();
    p.assert_mirrored();
    p.advance(Duration::from_secs(101));
    assert_eq!(p.ups(Side::West).len(), 1);
    assert_eq!(p.downs(Side::West).len(), 1);
    assert_eq!(p.west.child_count(), 0);
}

#[test]
fn delete_ipsec_and_isakmp_reach_the_peer() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    let (w, e) = p.assert_mirrored();
    let outs = p.west.delete_ipsec(p.now, None);
    p.absorb(Side::West, outs);
    p.run();
    assert_eq!(p.downs(Side::West), vec![w.inbound_spi]);
    assert_eq!(
        p.downs(Side::East),
        vec![e.inbound_spi],
        "east honoured the DELETE"
    );
    assert_eq!(p.east.child_count(), 0);
    let outs = p.west.delete_isakmp(p.now, Some(EAST));
    p.absorb(Side::West, outs);
    p.run();
    assert!(p.west.isakmp_sas(p.now).is_empty());
    assert!(
        p.east.isakmp_sas(p.now).is_empty(),
        "east honoured the ISAKMP DELETE"
    );
    assert_eq!(
        p.count(Side::East, |o| matches!(o, Output::IsakmpDown { .. })),
        1
    );
}

#[test]
fn dpd_answers_and_detects_a_dead_peer() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    p.assert_mirrored();
    // alive: R-U-THERE gets ACKed, nothing fails
    p.advance(Duration::from_secs(30));
    assert!(p.failures(Side::West).is_empty());
    assert!(p.west.child_count() == 1);
    let before = p.sent.len();
    assert!(before > 9, "DPD messages were exchanged");
    // east goes silent
    p.hook = Box::new(|_, pk| {
        if pk.to_side == Side::West {
            Action::Drop
        } else {
            Action::Deliver
        }
    });
    p.advance(Duration::from_secs(30));
    let f = p.failures(Side::West);
    assert!(
        f.iter().any(|f| matches!(f, FailureReason::PeerDead(_))),
        "{f:?}"
    );
    assert!(f[0].text().starts_with("peer 192.0.2.2 is dead"));
    assert_eq!(p.west.child_count(), 0);
    assert!(p.west.isakmp_sas(p.now).is_empty());
}

#[test]
fn forced_encapsulation_floats_to_4500() {
    let mut w = west_peer();
    w.force_encap = true;
    let mut p = Pair::new(w, east_peer());
    p.initiate_west();
    let (wc, ec) = p.assert_mirrored();
    assert_eq!(wc.udp_encap, Some((4500, 4500)));
    assert_eq!(ec.udp_encap, Some((4500, 4500)));
    // MM1-MM4 on 500, MM5 on
    assert!(
        p.sent[..4]
            .iter()
            .all(|s| s.from.port() == 500 && s.to.port() == 500)
    );
    assert!(
        p.sent[4..]
            .iter()
            .all(|s| s.from.port() == 4500 && s.to.port() == 4500)
    );
    assert!(p.west.isakmp_sas(p.now)[0].nat_t);
    // keepalives from the side that saw "NAT" on its own address: east
    // saw west's fake NAT-D, so west is "behind NAT" from east's view;
    // west itself sends keepalives only if its own address looked translated.
    p.advance(Duration::from_secs(25));
    assert!(p.failures(Side::West).is_empty());
}

#[test]
fn initial_contact_drops_stale_sas() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.initiate_west();
    let (_, old_e) = p.assert_mirrored();
    // west restarts: a fresh engine knows nothing and sends INITIAL-CONTACT
    p.west = ipsecgw::ike::Engine::new(ipsecgw::ike::v1::LocalConfig::new(WEST));
    p.west.set_peers(vec![west_peer()]);
    p.events_west.clear();
    p.initiate_west();
    assert!(
        p.downs(Side::East).contains(&old_e.inbound_spi),
        "stale SA dropped"
    );
    assert_eq!(p.east.isakmp_sas(p.now).len(), 1);
    assert_eq!(p.east.child_count(), 1);
}

/// A peer's half-open quota is kept by evicting that peer's oldest
/// responder entry: the newest first message is always answered.
#[test]
fn half_open_limit_per_peer() {
    let mut p = Pair::new(west_peer(), east_peer());
    // east's answers are lost: every west engine stays at MM_WAIT_MSG2
    // and east keeps a half-open responder entry for each
    p.hook = Box::new(|_, pk| {
        if pk.to_side == Side::West {
            Action::Drop
        } else {
            Action::Deliver
        }
    });
    for _ in 0..6 {
        let mut w = ipsecgw::ike::Engine::new(ipsecgw::ike::v1::LocalConfig::new(WEST));
        w.set_peers(vec![west_peer()]);
        let outs = w.initiate(p.now, EAST, 1);
        p.absorb(Side::West, outs);
        p.run();
    }
    assert_eq!(p.east.isakmp_sas(p.now).len(), 4);
    let mm2s = p
        .sent
        .iter()
        .filter(|s| s.to_side == Side::West && s.data.get(18) == Some(&2))
        .count();
    assert_eq!(mm2s, 6, "every first message was answered");
    assert!(
        p.failures(Side::East).is_empty(),
        "{:?}",
        p.failures(Side::East)
    );
}

/// Before, a policy with `authentication rsa-sig` was offered and accepted,
/// and phase 1 then ran as pre-shared key: a tunnel came up under a name
/// it did not use. Now such a policy is never negotiated.
#[test]
fn rsa_sig_policies_are_never_negotiated() {
    let mut w = west_peer();
    let mut e = east_peer();
    for c in [&mut w, &mut e] {
        c.policies[0].auth = ipsecgw::algo::IkeAuth::RsaSig;
    }
    let mut p = Pair::new(w, e);
    p.initiate_west();
    assert!(p.ups(Side::West).is_empty(), "no tunnel under a false name");
    let f = p.failures(Side::West);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].text().contains(
            "authentication rsa-sig needs certificates, which this build does not support"
        ),
        "{}",
        f[0]
    );
}

/// An empty pre-shared key is no secret: neither side derives keys from
/// it. As initiator, phase 1 does not start; as responder, it is refused
/// before any key is derived.
#[test]
fn an_empty_pre_shared_key_is_never_accepted() {
    let no_key = |f: &&FailureReason| {
        matches!(f, FailureReason::AuthFailed(_))
            && f.text()
                .starts_with("no pre-shared key configured for peer")
    };
    for (west_empty, east_empty) in [(true, false), (false, true)] {
        let mut w = west_peer();
        let mut e = east_peer();
        if west_empty {
            w.psk = zeroize::Zeroizing::new(Vec::new());
        }
        if east_empty {
            e.psk = zeroize::Zeroizing::new(Vec::new());
        }
        let mut p = Pair::new(w, e);
        p.initiate_west();
        p.advance(Duration::from_secs(70));
        assert!(p.ups(Side::West).is_empty() && p.ups(Side::East).is_empty());
        let side = if west_empty { Side::West } else { Side::East };
        assert!(
            p.failures(side).iter().any(no_key),
            "{side:?}: {:?}",
            p.failures(side)
        );
        if west_empty {
            assert!(p.sent.is_empty(), "nothing sent without a key");
        }
    }
}

/// `set peer DEAD EAST`: the backup authenticates with its own key, not
/// the primary's.
#[test]
fn backup_peer_uses_its_own_key() {
    use ipsecgw::ike::v1::config::PeerCredentials;
    let mut w = west_peer();
    let dead = std::net::Ipv4Addr::new(192, 0, 2, 99);
    w.addresses = vec![dead, EAST];
    w.psk = zeroize::Zeroizing::new(b"the-primary-key".to_vec());
    w.per_address = vec![
        (
            dead,
            PeerCredentials {
                psk: zeroize::Zeroizing::new(b"the-primary-key".to_vec()),
                dpd: None,
                ..Default::default()
            },
        ),
        (
            EAST,
            PeerCredentials {
                psk: zeroize::Zeroizing::new(PSK.to_vec()),
                dpd: w.dpd,
                ..Default::default()
            },
        ),
    ];
    let mut p = Pair::new(w, east_peer());
    p.hook = Box::new(move |_, pk| {
        if *pk.to.ip() == dead {
            Action::Drop
        } else {
            Action::Deliver
        }
    });
    let outs = p.west.initiate(p.now, dead, 1);
    p.absorb(Side::West, outs);
    p.run();
    p.advance(Duration::from_secs(70));
    assert_eq!(p.ups(Side::West).len(), 1, "{:?}", p.failures(Side::East));
    assert_eq!(p.ups(Side::West)[0].peer, EAST);
}

/// Forged first messages "from" a peer fill its responder quota; that
/// must not stop us from initiating toward it (the tunnel would die at
/// the next phase-1 expiry), and the real peer's own first message is
/// still answered.
#[test]
fn forged_responder_entries_never_block_our_initiation() {
    let mut p = Pair::new(west_peer(), east_peer());
    p.hook = Box::new(|_, _| Action::Drop);
    p.initiate_west();
    let mm1 = p.sent[0].clone();
    p.hook = Box::new(|_, _| Action::Deliver);
    p.sent.clear();
    p.queue.clear();
    // eight forged MM1s from west's address, fresh cookies, answers lost
    let mut answered = 0;
    for i in 0..8u8 {
        let mut d = mm1.data.clone();
        d[0] ^= 0x80 | i;
        let outs = p.east.handle_datagram(p.now, mm1.from, mm1.to, &d);
        answered += outs
            .iter()
            .filter(|o| matches!(o, Output::Send { .. }))
            .count();
    }
    assert!(answered >= 4, "the quota was filled ({answered} answered)");
    assert_eq!(p.east.isakmp_sas(p.now).len(), 4, "per-peer quota");
    // east initiates toward west: message 1 goes out
    let outs = p.east.initiate(p.now, WEST, 1);
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::Send { to, .. } if *to.ip() == WEST)),
        "east did not send message 1: {outs:?}"
    );
    assert!(
        !outs.iter().any(|o| matches!(o, Output::Failure { .. })),
        "{outs:?}"
    );
    p.absorb(Side::East, outs);
    p.run();
    assert_eq!(p.ups(Side::East).len(), 1, "{:?}", p.failures(Side::East));
    p.assert_mirrored();
}
