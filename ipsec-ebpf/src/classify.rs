//! Crypto-map ACL classification by tuple-space search.
//!
//! Userspace groups ACL lines by their (source prefix length, destination
//! prefix length) pair. For each pair in use (at most `ACL_MAX_TUPLES`,
//! sorted by the lowest line index they hold) the packet's addresses are
//! masked and looked up in one hash map; the bucket lists the lines with
//! exactly those prefixes, sorted by index, with protocol and port ranges.
//! The lowest matching index over all pairs wins (first match). Cost per
//! packet: at most one hash lookup per pair in use, never a scan of the ACL;
//! a one-hash Bloom filter (`ACL_FILTER`) skips the lookups of keys that are
//! certainly absent, which is most pairs for most packets.
//!
//! Up to `FAST_TUPLES` pairs are searched by an unrolled loop in the program
//! itself; larger sets, and packets whose key overflows its head bucket, go
//! through a `bpf_loop` callback (see `search_tuple`).

use aya_ebpf::{
    btf_maps::{Array, HashMap},
    helpers::generated::bpf_loop,
    macros::btf_map,
};
use ipsec_common::*;

use crate::parse::Ipv4Pkt;

#[btf_map]
static ACL_CONFIG: Array<AclConfig, 1> = Array::new();
#[btf_map]
static ACL_TUPLES: Array<AclTuple, { 2 * ACL_MAX_TUPLES as usize }> = Array::new();
#[btf_map]
/// Not preallocated (BPF_F_NO_PREALLOC = 1): two generations of 32k keys
/// would pin ~13 MB per instance; entries are only written by userspace.
static ACL_RULES: HashMap<AclKey, AclBucket, { 2 * ACL_MAX_KEYS as usize }, 1> = HashMap::new();
#[btf_map]
static ACL_CHAIN: Array<AclBucket, { 2 * ACL_CHAIN_ENTRIES as usize }> = Array::new();
#[btf_map]
static ACL_FILTER: Array<AclFilter, 2> = Array::new();

/// Pairs searched without `bpf_loop`. Most ACL sets use a handful of
/// prefix-length pairs, and a call costs ~10 ns here (every return goes
/// through the kernel's return thunk). Verifying the inside program with 8
/// takes ~140k instructions of the 1M limit (with 4: ~110k).
const FAST_TUPLES: u32 = 8;

/// The winning line. A plain struct (no Rust enum layout in anything a
/// BPF-to-BPF call or callback context carries: the kernel rejects
/// `Option`'s union encoding in BTF).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Match {
    pub permit: u32,
    pub selector: u32,
}

/// Does line `c` match the packet? For a packet whose ports are unknown (a
/// fragment, or no L4 header) a line that constrains ports is assumed to
/// match if it is a `permit` and not to match if it is a `deny`: that can
/// only protect more, never let protected cleartext through.
#[inline(always)]
fn cand_matches(c: &AclCand, p: &Ipv4Pkt) -> bool {
    if c.flags & CAND_ANY_PROTO == 0 && c.proto != p.proto {
        return false;
    }
    if c.flags & CAND_HAS_PORTS == 0 {
        return true;
    }
    if !p.ports_known {
        return c.flags & CAND_PERMIT != 0;
    }
    p.sport >= c.sport_lo && p.sport <= c.sport_hi && p.dport >= c.dport_lo && p.dport <= c.dport_hi
}

/// Scans one bucket for the first (lowest index) matching line that beats
/// `best`. Candidates are sorted, so the scan stops at the first index not
/// better than `best`.
#[inline(always)]
fn scan_bucket(b: &AclBucket, p: &Ipv4Pkt, best: &mut u32, found: &mut Match) -> bool {
    let n = if b.count as usize > ACL_BUCKET_CANDS {
        ACL_BUCKET_CANDS
    } else {
        b.count as usize
    };
    for j in 0..ACL_BUCKET_CANDS {
        if j >= n {
            break;
        }
        let c = &b.cands[j];
        if c.index >= *best {
            return true;
        }
        if cand_matches(c, p) {
            *best = c.index;
            *found = Match {
                permit: (c.flags & CAND_PERMIT) as u32,
                selector: c.selector,
            };
            return true;
        }
    }
    false
}

