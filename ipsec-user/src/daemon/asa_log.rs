//! Tunnel events as the ASA messages operators already alert on: the same
//! message IDs, severities and facts (`%ASA-5-713049`, `%ASA-6-602303`,
//! `%ASA-4-113019`, ...). Each is one `tracing` event with target `asa`,
//! so it reaches every output: our own text or JSON lines carry it with
//! its `asa_id`, and `--log-format asa` / `--syslog HOST:PORT` print it in
//! ASA's form (see `cli::logging`).

use std::net::Ipv4Addr;
use std::time::Duration;

/// One ASA message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsaEvent {
    /// 713119: phase 1 up.
    Phase1Completed { group: String, peer: Ipv4Addr },
    /// 713049: an IPsec SA pair is up.
    Phase2Completed {
        group: String,
        peer: Ipv4Addr,
        initiator: bool,
        inbound_spi: u32,
        outbound_spi: u32,
    },
    /// 602303 / 602304: one direction of an IPsec SA created or deleted.
    Sa {
        created: bool,
        inbound: bool,
        spi: u32,
        local: Ipv4Addr,
        peer: Ipv4Addr,
    },
    /// 113019: the last SA with the peer is gone.
    SessionDisconnected {
        group: String,
        peer: Ipv4Addr,
        duration: Duration,
        bytes_tx: u64,
        bytes_rx: u64,
        reason: &'static str,
    },
    /// 713123: DPD declared the peer dead.
    LostContact { group: String, peer: Ipv4Addr },
    /// 713902: a negotiation failed, with the reason in words.
    Failure {
        group: String,
        peer: Ipv4Addr,
        reason: String,
    },
}

impl AsaEvent {
    pub fn id(&self) -> u32 {
        match self {
            AsaEvent::Phase1Completed { .. } => 713119,
            AsaEvent::Phase2Completed { .. } => 713049,
            AsaEvent::Sa { created: true, .. } => 602303,
            AsaEvent::Sa { created: false, .. } => 602304,
            AsaEvent::SessionDisconnected { .. } => 113019,
            AsaEvent::LostContact { .. } => 713123,
            AsaEvent::Failure { .. } => 713902,
        }
    }

    /// ASA severity: 3 error, 4 warning, 5 notification, 6 informational.
    pub fn severity(&self) -> u8 {
        match self {
            AsaEvent::Phase1Completed { .. } | AsaEvent::Phase2Completed { .. } => 5,
            AsaEvent::Sa { .. } => 6,
            AsaEvent::SessionDisconnected { .. } => 4,
            AsaEvent::LostContact { .. } | AsaEvent::Failure { .. } => 3,
        }
    }

    /// The message text after `%ASA-S-ID: `, worded as ASA words it.
    pub fn text(&self) -> String {
        match self {
            AsaEvent::Phase1Completed { group, peer } => {
                format!("Group = {group}, IP = {peer}, PHASE 1 COMPLETED")
            }
            AsaEvent::Phase2Completed {
                group,
                peer,
                initiator,
                inbound_spi,
                outbound_spi,
            } => format!(
                "Group = {group}, IP = {peer}, Security negotiation complete for LAN-to-LAN Group ({group})  {}, Inbound SPI = 0x{inbound_spi:08x}, Outbound SPI = 0x{outbound_spi:08x}",
                if *initiator { "Initiator" } else { "Responder" }
            ),
            AsaEvent::Sa {
                created,
                inbound,
                spi,
                local,
                peer,
            } => format!(
                "IPSEC: An {} LAN-to-LAN SA (SPI= 0x{spi:08X}) between {local} and {peer} (user= {peer}) has been {}.",
                if *inbound { "inbound" } else { "outbound" },
                if *created { "created" } else { "deleted" }
            ),
            AsaEvent::SessionDisconnected {
                group,
                peer,
                duration,
                bytes_tx,
                bytes_rx,
                reason,
            } => {
                let s = duration.as_secs();
                format!(
                    "Group = {group}, Username = {peer}, IP = {peer}, Session disconnected. Session Type: LAN-to-LAN, Duration: {}h:{:02}m:{:02}s, Bytes xmt: {bytes_tx}, Bytes rcv: {bytes_rx}, Reason: {reason}",
                    s / 3600,
                    s / 60 % 60,
                    s % 60
                )
            }
            AsaEvent::LostContact { group, peer } => format!(
                "Group = {group}, IP = {peer}, IKE lost contact with remote peer, deleting connection (keepalive type: DPD)"
            ),
            AsaEvent::Failure {
                group,
                peer,
                reason,
            } => format!("Group = {group}, IP = {peer}, {reason}"),
        }
    }

