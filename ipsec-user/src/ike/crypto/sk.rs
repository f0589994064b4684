//! The IKEv2 SK payload (RFC 7296 3.14, RFC 5282 for AES-GCM) and its
//! fragments SKF (RFC 7383): encrypt and integrity-protect a chain of
//! inner payloads into a whole message, and open one.
//!
//! Layout of the protected part, after the IKE header and any cleartext
//! payloads: the SK generic header (SKF: plus Fragment Number and Total
//! Fragments), the IV, the ciphertext of `inner | padding | pad length`,
//! the ICV.
//!
//! * CBC (AES, 3DES, DES): a random block-sized IV; zero padding to the
//!   block (RFC 7296 allows any bytes); ICV = the integrity HMAC, truncated,
//!   over everything from the IKE header to the end of the ciphertext. It
//!   is checked in constant time before anything is decrypted.
//! * AES-GCM-16 (RFC 5282): SK_e is key | 4-byte salt; nonce = salt |
//!   8-byte IV; AAD = from the IKE header to the end of the SK header
//!   (SKF: including Fragment Number and Total Fragments, RFC 7383 2.5),
//!   IV not included; a 16-byte tag; no padding (block size 1), the pad
//!   length byte is still there. The IV is 8 random bytes: an IKE SA
//!   protects a few thousand messages in its life, far from the 2^32 at
//!   which random 64-bit IVs start to collide (the key never outlives
//!   the SA).
//!
//! One copy each way: `seal` writes the plaintext once into the output
//! and encrypts it in place; `open` copies the ciphertext once into the
//! (zeroizing) buffer it decrypts in place and returns.

use ring::aead;
use ring::rand::SecureRandom;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::CryptoError;
use super::cipher::Phase1Cipher;
use super::keys_v2::{GCM_SALT_LEN, IkeSaKeys, integ_hash, integ_icv_len};
use super::prf::Prf;
use crate::algo::{IkeEncryption, Ikev2Encryption};
use crate::ike::wire::v2::{
    HeaderV2, SK_HEADER_LEN, SKF_HEADER_LEN, emit_sk_header, emit_skf_header, payload_type,
};
use crate::ike::wire::{HEADER_LEN, MAX_MESSAGE_LEN};

/// Bound on fragments of one message we reassemble (RFC 7383 leaves it
/// to the receiver; strongSwan's default is also small).
pub const MAX_FRAGMENTS: u16 = 32;
/// Bound on the reassembled inner chain of one message.
pub const MAX_REASSEMBLED: usize = 64 * 1024;

/// GCM: IV and tag bytes.
const GCM_IV_LEN: usize = 8;
const GCM_TAG_LEN: usize = 16;

/// The cipher half of one direction. Built on the stack for one seal or
/// open and never stored, so the size of ring's key schedule is no cost.
#[allow(clippy::large_enum_variant)]
enum Cipher<'a> {
    Cbc(Phase1Cipher),
    Gcm {
        key: aead::LessSafeKey,
        salt: &'a [u8],
    },
}

/// What protecting a message in one direction needs: the keyed cipher and
/// the integrity key and algorithm (none with GCM).
struct Direction<'a> {
    cipher: Cipher<'a>,
    /// HMAC of the integrity algorithm, its key and ICV length (CBC).
    integ: Option<(Prf, &'a [u8], usize)>,
}

fn cbc_alg(encr: Ikev2Encryption) -> Option<IkeEncryption> {
    match encr {
        Ikev2Encryption::Des => Some(IkeEncryption::Des),
        Ikev2Encryption::TripleDes => Some(IkeEncryption::TripleDes),
        Ikev2Encryption::Aes128 => Some(IkeEncryption::Aes128),
        Ikev2Encryption::Aes192 => Some(IkeEncryption::Aes192),
        Ikev2Encryption::Aes256 => Some(IkeEncryption::Aes256),
        Ikev2Encryption::Aes128Gcm | Ikev2Encryption::Aes256Gcm => None,
    }
}

impl<'a> Direction<'a> {
    /// The keys of messages sent by the initiator (SK_ei, SK_ai) or by the
    /// responder (SK_er, SK_ar).
    fn new(keys: &'a IkeSaKeys, sender_is_initiator: bool) -> Result<Self, CryptoError> {
        let (sk_e, sk_a) = if sender_is_initiator {
            (&keys.sk_ei[..], &keys.sk_ai[..])
        } else {
            (&keys.sk_er[..], &keys.sk_ar[..])
        };
        let suite = keys.suite;
        let integ = integ_hash(suite.integ);
        match (cbc_alg(suite.encr), integ) {
            (Some(alg), Some(hash)) => Ok(Direction {
                cipher: Cipher::Cbc(Phase1Cipher::new(alg, sk_e)?),
                integ: Some((Prf::new(hash), sk_a, integ_icv_len(suite.integ))),
            }),
            (Some(_), None) => Err(CryptoError::BadSuite(
                "a CBC cipher needs an integrity algorithm",
            )),
            (None, Some(_)) => Err(CryptoError::BadSuite(
                "AES-GCM carries its own integrity; integrity must be null",
            )),
            (None, None) => {
                let alg = match suite.encr {
                    Ikev2Encryption::Aes128Gcm => &aead::AES_128_GCM,
                    _ => &aead::AES_256_GCM,
                };
                let key_len = suite.encr.key_len();
                if sk_e.len() != key_len + GCM_SALT_LEN {
                    return Err(CryptoError::BadKeyLength {
                        what: "IKEv2 AES-GCM key and salt",
                        got: sk_e.len(),
                        expected: key_len + GCM_SALT_LEN,
                    });
                }
                let (key, salt) = sk_e.split_at(key_len);
                let key =
                    aead::UnboundKey::new(alg, key).map_err(|_| CryptoError::BadKeyLength {
                        what: "IKEv2 AES-GCM key",
                        got: key.len(),
                        expected: key_len,
                    })?;
                Ok(Direction {
                    cipher: Cipher::Gcm {
                        key: aead::LessSafeKey::new(key),
                        salt,
                    },
                    integ: None,
                })
            }
        }
    }