/// What the filter says about one tuple.
enum Probe {
    /// The key is certainly absent.
    Absent,
    /// Tuples are sorted by their lowest line: no later one can win.
    Stop,
    /// The key may be present: look it up.
    Maybe(AclKey),
}

/// Masks the packet's addresses for tuple `i` and checks the filter.
#[inline(always)]
fn probe_tuple(i: u32, generation: u32, filter: &AclFilter, p: &Ipv4Pkt, best: u32) -> Probe {
    let slot = generation * ACL_MAX_TUPLES + i;
    let Some(t) = ACL_TUPLES.get(slot) else {
        return Probe::Stop;
    };
    if t.min_index >= best {
        return Probe::Stop;
    }
    let src = p.src & t.src_mask;
    let dst = p.dst & t.dst_mask;
    let bit = acl_filter_bit(i, src, dst);
    let word = filter.words[(bit >> 6) as usize & (ACL_FILTER_WORDS - 1)];
    if word & (1u64 << (bit & 63)) == 0 {
        return Probe::Absent;
    }
    Probe::Maybe(AclKey {
        tuple: slot,
        src,
        dst,
    })
}

/// Position of the first (lowest index) line of `b` matching the packet,
/// or `ACL_BUCKET_CANDS` when none does.
#[inline(always)]
fn first_in_bucket(b: &AclBucket, p: &Ipv4Pkt) -> usize {
    let n = if b.count as usize > ACL_BUCKET_CANDS {
        ACL_BUCKET_CANDS
    } else {
        b.count as usize
    };
    for j in 0..ACL_BUCKET_CANDS {
        if j >= n {
            break;
        }
        if cand_matches(&b.cands[j], p) {
            return j;
        }
    }
    ACL_BUCKET_CANDS
}

/// 1 when tuple `i` may hold the packet's key, else 0. Arithmetic, not a
/// branch: the verifier walks the unrolled pre-pass as one path instead of
/// one per combination of bits.
#[inline(always)]
fn filter_says_maybe(i: u32, filter: &AclFilter, p: &Ipv4Pkt) -> u32 {
    let [src_mask, dst_mask] = filter.masks[(i & (ACL_MAX_TUPLES - 1)) as usize];
    let bit = acl_filter_bit(i, p.src & src_mask, p.dst & dst_mask);
    let word = filter.words[(bit >> 6) as usize & (ACL_FILTER_WORDS - 1)];
    ((word >> (bit & 63)) & 1) as u32
}

/// Looks `key` up and scans its head bucket. Returns the 1-based overflow
/// slot still to scan, 0 when the key is absent or decided. Compares with
/// `best` once per bucket, not once per line: the verifier then sees few
/// distinct states, which lets the unrolled loop cover `FAST_TUPLES` pairs.
#[inline(always)]
fn search_head(key: &AclKey, p: &Ipv4Pkt, best: &mut u32, found: &mut Match) -> u32 {
    // SAFETY: read-only use of a value userspace replaces only by
    // whole-generation swaps.
    let Some(b) = (unsafe { ACL_RULES.get(key) }) else {
        return 0;
    };
    let j = first_in_bucket(b, p);
    if j < ACL_BUCKET_CANDS {
        let c = &b.cands[j];
        if c.index < *best {
            *best = c.index;
            *found = Match {
                permit: (c.flags & CAND_PERMIT) as u32,
                selector: c.selector,
            };
        }
        return 0;
    }
    b.next
}

/// Scans the overflow chain from 1-based slot `next`.
#[inline(always)]
fn search_chain(mut next: u32, generation: u32, p: &Ipv4Pkt, best: &mut u32, found: &mut Match) {
    for _ in 0..ACL_MAX_CHAIN {
        if next == 0 || next > ACL_CHAIN_ENTRIES {
            break;
        }
        let Some(cb) = ACL_CHAIN.get(generation * ACL_CHAIN_ENTRIES + next - 1) else {
            break;
        };
        if scan_bucket(cb, p, best, found) {
            break;
        }
        next = cb.next;
    }
}

