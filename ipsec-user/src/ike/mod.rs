//! IKE: one engine for both versions. Shared here: the configuration the
//! exchanges read (`config`), the child SAs they produce (`child`), the
//! outputs the daemon performs (`output`), typed failure reasons
//! (`failure`), what `show` reports (`status`) and the dispatcher
//! (`engine`) that hands a datagram to IKEv1 or IKEv2 by the header's
//! major version. `v1` and `v2` never import each other.

pub mod child;
pub mod config;
pub mod crypto;
pub mod engine;
pub mod failure;
pub mod output;
pub(crate) mod quiet_log;
pub mod spi;
pub mod status;
pub mod v1;
pub mod v2;
pub mod wire;

pub use child::ChildSa;
pub use engine::Engine;
pub use failure::FailureReason;
pub use output::Output;
pub use status::{Ikev2ChildInfo, Ikev2SaInfo, PeerStatus, Role};
