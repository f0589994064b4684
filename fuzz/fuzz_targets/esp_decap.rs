//! Fuzzes the inbound ESP path with fixed SAs keyed from constant bytes.
//! The first byte picks one of four modes:
//!
//! * raw: the rest is a received frame; it goes through
//!   `parse_outer_ethernet` and `parse_outer`, and whatever they locate (or
//!   the bytes as they are) through `InboundSa::decapsulate`.
//! * forge: an ESP-NULL/HMAC-SHA1-96 SA whose ICV the harness computes
//!   itself, so the fuzzer controls the authenticated plaintext and reaches
//!   the checks after the ICV (padding, next header, dummy packets, inner
//!   IPv4, selectors, replay).  Whatever is accepted must be inside the
//!   buffer, a well-formed IPv4 packet within the selectors, and refused
//!   as a replay the second time.
//! * structured: an `OutboundSa` with the same keys encapsulates an inner
//!   packet built from the input, then the input's mutations (XOR or
//!   truncate) are applied.  If the ESP bytes are unchanged the packet must
//!   decapsulate to exactly the inner packet (or be refused for its
//!   selectors if they were chosen to be wrong) and a second copy must be a
//!   replay; if they changed, every SA here has integrity, so it must fail.
//! * replay: a sequence of 64-bit numbers against the anti-replay window,
//!   compared with a plain model of RFC 4303 section 3.4.3.

#![no_main]

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use hmac::{Hmac, Mac};
use ipsecgw::algo::{EspCipher, EspInteg, EspTransform};
use ipsecgw::esp::replay::{ReplayVerdict, ReplayWindow};
use ipsecgw::esp::{
    EspError, InboundSa, OutboundSa, REPLAY_WINDOW, SaParams, Selector, parse_outer,
    parse_outer_ethernet,
};
use libfuzzer_sys::fuzz_target;

const SPI: u32 = 0xc0ff_ee01;
const REMOTE_NET: [u8; 4] = [198, 51, 100, 0];
const LOCAL_NET: [u8; 4] = [203, 0, 113, 0];

/// (cipher, integrity, ESN, NAT-T) of the SAs the fuzzer chooses from.
const SAS: [(EspCipher, EspInteg, bool, bool); 6] = [
    (EspCipher::Aes128Gcm, EspInteg::None, false, false),
    (EspCipher::TripleDes, EspInteg::HmacSha1_96, false, true),
    (EspCipher::Aes256Cbc, EspInteg::HmacSha256_128, true, false),
    (EspCipher::ChaCha20Poly1305, EspInteg::None, true, true),
    (EspCipher::Null, EspInteg::HmacSha1_96, false, false),
    (EspCipher::Aes128Cbc, EspInteg::HmacMd5_96, false, false),
];

/// The forge mode's SA: ESP-NULL with HMAC-SHA1-96 (index into `SAS`).
const FORGE_SA: usize = 4;

fn keymat(t: EspTransform) -> Vec<u8> {
    (0..t.keymat_len())
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(0x5a))
        .collect()
}

fn transform(i: usize) -> EspTransform {
    let (cipher, integ, _, _) = SAS[i % SAS.len()];
    EspTransform { cipher, integ }
}

fn params(i: usize, km: &[u8]) -> SaParams<'_> {
    let (_, _, esn, natt) = SAS[i % SAS.len()];
    SaParams {
        spi: SPI,
        transform: transform(i),
        keymat: km,
        tunnel_src: Ipv4Addr::new(192, 0, 2, 1),
        tunnel_dst: Ipv4Addr::new(192, 0, 2, 2),
        udp_encap: natt.then_some((4500, 4500)),
        esn,
        local_ts: Selector::new(LOCAL_NET.into(), 24),
        remote_ts: Selector::new(REMOTE_NET.into(), 24),
        lifetime_kb: None,
    }
}

fn inbound(i: usize) -> InboundSa {
    let km = keymat(transform(i));
    InboundSa::new(&params(i, &km)).expect("fixed inbound SA")
}