    fn iv_len(&self) -> usize {
        match &self.cipher {
            Cipher::Cbc(c) => c.block_size(),
            Cipher::Gcm { .. } => GCM_IV_LEN,
        }
    }

    /// What the encrypted `inner | padding | pad length` must be a
    /// multiple of.
    fn block(&self) -> usize {
        match &self.cipher {
            Cipher::Cbc(c) => c.block_size(),
            Cipher::Gcm { .. } => 1,
        }
    }

    fn icv_len(&self) -> usize {
        match &self.integ {
            Some((_, _, n)) => *n,
            None => GCM_TAG_LEN,
        }
    }

    /// Bytes the envelope adds around `inner_len` bytes: (padding, the
    /// whole protected part after the envelope header).
    fn sizes(&self, inner_len: usize) -> (usize, usize) {
        let bs = self.block();
        let pad = (bs - (inner_len + 1) % bs) % bs;
        (pad, self.iv_len() + inner_len + pad + 1 + self.icv_len())
    }

    fn gcm_nonce(salt: &[u8], iv: &[u8]) -> aead::Nonce {
        let mut n = [0u8; aead::NONCE_LEN];
        n[..GCM_SALT_LEN].copy_from_slice(salt);
        n[GCM_SALT_LEN..].copy_from_slice(iv);
        aead::Nonce::assume_unique_for_key(n)
    }

    /// Encrypts `buf[iv_at + iv ..]` (the padded plaintext) in place and
    /// appends the ICV. `buf[..iv_at]` is the header up to the end of the
    /// envelope header; the IV is already at `buf[iv_at..]`.
    fn protect(&self, buf: &mut Vec<u8>, iv_at: usize) -> Result<(), CryptoError> {
        let iv_len = self.iv_len();
        let (head, ct) = buf.split_at_mut(iv_at + iv_len);
        match &self.cipher {
            Cipher::Cbc(c) => {
                c.encrypt(&head[iv_at..], ct)?;
                let (prf, key, icv_len) = self.integ.as_ref().expect("CBC has integrity");
                let mac = prf.prf(key, &[&buf[..]]);
                buf.extend_from_slice(&mac[..*icv_len]);
            }
            Cipher::Gcm { key, salt } => {
                let nonce = Self::gcm_nonce(salt, &head[iv_at..]);
                let tag = key
                    .seal_in_place_separate_tag(nonce, aead::Aad::from(&head[..iv_at]), ct)
                    .map_err(|_| CryptoError::MalformedSk("AES-GCM refused to seal"))?;
                buf.extend_from_slice(tag.as_ref());
            }
        }
        Ok(())
    }

    /// Verifies and decrypts the protected part of `msg` (exactly the
    /// message) whose envelope header ends at `enc_at`; returns the inner
    /// bytes without padding.
    fn unprotect(&self, msg: &[u8], enc_at: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (iv_len, icv_len, bs) = (self.iv_len(), self.icv_len(), self.block());
        let enc = &msg[enc_at..];
        if enc.len() < iv_len + bs.max(1) + icv_len {
            return Err(CryptoError::MalformedSk(
                "shorter than IV, one block and ICV",
            ));
        }
        let ct_len = enc.len() - iv_len - icv_len;
        if !ct_len.is_multiple_of(bs) {
            return Err(CryptoError::MalformedSk(
                "ciphertext is not a whole number of cipher blocks",
            ));
        }
        let iv = &enc[..iv_len];
        let mut plain = match &self.cipher {
            Cipher::Cbc(c) => {
                let (prf, key, _) = self.integ.as_ref().expect("CBC has integrity");
                let icv_at = msg.len() - icv_len;
                let mac = prf.prf(key, &[&msg[..icv_at]]);
                if !bool::from(mac[..icv_len].ct_eq(&msg[icv_at..])) {
                    return Err(CryptoError::IntegrityFailed);
                }
                let mut plain = Zeroizing::new(enc[iv_len..iv_len + ct_len].to_vec());
                c.decrypt(iv, &mut plain)?;
                plain
            }
            Cipher::Gcm { key, salt } => {
                let nonce = Self::gcm_nonce(salt, iv);
                let mut buf = Zeroizing::new(enc[iv_len..].to_vec());
                let n = key
                    .open_in_place(nonce, aead::Aad::from(&msg[..enc_at]), &mut buf)
                    .map_err(|_| CryptoError::IntegrityFailed)?
                    .len();
                buf.truncate(n);
                buf
            }
        };
        let pad = usize::from(*plain.last().expect("at least one byte decrypted"));
        if pad + 1 > plain.len() {
            return Err(CryptoError::MalformedSk("pad length exceeds the plaintext"));
        }
        let n = plain.len() - pad - 1;
        plain.truncate(n);
        Ok(plain)
    }
}

