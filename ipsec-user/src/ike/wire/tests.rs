//! Unit tests over real bytes (strongSwan 5.9.8 main mode message 1) and
//! hand-built edge cases.  The full pcap suite is `tests/ike_wire_pcaps.rs`.

use super::*;
use crate::algo::{DhGroup, EspCipher, EspInteg, IkeAuth, IkeEncryption, IkeHash};

/// strongSwan's main mode message 1 (demo-deb598-v1main.pcap, first IKE packet).
const MM1: &str = "fc1247b87c7595cb00000000000000000110020000000000000000b00d00003400000001000000010000002801010001000000200101000080010005800200028004000280030001800b0001800c3de00d00000c09002689dfd6b7120d000014afcad71368a1f1c96b8696fc775701000d0000184048b7d56ebce88525e7de7f00d6c2d3800000000d0000144a131c81070358455c5728f20e95452f0000001490cb80913ebb696e086381b5ec427b1f";

fn mm1() -> Vec<u8> {
    hex::decode(MM1).unwrap()
}

#[test]
fn main_mode_1_parses_fully() {
    let bytes = mm1();
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(
        m.header.initiator_cookie,
        [0xfc, 0x12, 0x47, 0xb8, 0x7c, 0x75, 0x95, 0xcb]
    );
    assert_eq!(m.header.responder_cookie, [0; 8]);
    assert_eq!(m.header.exchange_type, ExchangeType::MAIN);
    assert_eq!((m.header.major_version, m.header.minor_version), (1, 0));
    assert_eq!(m.header.length as usize, bytes.len());
    let kinds: Vec<_> = m.payloads.payloads.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            PayloadType::SA,
            PayloadType::VENDOR_ID,
            PayloadType::VENDOR_ID,
            PayloadType::VENDOR_ID,
            PayloadType::VENDOR_ID,
            PayloadType::VENDOR_ID
        ]
    );
    let typed = m.typed_payloads().unwrap();
    let Payload::Sa(sa) = &typed[0] else {
        panic!("not an SA")
    };
    assert_eq!(sa.proposals.len(), 1);
    let p = &sa.proposals[0];
    assert_eq!(p.protocol, ProtocolId::ISAKMP);
    assert!(p.spi.is_empty());
    let t = &p.transforms[0];
    assert_eq!(t.id, ike_attr::TRANSFORM_KEY_IKE);
    let a = Phase1Attrs::from_attributes(&t.attributes).unwrap();
    assert_eq!(a.encryption, IkeEncryption::TripleDes);
    assert_eq!(a.hash, IkeHash::Sha1);
    assert_eq!(a.auth, IkeAuth::PreShare);
    assert_eq!(a.group, DhGroup::Modp1024);
    assert_eq!(a.life_seconds, Some(0x3de0));
    // strongSwan's attribute order is ours: re-encoding gives its bytes.
    assert_eq!(a.to_attributes(), t.attributes);
    let vendors: Vec<_> = typed[1..]
        .iter()
        .map(|p| match p {
            Payload::VendorId(v) => v.recognise(),
            _ => panic!("not a vid"),
        })
        .collect();
    assert_eq!(
        vendors,
        [
            Some(KnownVendor::Xauth),
            Some(KnownVendor::Dpd),
            Some(KnownVendor::Fragmentation),
            Some(KnownVendor::NatTRfc3947),
            Some(KnownVendor::NatTDraft02N)
        ]
    );
}

#[test]
fn main_mode_1_round_trips_through_builder() {
    let bytes = mm1();
    let m = Message::parse(&bytes).unwrap();
    let mut b = MessageBuilder::new(m.header);
    for p in m.typed_payloads().unwrap() {
        b.push(p);
    }
    assert_eq!(b.build().unwrap(), bytes);
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let bytes = mm1();
    for cut in 0..bytes.len() {
        assert!(
            Message::parse(&bytes[..cut]).is_err(),
            "prefix of {cut} bytes parsed"
        );
    }
}

