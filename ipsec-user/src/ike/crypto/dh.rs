//! Diffie-Hellman for IKE: MODP groups 1, 2, 5, 14, 15, 16 and 24 with
//! `num-bigint`, ECP groups 19/20 and X25519 (31) with `ring`, and ECP
//! group 21 (P-521) with RustCrypto's `p521`, since ring has no P-521.
//!
//! ECP public values travel as x | y without the SEC1 0x04 prefix (RFC
//! 5903 section 7); the shared secret is the x coordinate. A peer's point
//! is checked as RFC 6989 2.3 asks: on the curve and not the identity
//! (ring does this for P-256/P-384; for P-521 `p521`'s SEC1 decoding does,
//! and the identity has no x | y encoding at all).
//!
//! Private MODP exponents are sized to the group's strength (RFC 3526
//! section 8) rather than to the modulus: a 256-bit exponent makes a
//! modp2048 handshake several times cheaper (perf-anchors.md) at no loss
//! of security for the group.
//!
//! The two exponentiations with the private exponent (g^x and y^x) run
//! in OpenSSL's constant-time Montgomery exponentiation
//! (`BN_mod_exp_mont_consttime`, selected by `BN_FLG_CONSTTIME` on the
//! exponent): 2-3x faster than `num-bigint`'s `modpow` for group 14 here
//! (DH was 89 % of an IKEv2 modp2048 handshake's CPU, `bench ike`), and
//! its time does not depend on the exponent's bits, which `num-bigint`'s
//! sliding window does. The exponent and the result are copied into
//! OpenSSL numbers that are wiped (`BN_clear`) before they are freed;
//! OpenSSL wipes its own window table. `num-bigint` stays for the
//! constants and the public-value checks, which involve no secret.

use std::sync::OnceLock;

use num_bigint::BigUint;
use num_traits::One;
use openssl::bn::{BigNum, BigNumContext};
use ring::agreement;
use ring::rand::SecureRandom;
use zeroize::Zeroizing;

use super::CryptoError;
use super::groups;
use crate::algo::DhGroup;

/// The MODP parameters of one group.
struct Modp {
    p: BigUint,
    /// `p` and `g` again, for OpenSSL's exponentiation (read-only).
    p_ossl: BigNum,
    g_ossl: BigNum,
    /// Order of the subgroup g generates, when it is not (p-1)/2 (group 24).
    q: Option<BigUint>,
    /// Bytes of the modulus (length of public values and shared secrets).
    len: usize,
    /// Private exponent size in bits.
    exp_bits: usize,
}

fn parse_hex(h: &str) -> BigUint {
    BigUint::parse_bytes(h.as_bytes(), 16).expect("constant group parameters are valid hex")
}

fn modp(group: DhGroup) -> Option<&'static Modp> {
    static CELLS: [OnceLock<Modp>; 7] = [const { OnceLock::new() }; 7];
    let (idx, p, g, q, exp_bits) = match group {
        DhGroup::Modp768 => (0, groups::MODP_768, None, None, 256),
        DhGroup::Modp1024 => (1, groups::MODP_1024, None, None, 256),
        DhGroup::Modp1536 => (2, groups::MODP_1536, None, None, 256),
        DhGroup::Modp2048 => (3, groups::MODP_2048, None, None, 256),
        DhGroup::Modp3072 => (4, groups::MODP_3072, None, None, 320),
        DhGroup::Modp4096 => (5, groups::MODP_4096, None, None, 400),
        DhGroup::Modp2048s256 => (
            6,
            groups::MODP_2048_256_P,
            Some(groups::MODP_2048_256_G),
            Some(groups::MODP_2048_256_Q),
            256,
        ),
        _ => return None,
    };
    Some(CELLS[idx].get_or_init(|| {
        let p = parse_hex(p);
        let g = g.map(parse_hex).unwrap_or_else(|| BigUint::from(2u32));
        let len = p.bits().div_ceil(8) as usize;
        let ossl = |n: &BigUint| {
            BigNum::from_slice(&n.to_bytes_be())
                .expect("OpenSSL allocates a number for a group constant")
        };
        Modp {
            p_ossl: ossl(&p),
            g_ossl: ossl(&g),
            p,
            q: q.map(parse_hex),
            len,
            exp_bits,
        }
    }))
}

