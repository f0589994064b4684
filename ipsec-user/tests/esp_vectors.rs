//! Published known-answer vectors through the ESP transforms' own code
//! paths (`esp::transform::Transform`), plus full ESP packets checked
//! against an independent construction of the RFC formats.

use hmac::Mac;
use ipsecgw::algo::{EspCipher, EspInteg, EspTransform};
use ipsecgw::esp::transform::Transform;
use ipsecgw::esp::{InboundSa, OutboundSa, SaParams, Selector, parse_outer};
use std::net::Ipv4Addr;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap()
}

fn xf(cipher: EspCipher, integ: EspInteg, enc_key: &[u8], auth_key: &[u8]) -> Transform {
    let mut km = enc_key.to_vec();
    km.extend_from_slice(auth_key);
    Transform::new(EspTransform { cipher, integ }, &km).unwrap()
}

/// RFC 2202 test case 1 (MD5, SHA-1) and RFC 4868 AUTH256-1 / AUTH384-1 /
/// AUTH512-1 (key 0x0b repeated to the ESP key length, "Hi There"); the
/// ICV is the truncation (RFC 2403/2404/4868).
#[test]
fn hmac_vectors() {
    let cases: [(EspInteg, usize, &str); 5] = [
        (EspInteg::HmacMd5_96, 16, "9294727a3638bb1c13f48ef8158bfc9d"),
        (
            EspInteg::HmacSha1_96,
            20,
            "b617318655057264e28bc0b6fb378c8ef146be00",
        ),
        (
            EspInteg::HmacSha256_128,
            32,
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7",
        ),
        (
            EspInteg::HmacSha384_192,
            48,
            "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc\
             4c5df61d5b3297b4fb68dab9f1b582c2",
        ),
        (
            EspInteg::HmacSha512_256,
            64,
            "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8\
             ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b",
        ),
    ];
    for (integ, klen, full) in cases {
        let t = xf(EspCipher::Null, integ, &[], &vec![0x0b; klen]);
        let mut icv = [0u8; 32];
        // Split input: the ICV is computed over several slices in ESP.
        t.icv(&[b"Hi ", b"There"], &mut icv);
        let want = h(full);
        assert_eq!(
            &icv[..integ.icv_len()],
            &want[..integ.icv_len()],
            "{integ:?}"
        );
        assert!(t.verify(&[b"Hi There"], &want[..integ.icv_len()]));
        let mut bad = want[..integ.icv_len()].to_vec();
        bad[0] ^= 1;
        assert!(!t.verify(&[b"Hi There"], &bad));
    }
}

/// The SHA-2 HMACs agree with ring's independent implementation on
/// arbitrary data and keys.
#[test]
fn hmac_matches_ring() {
    let key: Vec<u8> = (0u8..64).map(|i| i.wrapping_mul(37)).collect();
    let data: Vec<u8> = (0..1500u32).map(|i| (i * 7 + 3) as u8).collect();
    for (integ, alg) in [
        (
            EspInteg::HmacSha1_96,
            ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        ),
        (EspInteg::HmacSha256_128, ring::hmac::HMAC_SHA256),
        (EspInteg::HmacSha384_192, ring::hmac::HMAC_SHA384),
        (EspInteg::HmacSha512_256, ring::hmac::HMAC_SHA512),
    ] {
        let k = &key[..integ.key_len()];
        let t = xf(EspCipher::Null, integ, &[], k);
        let mut icv = [0u8; 32];
        t.icv(&[&data], &mut icv);
        let r = ring::hmac::sign(&ring::hmac::Key::new(alg, k), &data);
        assert_eq!(
            &icv[..integ.icv_len()],
            &r.as_ref()[..integ.icv_len()],
            "{integ:?}"
        );
    }
}

/// RFC 3602 section 4, cases 1 and 2 (AES-128-CBC).
#[test]
fn aes_cbc_rfc3602() {
    let cases = [
        (
            "06a9214036b8a15b512e03d534120006",
            "3dafba429d9eb430b422da802c9fac41",
            b"Single block msg".to_vec(),
            "e353779c1079aeb82708942dbe77181a",
        ),
        (
            "c286696d887c9aa0611bbb3e2025a45a",
            "562e17996d093d28ddb3ba695a2e6f58",
            h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
            "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
        ),
    ];
    for (k, iv, pt, ct) in cases {
        let mut t = xf(EspCipher::Aes128Cbc, EspInteg::HmacSha1_96, &h(k), &[0; 20]);
        let mut buf = pt.clone();
        t.encrypt(&h(iv), &mut buf).unwrap();
        assert_eq!(buf, h(ct));
        t.decrypt(&h(iv), &mut buf).unwrap();
        assert_eq!(buf, pt);
    }
}

