//! Tests of the IKEv2 codec: exact bytes, round trips, bounds, and the
//! IKE_SA_INIT / IKE_AUTH messages of two strongSwan 5.9.8 captures.

use std::net::Ipv4Addr;

use super::transform_id::{encr, integ, prf};
use super::*;
use crate::algo::{DhGroup, Ikev2Encryption, Ikev2EspEncryption, Ikev2Integrity, Ikev2Prf};
use crate::ike::wire::{HEADER_LEN, MAX_PAYLOADS, WireError};

// The IKE messages of tests/data/pcaps/ikev2-aes256gcm16-ecp256-libipsec5.9.8-udpencap.pcap
// and demo-deb598-v2gcm.pcap (strongSwan 5.9.8, aes256gcm16-prfsha256-ecp256,
// IKE_AUTH on UDP 4500 with the non-ESP marker stripped), extracted by
// testdata/extract.py.
const GCM_INIT_I: &[u8] = include_bytes!("testdata/gcm-ecp256-1-init-i.bin");
const GCM_INIT_R: &[u8] = include_bytes!("testdata/gcm-ecp256-2-init-r.bin");
const GCM_AUTH_I: &[u8] = include_bytes!("testdata/gcm-ecp256-3-auth-i.bin");
const GCM_AUTH_R: &[u8] = include_bytes!("testdata/gcm-ecp256-4-auth-r.bin");
const DEMO_INIT_I: &[u8] = include_bytes!("testdata/demo-1-init-i.bin");
const DEMO_INIT_R: &[u8] = include_bytes!("testdata/demo-2-init-r.bin");
const DEMO_AUTH_I: &[u8] = include_bytes!("testdata/demo-3-auth-i.bin");
const DEMO_AUTH_R: &[u8] = include_bytes!("testdata/demo-4-auth-r.bin");

fn header(exchange: u8, flags: u8) -> HeaderV2 {
    HeaderV2 {
        spi_i: [1, 2, 3, 4, 5, 6, 7, 8],
        spi_r: [9; 8],
        next_payload: 0,
        exchange,
        flags,
        message_id: 7,
        length: 0,
    }
}

/// A message whose body is `body` and first payload `first`.
fn message(first: u8, body: &[u8]) -> Vec<u8> {
    let mut h = header(exchange::IKE_AUTH, flags::INITIATOR);
    h.next_payload = first;
    h.length = (HEADER_LEN + body.len()) as u32;
    let mut m = h.emit().to_vec();
    m.extend_from_slice(body);
    m
}

/// One raw payload: generic header (next, flags) and body.
fn raw(next: u8, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![next, flags];
    p.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    p.extend_from_slice(body);
    p
}

fn sample_sa() -> SaV2 {
    SaV2 {
        proposals: vec![
            ProposalV2 {
                num: 1,
                protocol: protocol::IKE,
                spi: Vec::new(),
                transforms: vec![
                    TransformV2::ike_encr(Ikev2Encryption::Aes256Gcm),
                    TransformV2::prf(Ikev2Prf::Sha256),
                    TransformV2::dh(DhGroup::Ecp256),
                ],
            },
            ProposalV2 {
                num: 2,
                protocol: protocol::ESP,
                spi: vec![0xc0, 0x01, 0xd0, 0x0d],
                transforms: vec![
                    TransformV2::esp_encr(Ikev2EspEncryption::Aes128),
                    TransformV2::esp_integ(crate::algo::Ikev2EspIntegrity::Sha1).unwrap(),
                    TransformV2::esn(false),
                ],
            },
        ],
    }
}

