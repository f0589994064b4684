//! SA parameters as the key exchange hands them to the engine, and the
//! traffic selectors an inbound packet is checked against.

use std::net::Ipv4Addr;

use crate::algo::EspTransform;

/// An IPv4 subnet (`addr/prefix`): one side of an SA's traffic selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Selector {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Selector {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        Selector {
            addr,
            prefix: prefix.min(32),
        }
    }

    /// `0.0.0.0/0`.
    pub fn any() -> Self {
        Selector {
            addr: Ipv4Addr::UNSPECIFIED,
            prefix: 0,
        }
    }

    /// A single host (`/32`).
    pub fn host(addr: Ipv4Addr) -> Self {
        Selector { addr, prefix: 32 }
    }

    fn mask(&self) -> u32 {
        match self.prefix {
            0 => 0,
            p => u32::MAX << (32 - u32::from(p.min(32))),
        }
    }

    pub fn contains(&self, a: Ipv4Addr) -> bool {
        let m = self.mask();
        (u32::from(a) & m) == (u32::from(self.addr) & m)
    }
}

/// Everything the engine needs to run one SA direction. The same value
/// describes both directions of a pair from the local point of view: the
/// inbound SA of a pair has the peer as `tunnel_src`, but `local_ts` and
/// `remote_ts` stay the local and remote protected networks.
///
/// `keymat` is borrowed: the SA expands it into key schedules and the
/// caller zeroizes its own copy. `Debug` is not derived: keys never print.
#[derive(Clone, Copy)]
pub struct SaParams<'a> {
    pub spi: u32,
    pub transform: EspTransform,
    /// Encryption key first, then the authentication key; exactly
    /// `transform.keymat_len()` bytes; AEAD keys end with the 4-byte salt.
    pub keymat: &'a [u8],
    /// Outer source address (ours for an outbound SA).
    pub tunnel_src: Ipv4Addr,
    /// Outer destination address (the peer for an outbound SA).
    pub tunnel_dst: Ipv4Addr,
    /// NAT-T (RFC 3948): `(source port, destination port)` of the UDP
    /// header in front of ESP, normally 4500 on both sides.
    pub udp_encap: Option<(u16, u16)>,
    /// 64-bit extended sequence numbers (RFC 4303 section 2.2.1).
    pub esn: bool,
    /// The local protected network (inner destination of inbound traffic).
    pub local_ts: Selector,
    /// The remote protected network (inner source of inbound traffic).
    pub remote_ts: Selector,
    /// Hard lifetime in kilobytes of inner traffic; rekey is due at 90%.
    pub lifetime_kb: Option<u64>,
}

impl std::fmt::Debug for SaParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaParams")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("transform", &format_args!("{}", self.transform))
            .field("keymat", &format_args!("<{} bytes>", self.keymat.len()))
            .field("tunnel_src", &self.tunnel_src)
            .field("tunnel_dst", &self.tunnel_dst)
            .field("udp_encap", &self.udp_encap)
            .field("esn", &self.esn)
            .field("local_ts", &self.local_ts)
            .field("remote_ts", &self.remote_ts)
            .field("lifetime_kb", &self.lifetime_kb)
            .finish()
    }
}

/// Byte limits derived from `lifetime_kb`: soft (rekey due) at 90%, hard at
/// 100%.
pub(crate) fn byte_limits(lifetime_kb: Option<u64>) -> (u64, u64) {
    match lifetime_kb {
        Some(kb) => {
            let hard = kb.saturating_mul(1024);
            (hard / 10 * 9, hard)
        }
        None => (u64::MAX, u64::MAX),
    }
}

/// One handle per worker on one SA: `first` and `n - 1` more made from it
/// by `more` (which shares `first`'s sequence, window and lifetime).
pub(crate) fn handles<T, E>(
    n: usize,
    first: T,
    more: impl Fn(&T) -> Result<T, E>,
) -> Result<Vec<T>, E> {
    let mut group = Vec::with_capacity(n.max(1));
    for _ in 1..n {
        group.push(more(&first)?);
    }
    group.insert(0, first);
    Ok(group)
}

/// Is a rekey by volume due for an SA that has carried `bytes` of its
/// kilobyte lifetime and carries `rate` bytes per second now? At 90% of the
/// lifetime as before; earlier when, at the current rate, the rest would
/// be used up within `lead` (the time a rekey needs: noticing it, quick
/// mode, the initiator's grace), since past the hard limit the SA sends
/// nothing. A fixed 10% margin is a second at 1 Gbit/s with ASA's default
/// 4,608,000 KB, under half a second at 10 Gbit/s. Never before half the
/// lifetime, so a small lifetime on a fast link rekeys at half, not
/// continuously.
pub fn volume_rekey_due(
    lifetime_kb: Option<u64>,
    bytes: u64,
    rate: f64,
    lead: std::time::Duration,
) -> bool {
    let (soft, hard) = byte_limits(lifetime_kb);
    if lifetime_kb.is_none() {
        return false;
    }
    let by_rate = hard as f64 - rate.max(0.0) * lead.as_secs_f64();
    let at = by_rate.clamp(hard as f64 / 2.0, soft as f64);
    bytes as f64 >= at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_rekey_leaves_time_at_high_rates() {
        use std::time::Duration;
        let lead = Duration::from_secs(2);
        let kb = Some(4_608_000); // ASA's default, 4.4 GiB
        let hard = 4_608_000u64 * 1024;
        // Slow: at 90% as always.
        assert!(!volume_rekey_due(kb, hard / 10 * 9 - 1, 1e6, lead));
        assert!(volume_rekey_due(kb, hard / 10 * 9, 1e6, lead));
        // 10 Gbit/s: 2 s are 2.5 GB, more than half: due at half.
        assert!(!volume_rekey_due(kb, hard / 2 - 1, 1.25e9, lead));
        assert!(volume_rekey_due(kb, hard / 2, 1.25e9, lead));
        // 3 Gbit/s: due 750 MB (2 s) before the end, at 84%, not 90%.
        let at = hard - 750_000_000;
        assert!(!volume_rekey_due(kb, at - 1_000_000, 3.75e8, lead));
        assert!(volume_rekey_due(kb, at, 3.75e8, lead));
        // No kilobyte lifetime: never.
        assert!(!volume_rekey_due(None, u64::MAX, 1e12, lead));
    }

    #[test]
    fn selector_contains() {
        let s = Selector::new(Ipv4Addr::new(198, 51, 100, 0), 24);
        assert!(s.contains(Ipv4Addr::new(198, 51, 100, 10)));
        assert!(!s.contains(Ipv4Addr::new(198, 51, 101, 10)));
        assert!(Selector::any().contains(Ipv4Addr::new(1, 2, 3, 4)));
        assert!(Selector::host(Ipv4Addr::new(1, 2, 3, 4)).contains(Ipv4Addr::new(1, 2, 3, 4)));
        assert!(!Selector::host(Ipv4Addr::new(1, 2, 3, 4)).contains(Ipv4Addr::new(1, 2, 3, 5)));
    }
}
