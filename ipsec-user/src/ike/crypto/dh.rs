//! Diffie-Hellman for IKE: MODP groups 1, 2, 5, 14, 15, 16 and 24 with
//! `num-bigint`, ECP groups 19/20 and X25519 (31) with `ring`.
//!
//! Private MODP exponents are sized to the group's strength (RFC 3526
//! section 8) rather than to the modulus: a 256-bit exponent makes a
//! modp2048 handshake several times cheaper (perf-anchors.md) at no loss
//! of security for the group. Limitation: the exponent and the shared
//! secret are kept in zeroizing byte buffers, but `num-bigint` temporaries
//! made during `modpow` are freed without being wiped (BigUint offers no
//! zeroize).

use std::sync::OnceLock;

use num_bigint::BigUint;
use num_traits::One;
use ring::agreement;
use ring::rand::SecureRandom;
use zeroize::Zeroizing;

use super::CryptoError;
use super::groups;
use crate::algo::DhGroup;

/// The MODP parameters of one group.
struct Modp {
    p: BigUint,
    g: BigUint,
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
        let len = p.bits().div_ceil(8) as usize;
        Modp {
            p,
            g: g.map(parse_hex).unwrap_or_else(|| BigUint::from(2u32)),
            q: q.map(parse_hex),
            len,
            exp_bits,
        }
    }))
}

fn ecdh_alg(group: DhGroup) -> Option<&'static agreement::Algorithm> {
    match group {
        DhGroup::Ecp256 => Some(&agreement::ECDH_P256),
        DhGroup::Ecp384 => Some(&agreement::ECDH_P384),
        DhGroup::X25519 => Some(&agreement::X25519),
        _ => None,
    }
}

/// Length in bytes of a KE payload's key-exchange data for `group`
/// (RFC 2409 pads MODP values to the modulus; RFC 5903 x||y; RFC 8031).
pub fn public_len(group: DhGroup) -> Result<usize, CryptoError> {
    match group {
        DhGroup::Ecp256 => Ok(64),
        DhGroup::Ecp384 => Ok(96),
        DhGroup::X25519 => Ok(32),
        g => modp(g)
            .map(|m| m.len)
            .ok_or(CryptoError::UnsupportedGroup(g.number())),
    }
}

/// Whether we can compute `group` at all (P-521 is not in ring).
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
        let y = m.g.modpow(&BigUint::from_bytes_be(x), &m.p);
        let public = left_pad(y.to_bytes_be(), m.len).to_vec();
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
                let z = y.modpow(&BigUint::from_bytes_be(&x), &m.p);
                Ok(SharedSecret(left_pad(z.to_bytes_be(), m.len)))
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
        }
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
            if group == DhGroup::Ecp521 {
                let err = DhPrivate::generate(group, &rng).unwrap_err();
                assert_eq!(err, CryptoError::UnsupportedGroup(21));
                assert!(err.to_string().contains("not supported"));
                continue;
            }
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
                g => public_len(g).unwrap(),
            };
            assert_eq!(za.as_bytes().len(), want_len);
        }
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
}