/// Seals one message: SK, or SKF `(number, total)`.
fn seal_one(
    d: &Direction<'_>,
    mut header: HeaderV2,
    first_inner: u8,
    fragment: Option<(u16, u16)>,
    inner: &[u8],
    rng: &dyn SecureRandom,
) -> Result<Vec<u8>, CryptoError> {
    let env_len = if fragment.is_some() {
        SKF_HEADER_LEN
    } else {
        SK_HEADER_LEN
    };
    let (pad, protected) = d.sizes(inner.len());
    let payload_len = env_len + protected;
    let total = HEADER_LEN + payload_len;
    if total > MAX_MESSAGE_LEN {
        return Err(CryptoError::TooBig(total));
    }
    header.next_payload = if fragment.is_some() {
        payload_type::SKF.0
    } else {
        payload_type::SK.0
    };
    header.length = total as u32;
    let mut buf = Vec::with_capacity(total);
    buf.extend_from_slice(&header.emit());
    let env_at = buf.len();
    buf.resize(env_at + env_len, 0);
    match fragment {
        Some((number, of)) => emit_skf_header(
            &mut buf[env_at..],
            first_inner,
            payload_len as u16,
            number,
            of,
        ),
        None => emit_sk_header(&mut buf[env_at..], first_inner, payload_len as u16),
    }
    let iv_at = buf.len();
    buf.resize(iv_at + d.iv_len(), 0);
    rng.fill(&mut buf[iv_at..]).map_err(|_| CryptoError::Rng)?;
    buf.extend_from_slice(inner);
    buf.resize(buf.len() + pad, 0);
    buf.push(pad as u8);
    d.protect(&mut buf, iv_at)?;
    debug_assert_eq!(buf.len(), total);
    Ok(buf)
}

/// Builds a whole protected message: `header` (its next_payload is set to
/// SK and its length filled), then the SK payload whose next-payload is
/// `first_inner` and whose content is IV | encrypt(inner | padding |
/// pad length) | ICV. For AEAD (GCM) the AAD is the header and the SK
/// generic header (RFC 5282 5.1), the IV is 8 bytes, the ICV 16.
/// `sender_is_initiator` picks SK_ei/SK_ai or SK_er/SK_ar.
pub fn seal(
    keys: &IkeSaKeys,
    sender_is_initiator: bool,
    header: HeaderV2,
    first_inner: u8,
    inner: &[u8],
    rng: &dyn SecureRandom,
) -> Result<Vec<u8>, CryptoError> {
    let d = Direction::new(keys, sender_is_initiator)?;
    seal_one(&d, header, first_inner, None, inner, rng)
}

/// Checks that `message` holds a whole IKE message with a protected
/// payload at `offset` reaching its end; returns the message (cut to the
/// header's length).
fn framed(message: &[u8], offset: usize, env_len: usize) -> Result<&[u8], CryptoError> {
    if message.len() < HEADER_LEN {
        return Err(CryptoError::MalformedSk("shorter than the IKE header"));
    }
    let len = u32::from_be_bytes([message[24], message[25], message[26], message[27]]) as usize;
    if len < HEADER_LEN || len > message.len() {
        return Err(CryptoError::MalformedSk(
            "IKE header length outside the datagram",
        ));
    }
    let msg = &message[..len];
    if offset < HEADER_LEN || offset.saturating_add(env_len) > len {
        return Err(CryptoError::MalformedSk(
            "encrypted payload outside the message",
        ));
    }
    let payload_len = usize::from(u16::from_be_bytes([msg[offset + 2], msg[offset + 3]]));
    if payload_len != len - offset {
        return Err(CryptoError::MalformedSk(
            "encrypted payload does not end the message",
        ));
    }
    Ok(msg)
}

/// Verifies and decrypts the SK payload of `message` (the whole datagram
/// up to the header's length; the SK payload's generic header starts at
/// `sk_offset`). Returns the inner chain bytes without padding.
/// Integrity is checked in constant time before anything is decrypted
/// (for AEAD the tag check is part of opening). `sender_is_initiator`:
/// the message came from the original initiator.
pub fn open(
    keys: &IkeSaKeys,
    sender_is_initiator: bool,
    message: &[u8],
    sk_offset: usize,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let msg = framed(message, sk_offset, SK_HEADER_LEN)?;
    let d = Direction::new(keys, sender_is_initiator)?;
    d.unprotect(msg, sk_offset + SK_HEADER_LEN)
}

