//! ipsecgw: an IPsec LAN-to-LAN gateway. The daemon negotiates tunnels with
//! IKE the way a Cisco ASA does; eBPF programs classify traffic in the
//! kernel and steer protected flows into the userspace ESP engine.
//!
//! Boundaries: `ike::wire` and `esp` know nothing of sockets or tokio;
//! `esp` receives keys through its SA-install API and knows nothing of IKE;
//! the CLI reaches the daemon only through `control`.

pub mod algo;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dataplane;
pub mod esp;
pub mod ike;
pub mod xsk;