#[test]
fn truncation_with_consistent_header_length_is_an_error() {
    // Fix the header length to the cut, so the damage is inside payloads.
    let bytes = mm1();
    for cut in HEADER_LEN + 1..bytes.len() {
        let mut b = bytes[..cut].to_vec();
        b[24..28].copy_from_slice(&(cut as u32).to_be_bytes());
        assert!(Message::parse(&b).is_err(), "cut at {cut} parsed");
    }
}

#[test]
fn header_length_bounds() {
    let mut b = mm1();
    b[24..28].copy_from_slice(&27u32.to_be_bytes());
    assert!(matches!(
        Message::parse(&b),
        Err(WireError::BadLength { .. })
    ));
    let too_long = b.len() as u32 + 1;
    b[24..28].copy_from_slice(&too_long.to_be_bytes());
    assert!(matches!(
        Message::parse(&b),
        Err(WireError::Truncated { .. })
    ));
    b[24..28].copy_from_slice(&0x0001_0000u32.to_be_bytes());
    assert!(matches!(
        Message::parse(&b),
        Err(WireError::BadLength { .. })
    ));
    // A datagram longer than the header length: extra bytes are ignored and counted.
    let mut long = mm1();
    long.extend_from_slice(&[0; 7]);
    assert_eq!(Message::parse(&long).unwrap().trailing_len, 7);
}

#[test]
fn zero_and_short_payload_lengths_are_rejected() {
    let mut b = mm1();
    // SA payload length at offset 28+2.
    for bad in [0u16, 3] {
        b[30..32].copy_from_slice(&bad.to_be_bytes());
        assert!(matches!(
            Message::parse(&b),
            Err(WireError::BadLength {
                what: "payload length",
                ..
            })
        ));
    }
}

#[test]
fn versions_are_told_apart() {
    let mut b = mm1();
    b[17] = 0x20;
    assert_eq!(Message::parse(&b), Err(WireError::WrongVersion(2)));
    b[17] = 0x30;
    assert!(matches!(
        Message::parse(&b),
        Err(WireError::UnsupportedVersion { major: 3, .. })
    ));
    assert_eq!(
        Message::parse(&b).unwrap_err().notify_type(),
        NotifyType::INVALID_MAJOR_VERSION
    );
}

#[test]
fn unknown_payload_type_is_invalid_payload_type() {
    let mut b = mm1();
    b[16] = 99;
    let e = Message::parse(&b).unwrap_err();
    assert_eq!(e, WireError::InvalidPayloadType(99));
    assert_eq!(e.notify_type(), NotifyType::INVALID_PAYLOAD_TYPE);
    b[16] = PayloadType::PROPOSAL.0; // only valid inside an SA
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        WireError::InvalidPayloadType(2)
    );
}

#[test]
fn attribute_length_overflow_is_truncated() {
    // Turn the first attribute (encryption, TV) into a TLV claiming 0x7fff bytes.
    let mut b = mm1();
    let at = bytes_find(&b, &[0x80, 0x01, 0x00, 0x05]).unwrap();
    b[at..at + 4].copy_from_slice(&[0x00, 0x01, 0x7f, 0xff]);
    let m = Message::parse(&b).unwrap();
    assert!(matches!(
        m.typed_payloads(),
        Err(WireError::Truncated {
            what: "attribute value",
            ..
        })
    ));
}

fn bytes_find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

#[test]
fn payload_count_is_bounded() {
    let hdr = HeaderRepr::v1(
        [1; 8],
        [2; 8],
        ExchangeType::INFORMATIONAL,
        Flags::default(),
        7,
    );
    let mut b = MessageBuilder::new(hdr);
    for _ in 0..MAX_PAYLOADS + 1 {
        b.push(Payload::VendorId(VendorIdRepr::known(KnownVendor::Dpd)));
    }
    let bytes = b.build().unwrap();
    assert_eq!(
        Message::parse(&bytes).unwrap_err(),
        WireError::TooManyPayloads {
            limit: MAX_PAYLOADS
        }
    );
}