/// 3DES (OpenSSL path): the classic NIST SP 800-67 example block, and
/// agreement with RustCrypto's independent `des` over a whole packet.
#[test]
fn triple_des() {
    use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
    let key = h("0123456789abcdef 23456789abcdef01 456789abcdef0123");
    let mut t = xf(EspCipher::TripleDes, EspInteg::HmacSha1_96, &key, &[0; 20]);
    let mut buf = b"The qufck brown fox jump".to_vec();
    t.encrypt(&[0; 8], &mut buf).unwrap();
    // With a zero IV the first CBC block is the ECB block of the vector.
    assert_eq!(&buf[..8], &h("a826fd8ce53b855f")[..]);

    let iv = h("0102030405060708");
    let data: Vec<u8> = (0..1400u32).map(|i| (i * 13) as u8).collect();
    let mut ours = data.clone();
    t.encrypt(&iv, &mut ours).unwrap();
    let mut theirs = data.clone();
    cbc::Encryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
        .unwrap()
        .encrypt_padded_mut::<NoPadding>(&mut theirs, data.len())
        .unwrap();
    assert_eq!(ours, theirs);
    t.decrypt(&iv, &mut ours).unwrap();
    assert_eq!(ours, data);
}

/// McGrew-Viega GCM test case 3 (AES-128) as RFC 4106 splits it: salt =
/// the first 4 nonce bytes, explicit IV = the last 8.
#[test]
fn aes_gcm_test_case_3() {
    let key = h("feffe9928665731c6d6a8f9467308308");
    let salt = h("cafebabe");
    let pt = h(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
    );
    let ct = h(
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
    );
    let tag = h("4d5c2af327cd64a62cf35abd2ba6fab4");
    let mut km = key.clone();
    km.extend_from_slice(&salt);
    let t = Transform::new(
        EspTransform {
            cipher: EspCipher::Aes128Gcm,
            integ: EspInteg::None,
        },
        &km,
    )
    .unwrap();
    let iv: [u8; 8] = h("facedbaddecaf888").try_into().unwrap();
    let mut buf = pt.clone();
    let mut got_tag = [0u8; 16];
    t.seal(&iv, &[], &mut buf, &mut got_tag).unwrap();
    assert_eq!(buf, ct);
    assert_eq!(got_tag.to_vec(), tag);
    buf.extend_from_slice(&tag);
    assert_eq!(t.open(&iv, &[], &mut buf).unwrap(), pt.len());
    assert_eq!(&buf[..pt.len()], &pt[..]);
}