/// An OpenSSL number holding a secret: wiped before it is freed
/// (`BigNum`'s own drop is `BN_free`, which does not wipe).
struct SecretBn(BigNum);

impl Drop for SecretBn {
    fn drop(&mut self) {
        self.0.clear();
    }
}

fn ossl_err(_: openssl::error::ErrorStack) -> CryptoError {
    CryptoError::Arithmetic("OpenSSL big-number exponentiation failed")
}

/// `base^x mod p`, left-padded to the modulus length, with OpenSSL's
/// constant-time exponentiation (the exponent is secret).
fn modexp_secret(
    m: &Modp,
    base: &openssl::bn::BigNumRef,
    x: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut exp = SecretBn(BigNum::from_slice(x).map_err(ossl_err)?);
    exp.0.set_const_time();
    let mut out = SecretBn(BigNum::new().map_err(ossl_err)?);
    let mut ctx = BigNumContext::new().map_err(ossl_err)?;
    out.0
        .mod_exp(base, &exp.0, &m.p_ossl, &mut ctx)
        .map_err(ossl_err)?;
    let len = i32::try_from(m.len).map_err(|_| CryptoError::Arithmetic("modulus too long"))?;
    Ok(Zeroizing::new(out.0.to_vec_padded(len).map_err(ossl_err)?))
}

fn ecdh_alg(group: DhGroup) -> Option<&'static agreement::Algorithm> {
    match group {
        DhGroup::Ecp256 => Some(&agreement::ECDH_P256),
        DhGroup::Ecp384 => Some(&agreement::ECDH_P384),
        DhGroup::X25519 => Some(&agreement::X25519),
        _ => None,
    }
}

/// Bytes of one P-521 coordinate (521 bits).
const P521_COORD_LEN: usize = 66;

/// Length in bytes of a KE payload's key-exchange data for `group`
/// (RFC 2409 pads MODP values to the modulus; RFC 5903 x||y; RFC 8031).
pub fn public_len(group: DhGroup) -> Result<usize, CryptoError> {
    match group {
        DhGroup::Ecp256 => Ok(64),
        DhGroup::Ecp384 => Ok(96),
        DhGroup::Ecp521 => Ok(2 * P521_COORD_LEN),
        DhGroup::X25519 => Ok(32),
        g => modp(g)
            .map(|m| m.len)
            .ok_or(CryptoError::UnsupportedGroup(g.number())),
    }
}

/// Whether we can compute `group` at all (every group of `DhGroup` today).
pub fn is_supported(group: DhGroup) -> bool {
    public_len(group).is_ok()
}

fn left_pad(bytes: Vec<u8>, len: usize) -> Zeroizing<Vec<u8>> {
    let bytes = Zeroizing::new(bytes);
    let mut out = Zeroizing::new(vec![0u8; len.saturating_sub(bytes.len())]);
    out.extend_from_slice(&bytes);
    out
}

enum Secret {
    Modp(Zeroizing<Vec<u8>>),
    Ecdh(agreement::EphemeralPrivateKey),
    /// Wiped on drop by `p521` (elliptic-curve's SecretKey zeroizes).
    P521(p521::SecretKey),
}

/// A P-521 private key from the CSPRNG: 66 random bytes masked to 521
/// bits, redrawn in the (about 2^-260) case they are not in [1, n-1].
fn p521_generate(rng: &dyn SecureRandom) -> Result<p521::SecretKey, CryptoError> {
    loop {
        let mut bytes = Zeroizing::new([0u8; P521_COORD_LEN]);
        rng.fill(&mut bytes[..]).map_err(|_| CryptoError::Rng)?;
        bytes[0] &= 0x01;
        if let Ok(k) = p521::SecretKey::from_slice(&bytes[..]) {
            return Ok(k);
        }
    }
}