/// RFC 7383: the protected message as SKF fragments, each datagram at most
/// `max_datagram` bytes of IKE message (the caller has subtracted IP,
/// UDP and non-ESP-marker overhead). Every fragment carries the same
/// message id; fragment 1's SKF next-payload is `first_inner`, the
/// others' 0.
///
/// When the whole message fits in `max_datagram` it is returned as one
/// ordinary SK message, unfragmented (RFC 7383 applies fragmentation to
/// messages that do not fit; a peer that negotiated fragmentation still
/// takes SK). Otherwise the inner chain is cut into equal pieces, each
/// sealed on its own as fragment n of N.
pub fn seal_fragments(
    keys: &IkeSaKeys,
    sender_is_initiator: bool,
    header: HeaderV2,
    first_inner: u8,
    inner: &[u8],
    max_datagram: usize,
    rng: &dyn SecureRandom,
) -> Result<Vec<Vec<u8>>, CryptoError> {
    let d = Direction::new(keys, sender_is_initiator)?;
    if HEADER_LEN + SK_HEADER_LEN + d.sizes(inner.len()).1 <= max_datagram {
        return Ok(vec![seal_one(&d, header, first_inner, None, inner, rng)?]);
    }
    // Largest piece whose fragment fits: the padded plaintext (piece +
    // pad length byte) rounded down to whole blocks.
    let room = max_datagram.saturating_sub(HEADER_LEN + SKF_HEADER_LEN + d.iv_len() + d.icv_len());
    let piece_max = (room / d.block() * d.block()).saturating_sub(1);
    if piece_max == 0 {
        return Err(CryptoError::BadFragment(
            "the datagram size leaves no room for fragment data",
        ));
    }
    let count = inner.len().div_ceil(piece_max).max(1);
    let total =
        u16::try_from(count).map_err(|_| CryptoError::BadFragment("more than 65535 fragments"))?;
    let piece = inner.len().div_ceil(count).max(1);
    let mut out = Vec::with_capacity(count);
    for (i, chunk) in inner.chunks(piece).enumerate() {
        let first = if i == 0 { first_inner } else { 0 };
        out.push(seal_one(
            &d,
            header,
            first,
            Some((i as u16 + 1, total)),
            chunk,
            rng,
        )?);
    }
    debug_assert_eq!(out.len(), count);
    Ok(out)
}

/// One SKF fragment `number` of `total` of `inner`, whatever its size:
/// what `seal_fragments` produces per piece (tests and fuzzing build
/// single-fragment and hand-cut messages with it).
#[allow(clippy::too_many_arguments)]
pub fn seal_fragment(
    keys: &IkeSaKeys,
    sender_is_initiator: bool,
    header: HeaderV2,
    first_inner: u8,
    number: u16,
    total: u16,
    piece: &[u8],
    rng: &dyn SecureRandom,
) -> Result<Vec<u8>, CryptoError> {
    let d = Direction::new(keys, sender_is_initiator)?;
    seal_one(&d, header, first_inner, Some((number, total)), piece, rng)
}

/// A reassembled message: the first inner payload type (fragment 1's SKF
/// next-payload) and the inner chain.
pub type Reassembled = (u8, Zeroizing<Vec<u8>>);

/// Reassembles the SKF fragments of one message (RFC 7383 2.6): each is
/// opened (verified and decrypted) as it arrives; when all `total` are
/// here, the inner chain is returned with the first fragment's
/// next-payload. Bounded: at most 32 fragments and 64 KiB per message;
/// a fragment of another message id resets it.
///
/// Only a fragment that verified changes the state. Duplicates are
/// ignored (before any crypto); fragments may come in any order. A
/// verified fragment with a larger Total Fragments than the ones kept
/// restarts the reassembly (the sender refragmented for a smaller path
/// MTU, RFC 7383 2.6); one with a smaller total is refused, as is a
/// total of 0 or over [`MAX_FRAGMENTS`], or a number of 0 or over the
/// total.
#[derive(Default)]
pub struct Reassembly {
    message_id: Option<u32>,
    total: u16,
    first_inner: u8,
    parts: Vec<Option<Zeroizing<Vec<u8>>>>,
    bytes: usize,
}