/// RFC 7539 section 2.8.2 AEAD vector; RFC 7634 forms the nonce as salt
/// (4 bytes of KEYMAT) | IV (8 bytes).
#[test]
fn chacha20_poly1305_rfc7539() {
    let key = h("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let mut km = key.clone();
    km.extend_from_slice(&h("07000000"));
    let t = Transform::new(
        EspTransform {
            cipher: EspCipher::ChaCha20Poly1305,
            integ: EspInteg::None,
        },
        &km,
    )
    .unwrap();
    let iv: [u8; 8] = h("4041424344454647").try_into().unwrap();
    let aad = h("50515253c0c1c2c3c4c5c6c7");
    let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let ct = h(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
    );
    let tag = h("1ae10b594f09e26a7e902ecbd0600691");
    let mut buf = pt.to_vec();
    let mut got = [0u8; 16];
    t.seal(&iv, &aad, &mut buf, &mut got).unwrap();
    assert_eq!(buf, ct);
    assert_eq!(got.to_vec(), tag);
}

fn ipv4_packet(src: [u8; 4], dst: [u8; 4], payload_len: usize) -> Vec<u8> {
    let total = 20 + payload_len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[1] = 0x28;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    let c = ipsecgw::esp::ipv4::checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    for (i, b) in p[20..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

fn params<'a>(t: EspTransform, km: &'a [u8], udp: Option<(u16, u16)>, esn: bool) -> SaParams<'a> {
    SaParams {
        spi: 0x1234_5678,
        transform: t,
        keymat: km,
        tunnel_src: Ipv4Addr::new(192, 0, 2, 1),
        tunnel_dst: Ipv4Addr::new(192, 0, 2, 2),
        udp_encap: udp,
        esn,
        local_ts: Selector::new(Ipv4Addr::new(203, 0, 113, 0), 24),
        remote_ts: Selector::new(Ipv4Addr::new(198, 51, 100, 0), 24),
        lifetime_kb: None,
    }
}

/// An AES-GCM ESP packet from `encapsulate`, taken apart by hand following
/// RFC 4303 / RFC 4106 / RFC 3948 and opened with raw `ring`: outer header,
/// UDP, SPI, sequence, IV = sequence, AAD = SPI | seq, padding 1, 2, ...
#[test]
fn gcm_packet_layout_is_rfc4106() {
    let key = h("feffe9928665731c6d6a8f9467308308cafebabe");
    let t = EspTransform {
        cipher: EspCipher::Aes128Gcm,
        integ: EspInteg::None,
    };
    let mut sa = OutboundSa::new(&params(t, &key, Some((4500, 4500)), false)).unwrap();
    let inner = ipv4_packet([198, 51, 100, 10], [203, 0, 113, 10], 61);
    let mut out = [0u8; 256];
    sa.encapsulate(&inner, &mut out).unwrap();
    let n = sa.encapsulate(&inner, &mut out).unwrap(); // seq 2
    let pkt = &out[..n];
    assert_eq!(pkt[0], 0x45);
    assert_eq!(pkt[1], 0x28, "TOS copied");
    assert_eq!(pkt[6] & 0x40, 0x40, "DF copied");
    assert_eq!(pkt[9], 17);
    assert_eq!(ipsecgw::esp::ipv4::checksum(&pkt[..20]), 0);
    assert_eq!(&pkt[12..20], &[192, 0, 2, 1, 192, 0, 2, 2]);
    assert_eq!(u16::from_be_bytes([pkt[2], pkt[3]]) as usize, n);
    let udp = &pkt[20..28];
    assert_eq!(
        udp,
        &[
            0x11,
            0x94,
            0x11,
            0x94,
            ((n - 20) >> 8) as u8,
            (n - 20) as u8,
            0,
            0
        ]
    );
    let esp = &pkt[28..];
    assert_eq!(&esp[..8], &[0x12, 0x34, 0x56, 0x78, 0, 0, 0, 2]);
    assert_eq!(&esp[8..16], &[0, 0, 0, 0, 0, 0, 0, 2]);
    // 81-byte inner + 2 -> padded to 84: one pad byte.
    assert_eq!(esp.len(), 8 + 8 + 84 + 16);
    let k = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, &key[..16]).unwrap(),
    );
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&key[16..]);
    nonce[4..].copy_from_slice(&esp[8..16]);
    let mut body = esp[16..].to_vec();
    let pt = k
        .open_in_place(
            ring::aead::Nonce::assume_unique_for_key(nonce),
            ring::aead::Aad::from(&esp[..8]),
            &mut body,
        )
        .unwrap();
    assert_eq!(&pt[..81], &inner[..]);
    assert_eq!(&pt[81..], &[1, 1, 4]);

    // And the engine's own parser finds it.
    let o = parse_outer(pkt).unwrap();
    assert_eq!(
        (o.spi, o.seq, o.udp_encap, o.esp_offset),
        (0x1234_5678, 2, Some((4500, 4500)), 28)
    );
}

