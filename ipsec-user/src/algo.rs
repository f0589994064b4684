//! Algorithm names shared by the configuration, IKE and the ESP engine.
//! The ASA keyword of each is its `Display`/`FromStr` spelling.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Phase-1 (ISAKMP) encryption, `crypto isakmp policy N` / `encryption X`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IkeEncryption {
    Des,
    TripleDes,
    Aes128,
    Aes192,
    Aes256,
}

/// Phase-1 hash (also the PRF in IKEv1), `hash X`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IkeHash {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// Phase-1 authentication method, `authentication X`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IkeAuth {
    PreShare,
    RsaSig,
}

/// Diffie-Hellman groups by IANA number (`group N`, `set pfs groupN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DhGroup {
    Modp768 = 1,
    Modp1024 = 2,
    Modp1536 = 5,
    Modp2048 = 14,
    Modp3072 = 15,
    Modp4096 = 16,
    Ecp256 = 19,
    Ecp384 = 20,
    Ecp521 = 21,
    Modp2048s256 = 24,
    X25519 = 31,
}

impl DhGroup {
    pub const ALL: [DhGroup; 11] = [
        DhGroup::Modp768,
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp4096,
        DhGroup::Ecp256,
        DhGroup::Ecp384,
        DhGroup::Ecp521,
        DhGroup::Modp2048s256,
        DhGroup::X25519,
    ];

    pub fn number(self) -> u16 {
        self as u16
    }

    pub fn from_number(n: u16) -> Option<DhGroup> {
        Self::ALL.into_iter().find(|g| g.number() == n)
    }

    /// Groups an engineer should be warned about (allowed, but said).
    pub fn is_weak(self) -> bool {
        matches!(
            self,
            DhGroup::Modp768 | DhGroup::Modp1024 | DhGroup::Modp1536
        )
    }
}

/// ESP encryption of a transform set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EspCipher {
    Null,
    Des,
    TripleDes,
    Aes128Cbc,
    Aes192Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl EspCipher {
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            EspCipher::Aes128Gcm | EspCipher::Aes256Gcm | EspCipher::ChaCha20Poly1305
        )
    }

    /// Bytes of IV carried in each ESP packet (RFC 2405/2451/3602 CBC
    /// block, RFC 4106/7634 8-byte explicit IV, none for ESP-NULL).
    pub fn iv_len(self) -> usize {
        match self {
            EspCipher::Null => 0,
            EspCipher::Des | EspCipher::TripleDes => 8,
            EspCipher::Aes128Cbc | EspCipher::Aes192Cbc | EspCipher::Aes256Cbc => 16,
            EspCipher::Aes128Gcm | EspCipher::Aes256Gcm | EspCipher::ChaCha20Poly1305 => 8,
        }
    }

    /// What the padded plaintext must be a multiple of: the cipher's block,
    /// or ESP's 4-byte minimum for stream-like ciphers (RFC 4303 2.4).
    pub fn pad_align(self) -> usize {
        match self {
            EspCipher::Des | EspCipher::TripleDes => 8,
            EspCipher::Aes128Cbc | EspCipher::Aes192Cbc | EspCipher::Aes256Cbc => 16,
            EspCipher::Null
            | EspCipher::Aes128Gcm
            | EspCipher::Aes256Gcm
            | EspCipher::ChaCha20Poly1305 => 4,
        }
    }

    /// Bytes of key material taken from KEYMAT (AEADs include their 4-byte
    /// salt, RFC 4106 section 8.1 / RFC 7634 section 2).
    pub fn key_len(self) -> usize {
        match self {
            EspCipher::Null => 0,
            EspCipher::Des => 8,
            EspCipher::TripleDes => 24,
            EspCipher::Aes128Cbc => 16,
            EspCipher::Aes192Cbc => 24,
            EspCipher::Aes256Cbc => 32,
            EspCipher::Aes128Gcm => 20,
            EspCipher::Aes256Gcm => 36,
            EspCipher::ChaCha20Poly1305 => 36,
        }
    }
}

/// ESP integrity of a transform set (`esp-sha-hmac` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EspInteg {
    None,
    HmacMd5_96,
    HmacSha1_96,
    HmacSha256_128,
    HmacSha384_192,
    HmacSha512_256,
}

impl EspInteg {
    pub fn key_len(self) -> usize {
        match self {
            EspInteg::None => 0,
            EspInteg::HmacMd5_96 => 16,
            EspInteg::HmacSha1_96 => 20,
            EspInteg::HmacSha256_128 => 32,
            EspInteg::HmacSha384_192 => 48,
            EspInteg::HmacSha512_256 => 64,
        }
    }

