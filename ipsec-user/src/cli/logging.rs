//! Logging for the daemon: `tracing` to stderr, with `debug crypto isakmp`
//! and `debug crypto ipsec` changing verbosity at runtime through a reload
//! handle. Log lines carry the peer and SA as fields; keys never appear.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

use crate::control::proto::DebugFacility;

pub struct LogControl {
    handle: Option<reload::Handle<EnvFilter, tracing_subscriber::Registry>>,
    isakmp: u8,
    ipsec: u8,
    base: String,
}

/// ASA debug levels are 1..255; map them onto tracing levels.
fn level(l: u8) -> &'static str {
    match l {
        0 => "info",
        1..=49 => "info",
        50..=149 => "debug",
        _ => "trace",
    }
}

pub fn init() -> LogControl {
    let base = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let filter = EnvFilter::try_new(&base).unwrap_or_else(|_| EnvFilter::new("info"));
    let (layer, handle) = reload::Layer::new(filter);
    let ok = tracing_subscriber::registry()
        .with(layer)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false),
        )
        .try_init()
        .is_ok();
    LogControl {
        handle: ok.then_some(handle),
        isakmp: 0,
        ipsec: 0,
        base,
    }
}

impl LogControl {
    pub fn set(&mut self, facility: DebugFacility, lvl: u8) -> Result<String, String> {
        match facility {
            DebugFacility::Isakmp => self.isakmp = lvl,
            DebugFacility::Ipsec => self.ipsec = lvl,
        }
        let spec = format!(
            "{},ipsecgw::ike={},ipsecgw::daemon={},ipsecgw::esp={},ipsecgw::engine={}",
            self.base,
            level(self.isakmp),
            level(self.isakmp.max(self.ipsec)),
            level(self.ipsec),
            level(self.ipsec)
        );
        let filter = EnvFilter::try_new(&spec).map_err(|e| e.to_string())?;
        if let Some(h) = &self.handle {
            h.reload(filter).map_err(|e| e.to_string())?;
        }
        let name = match facility {
            DebugFacility::Isakmp => "isakmp",
            DebugFacility::Ipsec => "ipsec",
        };
        Ok(format!("debug crypto {name} level {lvl} ({})", level(lvl)))
    }
}
