//! Test harness: network namespaces, gateways and peers for the
//! integration tests. Everything it creates carries a unique suffix and is
//! removed on drop, even when a test fails.

pub mod capture;
pub mod gateway;
pub mod iperf;
pub mod netns;
pub mod strongswan;
pub mod topology;
