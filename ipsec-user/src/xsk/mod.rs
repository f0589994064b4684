//! AF_XDP around the pure ESP core: the sockets and their UMEM (`socket`),
//! the workers that run ESP on them (`worker`, `pool`), and next-hop
//! resolution from the kernel's tables (`neigh`, `next_hop`), off the
//! packet path.

pub mod iface;
pub mod neigh;
pub mod next_hop;
pub mod pool;
pub mod socket;
pub mod worker;
