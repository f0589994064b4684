//! Steps every IKEv1 exchange shares, whatever the phase: reading a
//! plaintext message, nonces, RESPONDER-LIFETIME, the constant-time HASH
//! check, and the HASH-first chains and per-exchange IVs of the exchanges
//! protected by the ISAKMP SA (quick mode, informational).

use subtle::ConstantTimeEq;

use super::engine::{Engine, FailureReason};
use super::message::{Chain, HEADER_LEN, Header, Message, NotifyPayload, nt, pt};
use super::sa::IkeSa;
use crate::ike::crypto::cipher;
use crate::ike::crypto::keys;

/// The length of the nonces we send (RFC 2409 allows 8 to 256 bytes).
pub(super) const NONCE_LEN: usize = 32;

impl Engine {
    /// The payloads of an unencrypted message; `Err(None)` drops an
    /// encrypted one without a failure.
    pub(super) fn plain_msg(hdr: &Header, data: &[u8]) -> Result<Message, Option<FailureReason>> {
        if hdr.encrypted() {
            return Err(None);
        }
        let body = data
            .get(HEADER_LEN..hdr.length as usize)
            .unwrap_or_default()
            .to_vec();
        Message::parse_plain(*hdr, body).map_err(|e| {
            Some(FailureReason::Protocol(format!(
                "malformed message from the peer: {e}"
            )))
        })
    }
}

impl IkeSa {
    /// The first IV of exchange `mid` under this ISAKMP SA (RFC 2409
    /// appendix B), once a policy is chosen.
    pub(super) fn exchange_iv(&self, mid: u32) -> Option<Vec<u8>> {
        let policy = self.policy?;
        Some(keys::exchange_iv(
            policy.hash,
            &self.iv,
            mid,
            cipher::block_size(policy.encryption),
        ))
    }
}

pub(super) fn check_nonce(n: &[u8]) -> Result<(), Option<FailureReason>> {
    if !(8..=256).contains(&n.len()) {
        return Err(Some(FailureReason::Protocol(format!(
            "peer's nonce has {} bytes (RFC 2409 allows 8 to 256)",
            n.len()
        ))));
    }
    Ok(())
}

/// Whether the HASH the peer sent is the one we computed; constant time,
/// so a forger learns nothing from how long the comparison took.
pub(super) fn hash_matches(want: &[u8], got: &[u8]) -> bool {
    bool::from(want.ct_eq(got))
}

/// HASH first, then the rest; the rest's bytes are unchanged by this
/// (next-payload fields only depend on the following payload).
pub(super) fn prepend_hash(hash: Vec<u8>, rest: &Chain) -> Chain {
    let mut c = Chain::new();
    c.push(pt::HASH, hash);
    c.extend_from(rest);
    c
}

/// The seconds of a RESPONDER-LIFETIME notify for `protocol`, if present.
pub(super) fn responder_lifetime(
    msg: &Message,
    protocol: u8,
    type_attr: u16,
    dur_attr: u16,
) -> Option<u32> {
    let n = msg
        .all(pt::NOTIFY)
        .filter_map(|b| NotifyPayload::parse(b).ok())
        .find(|n| n.ntype == nt::RESPONDER_LIFETIME && n.protocol == protocol)?;
    let attrs = super::message::parse_attrs(&n.data).ok()?;
    let mut seconds = None;
    let mut cur = None;
    for a in &attrs {
        if a.atype == type_attr {
            cur = Some(a.value);
        } else if a.atype == dur_attr && cur == Some(1) {
            seconds = Some(a.value.min(u32::MAX as u64) as u32);
        }
    }
    seconds
}
