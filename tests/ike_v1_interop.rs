//! The engine against real strongSwan 5.9.8 messages
//! (ipsec-user/tests/data/pcaps)
//! and against the independent ISAKMP codec in `ike::wire`.

use std::net::SocketAddrV4;

use harness::engine_config::*;
use harness::engine_pair::*;
use ipsecgw::algo::{DhGroup, EspCipher, EspInteg, IkeEncryption, IkeHash};
use ipsecgw::ike::Engine;
use ipsecgw::ike::v1::{LocalConfig, Output};
use ipsecgw::ike::wire;

/// (source, destination, IKE message without the non-ESP marker)
fn ike_datagrams(name: &str) -> Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)> {
    let path = format!(
        "{}/../ipsec-user/tests/data/pcaps/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let cap = harness::pcap::read(std::path::Path::new(&path)).unwrap();
    assert!(cap.little_endian, "little-endian pcap");
    assert_eq!(cap.linktype, 1, "Ethernet link type");
    cap.udp_datagrams()
        .into_iter()
        .filter_map(|u| Some((u.src, u.dst, u.ike_message()?.to_vec())))
        .collect()
}

fn sends(outs: &[Output]) -> Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { from, to, data } => Some((*from, *to, data.clone())),
            _ => None,
        })
        .collect()
}

fn p1_of(msg: &wire::Message<'_>) -> wire::Phase1Attrs {
    let sa = msg
        .payloads
        .find(wire::PayloadType::SA)
        .expect("SA payload");
    let sa = wire::SaRepr::parse(sa.body).unwrap();
    assert_eq!(sa.proposals.len(), 1);
    assert_eq!(
        sa.proposals[0].transforms.len(),
        1,
        "the responder answers with one transform"
    );
    wire::Phase1Attrs::from_attributes(&sa.proposals[0].transforms[0].attributes).unwrap()
}

#[test]
fn answers_strongswan_main_mode_messages_1_and_3() {
    let pkts = ike_datagrams("ikev1-main-3des-sha1-modp1024-libipsec5.9.8-udpencap.pcap");
    let (from, to, mm1) = pkts[0].clone();
    assert_eq!(
        (from, to),
        (SocketAddrV4::new(WEST, 500), SocketAddrV4::new(EAST, 500))
    );
    let mut east = Engine::new(LocalConfig::new(EAST));
    east.set_peers(vec![east_peer()]);
    let t0 = std::time::Instant::now();
    let outs = east.handle_datagram(t0, from, to, &mm1);
    let s = sends(&outs);
    assert_eq!(s.len(), 1, "{outs:?}");
    assert_eq!((s[0].0, s[0].1), (to, from));
    let mm2 = wire::Message::parse(&s[0].2).expect("our MM2 parses with ike::wire");
    assert_eq!(mm2.header.initiator_cookie, mm1[..8]);
    assert_ne!(mm2.header.responder_cookie, [0; 8]);
    let attrs = p1_of(&mm2);
    assert_eq!(attrs.encryption, IkeEncryption::TripleDes);
    assert_eq!(attrs.hash, IkeHash::Sha1);
    assert_eq!(attrs.group, DhGroup::Modp1024);
    // strongSwan proposed 15840 s; ours is 86400: the shorter is used
    assert_eq!(attrs.life_seconds, Some(15840));
    let vids: Vec<&[u8]> = mm2
        .payloads
        .all(wire::PayloadType::VENDOR_ID)
        .map(|p| p.body)
        .collect();
    assert!(vids.contains(&&ipsecgw::ike::v1::nat_t::VID_RFC3947[..]));
    let sa = &east.isakmp_sas(t0)[0];
    assert_eq!(sa.state, "MM_WAIT_MSG3");
    assert_eq!(sa.lifetime_s, 15840);

    // strongSwan's message 3 carries the other responder's cookie: give it ours
    let (from3, to3, mut mm3) = pkts[2].clone();
    assert_eq!(from3, from);
    mm3[8..16].copy_from_slice(&mm2.header.responder_cookie);
    let outs = east.handle_datagram(t0, from3, to3, &mm3);
    let s = sends(&outs);
    assert_eq!(s.len(), 1, "{outs:?}");
    let mm4 = wire::Message::parse(&s[0].2).unwrap();
    let ke = mm4.payloads.find(wire::PayloadType::KE).unwrap();
    assert_eq!(ke.body.len(), 128, "group 2 public value");
    assert!(mm4.payloads.find(wire::PayloadType::NONCE).is_some());
    assert_eq!(mm4.payloads.all(wire::PayloadType::NAT_D).count(), 2);
    assert_eq!(east.isakmp_sas(t0)[0].state, "MM_WAIT_MSG5");

    // a retransmitted message 3 gets the same message 4, not a new exchange
    let again = sends(&east.handle_datagram(t0, from3, to3, &mm3));
    assert_eq!(again[0].2, s[0].2);
}

