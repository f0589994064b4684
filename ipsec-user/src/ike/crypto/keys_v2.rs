//! IKEv2 key derivation (RFC 7296 2.13-2.18): prf, prf+, SKEYSEED, the
//! seven SK_* keys, CHILD_SA KEYMAT, the IKE SA rekey, and the
//! shared-key AUTH value (2.15).
//!
//! The PRFs are the HMACs of `super::prf` (RustCrypto, SHA-NI for SHA-1
//! and SHA-256). Every intermediate secret (SKEYSEED, the prf+ stream,
//! the padded PSK) lives in a `Zeroizing` buffer.

use zeroize::Zeroizing;

use super::prf::Prf;
use crate::algo::{IkeHash, Ikev2Encryption, Ikev2Integrity, Ikev2Prf};

/// "Key Pad for IKEv2" (RFC 7296 2.15), 17 ASCII bytes, no terminator.
const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// The HMAC behind an IKEv2 PRF.
fn prf_hash(alg: Ikev2Prf) -> IkeHash {
    match alg {
        Ikev2Prf::Md5 => IkeHash::Md5,
        Ikev2Prf::Sha1 => IkeHash::Sha1,
        Ikev2Prf::Sha256 => IkeHash::Sha256,
        Ikev2Prf::Sha384 => IkeHash::Sha384,
        Ikev2Prf::Sha512 => IkeHash::Sha512,
    }
}

/// The HMAC behind an integrity algorithm (`None` for Null).
pub(super) fn integ_hash(alg: Ikev2Integrity) -> Option<IkeHash> {
    match alg {
        Ikev2Integrity::Null => None,
        Ikev2Integrity::Md5 => Some(IkeHash::Md5),
        Ikev2Integrity::Sha1 => Some(IkeHash::Sha1),
        Ikev2Integrity::Sha256 => Some(IkeHash::Sha256),
        Ikev2Integrity::Sha384 => Some(IkeHash::Sha384),
        Ikev2Integrity::Sha512 => Some(IkeHash::Sha512),
    }
}

/// prf(key, data) with an IKEv2 PRF (HMAC-MD5/SHA1/SHA2-256/384/512).
pub fn prf(alg: Ikev2Prf, key: &[u8], parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    Prf::new(prf_hash(alg)).prf(key, parts)
}

/// Output length of `alg` in bytes (the length of SK_d, SK_pi, SK_pr).
pub fn prf_len(alg: Ikev2Prf) -> usize {
    Prf::new(prf_hash(alg)).output_len()
}