#[test]
fn decrypted_body_with_padding() {
    let payloads = [
        Payload::Hash(HashRepr::new(vec![0xaa; 20])),
        Payload::Notify(NotifyRepr::dpd(false, ([1; 8], [2; 8]), 0x1234_5678)),
    ];
    let mut plain = emit_chain(&payloads).unwrap();
    let chain_len = plain.len();
    // strongSwan pads with zeros; others put the pad length in the last byte.
    for pad in [vec![0u8; 7], vec![0, 0, 0, 3]] {
        let mut p = plain.clone();
        p.extend_from_slice(&pad);
        let c = parse_payloads(PayloadType::HASH, &p).unwrap();
        assert_eq!(c.end, chain_len);
        let t = c.typed().unwrap();
        assert_eq!(t, payloads);
        let Payload::Notify(n) = &t[1] else { panic!() };
        assert_eq!(n.dpd_sequence(), Some(0x1234_5678));
        // HASH(1) input: everything after the HASH payload up to the chain's end.
        let h = c.payloads[0];
        assert_eq!(&p[h.offset + h.bytes.len()..c.end], &plain[24..]);
        assert_eq!(c.after_first(&p), &plain[24..]);
    }
    plain.truncate(chain_len - 1);
    assert!(parse_payloads(PayloadType::HASH, &plain).is_err());
}

#[test]
fn encrypted_message_exposes_ciphertext() {
    let hdr = HeaderRepr::v1(
        [1; 8],
        [2; 8],
        ExchangeType::QUICK,
        Flags::default(),
        0x47cf19f2,
    );
    let mut b = MessageBuilder::new(hdr);
    b.push(Payload::Hash(HashRepr::new(vec![0; 20])));
    let ct = [0x5au8; 48];
    let bytes = b.build_encrypted(&ct).unwrap();
    let m = Message::parse(&bytes).unwrap();
    assert!(m.is_encrypted());
    assert_eq!(m.header.next_payload, PayloadType::HASH);
    assert_eq!(m.ciphertext(), Some(&ct[..]));
    assert_eq!(m.typed_payloads(), Err(WireError::Encrypted));
}

#[test]
fn builder_respects_size_bound() {
    let hdr = HeaderRepr::v1([1; 8], [2; 8], ExchangeType::MAIN, Flags::default(), 0);
    let mut b = MessageBuilder::new(hdr).max_len(100);
    b.push(Payload::Ke(KeRepr::new(vec![1; 128])));
    assert!(matches!(b.build(), Err(WireError::TooBig { .. })));
}

