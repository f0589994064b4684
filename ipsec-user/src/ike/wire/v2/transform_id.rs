//! IKEv2 transform ids (IANA "IKEv2 Parameters", RFC 7296 3.3.2, RFC 5282,
//! RFC 7634) and their mapping to the `crate::algo` enums: what a
//! [`TransformV2`] means, and the transform that offers an algorithm.
//! Matching offers against policy belongs to the exchange code.

use super::sa::TransformV2;
use super::transform_type as tt;
use crate::algo::{
    DhGroup, Ikev2Encryption, Ikev2EspEncryption, Ikev2EspIntegrity, Ikev2Integrity, Ikev2Prf,
};

/// ENCR ids.
pub mod encr {
    pub const DES: u16 = 2;
    pub const TRIPLE_DES: u16 = 3;
    pub const NULL: u16 = 11;
    pub const AES_CBC: u16 = 12;
    /// AES-GCM with a 16-byte ICV (RFC 5282); the 8- and 12-byte ICV
    /// variants (18, 19) are not offered.
    pub const AES_GCM_16: u16 = 20;
    pub const CHACHA20_POLY1305: u16 = 28;
}

/// PRF ids.
pub mod prf {
    pub const HMAC_MD5: u16 = 1;
    pub const HMAC_SHA1: u16 = 2;
    pub const HMAC_SHA2_256: u16 = 5;
    pub const HMAC_SHA2_384: u16 = 6;
    pub const HMAC_SHA2_512: u16 = 7;
}

/// INTEG ids.
pub mod integ {
    pub const NONE: u16 = 0;
    pub const HMAC_MD5_96: u16 = 1;
    pub const HMAC_SHA1_96: u16 = 2;
    pub const HMAC_SHA2_256_128: u16 = 12;
    pub const HMAC_SHA2_384_192: u16 = 13;
    pub const HMAC_SHA2_512_256: u16 = 14;
}

/// ESN ids.
pub mod esn {
    pub const NO: u16 = 0;
    pub const YES: u16 = 1;
}

fn t(kind: u8, id: u16, key_len: Option<u16>) -> TransformV2 {
    TransformV2 { kind, id, key_len }
}

/// (id, key length) of an IKE SA cipher.
fn ike_encr_id(alg: Ikev2Encryption) -> (u16, Option<u16>) {
    match alg {
        Ikev2Encryption::Des => (encr::DES, None),
        Ikev2Encryption::TripleDes => (encr::TRIPLE_DES, None),
        Ikev2Encryption::Aes128 => (encr::AES_CBC, Some(128)),
        Ikev2Encryption::Aes192 => (encr::AES_CBC, Some(192)),
        Ikev2Encryption::Aes256 => (encr::AES_CBC, Some(256)),
        Ikev2Encryption::Aes128Gcm => (encr::AES_GCM_16, Some(128)),
        Ikev2Encryption::Aes256Gcm => (encr::AES_GCM_16, Some(256)),
    }
}

impl TransformV2 {
    /// The ENCR transform offering an IKE SA cipher.
    pub fn ike_encr(alg: Ikev2Encryption) -> Self {
        let (id, k) = ike_encr_id(alg);
        t(tt::ENCR, id, k)
    }
    /// The PRF transform.
    pub fn prf(alg: Ikev2Prf) -> Self {
        let id = match alg {
            Ikev2Prf::Md5 => prf::HMAC_MD5,
            Ikev2Prf::Sha1 => prf::HMAC_SHA1,
            Ikev2Prf::Sha256 => prf::HMAC_SHA2_256,
            Ikev2Prf::Sha384 => prf::HMAC_SHA2_384,
            Ikev2Prf::Sha512 => prf::HMAC_SHA2_512,
        };
        t(tt::PRF, id, None)
    }
    /// The INTEG transform of an IKE SA; `None` for `Null` (with an AEAD
    /// the integrity transform is left out, as RFC 5282 8 recommends and
    /// strongSwan does).
    pub fn ike_integ(alg: Ikev2Integrity) -> Option<Self> {
        let id = match alg {
            Ikev2Integrity::Null => return None,
            Ikev2Integrity::Md5 => integ::HMAC_MD5_96,
            Ikev2Integrity::Sha1 => integ::HMAC_SHA1_96,
            Ikev2Integrity::Sha256 => integ::HMAC_SHA2_256_128,
            Ikev2Integrity::Sha384 => integ::HMAC_SHA2_384_192,
            Ikev2Integrity::Sha512 => integ::HMAC_SHA2_512_256,
        };
        Some(t(tt::INTEG, id, None))
    }
    /// The DH transform of a group.
    pub fn dh(group: DhGroup) -> Self {
        t(tt::DH, group.number(), None)
    }
    /// The ENCR transform offering an ESP cipher.
    pub fn esp_encr(alg: Ikev2EspEncryption) -> Self {
        let (id, k) = match alg {
            Ikev2EspEncryption::Null => (encr::NULL, None),
            Ikev2EspEncryption::Des => (encr::DES, None),
            Ikev2EspEncryption::TripleDes => (encr::TRIPLE_DES, None),
            Ikev2EspEncryption::Aes128 => (encr::AES_CBC, Some(128)),
            Ikev2EspEncryption::Aes192 => (encr::AES_CBC, Some(192)),
            Ikev2EspEncryption::Aes256 => (encr::AES_CBC, Some(256)),
            Ikev2EspEncryption::Aes128Gcm => (encr::AES_GCM_16, Some(128)),
            Ikev2EspEncryption::Aes256Gcm => (encr::AES_GCM_16, Some(256)),
            Ikev2EspEncryption::ChaCha20Poly1305 => (encr::CHACHA20_POLY1305, None),
        };
        t(tt::ENCR, id, k)
    }
    /// The INTEG transform of an ESP SA; `None` for `Null`.
    pub fn esp_integ(alg: Ikev2EspIntegrity) -> Option<Self> {
        let id = match alg {
            Ikev2EspIntegrity::Null => return None,
            Ikev2EspIntegrity::Md5 => integ::HMAC_MD5_96,
            Ikev2EspIntegrity::Sha1 => integ::HMAC_SHA1_96,
            Ikev2EspIntegrity::Sha256 => integ::HMAC_SHA2_256_128,
            Ikev2EspIntegrity::Sha384 => integ::HMAC_SHA2_384_192,
            Ikev2EspIntegrity::Sha512 => integ::HMAC_SHA2_512_256,
        };
        Some(t(tt::INTEG, id, None))
    }
    /// The ESN transform (yes: 64-bit sequence numbers).
    pub fn esn(on: bool) -> Self {
        t(tt::ESN, if on { esn::YES } else { esn::NO }, None)
    }