/// prf+ (RFC 7296 2.13): `len` bytes of T1 | T2 | ... (len <= 255 blocks).
/// T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n).
///
/// Panics if `len` needs more than 255 blocks: every length asked for is
/// fixed by the negotiated algorithms (at most a few hundred bytes), so
/// that would be a bug here, not peer input.
pub fn prf_plus(alg: Ikev2Prf, key: &[u8], seed: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let block = prf_len(alg);
    assert!(
        len <= 255 * block,
        "prf+ of {len} bytes exceeds 255 blocks of {block}"
    );
    let mut out = Zeroizing::new(Vec::with_capacity(len.div_ceil(block) * block));
    let mut prev: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    let mut n: u8 = 1;
    while out.len() < len {
        prev = prf(alg, key, &[&prev, seed, &[n]]);
        out.extend_from_slice(&prev);
        n = n.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// Key length of an integrity algorithm (HMAC key = its output length;
/// 0 for Null).
pub fn integ_key_len(alg: Ikev2Integrity) -> usize {
    integ_hash(alg).map_or(0, |h| Prf::new(h).output_len())
}

/// ICV length of an integrity algorithm (truncated HMAC: MD5/SHA1 12,
/// SHA256 16, SHA384 24, SHA512 32; 0 for Null).
pub fn integ_icv_len(alg: Ikev2Integrity) -> usize {
    match alg {
        Ikev2Integrity::Null => 0,
        Ikev2Integrity::Md5 | Ikev2Integrity::Sha1 => 12,
        Ikev2Integrity::Sha256 => 16,
        Ikev2Integrity::Sha384 => 24,
        Ikev2Integrity::Sha512 => 32,
    }
}

/// Bytes of salt after the AES key in SK_e for GCM (RFC 5282 7.1).
pub const GCM_SALT_LEN: usize = 4;

/// Encryption key bytes SK_e needs: the cipher key, plus the 4-byte salt
/// for GCM (RFC 5282 7.1).
pub fn encr_keymat_len(alg: Ikev2Encryption) -> usize {
    alg.key_len() + if alg.is_aead() { GCM_SALT_LEN } else { 0 }
}

/// The algorithms one IKE SA uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ikev2Suite {
    pub encr: Ikev2Encryption,
    /// `Null` with GCM.
    pub integ: Ikev2Integrity,
    pub prf: Ikev2Prf,
}

/// SK_d, SK_ai, SK_ar, SK_ei, SK_er, SK_pi, SK_pr. Wiped on drop; Debug
/// prints no key.
pub struct IkeSaKeys {
    pub suite: Ikev2Suite,
    pub sk_d: Zeroizing<Vec<u8>>,
    pub sk_ai: Zeroizing<Vec<u8>>,
    pub sk_ar: Zeroizing<Vec<u8>>,
    pub sk_ei: Zeroizing<Vec<u8>>,
    pub sk_er: Zeroizing<Vec<u8>>,
    pub sk_pi: Zeroizing<Vec<u8>>,
    pub sk_pr: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for IkeSaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IkeSaKeys")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl IkeSaKeys {
    /// A new IKE SA (2.14): SKEYSEED = prf(Ni | Nr, g^ir), then
    /// prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
    pub fn derive(
        suite: Ikev2Suite,
        ni: &[u8],
        nr: &[u8],
        g_ir: &[u8],
        spi_i: &[u8; 8],
        spi_r: &[u8; 8],
    ) -> IkeSaKeys {
        let nonces = [ni, nr].concat();
        let skeyseed = prf(suite.prf, &nonces, &[g_ir]);
        Self::from_skeyseed(suite, &skeyseed, &nonces, spi_i, spi_r)
    }

    /// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} =
    /// prf+(SKEYSEED, Ni | Nr | SPIi | SPIr), split by the suite's lengths.
    fn from_skeyseed(
        suite: Ikev2Suite,
        skeyseed: &[u8],
        nonces: &[u8],
        spi_i: &[u8; 8],
        spi_r: &[u8; 8],
    ) -> IkeSaKeys {
        let (p, a, e) = (
            prf_len(suite.prf),
            integ_key_len(suite.integ),
            encr_keymat_len(suite.encr),
        );
        let seed = [nonces, spi_i, spi_r].concat();
        let stream = prf_plus(suite.prf, skeyseed, &seed, 3 * p + 2 * a + 2 * e);
        let mut rest = &stream[..];
        let mut take = |n: usize| {
            let (k, r) = rest.split_at(n);
            rest = r;
            Zeroizing::new(k.to_vec())
        };
        IkeSaKeys {
            suite,
            sk_d: take(p),
            sk_ai: take(a),
            sk_ar: take(a),
            sk_ei: take(e),
            sk_er: take(e),
            sk_pi: take(p),
            sk_pr: take(p),
        }
    }

    /// An IKE SA rekeyed by CREATE_CHILD_SA (2.18): SKEYSEED =
    /// prf(SK_d (old), g^ir (new) | Ni | Nr), with the old SA's PRF
    /// computing SKEYSEED and the new suite's lengths for the rest.
    /// `ni`, `nr`, `spi_i`, `spi_r` are those of the exchange / new SA.
    pub fn rekey(
        old: &IkeSaKeys,
        suite: Ikev2Suite,
        g_ir: &[u8],
        ni: &[u8],
        nr: &[u8],
        spi_i: &[u8; 8],
        spi_r: &[u8; 8],
    ) -> IkeSaKeys {
        let skeyseed = prf(old.suite.prf, &old.sk_d, &[g_ir, ni, nr]);
        let nonces = [ni, nr].concat();
        Self::from_skeyseed(suite, &skeyseed, &nonces, spi_i, spi_r)
    }

    /// CHILD_SA KEYMAT (2.17): prf+(SK_d, [g^ir (new) |] Ni | Nr), `len`
    /// bytes. The caller splits it: initiator-to-responder encryption and
    /// integrity keys first, then responder-to-initiator.
    pub fn child_keymat(
        &self,
        g_ir: Option<&[u8]>,
        ni: &[u8],
        nr: &[u8],
        len: usize,
    ) -> Zeroizing<Vec<u8>> {
        let mut seed = Zeroizing::new(Vec::with_capacity(
            g_ir.map_or(0, <[u8]>::len) + ni.len() + nr.len(),
        ));
        if let Some(g) = g_ir {
            seed.extend_from_slice(g);
        }
        seed.extend_from_slice(ni);
        seed.extend_from_slice(nr);
        prf_plus(self.suite.prf, &self.sk_d, &seed, len)
    }

    /// The AUTH payload data with a shared key (2.15):
    /// prf(prf(psk, "Key Pad for IKEv2"), signed octets), where signed
    /// octets = `message` (the sender's first message, whole) | the other
    /// side's nonce | prf(SK_px, `id_body`). `initiator`: whose AUTH (picks
    /// SK_pi or SK_pr).
    pub fn psk_auth(
        &self,
        initiator: bool,
        psk: &[u8],
        message: &[u8],
        other_nonce: &[u8],
        id_body: &[u8],
    ) -> Zeroizing<Vec<u8>> {
        let alg = self.suite.prf;
        let sk_p = if initiator { &self.sk_pi } else { &self.sk_pr };
        let maced_id = prf(alg, sk_p, &[id_body]);
        let padded = prf(alg, psk, &[KEY_PAD]);
        prf(alg, &padded, &[message, other_nonce, &maced_id])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    const GCM_SUITE: Ikev2Suite = Ikev2Suite {
        encr: Ikev2Encryption::Aes256Gcm,
        integ: Ikev2Integrity::Null,
        prf: Ikev2Prf::Sha256,
    };
    const CBC_SUITE: Ikev2Suite = Ikev2Suite {
        encr: Ikev2Encryption::Aes128,
        integ: Ikev2Integrity::Sha1,
        prf: Ikev2Prf::Sha1,
    };

    fn ni() -> Vec<u8> {
        (0..32).collect()
    }
    fn nr() -> Vec<u8> {
        (32..64).collect()
    }
    const G_IR: [u8; 32] = [0x77; 32];
    const SPI_I: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
    const SPI_R: [u8; 8] = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18];

    fn keys_hex(k: &IkeSaKeys) -> [String; 7] {
        [
            &k.sk_d, &k.sk_ai, &k.sk_ar, &k.sk_ei, &k.sk_er, &k.sk_pi, &k.sk_pr,
        ]
        .map(|x| hex::encode(&x[..]))
    }

    // RFC 2202 / RFC 4231 test case 1: key 0x0b * 20 (16 for MD5), "Hi There".
    #[test]
    fn prf_rfc4231_known_answers() {
        let cases = [
            (Ikev2Prf::Md5, 16, "9294727a3638bb1c13f48ef8158bfc9d"),
            (
                Ikev2Prf::Sha1,
                20,
                "b617318655057264e28bc0b6fb378c8ef146be00",
            ),
            (
                Ikev2Prf::Sha256,
                20,
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                Ikev2Prf::Sha384,
                20,
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
            ),
            (
                Ikev2Prf::Sha512,
                20,
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
            ),
        ];
        for (alg, klen, want) in cases {
            let got = prf(alg, &vec![0x0b; klen], &[b"Hi ", b"There"]);
            assert_eq!(hex::encode(&got[..]), want, "{alg:?}");
            assert_eq!(got.len(), prf_len(alg));
        }
    }

    /// prf+ written out with `hmac` directly, as RFC 7296 2.13 defines it.
    fn prf_plus_by_hand(key: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut t = Vec::new();
        for n in 1u8..=255 {
            let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
            m.update(&t);
            m.update(seed);
            m.update(&[n]);
            t = m.finalize().into_bytes().to_vec();
            out.extend_from_slice(&t);
            if out.len() >= len {
                break;
            }
        }
        out.truncate(len);
        out
    }

    #[test]
    fn prf_plus_matches_its_definition() {
        // computed with Python's hmac/hashlib (an independent implementation)
        let want = "a2392e429a99b173341b368bb5ce320bfd483d89567c14ec187c2d77e3c0a208ba45d21d42611712996c0cd4b329ac8681e093a8a5bbbbf0fb8c9d1cf674f7423fe3d2fbd6641ff544749daa37804f04be0b1beba59ddc3867c3016209779fa74e8b8654";
        let got = prf_plus(Ikev2Prf::Sha256, b"key", b"seed", 100);
        assert_eq!(hex::encode(&got[..]), want);
        for len in [0, 1, 31, 32, 33, 64, 255 * 32] {
            assert_eq!(
                &prf_plus(Ikev2Prf::Sha256, b"k", b"s", len)[..],
                &prf_plus_by_hand(b"k", b"s", len)[..],
                "{len}"
            );
        }
        // a prefix of a longer stream
        let long = prf_plus(Ikev2Prf::Sha1, b"k", b"s", 100);
        assert_eq!(&prf_plus(Ikev2Prf::Sha1, b"k", b"s", 41)[..], &long[..41]);
    }

    #[test]
    #[should_panic(expected = "exceeds 255 blocks")]
    fn prf_plus_refuses_more_than_255_blocks() {
        prf_plus(Ikev2Prf::Md5, b"k", b"s", 255 * 16 + 1);
    }

    #[test]
    fn lengths() {
        assert_eq!(prf_len(Ikev2Prf::Sha384), 48);
        assert_eq!(integ_key_len(Ikev2Integrity::Null), 0);
        assert_eq!(integ_key_len(Ikev2Integrity::Md5), 16);
        assert_eq!(integ_key_len(Ikev2Integrity::Sha512), 64);
        assert_eq!(integ_icv_len(Ikev2Integrity::Md5), 12);
        assert_eq!(integ_icv_len(Ikev2Integrity::Sha1), 12);
        assert_eq!(integ_icv_len(Ikev2Integrity::Sha256), 16);
        assert_eq!(integ_icv_len(Ikev2Integrity::Sha384), 24);
        assert_eq!(integ_icv_len(Ikev2Integrity::Sha512), 32);
        assert_eq!(encr_keymat_len(Ikev2Encryption::Aes128Gcm), 20);
        assert_eq!(encr_keymat_len(Ikev2Encryption::Aes256Gcm), 36);
        assert_eq!(encr_keymat_len(Ikev2Encryption::Aes192), 24);
        assert_eq!(encr_keymat_len(Ikev2Encryption::TripleDes), 24);
    }

    #[test]
    fn derive_matches_an_independent_computation() {
        let k = IkeSaKeys::derive(GCM_SUITE, &ni(), &nr(), &G_IR, &SPI_I, &SPI_R);
        // by hand: SKEYSEED = prf(Ni | Nr, g^ir), then prf+ split 32/0/0/36/36/32/32
        let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&[ni(), nr()].concat()).unwrap();
        m.update(&G_IR);
        let skeyseed = m.finalize().into_bytes();
        let stream = prf_plus_by_hand(&skeyseed, &[&ni()[..], &nr(), &SPI_I, &SPI_R].concat(), 168);
        assert_eq!(&k.sk_d[..], &stream[..32]);
        assert!(k.sk_ai.is_empty() && k.sk_ar.is_empty());
        assert_eq!(&k.sk_ei[..], &stream[32..68]);
        assert_eq!(&k.sk_er[..], &stream[68..104]);
        assert_eq!(&k.sk_pi[..], &stream[104..136]);
        assert_eq!(&k.sk_pr[..], &stream[136..168]);
        // and against Python's hmac/hashlib
        assert_eq!(
            keys_hex(&k),
            [
                "adfdffda4e070e9c8232381b3c42cff42ae35f42b96870602875d103149db07d",
                "",
                "",
                "a01c86321c42b78b7ce1e3015686158478bad2742b3bfdbe566b6cd50063eda7309a9b78",
                "a601e5c0905827062d4a7af58d58bda65459fc6628e00a66208944871bee203da027e6cd",
                "104bc9eca2488648bd3630252c507eba9012a9492c7b653df76ef63e9fac0d21",
                "cb3d45d5fae534c31eb3651c3f9f940ef325caf5fe2d814d1fa3edebe5feee8d",
            ]
        );
        let c = IkeSaKeys::derive(CBC_SUITE, &ni(), &nr(), &G_IR, &SPI_I, &SPI_R);
        assert_eq!(
            keys_hex(&c),
            [
                "56ee9a6701496c096e59761d8769f0cce58d2cc7",
                "40992affa67057bb8e769b268b1089f257fd47ea",
                "9644a338f261491a0bc782253f2e99235acd5231",
                "0a16e0971560be4133d108739597c966",
                "448efd27ec5149d747962154928de3c5",
                "e55fcdd620b66612ec6496d3701d875fd82367bc",
                "ccbfa6aeaac4c36cc4aba3afcd66e7fbedb515d1",
            ]
        );
        // Debug shows no key
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("56ee9a") && !dbg.to_lowercase().contains("sk_d"),
            "{dbg}"
        );
    }

    #[test]
    fn rekey_uses_the_old_prf_and_sk_d() {
        let old = IkeSaKeys::derive(GCM_SUITE, &ni(), &nr(), &G_IR, &SPI_I, &SPI_R);
        let (g2, ni2, nr2) = ([0x99u8; 32], [0xaau8; 16], [0xbbu8; 16]);
        let new = IkeSaKeys::rekey(&old, CBC_SUITE, &g2, &ni2, &nr2, &[0x21; 8], &[0x31; 8]);
        assert_eq!(new.suite, CBC_SUITE);
        // SKEYSEED = HMAC-SHA256(old SK_d, g^ir | Ni | Nr), then prf+ with SHA-1
        assert_eq!(
            keys_hex(&new),
            [
                "709947841ce2090ea5cf636af918da79f091e8a6",
                "237cdfe26c40872e2db3d0b430664aefd371bc60",
                "4a2f305d3634f799717eb5cd5fc281a0d9b6f2df",
                "a5927204e7c1f0f97d62600daa8b2a33",
                "f0420edf9f1faa42d298c4be8fb8060f",
                "52a03f253c2ac39de65cba7a8ddc940f68d32296",
                "235d4f9856bca930540a6fd9b798327054c3c4c9",
            ]
        );
    }

    #[test]
    fn child_keymat_with_and_without_pfs() {
        let k = IkeSaKeys::derive(GCM_SUITE, &ni(), &nr(), &G_IR, &SPI_I, &SPI_R);
        let (g2, ni2, nr2) = ([0x99u8; 32], [0xaau8; 16], [0xbbu8; 16]);
        assert_eq!(
            hex::encode(&k.child_keymat(None, &ni2, &nr2, 72)[..]),
            "009369a161df21db81edffeb3ceedb396428f1995774101043ecedf409412cd1fcfa381a185814663dea7e17d529a89385e724b65742b01509beae74cc2331f89474ff10e7dca284"
        );
        assert_eq!(
            hex::encode(&k.child_keymat(Some(&g2), &ni2, &nr2, 72)[..]),
            "7e2aa491013150f029085eeaa826cc97d5f46f4afcdc53c5e3d28b30ab26266192883bd79e080677219083589ce0c00a4f07c84dec486dda0c4d0aac9e9f997489c43e77a605de75"
        );
    }

    #[test]
    fn psk_auth_matches_an_independent_computation() {
        let k = IkeSaKeys::derive(GCM_SUITE, &ni(), &nr(), &G_IR, &SPI_I, &SPI_R);
        let id = [1, 0, 0, 0, 192, 0, 2, 1];
        let msg = b"msg1".repeat(10);
        let i = k.psk_auth(true, b"s3cret", &msg, &nr(), &id);
        let r = k.psk_auth(false, b"s3cret", &msg, &ni(), &id);
        assert_eq!(
            hex::encode(&i[..]),
            "fcf5e524129597f46f09147a821cb22ffa2d2567662ab705dce439726dceedc4"
        );
        assert_eq!(
            hex::encode(&r[..]),
            "cc7a8564bac3f0ca51a4a338e7e0759854c99490b139f27a047318a2f6741f8b"
        );
        // by hand with hmac: prf(prf(psk, "Key Pad for IKEv2"), msg | Nr | prf(SK_pi, ID'))
        let h = |key: &[u8], parts: &[&[u8]]| {
            let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
            parts.iter().for_each(|p| m.update(p));
            m.finalize().into_bytes().to_vec()
        };
        let pad = h(b"s3cret", &[b"Key Pad for IKEv2"]);
        let want = h(&pad, &[&msg, &nr(), &h(&k.sk_pi, &[&id])]);
        assert_eq!(&i[..], &want[..]);
        assert_ne!(&k.psk_auth(true, b"s3cret!", &msg, &nr(), &id)[..], &i[..]);
    }
}
