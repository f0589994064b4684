//! Round trips for every transform, NAT-T and ESN; replay, tampering,
//! policy and malformed input, each counted in the right counter.

use ipsecgw::algo::{EspCipher, EspInteg, EspTransform};
use ipsecgw::esp::{
    EspError, InboundSa, OutboundSa, REPLAY_WINDOW, ReplayVerdict, SaParams, Selector, parse_outer,
};
use std::net::Ipv4Addr;

const ALL: [(EspCipher, EspInteg); 16] = [
    (EspCipher::Aes128Gcm, EspInteg::None),
    (EspCipher::Aes256Gcm, EspInteg::None),
    (EspCipher::ChaCha20Poly1305, EspInteg::None),
    (EspCipher::Aes128Cbc, EspInteg::HmacSha1_96),
    (EspCipher::Aes192Cbc, EspInteg::HmacSha256_128),
    (EspCipher::Aes256Cbc, EspInteg::HmacSha512_256),
    (EspCipher::Aes256Cbc, EspInteg::HmacSha384_192),
    (EspCipher::TripleDes, EspInteg::HmacSha1_96),
    (EspCipher::TripleDes, EspInteg::HmacMd5_96),
    (EspCipher::Des, EspInteg::HmacSha1_96),
    (EspCipher::Null, EspInteg::HmacSha1_96),
    (EspCipher::Null, EspInteg::HmacSha256_128),
    (EspCipher::Aes128Cbc, EspInteg::HmacMd5_96),
    (EspCipher::Aes128Cbc, EspInteg::HmacSha256_128),
    (EspCipher::Aes256Cbc, EspInteg::HmacSha1_96),
    (EspCipher::Aes128Cbc, EspInteg::None),
];

fn keymat(t: EspTransform, seed: u8) -> Vec<u8> {
    (0..t.keymat_len())
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn params(t: EspTransform, km: &[u8], udp: bool, esn: bool) -> SaParams<'_> {
    SaParams {
        spi: 0xc0ffee01,
        transform: t,
        keymat: km,
        tunnel_src: Ipv4Addr::new(192, 0, 2, 1),
        tunnel_dst: Ipv4Addr::new(192, 0, 2, 2),
        udp_encap: udp.then_some((4500, 4500)),
        esn,
        local_ts: Selector::new(Ipv4Addr::new(203, 0, 113, 0), 24),
        remote_ts: Selector::new(Ipv4Addr::new(198, 51, 100, 0), 24),
        lifetime_kb: None,
    }
}

fn inner(src: [u8; 4], dst: [u8; 4], payload_len: usize, tag: u8) -> Vec<u8> {
    let total = 20 + payload_len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    let c = ipsecgw::esp::ipv4::checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    for (i, b) in p[20..].iter_mut().enumerate() {
        *b = (i as u8) ^ tag;
    }
    p
}

const SRC: [u8; 4] = [198, 51, 100, 10];
const DST: [u8; 4] = [203, 0, 113, 10];

/// A pair of SAs: outbound on one gateway, the matching inbound on the
/// peer (whose selectors are the mirror image).
fn pair(t: EspTransform, udp: bool, esn: bool) -> (OutboundSa, InboundSa) {
    let km = keymat(t, 7);
    let out = OutboundSa::new(&params(t, &km, udp, esn)).unwrap();
    let mut p = params(t, &km, udp, esn);
    // The peer receives traffic from 198.51.100.0/24 to 203.0.113.0/24.
    p.tunnel_src = Ipv4Addr::new(192, 0, 2, 1);
    let inb = InboundSa::new(&p).unwrap();
    (out, inb)
}

/// Encapsulates and strips the outer headers the way the engine will.
fn wire(out: &mut OutboundSa, pkt: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    let n = out.encapsulate(pkt, &mut buf).unwrap();
    assert_eq!(n, out.encapsulated_len(pkt.len()));
    let o = parse_outer(&buf[..n]).unwrap();
    buf[o.range()].to_vec()
}

