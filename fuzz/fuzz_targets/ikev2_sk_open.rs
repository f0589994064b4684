//! Fuzzes the IKEv2 SK / SKF envelope (`ike::crypto::sk`) with fixed IKE SA
//! keys derived from constant bytes. The first byte picks a mode, the
//! second one of the suites (every CBC cipher with every integrity, and
//! both AES-GCMs):
//!
//! * raw (0): the rest is a received datagram; whatever `MessageV2Repr`
//!   locates goes to `open` (SK) or `Reassembly::add` (SKF), and the
//!   bytes also go to `open` at an offset the input picks. Nothing can be
//!   forged without the keys, so this exercises the framing checks.
//! * seal (1): the rest is an inner chain sealed with the suite; `open`
//!   must give it back, and after one byte is flipped (position and mask
//!   from the input) it must fail.
//! * fragments (2): the inner chain is cut by `seal_fragments` at a
//!   datagram size from the input, the datagrams are fed to a
//!   `Reassembly` in an order (with duplicates) the input picks, and the
//!   chain must come back whole, exactly once.
//! * stream (3): the rest is a sequence of length-prefixed datagrams fed
//!   to one `Reassembly` with the fields the parser found, or arbitrary
//!   number/total/offset values: no panic, bounded state.

#![no_main]

use std::sync::OnceLock;

use ipsecgw::algo::{Ikev2Encryption, Ikev2Integrity, Ikev2Prf};
use ipsecgw::ike::crypto::CryptoError;
use ipsecgw::ike::crypto::keys_v2::{IkeSaKeys, Ikev2Suite};
use ipsecgw::ike::crypto::sk::{MAX_FRAGMENTS, Reassembly, open, seal, seal_fragments};
use ipsecgw::ike::wire::HEADER_LEN;
use ipsecgw::ike::wire::v2::{HeaderV2, MessageV2Repr, Protected, exchange, flags};
use libfuzzer_sys::fuzz_target;
use ring::rand::SystemRandom;

fn suites() -> &'static [IkeSaKeys] {
    static KEYS: OnceLock<Vec<IkeSaKeys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut suites = Vec::new();
        for encr in [
            Ikev2Encryption::Des,
            Ikev2Encryption::TripleDes,
            Ikev2Encryption::Aes128,
            Ikev2Encryption::Aes192,
            Ikev2Encryption::Aes256,
        ] {
            for integ in [
                Ikev2Integrity::Md5,
                Ikev2Integrity::Sha1,
                Ikev2Integrity::Sha256,
                Ikev2Integrity::Sha384,
                Ikev2Integrity::Sha512,
            ] {
                suites.push(Ikev2Suite {
                    encr,
                    integ,
                    prf: Ikev2Prf::Sha256,
                });
            }
        }
        for encr in [Ikev2Encryption::Aes128Gcm, Ikev2Encryption::Aes256Gcm] {
            suites.push(Ikev2Suite {
                encr,
                integ: Ikev2Integrity::Null,
                prf: Ikev2Prf::Sha256,
            });
        }
        suites
            .into_iter()
            .map(|s| IkeSaKeys::derive(s, &[1; 32], &[2; 32], &[3; 32], &[4; 8], &[5; 8]))
            .collect()
    })
}

fn header(message_id: u32) -> HeaderV2 {
    HeaderV2 {
        spi_i: [4; 8],
        spi_r: [5; 8],
        next_payload: 0,
        exchange: exchange::IKE_AUTH,
        flags: flags::INITIATOR,
        message_id,
        length: 0,
    }
}

/// Feeds one datagram to `r` the way the exchange code does.
fn add_parsed(r: &mut Reassembly, k: &IkeSaKeys, dgram: &[u8]) -> Option<Vec<u8>> {
    let m = MessageV2Repr::parse(dgram).ok()?;
    let from_i = m.header.from_initiator();
    match m.protected {
        Protected::Sk { offset, .. } => {
            let plain = open(k, from_i, dgram, offset).ok()?;
            Some(plain.to_vec())
        }
        Protected::Skf {
            first_inner,
            offset,
            number,
            total,
        } => {
            let got = r
                .add(
                    k,
                    from_i,
                    dgram,
                    m.header.message_id,
                    offset,
                    number,
                    total,
                    first_inner,
                )
                .ok()??;
            assert!(got.1.len() <= 64 * 1024);
            Some(got.1.to_vec())
        }
        Protected::None => None,
    }
}

