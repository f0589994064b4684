//! Crypto-map ACL classification by tuple-space search.
//!
//! Userspace groups ACL lines by their (source prefix length, destination
//! prefix length) pair. For each pair in use (at most `ACL_MAX_TUPLES`,
//! sorted by the lowest line index they hold) the packet's addresses are
//! masked and looked up in one hash map; the bucket lists the lines with
//! exactly those prefixes, sorted by index, with protocol and port ranges.
//! The lowest matching index over all pairs wins (first match). Cost per
//! packet: at most one hash lookup per pair in use, never a scan of the ACL.

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

/// The winning line. A plain struct filled through a pointer: this
/// function is a BPF-to-BPF call, and its BTF signature must not carry
/// Rust enum layouts (the kernel rejects `Option`'s union encoding).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Match {
    pub permit: u32,
    pub selector: u32,
}

#[inline(always)]
fn mask_of(len: u8) -> u32 {
    if len == 0 {
        0
    } else if len >= 32 {
        u32::MAX
    } else {
        u32::MAX << (32 - len as u32)
    }
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

/// State shared with the per-tuple `bpf_loop` callback. The loop runs in
/// a callback because the verifier walks a plain loop of 32 tuples x 4
/// buckets x 8 candidates as one path with thousands of pending branches
/// ("sequence of 8193 jumps is too complex"); a callback is verified once.
#[repr(C)]
struct SearchCtx {
    pkt: Ipv4Pkt,
    generation: u32,
    n_tuples: u32,
    best: u32,
    found: Match,
}

/// One tuple: mask, look up, scan the bucket and its overflow chain.
/// Returns 1 to stop the loop.
extern "C" fn search_tuple(i: u64, ctx: *mut core::ffi::c_void) -> i64 {
    // SAFETY: bpf_loop hands back the pointer we gave it, to our stack.
    let s = unsafe { &mut *(ctx as *mut SearchCtx) };
    let i = i as u32;
    if i >= s.n_tuples || i >= ACL_MAX_TUPLES {
        return 1;
    }
    let generation = s.generation & 1;
    let slot = generation * ACL_MAX_TUPLES + i;
    let Some(t) = ACL_TUPLES.get(slot) else {
        return 1;
    };
    if t.min_index >= s.best {
        // Tuples are sorted by their lowest line: nothing later can win.
        return 1;
    }
    let key = AclKey {
        tuple: slot,
        src: s.pkt.src & mask_of(t.src_len),
        dst: s.pkt.dst & mask_of(t.dst_len),
    };
    // SAFETY: read-only use of a value userspace replaces only by
    // whole-generation swaps.
    let Some(b) = (unsafe { ACL_RULES.get(&key) }) else {
        return 0;
    };
    if scan_bucket(b, &s.pkt, &mut s.best, &mut s.found) {
        return 0;
    }
    let mut next = b.next;
    for _ in 0..ACL_MAX_CHAIN {
        if next == 0 || next > ACL_CHAIN_ENTRIES {
            break;
        }
        let Some(cb) = ACL_CHAIN.get(generation * ACL_CHAIN_ENTRIES + next - 1) else {
            break;
        };
        if scan_bucket(cb, &s.pkt, &mut s.best, &mut s.found) {
            break;
        }
        next = cb.next;
    }
    0
}

/// First-match classification; returns false when no line matches.
#[inline(always)]
pub fn classify(p: &Ipv4Pkt, found: &mut Match) -> bool {
    let Some(cfg) = ACL_CONFIG.get(0) else {
        return false;
    };
    let mut s = SearchCtx {
        pkt: *p,
        generation: cfg.generation,
        n_tuples: cfg.n_tuples,
        best: u32::MAX,
        found: Match {
            permit: 0,
            selector: 0,
        },
    };
    let n = if cfg.n_tuples > ACL_MAX_TUPLES {
        ACL_MAX_TUPLES
    } else {
        cfg.n_tuples
    };
    // SAFETY: the callback only touches `s`, which outlives the call.
    unsafe {
        bpf_loop(
            n,
            search_tuple as *mut core::ffi::c_void,
            &mut s as *mut SearchCtx as *mut core::ffi::c_void,
            0,
        )
    };
    *found = s.found;
    s.best != u32::MAX
}
