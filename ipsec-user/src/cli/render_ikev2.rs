//! `show crypto ikev2 sa [detail]` in ASA's layout, and its `--json`: one
//! object per IKE SA, then one per IKEv2 peer that is down (with
//! `active: false` and the reason), as `show crypto isakmp sa` does.

use std::fmt::Write;

use crate::control::proto::{Ikev2SaList, Ikev2SaView};

pub fn ikev2_json(list: &Ikev2SaList) -> serde_json::Value {
    let mut out = Vec::new();
    for sa in &list.sas {
        let mut v = serde_json::to_value(sa).unwrap_or_default();
        v["active"] = serde_json::Value::Bool(sa.state == "READY");
        out.push(v);
    }
    for d in &list.down {
        let mut v = serde_json::to_value(d).unwrap_or_default();
        v["active"] = serde_json::Value::Bool(false);
        out.push(v);
    }
    serde_json::Value::Array(out)
}

fn status(sa: &Ikev2SaView) -> &'static str {
    match sa.state.as_str() {
        "READY" => "UP-ACTIVE",
        "DELETE" => "DELETING",
        _ => "IN-NEGOTIATION",
    }
}

fn role(sa: &Ikev2SaView) -> &'static str {
    match sa.role.as_str() {
        "initiator" => "INITIATOR",
        _ => "RESPONDER",
    }
}

pub fn ikev2(list: &Ikev2SaList, detail: bool) -> String {
    let mut s = String::from("IKEv2 SAs:\n");
    for sa in &list.sas {
        s.push('\n');
        let _ = writeln!(
            s,
            "Session-id:{}, Status:{}, IKE count:1, CHILD count:{}",
            sa.session_id,
            status(sa),
            sa.children.len()
        );
        s.push('\n');
        let _ = writeln!(
            s,
            "{:<10}{:<22}{:<22}{:<15}Role",
            "Tunnel-id", "Local", "Remote", "Status"
        );
        let _ = writeln!(
            s,
            "{:>9} {:<22}{:<22}{:<15}{}",
            sa.session_id,
            sa.local,
            sa.remote,
            sa.state,
            role(sa)
        );
        // A combined-mode cipher has no separate integrity: ASA says N/A.
        let hash = if sa.integrity == "none" {
            "N/A".to_string()
        } else {
            sa.integrity.clone()
        };
        let _ = writeln!(
            s,
            "      Encr: {}, keysize: {}, Hash: {}, DH Grp:{}, Auth sign: {}, Auth verify: {}",
            sa.encryption, sa.keysize, hash, sa.group, sa.auth_sign, sa.auth_verify
        );
        let _ = writeln!(
            s,
            "      Life/Active Time: {}/{} sec",
            sa.lifetime_s, sa.active_s
        );
        if detail {
            let _ = writeln!(
                s,
                "      PRF: {}, NAT-T: {}",
                sa.prf,
                if sa.nat_t { "yes" } else { "no" }
            );
            let _ = writeln!(
                s,
                "      Local spi: {}       Remote spi: {}",
                sa.local_spi, sa.remote_spi
            );
        }
        for c in &sa.children {
            let _ = writeln!(s, "Child sa: local selector  {}", c.local_selector);
            let _ = writeln!(s, "          remote selector {}", c.remote_selector);
            let _ = writeln!(
                s,
                "          ESP spi in/out: {:#010x}/{:#010x}",
                c.inbound_spi, c.outbound_spi
            );
            if detail {
                let _ = writeln!(s, "          Transform: {}", c.transform);
                let _ = writeln!(
                    s,
                    "          Packets in/out: {}/{}, Bytes in/out: {}/{}",
                    c.packets_in, c.packets_out, c.bytes_in, c.bytes_out
                );
            }
        }
    }
    if !list.down.is_empty() {
        s.push_str("\nTunnels not up:\n");
        for d in &list.down {
            let _ = writeln!(
                s,
                "  {} (crypto map {} {}): {}: {}",
                d.peer, d.crypto_map, d.seq, d.state, d.reason
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::proto::{Ikev2ChildView, PeerDiagnosis, Role};

    fn sa() -> Ikev2SaView {
        Ikev2SaView {
            session_id: 3,
            peer: "192.0.2.2".parse().unwrap(),
            local: "192.0.2.1/4500".into(),
            remote: "192.0.2.2/4500".into(),
            role: Role::Initiator,
            state: "READY".into(),
            encryption: "AES-CBC".into(),
            keysize: 256,
            integrity: "SHA256".into(),
            prf: "SHA256".into(),
            group: 14,
            auth: "PSK".into(),
            auth_sign: "PSK".into(),
            auth_verify: "PSK".into(),
            lifetime_s: 86400,
            active_s: 12,
            nat_t: true,
            local_spi: "0102030405060708".into(),
            remote_spi: "1112131415161718".into(),
            children: vec![Ikev2ChildView {
                local_selector: "198.51.100.0/0 - 198.51.100.255/65535".into(),
                remote_selector: "203.0.113.0/0 - 203.0.113.255/65535".into(),
                inbound_spi: 0x1a2b3c4d,
                outbound_spi: 0x5e6f7a8b,
                transform: "esp-aes-256 esp-sha256-hmac".into(),
                packets_in: 5,
                packets_out: 6,
                bytes_in: 500,
                bytes_out: 600,
            }],
        }
    }

    #[test]
    fn asa_layout_line_by_line() {
        let list = Ikev2SaList {
            sas: vec![sa()],
            down: vec![PeerDiagnosis {
                peer: "192.0.2.9".parse().unwrap(),
                crypto_map: "OUTSIDE_MAP".into(),
                seq: 20,
                state: "AUTH_SENT".into(),
                reason: "pre-shared key mismatch: ...".into(),
            }],
        };
        let out = ikev2(&list, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "IKEv2 SAs:");
        assert_eq!(
            lines[2],
            "Session-id:3, Status:UP-ACTIVE, IKE count:1, CHILD count:1"
        );
        assert!(lines[4].starts_with("Tunnel-id Local"), "{}", lines[4]);
        assert!(
            lines[5].contains("192.0.2.1/4500")
                && lines[5].contains("READY")
                && lines[5].ends_with("INITIATOR"),
            "{}",
            lines[5]
        );
        assert_eq!(
            lines[6],
            "      Encr: AES-CBC, keysize: 256, Hash: SHA256, DH Grp:14, Auth sign: PSK, Auth verify: PSK"
        );
        assert_eq!(lines[7], "      Life/Active Time: 86400/12 sec");
        assert_eq!(
            lines[8],
            "Child sa: local selector  198.51.100.0/0 - 198.51.100.255/65535"
        );
        assert_eq!(
            lines[9],
            "          remote selector 203.0.113.0/0 - 203.0.113.255/65535"
        );
        assert_eq!(lines[10], "          ESP spi in/out: 0x1a2b3c4d/0x5e6f7a8b");
        assert!(out.contains("Tunnels not up:\n  192.0.2.9 (crypto map OUTSIDE_MAP 20): AUTH_SENT: pre-shared key mismatch"));
        let d = ikev2(&list, true);
        assert!(
            d.contains("Local spi: 0102030405060708")
                && d.contains("Packets in/out: 5/6, Bytes in/out: 500/600"),
            "{d}"
        );
        let j = ikev2_json(&list);
        assert_eq!(j[0]["children"][0]["inbound_spi"], 0x1a2b3c4d);
        assert_eq!(j[0]["active"], true);
        assert_eq!(j[1]["active"], false);
        assert_eq!(ikev2(&Ikev2SaList::default(), false), "IKEv2 SAs:\n");
    }
}