/// Shows the progress, never the fragments' plaintext.
impl std::fmt::Debug for Reassembly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reassembly")
            .field("message_id", &self.message_id)
            .field("total", &self.total)
            .field("received", &self.received())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Reassembly {
    /// Adds one fragment datagram. `Ok(Some((first_inner, chain)))` when
    /// complete; `Ok(None)` while fragments are missing.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        keys: &IkeSaKeys,
        sender_is_initiator: bool,
        message: &[u8],
        message_id: u32,
        skf_offset: usize,
        number: u16,
        total: u16,
        first_inner: u8,
    ) -> Result<Option<Reassembled>, CryptoError> {
        if total == 0 || total > MAX_FRAGMENTS {
            return Err(CryptoError::BadFragment("total fragments outside 1..=32"));
        }
        if number == 0 || number > total {
            return Err(CryptoError::BadFragment(
                "fragment number outside 1..=total",
            ));
        }
        let same_message = self.message_id == Some(message_id);
        if same_message && total == self.total && self.parts[usize::from(number) - 1].is_some() {
            return Ok(None);
        }
        if same_message && total < self.total {
            return Err(CryptoError::BadFragment(
                "total fragments smaller than that of earlier fragments",
            ));
        }
        let msg = framed(message, skf_offset, SKF_HEADER_LEN)?;
        let fields = &msg[skf_offset + 4..skf_offset + 8];
        if fields[..2] != number.to_be_bytes() || fields[2..] != total.to_be_bytes() {
            return Err(CryptoError::BadFragment(
                "fragment number or total differ from the message's",
            ));
        }
        let d = Direction::new(keys, sender_is_initiator)?;
        let piece = d.unprotect(msg, skf_offset + SKF_HEADER_LEN)?;

        if !same_message || total > self.total {
            *self = Reassembly {
                message_id: Some(message_id),
                total,
                first_inner: 0,
                parts: vec![None; usize::from(total)],
                bytes: 0,
            };
        }
        if self.bytes + piece.len() > MAX_REASSEMBLED {
            *self = Reassembly::default();
            return Err(CryptoError::BadFragment(
                "reassembled message exceeds 64 KiB",
            ));
        }
        if number == 1 {
            self.first_inner = first_inner;
        }
        self.bytes += piece.len();
        self.parts[usize::from(number) - 1] = Some(piece);
        if self.parts.iter().any(Option::is_none) {
            return Ok(None);
        }
        let mut chain = Zeroizing::new(Vec::with_capacity(self.bytes));
        for p in self.parts.iter().flatten() {
            chain.extend_from_slice(p);
        }
        let first = self.first_inner;
        *self = Reassembly::default();
        Ok(Some((first, chain)))
    }

    /// Fragments held so far (for logs and tests).
    pub fn received(&self) -> usize {
        self.parts.iter().flatten().count()
    }
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;

    use super::*;
    use crate::algo::Ikev2Integrity;
    use crate::algo::Ikev2Prf;
    use crate::ike::crypto::keys_v2::Ikev2Suite;
    use crate::ike::wire::v2::{MessageV2Repr, Protected, exchange, flags};

    const CBC_CIPHERS: [Ikev2Encryption; 5] = [
        Ikev2Encryption::Des,
        Ikev2Encryption::TripleDes,
        Ikev2Encryption::Aes128,
        Ikev2Encryption::Aes192,
        Ikev2Encryption::Aes256,
    ];
    const INTEGS: [Ikev2Integrity; 5] = [
        Ikev2Integrity::Md5,
        Ikev2Integrity::Sha1,
        Ikev2Integrity::Sha256,
        Ikev2Integrity::Sha384,
        Ikev2Integrity::Sha512,
    ];

    /// Every suite seal/open supports.
    fn suites() -> Vec<Ikev2Suite> {
        let mut v = Vec::new();
        for encr in CBC_CIPHERS {
            for integ in INTEGS {
                v.push(Ikev2Suite {
                    encr,
                    integ,
                    prf: Ikev2Prf::Sha256,
                });
            }
        }
        for encr in [Ikev2Encryption::Aes128Gcm, Ikev2Encryption::Aes256Gcm] {
            v.push(Ikev2Suite {
                encr,
                integ: Ikev2Integrity::Null,
                prf: Ikev2Prf::Sha384,
            });
        }
        v
    }

    fn keys(suite: Ikev2Suite) -> IkeSaKeys {
        IkeSaKeys::derive(suite, &[1; 32], &[2; 32], &[3; 32], &[4; 8], &[5; 8])
    }

    fn gcm() -> IkeSaKeys {
        keys(Ikev2Suite {
            encr: Ikev2Encryption::Aes256Gcm,
            integ: Ikev2Integrity::Null,
            prf: Ikev2Prf::Sha256,
        })
    }

    fn header() -> HeaderV2 {
        HeaderV2 {
            spi_i: [4; 8],
            spi_r: [5; 8],
            next_payload: 0,
            exchange: exchange::IKE_AUTH,
            flags: flags::INITIATOR,
            message_id: 1,
            length: 0,
        }
    }

    fn inner(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn seal_open_round_trip_for_every_suite() {
        let rng = SystemRandom::new();
        for suite in suites() {
            let k = keys(suite);
            for n in [0, 1, 7, 15, 16, 17, 100, 1000] {
                let plain = inner(n);
                let m = seal(&k, true, header(), 35, &plain, &rng).unwrap();
                let parsed = MessageV2Repr::parse(&m).unwrap();
                assert_eq!(
                    parsed.protected,
                    Protected::Sk {
                        first_inner: 35,
                        offset: HEADER_LEN
                    }
                );
                assert_eq!(parsed.header.length as usize, m.len());
                assert_eq!(parsed.header.message_id, 1);
                // IV, whole blocks, ICV
                let d = Direction::new(&k, true).unwrap();
                let ct = m.len() - HEADER_LEN - SK_HEADER_LEN - d.iv_len() - d.icv_len();
                assert_eq!(ct % d.block(), 0, "{suite:?}");
                assert!(ct > n && ct <= n + d.block(), "{suite:?} {n} {ct}");
                let got = open(&k, true, &m, HEADER_LEN).unwrap();
                assert_eq!(&got[..], &plain[..], "{suite:?} {n}");
                // the other direction's keys do not open it
                assert_eq!(
                    open(&k, false, &m, HEADER_LEN).unwrap_err(),
                    CryptoError::IntegrityFailed,
                    "{suite:?}"
                );
                // bytes after the header's length are ignored
                let mut longer = m.clone();
                longer.extend_from_slice(&[0xee; 5]);
                assert_eq!(
                    &open(&k, true, &longer, HEADER_LEN).unwrap()[..],
                    &plain[..]
                );
            }
            // responder to initiator
            let m = seal(&k, false, header(), 36, b"resp", &rng).unwrap();
            assert_eq!(&open(&k, false, &m, HEADER_LEN).unwrap()[..], b"resp");
        }
    }

    #[test]
    fn any_flipped_byte_is_caught() {
        let rng = SystemRandom::new();
        for suite in [
            suites()[7],  // 3DES / SHA-256
            suites()[24], // AES-256 / SHA-512
            suites()[25], // AES-128-GCM
            suites()[26], // AES-256-GCM
        ] {
            let k = keys(suite);
            let m = seal(&k, true, header(), 35, &inner(50), &rng).unwrap();
            for i in 0..m.len() {
                let mut t = m.clone();
                t[i] ^= 0x01;
                let e = open(&k, true, &t, HEADER_LEN).unwrap_err();
                // the two length fields are framing, checked before the ICV
                let framing =
                    (24..28).contains(&i) || (HEADER_LEN + 2..HEADER_LEN + 4).contains(&i);
                if framing {
                    assert!(
                        matches!(e, CryptoError::MalformedSk(_)),
                        "{suite:?} byte {i}: {e:?}"
                    );
                } else {
                    assert_eq!(e, CryptoError::IntegrityFailed, "{suite:?} byte {i}");
                }
            }
            // cut short, or the ICV dropped
            assert!(open(&k, true, &m[..m.len() - 1], HEADER_LEN).is_err());
        }
    }

    #[test]
    fn gcm_layout_matches_a_hand_built_ring_seal() {
        let k = gcm();
        let plain = inner(33);
        let m = seal(&k, true, header(), 35, &plain, &SystemRandom::new()).unwrap();
        // RFC 5282: nonce = salt (last 4 bytes of SK_ei) | the 8-byte IV,
        // AAD = IKE header | SK generic header, plaintext | pad length 0.
        let iv = &m[HEADER_LEN + 4..HEADER_LEN + 12];
        let (key, salt) = k.sk_ei.split_at(32);
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(salt);
        nonce[4..].copy_from_slice(iv);
        let total = HEADER_LEN + 4 + 8 + plain.len() + 1 + 16;
        let mut h = header();
        h.next_payload = 46;
        h.length = total as u32;
        let mut want = h.emit().to_vec();
        want.extend_from_slice(&[35, 0]);
        want.extend_from_slice(&((total - HEADER_LEN) as u16).to_be_bytes());
        let aad = want.clone();
        want.extend_from_slice(iv);
        let mut body = plain.clone();
        body.push(0);
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, key).unwrap());
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(&aad),
            &mut body,
        )
        .unwrap();
        want.extend_from_slice(&body);
        assert_eq!(m, want);
    }

    #[test]
    fn cbc_layout_matches_openssl() {
        let suite = Ikev2Suite {
            encr: Ikev2Encryption::Aes128,
            integ: Ikev2Integrity::Sha256,
            prf: Ikev2Prf::Sha256,
        };
        let k = keys(suite);
        let plain = inner(20);
        let m = seal(&k, false, header(), 36, &plain, &SystemRandom::new()).unwrap();
        // 20 bytes + 11 zero bytes of padding + pad length 11 = 32
        assert_eq!(m.len(), HEADER_LEN + 4 + 16 + 32 + 16);
        let iv = &m[HEADER_LEN + 4..HEADER_LEN + 20];
        let mut padded = plain.clone();
        padded.extend_from_slice(&[0; 11]);
        padded.push(11);
        let mut c = openssl::symm::Crypter::new(
            openssl::symm::Cipher::aes_128_cbc(),
            openssl::symm::Mode::Encrypt,
            &k.sk_er,
            Some(iv),
        )
        .unwrap();
        c.pad(false);
        let mut ct = vec![0u8; 64];
        let mut n = c.update(&padded, &mut ct).unwrap();
        n += c.finalize(&mut ct[n..]).unwrap();
        assert_eq!(&m[HEADER_LEN + 20..HEADER_LEN + 52], &ct[..n]);
        // ICV: HMAC-SHA-256 with SK_ar over everything before it, first 16 bytes
        let pkey = openssl::pkey::PKey::hmac(&k.sk_ar).unwrap();
        let mut s =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
        s.update(&m[..m.len() - 16]).unwrap();
        assert_eq!(&m[m.len() - 16..], &s.sign_to_vec().unwrap()[..16]);
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        let rng = SystemRandom::new();
        let k = gcm();
        let good = seal(&k, true, header(), 35, b"x", &rng).unwrap();
        // payload length not reaching the end of the message
        let mut short = good.clone();
        short[HEADER_LEN + 3] -= 1;
        assert!(matches!(
            open(&k, true, &short, HEADER_LEN),
            Err(CryptoError::MalformedSk(_))
        ));
        // offsets outside the message
        assert!(matches!(
            open(&k, true, &good, 10),
            Err(CryptoError::MalformedSk(_))
        ));
        assert!(matches!(
            open(&k, true, &good, good.len()),
            Err(CryptoError::MalformedSk(_))
        ));
        assert!(matches!(
            open(&k, true, &good[..20], HEADER_LEN),
            Err(CryptoError::MalformedSk(_))
        ));
        // an SK payload shorter than IV + tag
        let mut h = header();
        h.next_payload = 46;
        h.length = (HEADER_LEN + 4 + 20) as u32;
        let mut tiny = h.emit().to_vec();
        tiny.extend_from_slice(&[35, 0, 0, 24]);
        tiny.extend_from_slice(&[0; 20]);
        assert!(matches!(
            open(&k, true, &tiny, HEADER_LEN),
            Err(CryptoError::MalformedSk(_))
        ));
        // a pad length beyond the plaintext, under a valid tag
        let (key, salt) = k.sk_ei.split_at(32);
        let iv = [9u8; 8];
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(salt);
        nonce[4..].copy_from_slice(&iv);
        let total = HEADER_LEN + 4 + 8 + 2 + 16;
        h.length = total as u32;
        let mut m = h.emit().to_vec();
        m.extend_from_slice(&[35, 0]);
        m.extend_from_slice(&((total - HEADER_LEN) as u16).to_be_bytes());
        let aad = m.clone();
        m.extend_from_slice(&iv);
        let mut body = vec![0xaa, 0x05];
        aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, key).unwrap())
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(&aad),
                &mut body,
            )
            .unwrap();
        m.extend_from_slice(&body);
        assert_eq!(
            open(&k, true, &m, HEADER_LEN),
            Err(CryptoError::MalformedSk("pad length exceeds the plaintext"))
        );
        // CBC: ciphertext not a whole number of blocks
        let cbc = keys(suites()[10]);
        let mut m = seal(&cbc, true, header(), 35, b"abc", &rng).unwrap();
        m.insert(HEADER_LEN + 4 + 16, 0);
        let n = m.len();
        m[24..28].copy_from_slice(&(n as u32).to_be_bytes());
        m[HEADER_LEN + 2..HEADER_LEN + 4].copy_from_slice(&((n - HEADER_LEN) as u16).to_be_bytes());
        assert!(matches!(
            open(&cbc, true, &m, HEADER_LEN),
            Err(CryptoError::MalformedSk(_))
        ));
    }

    #[test]
    fn impossible_suites_are_refused() {
        let rng = SystemRandom::new();
        let cbc_null = keys(Ikev2Suite {
            encr: Ikev2Encryption::Aes128,
            integ: Ikev2Integrity::Null,
            prf: Ikev2Prf::Sha1,
        });
        assert!(matches!(
            seal(&cbc_null, true, header(), 35, b"x", &rng),
            Err(CryptoError::BadSuite(_))
        ));
        let gcm_sha = keys(Ikev2Suite {
            encr: Ikev2Encryption::Aes128Gcm,
            integ: Ikev2Integrity::Sha1,
            prf: Ikev2Prf::Sha1,
        });
        let sealed = seal(&gcm(), true, header(), 35, b"x", &rng).unwrap();
        assert!(matches!(
            open(&gcm_sha, true, &sealed, HEADER_LEN),
            Err(CryptoError::BadSuite(_))
        ));
        assert!(matches!(
            seal(&gcm_sha, true, header(), 35, b"x", &rng),
            Err(CryptoError::BadSuite(_))
        ));
        assert!(matches!(
            seal(&gcm(), true, header(), 35, &vec![0; 65536], &rng),
            Err(CryptoError::TooBig(_))
        ));
    }

    /// Parses a fragment datagram and hands it to `r`.
    fn add(
        r: &mut Reassembly,
        k: &IkeSaKeys,
        m: &[u8],
    ) -> Result<Option<Reassembled>, CryptoError> {
        let p = MessageV2Repr::parse(m).unwrap();
        let Protected::Skf {
            first_inner,
            offset,
            number,
            total,
        } = p.protected
        else {
            panic!("not a fragment: {:?}", p.protected)
        };
        r.add(
            k,
            true,
            m,
            p.header.message_id,
            offset,
            number,
            total,
            first_inner,
        )
    }

    /// A deterministic shuffle (xorshift), so failures reproduce.
    fn shuffle<T>(v: &mut [T], mut seed: u64) {
        for i in (1..v.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            v.swap(i, (seed % (i as u64 + 1)) as usize);
        }
    }

    #[test]
    fn fragments_fit_and_reassemble_in_any_order() {
        let rng = SystemRandom::new();
        for suite in [suites()[12], suites()[26]] {
            let k = keys(suite);
            let plain = inner(3000);
            for (max, want) in [(1100, 3), (500, 7)] {
                let frags = seal_fragments(&k, true, header(), 35, &plain, max, &rng).unwrap();
                assert_eq!(frags.len(), want, "{suite:?} {max}");
                for (i, f) in frags.iter().enumerate() {
                    assert!(f.len() <= max, "{} > {max}", f.len());
                    let p = MessageV2Repr::parse(f).unwrap();
                    assert_eq!(p.header.message_id, 1);
                    assert_eq!(p.header.next_payload, 53);
                    let Protected::Skf {
                        first_inner,
                        number,
                        total,
                        ..
                    } = p.protected
                    else {
                        panic!()
                    };
                    assert_eq!((number, total), (i as u16 + 1, want as u16));
                    assert_eq!(first_inner, if i == 0 { 35 } else { 0 });
                }
                for seed in 1..6u64 {
                    let mut order: Vec<usize> = (0..frags.len()).collect();
                    shuffle(&mut order, seed * 0x9e37_79b9);
                    let mut r = Reassembly::default();
                    let mut done = None;
                    for (j, &i) in order.iter().enumerate() {
                        let got = add(&mut r, &k, &frags[i]).unwrap();
                        if j + 1 < order.len() {
                            assert!(got.is_none());
                            assert_eq!(r.received(), j + 1);
                            // duplicates of what came are ignored
                            assert_eq!(add(&mut r, &k, &frags[i]).unwrap(), None);
                            assert_eq!(add(&mut r, &k, &frags[order[0]]).unwrap(), None);
                            assert_eq!(r.received(), j + 1);
                        } else {
                            done = got;
                        }
                    }
                    let (first, chain) = done.expect("complete");
                    assert_eq!(first, 35);
                    assert_eq!(&chain[..], &plain[..]);
                }
            }
            // what fits is one ordinary SK message
            let one = seal_fragments(&k, true, header(), 35, &plain, 4000, &rng).unwrap();
            assert_eq!(one.len(), 1);
            assert!(matches!(
                MessageV2Repr::parse(&one[0]).unwrap().protected,
                Protected::Sk { .. }
            ));
            assert_eq!(
                &open(&k, true, &one[0], HEADER_LEN).unwrap()[..],
                &plain[..]
            );
            // no room for data
            assert!(matches!(
                seal_fragments(&k, true, header(), 35, &plain, 60, &rng),
                Err(CryptoError::BadFragment(_))
            ));
        }
    }

    #[test]
    fn a_single_fragment_is_a_whole_message() {
        let rng = SystemRandom::new();
        let k = gcm();
        let f = seal_fragment(&k, true, header(), 33, 1, 1, b"whole", &rng).unwrap();
        let mut r = Reassembly::default();
        let (first, chain) = add(&mut r, &k, &f).unwrap().unwrap();
        assert_eq!((first, &chain[..]), (33, &b"whole"[..]));
        assert_eq!(r.received(), 0);
    }

    #[test]
    fn reassembly_refuses_what_cannot_belong() {
        let rng = SystemRandom::new();
        let k = gcm();
        let frag = |n: u16, t: u16, piece: &[u8]| {
            seal_fragment(
                &k,
                true,
                header(),
                if n == 1 { 35 } else { 0 },
                n,
                t,
                piece,
                &rng,
            )
            .unwrap()
        };
        let mut r = Reassembly::default();
        let f = frag(1, 3, b"one");
        let p = MessageV2Repr::parse(&f).unwrap();
        // total 0, number 0 or above the total, more than 32 fragments
        for (n, t) in [(1, 0), (0, 3), (4, 3), (1, 33)] {
            assert!(matches!(
                r.add(&k, true, &f, 1, HEADER_LEN, n, t, 35),
                Err(CryptoError::BadFragment(_))
            ));
        }
        // arguments that disagree with the message's own fields
        assert!(matches!(
            r.add(&k, true, &f, 1, HEADER_LEN, 2, 3, 35),
            Err(CryptoError::BadFragment(_))
        ));
        assert_eq!(p.header.message_id, 1);
        assert_eq!(add(&mut r, &k, &f).unwrap(), None);
        // a forged fragment changes nothing
        let mut bad = frag(2, 3, b"two");
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert_eq!(add(&mut r, &k, &bad), Err(CryptoError::IntegrityFailed));
        assert_eq!(r.received(), 1);
        // a smaller total than the fragments held is refused
        assert!(matches!(
            add(&mut r, &k, &frag(2, 2, b"two")),
            Err(CryptoError::BadFragment(_))
        ));
        assert_eq!(r.received(), 1);
        // a larger one restarts the reassembly (the sender refragmented)
        assert_eq!(add(&mut r, &k, &frag(2, 4, b"2")).unwrap(), None);
        assert_eq!(r.received(), 1);
        for (n, piece) in [(4, &b"4"[..]), (1, b"1"), (3, b"3")] {
            let out = add(&mut r, &k, &frag(n, 4, piece)).unwrap();
            if n == 3 {
                let (first, chain) = out.unwrap();
                assert_eq!((first, &chain[..]), (35, &b"1234"[..]));
            } else {
                assert!(out.is_none());
            }
        }
        // a fragment of another message id resets
        assert_eq!(add(&mut r, &k, &frag(1, 2, b"a")).unwrap(), None);
        let mut h = header();
        h.message_id = 2;
        let other = seal_fragment(&k, true, h, 35, 2, 2, b"b", &rng).unwrap();
        assert_eq!(add(&mut r, &k, &other).unwrap(), None);
        assert_eq!(r.received(), 1);
    }

    #[test]
    fn reassembly_is_bounded_to_64_kib() {
        let rng = SystemRandom::new();
        let k = gcm();
        let big = vec![7u8; 40_000];
        let mut r = Reassembly::default();
        let a = seal_fragment(&k, true, header(), 35, 1, 2, &big, &rng).unwrap();
        let b = seal_fragment(&k, true, header(), 0, 2, 2, &big, &rng).unwrap();
        assert_eq!(add(&mut r, &k, &a).unwrap(), None);
        assert!(matches!(
            add(&mut r, &k, &b),
            Err(CryptoError::BadFragment(_))
        ));
        assert_eq!(r.received(), 0);
    }
}