fn every_payload() -> Vec<PayloadV2> {
    vec![
        PayloadV2::Sa(sample_sa()),
        PayloadV2::Ke(KeV2 {
            group: 19,
            data: (0..64).collect(),
        }),
        PayloadV2::Nonce(vec![0x5a; 32]),
        PayloadV2::IdI(IdV2::ipv4(Ipv4Addr::new(192, 0, 2, 1))),
        PayloadV2::IdR(IdV2 {
            id_type: id_type::FQDN,
            data: b"east.example".to_vec(),
        }),
        PayloadV2::Cert {
            encoding: 4,
            data: vec![0x30, 0x82, 0x01],
        },
        PayloadV2::CertReq {
            encoding: 4,
            data: vec![0xaa; 20],
        },
        PayloadV2::Auth(AuthV2 {
            method: auth_method::SHARED_KEY_MIC,
            data: vec![0x11; 32],
        }),
        PayloadV2::Notify(NotifyV2::ike(notify::INITIAL_CONTACT, Vec::new())),
        PayloadV2::Notify(NotifyV2 {
            protocol: protocol::ESP,
            spi: vec![1, 2, 3, 4],
            kind: notify::REKEY_SA,
            data: Vec::new(),
        }),
        PayloadV2::Delete(DeleteV2::esp(&[0x01020304, 0x0a0b0c0d])),
        PayloadV2::Delete(DeleteV2::ike()),
        PayloadV2::VendorId(b"strongSwan".to_vec()),
        PayloadV2::TsI(TsV2::new(vec![TrafficSelectorV2::range(
            Ipv4Addr::new(198, 51, 100, 0),
            Ipv4Addr::new(198, 51, 100, 255),
        )])),
        PayloadV2::TsR(TsV2::new(vec![
            TrafficSelectorV2 {
                ip_proto: 17,
                start_port: 500,
                end_port: 500,
                start: Ipv4Addr::new(203, 0, 113, 1),
                end: Ipv4Addr::new(203, 0, 113, 1),
            },
            TrafficSelectorV2::range(
                Ipv4Addr::new(203, 0, 113, 0),
                Ipv4Addr::new(203, 0, 113, 255),
            ),
        ])),
        PayloadV2::Other {
            kind: payload_type::CP.0,
            body: vec![1, 0, 0, 0, 0, 1, 0, 0],
        },
    ]
}

#[test]
fn header_round_trip_and_version_policy() {
    let mut h = header(exchange::IKE_SA_INIT, flags::INITIATOR | flags::VERSION);
    h.next_payload = 33;
    h.length = 28;
    let b = h.emit();
    assert_eq!(b[17], 0x20);
    assert_eq!(HeaderV2::parse(&b), Ok(h));
    assert!(h.from_initiator() && !h.is_response());
    // bytes after the header's length are not the header's business
    let mut longer = b.to_vec();
    longer.extend_from_slice(&[0; 10]);
    assert_eq!(HeaderV2::parse(&longer), Ok(h));
    // minor versions are ignored
    let mut minor = b;
    minor[17] = 0x21;
    assert_eq!(HeaderV2::parse(&minor), Ok(h));
    let mut v1 = b;
    v1[17] = 0x10;
    assert_eq!(HeaderV2::parse(&v1), Err(WireError::WrongVersion(1)));
    let mut v3 = b;
    v3[17] = 0x30;
    let e = HeaderV2::parse(&v3).unwrap_err();
    assert_eq!(e, WireError::UnsupportedVersion { major: 3, minor: 0 });
    assert_eq!(e.notify_type_v2(), notify::INVALID_MAJOR_VERSION);
    // length below the header, beyond the datagram
    let mut short = b;
    short[27] = 27;
    assert!(matches!(
        HeaderV2::parse(&short),
        Err(WireError::BadLength { .. })
    ));
    let mut long = b;
    long[27] = 29;
    assert!(matches!(
        HeaderV2::parse(&long),
        Err(WireError::Truncated { .. })
    ));
    assert!(matches!(
        HeaderV2::parse(&b[..27]),
        Err(WireError::Truncated { .. })
    ));
}

#[test]
fn sa_emits_exact_bytes() {
    let sa = SaV2 {
        proposals: vec![
            ProposalV2 {
                num: 1,
                protocol: protocol::IKE,
                spi: Vec::new(),
                transforms: vec![
                    TransformV2::ike_encr(Ikev2Encryption::Aes128),
                    TransformV2::prf(Ikev2Prf::Sha1),
                ],
            },
            ProposalV2 {
                num: 2,
                protocol: protocol::ESP,
                spi: vec![0xde, 0xad, 0xbe, 0xef],
                transforms: vec![TransformV2::esn(true)],
            },
        ],
    };
    let mut b = vec![0u8; sa.buffer_len()];
    sa.emit(&mut b);
    #[rustfmt::skip]
    let want: &[u8] = &[
        // proposal 1: more follow (2), length 8 + 12 + 8
        2, 0, 0, 28, 1, 1, 0, 2,
        //   transform ENCR AES-CBC, key length 128 (TV 0x800e): more follow (3)
        3, 0, 0, 12, 1, 0, 0, 12, 0x80, 0x0e, 0, 128,
        //   transform PRF HMAC-SHA1: last (0)
        0, 0, 0, 8, 2, 0, 0, 2,
        // proposal 2: last (0), SPI size 4, one transform
        0, 0, 0, 20, 2, 3, 4, 1, 0xde, 0xad, 0xbe, 0xef,
        //   transform ESN yes
        0, 0, 0, 8, 5, 0, 0, 1,
    ];
    assert_eq!(b, want);
    assert_eq!(SaV2::parse(&b), Ok(sa));
}