    /// `%ASA-S-ID: text` (what `cli::logging` prints from the event).
    #[cfg(test)]
    pub fn line(&self) -> String {
        format!("%ASA-{}-{}: {}", self.severity(), self.id(), self.text())
    }
}

/// Sends `ev` to the log as a `tracing` event of target `asa` at the level
/// its severity maps to.
pub fn emit(ev: &AsaEvent) {
    let (id, sev, text) = (ev.id(), ev.severity(), ev.text());
    match sev {
        0..=3 => tracing::error!(target: "asa", asa_id = id, asa_severity = sev, "{text}"),
        4 => tracing::warn!(target: "asa", asa_id = id, asa_severity = sev, "{text}"),
        _ => tracing::info!(target: "asa", asa_id = id, asa_severity = sev, "{text}"),
    }
}

/// ASA's reason for a session that ended, from why our IKE SA went down.
pub fn disconnect_reason(why: &str) -> &'static str {
    if why.contains("operator") {
        "Administrator Reset"
    } else if why.contains("lifetime") {
        "Max time exceeded"
    } else if why.contains("dead") || why.contains("DPD") {
        "Lost Service"
    } else if why.contains("peer") || why.contains("DELETE") {
        "Peer Terminate"
    } else {
        "Unknown"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_on_an_asa() {
        let peer = Ipv4Addr::new(192, 0, 2, 2);
        let g = || "192.0.2.2".to_string();
        assert_eq!(
            AsaEvent::Phase1Completed { group: g(), peer }.line(),
            "%ASA-5-713119: Group = 192.0.2.2, IP = 192.0.2.2, PHASE 1 COMPLETED"
        );
        assert_eq!(
            AsaEvent::Phase2Completed {
                group: g(),
                peer,
                initiator: true,
                inbound_spi: 0x1234abcd,
                outbound_spi: 0xc0ffee,
            }
            .line(),
            "%ASA-5-713049: Group = 192.0.2.2, IP = 192.0.2.2, Security negotiation complete for LAN-to-LAN Group (192.0.2.2)  Initiator, Inbound SPI = 0x1234abcd, Outbound SPI = 0x00c0ffee"
        );
        assert_eq!(
            AsaEvent::Sa {
                created: true,
                inbound: false,
                spi: 0xc0ffee,
                local: Ipv4Addr::new(192, 0, 2, 1),
                peer,
            }
            .line(),
            "%ASA-6-602303: IPSEC: An outbound LAN-to-LAN SA (SPI= 0x00C0FFEE) between 192.0.2.1 and 192.0.2.2 (user= 192.0.2.2) has been created."
        );
        assert_eq!(
            AsaEvent::SessionDisconnected {
                group: g(),
                peer,
                duration: Duration::from_secs(3723),
                bytes_tx: 420,
                bytes_rx: 840,
                reason: disconnect_reason("cleared by the operator"),
            }
            .line(),
            "%ASA-4-113019: Group = 192.0.2.2, Username = 192.0.2.2, IP = 192.0.2.2, Session disconnected. Session Type: LAN-to-LAN, Duration: 1h:02m:03s, Bytes xmt: 420, Bytes rcv: 840, Reason: Administrator Reset"
        );
    }
}
