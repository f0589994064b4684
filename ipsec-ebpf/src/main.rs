//! ipsecgw's kernel data plane: XDP on the inside (LAN) interface, XDP on
//! the outside (WAN) interface, and a TC egress guard on the outside
//! interface. Shared layouts live in `ipsec-common`.
#![no_std]
#![no_main]

mod classify;
mod parse;

use aya_ebpf::{
    bindings::{
        BPF_RB_AVAIL_DATA, TC_ACT_OK, TC_ACT_SHOT, bpf_fib_lookup as FibParams, xdp_action,
    },
    btf_maps::{Array, LruHashMap, PerCpuArray, PerCpuHashMap, RingBuf, XskMap},
    helpers::{
        bpf_ktime_get_ns,
        generated::{
            bpf_fib_lookup, bpf_get_socket_cookie, bpf_ktime_get_coarse_ns, bpf_ringbuf_query,
            bpf_xdp_adjust_meta,
        },
    },
    macros::{btf_map, classifier, xdp},
    programs::{TcContext, XdpContext},
};
use ipsec_common::*;

use crate::parse::{IPPROTO_ESP, IPPROTO_UDP, Ipv4Pkt, Parsed};

/// BPF-side logging on (1) or off: `debug crypto ipsec` switches it at
/// run time; off, a rare path pays one array lookup.
#[btf_map]
static LOG_SWITCH: Array<u32, 1> = Array::new();

#[inline(always)]
fn log_on() -> bool {
    LOG_SWITCH.get(0).is_some_and(|v| *v != 0)
}

#[btf_map]
static OUT_SA: aya_ebpf::btf_maps::HashMap<u32, OutboundSa, 16384> =
    aya_ebpf::btf_maps::HashMap::new();
#[btf_map]
static IN_SPI: aya_ebpf::btf_maps::HashMap<u32, InboundSa, 8192> =
    aya_ebpf::btf_maps::HashMap::new();
#[btf_map]
static SA_STATS: PerCpuHashMap<u32, SaCounters, 8192> = PerCpuHashMap::new();
#[btf_map]
static VERDICTS: PerCpuArray<u64, { VERDICT_COUNT as usize }> = PerCpuArray::new();
#[btf_map]
static PUNT_RING: RingBuf<PuntEvent, { PUNT_RING_BYTES as usize }> = RingBuf::new();
#[btf_map]
static PUNT_GCRA: LruHashMap<u32, PuntGcra, 4096> = LruHashMap::new();
#[btf_map]
static PUNT_CFG: Array<PuntConfig, 1> = Array::new();
/// Configured peer addresses (host order): the only sources whose ESP for
/// an unknown SPI is worth an event. Written by userspace only, so not
/// preallocated (BPF_F_NO_PREALLOC = 1).
#[btf_map]
static PUNT_SPI_PEERS: aya_ebpf::btf_maps::HashMap<u32, u32, { PUNT_SPI_MAX_PEERS as usize }, 1> =
    aya_ebpf::btf_maps::HashMap::new();
/// The one GCRA bucket of unknown-SPI events. Apart from `PUNT_GCRA`, so
/// that no number of (spoofed) sources can evict a selector's bucket.
#[btf_map]
static PUNT_SPI_GCRA: Array<PuntGcra, 1> = Array::new();
/// Socket cookies of the daemon's IKE sockets (value unused). Cookies are
/// unique per boot and never reused, so a dead daemon's entries match
/// nothing.
#[btf_map]
static IKE_SOCKETS: aya_ebpf::btf_maps::HashMap<u64, u32, { IKE_SOCKETS_MAX as usize }> =
    aya_ebpf::btf_maps::HashMap::new();
#[btf_map]
static XSK_INSIDE: XskMap<64> = XskMap::new();
#[btf_map]
static XSK_OUTSIDE: XskMap<64> = XskMap::new();

const IKE_PORT: u16 = 500;
const NATT_PORT: u16 = 4500;

#[inline(always)]
fn count(v: Verdict) {
    if let Some(p) = VERDICTS.get_ptr_mut(v as u32) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe { *p += 1 };
    }
}

#[inline(always)]
fn count_sa(sa_id: u32, bytes: u16) {
    if let Some(p) = SA_STATS.get_ptr_mut(sa_id) {
        // SAFETY: per-CPU value.
        unsafe {
            (*p).packets += 1;
            (*p).bytes += bytes as u64;
        }
    } else {
        let _ = SA_STATS.insert(
            sa_id,
            SaCounters {
                packets: 1,
                bytes: bytes as u64,
            },
            0,
        );
    }
}