#[test]
fn every_payload_round_trips_in_a_chain() {
    let payloads = every_payload();
    let (first, bytes) = emit_chain(&payloads);
    assert_eq!(first, payload_type::SA.0);
    assert_eq!(parse_chain(first, &bytes), Ok(payloads.clone()));
    // re-emitting what was parsed gives the same bytes
    assert_eq!(emit_chain(&parse_chain(first, &bytes).unwrap()).1, bytes);
    // and each payload alone
    for p in &payloads {
        let (k, b) = emit_chain(std::slice::from_ref(p));
        assert_eq!(k, p.kind());
        assert_eq!(b.len(), 4 + p.body_len());
        assert_eq!(parse_chain(k, &b).unwrap(), vec![p.clone()], "{p:?}");
    }
    // a cleartext message of them
    let m = emit_message(header(exchange::IKE_SA_INIT, flags::INITIATOR), &payloads);
    let r = MessageV2Repr::parse(&m).unwrap();
    assert_eq!(r.header.length as usize, m.len());
    assert_eq!(r.header.next_payload, payload_type::SA.0);
    assert_eq!(r.payloads, payloads);
    assert_eq!(r.protected, Protected::None);
    assert_eq!(emit_message(r.header, &r.payloads), m);
    // empty chain, empty message
    assert_eq!(emit_chain(&[]), (0, Vec::new()));
    let empty = emit_message(header(exchange::INFORMATIONAL, 0), &[]);
    assert_eq!(empty.len(), HEADER_LEN);
    assert!(MessageV2Repr::parse(&empty).unwrap().payloads.is_empty());
}

#[test]
fn id_body_is_what_auth_covers() {
    let id = IdV2 {
        id_type: id_type::FQDN,
        data: b"gw".to_vec(),
    };
    assert_eq!(id.body(), vec![2, 0, 0, 0, b'g', b'w']);
    let (_, chain) = emit_chain(&[PayloadV2::IdI(id.clone())]);
    assert_eq!(&chain[4..], &id.body()[..]);
    assert!(
        IdV2::parse(&[1, 0, 0, 0, 1, 2, 3]).is_err(),
        "IPv4 of 3 bytes"
    );
    assert!(IdV2::parse(&[2, 0, 0, 0]).is_err(), "empty");
    assert!(IdV2::parse(&[0, 0, 0, 0, 1]).is_err(), "type 0");
    assert!(IdV2::parse(&[2, 0, 0]).is_err(), "truncated");
}

#[test]
fn unknown_transform_attributes_drop_the_transform_not_the_proposal() {
    #[rustfmt::skip]
    let body: &[u8] = &[
        0, 0, 0, 46, 1, 1, 0, 3,
        // ENCR AES-CBC 256 with an unknown TV attribute 15: dropped
        3, 0, 0, 16, 1, 0, 0, 12, 0x80, 14, 1, 0, 0x80, 15, 0, 1,
        // ENCR AES-CBC with a key length in TLV form: dropped
        3, 0, 0, 14, 1, 0, 0, 12, 0, 14, 0, 2, 1, 0,
        // PRF SHA2-256: kept
        0, 0, 0, 8, 2, 0, 0, 5,
    ];
    let sa = SaV2::parse(body).unwrap();
    assert_eq!(sa.proposals.len(), 1);
    assert_eq!(
        sa.proposals[0].transforms,
        vec![TransformV2::prf(Ikev2Prf::Sha256)]
    );
    // a truncated attribute is malformed, not unknown
    #[rustfmt::skip]
    let bad: &[u8] = &[
        0, 0, 0, 22, 1, 1, 0, 1,
        0, 0, 0, 14, 1, 0, 0, 12, 0, 14, 0, 5, 1, 0,
    ];
    assert!(matches!(SaV2::parse(bad), Err(WireError::Truncated { .. })));
    // Num Transforms counts every transform sent, usable or not
    let mut count = body.to_vec();
    count[7] = 2;
    assert_eq!(
        SaV2::parse(&count),
        Err(WireError::BadValue {
            what: "proposal transform count",
            value: 2
        })
    );
}

