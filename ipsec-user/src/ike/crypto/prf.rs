//! The IKEv1 pseudo-random function: HMAC with the negotiated hash
//! (RFC 2409 section 5: "prf" is the HMAC version of the hash unless a PRF
//! is negotiated, which no peer we meet does). All RustCrypto: its SHA-1
//! uses SHA-NI and is about 3x ring's here (perf-anchors.md).

use hmac::digest::{Digest, KeyInit};
use hmac::{Hmac, Mac};
use zeroize::Zeroizing;

use crate::algo::IkeHash;

/// The PRF and hash of one IKE SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prf {
    pub hash: IkeHash,
}

/// HMAC over several parts. A macro, not a generic: the trait bounds of a
/// generic HMAC over RustCrypto digests are longer than the five cases.
macro_rules! hmac_parts {
    ($d:ty, $key:expr, $parts:expr) => {{
        // HMAC takes keys of any length (long ones are hashed first), so
        // new_from_slice cannot fail.
        let mut mac =
            <Hmac<$d> as KeyInit>::new_from_slice($key).expect("HMAC accepts any key length");
        for p in $parts {
            mac.update(p);
        }
        Zeroizing::new(mac.finalize().into_bytes().to_vec())
    }};
}

fn hash_parts<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = D::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

impl Prf {
    pub fn new(hash: IkeHash) -> Self {
        Prf { hash }
    }

    /// Output length in bytes (also the length of SKEYID and of HASH_I/R).
    pub fn output_len(&self) -> usize {
        match self.hash {
            IkeHash::Md5 => 16,
            IkeHash::Sha1 => 20,
            IkeHash::Sha256 => 32,
            IkeHash::Sha384 => 48,
            IkeHash::Sha512 => 64,
        }
    }

    /// prf(key, parts[0] | parts[1] | ...).
    pub fn prf(&self, key: &[u8], parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
        match self.hash {
            IkeHash::Md5 => hmac_parts!(md5::Md5, key, parts),
            IkeHash::Sha1 => hmac_parts!(sha1::Sha1, key, parts),
            IkeHash::Sha256 => hmac_parts!(sha2::Sha256, key, parts),
            IkeHash::Sha384 => hmac_parts!(sha2::Sha384, key, parts),
            IkeHash::Sha512 => hmac_parts!(sha2::Sha512, key, parts),
        }
    }

    /// The plain hash (used for the phase-1 IV, RFC 2409 appendix B, and
    /// the NAT-D payloads, RFC 3947).
    pub fn hash(&self, parts: &[&[u8]]) -> Vec<u8> {
        match self.hash {
            IkeHash::Md5 => hash_parts::<md5::Md5>(parts),
            IkeHash::Sha1 => hash_parts::<sha1::Sha1>(parts),
            IkeHash::Sha256 => hash_parts::<sha2::Sha256>(parts),
            IkeHash::Sha384 => hash_parts::<sha2::Sha384>(parts),
            IkeHash::Sha512 => hash_parts::<sha2::Sha512>(parts),
        }
    }

    /// prf+ style expansion of RFC 2409 (appendix B and section 5.5):
    /// K1 = prf(key, seed), K2 = prf(key, K1 | seed), ... truncated to `len`.
    /// With `feedback_only` the seed is used for K1 only and K(n+1) =
    /// prf(key, Kn) (the Ka expansion of SKEYID_e uses seed = [0]).
    pub fn expand(
        &self,
        key: &[u8],
        seed: &[&[u8]],
        len: usize,
        feedback_only: bool,
    ) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(len + self.output_len()));
        let mut prev = self.prf(key, seed);
        out.extend_from_slice(&prev);
        while out.len() < len {
            let next = if feedback_only {
                self.prf(key, &[&prev])
            } else {
                let mut parts: Vec<&[u8]> = Vec::with_capacity(seed.len() + 1);
                parts.push(&prev);
                parts.extend_from_slice(seed);
                self.prf(key, &parts)
            };
            out.extend_from_slice(&next);
            prev = next;
        }
        out.truncate(len);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from: printf 'what do ya want for nothing?' |
    //   openssl dgst -<hash> -hmac Jefe   (RFC 2104/4231 key "Jefe").
    #[test]
    fn hmac_known_answers() {
        let data: &[u8] = b"what do ya want for nothing?";
        let cases = [
            (IkeHash::Md5, "750c783e6ab0b503eaa86e310a5db738"),
            (IkeHash::Sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            (
                IkeHash::Sha256,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                IkeHash::Sha384,
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
            ),
            (
                IkeHash::Sha512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (h, want) in cases {
            let prf = Prf::new(h);
            // split the input to check the multi-part interface too
            let got = prf.prf(b"Jefe", &[&data[..5], &data[5..]]);
            assert_eq!(hex::encode(&*got), want, "{h:?}");
            assert_eq!(got.len(), prf.output_len());
        }
    }

    // printf abc | openssl dgst -<hash>
    #[test]
    fn hash_known_answers() {
        assert_eq!(
            hex::encode(Prf::new(IkeHash::Md5).hash(&[b"a", b"bc"])),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex::encode(Prf::new(IkeHash::Sha1).hash(&[b"abc"])),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex::encode(Prf::new(IkeHash::Sha256).hash(&[b"abc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
