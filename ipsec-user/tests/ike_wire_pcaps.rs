//! The ISAKMP codec against real captures (strongSwan 5.9.8 with
//! kernel-libipsec, IKEv1 main and aggressive mode, IKEv2), read with the
//! harness's pcap reader: every IKE datagram parses, cleartext IKEv1 parses fully and
//! re-emits byte-identical, and no damage to a real message panics.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipsecgw::algo::{DhGroup, IkeAuth, IkeEncryption, IkeHash};
use ipsecgw::ike::wire::*;

/// The harness's pcap reader (this crate cannot depend on the harness
/// crate): either byte order, Ethernet or Linux cooked links.
#[path = "../../tests/harness/pcap.rs"]
mod pcap;

/// Every IPv4/UDP datagram of a capture under `tests/data/pcaps`.
fn read_pcap(name: &str) -> Vec<pcap::Udp> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/pcaps")
        .join(name);
    pcap::read(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .udp_datagrams()
}

/// The IKE messages of a capture (port 500 as is, 4500 after the
/// non-ESP marker), and the number of UDP-encapsulated ESP packets.
fn ike_messages(name: &str) -> (Vec<Vec<u8>>, usize) {
    let mut ike = Vec::new();
    let mut esp = 0;
    for u in read_pcap(name) {
        match (u.src.port(), u.dst.port()) {
            (500, 500) => ike.push(u.payload),
            (4500, 4500) => match classify_udp4500(&u.payload) {
                Udp4500::Ike(m) => ike.push(m.to_vec()),
                Udp4500::Esp(_) => esp += 1,
                Udp4500::Keepalive => {}
                Udp4500::Malformed(e) => panic!("{name}: malformed 4500 datagram: {e}"),
            },
            _ => {}
        }
    }
    (ike, esp)
}

const ALL: [&str; 5] = [
    "demo-deb598-v1aggr.pcap",
    "demo-deb598-v1main.pcap",
    "demo-deb598-v2gcm.pcap",
    "ikev1-main-3des-sha1-modp1024-libipsec5.9.8-udpencap.pcap",
    "ikev2-aes256gcm16-ecp256-libipsec5.9.8-udpencap.pcap",
];

fn v1(bytes: &[u8]) -> Message<'_> {
    match IkeMessage::parse(bytes).unwrap() {
        IkeMessage::V1(m) => m,
        IkeMessage::V2(_) => panic!("expected IKEv1"),
    }
}

fn kinds(m: &Message<'_>) -> Vec<u8> {
    m.payloads.payloads.iter().map(|p| p.kind.0).collect()
}

fn only_sa(m: &Message<'_>) -> SaRepr {
    match Payload::parse(m.payloads.find(PayloadType::SA).unwrap()).unwrap() {
        Payload::Sa(sa) => sa,
        _ => unreachable!(),
    }
}

fn vendors(m: &Message<'_>) -> Vec<Option<KnownVendor>> {
    m.payloads
        .all(PayloadType::VENDOR_ID)
        .map(|p| KnownVendor::recognise(p.body))
        .collect()
}

fn typed<T>(m: &Message<'_>, kind: PayloadType, f: impl Fn(Payload) -> Option<T>) -> Vec<T> {
    m.payloads
        .all(kind)
        .map(|p| f(Payload::parse(p).unwrap()).unwrap())
        .collect()
}