#[test]
fn quick_mode_payloads_round_trip() {
    let p2 = Phase2Attrs {
        transform: crate::algo::EspTransform {
            cipher: EspCipher::Aes256Cbc,
            integ: EspInteg::HmacSha256_128,
        },
        mode: Some(EncapsulationMode::UdpTunnel { draft: true }),
        pfs_group: Some(DhGroup::Modp2048),
        life_seconds: Some(28800),
        life_kilobytes: Some(4_608_000),
        esn: true,
    };
    let (id, attrs) = p2.to_transform_id_and_attributes();
    assert_eq!(id, ipsec_attr::ESP_AES_CBC);
    assert_eq!(esp_transform_from_attrs(id, &attrs).unwrap(), p2);
    let sa = SaRepr::new(vec![ProposalRepr {
        number: 1,
        protocol: ProtocolId::ESP,
        spi: vec![0xc0, 0xff, 0xee, 0x01],
        transforms: vec![TransformRepr {
            number: 1,
            id,
            attributes: attrs,
        }],
    }]);
    let payloads = vec![
        Payload::Hash(HashRepr::new(vec![1; 32])),
        Payload::Sa(sa),
        Payload::Nonce(NonceRepr::new(vec![2; 32])),
        Payload::Ke(KeRepr::new(vec![3; 256])),
        Payload::Id(IdRepr::new(Identity::Ipv4Subnet {
            addr: "198.51.100.0".parse().unwrap(),
            mask: "255.255.255.0".parse().unwrap(),
        })),
        Payload::Id(IdRepr {
            protocol: 17,
            port: 500,
            identity: Identity::Ipv4Range {
                start: "203.0.113.1".parse().unwrap(),
                end: "203.0.113.9".parse().unwrap(),
            },
        }),
        Payload::NatOa(NatOaRepr {
            draft: false,
            addr: "192.0.2.1".parse().unwrap(),
        }),
        Payload::Delete(DeleteRepr {
            doi: 1,
            protocol: 3,
            spi_size: 4,
            spis: vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]],
        }),
        Payload::Fragment(FragmentRepr {
            id: 9,
            number: 2,
            last: true,
            flags: 1,
            data: vec![7; 10],
        }),
    ];
    let bytes = emit_chain(&payloads).unwrap();
    let c = parse_payloads(PayloadType::HASH, &bytes).unwrap();
    assert_eq!(c.end, bytes.len());
    assert_eq!(c.typed().unwrap(), payloads);
}

#[test]
fn esp_mapping_errors_are_clear() {
    use ipsec_attr::*;
    let gcm8 = esp_transform_from_attrs(ESP_AES_GCM_8, &[Attribute::basic(KEY_LENGTH, 128)]);
    assert_eq!(
        gcm8,
        Err(WireError::Unsupported {
            what: "ESP transform id",
            value: 18
        })
    );
    let gcm =
        esp_transform_from_attrs(ESP_AES_GCM_16, &[Attribute::basic(KEY_LENGTH, 256)]).unwrap();
    assert_eq!(gcm.transform.cipher, EspCipher::Aes256Gcm);
    assert_eq!(gcm.transform.integ, EspInteg::None);
    assert!(esp_transform_from_attrs(ESP_AES_CBC, &[Attribute::basic(KEY_LENGTH, 100)]).is_err());
    assert!(esp_transform_from_attrs(ESP_3DES, &[Attribute::basic(AUTH_ALGORITHM, 9)]).is_err());
    assert!(esp_transform_from_attrs(ESP_NULL, &[]).is_err());
    // Duration before its type is malformed.
    assert_eq!(
        esp_transform_from_attrs(ESP_3DES, &[Attribute::basic(SA_LIFE_DURATION, 5)]),
        Err(WireError::Missing("life type before life duration"))
    );
}

#[test]
fn long_lifetimes_use_variable_attributes() {
    let a = Attribute::number(ike_attr::LIFE_DURATION, 86400);
    assert_eq!(a.value, AttrValue::Variable(vec![0, 1, 0x51, 0x80]));
    let mut buf = vec![0; a.buffer_len()];
    a.emit(&mut buf);
    assert_eq!(buf, [0x00, 0x0c, 0x00, 0x04, 0x00, 0x01, 0x51, 0x80]);
    assert_eq!(Attribute::parse(&buf).unwrap(), (a.clone(), 8));
    assert_eq!(a.as_u64(), Ok(86400));
    let nine = Attribute {
        kind: 12,
        value: AttrValue::Variable(vec![1; 9]),
    };
    assert!(nine.as_u64().is_err());
}