fn raw(k: &IkeSaKeys, data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut r = Reassembly::default();
    let _ = add_parsed(&mut r, k, rest);
    let _ = open(k, pick & 1 == 1, rest, usize::from(pick));
    let _ = open(k, pick & 1 == 1, rest, HEADER_LEN);
}

fn sealed(k: &IkeSaKeys, data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let pos = usize::from(u16::from_be_bytes([data[0], data[1]]));
    let (mask, dir, inner) = (data[2], data[3] & 1 == 1, &data[4..]);
    let rng = SystemRandom::new();
    let mut m = match seal(k, dir, header(1), 35, inner, &rng) {
        Ok(m) => m,
        Err(CryptoError::TooBig(_)) => return,
        Err(e) => panic!("seal failed: {e}"),
    };
    assert_eq!(
        &open(k, dir, &m, HEADER_LEN).expect("open of a sealed message")[..],
        inner
    );
    if mask != 0 {
        let i = pos % m.len();
        m[i] ^= mask;
        assert!(
            open(k, dir, &m, HEADER_LEN).is_err(),
            "byte {i} flipped, still opens"
        );
    }
}

fn fragments(k: &IkeSaKeys, data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let max = 64 + usize::from(u16::from_be_bytes([data[0], data[1]])) % 2000;
    let (mut seed, dup, inner) = (u64::from(data[2]) | 1, data[3], &data[4..]);
    let rng = SystemRandom::new();
    let frags = match seal_fragments(k, true, header(2), 35, inner, max, &rng) {
        Ok(f) => f,
        Err(CryptoError::BadFragment(_)) | Err(CryptoError::TooBig(_)) => return,
        Err(e) => panic!("seal_fragments failed: {e}"),
    };
    assert!(frags.iter().all(|f| f.len() <= max));
    let mut order: Vec<usize> = (0..frags.len()).collect();
    for i in (1..order.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        order.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    let reassembles = frags.len() > 1 && frags.len() <= usize::from(MAX_FRAGMENTS);
    let mut r = Reassembly::default();
    let mut done = Vec::new();
    for (j, &i) in order.iter().enumerate() {
        if let Some(chain) = add_parsed(&mut r, k, &frags[i]) {
            done.push(chain);
        }
        // a duplicate of an earlier fragment, before the last one
        if dup & 1 == 1 && j + 1 < order.len() {
            assert!(add_parsed(&mut r, k, &frags[order[dup as usize % (j + 1)]]).is_none());
        }
    }
    if frags.len() == 1 || reassembles {
        assert_eq!(done, vec![inner.to_vec()]);
    } else {
        assert!(done.is_empty());
    }
}

fn stream(k: &IkeSaKeys, mut data: &[u8]) {
    let mut r = Reassembly::default();
    while data.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]])).min(data.len() - 3);
        let how = data[2];
        let dgram = &data[3..3 + len];
        data = &data[3 + len..];
        if how & 1 == 0 {
            let _ = add_parsed(&mut r, k, dgram);
        } else {
            let (n, t) = (u16::from(how >> 4), u16::from(how >> 1 & 7));
            let _ = r.add(k, how & 2 == 2, dgram, 1, usize::from(how), n, t, 35);
        }
        assert!(r.received() <= usize::from(MAX_FRAGMENTS));
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let keys = suites();
    let k = &keys[usize::from(data[1]) % keys.len()];
    let rest = &data[2..];
    match data[0] % 4 {
        0 => raw(k, rest),
        1 => sealed(k, rest),
        2 => fragments(k, rest),
        _ => stream(k, rest),
    }
});