#[test]
fn every_capture_parses_and_cleartext_round_trips() {
    let mut cleartext = 0;
    for name in ALL {
        let (msgs, esp) = ike_messages(name);
        assert!(msgs.len() >= 4, "{name}: only {} IKE messages", msgs.len());
        assert!(esp >= 2, "{name}: ESP not classified");
        for bytes in &msgs {
            match IkeMessage::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}")) {
                IkeMessage::V1(m) => {
                    assert_eq!(m.trailing_len, 0);
                    if m.is_encrypted() {
                        // 3DES or AES-CBC ciphertext: whole blocks.
                        let ct = m.ciphertext().unwrap();
                        assert!(
                            !ct.is_empty() && ct.len() % 8 == 0,
                            "{name}: ciphertext of {}",
                            ct.len()
                        );
                        continue;
                    }
                    cleartext += 1;
                    let mut b = MessageBuilder::new(m.header);
                    for p in m.typed_payloads().unwrap() {
                        b.push(p);
                    }
                    assert_eq!(&b.build().unwrap(), bytes, "{name}: re-emit differs");
                }
                IkeMessage::V2(m) => {
                    assert_eq!(bytes[17], 0x20, "{name}: version 2.0");
                    assert!((34..=37).contains(&m.header.exchange));
                    // Something in clear, or the SK payload.
                    assert!(!m.payloads.is_empty() || m.protected != v2::Protected::None);
                    // (An IKEv1-only entry's NO_PROPOSAL_CHOSEN answer is the
                    // IKEv2 engine's: tests/ike_v2_exchanges.rs, fallback.)
                }
            }
        }
    }
    // 4 main mode (x2 captures) + 2 aggressive.
    assert_eq!(cleartext, 10);
}

fn check_main_mode(name: &str) {
    let (msgs, _) = ike_messages(name);
    assert_eq!(msgs.len(), 9, "{name}");
    let m1 = v1(&msgs[0]);
    assert_eq!(m1.header.exchange_type, ExchangeType::MAIN);
    assert_eq!(m1.header.responder_cookie, [0; 8]);
    assert_eq!(kinds(&m1), [1, 13, 13, 13, 13, 13]);
    let sa = only_sa(&m1);
    assert_eq!((sa.doi, sa.situation), (DOI_IPSEC, SIT_IDENTITY_ONLY));
    assert_eq!(sa.proposals.len(), 1);
    let p = &sa.proposals[0];
    assert_eq!(
        (p.number, p.protocol, p.spi.len(), p.transforms.len()),
        (1, ProtocolId::ISAKMP, 0, 1)
    );
    let a = Phase1Attrs::from_attributes(&p.transforms[0].attributes).unwrap();
    assert_eq!(
        a,
        Phase1Attrs {
            encryption: IkeEncryption::TripleDes,
            hash: IkeHash::Sha1,
            auth: IkeAuth::PreShare,
            group: DhGroup::Modp1024,
            life_seconds: Some(15840),
            life_kilobytes: None,
        }
    );
    assert_eq!(
        vendors(&m1),
        [
            Some(KnownVendor::Xauth),
            Some(KnownVendor::Dpd),
            Some(KnownVendor::Fragmentation),
            Some(KnownVendor::NatTRfc3947),
            Some(KnownVendor::NatTDraft02N),
        ]
    );

    // Message 2: the responder picks the same transform, has a cookie, and
    // answers with 4 vendor ids.
    let m2 = v1(&msgs[1]);
    assert_eq!(m2.header.initiator_cookie, m1.header.initiator_cookie);
    assert_ne!(m2.header.responder_cookie, [0; 8]);
    assert_eq!(only_sa(&m2).proposals, sa.proposals);
    let v2 = vendors(&m2);
    assert_eq!(v2.len(), 4);
    assert!(v2.contains(&Some(KnownVendor::NatTRfc3947)));
    assert!(v2.contains(&Some(KnownVendor::Dpd)));

    // Messages 3 and 4: KE (modp1024 = 128 bytes), 32-byte nonces, two
    // RFC 3947 NAT-D payloads (type 20) of SHA-1 length.
    for m in [v1(&msgs[2]), v1(&msgs[3])] {
        assert_eq!(kinds(&m), [4, 10, 20, 20]);
        let ke = typed(&m, PayloadType::KE, |p| {
            if let Payload::Ke(k) = p {
                Some(k)
            } else {
                None
            }
        });
        assert_eq!(ke[0].data.len(), 128);
        let n = typed(&m, PayloadType::NONCE, |p| {
            if let Payload::Nonce(n) = p {
                Some(n)
            } else {
                None
            }
        });
        assert_eq!(n[0].data.len(), 32);
        let natd = typed(&m, PayloadType::NAT_D, |p| {
            if let Payload::NatD(n) = p {
                Some(n)
            } else {
                None
            }
        });
        assert_eq!(natd.len(), 2);
        assert!(natd.iter().all(|d| d.hash.len() == 20 && !d.draft));
    }
    // Messages 5-6 (MM5/MM6 over 4500) and quick mode: encrypted.
    for (i, b) in msgs[4..].iter().enumerate() {
        let m = v1(b);
        assert!(m.is_encrypted());
        let want = if i < 2 {
            ExchangeType::MAIN
        } else {
            ExchangeType::QUICK
        };
        assert_eq!(m.header.exchange_type, want);
        assert_eq!(
            m.header.next_payload,
            if i < 2 {
                PayloadType::ID
            } else {
                PayloadType::HASH
            }
        );
        assert_eq!(m.header.message_id == 0, i < 2);
    }
}

