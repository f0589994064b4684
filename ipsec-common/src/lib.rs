//! Types shared by the eBPF programs and userspace: map keys and values,
//! map names, the punt-event layout and the counter layout. Everything here
//! is `#[repr(C)]` and plain old data, with explicit padding fields so the
//! kernel and userspace agree byte for byte (and BTF shows no holes).
#![no_std]

/// Map names, exactly as the kernel sees them (at most 15 bytes, the
/// kernel's `BPF_OBJ_NAME_LEN` minus the NUL), so `bpftool map dump name X`
/// finds them.
pub mod map_names {
    pub const ACL_CONFIG: &str = "ACL_CONFIG";
    pub const ACL_TUPLES: &str = "ACL_TUPLES";
    pub const ACL_RULES: &str = "ACL_RULES";
    pub const ACL_CHAIN: &str = "ACL_CHAIN";
    pub const ACL_FILTER: &str = "ACL_FILTER";
    pub const OUT_SA: &str = "OUT_SA";
    pub const IN_SPI: &str = "IN_SPI";
    pub const SA_STATS: &str = "SA_STATS";
    pub const VERDICTS: &str = "VERDICTS";
    pub const PUNT_RING: &str = "PUNT_RING";
    pub const PUNT_GCRA: &str = "PUNT_GCRA";
    pub const PUNT_CFG: &str = "PUNT_CFG";
    pub const PUNT_SPI_PEERS: &str = "PUNT_SPI_PEERS";
    pub const PUNT_SPI_GCRA: &str = "PUNT_SPI_GCRA";
    pub const XSK_INSIDE: &str = "XSK_INSIDE";
    pub const XSK_OUTSIDE: &str = "XSK_OUTSIDE";
    pub const IKE_SOCKETS: &str = "IKE_SOCKETS";
    /// 1: the programs write their rare-path log lines (aya-log); not
    /// pinned, so every start begins with it off.
    pub const LOG_SWITCH: &str = "LOG_SWITCH";

    /// Every map, for pinning and cleanup.
    pub const ALL: &[&str] = &[
        ACL_CONFIG,
        ACL_TUPLES,
        ACL_RULES,
        ACL_CHAIN,
        ACL_FILTER,
        OUT_SA,
        IN_SPI,
        SA_STATS,
        VERDICTS,
        PUNT_RING,
        PUNT_GCRA,
        PUNT_CFG,
        PUNT_SPI_PEERS,
        PUNT_SPI_GCRA,
        XSK_INSIDE,
        XSK_OUTSIDE,
        IKE_SOCKETS,
    ];
}

/// Program names (the Rust function names of the entry points).
pub mod prog_names {
    pub const XDP_INSIDE: &str = "ipsec_xdp_inside";
    pub const XDP_OUTSIDE: &str = "ipsec_xdp_outside";
    pub const TC_EGRESS: &str = "ipsec_tc_egress";
}

// ---------------------------------------------------------------------------
// Classifier (tuple-space search)
// ---------------------------------------------------------------------------

/// Most distinct (source prefix length, destination prefix length) pairs an
/// ACL set may use. Each packet costs one hash lookup per pair at most.
pub const ACL_MAX_TUPLES: u32 = 32;
// The classifier indexes per-tuple arrays with `i & (ACL_MAX_TUPLES - 1)`.
const _: () = assert!(ACL_MAX_TUPLES.is_power_of_two());
/// Candidates stored inline in one bucket.
pub const ACL_BUCKET_CANDS: usize = 8;
/// Overflow buckets one key may chain (so a key holds at most
/// `ACL_BUCKET_CANDS * (1 + ACL_MAX_CHAIN)` lines).
pub const ACL_MAX_CHAIN: u32 = 15;
/// Hash entries (distinct (pair, masked src, masked dst) keys) per generation.
pub const ACL_MAX_KEYS: u32 = 32_768;
/// Overflow buckets per generation.
pub const ACL_CHAIN_ENTRIES: u32 = 4_096;

/// Which classifier generation is live. Userspace writes a whole new ACL
/// set into the other generation, then flips `generation` with one map
/// update, then deletes the old one: a packet always sees one complete set.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AclConfig {
    /// 0 or 1.
    pub generation: u32,
    /// How many tuples of that generation are in use.
    pub n_tuples: u32,
}