#[test]
fn nat_t_framing() {
    assert_eq!(classify_udp4500(&[0xff]), Udp4500::Keepalive);
    let ike = add_non_esp_marker(&mm1());
    assert_eq!(classify_udp4500(&ike), Udp4500::Ike(&mm1()[..]));
    assert_eq!(strip_non_esp_marker(&ike).unwrap(), &mm1()[..]);
    let esp = [0xb9, 0xeb, 0x0d, 0xad, 0, 0, 0, 1, 9, 9];
    assert_eq!(classify_udp4500(&esp), Udp4500::Esp(&esp[..]));
    assert!(matches!(
        classify_udp4500(&[0, 0, 0, 0, 1]),
        Udp4500::Malformed(_)
    ));
    assert!(matches!(classify_udp4500(&[1, 2]), Udp4500::Malformed(_)));
    assert!(matches!(
        classify_udp4500(&[1, 2, 3, 4, 5]),
        Udp4500::Malformed(_)
    ));
    assert!(strip_non_esp_marker(&esp).is_err());
}

#[test]
fn ikev2_request_is_parsed_by_the_v2_codec() {
    // Turn MM1 into an IKEv2 IKE_SA_INIT-looking request with one unknown non-critical payload.
    let hdr = HeaderRepr {
        major_version: 2,
        exchange_type: ExchangeType::IKE_SA_INIT,
        flags: Flags::V2_INITIATOR,
        ..HeaderRepr::v1(
            [7; 8],
            [0; 8],
            ExchangeType::IKE_SA_INIT,
            Flags::default(),
            0,
        )
    };
    let mut b = vec![0u8; HEADER_LEN + 8];
    let mut h = hdr;
    h.next_payload = PayloadType(200);
    h.length = b.len() as u32;
    h.emit(&mut b);
    b[HEADER_LEN..].copy_from_slice(&[0, 0, 0, 8, 1, 2, 3, 4]);
    let IkeMessage::V2(m) = IkeMessage::parse(&b).unwrap() else {
        panic!("not v2")
    };
    // Unknown and not critical: kept raw, nothing else.
    assert_eq!(
        m.payloads,
        vec![v2::PayloadV2::Other {
            kind: 200,
            body: vec![1, 2, 3, 4]
        }]
    );
    assert!(m.header.from_initiator() && !m.header.is_response());
    assert_eq!(m.header.spi_i, [7; 8]);
    b[HEADER_LEN + 1] = v2::CRITICAL;
    assert_eq!(
        IkeMessage::parse(&b).unwrap_err(),
        WireError::UnsupportedCriticalPayload(200)
    );
}

fn sample_payloads() -> Vec<Payload> {
    let p1 = Phase1Attrs {
        encryption: IkeEncryption::Aes256,
        hash: IkeHash::Sha256,
        auth: IkeAuth::PreShare,
        group: DhGroup::Modp2048,
        life_seconds: Some(86400),
        life_kilobytes: None,
    };
    vec![
        Payload::Sa(SaRepr::phase1(&[p1])),
        Payload::Notify(NotifyRepr::new(
            NotifyType::RESPONDER_LIFETIME,
            3,
            vec![1, 2, 3, 4],
            vec![0x80, 1, 0, 1],
        )),
        Payload::Delete(DeleteRepr {
            doi: 1,
            protocol: 1,
            spi_size: 16,
            spis: vec![vec![9; 16]],
        }),
        Payload::NatOa(NatOaRepr {
            draft: true,
            addr: "2001:db8::1".parse().unwrap(),
        }),
        Payload::Id(IdRepr::new(Identity::Ipv4("192.0.2.1".parse().unwrap()))),
        Payload::Id(IdRepr::new(Identity::Ipv6Subnet {
            addr: "2001:db8::".parse().unwrap(),
            mask: "ffff::".parse().unwrap(),
        })),
        Payload::Fragment(FragmentRepr {
            id: 1,
            number: 1,
            last: false,
            flags: 0,
            data: vec![1; 5],
        }),
    ]
}