/// State shared with the `bpf_loop` callback.
#[repr(C)]
struct SearchCtx {
    pkt: Ipv4Pkt,
    generation: u32,
    n_tuples: u32,
    best: u32,
    found: Match,
    /// Tuples the general search still has to look at (bit i: tuple i),
    /// lowest first: those whose filter bit is set.
    pending: u32,
}

/// One tuple of the general search (any number of pairs, overflow chains):
/// the lowest tuple left in `pending`. It runs in a callback because the
/// verifier walks a plain loop of 32 tuples x 4 buckets x 8 candidates as
/// one path with thousands of pending branches ("sequence of 8193 jumps is
/// too complex"); a callback is verified once per call site, and there is
/// one. Returns 1 to stop.
extern "C" fn search_tuple(_: u64, ctx: *mut core::ffi::c_void) -> i64 {
    // SAFETY: bpf_loop hands back the pointer we gave it, to our stack.
    let s = unsafe { &mut *(ctx as *mut SearchCtx) };
    if s.pending == 0 {
        return 1;
    }
    let lowest = s.pending & s.pending.wrapping_neg();
    s.pending &= !lowest;
    let i = (lowest - 1).count_ones();
    if i >= s.n_tuples || i >= ACL_MAX_TUPLES {
        return 1;
    }
    let generation = s.generation & 1;
    let Some(filter) = ACL_FILTER.get(generation) else {
        return 1;
    };
    match probe_tuple(i, generation, filter, &s.pkt, s.best) {
        Probe::Absent => 0,
        Probe::Stop => 1,
        Probe::Maybe(key) => {
            let next = search_head(&key, &s.pkt, &mut s.best, &mut s.found);
            search_chain(next, generation, &s.pkt, &mut s.best, &mut s.found);
            0
        }
    }
}

/// First-match classification; returns false when no line matches.
#[inline(always)]
pub fn classify(p: &Ipv4Pkt, found: &mut Match) -> bool {
    let Some(cfg) = ACL_CONFIG.get(0) else {
        return false;
    };
    let generation = cfg.generation & 1;
    let n = if cfg.n_tuples > ACL_MAX_TUPLES {
        ACL_MAX_TUPLES
    } else {
        cfg.n_tuples
    };
    let mut s = SearchCtx {
        pkt: *p,
        generation,
        n_tuples: n,
        best: u32::MAX,
        found: Match {
            permit: 0,
            selector: 0,
        },
        pending: 0,
    };
    // Small sets: an unrolled loop, no callback. A key whose lines overflow
    // its head bucket (more than ACL_BUCKET_CANDS lines with the same
    // prefixes) sends the packet to the general search instead, so the
    // program has a single `bpf_loop` call site: the verifier walks a
    // callback once per call site.
    let Some(filter) = ACL_FILTER.get(generation) else {
        return false;
    };
    let mut general = n > FAST_TUPLES;
    if !general {
        for i in 0..FAST_TUPLES {
            if i >= n {
                break;
            }
            match probe_tuple(i, generation, filter, p, s.best) {
                Probe::Absent => {}
                Probe::Stop => break,
                Probe::Maybe(key) => {
                    if search_head(&key, p, &mut s.best, &mut s.found) != 0 {
                        general = true;
                        break;
                    }
                }
            }
        }
    }
    if general {
        // From scratch: simpler than resuming, and overflowing keys are rare.
        s.best = u32::MAX;
        s.found = Match {
            permit: 0,
            selector: 0,
        };
        // The filter first, unrolled (cheap to verify: no scans): the
        // callback, ~10 ns a call, then runs only for tuples that may hold
        // the key, not for every pair.
        for i in 0..ACL_MAX_TUPLES {
            if i >= n {
                break;
            }
            s.pending |= filter_says_maybe(i, filter, p) << i;
        }
        let calls = s.pending.count_ones();
        if calls != 0 {
            // SAFETY: the callback only touches `s`, which outlives the call.
            unsafe {
                bpf_loop(
                    calls,
                    search_tuple as *mut core::ffi::c_void,
                    &mut s as *mut SearchCtx as *mut core::ffi::c_void,
                    0,
                )
            };
        }
    }
    *found = s.found;
    s.best != u32::MAX
}