    pub fn icv_len(self) -> usize {
        match self {
            EspInteg::None => 0,
            EspInteg::HmacMd5_96 | EspInteg::HmacSha1_96 => 12,
            EspInteg::HmacSha256_128 => 16,
            EspInteg::HmacSha384_192 => 24,
            EspInteg::HmacSha512_256 => 32,
        }
    }
}

/// One ESP transform: what a transform set (or one of its alternatives)
/// asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EspTransform {
    pub cipher: EspCipher,
    pub integ: EspInteg,
}

impl EspTransform {
    /// KEYMAT bytes one direction needs: encryption key first, then the
    /// authentication key (RFC 2409 section 5.5, RFC 4301 order).
    pub fn keymat_len(&self) -> usize {
        self.cipher.key_len() + self.integ.key_len()
    }
}

macro_rules! keyword_enum {
    ($ty:ident { $($variant:ident => $kw:literal),+ $(,)? }) => {
        impl $ty {
            /// The ASA keyword.
            pub fn keyword(self) -> &'static str {
                match self { $($ty::$variant => $kw),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.keyword())
            }
        }
        impl FromStr for $ty {
            type Err = UnknownKeyword;
            fn from_str(s: &str) -> Result<Self, UnknownKeyword> {
                match s.to_ascii_lowercase().as_str() {
                    $($kw => Ok($ty::$variant),)+
                    _ => Err(UnknownKeyword {
                        word: s.to_string(),
                        expected: &[$($kw),+],
                    }),
                }
            }
        }
    };
}

/// A word that is not one of the keywords allowed at that place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown keyword `{word}` (expected one of: {})", expected.join(", "))]
pub struct UnknownKeyword {
    pub word: String,
    pub expected: &'static [&'static str],
}

keyword_enum!(IkeEncryption {
    Des => "des",
    TripleDes => "3des",
    Aes128 => "aes",
    Aes192 => "aes-192",
    Aes256 => "aes-256",
});

keyword_enum!(IkeHash {
    Md5 => "md5",
    Sha1 => "sha",
    Sha256 => "sha256",
    Sha384 => "sha384",
    Sha512 => "sha512",
});

keyword_enum!(IkeAuth {
    PreShare => "pre-share",
    RsaSig => "rsa-sig",
});

keyword_enum!(EspCipher {
    Null => "esp-null",
    Des => "esp-des",
    TripleDes => "esp-3des",
    Aes128Cbc => "esp-aes",
    Aes192Cbc => "esp-aes-192",
    Aes256Cbc => "esp-aes-256",
    Aes128Gcm => "esp-aes-gcm",
    Aes256Gcm => "esp-aes-gcm-256",
    ChaCha20Poly1305 => "esp-chacha20-poly1305",
});

keyword_enum!(EspInteg {
    None => "esp-none",
    HmacMd5_96 => "esp-md5-hmac",
    HmacSha1_96 => "esp-sha-hmac",
    HmacSha256_128 => "esp-sha256-hmac",
    HmacSha384_192 => "esp-sha384-hmac",
    HmacSha512_256 => "esp-sha512-hmac",
});

/// IKEv2 SA encryption, `crypto ikev2 policy N` / `encryption X ...`.
/// The GCM ones are combined-mode: their policy says `integrity null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ikev2Encryption {
    Des,
    TripleDes,
    Aes128,
    Aes192,
    Aes256,
    Aes128Gcm,
    Aes256Gcm,
}

impl Ikev2Encryption {
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            Ikev2Encryption::Aes128Gcm | Ikev2Encryption::Aes256Gcm
        )
    }
    /// Key length in bytes (GCM: without the 4-byte salt).
    pub fn key_len(self) -> usize {
        match self {
            Ikev2Encryption::Des => 8,
            Ikev2Encryption::TripleDes => 24,
            Ikev2Encryption::Aes128 | Ikev2Encryption::Aes128Gcm => 16,
            Ikev2Encryption::Aes192 => 24,
            Ikev2Encryption::Aes256 | Ikev2Encryption::Aes256Gcm => 32,
        }
    }
}

/// IKEv2 SA integrity, `integrity X ...` (`null` with GCM only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ikev2Integrity {
    Null,
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// IKEv2 pseudo-random function, `prf X ...`; when a policy names none,
/// the PRF of each integrity algorithm is offered (ASA behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ikev2Prf {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Ikev2Integrity {
    /// The PRF an ASA offers for this integrity when `prf` is omitted.
    pub fn default_prf(self) -> Option<Ikev2Prf> {
        match self {
            Ikev2Integrity::Null => None,
            Ikev2Integrity::Md5 => Some(Ikev2Prf::Md5),
            Ikev2Integrity::Sha1 => Some(Ikev2Prf::Sha1),
            Ikev2Integrity::Sha256 => Some(Ikev2Prf::Sha256),
            Ikev2Integrity::Sha384 => Some(Ikev2Prf::Sha384),
            Ikev2Integrity::Sha512 => Some(Ikev2Prf::Sha512),
        }
    }
}

