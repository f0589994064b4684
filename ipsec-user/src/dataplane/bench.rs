//! Classifier cost per packet, measured with `BPF_PROG_TEST_RUN` `repeat`
//! (for `cargo xtask bench classify`).

use std::{net::Ipv4Addr, time::Duration};

use super::{AclRule, Dataplane, DataplaneError, OutboundSaSpec, Prog, Verdict, acl};

#[derive(Clone, Copy, Debug)]
pub struct ClassifyBench {
    pub lines: usize,
    /// Distinct (source, destination) prefix-length pairs.
    pub pairs: usize,
    /// The packet hits a permit line whose selector has no SA yet (the
    /// hold path: punt rate limit, ring buffer, metadata, XSK redirect).
    pub matching: Duration,
    /// The same packet once its selector has an outbound SA (the encrypt
    /// path, the steady state of a protected flow: FIB lookup, SA counters,
    /// metadata, XSK redirect).
    pub matching_sa: Duration,
    /// The packet matches nothing.
    pub non_matching: Duration,
}

/// An ACL of `n` lines over `n` distinct /32 -> /24 pairs plus a few
/// prefix shapes, with the protected line last.
pub fn synthetic_acl(n: usize) -> Vec<AclRule> {
    synthetic_acl_pairs(n, 3)
}

/// Like [`synthetic_acl`] with `pairs` distinct (source, destination)
/// prefix-length pairs: 3 (/32, /24, /16 sources to /24), or up to 20
/// (five source lengths times four destination lengths).
pub fn synthetic_acl_pairs(n: usize, pairs: usize) -> Vec<AclRule> {
    const SRC: [u8; 5] = [32, 24, 16, 28, 20];
    const DST: [u8; 4] = [24, 16, 28, 20];
    let pairs = pairs.clamp(1, SRC.len() * DST.len());
    (0..n)
        .map(|i| {
            let p = i % pairs;
            let i = i as u32;
            let src = Ipv4Addr::from(0x0a00_0000 | (i & 0x00ff_ffff));
            // Short destination prefixes need variety in the upper bits.
            let dst = if pairs <= 3 {
                0xac10_0000 | ((i & 0xff) << 8)
            } else {
                0xac00_0000 | ((i & 0xffff) << 8)
            };
            AclRule::permit_ip(i, (src, SRC[p % 5]), (Ipv4Addr::from(dst), DST[p / 5]))
        })
        .collect()
}

/// Builds an Ethernet/IPv4/UDP frame (no checksums needed by the programs).
pub fn udp_frame(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 8 + payload];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + 8 + payload) as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[38..40].copy_from_slice(&((8 + payload) as u16).to_be_bytes());
    f
}

/// ns/packet of the inside program for each (ACL lines, prefix pairs) in
/// `sizes`, with the BPF-side log lines on or off (`bpf_log`).
pub fn classify_bench(
    sizes: &[(usize, usize)],
    repeat: u32,
    bpf_log: bool,
) -> Result<Vec<ClassifyBench>, DataplaneError> {
    let mut dp = Dataplane::open()?;
    dp.set_bpf_log(bpf_log)?;
    let mut out = Vec::new();
    for &(n, pairs) in sizes {
        let rules = synthetic_acl_pairs(n.max(1), pairs);
        dp.set_acl(&rules)?;
        let last = rules
            .last()
            .map(|r| (r.src.0, r.dst.0))
            .unwrap_or((Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED));
        let hit = udp_frame(last.0, last.1, 1000, 2000, 64);
        let miss = udp_frame(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 2),
            1000,
            2000,
            64,
        );
        let matching = timed(&dp, &hit, repeat, Verdict::InHoldNoSocketDrop)?;
        let non_matching = timed(&dp, &miss, repeat, Verdict::InNoMatchPass)?;
        // First match decides which selector the hit packet belongs to.
        let selector =
            acl::first_match(&rules, last.0, last.1, acl::IPPROTO_UDP, Some((1000, 2000)))
                .map(|(_, r)| r.selector)
                .unwrap_or(0);
        dp.install_outbound_sa(
            selector,
            OutboundSaSpec {
                sa_id: 1,
                peer: Ipv4Addr::new(192, 0, 2, 2),
                local: Ipv4Addr::new(192, 0, 2, 1),
                natt: None,
            },
        )?;
        let matching_sa = timed(&dp, &hit, repeat, Verdict::InEncryptNoSocketDrop)?;
        dp.remove_outbound_sa(selector)?;
        out.push(ClassifyBench {
            lines: n,
            pairs,
            matching,
            matching_sa,
            non_matching,
        });
    }
    Ok(out)
}

/// Runs the inside program `repeat` times on `frame` and checks that every
/// run took the path `expect` counts (a benchmark of the wrong path would
/// be a wrong number).
fn timed(
    dp: &Dataplane,
    frame: &[u8],
    repeat: u32,
    expect: Verdict,
) -> Result<Duration, DataplaneError> {
    let before = dp.counters()?;
    let d = dp.test_run(Prog::XdpInside, frame, repeat)?.duration;
    let got = dp.counters()?.since(&before).get(expect);
    if got != u64::from(repeat.max(1)) {
        return Err(DataplaneError::BenchPath {
            expected: super::verdict_name(expect),
            runs: repeat.max(1),
            counted: got,
        });
    }
    Ok(d)
}
