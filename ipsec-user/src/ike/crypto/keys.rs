//! The IKEv1 key schedule (RFC 2409 section 5 and appendix B) for
//! pre-shared-key authentication: SKEYID and its children, the phase-1
//! encryption key, IVs, the authentication hashes and KEYMAT.

use zeroize::Zeroizing;

use super::Prf;
use super::cipher;
use crate::algo::{IkeEncryption, IkeHash};

/// Keys of one ISAKMP SA. Wiped on drop; `Debug` prints no key.
pub struct Phase1Keys {
    prf: Prf,
    pub skeyid: Zeroizing<Vec<u8>>,
    pub skeyid_d: Zeroizing<Vec<u8>>,
    pub skeyid_a: Zeroizing<Vec<u8>>,
    pub skeyid_e: Zeroizing<Vec<u8>>,
    /// The phase-1 cipher key, expanded from SKEYID_e when it is shorter.
    pub enc_key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Phase1Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phase1Keys")
            .field("prf", &self.prf)
            .finish_non_exhaustive()
    }
}

/// Inputs of the SKEYID chain that both peers share.
pub struct Phase1Inputs<'a> {
    pub ni_b: &'a [u8],
    pub nr_b: &'a [u8],
    /// g^xy as the DH computed it (zero-padded to the modulus).
    pub gxy: &'a [u8],
    pub cky_i: &'a [u8; 8],
    pub cky_r: &'a [u8; 8],
}

impl Phase1Keys {
    /// SKEYID = prf(pre-shared-key, Ni_b | Nr_b), then
    /// SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0),
    /// SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1),
    /// SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2).
    pub fn derive_psk(hash: IkeHash, enc: IkeEncryption, psk: &[u8], i: &Phase1Inputs<'_>) -> Self {
        let prf = Prf::new(hash);
        let skeyid = prf.prf(psk, &[i.ni_b, i.nr_b]);
        Self::from_skeyid(prf, enc, skeyid, i)
    }

    fn from_skeyid(
        prf: Prf,
        enc: IkeEncryption,
        skeyid: Zeroizing<Vec<u8>>,
        i: &Phase1Inputs<'_>,
    ) -> Self {
        let skeyid_d = prf.prf(&skeyid, &[i.gxy, i.cky_i, i.cky_r, &[0]]);
        let skeyid_a = prf.prf(&skeyid, &[&skeyid_d, i.gxy, i.cky_i, i.cky_r, &[1]]);
        let skeyid_e = prf.prf(&skeyid, &[&skeyid_a, i.gxy, i.cky_i, i.cky_r, &[2]]);
        let need = cipher::key_len(enc);
        // Appendix B: when SKEYID_e is too short, Ka = K1 | K2 | ... with
        // K1 = prf(SKEYID_e, 0) and Kn = prf(SKEYID_e, Kn-1).
        let enc_key = if skeyid_e.len() >= need {
            Zeroizing::new(skeyid_e[..need].to_vec())
        } else {
            prf.expand(&skeyid_e, &[&[0]], need, true)
        };
        Phase1Keys {
            prf,
            skeyid,
            skeyid_d,
            skeyid_a,
            skeyid_e,
            enc_key,
        }
    }

    pub fn prf(&self) -> Prf {
        self.prf
    }

    /// HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b).
    /// SAi_b is the initiator's SA payload body (without its generic
    /// header), IDii_b the ID payload body.
    pub fn hash_i(
        &self,
        gxi: &[u8],
        gxr: &[u8],
        cky_i: &[u8; 8],
        cky_r: &[u8; 8],
        sai_b: &[u8],
        idii_b: &[u8],
    ) -> Zeroizing<Vec<u8>> {
        self.prf
            .prf(&self.skeyid, &[gxi, gxr, cky_i, cky_r, sai_b, idii_b])
    }

    /// HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).
    pub fn hash_r(
        &self,
        gxi: &[u8],
        gxr: &[u8],
        cky_i: &[u8; 8],
        cky_r: &[u8; 8],
        sai_b: &[u8],
        idir_b: &[u8],
    ) -> Zeroizing<Vec<u8>> {
        self.prf
            .prf(&self.skeyid, &[gxr, gxi, cky_r, cky_i, sai_b, idir_b])
    }

    /// Quick mode HASH(1) = prf(SKEYID_a, M-ID | payloads after HASH);
    /// also the HASH of informational exchanges (RFC 2409 section 5.7).
    pub fn hash1(&self, mid: u32, rest: &[u8]) -> Zeroizing<Vec<u8>> {
        self.prf.prf(&self.skeyid_a, &[&mid.to_be_bytes(), rest])
    }

    /// Quick mode HASH(2) = prf(SKEYID_a, M-ID | Ni_b | payloads after HASH).
    pub fn hash2(&self, mid: u32, ni_b: &[u8], rest: &[u8]) -> Zeroizing<Vec<u8>> {
        self.prf
            .prf(&self.skeyid_a, &[&mid.to_be_bytes(), ni_b, rest])
    }

    /// Quick mode HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b).
    pub fn hash3(&self, mid: u32, ni_b: &[u8], nr_b: &[u8]) -> Zeroizing<Vec<u8>> {
        self.prf
            .prf(&self.skeyid_a, &[&[0], &mid.to_be_bytes(), ni_b, nr_b])
    }

    /// KEYMAT for one direction of a child SA (RFC 2409 section 5.5):
    /// K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
    /// Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b).
    /// The SPI is the one of the SA being keyed: for the inbound SA ours,
    /// for the outbound SA the peer's.
    pub fn keymat(
        &self,
        gxy_qm: Option<&[u8]>,
        protocol: u8,
        spi: u32,
        ni_b: &[u8],
        nr_b: &[u8],
        len: usize,
    ) -> Zeroizing<Vec<u8>> {
        keymat(
            self.prf,
            &self.skeyid_d,
            gxy_qm,
            protocol,
            spi,
            ni_b,
            nr_b,
            len,
        )
    }
}

/// See [`Phase1Keys::keymat`].
#[allow(clippy::too_many_arguments)]
pub fn keymat(
    prf: Prf,
    skeyid_d: &[u8],
    gxy_qm: Option<&[u8]>,
    protocol: u8,
    spi: u32,
    ni_b: &[u8],
    nr_b: &[u8],
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let spi = spi.to_be_bytes();
    let proto = [protocol];
    let mut seed: Vec<&[u8]> = Vec::with_capacity(5);
    if let Some(g) = gxy_qm {
        seed.push(g);
    }
    seed.extend_from_slice(&[&proto, &spi, ni_b, nr_b]);
    prf.expand(skeyid_d, &seed, len, false)
}

/// The first phase-1 IV: hash(g^xi | g^xr) truncated to the block size.
pub fn phase1_iv(hash: IkeHash, gxi: &[u8], gxr: &[u8], block: usize) -> Vec<u8> {
    let mut h = Prf::new(hash).hash(&[gxi, gxr]);
    h.truncate(block);
    h
}

/// The first IV of a quick-mode or informational exchange:
/// hash(last phase-1 CBC output block | M-ID) truncated to the block size.
pub fn exchange_iv(hash: IkeHash, phase1_last_block: &[u8], mid: u32, block: usize) -> Vec<u8> {
    let mut h = Prf::new(hash).hash(&[phase1_last_block, &mid.to_be_bytes()]);
    h.truncate(block);
    h
}
