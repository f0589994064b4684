//! Reading the XDP metadata (`ipsec_common::XdpMeta`) the programs put just
//! before each frame they redirect to AF_XDP.

use std::net::Ipv4Addr;

use ipsec_common::{
    META_FLAG_NATT, META_FLAG_PORTS_UNKNOWN, META_KIND_DECRYPT, META_KIND_ENCRYPT, META_KIND_HOLD,
    XDP_META_MAGIC, XDP_META_SIZE,
};

/// What the XDP program decided for a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameVerdict {
    /// Encrypt with outbound SA `sa_id`; `route` is the kernel's FIB answer
    /// toward the peer (`None` unless the lookup fully succeeded).
    Encrypt {
        sa_id: u32,
        route: Option<Route>,
        fib_rc: u8,
    },
    /// Hold until the SA for `selector` exists.
    Hold { selector: u32 },
    /// Decrypt with inbound SA `sa_id`; `natt`: it came in UDP 4500.
    Decrypt { sa_id: u32, natt: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub ifindex: u32,
    pub smac: [u8; 6],
    pub dmac: [u8; 6],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameMeta {
    pub verdict: FrameVerdict,
    /// Offset of the IPv4 header in the frame.
    pub l3_offset: u8,
    pub ports_unknown: bool,
}

/// Decodes the metadata from the `XDP_META_SIZE` bytes that precede a
/// frame (`umem[addr - XDP_META_SIZE .. addr]`). `None` if absent or
/// unknown (the engine must then classify the frame itself).
pub fn decode(before_frame: &[u8]) -> Option<FrameMeta> {
    let b: &[u8; XDP_META_SIZE] = before_frame
        .get(before_frame.len().checked_sub(XDP_META_SIZE)?..)?
        .try_into()
        .ok()?;
    let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    if u32_at(0) != XDP_META_MAGIC {
        return None;
    }
    let (kind, fib_rc, l3_offset, flags, id) = (b[4], b[5], b[6], b[7], u32_at(8));
    let verdict = match kind {
        META_KIND_ENCRYPT => {
            let mut smac = [0; 6];
            let mut dmac = [0; 6];
            smac.copy_from_slice(&b[16..22]);
            dmac.copy_from_slice(&b[22..28]);
            let route = (fib_rc == 0).then_some(Route {
                ifindex: u32_at(12),
                smac,
                dmac,
            });
            FrameVerdict::Encrypt {
                sa_id: id,
                route,
                fib_rc,
            }
        }
        META_KIND_HOLD => FrameVerdict::Hold { selector: id },
        META_KIND_DECRYPT => FrameVerdict::Decrypt {
            sa_id: id,
            natt: flags & META_FLAG_NATT != 0,
        },
        _ => return None,
    };
    Some(FrameMeta {
        verdict,
        l3_offset,
        ports_unknown: flags & META_FLAG_PORTS_UNKNOWN != 0,
    })
}

/// Host-order helper for SA peers.
pub(crate) fn addr_bytes(a: Ipv4Addr) -> [u8; 4] {
    a.octets()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipsec_common::XdpMeta;

    #[test]
    fn round_trips_the_shared_layout() {
        let m = XdpMeta {
            magic: XDP_META_MAGIC,
            kind: META_KIND_ENCRYPT,
            fib_rc: 0,
            l3_offset: 18,
            flags: META_FLAG_PORTS_UNKNOWN,
            id: 42,
            ifindex: 3,
            smac: [2, 0, 0, 0, 0, 1],
            dmac: [2, 0, 0, 0, 0, 2],
        };
        // SAFETY: repr(C) POD, no implicit padding (size asserted in common).
        let raw: [u8; XDP_META_SIZE] = unsafe { std::mem::transmute(m) };
        let mut buf = vec![0xaa; 10];
        buf.extend_from_slice(&raw);
        let d = decode(&buf).unwrap();
        assert_eq!(d.l3_offset, 18);
        assert!(d.ports_unknown);
        assert_eq!(
            d.verdict,
            FrameVerdict::Encrypt {
                sa_id: 42,
                fib_rc: 0,
                route: Some(Route {
                    ifindex: 3,
                    smac: m.smac,
                    dmac: m.dmac
                })
            }
        );
        assert_eq!(decode(&raw[1..]), None);
        let mut bad = raw;
        bad[0] ^= 1;
        assert_eq!(decode(&bad), None);
        let mut unknown = raw;
        unknown[4] = 99;
        assert_eq!(decode(&unknown), None);
    }
}
