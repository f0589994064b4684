//! Test harness: network namespaces, gateways and peers for the
//! integration tests, and the pieces tests used to copy between files
//! (captures, counters, a deterministic RNG, the IKE engine pair and peer
//! simulator, strongSwan and swanctl, gateway configurations, a NAT, the
//! wire between the gateways and what its frames are).
//! Everything it creates carries a unique suffix and is removed on drop,
//! even when a test fails.

pub mod capture;
pub mod config;
pub mod counters;
pub mod engine_config;
pub mod engine_pair;
pub mod gateway;
pub mod ike_peer;
pub mod iperf;
pub mod nat;
pub mod netns;
pub mod pcap;
pub mod ping;
pub mod process;
pub mod rng;
pub mod strongswan;
pub mod swanctl;
pub mod topology;
pub mod wire;