#[test]
fn sa_bounds_and_markers() {
    let sa = sample_sa();
    let mut b = vec![0u8; sa.buffer_len()];
    sa.emit(&mut b);
    // SPI sizes 0, 4, 8 only
    let mut p = ProposalV2 {
        num: 1,
        protocol: protocol::IKE,
        spi: vec![7; 8],
        transforms: vec![TransformV2::dh(DhGroup::Ecp521)],
    };
    let mut pb = vec![0u8; p.buffer_len()];
    p.emit(&mut pb);
    assert_eq!(ProposalV2::parse(&pb), Ok(p.clone()));
    assert_eq!(ProposalV2::parse(&pb).unwrap().spi_u64(), Some([7; 8]));
    p.spi = vec![7; 3];
    let mut pb = vec![0u8; p.buffer_len()];
    p.emit(&mut pb);
    assert_eq!(
        ProposalV2::parse(&pb),
        Err(WireError::BadLength {
            what: "proposal SPI size",
            len: 3
        })
    );
    // wrong "last substructure" marker
    let mut m = b.clone();
    m[0] = 3;
    assert!(matches!(SaV2::parse(&m), Err(WireError::BadValue { .. })));
    // last proposal followed by bytes
    let mut t = b.clone();
    t.extend_from_slice(&[0; 4]);
    assert_eq!(SaV2::parse(&t), Err(WireError::TrailingBytes(4)));
    // an SA needs a proposal
    assert!(SaV2::parse(&[]).is_err());
    // 65 proposals
    let many = SaV2 {
        proposals: vec![sa.proposals[0].clone(); 65],
    };
    let mut mb = vec![0u8; many.buffer_len()];
    many.emit(&mut mb);
    assert!(matches!(
        SaV2::parse(&mb),
        Err(WireError::BadLength {
            what: "proposal count",
            ..
        })
    ));
}

#[test]
fn transform_ids_map_to_algorithms_both_ways() {
    for e in [
        Ikev2Encryption::Des,
        Ikev2Encryption::TripleDes,
        Ikev2Encryption::Aes128,
        Ikev2Encryption::Aes192,
        Ikev2Encryption::Aes256,
        Ikev2Encryption::Aes128Gcm,
        Ikev2Encryption::Aes256Gcm,
    ] {
        assert_eq!(TransformV2::ike_encr(e).as_ike_encr(), Some(e));
    }
    assert_eq!(
        TransformV2::ike_encr(Ikev2Encryption::Aes256Gcm),
        TransformV2 {
            kind: transform_type::ENCR,
            id: encr::AES_GCM_16,
            key_len: Some(256)
        }
    );
    for p in [
        Ikev2Prf::Md5,
        Ikev2Prf::Sha1,
        Ikev2Prf::Sha256,
        Ikev2Prf::Sha384,
        Ikev2Prf::Sha512,
    ] {
        assert_eq!(TransformV2::prf(p).as_prf(), Some(p));
    }
    assert_eq!(TransformV2::prf(Ikev2Prf::Sha512).id, prf::HMAC_SHA2_512);
    for i in [
        Ikev2Integrity::Md5,
        Ikev2Integrity::Sha1,
        Ikev2Integrity::Sha256,
        Ikev2Integrity::Sha384,
        Ikev2Integrity::Sha512,
    ] {
        assert_eq!(TransformV2::ike_integ(i).unwrap().as_ike_integ(), Some(i));
    }
    assert_eq!(TransformV2::ike_integ(Ikev2Integrity::Null), None);
    assert_eq!(
        TransformV2::ike_integ(Ikev2Integrity::Sha256).unwrap().id,
        integ::HMAC_SHA2_256_128
    );
    for g in DhGroup::ALL {
        assert_eq!(TransformV2::dh(g).as_dh(), Some(g));
    }
    for e in [
        Ikev2EspEncryption::Null,
        Ikev2EspEncryption::TripleDes,
        Ikev2EspEncryption::Aes192,
        Ikev2EspEncryption::Aes256Gcm,
        Ikev2EspEncryption::ChaCha20Poly1305,
    ] {
        assert_eq!(TransformV2::esp_encr(e).as_esp_encr(), Some(e));
    }
    assert_eq!(TransformV2::esn(true).as_esn(), Some(true));
    // AES without a key length, 3DES with one, PRF of the wrong type
    let aes = TransformV2 {
        kind: transform_type::ENCR,
        id: encr::AES_CBC,
        key_len: None,
    };
    assert_eq!(aes.as_ike_encr(), None);
    let tdes = TransformV2 {
        key_len: Some(192),
        ..TransformV2::ike_encr(Ikev2Encryption::TripleDes)
    };
    assert_eq!(tdes.as_ike_encr(), None);
    assert_eq!(TransformV2::dh(DhGroup::Ecp256).as_prf(), None);
}

