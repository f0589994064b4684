//! IKE cryptography: PRFs, Diffie-Hellman groups, the IKEv1 SKEYID chain,
//! KEYMAT and phase-1 encryption; the IKEv2 key schedule ([`keys_v2`]) and
//! the SK / SKF envelope ([`sk`]).
//!
//! Everything here is pure computation over byte slices; secrets live in
//! [`zeroize::Zeroizing`] buffers and no type prints key material in `Debug`.

pub mod cipher;
pub mod dh;
mod groups;
pub mod keys;
pub mod keys_v2;
pub mod prf;
pub mod sk;

pub use cipher::Phase1Cipher;
pub use dh::{DhPrivate, SharedSecret};
pub use keys::{Phase1Keys, keymat};
pub use prf::Prf;

/// Errors of the IKE crypto layer. Messages are written for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("Diffie-Hellman group {0} is not supported")]
    UnsupportedGroup(u16),
    #[error(
        "the peer's Diffie-Hellman public value for group {group} is {got} bytes, expected {expected}"
    )]
    BadPublicLength {
        group: u16,
        got: usize,
        expected: usize,
    },
    #[error(
        "the peer's Diffie-Hellman public value for group {0} is invalid (outside 1 < y < p-1 or not on the curve/subgroup)"
    )]
    BadPublicValue(u16),
    #[error("the system random number generator failed")]
    Rng,
    /// The big-number library failed (allocation): no result, nothing
    /// half-computed is used.
    #[error("Diffie-Hellman arithmetic failed: {0}")]
    Arithmetic(&'static str),
    #[error("ciphertext length {0} is not a multiple of the {1}-byte cipher block")]
    NotBlockAligned(usize, usize),
    #[error("wrong key length {got} for {what} (expected {expected})")]
    BadKeyLength {
        what: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("wrong IV length {got} (expected {expected})")]
    BadIvLength { got: usize, expected: usize },
    /// The ICV (or AEAD tag) of an IKEv2 SK/SKF payload did not verify:
    /// not from the peer, or damaged. Counted and dropped.
    #[error("integrity check of the encrypted payload failed")]
    IntegrityFailed,
    /// The SK/SKF payload is shorter than IV + ICV, or its padding is
    /// impossible.
    #[error("malformed encrypted payload: {0}")]
    MalformedSk(&'static str),
    /// The IKE SA's algorithms cannot protect a message (a CBC cipher
    /// without integrity, GCM with a separate integrity algorithm, or
    /// keys of the wrong length): a bug in whoever built the suite.
    #[error("IKE SA suite cannot protect messages: {0}")]
    BadSuite(&'static str),
    /// The protected message would not fit the 65535 bytes of an IKE
    /// message (or of one payload).
    #[error("protected message of {0} bytes exceeds the 65535-byte bound")]
    TooBig(usize),
    /// An SKF fragment (RFC 7383) that cannot belong to a message being
    /// reassembled, or a message that cannot be fragmented as asked.
    #[error("IKEv2 fragment: {0}")]
    BadFragment(&'static str),
}