#[test]
fn main_mode_captures_parse_fully() {
    check_main_mode("ikev1-main-3des-sha1-modp1024-libipsec5.9.8-udpencap.pcap");
    check_main_mode("demo-deb598-v1main.pcap");
}

#[test]
fn aggressive_mode_capture_parses_fully() {
    let (msgs, _) = ike_messages("demo-deb598-v1aggr.pcap");
    assert_eq!(msgs.len(), 6);
    let m1 = v1(&msgs[0]);
    assert_eq!(m1.header.exchange_type, ExchangeType::AGGRESSIVE);
    assert_eq!(kinds(&m1), [1, 4, 10, 5, 13, 13, 13, 13, 13]);
    let sa = only_sa(&m1);
    let a = Phase1Attrs::from_attributes(&sa.proposals[0].transforms[0].attributes).unwrap();
    assert_eq!(a.encryption, IkeEncryption::Aes128);
    assert_eq!(a.hash, IkeHash::Sha256);
    assert_eq!(a.group, DhGroup::Modp2048);
    assert_eq!(a.auth, IkeAuth::PreShare);
    assert_eq!(a.life_seconds, Some(15840));
    let ke = typed(&m1, PayloadType::KE, |p| {
        if let Payload::Ke(k) = p {
            Some(k)
        } else {
            None
        }
    });
    assert_eq!(ke[0].data.len(), 256);
    let id = typed(&m1, PayloadType::ID, |p| {
        if let Payload::Id(i) = p {
            Some(i)
        } else {
            None
        }
    });
    assert_eq!(
        id[0],
        IdRepr {
            protocol: 0,
            port: 0,
            identity: Identity::Ipv4(Ipv4Addr::new(192, 0, 2, 1))
        }
    );

    let m2 = v1(&msgs[1]);
    assert_eq!(kinds(&m2), [1, 4, 10, 5, 13, 13, 13, 13, 20, 20, 8]);
    let id = typed(&m2, PayloadType::ID, |p| {
        if let Payload::Id(i) = p {
            Some(i)
        } else {
            None
        }
    });
    assert_eq!(id[0].identity, Identity::Ipv4(Ipv4Addr::new(192, 0, 2, 2)));
    let h = typed(&m2, PayloadType::HASH, |p| {
        if let Payload::Hash(h) = p {
            Some(h)
        } else {
            None
        }
    });
    assert_eq!(h[0].data.len(), 32, "HASH_R is a SHA-256 PRF output");
    let natd = typed(&m2, PayloadType::NAT_D, |p| {
        if let Payload::NatD(n) = p {
            Some(n)
        } else {
            None
        }
    });
    assert!(natd.iter().all(|d| d.hash.len() == 32));
    // The raw SA body is what HASH_R covers (SAi_b): it must be the SA
    // payload minus its 4-byte generic header.
    let raw = m1.payloads.find(PayloadType::SA).unwrap();
    assert_eq!(&raw.bytes[4..], raw.body);
    assert_eq!(raw.offset, 0);

    let m3 = v1(&msgs[2]);
    assert!(m3.is_encrypted());
    assert_eq!(m3.ciphertext().unwrap().len() % 16, 0, "AES-CBC blocks");
}