#[test]
fn every_transform_round_trips() {
    for (cipher, integ) in ALL {
        let t = EspTransform { cipher, integ };
        for udp in [false, true] {
            for esn in [false, true] {
                let (mut o, mut i) = pair(t, udp, esn);
                for (k, len) in [0usize, 1, 13, 14, 15, 16, 100, 1380]
                    .into_iter()
                    .enumerate()
                {
                    let p = inner(SRC, DST, len, k as u8);
                    let mut esp = wire(&mut o, &p);
                    let r = i
                        .decapsulate(&mut esp)
                        .unwrap_or_else(|e| panic!("{t} udp={udp} esn={esn} len={len}: {e}"));
                    assert_eq!(&esp[r], &p[..], "{t} udp={udp} esn={esn} len={len}");
                }
                let (oc, ic) = (o.counters(), i.counters());
                assert_eq!(oc.pkts_encaps, 8);
                assert_eq!(
                    oc.pkts_encrypt,
                    if cipher == EspCipher::Null { 0 } else { 8 }
                );
                assert_eq!(
                    oc.pkts_digest,
                    if integ == EspInteg::None && !cipher.is_aead() {
                        0
                    } else {
                        8
                    }
                );
                assert_eq!(ic.pkts_decaps, 8);
                assert_eq!(ic.bytes_decaps, oc.bytes_encaps);
                assert_eq!(ic.recv_errors, 0);
            }
        }
    }
}

#[test]
fn replay_is_dropped_and_counted() {
    let t = EspTransform {
        cipher: EspCipher::Aes128Gcm,
        integ: EspInteg::None,
    };
    let (mut o, mut i) = pair(t, false, false);
    let p = inner(SRC, DST, 40, 0);
    let w = REPLAY_WINDOW as usize;
    let last = w + 100;
    let pkts: Vec<Vec<u8>> = (0..last).map(|_| wire(&mut o, &p)).collect();
    let mut first = pkts[0].clone();
    i.decapsulate(&mut first).unwrap();
    let mut again = pkts[0].clone();
    assert_eq!(
        i.decapsulate(&mut again),
        Err(EspError::Replay(ReplayVerdict::Duplicate))
    );
    assert_eq!(i.counters().replay_drops, 1);
    // Jump to seq `last`; `last - (W - 1)` is the oldest still accepted,
    // the one before it is too old (packet k carries seq k + 1).
    i.decapsulate(&mut pkts[last - 1].clone()).unwrap();
    i.decapsulate(&mut pkts[last - w].clone()).unwrap();
    assert_eq!(
        i.decapsulate(&mut pkts[last - w - 1].clone()),
        Err(EspError::Replay(ReplayVerdict::TooOld))
    );
    // Out of order inside the window is fine, once.
    i.decapsulate(&mut pkts[500].clone()).unwrap();
    assert!(i.decapsulate(&mut pkts[500].clone()).is_err());
    let c = i.counters();
    assert_eq!((c.replay_drops, c.recv_errors, c.pkts_decaps), (3, 3, 4));
}

#[test]
fn one_flipped_bit_anywhere_fails_authentication() {
    for (cipher, integ) in ALL {
        if integ == EspInteg::None && !cipher.is_aead() {
            continue; // no integrity: nothing to verify
        }
        let t = EspTransform { cipher, integ };
        for esn in [false, true] {
            let (mut o, mut i) = pair(t, false, esn);
            let p = inner(SRC, DST, 50, 1);
            let good = wire(&mut o, &p);
            let mut failures = 0;
            // Every bit after the SPI (a changed SPI is WrongSpi instead).
            for bit in 32..good.len() * 8 {
                let mut bad = good.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                let before = bad.clone();
                let r = i.decapsulate(&mut bad);
                match r {
                    Err(EspError::AuthFailed) => failures += 1,
                    // A flipped sequence number may land outside the window.
                    Err(EspError::Replay(_)) if bit < 64 => {}
                    other => panic!("{t} esn={esn} bit {bit}: {other:?}"),
                }
                if !cipher.is_aead() {
                    // Verify before decrypt: the buffer is untouched.
                    assert_eq!(bad, before, "{t}: decrypted a forged packet");
                }
            }
            assert!(failures > 0);
            assert_eq!(i.counters().auth_failures, failures);
            assert_eq!(i.counters().pkts_decaps, 0);
            // The window did not move: the genuine packet still passes.
            let mut ok = good.clone();
            assert!(i.decapsulate(&mut ok).is_ok(), "{t}");
        }
    }
}

