//! What the daemon is started with: plain values, built by `cli/` from
//! its command-line arguments (no type of the argument parser reaches
//! the daemon).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::dataplane::XdpMode;

use super::logging::LogFormat;

#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub xdp_mode: XdpMode,
    /// BPF pins live under <pin root>/<instance>/.
    pub instance: Option<String>,
    pub pin_root: Option<PathBuf>,
    /// Start even when the pins cannot outlive the daemon.
    pub no_persistent_guard: bool,
    /// First IKE retransmission interval (tests).
    pub ike_retransmit_ms: Option<u64>,
    /// The first outbound ESP SA's first sequence number (tests).
    pub esp_first_seq: Option<u64>,
    /// Every IKEv2 SA's lifetime instead of its policy's (tests).
    pub ikev2_lifetime_s: Option<u32>,
    pub metrics: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub syslog: Option<SocketAddr>,
    /// Always UDP-encapsulate ESP (tests).
    pub force_udp_encap: bool,
}
