//! Regression tests from the fuzz campaign (`fuzz/`, RELIABILITY.md).
//!
//! The campaign found no crash so far (see RELIABILITY.md), so there is no
//! crash input to pin here yet: a future crash becomes a test in this file
//! (its input as bytes, `#[ignore]`d with the finding's name until the
//! owning module is fixed).
//!
//! What lives here now are the checks the `esp_decap` target's "forge" and
//! "replay" modes showed no other test reaches, as deterministic tests on
//! the stable toolchain: an ESP-NULL/HMAC-SHA1-96 SA whose ICV the test
//! computes itself, so a packet gets past authentication with exactly the
//! plaintext chosen, and hits each check after the ICV (padding, next
//! header, dummy packets, inner IPv4, selectors, replay) with a typed
//! error; and the anti-replay window against a model that remembers every
//! accepted number.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use hmac::{Hmac, Mac};
use ipsecgw::algo::{EspCipher, EspInteg, EspTransform};
use ipsecgw::esp::replay::{ReplayVerdict, ReplayWindow};
use ipsecgw::esp::{EspError, InboundSa, REPLAY_WINDOW, SaParams, Selector};

const SPI: u32 = 0xc0ff_ee01;
const NULL_SHA1: EspTransform = EspTransform {
    cipher: EspCipher::Null,
    integ: EspInteg::HmacSha1_96,
};
const AUTH_KEY: [u8; 20] = *b"fuzz-regression-key!";

fn null_sa() -> InboundSa {
    InboundSa::new(&SaParams {
        spi: SPI,
        transform: NULL_SHA1,
        keymat: &AUTH_KEY,
        tunnel_src: Ipv4Addr::new(192, 0, 2, 2),
        tunnel_dst: Ipv4Addr::new(192, 0, 2, 1),
        udp_encap: None,
        esn: false,
        local_ts: Selector::new(Ipv4Addr::new(203, 0, 113, 0), 24),
        remote_ts: Selector::new(Ipv4Addr::new(198, 51, 100, 0), 24),
        lifetime_kb: None,
    })
    .unwrap()
}

/// SPI, sequence number, `plaintext` as given (payload, padding, pad
/// length, next header), then the HMAC-SHA1-96 ICV over all of it.
fn signed(seq: u32, plaintext: &[u8]) -> Vec<u8> {
    let mut esp = SPI.to_be_bytes().to_vec();
    esp.extend_from_slice(&seq.to_be_bytes());
    esp.extend_from_slice(plaintext);
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&AUTH_KEY).unwrap();
    mac.update(&esp);
    esp.extend_from_slice(&mac.finalize().into_bytes()[..12]);
    esp
}

/// RFC 4303 trailer: padding 1, 2, 3... to a multiple of 4, pad length,
/// next header.
fn with_trailer(payload: &[u8], next_header: u8) -> Vec<u8> {
    let pad_len = (4 - (payload.len() + 2) % 4) % 4;
    let mut p = payload.to_vec();
    p.extend((1..=pad_len as u8).collect::<Vec<_>>());
    p.push(pad_len as u8);
    p.push(next_header);
    p
}

