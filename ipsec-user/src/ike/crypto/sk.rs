//! The IKEv2 SK payload (RFC 7296 3.14, RFC 5282 for AES-GCM) and its
//! fragments SKF (RFC 7383): encrypt and integrity-protect a chain of
//! inner payloads into a whole message, and open one.
//!
//! SKELETON: signatures are the contract; bodies are being filled in.

use ring::rand::SecureRandom;
use zeroize::Zeroizing;

use super::CryptoError;
use super::keys_v2::IkeSaKeys;
use crate::ike::wire::v2::HeaderV2;

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
    let _ = (keys, sender_is_initiator, header, first_inner, inner, rng);
    todo!()
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
    let _ = (keys, sender_is_initiator, message, sk_offset);
    todo!()
}

/// RFC 7383: the protected message as SKF fragments, each datagram at most
/// `max_datagram` bytes of IKE message (the caller has subtracted IP,
/// UDP and non-ESP-marker overhead). One fragment when it fits. Every
/// fragment carries the same message id; fragment 1's SKF next-payload
/// is `first_inner`, the others' 0.
pub fn seal_fragments(
    keys: &IkeSaKeys,
    sender_is_initiator: bool,
    header: HeaderV2,
    first_inner: u8,
    inner: &[u8],
    max_datagram: usize,
    rng: &dyn SecureRandom,
) -> Result<Vec<Vec<u8>>, CryptoError> {
    let _ = (
        keys,
        sender_is_initiator,
        header,
        first_inner,
        inner,
        max_datagram,
        rng,
    );
    todo!()
}

/// Reassembles the SKF fragments of one message (RFC 7383 2.6): each is
/// opened (verified and decrypted) as it arrives; when all `total` are
/// here, the inner chain is returned with the first fragment's
/// next-payload. Bounded: at most 32 fragments and 64 KiB per message;
/// a fragment of another message id resets it.
#[derive(Default)]
pub struct Reassembly {
    message_id: Option<u32>,
    total: u16,
    first_inner: u8,
    parts: Vec<Option<Zeroizing<Vec<u8>>>>,
    bytes: usize,
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
    ) -> Result<Option<(u8, Zeroizing<Vec<u8>>)>, CryptoError> {
        let _ = (
            keys,
            sender_is_initiator,
            message,
            message_id,
            skf_offset,
            number,
            total,
            first_inner,
        );
        let _ = (
            &self.message_id,
            self.total,
            self.first_inner,
            &self.parts,
            self.bytes,
        );
        todo!()
    }
}