/// x | y of a P-521 public key, as IKE carries it.
fn p521_public(key: &p521::SecretKey) -> Vec<u8> {
    use p521::elliptic_curve::sec1::ToEncodedPoint;
    let point = key.public_key().to_encoded_point(false);
    point.as_bytes().get(1..).unwrap_or_default().to_vec()
}

/// Our half of one Diffie-Hellman exchange. Consumed by [`DhPrivate::agree`].
pub struct DhPrivate {
    group: DhGroup,
    secret: Secret,
    public: Vec<u8>,
}

impl std::fmt::Debug for DhPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhPrivate")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

/// g^xy, zero-padded to the modulus length (MODP) or the x coordinate
/// (ECP, RFC 5903 section 7) or the X25519 output. Wiped on drop.
pub struct SharedSecret(Zeroizing<Vec<u8>>);

impl SharedSecret {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedSecret({} bytes)", self.0.len())
    }
}

impl DhPrivate {
    /// A fresh key pair from the CSPRNG.
    pub fn generate(group: DhGroup, rng: &dyn SecureRandom) -> Result<Self, CryptoError> {
        if let Some(m) = modp(group) {
            let mut x = Zeroizing::new(vec![0u8; m.exp_bits / 8]);
            rng.fill(&mut x).map_err(|_| CryptoError::Rng)?;
            if let Some(q) = &m.q {
                // x in [1, q-1]: the generator has order q (RFC 5114).
                let v = BigUint::from_bytes_be(&x) % (q - 1u32) + 1u32;
                x = left_pad(v.to_bytes_be(), m.exp_bits / 8);
            } else if x.iter().all(|b| *b == 0) {
                x[0] = 1;
            }
            return Self::modp_with_exponent(group, &x);
        }
        if group == DhGroup::Ecp521 {
            let key = p521_generate(rng)?;
            return Ok(DhPrivate {
                group,
                public: p521_public(&key),
                secret: Secret::P521(key),
            });
        }
        let alg = ecdh_alg(group).ok_or(CryptoError::UnsupportedGroup(group.number()))?;
        let key =
            agreement::EphemeralPrivateKey::generate(alg, rng).map_err(|_| CryptoError::Rng)?;
        let pk = key.compute_public_key().map_err(|_| CryptoError::Rng)?;
        // ring gives SEC1 uncompressed points (0x04 | x | y); IKE carries x | y.
        let public = match group {
            DhGroup::X25519 => pk.as_ref().to_vec(),
            _ => pk.as_ref().get(1..).unwrap_or_default().to_vec(),
        };
        Ok(DhPrivate {
            group,
            secret: Secret::Ecdh(key),
            public,
        })
    }

    /// A MODP key pair with a given exponent (known-answer tests).
    pub fn modp_with_exponent(group: DhGroup, x: &[u8]) -> Result<Self, CryptoError> {
        let m = modp(group).ok_or(CryptoError::UnsupportedGroup(group.number()))?;
        let public = modexp_secret(m, &m.g_ossl, x)?.to_vec();
        Ok(DhPrivate {
            group,
            secret: Secret::Modp(Zeroizing::new(x.to_vec())),
            public,
        })
    }

    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// Our public value as carried in the KE payload.
    pub fn public_value(&self) -> &[u8] {
        &self.public
    }