fn outbound(i: usize) -> OutboundSa {
    let km = keymat(transform(i));
    OutboundSa::new(&params(i, &km)).expect("fixed outbound SA")
}

/// What an accepted packet must look like.
fn check_accepted(buf: &[u8], r: std::ops::Range<usize>) {
    let inner = buf
        .get(r.clone())
        .expect("decapsulated range inside the buffer");
    assert!(
        inner.len() >= 20,
        "inner packet shorter than an IPv4 header"
    );
    assert_eq!(inner[0] >> 4, 4);
    assert_eq!(
        usize::from(u16::from_be_bytes([inner[2], inner[3]])),
        r.len()
    );
    let src = Ipv4Addr::new(inner[12], inner[13], inner[14], inner[15]);
    let dst = Ipv4Addr::new(inner[16], inner[17], inner[18], inner[19]);
    assert!(Selector::new(REMOTE_NET.into(), 24).contains(src));
    assert!(Selector::new(LOCAL_NET.into(), 24).contains(dst));
}

fn raw(data: &[u8]) {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let mut sa = inbound(sel as usize);
    let located = [parse_outer_ethernet(frame), parse_outer(frame)];
    for o in located.into_iter().flatten() {
        let r = o.range();
        assert!(r.end <= frame.len(), "ESP range outside the frame");
        assert_eq!(r.len(), o.esp_len);
        assert!(o.spi != 0);
        let mut buf = frame.to_vec();
        if let Ok(inner) = sa.decapsulate(&mut buf[r.clone()]) {
            check_accepted(&buf[r], inner);
        }
    }
    let mut buf = frame.to_vec();
    if let Ok(inner) = sa.decapsulate(&mut buf) {
        check_accepted(&buf, inner);
    }
    let c = sa.counters();
    assert_eq!(
        c.recv_errors,
        c.auth_failures + c.replay_drops + c.policy_drops + c.malformed
    );
}

fn forge_icv(esp: &mut Vec<u8>) {
    let km = keymat(transform(FORGE_SA));
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&km).expect("HMAC key");
    mac.update(esp);
    let icv = mac.finalize().into_bytes();
    esp.extend_from_slice(&icv[..12]);
}

fn forge(data: &[u8]) {
    // The fuzzer writes SPI, sequence number and the whole "plaintext"
    // (payload, padding, pad length, next header); the harness signs it.
    let mut esp = data.to_vec();
    forge_icv(&mut esp);
    let copy = esp.clone();
    let mut sa = inbound(FORGE_SA);
    match sa.decapsulate(&mut esp) {
        Ok(inner) => {
            check_accepted(&esp, inner.clone());
            // ESP-NULL: the inner packet is the plaintext as sent.
            assert_eq!(&esp[inner.clone()], &copy[inner]);
            let mut again = copy.clone();
            assert!(matches!(
                sa.decapsulate(&mut again),
                Err(EspError::Replay(ReplayVerdict::Duplicate))
            ));
        }
        // Length, alignment, SPI and replay checks come before the ICV;
        // past them a packet the harness signed must verify.
        Err(EspError::AuthFailed) => panic!("a correctly signed packet failed authentication"),
        Err(_) => {}
    }
}

