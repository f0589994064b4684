//! Phase-1 encryption: DES, 3DES and AES-CBC without padding of their own
//! (ISAKMP pads the payload chain to the block size itself, RFC 2409
//! appendix B), keyed from SKEYID_e (see [`super::keys`]).

use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use zeroize::Zeroizing;

use super::CryptoError;
use crate::algo::IkeEncryption;

/// Key length in bytes of a phase-1 cipher.
pub fn key_len(enc: IkeEncryption) -> usize {
    match enc {
        IkeEncryption::Des => 8,
        IkeEncryption::TripleDes => 24,
        IkeEncryption::Aes128 => 16,
        IkeEncryption::Aes192 => 24,
        IkeEncryption::Aes256 => 32,
    }
}

/// Block (and IV) size in bytes.
pub fn block_size(enc: IkeEncryption) -> usize {
    match enc {
        IkeEncryption::Des | IkeEncryption::TripleDes => 8,
        _ => 16,
    }
}

/// A keyed phase-1 cipher. The key is wiped on drop and never printed.
pub struct Phase1Cipher {
    enc: IkeEncryption,
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Phase1Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phase1Cipher")
            .field("enc", &self.enc)
            .finish_non_exhaustive()
    }
}

macro_rules! cbc_run {
    (@call $c:ident, encrypt_padded_mut, $buf:expr, $n:ident) => {
        $c.encrypt_padded_mut::<NoPadding>($buf, $n)
    };
    (@call $c:ident, decrypt_padded_mut, $buf:expr, $n:ident) => {
        $c.decrypt_padded_mut::<NoPadding>($buf)
    };
    ($dir:ident, $alg:ty, $key:expr, $iv:expr, $buf:expr, $op:ident) => {{
        let c = cbc::$dir::<$alg>::new_from_slices($key, $iv).map_err(|_| CryptoError::BadKeyLength {
            what: "phase-1 cipher",
            got: $key.len(),
            expected: 0,
        })?;
        let n = $buf.len();
        cbc_run!(@call c, $op, $buf, n).map(|_| ()).map_err(|_| CryptoError::NotBlockAligned(n, $iv.len()))
    }};
}

impl Phase1Cipher {
    pub fn new(enc: IkeEncryption, key: &[u8]) -> Result<Self, CryptoError> {
        if key.len() != key_len(enc) {
            return Err(CryptoError::BadKeyLength {
                what: "phase-1 cipher",
                got: key.len(),
                expected: key_len(enc),
            });
        }
        Ok(Phase1Cipher {
            enc,
            key: Zeroizing::new(key.to_vec()),
        })
    }

    pub fn algorithm(&self) -> IkeEncryption {
        self.enc
    }

    pub fn block_size(&self) -> usize {
        block_size(self.enc)
    }

    fn check(&self, iv: &[u8], len: usize) -> Result<(), CryptoError> {
        let bs = self.block_size();
        if iv.len() != bs {
            return Err(CryptoError::BadIvLength {
                got: iv.len(),
                expected: bs,
            });
        }
        if !len.is_multiple_of(bs) {
            return Err(CryptoError::NotBlockAligned(len, bs));
        }
        Ok(())
    }

