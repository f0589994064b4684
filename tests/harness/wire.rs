//! The wire between the two gateways, where a capture can see it, and
//! what a frame on it is.
//!
//! Why a switch in the middle: the gateways send ESP through AF_XDP (in
//! copy mode, `__dev_direct_xmit`, which skips packet taps) and receive it
//! through native XDP (redirected before any skb exists), so `tcpdump` on
//! either `wan0` never sees ESP. [`splice_bridge`] replaces the
//! topology's direct `wan0`—`wan0` veth with a bridge in a fifth
//! namespace ("mid"): a capture on its port towards west ([`MID_WEST`])
//! sees every frame on the wire, as a SPAN port would. [`classify`] tells
//! such a frame's kind, and calls anything that shows an address of a
//! protected LAN (cleartext leaked past the tunnel) [`Kind::Other`].

use std::process::Command;

use anyhow::Result;

use crate::netns::Netns;
use crate::topology::{GW_OUTSIDE_IF, Topology, sh};

/// Mid-namespace bridge ports: towards west and towards east.
pub const MID_WEST: &str = "tw";
pub const MID_EAST: &str = "te";

fn ip(args: &[&str]) -> Result<()> {
    sh(Command::new("ip").args(args)).map(|_| ())
}

/// Replaces the direct gateway-to-gateway veth of `t` with west — bridge
/// — east, the bridge in a new namespace (returned; deleted on drop).
/// Call it before the gateways start: their daemons bind `wan0`.
pub fn splice_bridge(t: &Topology) -> Result<Netns> {
    let mid = Netns::new("e2e-mid")?;
    // Deleting one end of a veth deletes the pair.
    ip(&["-n", &t.west_gw, "link", "del", GW_OUTSIDE_IF])?;
    for (gw, port, addr) in [
        (&t.west_gw, MID_WEST, "192.0.2.1/24"),
        (&t.east_gw, MID_EAST, "192.0.2.2/24"),
    ] {
        ip(&[
            "link",
            "add",
            GW_OUTSIDE_IF,
            "netns",
            gw,
            "type",
            "veth",
            "peer",
            "name",
            port,
            "netns",
            mid.name(),
        ])?;
        ip(&["-n", gw, "addr", "add", addr, "dev", GW_OUTSIDE_IF])?;
        ip(&["-n", gw, "link", "set", GW_OUTSIDE_IF, "up"])?;
    }
    mid.ip(&["link", "add", "br0", "type", "bridge", "stp_state", "0"])?;
    for port in [MID_WEST, MID_EAST] {
        mid.ip(&["link", "set", port, "master", "br0"])?;
        mid.ip(&["link", "set", port, "up"])?;
    }
    mid.ip(&["link", "set", "br0", "up"])?;
    Ok(mid)
}

