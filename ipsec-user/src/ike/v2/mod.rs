//! IKEv2 (RFC 7296): one module per exchange (IKE_SA_INIT, IKE_AUTH,
//! CREATE_CHILD_SA, INFORMATIONAL) as steps on the engine, with the
//! proposal and traffic-selector rules apart, on the shared IKE core
//! (`ike::config`, `ike::child`, `ike::output`, `ike::spi`). Never imports
//! `ike::v1`.

mod auth_helpers;
mod cookie;
mod create_child_sa;
mod engine;
mod ike_auth;
mod ike_sa_init;
mod informational;
mod message;
pub mod proposal;
mod sa;
pub mod ts;

pub use engine::{Engine, Stats};
