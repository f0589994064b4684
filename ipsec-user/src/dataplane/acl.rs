//! Crypto-map ACLs in plain Rust and their compilation into the kernel's
//! tuple-space tables (see `ipsec-ebpf/src/classify.rs`).

use std::{collections::BTreeMap, net::Ipv4Addr, ops::RangeInclusive};

use ipsec_common::{
    ACL_BUCKET_CANDS, ACL_CHAIN_ENTRIES, ACL_FILTER_WORDS, ACL_MAX_CHAIN, ACL_MAX_KEYS,
    ACL_MAX_TUPLES, AclBucket, AclCand, AclKey, AclTuple, CAND_ANY_PROTO, CAND_HAS_PORTS,
    CAND_PERMIT, acl_filter_bit,
};

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclAction {
    Permit,
    Deny,
}

/// One line of a crypto-map ACL set. Lines are evaluated in slice order
/// (index = priority, lowest first); the first matching line decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclRule {
    /// Crypto-map entry a `permit` line belongs to.
    pub selector: u32,
    pub action: AclAction,
    /// `None`: every IP protocol.
    pub proto: Option<u8>,
    pub src: (Ipv4Addr, u8),
    pub dst: (Ipv4Addr, u8),
    pub src_ports: RangeInclusive<u16>,
    pub dst_ports: RangeInclusive<u16>,
}

impl AclRule {
    /// `permit ip SRC DST` for `selector`.
    pub fn permit_ip(selector: u32, src: (Ipv4Addr, u8), dst: (Ipv4Addr, u8)) -> Self {
        Self {
            selector,
            action: AclAction::Permit,
            proto: None,
            src,
            dst,
            src_ports: 0..=u16::MAX,
            dst_ports: 0..=u16::MAX,
        }
    }

    /// `deny ip SRC DST`.
    pub fn deny_ip(src: (Ipv4Addr, u8), dst: (Ipv4Addr, u8)) -> Self {
        Self {
            action: AclAction::Deny,
            ..Self::permit_ip(0, src, dst)
        }
    }

    fn has_ports(&self) -> bool {
        self.src_ports != (0..=u16::MAX) || self.dst_ports != (0..=u16::MAX)
    }

    /// Reference semantics (linear, userspace): does this line match? With
    /// `ports == None` (fragment, no L4 header) a port-constrained line
    /// matches if it is a permit and not if it is a deny, exactly as the
    /// kernel classifier does (fail closed).
    pub fn matches(
        &self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        proto: u8,
        ports: Option<(u16, u16)>,
    ) -> bool {
        let m = |a: Ipv4Addr, (net, len): (Ipv4Addr, u8)| {
            u32::from(a) & prefix_mask(len) == u32::from(net) & prefix_mask(len)
        };
        if !m(src, self.src) || !m(dst, self.dst) {
            return false;
        }
        if self.proto.is_some_and(|p| p != proto) {
            return false;
        }
        if !self.has_ports() {
            return true;
        }
        match ports {
            None => self.action == AclAction::Permit,
            Some((s, d)) => self.src_ports.contains(&s) && self.dst_ports.contains(&d),
        }
    }
}

/// First-match over a rule list with the kernel's semantics (reference for
/// tests and for the daemon's own decisions).
pub fn first_match(
    rules: &[AclRule],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ports: Option<(u16, u16)>,
) -> Option<(usize, &AclRule)> {
    rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.matches(src, dst, proto, ports))
}

pub fn prefix_mask(len: u8) -> u32 {
    match len {
        0 => 0,
        l if l >= 32 => u32::MAX,
        l => u32::MAX << (32 - l as u32),
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AclError {
    #[error("ACL line {line}: prefix length {len} is longer than 32")]
    BadPrefix { line: usize, len: u8 },
    #[error("ACL line {line}: port ranges need protocol tcp or udp")]
    PortsWithoutTcpUdp { line: usize },
    #[error("ACL line {line}: empty port range")]
    EmptyPortRange { line: usize },
    #[error("ACL set uses more than {max} distinct (source, destination) prefix-length pairs")]
    TooManyTuples { max: u32 },
    #[error("ACL set has more than {max} distinct (prefix pair, source, destination) keys")]
    TooManyKeys { max: u32 },
    #[error(
        "ACL line {line}: more than {max} lines share the same source and destination prefixes"
    )]
    TooManyLinesPerKey { line: usize, max: usize },
    #[error("ACL set needs more than {max} overflow buckets")]
    ChainFull { max: u32 },
    #[error("ACL set has more than u32::MAX lines")]
    TooManyLines,
}

