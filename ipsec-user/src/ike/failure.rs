//! Why a negotiation failed, in words the operator interface shows verbatim,
//! with a stable kind for metrics. Shared by IKEv1 and IKEv2.

use std::fmt;

/// Why something failed, in words the operator interface shows verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    NoPolicyMatch(String),
    NoTransformMatch(String),
    ProxyIdMismatch(String),
    AuthFailed(String),
    NoReply(String),
    PeerRejected(String),
    PeerDead(String),
    NoPeerConfig(String),
    Limit(String),
    Protocol(String),
}

impl FailureReason {
    pub fn text(&self) -> &str {
        match self {
            FailureReason::NoPolicyMatch(s)
            | FailureReason::NoTransformMatch(s)
            | FailureReason::ProxyIdMismatch(s)
            | FailureReason::AuthFailed(s)
            | FailureReason::NoReply(s)
            | FailureReason::PeerRejected(s)
            | FailureReason::PeerDead(s)
            | FailureReason::NoPeerConfig(s)
            | FailureReason::Limit(s)
            | FailureReason::Protocol(s) => s,
        }
    }
}

impl FailureReason {
    /// A stable name of the kind, for metrics labels (the text varies).
    pub fn kind(&self) -> &'static str {
        match self {
            FailureReason::NoPolicyMatch(_) => "no_policy_match",
            FailureReason::NoTransformMatch(_) => "no_transform_match",
            FailureReason::ProxyIdMismatch(_) => "proxy_id_mismatch",
            FailureReason::AuthFailed(_) => "auth_failed",
            FailureReason::NoReply(_) => "no_reply",
            FailureReason::PeerRejected(_) => "peer_rejected",
            FailureReason::PeerDead(_) => "peer_dead",
            FailureReason::NoPeerConfig(_) => "no_peer_config",
            FailureReason::Limit(_) => "limit",
            FailureReason::Protocol(_) => "protocol",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}