#[test]
fn payload_bounds() {
    let nonce = |n: usize| parse_chain(payload_type::NONCE.0, &raw(0, 0, &vec![1; n]));
    assert!(nonce(15).is_err());
    assert!(nonce(16).is_ok());
    assert!(nonce(256).is_ok());
    assert!(nonce(257).is_err());
    let ke = |n: usize| {
        let mut b = vec![0, 19, 0, 0];
        b.extend(std::iter::repeat_n(7, n));
        KeV2::parse(&b)
    };
    assert!(ke(0).is_err());
    assert!(ke(1024).is_ok());
    assert!(ke(1025).is_err());
    assert!(KeV2::parse(&[0, 19, 0]).is_err());
    // notify: SPI size, data bound
    assert!(NotifyV2::parse(&[3, 4, 0x40, 0x09, 1, 2, 3, 4]).is_ok());
    assert!(NotifyV2::parse(&[3, 5, 0x40, 0x09, 1, 2, 3, 4, 5]).is_err());
    assert!(NotifyV2::parse(&[3, 4, 0x40, 0x09, 1, 2, 3]).is_err());
    let mut big = vec![0, 0, 0x40, 0x00];
    big.extend(vec![0; 4097]);
    assert!(NotifyV2::parse(&big).is_err());
    // delete: size 0 (IKE) needs no SPIs; ESP SPIs fill the body exactly
    assert_eq!(DeleteV2::parse(&[1, 0, 0, 0]), Ok(DeleteV2::ike()));
    assert_eq!(
        DeleteV2::parse(&[3, 4, 0, 1, 1, 2, 3, 4])
            .unwrap()
            .spis_u32()
            .collect::<Vec<_>>(),
        vec![0x01020304]
    );
    assert!(DeleteV2::parse(&[3, 4, 0, 2, 1, 2, 3, 4]).is_err());
    assert_eq!(
        DeleteV2::parse(&[3, 4, 0, 1, 1, 2, 3, 4, 5]),
        Err(WireError::TrailingBytes(1))
    );
    let mut many = vec![3, 4, 1, 1];
    many.extend(vec![0; 257 * 4]);
    assert!(DeleteV2::parse(&many).is_err());
    // AUTH
    assert!(AuthV2::parse(&[2, 0, 0, 0]).is_err());
    let mut a = vec![14, 0, 0, 0];
    a.extend(vec![0; MAX_AUTH_DATA_LEN + 1]);
    assert!(AuthV2::parse(&a).is_err());
    // CERT needs its encoding byte
    assert!(parse_chain(payload_type::CERT.0, &raw(0, 0, &[])).is_err());
}