#[test]
fn ikev2_captures_parse_to_the_generic_chain() {
    for name in [
        "demo-deb598-v2gcm.pcap",
        "ikev2-aes256gcm16-ecp256-libipsec5.9.8-udpencap.pcap",
    ] {
        let (msgs, _) = ike_messages(name);
        assert_eq!(msgs.len(), 4);
        let parsed: Vec<_> = msgs
            .iter()
            .map(|b| match IkeMessage::parse(b).unwrap() {
                IkeMessage::V2(m) => m,
                IkeMessage::V1(_) => panic!("expected IKEv2"),
            })
            .collect();
        let kinds = |m: &v2::MessageV2Repr| m.payloads.iter().map(|p| p.kind()).collect::<Vec<_>>();
        assert_eq!(parsed[0].header.exchange, v2::exchange::IKE_SA_INIT);
        assert!(parsed[0].header.from_initiator() && !parsed[0].header.is_response());
        assert_eq!(kinds(&parsed[0]), [33, 34, 40, 41, 41, 41, 41, 41]);
        assert!(parsed[1].header.is_response());
        assert_eq!(kinds(&parsed[1])[..3], [33, 34, 40]);
        for m in &parsed[2..] {
            assert_eq!(m.header.exchange, v2::exchange::IKE_AUTH);
            // Only the SK payload (46): nothing in clear before it.
            assert!(kinds(m).is_empty(), "{:?}", kinds(m));
            assert!(matches!(m.protected, v2::Protected::Sk { .. }));
        }
        // The IKEv1 parser says "wrong version", not "malformed".
        assert_eq!(Message::parse(&msgs[0]), Err(WireError::WrongVersion(2)));
    }
}

/// Parses everything a daemon would, without panicking; returns whether it parsed.
fn parse_all(bytes: &[u8]) -> bool {
    match IkeMessage::parse(bytes) {
        Ok(IkeMessage::V1(m)) => m.typed_payloads().is_ok() || m.is_encrypted(),
        Ok(IkeMessage::V2(_)) => true,
        Err(_) => false,
    }
}

#[test]
fn damaged_real_messages_never_panic() {
    for name in ALL {
        let (msgs, _) = ike_messages(name);
        for bytes in &msgs {
            for cut in 0..bytes.len() {
                // A datagram cut short: the header length no longer fits.
                assert!(
                    IkeMessage::parse(&bytes[..cut]).is_err(),
                    "{name}: cut {cut} parsed"
                );
                // The same cut with the header length made consistent.
                if cut >= HEADER_LEN {
                    let mut b = bytes[..cut].to_vec();
                    b[24..28].copy_from_slice(&(cut as u32).to_be_bytes());
                    let _ = parse_all(&b);
                }
            }
            // Every byte replaced by a few interesting values.
            let mut b = bytes.clone();
            for i in 0..b.len() {
                let orig = b[i];
                for v in [0x00, 0x01, 0x03, 0x7f, 0x80, 0xff, orig ^ 0x04] {
                    b[i] = v;
                    let _ = parse_all(&b);
                }
                b[i] = orig;
            }
        }
    }
}

#[test]
fn cleartext_truncated_inside_payloads_is_always_an_error() {
    for name in ["demo-deb598-v1main.pcap", "demo-deb598-v1aggr.pcap"] {
        let (msgs, _) = ike_messages(name);
        for bytes in msgs.iter().filter(|b| b[19] & 1 == 0) {
            for cut in HEADER_LEN + 1..bytes.len() {
                let mut b = bytes[..cut].to_vec();
                b[24..28].copy_from_slice(&(cut as u32).to_be_bytes());
                assert!(!parse_all(&b), "{name}: truncation at {cut} accepted");
            }
        }
    }
}