/// One (src_len, dst_len) pair. Tuples of a generation sit at
/// `ACL_TUPLES[generation * ACL_MAX_TUPLES + i]`, sorted by `min_index` so the
/// search can stop as soon as no later tuple can hold a better line.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AclTuple {
    pub src_len: u8,
    pub dst_len: u8,
    pub _pad: u16,
    /// Lowest ACL line index stored under this tuple.
    pub min_index: u32,
    /// `src_len` and `dst_len` as masks (host order), computed once by
    /// userspace so the classifier builds keys without branches.
    pub src_mask: u32,
    pub dst_mask: u32,
}

/// log2 of the bits in one generation's key filter.
pub const ACL_FILTER_BITS_LOG2: u32 = 20;
/// u64 words in one generation's key filter (128 KiB).
pub const ACL_FILTER_WORDS: usize = 1 << (ACL_FILTER_BITS_LOG2 - 6);

/// `ACL_FILTER[generation]`: one bit per hashed `ACL_RULES` key of that
/// generation (a one-hash Bloom filter). A clear bit proves the key is
/// absent, so most tuples a packet does not match cost a load instead of
/// a hash-map lookup (about 3% false positives at `ACL_MAX_KEYS` keys, under
/// 1% at 10,000). Written whole by userspace before the generation flip.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclFilter {
    /// `(src_mask, dst_mask)` of each tuple (as in `AclTuple`), so a pass
    /// over many tuples needs no map lookup per tuple.
    pub masks: [[u32; 2]; ACL_MAX_TUPLES as usize],
    pub words: [u64; ACL_FILTER_WORDS],
}

/// The filter bit of key (`tuple`, `src`, `dst`), with `tuple` the tuple's
/// position within its generation (0..ACL_MAX_TUPLES) and the addresses
/// already masked. Shared by the compiler and the classifier, which must
/// agree bit for bit. Two multiply-xorshift rounds spread every input bit
/// over the top bits that form the index.
#[inline(always)]
pub fn acl_filter_bit(tuple: u32, src: u32, dst: u32) -> u32 {
    let mut x =
        ((src as u64) << 32 | dst as u64) ^ (tuple as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    (x >> (64 - ACL_FILTER_BITS_LOG2)) as u32
}

/// Hash key: tuple slot (generation * ACL_MAX_TUPLES + i) and the packet's
/// addresses masked to that tuple's prefix lengths (host byte order).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AclKey {
    pub tuple: u32,
    pub src: u32,
    pub dst: u32,
}

/// `AclCand::flags` bits.
pub const CAND_PERMIT: u8 = 1;
/// The line matches every IP protocol (`permit ip ...`).
pub const CAND_ANY_PROTO: u8 = 2;
/// The line constrains ports (then it is a TCP or UDP line).
pub const CAND_HAS_PORTS: u8 = 4;

/// One ACL line under a hash key.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AclCand {
    /// Position in the ACL set: lower wins.
    pub index: u32,
    /// Crypto-map entry (selector) the line belongs to.
    pub selector: u32,
    pub sport_lo: u16,
    pub sport_hi: u16,
    pub dport_lo: u16,
    pub dport_hi: u16,
    pub proto: u8,
    pub flags: u8,
    pub _pad: u16,
}

/// Candidates for one key, sorted by `index`; `next` chains an overflow
/// bucket in `ACL_CHAIN` (0: none, else slot + 1, slot within the same
/// generation's half).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AclBucket {
    pub count: u32,
    pub next: u32,
    pub cands: [AclCand; ACL_BUCKET_CANDS],
}

// ---------------------------------------------------------------------------
// Security associations
// ---------------------------------------------------------------------------

/// `OUT_SA[selector]`: the outbound SA protecting a crypto-map entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboundSa {
    pub sa_id: u32,
    /// Peer (tunnel destination), network byte order.
    pub peer: [u8; 4],
    /// Our tunnel source, network byte order.
    pub local: [u8; 4],
    /// NAT-T UDP ports (host order); both 0 for plain ESP.
    pub natt_sport: u16,
    pub natt_dport: u16,
}

/// `IN_SPI[spi]` (SPI in host byte order): an inbound SA.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InboundSa {
    pub sa_id: u32,
    pub _pad: u32,
}

/// `SA_STATS[sa_id]`, per CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaCounters {
    pub packets: u64,
    /// Bytes of the L3 packet (IPv4 total length as seen on the wire).
    pub bytes: u64,
}