/// `crypto ipsec ikev2 ipsec-proposal P` / `protocol esp encryption X ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ikev2EspEncryption {
    Null,
    Des,
    TripleDes,
    Aes128,
    Aes192,
    Aes256,
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl Ikev2EspEncryption {
    pub fn cipher(self) -> EspCipher {
        match self {
            Ikev2EspEncryption::Null => EspCipher::Null,
            Ikev2EspEncryption::Des => EspCipher::Des,
            Ikev2EspEncryption::TripleDes => EspCipher::TripleDes,
            Ikev2EspEncryption::Aes128 => EspCipher::Aes128Cbc,
            Ikev2EspEncryption::Aes192 => EspCipher::Aes192Cbc,
            Ikev2EspEncryption::Aes256 => EspCipher::Aes256Cbc,
            Ikev2EspEncryption::Aes128Gcm => EspCipher::Aes128Gcm,
            Ikev2EspEncryption::Aes256Gcm => EspCipher::Aes256Gcm,
            Ikev2EspEncryption::ChaCha20Poly1305 => EspCipher::ChaCha20Poly1305,
        }
    }
}

/// `protocol esp integrity X ...` of an IKEv2 ipsec-proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ikev2EspIntegrity {
    Null,
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Ikev2EspIntegrity {
    pub fn integ(self) -> EspInteg {
        match self {
            Ikev2EspIntegrity::Null => EspInteg::None,
            Ikev2EspIntegrity::Md5 => EspInteg::HmacMd5_96,
            Ikev2EspIntegrity::Sha1 => EspInteg::HmacSha1_96,
            Ikev2EspIntegrity::Sha256 => EspInteg::HmacSha256_128,
            Ikev2EspIntegrity::Sha384 => EspInteg::HmacSha384_192,
            Ikev2EspIntegrity::Sha512 => EspInteg::HmacSha512_256,
        }
    }
}

keyword_enum!(Ikev2Encryption {
    Des => "des",
    TripleDes => "3des",
    Aes128 => "aes",
    Aes192 => "aes-192",
    Aes256 => "aes-256",
    Aes128Gcm => "aes-gcm",
    Aes256Gcm => "aes-gcm-256",
});

keyword_enum!(Ikev2Integrity {
    Null => "null",
    Md5 => "md5",
    Sha1 => "sha",
    Sha256 => "sha256",
    Sha384 => "sha384",
    Sha512 => "sha512",
});

keyword_enum!(Ikev2Prf {
    Md5 => "md5",
    Sha1 => "sha",
    Sha256 => "sha256",
    Sha384 => "sha384",
    Sha512 => "sha512",
});

keyword_enum!(Ikev2EspEncryption {
    Null => "null",
    Des => "des",
    TripleDes => "3des",
    Aes128 => "aes",
    Aes192 => "aes-192",
    Aes256 => "aes-256",
    Aes128Gcm => "aes-gcm",
    Aes256Gcm => "aes-gcm-256",
    ChaCha20Poly1305 => "chacha20-poly1305",
});

keyword_enum!(Ikev2EspIntegrity {
    Null => "null",
    Md5 => "md5",
    Sha1 => "sha-1",
    Sha256 => "sha-256",
    Sha384 => "sha-384",
    Sha512 => "sha-512",
});

impl fmt::Display for DhGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group {}", self.number())
    }
}

impl fmt::Display for EspTransform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An AEAD carries its own integrity: `esp-aes-gcm-256`, not
        // `esp-aes-gcm-256 esp-none`.
        if self.integ == EspInteg::None && self.cipher.is_aead() {
            write!(f, "{}", self.cipher)
        } else {
            write!(f, "{} {}", self.cipher, self.integ)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip() {
        for kw in ["des", "3des", "aes", "aes-192", "aes-256"] {
            assert_eq!(kw.parse::<IkeEncryption>().unwrap().keyword(), kw);
        }
        assert_eq!(
            "ESP-SHA-HMAC".parse::<EspInteg>().unwrap(),
            EspInteg::HmacSha1_96
        );
        let err = "aes-512".parse::<IkeEncryption>().unwrap_err();
        assert!(err.to_string().contains("aes-256"));
    }

    #[test]
    fn keymat_lengths() {
        let t = EspTransform {
            cipher: EspCipher::TripleDes,
            integ: EspInteg::HmacSha1_96,
        };
        assert_eq!(t.keymat_len(), 44);
        let g = EspTransform {
            cipher: EspCipher::Aes256Gcm,
            integ: EspInteg::None,
        };
        assert_eq!(g.keymat_len(), 36);
        assert_eq!(DhGroup::from_number(14), Some(DhGroup::Modp2048));
        assert_eq!(DhGroup::from_number(3), None);
    }
}