#[test]
fn structured_payload_truncations_are_errors() {
    for p in sample_payloads() {
        let full = emit_chain(std::slice::from_ref(&p)).unwrap();
        let body = &full[GENERIC_HEADER_LEN..];
        for cut in 0..body.len() {
            let raw = RawPayload {
                kind: p.kind(),
                next: PayloadType::NONE,
                reserved: 0,
                offset: 0,
                bytes: &full[..GENERIC_HEADER_LEN + cut],
                body: &body[..cut],
            };
            let r = Payload::parse(&raw);
            // Notify data and fragment data are open-ended: a cut there is
            // a shorter, valid payload.  Everything else must refuse.
            let open_ended = match &p {
                Payload::Notify(n) => cut >= 8 + n.spi.len(),
                Payload::Fragment(_) => cut >= 4,
                _ => false,
            };
            assert_eq!(r.is_ok(), open_ended, "{:?} cut at {cut}: {r:?}", p.kind());
        }
    }
}

#[test]
fn malformed_sa_structures_are_typed_errors() {
    let sa = SaRepr::esp(
        0xc0ffee01,
        &[Phase2Attrs {
            transform: crate::algo::EspTransform {
                cipher: EspCipher::TripleDes,
                integ: EspInteg::HmacSha1_96,
            },
            mode: Some(EncapsulationMode::Tunnel),
            pfs_group: None,
            life_seconds: Some(3600),
            life_kilobytes: None,
            esn: false,
        }],
    );
    assert_eq!(sa.proposals[0].spi_u32(), Some(0xc0ffee01));
    let mut body = vec![0; sa.buffer_len()];
    sa.emit(&mut body);
    assert_eq!(SaRepr::parse(&body).unwrap(), sa);
    // body: DOI(4) SIT(4) | proposal hdr(4) num proto spisize ntrans | SPI(4) | transform...
    let mut b = body.clone();
    b[15] = 2; // claims 2 transforms, carries 1
    assert_eq!(
        SaRepr::parse(&b),
        Err(WireError::BadValue {
            what: "proposal transform count",
            value: 2
        })
    );
    let mut b = body.clone();
    b[14] = 200; // SPI size beyond the bound
    assert_eq!(
        SaRepr::parse(&b),
        Err(WireError::BadLength {
            what: "proposal SPI size",
            len: 200
        })
    );
    let mut b = body.clone();
    b[3] = 2; // DOI 2
    assert_eq!(
        SaRepr::parse(&b),
        Err(WireError::Unsupported {
            what: "SA DOI",
            value: 2
        })
    );
    let mut b = body.clone();
    b[7] = 3; // SIT_SECRECY
    assert!(matches!(
        SaRepr::parse(&b),
        Err(WireError::Unsupported {
            what: "SA situation",
            ..
        })
    ));
    let mut b = body.clone();
    b[8] = PayloadType::PROPOSAL.0; // a second proposal that is not there
    assert!(matches!(
        SaRepr::parse(&b),
        Err(WireError::Truncated { .. })
    ));
    let mut b = body.clone();
    b[8] = PayloadType::KE.0; // wrong type inside an SA
    assert_eq!(SaRepr::parse(&b), Err(WireError::InvalidPayloadType(4)));
    let mut b = body.clone();
    b.push(0); // a stray byte after the last proposal (SA length grows with it)
    assert_eq!(SaRepr::parse(&b), Err(WireError::TrailingBytes(1)));
}

#[test]
fn delete_and_notify_bounds() {
    let d = DeleteRepr {
        doi: 1,
        protocol: 3,
        spi_size: 4,
        spis: vec![vec![1, 2, 3, 4]],
    };
    let mut b = vec![0; d.buffer_len()];
    d.emit(&mut b);
    let mut big = b.clone();
    big[6..8].copy_from_slice(&0xffffu16.to_be_bytes());
    assert!(matches!(
        DeleteRepr::parse(&big),
        Err(WireError::BadLength {
            what: "delete SPI count",
            ..
        })
    ));
    big[6..8].copy_from_slice(&2u16.to_be_bytes());
    assert!(matches!(
        DeleteRepr::parse(&big),
        Err(WireError::Truncated { .. })
    ));
    let mut zero = b.clone();
    zero[5] = 0;
    assert!(DeleteRepr::parse(&zero).is_err());
    let n = NotifyRepr::dpd(true, ([1; 8], [2; 8]), 7);
    let mut nb = vec![0; n.buffer_len()];
    n.emit(&mut nb);
    assert_eq!(NotifyRepr::parse(&nb).unwrap().dpd_sequence(), Some(7));
    nb[5] = 17;
    assert!(matches!(
        NotifyRepr::parse(&nb),
        Err(WireError::BadLength {
            what: "notify SPI size",
            ..
        })
    ));
    nb[5] = 16 + 4 + 1;
    assert!(NotifyRepr::parse(&nb).is_err());
}

