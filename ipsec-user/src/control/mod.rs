//! Control socket: versioned JSON requests and replies over a Unix socket
//! (root only, mode 0600). One request per connection, one JSON object per
//! line; oversized or malformed requests get an error reply.

pub mod client;
pub mod proto;
pub mod server;

/// Where the daemon listens unless `--control` says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/ipsecgw/control.sock";