/// Prepends `meta` before the frame. Returns false when the driver gives no
/// metadata room (the engine then sees no magic and must classify itself).
#[inline(always)]
fn write_meta(ctx: &XdpContext, meta: &XdpMeta) -> bool {
    // SAFETY: helper call on our own context.
    if unsafe { bpf_xdp_adjust_meta(ctx.ctx, -(XDP_META_SIZE as i32)) } != 0 {
        return false;
    }
    let m = ctx.metadata();
    if m + XDP_META_SIZE > ctx.data() {
        return false;
    }
    // Stored as seven 4-byte chunks. A plain struct write lets LLVM merge
    // the zero fields into a `memset` call, a byte loop in a separate
    // subprogram (measured: ~7 ns per packet); volatile keeps the stores
    // apart. Chunks of [u8; 4] (alignment 1) because the verifier does not
    // let a program test a packet pointer's alignment.
    // SAFETY: XdpMeta is 28 bytes of integers without padding, exactly
    // [[u8; 4]; 7].
    let chunks: [[u8; 4]; XDP_META_SIZE / 4] = unsafe { core::mem::transmute(*meta) };
    let dst = m as *mut [u8; 4];
    for (i, c) in chunks.iter().enumerate() {
        // SAFETY: [m, m + XDP_META_SIZE) is the metadata area just checked.
        unsafe { dst.add(i).write_volatile(*c) };
    }
    true
}

// ---------------------------------------------------------------------------
// inside
// ---------------------------------------------------------------------------

#[xdp]
pub fn ipsec_xdp_inside(ctx: XdpContext) -> u32 {
    // Any error path is a drop: this interface carries protected cleartext.
    try_inside(&ctx).unwrap_or(xdp_action::XDP_DROP)
}

#[inline(always)]
fn try_inside(ctx: &XdpContext) -> Result<u32, ()> {
    let pkt = match parse::parse(ctx.data(), ctx.data_end()) {
        Parsed::NotIpv4 => {
            count(Verdict::InNonIpv4Pass);
            return Ok(xdp_action::XDP_PASS);
        }
        Parsed::Malformed => {
            // The stack would drop it too; we cannot tell whether it is
            // protected, so it never leaves in cleartext.
            count(Verdict::InMalformedDrop);
            if log_on() {
                aya_log_ebpf::info!(
                    ctx,
                    "inside: malformed IPv4 dropped ({} bytes)",
                    ctx.data_end() - ctx.data()
                );
            }
            return Ok(xdp_action::XDP_DROP);
        }
        Parsed::Ipv4(p) => p,
    };
    if pkt.fragment {
        count(Verdict::InFragment);
    }
    let mut m = classify::Match {
        permit: 0,
        selector: 0,
    };
    if !classify::classify(&pkt, &mut m) {
        count(Verdict::InNoMatchPass);
        return Ok(xdp_action::XDP_PASS);
    }
    if m.permit == 0 {
        count(Verdict::InDenyPass);
        return Ok(xdp_action::XDP_PASS);
    }
    let flags = if pkt.ports_known {
        0
    } else {
        META_FLAG_PORTS_UNKNOWN
    };
    let queue = ctx.rx_queue_index();
    // SAFETY: read-only copy of the SA descriptor.
    if let Some(sa) = unsafe { OUT_SA.get(m.selector) } {
        let sa = *sa;
        let mut meta = XdpMeta {
            magic: XDP_META_MAGIC,
            kind: META_KIND_ENCRYPT,
            fib_rc: 0xff,
            l3_offset: pkt.l3_off as u8,
            flags,
            id: sa.sa_id,
            ..XdpMeta::default()
        };
        fib_toward_peer(ctx, &sa, &pkt, &mut meta);
        write_meta(ctx, &meta);
        return Ok(
            match XSK_INSIDE.redirect(queue, xdp_action::XDP_DROP as u64) {
                Ok(a) => {
                    count_sa(sa.sa_id, pkt.tot_len);
                    count(Verdict::InEncryptRedirect);
                    a
                }
                Err(_) => {
                    count(Verdict::InEncryptNoSocketDrop);
                    xdp_action::XDP_DROP
                }
            },
        );
    }
    // Protected, no SA yet: tell the daemon (rate-limited) and hold it.
    punt(ctx, &pkt, m.selector);
    let meta = XdpMeta {
        magic: XDP_META_MAGIC,
        kind: META_KIND_HOLD,
        fib_rc: 0xff,
        l3_offset: pkt.l3_off as u8,
        flags,
        id: m.selector,
        ..XdpMeta::default()
    };
    write_meta(ctx, &meta);
    Ok(
        match XSK_INSIDE.redirect(queue, xdp_action::XDP_DROP as u64) {
            Ok(a) => {
                count(Verdict::InHoldRedirect);
                a
            }
            Err(_) => {
                count(Verdict::InHoldNoSocketDrop);
                xdp_action::XDP_DROP
            }
        },
    )
}