/// An AES-CBC + HMAC-SHA1-96 packet checked with the RustCrypto primitives
/// directly: ICV over header | IV | ciphertext, CBC with the packet's IV,
/// padding to 16 bytes.
#[test]
fn cbc_hmac_packet_layout_is_rfc3602_2404() {
    use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};
    let km: Vec<u8> = (0u8..36).collect();
    let t = EspTransform {
        cipher: EspCipher::Aes128Cbc,
        integ: EspInteg::HmacSha1_96,
    };
    let mut sa = OutboundSa::new(&params(t, &km, None, false)).unwrap();
    let inner = ipv4_packet([198, 51, 100, 10], [203, 0, 113, 10], 100);
    let mut out = [0u8; 256];
    let n = sa.encapsulate(&inner, &mut out).unwrap();
    assert_eq!(out[9], 50);
    let esp = &out[20..n];
    assert_eq!(esp.len(), 8 + 16 + 128 + 12);
    let (body, icv) = esp.split_at(esp.len() - 12);
    let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(&km[16..]).unwrap();
    m.update(body);
    assert_eq!(&m.finalize().into_bytes()[..12], icv);
    let mut ct = body[24..].to_vec();
    cbc::Decryptor::<aes::Aes128>::new_from_slices(&km[..16], &body[8..24])
        .unwrap()
        .decrypt_padded_mut::<NoPadding>(&mut ct)
        .unwrap();
    assert_eq!(&ct[..120], &inner[..]);
    let pad: Vec<u8> = (1..=6).collect();
    assert_eq!(&ct[120..126], &pad[..]);
    assert_eq!(&ct[126..], &[6, 4]);

    // Two packets never share an IV.
    let mut out2 = [0u8; 256];
    sa.encapsulate(&inner, &mut out2).unwrap();
    assert_ne!(&out[28..44], &out2[28..44]);

    // And the peer's inbound SA takes it.
    let mut inb = InboundSa::new(&params(t, &km, None, false)).unwrap();
    let mut buf = out[20..n].to_vec();
    let r = inb.decapsulate(&mut buf).unwrap();
    assert_eq!(&buf[r], &inner[..]);
}

/// draft-mcgrew-gcm-test-01, the AES-128-GCM ESP case with a 64-bit
/// extended sequence number (SPI 0x4321, ESN 0x87654321_00000000): AAD =
/// SPI | ESN (RFC 4106 section 5), nonce = salt | IV. The plaintext is
/// the ESP payload with its trailer `01 02 | 02 | 01`.
#[test]
fn gcm_esp_draft_mcgrew_esn() {
    let km = h("4c80cdefbb5d10da906ac73c3613a634 2e443b68");
    let t = Transform::new(
        EspTransform {
            cipher: EspCipher::Aes128Gcm,
            integ: EspInteg::None,
        },
        &km,
    )
    .unwrap();
    let iv: [u8; 8] = h("4956ed7e3b244cfe").try_into().unwrap();
    let aad = h("00004321 87654321 00000000");
    let pt = h(
        "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000\
                00000000045f736970045f756470037369700963796265726369747902646b00\
                0021000101020201",
    );
    let ct = h(
        "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34\
                cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce\
                61bc17d768fd9732459018148f6cbe722fd04796562dfdb4",
    );
    let mut buf = pt.clone();
    let mut tag = [0u8; 16];
    t.seal(&iv, &aad, &mut buf, &mut tag).unwrap();
    buf.extend_from_slice(&tag);
    assert_eq!(buf, ct);
    assert_eq!(t.open(&iv, &aad, &mut buf).unwrap(), pt.len());
    assert_eq!(&buf[..pt.len()], &pt[..]);
    // The 32-bit AAD (no ESN) does not authenticate it.
    let mut again = ct.clone();
    assert!(t.open(&iv, &aad[..8], &mut again).is_err());
}

/// Our ESN packets use that AAD: SPI | seq-hi | seq-lo, with only seq-lo
/// on the wire.
#[test]
fn gcm_esn_packet_aad() {
    let key = h("4c80cdefbb5d10da906ac73c3613a634 2e443b68");
    let t = EspTransform {
        cipher: EspCipher::Aes128Gcm,
        integ: EspInteg::None,
    };
    let mut sa = OutboundSa::new(&params(t, &key, None, true)).unwrap();
    sa.set_next_seq(0x8765_4321_0000_0000);
    let inner = ipv4_packet([198, 51, 100, 10], [203, 0, 113, 10], 52);
    let mut out = [0u8; 256];
    let n = sa.encapsulate(&inner, &mut out).unwrap();
    let esp = &out[20..n];
    assert_eq!(&esp[..8], &[0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]);
    let k = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, &key[..16]).unwrap(),
    );
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&key[16..]);
    nonce[4..].copy_from_slice(&esp[8..16]);
    let aad = h("12345678 87654321 00000000");
    let mut body = esp[16..].to_vec();
    let pt = k
        .open_in_place(
            ring::aead::Nonce::assume_unique_for_key(nonce),
            ring::aead::Aad::from(&aad),
            &mut body,
        )
        .unwrap();
    assert_eq!(&pt[..72], &inner[..]);
}