#[test]
fn selector_violation_is_a_policy_drop() {
    let t = EspTransform {
        cipher: EspCipher::Aes256Gcm,
        integ: EspInteg::None,
    };
    let (mut o, mut i) = pair(t, true, false);
    for (src, dst) in [
        ([198, 51, 101, 10], DST),
        (SRC, [203, 0, 114, 1]),
        (DST, SRC),
    ] {
        let p = inner(src, dst, 30, 0);
        let mut esp = wire(&mut o, &p);
        assert!(matches!(
            i.decapsulate(&mut esp),
            Err(EspError::PolicyViolation { .. })
        ));
    }
    assert_eq!(i.counters().policy_drops, 3);
    assert_eq!(i.counters().recv_errors, 3);
    // Policy drops do not move the replay window; the next packet passes.
    let p = inner(SRC, DST, 30, 0);
    let mut esp = wire(&mut o, &p);
    assert!(i.decapsulate(&mut esp).is_ok());
}

#[test]
fn esn_round_trip_across_the_32_bit_wrap() {
    for (cipher, integ) in [
        (EspCipher::Aes128Gcm, EspInteg::None),
        (EspCipher::Aes128Cbc, EspInteg::HmacSha1_96),
    ] {
        let t = EspTransform { cipher, integ };
        let (mut o, mut i) = pair(t, false, true);
        o.set_next_seq(0xffff_fff0);
        let p = inner(SRC, DST, 64, 9);
        let mut late = Vec::new();
        for k in 0..40u64 {
            let mut esp = wire(&mut o, &p);
            if k == 5 {
                late = esp.clone(); // delivered after the wrap
                continue;
            }
            assert!(i.decapsulate(&mut esp).is_ok(), "{t} k={k}");
        }
        assert_eq!(i.highest_seq(), 0xffff_fff0 + 39);
        assert!(
            i.decapsulate(&mut late.clone()).is_ok(),
            "{t}: late packet from before the wrap"
        );
        assert!(i.decapsulate(&mut late).is_err());
    }
}

#[test]
fn sequence_exhaustion_and_lifetime() {
    let t = EspTransform {
        cipher: EspCipher::Aes128Gcm,
        integ: EspInteg::None,
    };
    let km = keymat(t, 1);
    let mut o = OutboundSa::new(&params(t, &km, false, false)).unwrap();
    let p = inner(SRC, DST, 10, 0);
    let mut buf = [0u8; 256];
    assert!(!o.needs_rekey());
    o.set_next_seq(0xffff_ffff);
    assert!(o.needs_rekey());
    o.encapsulate(&p, &mut buf).unwrap();
    assert_eq!(
        o.encapsulate(&p, &mut buf),
        Err(EspError::SequenceExhausted)
    );
    assert_eq!(o.counters().send_errors, 1);

    let mut prm = params(t, &km, false, false);
    prm.lifetime_kb = Some(1);
    let mut o = OutboundSa::new(&prm).unwrap();
    let p = inner(SRC, DST, 80, 0); // 100 bytes
    for _ in 0..9 {
        o.encapsulate(&p, &mut buf).unwrap();
    }
    assert!(!o.needs_rekey()); // 900 < 921 (90% of 1024)
    o.encapsulate(&p, &mut buf).unwrap();
    assert!(o.needs_rekey());
    // 1,100 bytes would exceed the 1,024-byte hard limit: refused.
    assert_eq!(o.encapsulate(&p, &mut buf), Err(EspError::LifetimeExpired));
    assert_eq!(o.counters().bytes_encaps, 1000);
    assert_eq!(o.counters().send_errors, 1);
}

