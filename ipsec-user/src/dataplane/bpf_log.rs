//! Log lines from the BPF programs (`aya-log`), for the rare paths only:
//! a punt, ESP for an unknown SPI, a guard drop, malformed input. Off by
//! default: each such path first reads the `LOG_SWITCH` array and logs
//! only when it is set, so with it off the fast path pays nothing and the
//! rare ones one array lookup. `debug crypto ipsec 255` turns it on.
//!
//! The records arrive through aya-log's ring buffer and leave as
//! `tracing` events of target `ipsecgw::bpf`, so they reach the daemon's
//! own log outputs.

use aya_log::EbpfLogger;

/// Hands aya-log's `log` records to `tracing`.
pub struct ToTracing;

impl log::Log for ToTracing {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let msg = record.args();
        match record.level() {
            log::Level::Error => tracing::error!(target: "ipsecgw::bpf", "{msg}"),
            log::Level::Warn => tracing::warn!(target: "ipsecgw::bpf", "{msg}"),
            log::Level::Info => tracing::info!(target: "ipsecgw::bpf", "{msg}"),
            log::Level::Debug => tracing::debug!(target: "ipsecgw::bpf", "{msg}"),
            log::Level::Trace => tracing::trace!(target: "ipsecgw::bpf", "{msg}"),
        }
    }

    fn flush(&self) {}
}

pub type BpfLogger = EbpfLogger<ToTracing>;

/// Reads the programs' log records until the daemon exits.
pub async fn drain(logger: BpfLogger) {
    // SAFETY: the logger owns its ring buffer's fd and moves into the
    // AsyncFd, so the fd stays open and the same for the AsyncFd's life.
    let Ok(mut fd) = (unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(logger, tokio::io::Interest::READABLE)
    }) else {
        tracing::warn!("BPF log ring cannot be polled; BPF-side logs are lost");
        return;
    };
    loop {
        let Ok(mut guard) = fd.readable_mut().await else {
            return;
        };
        guard.get_inner_mut().flush();
        guard.clear_ready();
    }
}
