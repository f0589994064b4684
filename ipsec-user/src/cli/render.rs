//! Human output in the ASA layout, and `--json` with the same facts.

use std::fmt::Write;

use crate::control::proto::{Ident, IpsecSaView, IsakmpSaList, ReplyData};

pub fn render(data: &ReplyData, json: bool) -> String {
    if json {
        let value = match data {
            ReplyData::IsakmpSas(list) => isakmp_json(list),
            ReplyData::Ikev2Sas(list) => super::render_ikev2::ikev2_json(list),
            ReplyData::IpsecSas(sas) => serde_json::to_value(sas).unwrap_or_default(),
            ReplyData::Text(t) | ReplyData::Done(t) => serde_json::Value::String(t.clone()),
            ReplyData::Dataplane(c) => serde_json::Value::Object(
                c.iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::from(*v)))
                    .collect(),
            ),
        };
        let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
        s.push('\n');
        return s;
    }
    match data {
        ReplyData::IsakmpSas(list) => isakmp(list),
        ReplyData::Ikev2Sas(list) => super::render_ikev2::ikev2(list, false),
        ReplyData::IpsecSas(sas) => ipsec(sas),
        ReplyData::Text(t) | ReplyData::Done(t) => {
            let mut t = t.clone();
            if !t.is_empty() && !t.ends_with('\n') {
                t.push('\n');
            }
            t
        }
        ReplyData::Dataplane(c) => {
            let mut s = String::new();
            for (k, v) in c {
                let _ = writeln!(s, "{k:<28} {v}");
            }
            s
        }
    }
}

/// `--json` for `show crypto isakmp sa`: an array of objects, one per SA,
/// then one per configured peer that is down (with `active: false` and the
/// reason), so a script sees every peer and why.
fn isakmp_json(list: &IsakmpSaList) -> serde_json::Value {
    let mut out = Vec::new();
    for sa in &list.sas {
        let mut v = serde_json::to_value(sa).unwrap_or_default();
        v["active"] = serde_json::Value::Bool(sa.state.ends_with("_ACTIVE"));
        out.push(v);
    }
    for d in &list.down {
        let mut v = serde_json::to_value(d).unwrap_or_default();
        v["active"] = serde_json::Value::Bool(false);
        v["type"] = "L2L".into();
        out.push(v);
    }
    serde_json::Value::Array(out)
}

