//! IPv4 prefixes as the ASA writes them (address + dotted mask) and the
//! arithmetic the resolver needs: mask <-> prefix length, and the minimal
//! CIDR cover of an address range (`object network X` / ` range A B`).

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 network: address with the host bits cleared, and a prefix length.
///
/// Constructed only through [`Ipv4Net::new`], which clears host bits, so two
/// equal networks always compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// The whole IPv4 space (`any` / `any4`).
    pub const ANY: Ipv4Net = Ipv4Net {
        addr: Ipv4Addr::UNSPECIFIED,
        prefix: 0,
    };

    /// A network; `None` when `prefix > 32`. Host bits of `addr` are cleared.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Ipv4Net> {
        if prefix > 32 {
            return None;
        }
        let bits = u32::from(addr) & prefix_to_mask(prefix);
        Some(Ipv4Net {
            addr: Ipv4Addr::from(bits),
            prefix,
        })
    }

    /// A single host (`host A`).
    pub fn host(addr: Ipv4Addr) -> Ipv4Net {
        Ipv4Net { addr, prefix: 32 }
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The dotted mask (`255.255.255.0`).
    pub fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(prefix_to_mask(self.prefix))
    }

    /// Last address of the network.
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !prefix_to_mask(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & prefix_to_mask(self.prefix) == u32::from(self.addr)
    }

    /// Whether the two networks share at least one address. Two CIDR
    /// networks overlap exactly when one contains the other.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `/n` to a 32-bit mask (`prefix` must be at most 32).
pub fn prefix_to_mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

/// A dotted mask to its prefix length; `None` for a non-contiguous mask
/// (`255.0.255.0`), which the ASA refuses too.
pub fn mask_to_prefix(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    if m.checked_shl(ones).unwrap_or(0) == 0 {
        u8::try_from(ones).ok()
    } else {
        None
    }
}

/// The minimal list of CIDR networks covering exactly `first..=last`
/// (at most 62 of them). Empty when `first > last`.
pub fn range_to_cidrs(first: Ipv4Addr, last: Ipv4Addr) -> Vec<Ipv4Net> {
    let mut out = Vec::new();
    let mut lo = u64::from(u32::from(first));
    let hi = u64::from(u32::from(last));
    while lo <= hi {
        // Largest block aligned at `lo` that does not run past `hi`.
        let align = if lo == 0 {
            32
        } else {
            lo.trailing_zeros().min(32)
        };
        let mut size_log = align;
        while size_log > 0 && lo + (1u64 << size_log) - 1 > hi {
            size_log -= 1;
        }
        let prefix = 32 - size_log as u8;
        out.push(Ipv4Net {
            addr: Ipv4Addr::from(lo as u32),
            prefix,
        });
        lo += 1u64 << size_log;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn masks() {
        assert_eq!(mask_to_prefix(ip("255.255.255.0")), Some(24));
        assert_eq!(mask_to_prefix(ip("0.0.0.0")), Some(0));
        assert_eq!(mask_to_prefix(ip("255.255.255.255")), Some(32));
        assert_eq!(mask_to_prefix(ip("255.255.254.0")), Some(23));
        assert_eq!(mask_to_prefix(ip("255.0.255.0")), None);
        assert_eq!(mask_to_prefix(ip("0.255.255.255")), None);
        for p in 0..=32u8 {
            assert_eq!(mask_to_prefix(Ipv4Addr::from(prefix_to_mask(p))), Some(p));
        }
    }

    #[test]
    fn net_basics() {
        let n = Ipv4Net::new(ip("198.51.100.77"), 24).unwrap();
        assert_eq!(n.addr(), ip("198.51.100.0"));
        assert_eq!(n.last(), ip("198.51.100.255"));
        assert_eq!(n.mask(), ip("255.255.255.0"));
        assert!(n.contains(ip("198.51.100.200")));
        assert!(!n.contains(ip("198.51.101.0")));
        let h = Ipv4Net::host(ip("198.51.100.5"));
        assert!(n.overlaps(&h) && h.overlaps(&n));
        assert!(Ipv4Net::ANY.overlaps(&h));
        let other = Ipv4Net::new(ip("203.0.113.0"), 24).unwrap();
        assert!(!n.overlaps(&other));
        assert_eq!(Ipv4Net::new(ip("1.2.3.4"), 33), None);
        assert_eq!(n.to_string(), "198.51.100.0/24");
    }

    #[test]
    fn range_cover() {
        let c = range_to_cidrs(ip("192.0.2.10"), ip("192.0.2.20"));
        let s: Vec<String> = c.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            s,
            [
                "192.0.2.10/31",
                "192.0.2.12/30",
                "192.0.2.16/30",
                "192.0.2.20/32"
            ]
        );
        let all = range_to_cidrs(ip("0.0.0.0"), ip("255.255.255.255"));
        assert_eq!(all, vec![Ipv4Net::ANY]);
        let one = range_to_cidrs(ip("255.255.255.255"), ip("255.255.255.255"));
        assert_eq!(one, vec![Ipv4Net::host(ip("255.255.255.255"))]);
        assert!(range_to_cidrs(ip("10.0.0.2"), ip("10.0.0.1")).is_empty());
        // Worst case: 0.0.0.1 .. 255.255.255.254 needs 62 blocks.
        assert_eq!(
            range_to_cidrs(ip("0.0.0.1"), ip("255.255.255.254")).len(),
            62
        );
        // Cover is exact: count addresses.
        let c = range_to_cidrs(ip("10.0.0.3"), ip("10.0.7.200"));
        let total: u64 = c.iter().map(|n| 1u64 << (32 - n.prefix())).sum();
        assert_eq!(
            total,
            u64::from(u32::from(ip("10.0.7.200")) - u32::from(ip("10.0.0.3"))) + 1
        );
    }
}