/// Structured input: SA, sequence number, inner packet shape, then
/// mutations of the encapsulated frame.
fn structured(data: &[u8]) {
    if data.len() < 9 {
        return;
    }
    let sa_idx = data[0] as usize % SAS.len();
    let seq = u32::from_be_bytes([data[1], data[2], data[3], data[4]]).max(1);
    let payload_len = usize::from(u16::from_be_bytes([data[5], data[6]])) % 1500;
    let proto = data[7];
    let flags = data[8];
    let muts = &data[9..];

    let mut src = Ipv4Addr::from(REMOTE_NET).octets();
    let mut dst = Ipv4Addr::from(LOCAL_NET).octets();
    src[3] = 10;
    dst[3] = 20;
    let bad_src = flags & 1 != 0;
    let bad_dst = flags & 2 != 0;
    if bad_src {
        src[2] ^= 1;
    }
    if bad_dst {
        dst[2] ^= 1;
    }
    let total = 20 + payload_len;
    let mut inner = vec![0u8; total];
    inner[0] = 0x45;
    inner[1] = flags & 0xfc;
    inner[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    if flags & 4 != 0 {
        inner[6] = 0x40;
    }
    inner[8] = 64;
    inner[9] = proto;
    inner[12..16].copy_from_slice(&src);
    inner[16..20].copy_from_slice(&dst);
    for (i, b) in inner[20..].iter_mut().enumerate() {
        *b = (i as u8) ^ proto;
    }

    let mut out_sa = outbound(sa_idx);
    out_sa.set_next_seq(u64::from(seq));
    let mut frame = vec![0u8; out_sa.encapsulated_len(inner.len())];
    let n = out_sa
        .encapsulate(&inner, &mut frame)
        .expect("encapsulating a well-formed inner packet");
    assert_eq!(n, frame.len());
    let orig = parse_outer(&frame).expect("our own encapsulation parses");
    let orig_esp = frame[orig.range()].to_vec();

    // Mutations: (offset u16, xor u8); xor 0 truncates at the offset.
    let mut mutated = frame.clone();
    for m in muts.chunks_exact(3).take(8) {
        if mutated.is_empty() {
            break;
        }
        let at = usize::from(u16::from_be_bytes([m[0], m[1]])) % mutated.len();
        if m[2] == 0 {
            mutated.truncate(at);
        } else {
            mutated[at] ^= m[2];
        }
    }

    let Ok(o) = parse_outer(&mutated) else {
        return;
    };
    let untouched = mutated[o.range()] == orig_esp[..];
    let pristine = mutated.clone();
    let mut in_sa = inbound(sa_idx);
    let r = in_sa.decapsulate(&mut mutated[o.range()]);
    if !untouched {
        assert!(
            r.is_err(),
            "a modified ESP packet was accepted by an SA with integrity: {r:?}"
        );
        return;
    }
    if bad_src || bad_dst {
        assert!(
            matches!(r, Err(EspError::PolicyViolation { .. })),
            "selectors not enforced: {r:?}"
        );
        return;
    }
    let inner_range = r.expect("an untouched packet must decapsulate");
    let esp = &mutated[o.range()];
    assert_eq!(&esp[inner_range.clone()], &inner[..]);
    check_accepted(esp, inner_range);
    assert_eq!(in_sa.highest_seq() as u32, seq);
    let mut again = pristine;
    assert!(matches!(
        in_sa.decapsulate(&mut again[o.range()]),
        Err(EspError::Replay(ReplayVerdict::Duplicate))
    ));
}

/// The anti-replay window against a model that remembers everything.
fn replay(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let w = ReplayWindow::new(mode & 1 != 0);
    let mut seen = BTreeSet::new();
    let mut top = 0u64;
    let mut prev = 0u64;
    for chunk in rest.chunks_exact(3).take(4096) {
        // Mostly small steps around the top, sometimes far jumps: a delta
        // of up to +-2^20 scaled by the first byte's top bits.
        let delta = i64::from(i16::from_be_bytes([chunk[1], chunk[2]])) << (chunk[0] >> 4);
        let seq = prev.saturating_add_signed(delta);
        prev = seq;
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
        assert_eq!(w.check(seq), model, "check({seq}) with top {top}");
        let accept = chunk[0] & 1 == 0;
        if accept {
            assert_eq!(w.accept(seq), model, "accept({seq}) with top {top}");
            if model.is_ok() {
                seen.insert(seq);
                top = top.max(seq);
                // Forget what left the window, so the model stays small.
                seen = seen.split_off(&top.saturating_sub(REPLAY_WINDOW));
            }
        }
        assert_eq!(w.top(), top);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => raw(rest),
        1 => forge(rest),
        2 => structured(rest),
        _ => replay(rest),
    }
});
