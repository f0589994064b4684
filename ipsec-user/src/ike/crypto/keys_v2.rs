//! IKEv2 key derivation (RFC 7296 2.13-2.18): prf, prf+, SKEYSEED, the
//! seven SK_* keys, CHILD_SA KEYMAT, the IKE SA rekey, and the
//! shared-key AUTH value (2.15).
//!
//! SKELETON: signatures are the contract; bodies are being filled in.

use zeroize::Zeroizing;

use crate::algo::{Ikev2Encryption, Ikev2Integrity, Ikev2Prf};

/// prf(key, data) with an IKEv2 PRF (HMAC-MD5/SHA1/SHA2-256/384/512).
pub fn prf(alg: Ikev2Prf, key: &[u8], parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let _ = (alg, key, parts);
    todo!()
}

/// Output length of `alg` in bytes (the length of SK_d, SK_pi, SK_pr).
pub fn prf_len(alg: Ikev2Prf) -> usize {
    let _ = alg;
    todo!()
}

/// prf+ (RFC 7296 2.13): `len` bytes of T1 | T2 | ... (len <= 255 blocks).
pub fn prf_plus(alg: Ikev2Prf, key: &[u8], seed: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let _ = (alg, key, seed, len);
    todo!()
}

/// Key length of an integrity algorithm (HMAC key = its output length;
/// 0 for Null).
pub fn integ_key_len(alg: Ikev2Integrity) -> usize {
    let _ = alg;
    todo!()
}

/// ICV length of an integrity algorithm (truncated HMAC: MD5/SHA1 12,
/// SHA256 16, SHA384 24, SHA512 32; 0 for Null).
pub fn integ_icv_len(alg: Ikev2Integrity) -> usize {
    let _ = alg;
    todo!()
}

/// Encryption key bytes SK_e needs: the cipher key, plus the 4-byte salt
/// for GCM (RFC 5282 7.1).
pub fn encr_keymat_len(alg: Ikev2Encryption) -> usize {
    let _ = alg;
    todo!()
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
        let _ = (suite, ni, nr, g_ir, spi_i, spi_r);
        todo!()
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
        let _ = (old, suite, g_ir, ni, nr, spi_i, spi_r);
        todo!()
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
        let _ = (g_ir, ni, nr, len);
        todo!()
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
        let _ = (initiator, psk, message, other_nonce, id_body);
        todo!()
    }
}