#[test]
fn traffic_selectors_skip_ipv6_and_are_bounded() {
    let v4 = TrafficSelectorV2::range(Ipv4Addr::new(10, 0, 0, 0), Ipv4Addr::new(10, 0, 0, 255));
    let mut one = vec![0u8; TsV2::new(vec![v4]).buffer_len()];
    TsV2::new(vec![v4]).emit(&mut one);
    assert_eq!(
        one,
        [
            1, 0, 0, 0, 7, 0, 0, 16, 0, 0, 0xff, 0xff, 10, 0, 0, 0, 10, 0, 0, 255
        ]
    );
    // an IPv6 range after it: skipped and counted
    let mut mixed = one.clone();
    mixed[0] = 2;
    mixed.extend_from_slice(&[8, 0, 0, 40, 0, 0, 0xff, 0xff]);
    mixed.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    mixed.extend_from_slice(&[0; 28]);
    assert_eq!(
        TsV2::parse(&mixed),
        Ok(TsV2 {
            selectors: vec![v4],
            skipped: 1
        })
    );
    // a type-7 selector of the wrong length
    let mut bad = one.clone();
    bad[7] = 17;
    assert!(TsV2::parse(&bad).is_err());
    // count above the selectors present, or below (trailing bytes)
    let mut more = one.clone();
    more[0] = 2;
    assert!(TsV2::parse(&more).is_err());
    let mut less = mixed.clone();
    less[0] = 1;
    assert_eq!(TsV2::parse(&less), Err(WireError::TrailingBytes(40)));
    // 17 selectors
    let many = TsV2::new(vec![v4; 17]);
    let mut mb = vec![0u8; many.buffer_len()];
    many.emit(&mut mb);
    assert!(matches!(
        TsV2::parse(&mb),
        Err(WireError::BadLength {
            what: "traffic selector count",
            len: 17
        })
    ));
    let sixteen = TsV2::new(vec![v4; 16]);
    let mut sb = vec![0u8; sixteen.buffer_len()];
    sixteen.emit(&mut sb);
    assert_eq!(TsV2::parse(&sb), Ok(sixteen));
}

#[test]
fn critical_bit_decides_unknown_payloads() {
    // an unknown type 200 before a nonce
    let mut body = raw(payload_type::NONCE.0, 0, &[1, 2, 3]);
    body.extend(raw(0, 0, &[9; 16]));
    let m = MessageV2Repr::parse(&message(200, &body)).unwrap();
    assert_eq!(
        m.payloads,
        vec![
            PayloadV2::Other {
                kind: 200,
                body: vec![1, 2, 3]
            },
            PayloadV2::Nonce(vec![9; 16])
        ]
    );
    // the same with the critical bit: the message is refused
    body[1] = CRITICAL;
    let e = MessageV2Repr::parse(&message(200, &body)).unwrap_err();
    assert_eq!(e, WireError::UnsupportedCriticalPayload(200));
    assert_eq!(e.notify_type_v2(), notify::UNSUPPORTED_CRITICAL_PAYLOAD);
    assert_eq!(
        parse_chain(200, &body),
        Err(WireError::UnsupportedCriticalPayload(200))
    );
    // a known payload with the critical bit (and reserved bits) set is fine
    let nonce = raw(0, 0xff, &[9; 16]);
    assert_eq!(
        parse_chain(payload_type::NONCE.0, &nonce),
        Ok(vec![PayloadV2::Nonce(vec![9; 16])])
    );
    // malformed known payloads give INVALID_SYNTAX
    assert_eq!(
        parse_chain(payload_type::NONCE.0, &raw(0, 0, &[1]))
            .unwrap_err()
            .notify_type_v2(),
        notify::INVALID_SYNTAX
    );
}

#[test]
fn payload_count_is_bounded() {
    let vid = |next: u8| raw(next, 0, b"v");
    let chain = |n: usize| {
        let mut b = Vec::new();
        for i in 0..n {
            b.extend(vid(if i + 1 == n {
                0
            } else {
                payload_type::VENDOR_ID.0
            }));
        }
        b
    };
    assert_eq!(
        parse_chain(payload_type::VENDOR_ID.0, &chain(MAX_PAYLOADS))
            .unwrap()
            .len(),
        MAX_PAYLOADS
    );
    assert_eq!(
        parse_chain(payload_type::VENDOR_ID.0, &chain(MAX_PAYLOADS + 1)),
        Err(WireError::TooManyPayloads {
            limit: MAX_PAYLOADS
        })
    );
    assert!(
        MessageV2Repr::parse(&message(
            payload_type::VENDOR_ID.0,
            &chain(MAX_PAYLOADS + 1)
        ))
        .is_err()
    );
}