/// An ACL set laid out for one classifier generation.
#[derive(Debug, Default)]
pub struct CompiledAcl {
    /// Sorted by `min_index`; `tuple` slots in `keys` are relative (0..n).
    pub tuples: Vec<AclTuple>,
    /// Hash entries; `AclKey::tuple` is the relative tuple number.
    pub buckets: Vec<(AclKey, AclBucket)>,
    /// Overflow buckets; `AclBucket::next` values are 1-based slots here.
    pub chain: Vec<AclBucket>,
    /// The key filter (`ACL_FILTER_WORDS` words): the bit of every key in
    /// `buckets` is set.
    pub filter: Vec<u64>,
    /// `(src_mask, dst_mask)` per tuple, for the filter's map value.
    pub masks: Vec<[u32; 2]>,
}

impl CompiledAcl {
    pub fn lines_per_key_max() -> usize {
        ACL_BUCKET_CANDS * (1 + ACL_MAX_CHAIN as usize)
    }
}

/// Groups lines by prefix-length pair and masked addresses.
pub fn compile(rules: &[AclRule]) -> Result<CompiledAcl, AclError> {
    if rules.len() > u32::MAX as usize - 1 {
        return Err(AclError::TooManyLines);
    }
    // (src_len, dst_len) -> min index
    let mut pairs: BTreeMap<(u8, u8), u32> = BTreeMap::new();
    for (i, r) in rules.iter().enumerate() {
        for len in [r.src.1, r.dst.1] {
            if len > 32 {
                return Err(AclError::BadPrefix { line: i, len });
            }
        }
        if r.src_ports.is_empty() || r.dst_ports.is_empty() {
            return Err(AclError::EmptyPortRange { line: i });
        }
        if r.has_ports() && !matches!(r.proto, Some(IPPROTO_TCP | IPPROTO_UDP)) {
            return Err(AclError::PortsWithoutTcpUdp { line: i });
        }
        pairs.entry((r.src.1, r.dst.1)).or_insert(i as u32);
    }
    if pairs.len() > ACL_MAX_TUPLES as usize {
        return Err(AclError::TooManyTuples {
            max: ACL_MAX_TUPLES,
        });
    }
    let mut order: Vec<((u8, u8), u32)> = pairs.into_iter().collect();
    order.sort_by_key(|&(_, min)| min);
    let tuple_of: BTreeMap<(u8, u8), u32> = order
        .iter()
        .enumerate()
        .map(|(t, &(p, _))| (p, t as u32))
        .collect();
    let tuples: Vec<AclTuple> = order
        .iter()
        .map(|&((s, d), min)| AclTuple {
            src_len: s,
            dst_len: d,
            _pad: 0,
            min_index: min,
            src_mask: prefix_mask(s),
            dst_mask: prefix_mask(d),
        })
        .collect();

    // Lines arrive in index order, so each key's list is already sorted.
    let mut keyed: BTreeMap<(u32, u32, u32), Vec<AclCand>> = BTreeMap::new();
    for (i, r) in rules.iter().enumerate() {
        let t = tuple_of[&(r.src.1, r.dst.1)];
        let key = (
            t,
            u32::from(r.src.0) & prefix_mask(r.src.1),
            u32::from(r.dst.0) & prefix_mask(r.dst.1),
        );
        let list = keyed.entry(key).or_default();
        if list.len() >= CompiledAcl::lines_per_key_max() {
            return Err(AclError::TooManyLinesPerKey {
                line: i,
                max: CompiledAcl::lines_per_key_max(),
            });
        }
        let mut flags = 0;
        if r.action == AclAction::Permit {
            flags |= CAND_PERMIT;
        }
        if r.proto.is_none() {
            flags |= CAND_ANY_PROTO;
        }
        if r.has_ports() {
            flags |= CAND_HAS_PORTS;
        }
        list.push(AclCand {
            index: i as u32,
            selector: r.selector,
            sport_lo: *r.src_ports.start(),
            sport_hi: *r.src_ports.end(),
            dport_lo: *r.dst_ports.start(),
            dport_hi: *r.dst_ports.end(),
            proto: r.proto.unwrap_or(0),
            flags,
            _pad: 0,
        });
    }
    if keyed.len() > ACL_MAX_KEYS as usize {
        return Err(AclError::TooManyKeys { max: ACL_MAX_KEYS });
    }
    let mut buckets = Vec::with_capacity(keyed.len());
    let mut chain: Vec<AclBucket> = Vec::new();
    let mut filter = vec![0u64; ACL_FILTER_WORDS];
    for ((t, s, d), cands) in keyed {
        let bit = acl_filter_bit(t, s, d) as usize;
        filter[bit / 64] |= 1 << (bit % 64);
        let mut chunks: Vec<AclBucket> = cands
            .chunks(ACL_BUCKET_CANDS)
            .map(|c| {
                let mut b = AclBucket {
                    count: c.len() as u32,
                    ..AclBucket::default()
                };
                b.cands[..c.len()].copy_from_slice(c);
                b
            })
            .collect();
        // Link the overflow chunks back to front.
        let mut next = 0u32;
        while chunks.len() > 1 {
            let Some(mut b) = chunks.pop() else { break };
            b.next = next;
            if chain.len() >= ACL_CHAIN_ENTRIES as usize {
                return Err(AclError::ChainFull {
                    max: ACL_CHAIN_ENTRIES,
                });
            }
            chain.push(b);
            next = chain.len() as u32;
        }
        let Some(mut head) = chunks.pop() else {
            continue;
        };
        head.next = next;
        buckets.push((
            AclKey {
                tuple: t,
                src: s,
                dst: d,
            },
            head,
        ));
    }
    let masks = tuples.iter().map(|t| [t.src_mask, t.dst_mask]).collect();
    Ok(CompiledAcl {
        tuples,
        buckets,
        chain,
        filter,
        masks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(a: [u8; 4], l: u8) -> (Ipv4Addr, u8) {
        (Ipv4Addr::from(a), l)
    }

    #[test]
    fn groups_by_prefix_pair_and_sorts_tuples_by_first_line() {
        let rules = vec![
            AclRule::deny_ip(net([10, 0, 0, 5], 32), net([0, 0, 0, 0], 0)),
            AclRule::permit_ip(1, net([10, 0, 0, 0], 24), net([10, 1, 0, 0], 24)),
            AclRule::permit_ip(2, net([10, 0, 1, 0], 24), net([10, 1, 0, 0], 24)),
        ];
        let c = compile(&rules).unwrap();
        assert_eq!(c.tuples.len(), 2);
        assert_eq!(
            (
                c.tuples[0].src_len,
                c.tuples[0].dst_len,
                c.tuples[0].min_index
            ),
            (32, 0, 0)
        );
        assert_eq!(
            (
                c.tuples[1].src_len,
                c.tuples[1].dst_len,
                c.tuples[1].min_index
            ),
            (24, 24, 1)
        );
        assert_eq!(c.buckets.len(), 3);
        assert!(c.chain.is_empty());
    }

    #[test]
    fn filter_holds_every_key_and_little_else() {
        let rules: Vec<AclRule> = (0..10_000u32)
            .map(|i| {
                let len = [32u8, 24, 16][(i % 3) as usize];
                AclRule::permit_ip(
                    i,
                    (Ipv4Addr::from(0x0a00_0000 | i), len),
                    (Ipv4Addr::from(0xac10_0000 | ((i & 0xff) << 8)), 24),
                )
            })
            .collect();
        let c = compile(&rules).unwrap();
        assert_eq!(c.filter.len(), ACL_FILTER_WORDS);
        let set = |t: u32, s: u32, d: u32| {
            let bit = acl_filter_bit(t, s, d) as usize;
            c.filter[bit / 64] & (1 << (bit % 64)) != 0
        };
        for (k, _) in &c.buckets {
            assert!(set(k.tuple, k.src, k.dst), "{k:?} missing from the filter");
        }
        // Keys that are not there: few false positives (one hash, ~1% load).
        let fp = (0..100_000u32)
            .filter(|&i| set(i % 3, 0xc000_0000 | i, 0xcb00_7100))
            .count();
        assert!(fp < 3_000, "{fp} false positives in 100,000");
        let ones: u32 = c.filter.iter().map(|w| w.count_ones()).sum();
        assert!(ones as usize <= c.buckets.len() && ones > 0);
    }

    #[test]
    fn tuples_carry_their_masks() {
        let rules = vec![AclRule::permit_ip(
            1,
            net([10, 0, 0, 0], 8),
            net([0, 0, 0, 0], 0),
        )];
        let c = compile(&rules).unwrap();
        assert_eq!(
            (c.tuples[0].src_mask, c.tuples[0].dst_mask),
            (0xff00_0000, 0)
        );
    }

    #[test]
    fn overflow_chains_keep_index_order() {
        let n = ACL_BUCKET_CANDS * 2 + 3;
        let rules: Vec<AclRule> = (0..n)
            .map(|i| AclRule {
                proto: Some(IPPROTO_UDP),
                dst_ports: (i as u16)..=(i as u16),
                ..AclRule::permit_ip(i as u32, net([10, 0, 0, 0], 8), net([10, 1, 0, 0], 16))
            })
            .collect();
        let c = compile(&rules).unwrap();
        assert_eq!(c.buckets.len(), 1);
        assert_eq!(c.chain.len(), 2);
        let head = &c.buckets[0].1;
        assert_eq!(head.count as usize, ACL_BUCKET_CANDS);
        let second = &c.chain[(head.next - 1) as usize];
        assert_eq!(second.cands[0].index as usize, ACL_BUCKET_CANDS);
        let third = &c.chain[(second.next - 1) as usize];
        assert_eq!(third.count, 3);
        assert_eq!(third.cands[2].index as usize, n - 1);
        assert_eq!(third.next, 0);
    }

    #[test]
    fn rejects_bad_input() {
        let mut r = AclRule::permit_ip(1, net([10, 0, 0, 0], 33), net([0, 0, 0, 0], 0));
        assert!(matches!(
            compile(&[r.clone()]),
            Err(AclError::BadPrefix { line: 0, len: 33 })
        ));
        r.src.1 = 8;
        r.dst_ports = 80..=80;
        assert!(matches!(
            compile(&[r]),
            Err(AclError::PortsWithoutTcpUdp { line: 0 })
        ));
        let many: Vec<AclRule> = (0..=CompiledAcl::lines_per_key_max())
            .map(|_| AclRule::permit_ip(1, net([10, 0, 0, 0], 8), net([0, 0, 0, 0], 0)))
            .collect();
        assert!(matches!(
            compile(&many),
            Err(AclError::TooManyLinesPerKey { .. })
        ));
        let tuples: Vec<AclRule> = (0..=ACL_MAX_TUPLES as u8)
            .map(|l| AclRule::permit_ip(1, net([10, 0, 0, 0], l), net([0, 0, 0, 0], 0)))
            .collect();
        assert!(matches!(
            compile(&tuples),
            Err(AclError::TooManyTuples { .. })
        ));
    }

    #[test]
    fn reference_semantics_for_unknown_ports_fail_closed() {
        let deny53 = AclRule {
            action: AclAction::Deny,
            proto: Some(IPPROTO_UDP),
            dst_ports: 53..=53,
            ..AclRule::permit_ip(0, net([0, 0, 0, 0], 0), net([0, 0, 0, 0], 0))
        };
        let permit = AclRule::permit_ip(7, net([10, 0, 0, 0], 8), net([10, 1, 0, 0], 16));
        let rules = [deny53, permit];
        let (s, d) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(
            first_match(&rules, s, d, IPPROTO_UDP, Some((1000, 53)))
                .unwrap()
                .0,
            0
        );
        // A fragment: the deny might not apply, so the permit decides.
        assert_eq!(first_match(&rules, s, d, IPPROTO_UDP, None).unwrap().0, 1);
    }
}