fn u16be(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32be(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// What a frame on the wire between the gateways is.
#[derive(Debug, PartialEq)]
pub enum Kind {
    /// UDP 500, or UDP 4500 with the non-ESP marker.
    Ike,
    /// IP protocol 50 (or UDP 4500 with a non-zero SPI).
    Esp {
        src: [u8; 4],
        spi: u32,
        seq: u32,
        /// Inside UDP 4500 (RFC 3948).
        udp: bool,
    },
    /// The one-byte 0xff NAT-keepalive on UDP 4500 (RFC 3948 2.3).
    NatKeepalive,
    Arp,
    Igmp,
    /// Link-local IPv6 housekeeping (MLD, ND) of the veths and the bridge.
    Ipv6,
    /// Anything else: a test failure, described.
    Other(String),
}

fn in_protected_lan(a: &[u8]) -> bool {
    matches!(a, [198, 51, 100, _] | [203, 0, 113, _])
}

/// The kind of an Ethernet frame captured between the gateways.
pub fn classify(f: &[u8]) -> Kind {
    let Some(ethertype) = u16be(f, 12) else {
        return Kind::Other(format!("runt frame {f:02x?}"));
    };
    match ethertype {
        0x0806 => {
            // Sender and target protocol addresses of an Ethernet/IPv4 ARP.
            match (f.get(28..32), f.get(38..42)) {
                (Some(s), Some(t)) if !in_protected_lan(s) && !in_protected_lan(t) => Kind::Arp,
                _ => Kind::Other(format!("ARP about a protected LAN: {f:02x?}")),
            }
        }
        0x86dd => Kind::Ipv6,
        0x0800 => classify_ipv4(&f[14..]),
        e => Kind::Other(format!("ethertype {e:#06x}")),
    }
}

fn classify_ipv4(p: &[u8]) -> Kind {
    let (Some(first), Some(proto), Some(src), Some(dst)) =
        (p.first(), p.get(9), p.get(12..16), p.get(16..20))
    else {
        return Kind::Other("short IPv4 header".into());
    };
    if in_protected_lan(src) || in_protected_lan(dst) {
        return Kind::Other(format!(
            "cleartext LAN packet {src:?} -> {dst:?} proto {proto}"
        ));
    }
    let src: [u8; 4] = src.try_into().unwrap_or_default();
    let l4 = p.get(usize::from(first & 0x0f) * 4..).unwrap_or(&[]);
    match proto {
        50 => match (u32be(l4, 0), u32be(l4, 4)) {
            (Some(spi), Some(seq)) => Kind::Esp {
                src,
                spi,
                seq,
                udp: false,
            },
            _ => Kind::Other("short ESP".into()),
        },
        17 => match (u16be(l4, 0), u16be(l4, 2), u32be(l4, 8)) {
            (Some(500), Some(500), _) => Kind::Ike,
            (Some(4500), Some(4500), Some(0)) => Kind::Ike,
            (Some(4500), Some(4500), Some(spi)) => Kind::Esp {
                src,
                spi,
                seq: u32be(l4, 12).unwrap_or(0),
                udp: true,
            },
            (Some(4500), Some(4500), None) if l4.get(8..) == Some(&[0xff][..]) => {
                Kind::NatKeepalive
            }
            (s, d, _) => Kind::Other(format!("UDP {s:?} -> {d:?}")),
        },
        // IGMP membership reports of the gateways' own outside addresses.
        2 => Kind::Igmp,
        p => Kind::Other(format!("IPv4 protocol {p}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(l4);
        f
    }

    /// A leaked LAN packet is caught, ESP and IKE (both ports, with and
    /// without the non-ESP marker) are told apart.
    #[test]
    fn classifier_tells_leaks_from_ike_and_esp() {
        let (w, e) = ([192, 0, 2, 1], [192, 0, 2, 2]);
        let leak = frame(1, [198, 51, 100, 10], [203, 0, 113, 10], &[8, 0, 0, 0]);
        assert!(matches!(classify(&leak), Kind::Other(_)));
        let leak = frame(1, w, [203, 0, 113, 10], &[8, 0, 0, 0]);
        assert!(matches!(classify(&leak), Kind::Other(_)));
        let esp = frame(50, w, e, &[0, 0, 0x10, 0, 0, 0, 0, 7, 0xaa]);
        assert_eq!(
            classify(&esp),
            Kind::Esp {
                src: w,
                spi: 0x1000,
                seq: 7,
                udp: false
            }
        );
        let ike = frame(17, w, e, &[1, 0xf4, 1, 0xf4, 0, 8, 0, 0, 1, 2, 3, 4]);
        assert_eq!(classify(&ike), Kind::Ike);
        let natt_ike = frame(17, w, e, &[0x11, 0x94, 0x11, 0x94, 0, 8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(classify(&natt_ike), Kind::Ike);
        let natt_esp = frame(
            17,
            w,
            e,
            &[0x11, 0x94, 0x11, 0x94, 0, 8, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1],
        );
        assert!(matches!(
            classify(&natt_esp),
            Kind::Esp {
                spi: 9,
                seq: 1,
                udp: true,
                ..
            }
        ));
        let keepalive = frame(17, w, e, &[0x11, 0x94, 0x11, 0x94, 0, 9, 0, 0, 0xff]);
        assert_eq!(classify(&keepalive), Kind::NatKeepalive);
        let dns = frame(17, w, e, &[0, 53, 0, 53, 0, 8, 0, 0]);
        assert!(matches!(classify(&dns), Kind::Other(_)));
        assert!(matches!(classify(&[0u8; 10]), Kind::Other(_)));
    }
}
