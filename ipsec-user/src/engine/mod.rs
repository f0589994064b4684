//! The packet engine around the pure ESP core: AF_XDP sockets, workers,
//! and next-hop resolution from the kernel's tables.

pub mod iface;
pub mod neigh;
pub mod next_hop;
pub mod pool;
pub mod worker;
pub mod xsk;