#[test]
fn nonce_bounds() {
    assert!(NonceRepr::parse(&[0; 7]).is_err());
    assert!(NonceRepr::parse(&[0; 8]).is_ok());
    assert!(NonceRepr::parse(&[0; 256]).is_ok());
    assert!(NonceRepr::parse(&[0; 257]).is_err());
}

#[test]
fn hash_compare_is_exact() {
    let h = HashRepr::new(vec![1, 2, 3, 4]);
    assert!(h.ct_eq(&[1, 2, 3, 4]));
    assert!(!h.ct_eq(&[1, 2, 3, 5]));
    assert!(!h.ct_eq(&[1, 2, 3]));
}

#[test]
fn phase1_sa_builder_numbers_transforms() {
    let a = Phase1Attrs {
        encryption: IkeEncryption::TripleDes,
        hash: IkeHash::Sha1,
        auth: IkeAuth::PreShare,
        group: DhGroup::Modp1024,
        life_seconds: Some(15840),
        life_kilobytes: None,
    };
    let b = Phase1Attrs {
        encryption: IkeEncryption::Aes128,
        hash: IkeHash::Sha256,
        group: DhGroup::Modp2048,
        ..a
    };
    let sa = SaRepr::phase1(&[a, b]);
    let t = &sa.proposals[0].transforms;
    assert_eq!(t.iter().map(|t| t.number).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(Phase1Attrs::from_attributes(&t[1].attributes), Ok(b));
    // Our single-transform SA for strongSwan's policy is byte-identical to
    // the SA payload strongSwan sent in MM1 (28 + 4 = offset of its body).
    let mm1 = mm1();
    let ours = SaRepr::phase1(&[a]);
    let mut body = vec![0; ours.buffer_len()];
    ours.emit(&mut body);
    assert_eq!(&mm1[32..32 + body.len()], &body[..]);
}

#[test]
fn phase1_mapping_errors() {
    use ike_attr::*;
    let base = |enc: u16| {
        vec![
            Attribute::basic(ENCRYPTION, enc),
            Attribute::basic(HASH, HASH_SHA),
            Attribute::basic(GROUP_DESCRIPTION, 2),
            Attribute::basic(AUTH_METHOD, AUTH_PSK),
        ]
    };
    assert!(Phase1Attrs::from_attributes(&base(ENC_AES)).is_ok());
    assert_eq!(
        Phase1Attrs::from_attributes(&base(6)),
        Err(WireError::Unsupported {
            what: "IKE encryption algorithm",
            value: 6
        })
    );
    let mut xauth = base(ENC_3DES);
    xauth[3] = Attribute::basic(AUTH_METHOD, 65001);
    assert_eq!(
        Phase1Attrs::from_attributes(&xauth)
            .unwrap_err()
            .notify_type(),
        NotifyType::NO_PROPOSAL_CHOSEN
    );
    let mut g3 = base(ENC_3DES);
    g3[2] = Attribute::basic(GROUP_DESCRIPTION, 3);
    assert!(Phase1Attrs::from_attributes(&g3).is_err());
    assert_eq!(
        Phase1Attrs::from_attributes(&base(ENC_3DES)[1..]),
        Err(WireError::Missing("encryption algorithm"))
    );
}