    /// Encrypt `buf` (a whole number of blocks) in place.
    pub fn encrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        self.check(iv, buf.len())?;
        let key = &self.key[..];
        match self.enc {
            IkeEncryption::Des => cbc_run!(Encryptor, des::Des, key, iv, buf, encrypt_padded_mut),
            IkeEncryption::TripleDes => {
                cbc_run!(Encryptor, des::TdesEde3, key, iv, buf, encrypt_padded_mut)
            }
            IkeEncryption::Aes128 => {
                cbc_run!(Encryptor, aes::Aes128, key, iv, buf, encrypt_padded_mut)
            }
            IkeEncryption::Aes192 => {
                cbc_run!(Encryptor, aes::Aes192, key, iv, buf, encrypt_padded_mut)
            }
            IkeEncryption::Aes256 => {
                cbc_run!(Encryptor, aes::Aes256, key, iv, buf, encrypt_padded_mut)
            }
        }
    }

    /// Decrypt `buf` (a whole number of blocks) in place.
    pub fn decrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        self.check(iv, buf.len())?;
        let key = &self.key[..];
        match self.enc {
            IkeEncryption::Des => cbc_run!(Decryptor, des::Des, key, iv, buf, decrypt_padded_mut),
            IkeEncryption::TripleDes => {
                cbc_run!(Decryptor, des::TdesEde3, key, iv, buf, decrypt_padded_mut)
            }
            IkeEncryption::Aes128 => {
                cbc_run!(Decryptor, aes::Aes128, key, iv, buf, decrypt_padded_mut)
            }
            IkeEncryption::Aes192 => {
                cbc_run!(Decryptor, aes::Aes192, key, iv, buf, decrypt_padded_mut)
            }
            IkeEncryption::Aes256 => {
                cbc_run!(Decryptor, aes::Aes256, key, iv, buf, decrypt_padded_mut)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected ciphertexts from
    //   openssl enc -<alg>-cbc -nopad -K <key> -iv <iv> over PLAIN
    const PLAIN: &str = "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210";

    fn kat(enc: IkeEncryption, key: &str, iv: &str, want: &str) {
        let c = Phase1Cipher::new(enc, &hex::decode(key).unwrap()).unwrap();
        let iv = hex::decode(iv).unwrap();
        let mut buf = hex::decode(PLAIN).unwrap();
        c.encrypt(&iv, &mut buf).unwrap();
        assert_eq!(hex::encode(&buf), want, "{enc:?}");
        c.decrypt(&iv, &mut buf).unwrap();
        assert_eq!(hex::encode(&buf), PLAIN);
    }

    #[test]
    fn cbc_known_answers() {
        // generated by openssl enc -nopad (see cipher.rs tests)
        kat(
            IkeEncryption::Des,
            "133457799bbcdff1",
            "0102030405060708",
            "c83bf43b129286ebe1cb7114a7bb2e90b85a51bdc49753db1038bd229dd2c53d",
        );
        kat(
            IkeEncryption::TripleDes,
            "0123456789abcdeffedcba987654321089abcdef01234567",
            "a1a2a3a4a5a6a7a8",
            "c391599e7d17212b85a6a7b192a1aa6833a04be858fa696fb89e3f3b8d434144",
        );
        kat(
            IkeEncryption::Aes128,
            "2b7e151628aed2a6abf7158809cf4f3c",
            "000102030405060708090a0b0c0d0e0f",
            "b577ed00e35432951e2f6e82cbe27177f1e0f2c8ba949833c107253f5d3e76e4",
        );
        kat(
            IkeEncryption::Aes192,
            "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
            "0f0e0d0c0b0a09080706050403020100",
            "0a96f58904ab716b1a7906f03248338b9ac360442a8e7cd60bd825ab7929ff46",
        );
        kat(
            IkeEncryption::Aes256,
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "101112131415161718191a1b1c1d1e1f",
            "6c2e23c6134bb2d1ed24a3ecd31b41aea6310728617821cf8ae0eb1a018cf5e8",
        );
    }

    #[test]
    fn rejects_partial_blocks_and_bad_lengths() {
        let c = Phase1Cipher::new(IkeEncryption::Aes128, &[7u8; 16]).unwrap();
        let mut buf = [0u8; 20];
        assert_eq!(
            c.encrypt(&[0u8; 16], &mut buf),
            Err(CryptoError::NotBlockAligned(20, 16))
        );
        assert!(matches!(
            c.decrypt(&[0u8; 8], &mut buf[..16]),
            Err(CryptoError::BadIvLength { .. })
        ));
        assert!(Phase1Cipher::new(IkeEncryption::TripleDes, &[0u8; 16]).is_err());
    }
}