// ---------------------------------------------------------------------------
// Punt events (ring buffer) and their rate limit
// ---------------------------------------------------------------------------

/// `PuntEvent::flags`: the packet was an IPv4 fragment or its L4 header was
/// missing, so the ports are unknown (zero).
pub const PUNT_PORTS_UNKNOWN: u8 = 1;
/// `PuntEvent::flags`: ESP (or NAT-T ESP) arrived on the outside for an SPI
/// with no inbound SA. `selector` then holds the SPI, `src`/`dst` the outer
/// addresses and the ports the UDP ports under NAT-T (zero for raw ESP).
/// The daemon may answer with a phase 1 carrying INITIAL-CONTACT toward a
/// configured peer that still holds SAs we lost (a restart).
pub const PUNT_UNKNOWN_SPI: u8 = 2;

/// Sent to `PUNT_RING` when protected traffic has no outbound SA yet, or
/// (flag [`PUNT_UNKNOWN_SPI`]) when ESP arrives for an unknown SPI.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PuntEvent {
    pub selector: u32,
    /// Network byte order.
    pub src: [u8; 4],
    pub dst: [u8; 4],
    /// Host byte order (0 when unknown).
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub flags: u8,
    pub _pad: u16,
    pub ifindex: u32,
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC).
    pub ktime_ns: u64,
}

pub const PUNT_EVENT_SIZE: usize = core::mem::size_of::<PuntEvent>();
/// Ring buffer size in bytes (power of two, multiple of the page size).
pub const PUNT_RING_BYTES: u32 = 64 * 1024;

/// `PUNT_CFG[0]`: the GCRA rate limits of punt events. Zero fields mean
/// the defaults below.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PuntConfig {
    /// Minimum spacing between events of one selector, in ns.
    pub interval_ns: u64,
    /// Events of one selector allowed back to back.
    pub burst: u64,
    /// Minimum spacing between unknown-SPI events, all sources together
    /// (one global bucket), in ns.
    pub spi_interval_ns: u64,
    /// Unknown-SPI events allowed back to back.
    pub spi_burst: u64,
}

pub const PUNT_DEFAULT_INTERVAL_NS: u64 = 100_000_000;
pub const PUNT_DEFAULT_BURST: u64 = 5;
/// Unknown-SPI recovery needs one event per restarted peer, and the
/// daemon ignores a peer's further events while it negotiates with it:
/// 10 per second for all peers together is plenty.
pub const PUNT_SPI_DEFAULT_INTERVAL_NS: u64 = 100_000_000;
pub const PUNT_SPI_DEFAULT_BURST: u64 = 5;
/// Unknown-SPI events are written only while the ring holds at most this
/// many bytes of unread events (half of it): the other half always stays
/// free for selector punts, which bring tunnels up.
pub const PUNT_SPI_RING_MAX_USED: u64 = PUNT_RING_BYTES as u64 / 2;
/// Entries of `PUNT_SPI_PEERS`: configured peer addresses.
pub const PUNT_SPI_MAX_PEERS: u32 = 16_384;

/// `PUNT_GCRA[selector]` (per selector, an LRU map that only selectors
/// use) and `PUNT_SPI_GCRA[0]` (the one bucket of unknown-SPI events):
/// theoretical arrival time of the next event, on the coarse monotonic
/// clock (`bpf_ktime_get_coarse_ns`, one scheduler tick of resolution:
/// ample for intervals of tens of milliseconds, and far cheaper per held
/// packet than the precise clock).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PuntGcra {
    pub tat_ns: u64,
}

/// Entries of `IKE_SOCKETS`: the socket cookies (`SO_COOKIE`) of the
/// daemon's IKE sockets (UDP 500 and 4500), the only local senders whose
/// UDP from those ports the TC egress guard trusts without classifying.
pub const IKE_SOCKETS_MAX: u32 = 8;

// ---------------------------------------------------------------------------
// XDP metadata: what the program decided, for the ESP engine
// ---------------------------------------------------------------------------

/// `XdpMeta::magic`; lets the engine tell metadata from garbage.
pub const XDP_META_MAGIC: u32 = 0x1b5e_c0de;
/// Encrypt with outbound SA `id`.
pub const META_KIND_ENCRYPT: u8 = 1;
/// Hold until the SA for selector `id` exists.
pub const META_KIND_HOLD: u8 = 2;
/// Decrypt with inbound SA `id`.
pub const META_KIND_DECRYPT: u8 = 3;