    /// Check the peer's public value and compute the shared secret.
    pub fn agree(self, peer: &[u8]) -> Result<SharedSecret, CryptoError> {
        let group = self.group;
        let expected = public_len(group)?;
        if peer.len() != expected {
            return Err(CryptoError::BadPublicLength {
                group: group.number(),
                got: peer.len(),
                expected,
            });
        }
        match self.secret {
            Secret::Modp(x) => {
                let m = modp(group).ok_or(CryptoError::UnsupportedGroup(group.number()))?;
                let y = BigUint::from_bytes_be(peer);
                // 1 < y < p-1 rejects the small-subgroup values 0, 1, p-1.
                if y <= BigUint::one() || y >= &m.p - 1u32 {
                    return Err(CryptoError::BadPublicValue(group.number()));
                }
                if let Some(q) = &m.q {
                    // RFC 6989: in a group with a small cofactor-free subgroup
                    // the peer's value must lie in the order-q subgroup.
                    if !y.modpow(q, &m.p).is_one() {
                        return Err(CryptoError::BadPublicValue(group.number()));
                    }
                }
                let y = BigNum::from_slice(peer).map_err(ossl_err)?;
                Ok(SharedSecret(modexp_secret(m, &y, &x)?))
            }
            Secret::Ecdh(key) => {
                let alg = ecdh_alg(group).ok_or(CryptoError::UnsupportedGroup(group.number()))?;
                let mut point = Vec::with_capacity(peer.len() + 1);
                if group != DhGroup::X25519 {
                    point.push(0x04);
                }
                point.extend_from_slice(peer);
                let unparsed = agreement::UnparsedPublicKey::new(alg, &point);
                agreement::agree_ephemeral(key, &unparsed, |z| {
                    SharedSecret(Zeroizing::new(z.to_vec()))
                })
                .map_err(|_| CryptoError::BadPublicValue(group.number()))
            }
            Secret::P521(key) => {
                let mut point = Vec::with_capacity(peer.len() + 1);
                point.push(0x04);
                point.extend_from_slice(peer);
                // SEC1 decoding checks that the point is on the curve.
                let public = p521::PublicKey::from_sec1_bytes(&point)
                    .map_err(|_| CryptoError::BadPublicValue(group.number()))?;
                let z = p521::ecdh::diffie_hellman(key.to_nonzero_scalar(), public.as_affine());
                Ok(SharedSecret(Zeroizing::new(z.raw_secret_bytes().to_vec())))
            }
        }
    }

