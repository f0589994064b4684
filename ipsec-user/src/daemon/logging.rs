//! Logging for the daemon: `tracing` to stderr, with `debug crypto isakmp`
//! and `debug crypto ipsec` changing verbosity at runtime through a reload
//! handle. Log lines carry the peer and SA as fields; keys never appear.

use std::net::{SocketAddr, UdpSocket};

use tracing::field::{Field, Visit};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

use crate::control::proto::DebugFacility;

/// `run --log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Our own structured lines (the default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
    /// Tunnel events as ASA messages (`%ASA-5-713049: ...`); everything
    /// else as text lines.
    Asa,
}

/// Prints and sends the `asa` target's events in ASA's form: to stderr
/// with `--log-format asa`, to a syslog host (UDP, facility local4 as
/// ASA's `logging facility 20`) with `--syslog`.
struct AsaLayer {
    stderr: bool,
    syslog: Option<(UdpSocket, SocketAddr)>,
}

#[derive(Default)]
struct AsaFields {
    id: u64,
    severity: u64,
    message: String,
}

impl Visit for AsaFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "asa_id" => self.id = value,
            "asa_severity" => self.severity = value,
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for AsaLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() != "asa" {
            return;
        }
        let mut f = AsaFields::default();
        event.record(&mut f);
        let line = format!("%ASA-{}-{}: {}", f.severity, f.id, f.message);
        if self.stderr {
            eprintln!("{line}");
        }
        if let Some((sock, to)) = &self.syslog {
            // local4 (20) * 8 + severity; a full socket buffer drops the
            // line rather than block the daemon.
            let pri = 20 * 8 + f.severity.min(7);
            let _ = sock.send_to(format!("<{pri}>{line}").as_bytes(), to);
        }
    }
}

pub struct LogControl {
    handle: Option<reload::Handle<EnvFilter, tracing_subscriber::Registry>>,
    isakmp: u8,
    ikev2: u8,
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

pub fn init(format: LogFormat, syslog: Option<SocketAddr>) -> LogControl {
    let base = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let filter = EnvFilter::try_new(&base).unwrap_or_else(|_| EnvFilter::new("info"));
    let (layer, handle) = reload::Layer::new(filter);
    let asa = format == LogFormat::Asa;
    let text = (format != LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            // In ASA format the ASA layer prints these itself.
            .with_filter(filter_fn(move |m| !(asa && m.target() == "asa")))
    });
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
    });
    let syslog = syslog.and_then(|to| {
        let bind: SocketAddr = if to.is_ipv4() {
            "0.0.0.0:0".parse().ok()?
        } else {
            "[::]:0".parse().ok()?
        };
        let s = UdpSocket::bind(bind).ok()?;
        s.set_nonblocking(true).ok()?;
        Some((s, to))
    });
    let asa_layer = (asa || syslog.is_some()).then_some(AsaLayer {
        stderr: asa,
        syslog,
    });
    let ok = tracing_subscriber::registry()
        .with(layer)
        .with(text)
        .with(json)
        .with(asa_layer)
        .try_init()
        .is_ok();
    LogControl {
        handle: ok.then_some(handle),
        isakmp: 0,
        ikev2: 0,
        ipsec: 0,
        base,
    }
}

impl LogControl {
    pub fn set(&mut self, facility: DebugFacility, lvl: u8) -> Result<String, String> {
        match facility {
            DebugFacility::Isakmp => self.isakmp = lvl,
            DebugFacility::Ikev2 => self.ikev2 = lvl,
            DebugFacility::Ipsec => self.ipsec = lvl,
        }
        // The shared IKE core logs for both versions; each version's
        // exchanges have their own target.
        let spec = format!(
            "{},ipsecgw::ike={},ipsecgw::ike::v1={},ipsecgw::ike::v2={},ipsecgw::daemon={},ipsecgw::esp={},ipsecgw::xsk={},ipsecgw::bpf={}",
            self.base,
            level(self.isakmp.max(self.ikev2)),
            level(self.isakmp),
            level(self.ikev2),
            level(self.isakmp.max(self.ikev2).max(self.ipsec)),
            level(self.ipsec),
            level(self.ipsec),
            level(self.ipsec)
        );
        let filter = EnvFilter::try_new(&spec).map_err(|e| e.to_string())?;
        if let Some(h) = &self.handle {
            h.reload(filter).map_err(|e| e.to_string())?;
        }
        let name = match facility {
            DebugFacility::Isakmp => "isakmp",
            DebugFacility::Ikev2 => "ikev2",
            DebugFacility::Ipsec => "ipsec",
        };
        Ok(format!("debug crypto {name} level {lvl} ({})", level(lvl)))
    }
}