fn ipv4(src: [u8; 4], dst: [u8; 4], payload_len: usize) -> Vec<u8> {
    let total = 20 + payload_len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    for (i, b) in p[20..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

const SRC: [u8; 4] = [198, 51, 100, 10];
const DST: [u8; 4] = [203, 0, 113, 20];

#[test]
fn signed_plaintext_is_accepted_once() {
    let inner = ipv4(SRC, DST, 13);
    let pkt = signed(1, &with_trailer(&inner, 4));
    let mut sa = null_sa();
    let mut buf = pkt.clone();
    let r = sa.decapsulate(&mut buf).unwrap();
    assert_eq!(&buf[r], &inner[..]);
    let mut again = pkt;
    assert_eq!(
        sa.decapsulate(&mut again),
        Err(EspError::Replay(ReplayVerdict::Duplicate))
    );
    assert_eq!(sa.counters().pkts_decaps, 1);
    assert_eq!(sa.counters().replay_drops, 1);
}

#[test]
fn authentic_but_bad_padding_is_refused() {
    let inner = ipv4(SRC, DST, 12);
    // Pad bytes must be 1, 2, 3, ... (RFC 4303 2.4): 1, 3 is wrong.
    let mut pt = inner.clone();
    pt.extend_from_slice(&[1, 3, 2, 4]);
    let mut sa = null_sa();
    assert_eq!(
        sa.decapsulate(&mut signed(1, &pt)),
        Err(EspError::BadPadding)
    );
    // A pad length longer than the plaintext.
    let mut pt = vec![0u8; 6];
    pt.extend_from_slice(&[200, 4]);
    assert_eq!(
        sa.decapsulate(&mut signed(2, &pt)),
        Err(EspError::BadPadding)
    );
    assert_eq!(sa.counters().malformed, 2);
    assert_eq!(sa.counters().auth_failures, 0);
    // Neither moved the window: the same numbers are still fresh.
    assert_eq!(sa.highest_seq(), 0);
    let mut ok = signed(2, &with_trailer(&inner, 4));
    assert!(sa.decapsulate(&mut ok).is_ok());
}

#[test]
fn authentic_other_next_header_and_dummy() {
    let inner = ipv4(SRC, DST, 8);
    let mut sa = null_sa();
    // 41 = IPv6: the engine carries IPv4 only.
    assert_eq!(
        sa.decapsulate(&mut signed(1, &with_trailer(&inner, 41))),
        Err(EspError::NextHeader(41))
    );
    // 59 = no next header: a dummy packet, discarded without counting an
    // error, but its sequence number is used up.
    assert_eq!(
        sa.decapsulate(&mut signed(2, &with_trailer(&[0; 8], 59))),
        Err(EspError::Dummy)
    );
    assert_eq!(sa.counters().recv_errors, 1);
    assert_eq!(sa.highest_seq(), 2);
    assert_eq!(
        sa.decapsulate(&mut signed(2, &with_trailer(&inner, 4))),
        Err(EspError::Replay(ReplayVerdict::Duplicate))
    );
}

#[test]
fn authentic_malformed_inner_and_policy() {
    let mut sa = null_sa();
    // Total length beyond the plaintext.
    let mut bad = ipv4(SRC, DST, 8);
    bad[2..4].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(
        sa.decapsulate(&mut signed(1, &with_trailer(&bad, 4))),
        Err(EspError::InnerMalformed)
    );
    // IPv6 version nibble.
    let mut v6 = ipv4(SRC, DST, 8);
    v6[0] = 0x60;
    assert_eq!(
        sa.decapsulate(&mut signed(2, &with_trailer(&v6, 4))),
        Err(EspError::InnerMalformed)
    );
    // Source outside the remote selector.
    let off = ipv4([192, 0, 2, 9], DST, 8);
    assert_eq!(
        sa.decapsulate(&mut signed(3, &with_trailer(&off, 4))),
        Err(EspError::PolicyViolation {
            src: Ipv4Addr::new(192, 0, 2, 9),
            dst: Ipv4Addr::from(DST),
        })
    );
    let c = sa.counters();
    assert_eq!((c.malformed, c.policy_drops, c.recv_errors), (2, 1, 3));
    // None of them moved the window.
    assert_eq!(sa.highest_seq(), 0);
}

/// TFC padding (RFC 4303 2.7): bytes after the inner packet's total
/// length are not part of the returned packet.
#[test]
fn tfc_padding_is_cut_off() {
    let inner = ipv4(SRC, DST, 4);
    let mut payload = inner.clone();
    payload.extend_from_slice(&[0xee; 16]);
    let mut buf = signed(1, &with_trailer(&payload, 4));
    let r = null_sa().decapsulate(&mut buf).unwrap();
    assert_eq!(&buf[r], &inner[..]);
}

/// The window against a model that remembers every accepted number, on a
/// deterministic walk of small steps, reorderings and far jumps (the
/// fuzz target's replay mode, 20,000 steps).
#[test]
fn replay_window_matches_a_model() {
    for esn in [false, true] {
        let w = ReplayWindow::new(esn);
        let mut seen = BTreeSet::new();
        let mut top = 0u64;
        let mut seq = 0u64;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut verdicts = [0usize; 4];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let step = (x % 64) as i64 - 24;
            seq = match (x >> 60, step) {
                // A far jump ahead, or back to around the window's edge.
                (0, s) if s > 0 => seq.saturating_add_signed(s * (REPLAY_WINDOW as i64 * 2 / 3)),
                (0, s) => top.saturating_add_signed(s * (REPLAY_WINDOW as i64 / 16)),
                _ => seq.saturating_add_signed(step),
            };
            let model = if seq == 0 {
                Err(ReplayVerdict::Zero)
            } else if seq > top {
                Ok(())
            } else if top - seq >= REPLAY_WINDOW {
                Err(ReplayVerdict::TooOld)
            } else if seen.contains(&seq) {
                Err(ReplayVerdict::Duplicate)
            } else {
                Ok(())
            };
            verdicts[match model {
                Ok(()) => 0,
                Err(ReplayVerdict::Duplicate) => 1,
                Err(ReplayVerdict::TooOld) => 2,
                Err(ReplayVerdict::Zero) => 3,
            }] += 1;
            assert_eq!(w.check(seq), model, "check({seq}), top {top}");
            assert_eq!(w.accept(seq), model, "accept({seq}), top {top}");
            if model.is_ok() {
                seen.insert(seq);
                top = top.max(seq);
                seen = seen.split_off(&top.saturating_sub(REPLAY_WINDOW));
            }
            assert_eq!(w.top(), top);
        }
        // The walk exercises acceptance, duplicates and too-old numbers.
        assert!(
            verdicts[0] > 1000 && verdicts[1] > 300 && verdicts[2] > 100,
            "{verdicts:?}"
        );
    }
}
