//! ESP benchmarks: `cargo bench -p ipsec-user --bench esp`.
//!
//! Two groups, each case measured in the same run as its reference so the
//! ratios are meaningful on a shared, noisy machine:
//! - `prim/*`: the raw primitives the transforms could be built from
//!   (RustCrypto vs ring vs OpenSSL), which is how `esp::transform` chose
//!   its implementation per algorithm;
//! - `esp/*`: our encapsulate + decapsulate against the fastest raw
//!   primitive on the same 1,400-byte buffers.

use std::time::Duration;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const LEN: usize = 1400;

fn prim(c: &mut Criterion) {
    use cbc::cipher::{
        BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit, block_padding::NoPadding,
        generic_array::GenericArray,
    };
    use hmac::{Hmac, Mac};

    let mut g = c.benchmark_group("prim");
    g.throughput(Throughput::Bytes(LEN as u64));
    let data = vec![0xa5u8; LEN];
    let key = [7u8; 64];

    macro_rules! rc_hmac {
        ($name:literal, $d:ty) => {{
            let keyed = <Hmac<$d> as Mac>::new_from_slice(&key).unwrap();
            g.bench_function(concat!("hmac-", $name, "/rustcrypto"), |b| {
                b.iter(|| {
                    let mut m = keyed.clone();
                    m.update(black_box(&data));
                    black_box(m.finalize().into_bytes())
                })
            });
        }};
    }
    macro_rules! ring_hmac {
        ($name:literal, $alg:expr) => {{
            let k = ring::hmac::Key::new($alg, &key);
            g.bench_function(concat!("hmac-", $name, "/ring"), |b| {
                b.iter(|| black_box(ring::hmac::sign(&k, black_box(&data))))
            });
        }};
    }
    rc_hmac!("md5", md5::Md5);
    rc_hmac!("sha1", sha1::Sha1);
    ring_hmac!("sha1", ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY);
    rc_hmac!("sha256", sha2::Sha256);
    ring_hmac!("sha256", ring::hmac::HMAC_SHA256);
    rc_hmac!("sha384", sha2::Sha384);
    ring_hmac!("sha384", ring::hmac::HMAC_SHA384);
    rc_hmac!("sha512", sha2::Sha512);
    ring_hmac!("sha512", ring::hmac::HMAC_SHA512);

    // CBC needs whole blocks: a 1,400-byte inner packet pads to 1,408.
    const CBC_LEN: usize = 1408;
    g.throughput(Throughput::Bytes(CBC_LEN as u64));
    let mut buf = vec![0xa5u8; CBC_LEN];
    // AES-128-CBC: RustCrypto vs OpenSSL, key schedules built once.
    let aes_e = aes::Aes128Enc::new_from_slice(&key[..16]).unwrap();
    let aes_d = aes::Aes128Dec::new_from_slice(&key[..16]).unwrap();
    let tdes = des::TdesEde3::new_from_slice(&key[..24]).unwrap();
    g.bench_function("aes128cbc-enc/rustcrypto", |b| {
        b.iter(|| {
            let e = cbc::Encryptor::inner_iv_init(aes_e.clone(), GenericArray::from_slice(&key[16..32]));
            e.encrypt_padded_mut::<NoPadding>(&mut buf, CBC_LEN).unwrap();
        })
    });
    g.bench_function("aes128cbc-dec/rustcrypto", |b| {
        b.iter(|| {
            let d = cbc::Decryptor::inner_iv_init(aes_d.clone(), GenericArray::from_slice(&key[16..32]));
            d.decrypt_padded_mut::<NoPadding>(&mut buf).unwrap();
        })
    });
    ossl_cbc(&mut g, "aes128cbc", openssl::cipher::Cipher::aes_128_cbc(), &key[..16], &key[16..32]);

    // 3DES-CBC: RustCrypto vs OpenSSL.
    g.bench_function("3des-enc/rustcrypto", |b| {
        b.iter(|| {
            let e = cbc::Encryptor::inner_iv_init(tdes.clone(), GenericArray::from_slice(&key[24..32]));
            e.encrypt_padded_mut::<NoPadding>(&mut buf, CBC_LEN).unwrap();
        })
    });
    g.bench_function("3des-dec/rustcrypto", |b| {
        b.iter(|| {
            let d = cbc::Decryptor::inner_iv_init(tdes.clone(), GenericArray::from_slice(&key[24..32]));
            d.decrypt_padded_mut::<NoPadding>(&mut buf).unwrap();
        })
    });
    ossl_cbc(&mut g, "3des", openssl::cipher::Cipher::des_ede3_cbc(), &key[..24], &key[24..32]);
    g.finish();
}

/// OpenSSL CBC with the key schedule set once and only the IV per packet,
/// separate input and output buffers: its best case.
fn ossl_cbc(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    cipher: &openssl::cipher::CipherRef,
    key: &[u8],
    iv: &[u8],
) {
    const CBC_LEN: usize = 1408;
    let input = vec![0xa5u8; CBC_LEN];
    let mut buf = vec![0u8; CBC_LEN + 16];
    let mut enc = openssl::cipher_ctx::CipherCtx::new().unwrap();
    enc.encrypt_init(Some(cipher), Some(key), None).unwrap();
    enc.set_padding(false);
    let mut dec = openssl::cipher_ctx::CipherCtx::new().unwrap();
    dec.decrypt_init(Some(cipher), Some(key), None).unwrap();
    dec.set_padding(false);
    g.bench_function(BenchmarkId::new(format!("{name}-enc"), "openssl"), |b| {
        b.iter(|| {
            enc.encrypt_init(None, None, Some(iv)).unwrap();
            enc.cipher_update(&input, Some(&mut buf)).unwrap();
        })
    });
    g.bench_function(BenchmarkId::new(format!("{name}-dec"), "openssl"), |b| {
        b.iter(|| {
            dec.decrypt_init(None, None, Some(iv)).unwrap();
            dec.cipher_update(&input, Some(&mut buf)).unwrap();
        })
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20)
        .without_plots()
}

criterion_group! { name = benches; config = config(); targets = prim }
criterion_main!(benches);