#[test]
fn chains_must_fill_their_bytes() {
    let mut b = raw(0, 0, &[9; 16]);
    b.push(0);
    assert_eq!(
        parse_chain(payload_type::NONCE.0, &b),
        Err(WireError::TrailingBytes(1))
    );
    assert!(MessageV2Repr::parse(&message(payload_type::NONCE.0, &b)).is_err());
    // a payload longer than what is left
    let mut t = raw(0, 0, &[9; 16]);
    t.truncate(10);
    assert!(matches!(
        parse_chain(payload_type::NONCE.0, &t),
        Err(WireError::Truncated { .. })
    ));
    // an SK payload never nests in a decrypted body
    assert_eq!(
        parse_chain(payload_type::SK.0, &raw(0, 0, &[0; 24])),
        Err(WireError::InvalidPayloadType(46))
    );
}

#[test]
fn sk_and_skf_end_the_message() {
    // a cleartext notify, then SK whose first inner payload is IDi
    let mut body = raw(payload_type::SK.0, 0, &[0, 0, 0x40, 0]);
    body.extend(raw(payload_type::IDI.0, 0, &[0xee; 40]));
    let m = MessageV2Repr::parse(&message(payload_type::NOTIFY.0, &body)).unwrap();
    assert_eq!(m.payloads.len(), 1);
    assert_eq!(
        m.protected,
        Protected::Sk {
            first_inner: payload_type::IDI.0,
            offset: HEADER_LEN + 8
        }
    );
    assert!(m.notify(notify::INITIAL_CONTACT).is_some());
    // SK followed by anything
    let mut after = body.clone();
    after.extend(raw(0, 0, &[1]));
    assert_eq!(
        MessageV2Repr::parse(&message(payload_type::NOTIFY.0, &after)),
        Err(WireError::TrailingBytes(5))
    );
    // SKF fragment 2 of 3
    let skf = raw(0, 0, &[0, 2, 0, 3, 0xee, 0xee]);
    let m = MessageV2Repr::parse(&message(payload_type::SKF.0, &skf)).unwrap();
    assert_eq!(
        m.protected,
        Protected::Skf {
            first_inner: 0,
            offset: HEADER_LEN,
            number: 2,
            total: 3
        }
    );
    for bad in [[0u8, 0, 0, 3], [0, 4, 0, 3], [0, 1, 0, 0]] {
        let mut b = bad.to_vec();
        b.extend([0xee; 8]);
        assert!(matches!(
            MessageV2Repr::parse(&message(payload_type::SKF.0, &raw(0, 0, &b))),
            Err(WireError::BadValue { .. })
        ));
    }
    assert!(MessageV2Repr::parse(&message(payload_type::SKF.0, &raw(0, 0, &[0, 1]))).is_err());
}