/// Route lookup for the tunnel (outer) header: egress ifindex and MACs.
#[inline(always)]
fn fib_toward_peer(ctx: &XdpContext, sa: &OutboundSa, pkt: &Ipv4Pkt, meta: &mut XdpMeta) {
    // Zeroed with word stores: `mem::zeroed()` compiles to a call of the
    // byte-loop `memset` subprogram (64 iterations on every encrypted
    // packet). Volatile stops LLVM from merging the stores back into it.
    #[repr(C, align(8))]
    struct Zeroed(core::mem::MaybeUninit<FibParams>);
    const WORDS: usize = core::mem::size_of::<FibParams>() / 8;
    const _: () = assert!(core::mem::size_of::<FibParams>() % 8 == 0);
    let mut z = Zeroed(core::mem::MaybeUninit::uninit());
    let w = z.0.as_mut_ptr() as *mut u64;
    for i in 0..WORDS {
        // SAFETY: in bounds of the 8-aligned buffer (WORDS * 8 bytes).
        unsafe { w.add(i).write_volatile(0) };
    }
    // Used in place: moving it out would be a 64-byte copy of zeros, which
    // LLVM turns back into a `memset` call.
    // SAFETY: plain C struct, all-zero is valid, every byte was written.
    let p: &mut FibParams = unsafe { z.0.assume_init_mut() };
    p.family = 2; // AF_INET
    p.l4_protocol = if sa.natt_dport != 0 {
        IPPROTO_UDP
    } else {
        IPPROTO_ESP
    };
    p.__bindgen_anon_1.tot_len = pkt.tot_len;
    p.ifindex = ctx.ingress_ifindex() as u32;
    p.__bindgen_anon_3.ipv4_src = u32::from_ne_bytes(sa.local);
    p.__bindgen_anon_4.ipv4_dst = u32::from_ne_bytes(sa.peer);
    // SAFETY: helper call with a correctly sized parameter block.
    let rc = unsafe {
        bpf_fib_lookup(
            ctx.ctx as *mut _,
            p,
            core::mem::size_of::<FibParams>() as i32,
            0,
        )
    };
    meta.fib_rc = if (0..=0xfe).contains(&rc) {
        rc as u8
    } else {
        0xfe
    };
    meta.ifindex = p.ifindex;
    meta.smac = p.smac;
    meta.dmac = p.dmac;
}

/// `interval` and `burst` with zero meaning the default, clamped so that
/// `interval * (burst - 1)` fits in u64 without a 128-bit multiply (which
/// BPF lacks): an interval up to ~18 min, bursts up to 1024.
#[inline(always)]
fn gcra_params(interval: u64, burst: u64, d_interval: u64, d_burst: u64) -> (u64, u64) {
    let interval = if interval == 0 { d_interval } else { interval };
    let burst = if burst == 0 { d_burst } else { burst };
    let interval = if interval > (1 << 40) {
        1 << 40
    } else {
        interval
    };
    let burst = if burst > 1024 { 1024 } else { burst };
    (interval, burst)
}

/// GCRA on bucket `g`: true (and the bucket charged) when one more event
/// fits. Races between CPUs only make the limit approximate.
#[inline(always)]
fn gcra_take(g: *mut PuntGcra, now: u64, interval: u64, burst: u64) -> bool {
    let tolerance = interval * (burst - 1);
    // SAFETY: valid map value pointer.
    let tat = unsafe { (*g).tat_ns };
    if now.saturating_add(tolerance) < tat {
        return false;
    }
    let base = if tat > now { tat } else { now };
    unsafe { (*g).tat_ns = base + interval };
    true
}

