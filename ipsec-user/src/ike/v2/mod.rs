//! IKEv2 (RFC 7296): one task per exchange (IKE_SA_INIT, IKE_AUTH,
//! CREATE_CHILD_SA, INFORMATIONAL) on the shared IKE core.

mod engine;

pub use engine::{Engine, Stats};