#[test]
fn answers_strongswan_aggressive_mode_message_1() {
    let pkts = ike_datagrams("demo-deb598-v1aggr.pcap");
    let (from, to, am1) = pkts[0].clone();
    let mut cfg = east_peer();
    cfg.policies = vec![policy(
        10,
        IkeEncryption::Aes128,
        IkeHash::Sha256,
        DhGroup::Modp2048,
    )];
    cfg.transforms = vec![esp(EspCipher::Aes128Cbc, EspInteg::HmacSha256_128)];
    cfg.aggressive_responder = true;
    let mut east = Engine::new(LocalConfig::new(EAST));
    east.set_peers(vec![cfg]);
    let t0 = std::time::Instant::now();
    let s = sends(&east.handle_datagram(t0, from, to, &am1));
    assert_eq!(s.len(), 1);
    let am2 = wire::Message::parse(&s[0].2).unwrap();
    let attrs = p1_of(&am2);
    assert_eq!(attrs.encryption, IkeEncryption::Aes128);
    assert_eq!(attrs.group, DhGroup::Modp2048);
    assert_eq!(
        am2.payloads.find(wire::PayloadType::KE).unwrap().body.len(),
        256
    );
    assert_eq!(
        am2.payloads
            .find(wire::PayloadType::HASH)
            .unwrap()
            .body
            .len(),
        32,
        "HASH_R with SHA-256"
    );
    assert_eq!(east.isakmp_sas(t0)[0].state, "AM_WAIT_MSG3");
}

#[test]
fn rejects_strongswan_proposal_with_reason() {
    let pkts = ike_datagrams("ikev1-main-3des-sha1-modp1024-libipsec5.9.8-udpencap.pcap");
    let (from, to, mm1) = pkts[0].clone();
    let mut cfg = east_peer();
    cfg.policies = vec![policy(
        10,
        IkeEncryption::Aes256,
        IkeHash::Sha256,
        DhGroup::Modp2048,
    )];
    let mut east = Engine::new(LocalConfig::new(EAST));
    east.set_peers(vec![cfg]);
    let outs = east.handle_datagram(std::time::Instant::now(), from, to, &mm1);
    let fail = outs.iter().find_map(|o| match o {
        Output::Failure { reason, .. } => Some(reason.to_string()),
        _ => None,
    });
    assert_eq!(
        fail.unwrap(),
        "no ISAKMP policy matched: peer offered 3des/sha/group 2/15840; ours: 10 aes-256/sha256/group 14/86400 (closest: policy 10 differs in encryption, hash, DH group)"
    );
    // and NO-PROPOSAL-CHOSEN goes back in an informational
    let s = sends(&outs);
    let info = wire::Message::parse(&s[0].2).unwrap();
    let n = info.payloads.find(wire::PayloadType::NOTIFY).unwrap();
    let n = wire::NotifyRepr::parse(n.body).unwrap();
    assert_eq!(n.kind, wire::NotifyType::NO_PROPOSAL_CHOSEN);
}

#[test]
fn every_cleartext_message_we_send_parses_with_ike_wire() {
    let mut w = west_peer();
    w.force_encap = true;
    w.pfs = Some(DhGroup::Ecp256);
    let mut e = east_peer();
    e.pfs = Some(DhGroup::Ecp256);
    let mut p = Pair::new(w, e);
    p.initiate_west();
    p.assert_mirrored();
    assert_eq!(p.sent.len(), 9);
    for (i, s) in p.sent.iter().enumerate() {
        let m = wire::Message::parse(&s.data).unwrap_or_else(|e| panic!("message {i}: {e}"));
        if m.is_encrypted() {
            assert!(i >= 4, "MM1-MM4 are cleartext");
            assert_eq!(m.ciphertext().unwrap().len() % 8, 0, "3DES blocks");
        } else {
            assert!(i < 4);
            m.typed_payloads()
                .unwrap_or_else(|e| panic!("message {i}: {e}"));
        }
    }
}