/// The coarse clock (CLOCK_MONOTONIC_COARSE, one tick of resolution) is
/// enough for a limit counted in tens of milliseconds and costs a few ns;
/// `bpf_ktime_get_ns` reads the clocksource on every held packet
/// (measured: ~30 ns). Within one tick at most `burst` (plus tick /
/// interval) events pass, so the limit still holds.
#[inline(always)]
fn coarse_now() -> u64 {
    // SAFETY: helper without arguments.
    unsafe { bpf_ktime_get_coarse_ns() }
}

/// Protected traffic of `selector` without an SA: GCRA rate limit per
/// selector (`PUNT_GCRA`, an LRU only selectors use), then one event.
#[inline(always)]
fn punt(ctx: &XdpContext, pkt: &Ipv4Pkt, selector: u32) {
    let (interval, burst) = match PUNT_CFG.get(0) {
        Some(c) => gcra_params(
            c.interval_ns,
            c.burst,
            PUNT_DEFAULT_INTERVAL_NS,
            PUNT_DEFAULT_BURST,
        ),
        None => (PUNT_DEFAULT_INTERVAL_NS, PUNT_DEFAULT_BURST),
    };
    let now = coarse_now();
    match PUNT_GCRA.get_ptr_mut(selector) {
        Some(g) => {
            if !gcra_take(g, now, interval, burst) {
                count(Verdict::PuntRateLimited);
                return;
            }
        }
        None => {
            let _ = PUNT_GCRA.insert(
                selector,
                PuntGcra {
                    tat_ns: now + interval,
                },
                0,
            );
        }
    }
    if log_on() {
        aya_log_ebpf::info!(
            ctx,
            "inside: no SA for selector {}: punted {:i} -> {:i} proto {}",
            selector,
            pkt.src,
            pkt.dst,
            pkt.proto
        );
    }
    emit(ctx, pkt, selector, 0);
}

/// ESP from `pkt.src` for an unknown `spi`: an event only when the source
/// is a configured peer (`PUNT_SPI_PEERS`), within the one global
/// unknown-SPI bucket, and while the ring is at most half full. Sources
/// are spoofable, so none of this touches what selector punts rely on:
/// their buckets live in another map and half the ring stays theirs.
#[inline(always)]
fn punt_unknown_spi(ctx: &XdpContext, pkt: &Ipv4Pkt, spi: u32) {
    // SAFETY: read-only lookup.
    if unsafe { PUNT_SPI_PEERS.get(&pkt.src) }.is_none() {
        count(Verdict::PuntSpiNotPeer);
        return;
    }
    let (interval, burst) = match PUNT_CFG.get(0) {
        Some(c) => gcra_params(
            c.spi_interval_ns,
            c.spi_burst,
            PUNT_SPI_DEFAULT_INTERVAL_NS,
            PUNT_SPI_DEFAULT_BURST,
        ),
        None => (PUNT_SPI_DEFAULT_INTERVAL_NS, PUNT_SPI_DEFAULT_BURST),
    };
    let Some(g) = PUNT_SPI_GCRA.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: the map pointer of our own ring buffer, a plain query.
    let used = unsafe {
        bpf_ringbuf_query(
            &PUNT_RING as *const _ as *mut core::ffi::c_void,
            BPF_RB_AVAIL_DATA as u64,
        )
    };
    if used > PUNT_SPI_RING_MAX_USED {
        count(Verdict::PuntSpiRingReserved);
        return;
    }
    if !gcra_take(g, coarse_now(), interval, burst) {
        count(Verdict::PuntSpiRateLimited);
        return;
    }
    emit(ctx, pkt, spi, PUNT_UNKNOWN_SPI);
}

/// One event into the ring buffer with `id` in its `selector` field and
/// `flags` (plus `PUNT_PORTS_UNKNOWN` when the ports could not be read).
/// `PuntSent` and `PuntRingFull` count both kinds of event.
#[inline(always)]
fn emit(ctx: &XdpContext, pkt: &Ipv4Pkt, id: u32, flags: u8) {
    let ev = PuntEvent {
        selector: id,
        src: pkt.src.to_be_bytes(),
        dst: pkt.dst.to_be_bytes(),
        sport: pkt.sport,
        dport: pkt.dport,
        proto: pkt.proto,
        flags: if pkt.ports_known {
            flags
        } else {
            flags | PUNT_PORTS_UNKNOWN
        },
        _pad: 0,
        ifindex: ctx.ingress_ifindex() as u32,
        // Precise, for the daemon: only paid when an event is sent.
        // SAFETY: helper without arguments.
        ktime_ns: unsafe { bpf_ktime_get_ns() },
    };
    if PUNT_RING.output(ev, 0).is_ok() {
        count(Verdict::PuntSent);
    } else {
        count(Verdict::PuntRingFull);
    }
}