    /// The IKE SA cipher this ENCR transform names (AES needs its key
    /// length; 3DES and DES must not carry one).
    pub fn as_ike_encr(&self) -> Option<Ikev2Encryption> {
        if self.kind != tt::ENCR {
            return None;
        }
        Some(match (self.id, self.key_len) {
            (encr::DES, None) => Ikev2Encryption::Des,
            (encr::TRIPLE_DES, None) => Ikev2Encryption::TripleDes,
            (encr::AES_CBC, Some(128)) => Ikev2Encryption::Aes128,
            (encr::AES_CBC, Some(192)) => Ikev2Encryption::Aes192,
            (encr::AES_CBC, Some(256)) => Ikev2Encryption::Aes256,
            (encr::AES_GCM_16, Some(128)) => Ikev2Encryption::Aes128Gcm,
            (encr::AES_GCM_16, Some(256)) => Ikev2Encryption::Aes256Gcm,
            _ => return None,
        })
    }
    pub fn as_prf(&self) -> Option<Ikev2Prf> {
        if self.kind != tt::PRF || self.key_len.is_some() {
            return None;
        }
        Some(match self.id {
            prf::HMAC_MD5 => Ikev2Prf::Md5,
            prf::HMAC_SHA1 => Ikev2Prf::Sha1,
            prf::HMAC_SHA2_256 => Ikev2Prf::Sha256,
            prf::HMAC_SHA2_384 => Ikev2Prf::Sha384,
            prf::HMAC_SHA2_512 => Ikev2Prf::Sha512,
            _ => return None,
        })
    }
    /// IKE SA integrity; INTEG NONE (0) is `Null`.
    pub fn as_ike_integ(&self) -> Option<Ikev2Integrity> {
        if self.kind != tt::INTEG || self.key_len.is_some() {
            return None;
        }
        Some(match self.id {
            integ::NONE => Ikev2Integrity::Null,
            integ::HMAC_MD5_96 => Ikev2Integrity::Md5,
            integ::HMAC_SHA1_96 => Ikev2Integrity::Sha1,
            integ::HMAC_SHA2_256_128 => Ikev2Integrity::Sha256,
            integ::HMAC_SHA2_384_192 => Ikev2Integrity::Sha384,
            integ::HMAC_SHA2_512_256 => Ikev2Integrity::Sha512,
            _ => return None,
        })
    }
    pub fn as_dh(&self) -> Option<DhGroup> {
        if self.kind != tt::DH || self.key_len.is_some() {
            return None;
        }
        DhGroup::from_number(self.id)
    }
    pub fn as_esp_encr(&self) -> Option<Ikev2EspEncryption> {
        if self.kind != tt::ENCR {
            return None;
        }
        Some(match (self.id, self.key_len) {
            (encr::NULL, None) => Ikev2EspEncryption::Null,
            (encr::DES, None) => Ikev2EspEncryption::Des,
            (encr::TRIPLE_DES, None) => Ikev2EspEncryption::TripleDes,
            (encr::AES_CBC, Some(128)) => Ikev2EspEncryption::Aes128,
            (encr::AES_CBC, Some(192)) => Ikev2EspEncryption::Aes192,
            (encr::AES_CBC, Some(256)) => Ikev2EspEncryption::Aes256,
            (encr::AES_GCM_16, Some(128)) => Ikev2EspEncryption::Aes128Gcm,
            (encr::AES_GCM_16, Some(256)) => Ikev2EspEncryption::Aes256Gcm,
            (encr::CHACHA20_POLY1305, None) => Ikev2EspEncryption::ChaCha20Poly1305,
            _ => return None,
        })
    }
    pub fn as_esp_integ(&self) -> Option<Ikev2EspIntegrity> {
        if self.kind != tt::INTEG || self.key_len.is_some() {
            return None;
        }
        Some(match self.id {
            integ::NONE => Ikev2EspIntegrity::Null,
            integ::HMAC_MD5_96 => Ikev2EspIntegrity::Md5,
            integ::HMAC_SHA1_96 => Ikev2EspIntegrity::Sha1,
            integ::HMAC_SHA2_256_128 => Ikev2EspIntegrity::Sha256,
            integ::HMAC_SHA2_384_192 => Ikev2EspIntegrity::Sha384,
            integ::HMAC_SHA2_512_256 => Ikev2EspIntegrity::Sha512,
            _ => return None,
        })
    }
    /// ESN: `Some(true)` for 64-bit sequence numbers.
    pub fn as_esn(&self) -> Option<bool> {
        match (self.kind, self.id, self.key_len) {
            (tt::ESN, esn::NO, None) => Some(false),
            (tt::ESN, esn::YES, None) => Some(true),
            _ => None,
        }
    }
}
