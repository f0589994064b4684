//! The one error type of the wire codec, and the notify a responder would send for it.

/// Why bytes could not be parsed (or a `Repr` could not be emitted).
///
/// Every parser in `ike::wire` returns this instead of panicking; the
/// exchange code maps it to a notify with [`WireError::notify_type`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the structure (or its length field) needs.
    #[error("{what}: truncated, need {need} bytes but only {have} present")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// A length field that is impossible (below the fixed part, above a bound).
    #[error("{what}: invalid length {len}")]
    BadLength { what: &'static str, len: usize },
    /// The ISAKMP header's version is neither 1.0 (IKEv1) nor 2.0 (IKEv2).
    #[error("unsupported ISAKMP version {major}.{minor}")]
    UnsupportedVersion { major: u8, minor: u8 },
    /// An IKEv2 message was handed to an IKEv1-only parser (or the reverse).
    #[error("IKE version {0} where the other was expected")]
    WrongVersion(u8),
    /// A payload type that is not valid at this place (RFC 2408 5.1: answer INVALID-PAYLOAD-TYPE).
    #[error("invalid payload type {0}")]
    InvalidPayloadType(u8),
    /// More payloads than the bound on one message (guards CPU and memory).
    #[error("more than {limit} payloads")]
    TooManyPayloads { limit: usize },
    /// Bytes left after the last payload of a cleartext message.
    #[error("{0} bytes after the last payload")]
    TrailingBytes(usize),
    /// A field whose value is reserved or not allowed here.
    #[error("{what}: invalid value {value}")]
    BadValue { what: &'static str, value: u64 },
    /// A well-formed value this implementation does not support.
    #[error("{what}: unsupported value {value}")]
    Unsupported { what: &'static str, value: u64 },
    /// A required field or attribute is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// An encrypted message was asked for its payloads (decrypt first, then `parse_payloads`).
    #[error("message is encrypted; decrypt its body and call parse_payloads")]
    Encrypted,
    /// The emitted message would exceed the size bound.
    #[error("message of {len} bytes exceeds the bound of {max}")]
    TooBig { len: usize, max: usize },
    /// IKEv2 (RFC 7296 2.5): a payload type we do not know, sent with the
    /// critical bit set; the message is rejected and answered with
    /// UNSUPPORTED_CRITICAL_PAYLOAD carrying this type.
    #[error("unsupported critical payload type {0}")]
    UnsupportedCriticalPayload(u8),
}