// ---------------------------------------------------------------------------
// outside
// ---------------------------------------------------------------------------

#[xdp]
pub fn ipsec_xdp_outside(ctx: XdpContext) -> u32 {
    // Nothing on this side is protected cleartext: errors go to the stack.
    try_outside(&ctx).unwrap_or(xdp_action::XDP_PASS)
}

#[inline(always)]
fn try_outside(ctx: &XdpContext) -> Result<u32, ()> {
    let (start, end) = (ctx.data(), ctx.data_end());
    let pkt = match parse::parse(start, end) {
        Parsed::NotIpv4 => {
            count(Verdict::OutNonIpv4Pass);
            return Ok(xdp_action::XDP_PASS);
        }
        Parsed::Malformed => {
            count(Verdict::OutMalformedPass);
            return Ok(xdp_action::XDP_PASS);
        }
        Parsed::Ipv4(p) => p,
    };
    if pkt.fragment {
        // ESP or NAT-T fragments carry no usable SPI after the first one:
        // the stack reassembles them. Reassembled UDP 4500 reaches the
        // daemon's IKE socket and reassembled raw ESP its raw ESP socket;
        // the daemon hands both to the SA's worker. Either way it is
        // ciphertext.
        count(Verdict::OutFragmentPass);
        return Ok(xdp_action::XDP_PASS);
    }
    let l3_end = pkt.l3_off + pkt.tot_len as usize;
    if pkt.proto == IPPROTO_ESP {
        let Some(spi) = parse::be32(start, end, pkt.l4_off & 0xff) else {
            count(Verdict::OutMalformedPass);
            return Ok(xdp_action::XDP_PASS);
        };
        if pkt.l4_off + 4 > l3_end {
            count(Verdict::OutMalformedPass);
            return Ok(xdp_action::XDP_PASS);
        }
        return Ok(to_engine(ctx, &pkt, spi, 0));
    }
    if pkt.proto != IPPROTO_UDP || !pkt.ports_known {
        count(Verdict::OutOtherPass);
        return Ok(xdp_action::XDP_PASS);
    }
    if pkt.dport == IKE_PORT {
        count(Verdict::OutIkePass);
        return Ok(xdp_action::XDP_PASS);
    }
    if pkt.dport != NATT_PORT {
        count(Verdict::OutOtherPass);
        return Ok(xdp_action::XDP_PASS);
    }
    let payload = (pkt.l4_off & 0xff) + 8;
    let plen = l3_end.saturating_sub(payload);
    if plen == 1 {
        // Read the UDP header with the byte: a lone 1-byte bounds check
        // compiles to `end > p`, which the verifier cannot use.
        if let Some(h) = parse::bytes::<9>(start, end, pkt.l4_off & 0xff)
            && h[8] == 0xff
        {
            count(Verdict::OutKeepalivePass);
            return Ok(xdp_action::XDP_PASS);
        }
    }
    if plen < 4 {
        count(Verdict::OutOtherPass);
        return Ok(xdp_action::XDP_PASS);
    }
    let Some(marker) = parse::be32(start, end, payload) else {
        count(Verdict::OutOtherPass);
        return Ok(xdp_action::XDP_PASS);
    };
    if marker == 0 {
        // RFC 3948 non-ESP marker: IKE on 4500.
        count(Verdict::OutIkePass);
        return Ok(xdp_action::XDP_PASS);
    }
    Ok(to_engine(ctx, &pkt, marker, META_FLAG_NATT))
}