/// One SA used by several workers (one per queue): every packet gets its
/// own sequence number whichever worker sent it, the sequence space and
/// the kilobyte lifetime are the SA's, and a packet decrypted by one
/// worker is a replay for every other.
#[test]
fn workers_of_one_sa_share_sequence_window_and_lifetime() {
    let t = EspTransform {
        cipher: EspCipher::Aes128Cbc,
        integ: EspInteg::HmacSha256_128,
    };
    let km = keymat(t, 4);
    let mut prm = params(t, &km, false, false);
    prm.lifetime_kb = Some(2);
    let mut outs = OutboundSa::new_group(&prm, 3).unwrap();
    let mut ins = InboundSa::new_group(&prm, 2).unwrap();
    assert_eq!((outs.len(), ins.len()), (3, 2));
    let p = inner(SRC, DST, 80, 0); // 100 bytes
    let mut seqs = Vec::new();
    let mut wires = Vec::new();
    for k in 0..19 {
        let esp = wire(&mut outs[k % 3], &p);
        seqs.push(u32::from_be_bytes([esp[4], esp[5], esp[6], esp[7]]));
        wires.push(esp);
    }
    assert_eq!(seqs, (1..=19).collect::<Vec<u32>>());
    // 1,900 of 2,048 bytes: past 90% for every handle, not only the
    // worker that sent the last packet.
    assert!(outs.iter().all(|o| o.needs_rekey() && !o.expired()));
    let mut buf = [0u8; 256];
    for o in &mut outs {
        // 2,000 fits; 2,100 does not, whoever sends it.
        let _ = o.encapsulate(&p, &mut buf);
    }
    let sent: u64 = outs.iter().map(|o| o.counters().pkts_encaps).sum();
    assert_eq!(sent, 20);
    let refused: u64 = outs.iter().map(|o| o.counters().send_errors).sum();
    assert_eq!(refused, 2);
    // Decrypt alternately on two workers, then replay each packet on the
    // other one.
    for (k, esp) in wires.iter().enumerate() {
        let mut a = esp.clone();
        ins[k % 2].decapsulate(&mut a).unwrap();
        let mut b = esp.clone();
        assert_eq!(
            ins[(k + 1) % 2].decapsulate(&mut b),
            Err(EspError::Replay(ReplayVerdict::Duplicate))
        );
    }
    assert_eq!(
        ins[0].counters().pkts_decaps + ins[1].counters().pkts_decaps,
        19
    );
    assert_eq!(
        ins[0].counters().replay_drops + ins[1].counters().replay_drops,
        19
    );
    assert!(ins.iter().all(|i| i.needs_rekey() && i.highest_seq() == 19));
    // Exhaustion is the SA's too: no handle sends past 2^32 - 1.
    let mut outs = OutboundSa::new_group(&params(t, &km, false, false), 3).unwrap();
    outs[0].set_next_seq(0xffff_ffff);
    assert!(wire_ok(&mut outs[1], &p));
    assert!(!wire_ok(&mut outs[2], &p));
    assert!(!wire_ok(&mut outs[0], &p));
}

fn wire_ok(out: &mut OutboundSa, pkt: &[u8]) -> bool {
    let mut buf = vec![0u8; 2048];
    match out.encapsulate(pkt, &mut buf) {
        Ok(_) => true,
        Err(EspError::SequenceExhausted) => false,
        Err(e) => panic!("unexpected {e}"),
    }
}

#[test]
fn small_buffers_and_bad_inner_are_errors_not_panics() {
    let t = EspTransform {
        cipher: EspCipher::Aes128Cbc,
        integ: EspInteg::HmacSha1_96,
    };
    let km = keymat(t, 3);
    let mut o = OutboundSa::new(&params(t, &km, true, false)).unwrap();
    let p = inner(SRC, DST, 100, 0);
    let need = o.encapsulated_len(p.len());
    let mut buf = vec![0u8; need - 1];
    assert_eq!(
        o.encapsulate(&p, &mut buf),
        Err(EspError::BufferTooSmall {
            need,
            have: need - 1
        })
    );
    assert_eq!(
        o.encapsulate(&p[..10], &mut [0u8; 512]),
        Err(EspError::InnerMalformed)
    );
    assert_eq!(
        o.encapsulate(&[0x60; 40], &mut [0u8; 512]),
        Err(EspError::InnerMalformed)
    );
    // max_inner_len is exact: one more byte would not fit.
    for mtu in [576usize, 1400, 1500] {
        let m = o.max_inner_len(mtu);
        assert!(o.encapsulated_len(m) <= mtu);
        assert!(o.encapsulated_len(m + 1) > mtu);
    }
    // Wrong key length and forbidden combinations.
    assert!(matches!(
        OutboundSa::new(&params(t, &km[1..], false, false)),
        Err(EspError::KeyLength { .. })
    ));
    let null = EspTransform {
        cipher: EspCipher::Null,
        integ: EspInteg::None,
    };
    assert!(OutboundSa::new(&params(null, &[], false, false)).is_err());
}