/// What both captures' IKE_SA_INIT messages carry.
fn check_sa_init(bytes: &[u8], response: bool) {
    let m = MessageV2Repr::parse(bytes).unwrap();
    assert_eq!(m.header.exchange, exchange::IKE_SA_INIT);
    assert_eq!(m.header.message_id, 0);
    assert_eq!(m.header.length as usize, bytes.len());
    assert_eq!(m.header.is_response(), response);
    assert_eq!(m.header.from_initiator(), !response);
    assert_eq!(m.header.spi_r == [0; 8], !response);
    assert_eq!(m.protected, Protected::None);
    let PayloadV2::Sa(sa) = &m.payloads[0] else {
        panic!("SA first: {:?}", m.payloads[0])
    };
    assert_eq!(sa.proposals.len(), 1);
    let p = &sa.proposals[0];
    assert_eq!((p.num, p.protocol, p.spi.len()), (1, protocol::IKE, 0));
    assert_eq!(
        p.transforms,
        vec![
            TransformV2 {
                kind: transform_type::ENCR,
                id: 20,
                key_len: Some(256)
            },
            TransformV2 {
                kind: transform_type::PRF,
                id: 5,
                key_len: None
            },
            TransformV2 {
                kind: transform_type::DH,
                id: 19,
                key_len: None
            },
        ]
    );
    assert_eq!(
        p.transforms[0].as_ike_encr(),
        Some(Ikev2Encryption::Aes256Gcm)
    );
    assert_eq!(p.transforms[1].as_prf(), Some(Ikev2Prf::Sha256));
    assert_eq!(p.transforms[2].as_dh(), Some(DhGroup::Ecp256));
    let PayloadV2::Ke(ke) = &m.payloads[1] else {
        panic!("KE second")
    };
    assert_eq!((ke.group, ke.data.len()), (19, 64));
    let PayloadV2::Nonce(n) = &m.payloads[2] else {
        panic!("nonce third")
    };
    assert_eq!(n.len(), 32);
    for nat_d in [
        notify::NAT_DETECTION_SOURCE_IP,
        notify::NAT_DETECTION_DESTINATION_IP,
    ] {
        let n = m.notify(nat_d).expect("NAT-D notify");
        assert_eq!((n.protocol, n.spi.len(), n.data.len()), (0, 0, 20));
    }
    let frag = m.notify(notify::IKEV2_FRAGMENTATION_SUPPORTED).unwrap();
    assert!(frag.data.is_empty());
    // RFC 7427: SHA2-256, SHA2-384, SHA2-512, Identity
    let sig = m.notify(notify::SIGNATURE_HASH_ALGORITHMS).unwrap();
    assert_eq!(sig.data, [0, 2, 0, 3, 0, 4, 0, 5]);
    assert!(
        m.payloads[3..]
            .iter()
            .all(|p| matches!(p, PayloadV2::Notify(_)))
    );
    // strongSwan's message comes back byte for byte
    assert_eq!(emit_message(m.header, &m.payloads), bytes);
}

#[test]
fn strongswan_ike_sa_init_parses_fully() {
    check_sa_init(GCM_INIT_I, false);
    check_sa_init(GCM_INIT_R, true);
    check_sa_init(DEMO_INIT_I, false);
    check_sa_init(DEMO_INIT_R, true);
    let r = MessageV2Repr::parse(GCM_INIT_R).unwrap();
    let i = MessageV2Repr::parse(GCM_INIT_I).unwrap();
    assert_eq!(r.header.spi_i, i.header.spi_i);
    // the request carries 5 notifies, the response 6
    assert_eq!(i.payloads.len(), 3 + 5);
    assert_eq!(r.payloads.len(), 3 + 6);
}

#[test]
fn strongswan_ike_auth_is_header_and_sk() {
    for (bytes, response, inner) in [
        (GCM_AUTH_I, false, payload_type::IDI.0),
        (GCM_AUTH_R, true, payload_type::IDR.0),
        (DEMO_AUTH_I, false, payload_type::IDI.0),
        (DEMO_AUTH_R, true, payload_type::IDR.0),
    ] {
        let m = MessageV2Repr::parse(bytes).unwrap();
        assert_eq!(m.header.exchange, exchange::IKE_AUTH);
        assert_eq!(m.header.message_id, 1);
        assert_eq!(m.header.is_response(), response);
        assert!(m.payloads.is_empty());
        assert_eq!(
            m.protected,
            Protected::Sk {
                first_inner: inner,
                offset: HEADER_LEN
            }
        );
        // SK spans the rest: 8-byte IV, ciphertext, 16-byte tag
        let sk_len = u16::from_be_bytes([bytes[HEADER_LEN + 2], bytes[HEADER_LEN + 3]]);
        assert_eq!(HEADER_LEN + sk_len as usize, bytes.len());
        assert!(bytes.len() > HEADER_LEN + SK_HEADER_LEN + 8 + 16);
    }
}

#[test]
fn truncations_and_corruptions_of_real_messages_never_panic() {
    for m in [GCM_INIT_I, GCM_INIT_R, GCM_AUTH_I, GCM_AUTH_R] {
        for n in 0..m.len() {
            let mut cut = m[..n].to_vec();
            let _ = MessageV2Repr::parse(&cut);
            // keep the header consistent with the cut
            if n >= HEADER_LEN {
                cut[24..28].copy_from_slice(&(n as u32).to_be_bytes());
                assert!(MessageV2Repr::parse(&cut).is_err() || n == m.len());
            }
        }
        for i in 0..m.len() {
            for bit in [0x01, 0x80] {
                let mut c = m.to_vec();
                c[i] ^= bit;
                let _ = MessageV2Repr::parse(&c);
            }
        }
    }
}
