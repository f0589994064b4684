//! IKEv1 exchanges, one task per exchange: main mode, aggressive mode, quick mode, informational.
//!
//! [`Engine`] is sans-IO: the daemon feeds it datagrams (`handle_datagram`)
//! and timer ticks (`on_timer` at `next_timeout`), and performs the
//! [`Output`]s: datagrams to send, child SAs to install or remove, and
//! failures whose text the operator interface shows verbatim.
//!
//! Layout: `config` (what the integrator fills in), `message` (the tasks'
//! view of ISAKMP messages), `proposal` (matching with reasons), `sa`
//! (IKE SA record and ASA state names), `engine` (dispatch, timers, public
//! API), `exchange` (steps every exchange shares), `phase1` (steps main
//! and aggressive mode share), then one module per exchange.

pub mod aggressive_mode;
pub use crate::ike::config;
pub mod engine;
mod exchange;
pub mod informational;
pub mod main_mode;
pub mod message;
pub mod nat_t;
mod phase1;
pub mod proposal;
pub mod quick_mode;
#[cfg(test)]
mod replay_tests;
pub mod sa;

pub use crate::ike::{ChildSa, FailureReason, Output};
pub use config::{
    DpdConfig, Ipv4Net, IsakmpPolicy, LocalConfig, PeerConfig, Phase1Mode, Selector, SelectorId,
};
pub use engine::{Engine, EngineStats};
pub use sa::{IsakmpSaInfo, PeerStatus, Role, State};