/// `XdpMeta::flags`: inbound ESP arrived in UDP 4500 (RFC 3948).
pub const META_FLAG_NATT: u8 = 1;
/// The packet was an IPv4 fragment or had no L4 header.
pub const META_FLAG_PORTS_UNKNOWN: u8 = 2;

/// Written with `bpf_xdp_adjust_meta` just before the frame (the kernel
/// allows at most 32 bytes, a multiple of 4); AF_XDP copies it into UMEM
/// right before the packet, so it sits at `frame_addr - size_of::<XdpMeta>()`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpMeta {
    pub magic: u32,
    pub kind: u8,
    /// `bpf_fib_lookup` return code (0 = success, 7 = no neighbour) for
    /// `encrypt`; 0xff when no lookup was made.
    pub fib_rc: u8,
    /// Offset of the IPv4 header in the frame (14, or 18 with a VLAN tag).
    pub l3_offset: u8,
    pub flags: u8,
    /// SA id (encrypt, decrypt) or selector id (hold).
    pub id: u32,
    /// Egress interface toward the peer (encrypt).
    pub ifindex: u32,
    pub smac: [u8; 6],
    pub dmac: [u8; 6],
}

pub const XDP_META_SIZE: usize = core::mem::size_of::<XdpMeta>();
const _: () = assert!(XDP_META_SIZE == 28);
const _: () = assert!(PUNT_EVENT_SIZE == 32);

// ---------------------------------------------------------------------------
// Verdict counters
// ---------------------------------------------------------------------------

/// Index into the per-CPU `VERDICTS` array. Each packet bumps exactly one
/// of the packet verdicts of the program that saw it; `Punt*` and
/// `InFragment` are events counted in addition.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    // inside XDP
    InNonIpv4Pass = 0,
    InMalformedDrop = 1,
    InNoMatchPass = 2,
    InDenyPass = 3,
    InEncryptRedirect = 4,
    InEncryptNoSocketDrop = 5,
    InHoldRedirect = 6,
    InHoldNoSocketDrop = 7,
    // outside XDP
    OutNonIpv4Pass = 8,
    OutMalformedPass = 9,
    OutEspRedirect = 10,
    OutEspNoSocketDrop = 11,
    OutUnknownSpiDrop = 12,
    OutIkePass = 13,
    OutKeepalivePass = 14,
    OutFragmentPass = 15,
    OutOtherPass = 16,
    // TC egress on outside
    TcNonIpv4Pass = 17,
    TcMalformedDrop = 18,
    TcProtectedDrop = 19,
    TcEspIkePass = 20,
    TcOtherPass = 21,
    // events
    PuntSent = 22,
    PuntRateLimited = 23,
    PuntRingFull = 24,
    InFragment = 25,
    /// ESP for an unknown SPI from an address that is no configured peer
    /// (not in `PUNT_SPI_PEERS`): no event.
    PuntSpiNotPeer = 26,
    /// ESP for an unknown SPI from a peer, over the global unknown-SPI
    /// bucket: no event.
    PuntSpiRateLimited = 27,
    /// ESP for an unknown SPI from a peer while the ring is more than half
    /// full (the rest is kept for selector punts): no event.
    PuntSpiRingReserved = 28,
}

pub const VERDICT_COUNT: u32 = 29;

// ---------------------------------------------------------------------------
// aya::Pod for userspace
// ---------------------------------------------------------------------------

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: all of these are #[repr(C)], Copy, contain only integers and
    // byte arrays, and have explicit padding fields: every bit pattern is a
    // valid value and there are no uninitialised bytes.
    unsafe impl aya::Pod for AclConfig {}
    unsafe impl aya::Pod for AclTuple {}
    unsafe impl aya::Pod for AclKey {}
    unsafe impl aya::Pod for AclCand {}
    unsafe impl aya::Pod for AclBucket {}
    unsafe impl aya::Pod for AclFilter {}
    unsafe impl aya::Pod for OutboundSa {}
    unsafe impl aya::Pod for InboundSa {}
    unsafe impl aya::Pod for SaCounters {}
    unsafe impl aya::Pod for PuntEvent {}
    unsafe impl aya::Pod for PuntConfig {}
    unsafe impl aya::Pod for PuntGcra {}
    unsafe impl aya::Pod for XdpMeta {}
}