#[inline(always)]
fn to_engine(ctx: &XdpContext, pkt: &Ipv4Pkt, spi: u32, flags: u8) -> u32 {
    // SAFETY: read-only copy.
    let Some(sa) = (unsafe { IN_SPI.get(spi) }).copied() else {
        count(Verdict::OutUnknownSpiDrop);
        if log_on() {
            aya_log_ebpf::info!(
                ctx,
                "outside: ESP for unknown SPI {:x} from {:i} dropped",
                spi,
                pkt.src
            );
        }
        // A configured peer may hold SAs we lost (we restarted): tell
        // the daemon, within limits no spoofed flood can push onto
        // selector punts (see `punt_unknown_spi`).
        punt_unknown_spi(ctx, pkt, spi);
        return xdp_action::XDP_DROP;
    };
    let meta = XdpMeta {
        magic: XDP_META_MAGIC,
        kind: META_KIND_DECRYPT,
        fib_rc: 0xff,
        l3_offset: pkt.l3_off as u8,
        flags,
        id: sa.sa_id,
        ..XdpMeta::default()
    };
    write_meta(ctx, &meta);
    match XSK_OUTSIDE.redirect(ctx.rx_queue_index(), xdp_action::XDP_DROP as u64) {
        Ok(a) => {
            count_sa(sa.sa_id, pkt.tot_len);
            count(Verdict::OutEspRedirect);
            a
        }
        Err(_) => {
            count(Verdict::OutEspNoSocketDrop);
            xdp_action::XDP_DROP
        }
    }
}

// ---------------------------------------------------------------------------
// TC egress guard on outside
// ---------------------------------------------------------------------------

#[classifier]
pub fn ipsec_tc_egress(ctx: TcContext) -> i32 {
    try_tc_egress(&ctx)
}

/// Bytes to make linear before parsing: Ethernet + VLAN + IPv4 with
/// options + 4 bytes of ports.
const TC_PULL: u32 = 18 + 60 + 8;

#[inline(always)]
fn try_tc_egress(ctx: &TcContext) -> i32 {
    let len = ctx.len();
    let _ = ctx.pull_data(if len < TC_PULL { len } else { TC_PULL });
    let pkt = match parse::parse(ctx.data(), ctx.data_end()) {
        Parsed::NotIpv4 => {
            count(Verdict::TcNonIpv4Pass);
            return TC_ACT_OK as i32;
        }
        Parsed::Malformed => {
            // Fail closed: we cannot tell whether it is protected.
            count(Verdict::TcMalformedDrop);
            if log_on() {
                aya_log_ebpf::info!(ctx, "egress guard: malformed IPv4 dropped");
            }
            return TC_ACT_SHOT as i32;
        }
        Parsed::Ipv4(p) => p,
    };
    // Ciphertext always passes (the engine's ESP-in-UDP leaves through
    // AF_XDP and never reaches TC). UDP from port 500/4500 passes
    // unclassified only when it comes from one of the daemon's IKE
    // sockets, told by the socket cookie: the port alone proves nothing,
    // since any local user can bind 4500 on another address (say the
    // inside one) and send protected cleartext from it. Forwarded traffic
    // has an ingress ifindex and no local socket.
    if pkt.proto == IPPROTO_ESP
        || (pkt.proto == IPPROTO_UDP
            && pkt.ports_known
            && (pkt.sport == IKE_PORT || pkt.sport == NATT_PORT)
            && from_ike_socket(ctx))
    {
        count(Verdict::TcEspIkePass);
        return TC_ACT_OK as i32;
    }
    let mut m = classify::Match {
        permit: 0,
        selector: 0,
    };
    if classify::classify(&pkt, &mut m) && m.permit != 0 {
        count(Verdict::TcProtectedDrop);
        if log_on() {
            aya_log_ebpf::info!(
                ctx,
                "egress guard: protected cleartext {:i} -> {:i} (selector {}) dropped",
                pkt.src,
                pkt.dst,
                m.selector
            );
        }
        return TC_ACT_SHOT as i32;
    }
    count(Verdict::TcOtherPass);
    TC_ACT_OK as i32
}

/// Was this locally sent by one of the daemon's IKE sockets?
#[inline(always)]
fn from_ike_socket(ctx: &TcContext) -> bool {
    // SAFETY: reading a field of our own context.
    if unsafe { (*ctx.skb.skb).ingress_ifindex } != 0 {
        return false;
    }
    // SAFETY: helper call on our own context; 0 when the skb has no socket.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.skb.skb as *mut core::ffi::c_void) };
    // SAFETY: read-only lookup.
    cookie != 0 && unsafe { IKE_SOCKETS.get(&cookie) }.is_some()
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