/// The layout of ASA's `show crypto isakmp sa` (as in the seed article),
/// followed by the tunnels that are not up and why.
pub fn isakmp(list: &IsakmpSaList) -> String {
    let mut s = String::new();
    let active = list.sas.iter().filter(|sa| !sa.rekey).count();
    let rekey = list.sas.iter().filter(|sa| sa.rekey).count();
    if list.sas.is_empty() {
        s.push_str("There are no IKEv1 SAs\n");
    } else {
        let _ = writeln!(s, "Active SA: {active}");
        let _ = writeln!(
            s,
            "Rekey SA: {rekey} (A tunnel will report 1 Active and 1 Rekey SA during rekey)"
        );
        let _ = writeln!(s, "Total IKE SA: {}", list.sas.len());
        for (i, sa) in list.sas.iter().enumerate() {
            s.push('\n');
            let _ = writeln!(s, "{:<4}IKE Peer: {}", i + 1, sa.peer);
            let _ = writeln!(
                s,
                "     {:<8}: {:<16}{:<8}: {}",
                "Type",
                sa.kind,
                "Role",
                sa.role.as_str()
            );
            let rekey = if sa.rekey { "yes" } else { "no" };
            let _ = writeln!(
                s,
                "     {:<8}: {:<16}{:<8}: {}",
                "Rekey", rekey, "State", sa.state
            );
            if let Some(reason) = &sa.reason {
                let _ = writeln!(s, "     {:<8}: {}", "Reason", reason);
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

fn ident(i: &Ident) -> String {
    format!("({}/{}/{}/{})", i.addr, i.mask, i.prot, i.port)
}

/// The layout of ASA's `show crypto ipsec sa`.
pub fn ipsec(sas: &[IpsecSaView]) -> String {
    let mut s = String::new();
    if sas.is_empty() {
        s.push_str("There are no ipsec sas\n");
        return s;
    }
    for sa in sas {
        let w = &mut s;
        let _ = writeln!(w, "interface: {}", sa.interface);
        let _ = writeln!(
            w,
            "    Crypto map tag: {}, seq num: {}, local addr: {}",
            sa.crypto_map, sa.seq, sa.local_addr
        );
        w.push('\n');
        let _ = writeln!(w, "      access-list {}", sa.acl);
        let _ = writeln!(
            w,
            "      local ident (addr/mask/prot/port): {}",
            ident(&sa.local_ident)
        );
        let _ = writeln!(
            w,
            "      remote ident (addr/mask/prot/port): {}",
            ident(&sa.remote_ident)
        );
        let _ = writeln!(w, "      current_peer: {}", sa.peer);
        w.push('\n');
        let _ = writeln!(
            w,
            "      #pkts encaps: {}, #pkts encrypt: {}, #pkts digest: {}",
            sa.pkts_encaps, sa.pkts_encrypt, sa.pkts_digest
        );
        let _ = writeln!(
            w,
            "      #pkts decaps: {}, #pkts decrypt: {}, #pkts verify: {}",
            sa.pkts_decaps, sa.pkts_decrypt, sa.pkts_verify
        );
        let _ = writeln!(
            w,
            "      #bytes encaps: {}, #bytes decaps: {}",
            sa.bytes_encaps, sa.bytes_decaps
        );
        let _ = writeln!(
            w,
            "      #pkts replay failed: {}, #pkts verify failed: {}, #pkts policy failed: {}",
            sa.replay_drops, sa.auth_failures, sa.policy_drops
        );
        let _ = writeln!(
            w,
            "      #send errors: {}, #recv errors: {}",
            sa.send_errors, sa.recv_errors
        );
        w.push('\n');
        let (lport, rport) = match sa.udp_encap {
            Some(p) => (4500, p),
            None => (0, 0),
        };
        let _ = writeln!(
            w,
            "      local crypto endpt.: {}/{}, remote crypto endpt.: {}/{}",
            sa.local_addr, lport, sa.peer, rport
        );
        let _ = writeln!(
            w,
            "      path mtu {}, ipsec overhead {}, media mtu {}",
            sa.path_mtu, sa.ipsec_overhead, sa.path_mtu
        );
        let _ = writeln!(w, "      current outbound spi: {:08X}", sa.outbound_spi);
        let _ = writeln!(w, "      current inbound spi : {:08X}", sa.inbound_spi);
        w.push('\n');
        let settings = if sa.udp_encap.is_some() {
            "{L2L, Tunnel, NAT-T-Encaps, }"
        } else {
            "{L2L, Tunnel, }"
        };
        let pfs = sa
            .pfs_group
            .map(|g| format!("PFS Group {g}, "))
            .unwrap_or_default();
        for (dir, spi) in [("inbound", sa.inbound_spi), ("outbound", sa.outbound_spi)] {
            let _ = writeln!(w, "    {dir} esp sas:");
            let _ = writeln!(w, "      spi: 0x{spi:08X} ({spi})");
            let _ = writeln!(w, "         transform: {} no compression", sa.transform);
            let _ = writeln!(w, "         in use settings ={pfs}{settings}");
            let _ = writeln!(w, "         crypto-map: {}", sa.crypto_map);
            let _ = writeln!(
                w,
                "         sa timing: remaining key lifetime (kB/sec): ({}/{})",
                sa.remaining_kb, sa.remaining_s
            );
            let _ = writeln!(w, "         IV size: {} bytes", sa.iv_size);
            let _ = writeln!(w, "         replay detection support: Y");
            if dir == "inbound" {
                let _ = writeln!(w, "         replay window size: {}", sa.replay_window);
            }
        }
        w.push('\n');
    }
    s
}