/// The engine's hot path encapsulates in the frame the packet arrived
/// in. It must produce exactly the bytes of the copying path (same SA
/// state, same sequence number) and refuse a frame without the room.
#[test]
fn in_place_encapsulation_matches_the_copying_path() {
    for (cipher, integ) in ALL {
        let t = EspTransform { cipher, integ };
        for udp in [false, true] {
            let km = keymat(t, 9);
            let mut by_copy = OutboundSa::new(&params(t, &km, udp, false)).unwrap();
            let mut in_place = OutboundSa::new(&params(t, &km, udp, false)).unwrap();
            let mut peer = InboundSa::new(&params(t, &km, udp, false)).unwrap();
            for len in [0usize, 15, 1380] {
                let p = inner(SRC, DST, len, 5);
                let mut copied = vec![0u8; 2048];
                let n = by_copy.encapsulate(&p, &mut copied).unwrap();

                // A frame: headroom, the packet, link-layer junk after it.
                let at = 256;
                let mut frame = vec![0xeeu8; 4096];
                frame[at..at + p.len()].copy_from_slice(&p);
                let r = in_place
                    .encapsulate_in_place(&mut frame, at..at + p.len())
                    .unwrap();
                assert_eq!(r.end - r.start, n, "{t} udp={udp} len={len}");
                assert_eq!(r.start, at - in_place.header_len());
                // CBC IVs are unpredictable (keyed per SA): the bytes match
                // up to the IV; AEAD and NULL IVs are the sequence number,
                // so there every byte matches.
                let deterministic = cipher.is_aead() || cipher == EspCipher::Null;
                let same = if deterministic {
                    n
                } else {
                    in_place.header_len() - cipher.iv_len()
                };
                assert_eq!(
                    &frame[r.start..r.start + same],
                    &copied[..same],
                    "{t} udp={udp} len={len}"
                );
                // And the peer decrypts it to the original packet.
                let o = parse_outer(&frame[r.clone()]).unwrap();
                let mut esp = frame[r.start..][o.range()].to_vec();
                let got = peer.decapsulate(&mut esp).unwrap();
                assert_eq!(&esp[got], &p[..], "{t} udp={udp} len={len}");
            }
            assert_eq!(by_copy.counters(), in_place.counters());

            // Too little headroom or tailroom: an error, counted, no panic.
            let p = inner(SRC, DST, 100, 1);
            let h = in_place.header_len();
            let mut frame = vec![0u8; 512];
            frame[h - 1..h - 1 + p.len()].copy_from_slice(&p);
            assert!(matches!(
                in_place.encapsulate_in_place(&mut frame, h - 1..h - 1 + p.len()),
                Err(EspError::BufferTooSmall { .. })
            ));
            let mut tight = vec![0u8; h + p.len()];
            tight[h..].copy_from_slice(&p);
            assert!(matches!(
                in_place.encapsulate_in_place(&mut tight, h..h + p.len()),
                Err(EspError::BufferTooSmall { .. })
            ));
            assert_eq!(
                in_place.encapsulate_in_place(&mut [0u8; 64], 60..64),
                Err(EspError::InnerMalformed)
            );
            // A header claiming more than was received: what follows in
            // the frame is an earlier packet's leftovers, never sent.
            let mut stale = vec![0x5au8; 4096];
            stale[256..256 + p.len()].copy_from_slice(&p);
            assert_eq!(
                in_place.encapsulate_in_place(&mut stale, 256..256 + p.len() - 1),
                Err(EspError::InnerMalformed)
            );
            assert_eq!(in_place.counters().send_errors, 4);
        }
    }
}

/// Bounded fuzz-like loop: truncations and random mutations of genuine
/// packets, for every transform, never panic and are always counted.
#[test]
fn mutated_input_never_panics() {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for (cipher, integ) in ALL {
        let t = EspTransform { cipher, integ };
        let (mut o, mut i) = pair(t, true, false);
        let p = inner(SRC, DST, 77, 5);
        let good = wire(&mut o, &p);
        let mut errors = 0;
        for cut in 0..good.len() {
            let mut b = good[..cut].to_vec();
            if i.decapsulate(&mut b).is_err() {
                errors += 1;
            }
        }
        for _ in 0..300 {
            let mut b = good.clone();
            for _ in 0..(next() % 4 + 1) {
                let pos = (next() as usize) % b.len();
                b[pos] = next() as u8;
            }
            if next() % 3 == 0 {
                b.truncate((next() as usize) % (b.len() + 1));
            }
            if i.decapsulate(&mut b).is_err() {
                errors += 1;
            }
        }
        assert_eq!(i.counters().recv_errors, errors);
        // The outer parser on garbage, too.
        for _ in 0..300 {
            let len = (next() % 80) as usize;
            let mut g: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len > 0 && next() % 2 == 0 {
                g[0] = 0x45;
            }
            let _ = parse_outer(&g);
            let _ = ipsecgw::esp::parse_outer_ethernet(&g);
        }
    }
}