    /// A P-521 key pair from a given private scalar (66 bytes big-endian,
    /// in [1, n-1]): known-answer tests.
    pub fn p521_with_scalar(d: &[u8]) -> Result<Self, CryptoError> {
        let key = p521::SecretKey::from_slice(d).map_err(|_| CryptoError::BadKeyLength {
            what: "P-521 private scalar",
            got: d.len(),
            expected: P521_COORD_LEN,
        })?;
        Ok(DhPrivate {
            group: DhGroup::Ecp521,
            public: p521_public(&key),
            secret: Secret::P521(key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn every_supported_group_agrees() {
        let rng = SystemRandom::new();
        for group in DhGroup::ALL {
            assert!(is_supported(group), "{group:?}");
            let a = DhPrivate::generate(group, &rng).unwrap();
            let b = DhPrivate::generate(group, &rng).unwrap();
            assert_eq!(
                a.public_value().len(),
                public_len(group).unwrap(),
                "{group:?}"
            );
            assert_ne!(a.public_value(), b.public_value());
            let (pa, pb) = (a.public_value().to_vec(), b.public_value().to_vec());
            let za = a.agree(&pb).unwrap();
            let zb = b.agree(&pa).unwrap();
            assert_eq!(za.as_bytes(), zb.as_bytes(), "{group:?}");
            let want_len = match group {
                DhGroup::Ecp256 | DhGroup::X25519 => 32,
                DhGroup::Ecp384 => 48,
                DhGroup::Ecp521 => 66,
                g => public_len(g).unwrap(),
            };
            assert_eq!(za.as_bytes().len(), want_len);
        }
    }

    /// OpenSSL's constant-time exponentiation gives what `num-bigint`'s
    /// `modpow` (the implementation before it) gives, in every MODP
    /// group: public values and shared secrets, including exponents and
    /// results with leading zero bytes (padding to the modulus).
    #[test]
    fn modp_exponentiation_matches_num_bigint() {
        let rng = SystemRandom::new();
        let modp_groups = DhGroup::ALL.into_iter().filter(|g| modp(*g).is_some());
        for group in modp_groups {
            let m = modp(group).unwrap();
            let g = match group {
                DhGroup::Modp2048s256 => parse_hex(groups::MODP_2048_256_G),
                _ => BigUint::from(2u32),
            };
            for round in 0..4 {
                let mut x = vec![0u8; m.exp_bits / 8];
                rng.fill(&mut x).unwrap();
                if round == 0 {
                    x[..3].fill(0); // a short exponent
                }
                let a = DhPrivate::modp_with_exponent(group, &x).unwrap();
                let want = m.g_ossl.to_vec();
                assert_eq!(want, g.to_bytes_be(), "{group:?} generator");
                let gx = g.modpow(&BigUint::from_bytes_be(&x), &m.p);
                assert_eq!(
                    a.public_value(),
                    &left_pad(gx.to_bytes_be(), m.len)[..],
                    "{group:?}"
                );
                let b = DhPrivate::generate(group, &rng).unwrap();
                let gy = BigUint::from_bytes_be(b.public_value());
                let z = gy.modpow(&BigUint::from_bytes_be(&x), &m.p);
                let shared = a.agree(b.public_value()).unwrap();
                assert_eq!(
                    shared.as_bytes(),
                    &left_pad(z.to_bytes_be(), m.len)[..],
                    "{group:?}"
                );
                assert_eq!(shared.as_bytes().len(), m.len);
            }
        }
        // A result that is small enough to need padding: 2^1 = 2.
        let a = DhPrivate::modp_with_exponent(DhGroup::Modp2048, &[1]).unwrap();
        let mut two = vec![0u8; 256];
        two[255] = 2;
        assert_eq!(a.public_value(), &two[..]);
    }

    #[test]
    fn rejects_degenerate_public_values() {
        let rng = SystemRandom::new();
        let len = public_len(DhGroup::Modp1024).unwrap();
        let p = modp(DhGroup::Modp1024).unwrap().p.clone();
        let p_minus_1 = left_pad((&p - 1u32).to_bytes_be(), len);
        let one = left_pad(vec![1], len);
        for bad in [
            vec![0u8; len],
            one.to_vec(),
            p_minus_1.to_vec(),
            p.to_bytes_be(),
        ] {
            let a = DhPrivate::generate(DhGroup::Modp1024, &rng).unwrap();
            assert_eq!(a.agree(&bad).unwrap_err(), CryptoError::BadPublicValue(2));
        }
        let a = DhPrivate::generate(DhGroup::Modp1024, &rng).unwrap();
        assert!(matches!(
            a.agree(&[5u8; 10]),
            Err(CryptoError::BadPublicLength { got: 10, .. })
        ));
        // group 24: 2 is not in the order-q subgroup
        let a = DhPrivate::generate(DhGroup::Modp2048s256, &rng).unwrap();
        assert_eq!(
            a.agree(&left_pad(vec![2], 256)).unwrap_err(),
            CryptoError::BadPublicValue(24)
        );
        // P-256: a point off the curve
        let a = DhPrivate::generate(DhGroup::Ecp256, &rng).unwrap();
        let mut off = DhPrivate::generate(DhGroup::Ecp256, &rng)
            .unwrap()
            .public_value()
            .to_vec();
        off[63] ^= 1;
        assert_eq!(a.agree(&off).unwrap_err(), CryptoError::BadPublicValue(19));
    }

    // Two P-521 key pairs made and agreed by OpenSSL 3 (`openssl genpkey
    // -algorithm EC -pkeyopt ec_paramgen_curve:P-521`, `openssl ec -text`,
    // `openssl pkeyutl -derive`): an independent implementation's answer.
    const P521_A_PRIV: &str = "01cdbbf4ed6fd6d94ebcbc6f03001a6303e8c981dae52b62d044d5e5054676e974714aa5acb67eb75e336b4e207a7a8b15a9b114ce5971f1ffd87c3d72c8630ce4d6";
    const P521_A_PUB: &str = "00c932cf272b7c3ebf3a1644c9083b3a61cd89fbb8f4ddf36a83247bb681e8d391c44961b84b1c800355a2bf3b6f4d283847d13759da673a39f6486d536b4d28d34f0072ee13603559df749dc795d52e9e4188103ac7a01704571e34e1af10948799b8827b6a32f6a7b112c94f3c9b41691640bd941b0f1cd6865c3294fa5f434bcb9c2b";
    const P521_B_PRIV: &str = "00a4b4bab5acd79efe893cb03367782db1d12e2a0a840376b109f78a4c14244c4bb22ec1f50dfd4badd2806f6f5ff419d119f9e5063d983b141aa88eaf1e8af14471";
    const P521_B_PUB: &str = "002326a05a6d5fd79b73df69bae9c8988739c9ab8bf0115423428880b002072f88f1bedc595665aee5a02de241b62e621abaadc90ac6c9a06bad24ff155bf16d159500d65f7df44c70cb7aa716d12ee70ccf481aa3b82a35253883a0fcd47e958c9454509f2067f1e258f04869e32a540e4a70d0601618b0507cbd901acb56f5205b1ac5";
    const P521_SHARED: &str = "01d3861306ea2b3f1d8bb2ce8dc5ceaf5ddadbee2fdd56d76152d1de33557f50fb84df4aee29e6485470d10c34141498fc313140529b76680757556724fff64412e1";

    #[test]
    fn p521_known_answer_against_openssl() {
        let a = DhPrivate::p521_with_scalar(&hex::decode(P521_A_PRIV).unwrap()).unwrap();
        let b = DhPrivate::p521_with_scalar(&hex::decode(P521_B_PRIV).unwrap()).unwrap();
        // public values as IKE carries them: x | y, 132 bytes, no 0x04
        assert_eq!(hex::encode(a.public_value()), P521_A_PUB);
        assert_eq!(hex::encode(b.public_value()), P521_B_PUB);
        assert_eq!(a.public_value().len(), public_len(DhGroup::Ecp521).unwrap());
        let za = a.agree(&hex::decode(P521_B_PUB).unwrap()).unwrap();
        let zb = b.agree(&hex::decode(P521_A_PUB).unwrap()).unwrap();
        assert_eq!(hex::encode(za.as_bytes()), P521_SHARED);
        assert_eq!(hex::encode(zb.as_bytes()), P521_SHARED);
    }

    #[test]
    fn p521_rejects_bad_public_values() {
        let rng = SystemRandom::new();
        let fresh = || DhPrivate::generate(DhGroup::Ecp521, &rng).unwrap();
        // off the curve: y changed by one bit
        let mut off = hex::decode(P521_B_PUB).unwrap();
        off[131] ^= 1;
        assert_eq!(
            fresh().agree(&off).unwrap_err(),
            CryptoError::BadPublicValue(21)
        );
        // all zeros (what an identity "encoding" would look like) and a
        // coordinate above p
        assert_eq!(
            fresh().agree(&[0u8; 132]).unwrap_err(),
            CryptoError::BadPublicValue(21)
        );
        assert_eq!(
            fresh().agree(&[0xffu8; 132]).unwrap_err(),
            CryptoError::BadPublicValue(21)
        );
        // the SEC1 prefix included is a length error, as for P-256
        let mut prefixed = vec![4u8];
        prefixed.extend(hex::decode(P521_B_PUB).unwrap());
        assert!(matches!(
            fresh().agree(&prefixed),
            Err(CryptoError::BadPublicLength { got: 133, .. })
        ));
        // a scalar outside [1, n-1]
        assert!(DhPrivate::p521_with_scalar(&[0u8; 66]).is_err());
        assert!(DhPrivate::p521_with_scalar(&[0xffu8; 66]).is_err());
    }
}
