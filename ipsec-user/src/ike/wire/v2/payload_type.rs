//! IKEv2 payload types (RFC 7296 3.2).

use super::super::payload::PayloadType;

pub const SA: PayloadType = PayloadType(33);
pub const KE: PayloadType = PayloadType(34);
pub const IDI: PayloadType = PayloadType(35);
pub const IDR: PayloadType = PayloadType(36);
pub const CERT: PayloadType = PayloadType(37);
pub const CERTREQ: PayloadType = PayloadType(38);
pub const AUTH: PayloadType = PayloadType(39);
pub const NONCE: PayloadType = PayloadType(40);
pub const NOTIFY: PayloadType = PayloadType(41);
pub const DELETE: PayloadType = PayloadType(42);
pub const VENDOR_ID: PayloadType = PayloadType(43);
pub const TSI: PayloadType = PayloadType(44);
pub const TSR: PayloadType = PayloadType(45);
/// Encrypted and authenticated; always the last payload of a chain.
pub const SK: PayloadType = PayloadType(46);
pub const CP: PayloadType = PayloadType(47);
pub const EAP: PayloadType = PayloadType(48);
/// Encrypted fragment, RFC 7383.
pub const SKF: PayloadType = PayloadType(53);

pub fn is_known(t: PayloadType) -> bool {
    matches!(t.0, 33..=48 | 53)
}
