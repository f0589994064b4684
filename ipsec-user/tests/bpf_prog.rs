//! The three programs under BPF_PROG_TEST_RUN with real frames built by
//! etherparse: every verdict, malformed input, counters, metadata, and a
//! 10,000-line ACL checked line by line against the reference semantics.
//! Needs root (CAP_BPF + CAP_NET_ADMIN).

use std::{net::Ipv4Addr, os::fd::RawFd, time::Duration};

use etherparse::{EtherType, Ethernet2Header, IpNumber, Ipv4Header, PacketBuilder, VlanId};
use ipsec_common::{
    META_FLAG_NATT, META_FLAG_PORTS_UNKNOWN, META_KIND_DECRYPT, META_KIND_ENCRYPT, XDP_META_MAGIC,
    XDP_META_SIZE,
};
use ipsecgw::dataplane::{
    AclAction, AclRule, Dataplane, FrameVerdict, OutboundSaSpec, Prog, PuntEvent, PuntKind,
    PuntStream, Side, Verdict, VerdictCounters, acl::first_match, meta,
};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_REDIRECT: u32 = 4;
const TC_ACT_OK: u32 = 0;
const TC_ACT_SHOT: u32 = 2;

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

const WEST_LAN: [u8; 4] = [198, 51, 100, 10];
const EAST_LAN: [u8; 4] = [203, 0, 113, 10];
const WEST_GW: [u8; 4] = [192, 0, 2, 1];
const EAST_GW: [u8; 4] = [192, 0, 2, 2];

fn ip(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).unwrap();
    v
}

fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1, 1024);
    let mut v = Vec::new();
    b.write(&mut v, b"hello").unwrap();
    v
}

fn icmp(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(src, dst, 64)
        .icmpv4_echo_request(1, 1);
    let mut v = Vec::new();
    b.write(&mut v, &[0u8; 32]).unwrap();
    v
}

fn vlan_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .single_vlan(VlanId::try_new(42).unwrap())
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, b"vlan").unwrap();
    v
}

/// Ethernet + IPv4 with protocol `proto` and a raw payload.
fn raw_ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    Ethernet2Header {
        source: MAC_A,
        destination: MAC_B,
        ether_type: EtherType::IPV4,
    }
    .write(&mut v)
    .unwrap();
    let mut h = Ipv4Header::new(payload.len() as u16, 64, IpNumber(proto), src, dst).unwrap();
    h.header_checksum = h.calc_header_checksum();
    h.write(&mut v).unwrap();
    v.extend_from_slice(payload);
    v
}

fn esp(src: [u8; 4], dst: [u8; 4], spi: u32) -> Vec<u8> {
    let mut p = spi.to_be_bytes().to_vec();
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&[0x5a; 48]);
    raw_ipv4(src, dst, 50, &p)
}

fn ipv6_udp() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6(
            [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
        .udp(1, 2);
    let mut v = Vec::new();
    b.write(&mut v, b"v6").unwrap();
    v
}

fn arp() -> Vec<u8> {
    let mut v = vec![0xff; 6];
    v.extend_from_slice(&MAC_A);
    v.extend_from_slice(&[0x08, 0x06]);
    v.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    v.extend_from_slice(&MAC_A);
    v.extend_from_slice(&WEST_LAN);
    v.extend_from_slice(&[0; 6]);
    v.extend_from_slice(&[198, 51, 100, 1]);
    v
}

/// Sets the IPv4 fragment field (flags + offset in 8-byte units).
fn set_frag(frame: &mut [u8], l3: usize, more: bool, offset8: u16) {
    let v = (if more { 0x2000 } else { 0 }) | (offset8 & 0x1fff);
    frame[l3 + 6..l3 + 8].copy_from_slice(&v.to_be_bytes());
}

/// Inserts `n` bytes of NOP options into the IPv4 header of an untagged frame.
fn with_ip_options(frame: &[u8], n: usize) -> Vec<u8> {
    assert_eq!(n % 4, 0);
    let mut v = frame[..34].to_vec();
    v.extend(std::iter::repeat_n(1u8, n));
    v.extend_from_slice(&frame[34..]);
    v[14] = 0x40 | ((20 + n) / 4) as u8;
    let tot = u16::from_be_bytes([v[16], v[17]]) + n as u16;
    v[16..18].copy_from_slice(&tot.to_be_bytes());
    v
}

fn net(a: [u8; 4], l: u8) -> (Ipv4Addr, u8) {
    (ip(a), l)
}

/// An AF_XDP socket, unbound: enough for the XSKMAP to accept it and for
/// `bpf_redirect_map` to return XDP_REDIRECT under test-run.
struct Xsk(RawFd);
impl Xsk {
    fn new() -> Self {
        // SAFETY: plain socket(2).
        let fd = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        assert!(
            fd >= 0,
            "socket(AF_XDP): {}",
            std::io::Error::last_os_error()
        );
        Xsk(fd)
    }
}
impl Drop for Xsk {
    fn drop(&mut self) {
        // SAFETY: our own fd.
        unsafe { libc::close(self.0) };
    }
}

fn open() -> Dataplane {
    Dataplane::open().expect("load eBPF (run as root)")
}

/// Runs `prog` on `frame`, asserts the action and that exactly the
/// expected counters moved.
#[track_caller]
fn expect(dp: &Dataplane, prog: Prog, frame: &[u8], action: u32, moved: &[Verdict]) -> Vec<u8> {
    let before = dp.counters().unwrap();
    let out = dp.test_run(prog, frame, 1).unwrap();
    let delta = dp.counters().unwrap().since(&before);
    let mut want = VerdictCounters::default();
    for v in moved {
        want.values[*v as usize] += 1;
    }
    assert_eq!(
        out.action,
        action,
        "action; counters moved: {:?}",
        delta.nonzero()
    );
    assert_eq!(delta.nonzero(), want.nonzero(), "counters");
    out.data_out
}

/// The protected flow west-lan/24 -> east-lan/24 (selector 10), with a
/// DNS deny before it and a TCP/443 line for selector 20.
fn standard_acl() -> Vec<AclRule> {
    vec![
        AclRule {
            action: AclAction::Deny,
            proto: Some(17),
            dst_ports: 53..=53,
            ..AclRule::permit_ip(0, net(WEST_LAN, 32), net(EAST_LAN, 24))
        },
        AclRule::permit_ip(10, net(WEST_LAN, 24), net(EAST_LAN, 24)),
        AclRule {
            proto: Some(6),
            dst_ports: 443..=443,
            ..AclRule::permit_ip(20, net(WEST_LAN, 24), net([192, 0, 2, 128], 25))
        },
    ]
}

#[test]
fn inside_verdicts_and_punt_event() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut dp = open();
    dp.set_acl(&standard_acl()).unwrap();
    let mut punts = rt.block_on(async { dp.punt_events() }).unwrap();
    use Verdict::*;

    expect(
        &dp,
        Prog::XdpInside,
        &udp(WEST_LAN, [8, 8, 8, 8], 1000, 53, b"q"),
        XDP_PASS,
        &[InNoMatchPass],
    );
    expect(
        &dp,
        Prog::XdpInside,
        &udp(WEST_LAN, EAST_LAN, 1000, 53, b"q"),
        XDP_PASS,
        &[InDenyPass],
    );
    expect(&dp, Prog::XdpInside, &arp(), XDP_PASS, &[InNonIpv4Pass]);
    expect(
        &dp,
        Prog::XdpInside,
        &ipv6_udp(),
        XDP_PASS,
        &[InNonIpv4Pass],
    );
    // TCP/443 to the /25 is selector 20, TCP/80 there is nothing.
    expect(
        &dp,
        Prog::XdpInside,
        &tcp(WEST_LAN, [192, 0, 2, 200], 999, 80),
        XDP_PASS,
        &[InNoMatchPass],
    );

    // Protected, no SA, no socket: punted and dropped, never passed.
    let frame = udp(WEST_LAN, EAST_LAN, 1000, 2000, b"secret");
    expect(
        &dp,
        Prog::XdpInside,
        &frame,
        XDP_DROP,
        &[InHoldNoSocketDrop, PuntSent],
    );
    let ev = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(2), punts.recv()).await })
        .expect("punt event within 2 s")
        .unwrap()
        .unwrap();
    assert_eq!(ev.kind, PuntKind::NoSa { selector: 10 });
    assert_eq!(
        (ev.src, ev.dst, ev.proto, ev.ports),
        (ip(WEST_LAN), ip(EAST_LAN), 17, Some((1000, 2000)))
    );
    assert!(ev.ktime_ns > 0);
    expect(
        &dp,
        Prog::XdpInside,
        &tcp(WEST_LAN, [192, 0, 2, 200], 999, 443),
        XDP_DROP,
        &[InHoldNoSocketDrop, PuntSent],
    );
    assert_eq!(
        punts.try_recv().unwrap().unwrap().kind,
        PuntKind::NoSa { selector: 20 }
    );

    // With a hold socket the packet is redirected, with `hold` metadata.
    let xsk = Xsk::new();
    dp.register_xsk(Side::Inside, 0, xsk.0).unwrap();
    let out = expect(
        &dp,
        Prog::XdpInside,
        &icmp(WEST_LAN, EAST_LAN),
        XDP_REDIRECT,
        &[InHoldRedirect, PuntSent],
    );
    let m = meta::decode(&out[..XDP_META_SIZE]).expect("hold metadata");
    assert_eq!(m.verdict, FrameVerdict::Hold { selector: 10 });
    assert_eq!(&out[XDP_META_SIZE..], &icmp(WEST_LAN, EAST_LAN)[..]);

    // SA installed: encrypt, with per-SA counters.
    dp.install_outbound_sa(
        10,
        OutboundSaSpec {
            sa_id: 77,
            peer: ip(EAST_GW),
            local: ip(WEST_GW),
            natt: None,
        },
    )
    .unwrap();
    let out = expect(
        &dp,
        Prog::XdpInside,
        &frame,
        XDP_REDIRECT,
        &[InEncryptRedirect],
    );
    assert_eq!(
        u32::from_ne_bytes(out[..4].try_into().unwrap()),
        XDP_META_MAGIC
    );
    assert_eq!(out[4], META_KIND_ENCRYPT);
    assert_eq!(out[6], 14, "l3 offset");
    match meta::decode(&out[..XDP_META_SIZE]).unwrap().verdict {
        // Under test-run there is no route to the peer: the lookup fails
        // with a non-zero code and no route is reported.
        FrameVerdict::Encrypt {
            sa_id,
            route,
            fib_rc,
        } => {
            assert_eq!(sa_id, 77);
            assert!(fib_rc != 0 && route.is_none(), "fib_rc {fib_rc}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(&out[XDP_META_SIZE..], &frame[..]);
    expect(
        &dp,
        Prog::XdpInside,
        &frame,
        XDP_REDIRECT,
        &[InEncryptRedirect],
    );
    let s = dp.sa_counters(77).unwrap();
    assert_eq!((s.packets, s.bytes), (2, 2 * (frame.len() as u64 - 14)));

    // Socket gone: encrypt traffic is dropped, not passed.
    dp.unregister_xsk(Side::Inside, 0).unwrap();
    expect(
        &dp,
        Prog::XdpInside,
        &frame,
        XDP_DROP,
        &[InEncryptNoSocketDrop],
    );
    assert_eq!(dp.sa_counters(77).unwrap().packets, 2);

    // SA removed: back to hold (punt events of selector 10 are now rate
    // limited: the default burst is 5 and 2 were sent).
    dp.remove_outbound_sa(10).unwrap();
    expect(
        &dp,
        Prog::XdpInside,
        &frame,
        XDP_DROP,
        &[InHoldNoSocketDrop, PuntSent],
    );
}

#[test]
fn punt_rate_limit() {
    let mut dp = open();
    dp.set_acl(&standard_acl()).unwrap();
    dp.set_punt_rate(Duration::from_secs(3600), 3).unwrap();
    use Verdict::*;
    let frame = udp(WEST_LAN, EAST_LAN, 1, 2, b"x");
    for _ in 0..3 {
        expect(
            &dp,
            Prog::XdpInside,
            &frame,
            XDP_DROP,
            &[InHoldNoSocketDrop, PuntSent],
        );
    }
    for _ in 0..5 {
        expect(
            &dp,
            Prog::XdpInside,
            &frame,
            XDP_DROP,
            &[InHoldNoSocketDrop, PuntRateLimited],
        );
    }
    // Another selector has its own bucket.
    expect(
        &dp,
        Prog::XdpInside,
        &tcp(WEST_LAN, [192, 0, 2, 129], 1, 443),
        XDP_DROP,
        &[InHoldNoSocketDrop, PuntSent],
    );
}

#[test]
fn inside_malformed_never_leaks() {
    let mut dp = open();
    dp.set_acl(&standard_acl()).unwrap();
    use Verdict::*;
    let good = udp(WEST_LAN, EAST_LAN, 1000, 2000, b"secret");
    let hold = &[InHoldNoSocketDrop, PuntSent][..];
    dp.set_punt_rate(Duration::from_nanos(1), 1_000).unwrap();

    // (Frames shorter than an Ethernet header never reach XDP: the kernel
    // refuses them even under test-run.)
    // Only an Ethernet header claiming IPv4.
    expect(
        &dp,
        Prog::XdpInside,
        &good[..14],
        XDP_DROP,
        &[InMalformedDrop],
    );
    // Truncated IPv4 header.
    expect(
        &dp,
        Prog::XdpInside,
        &good[..14 + 12],
        XDP_DROP,
        &[InMalformedDrop],
    );
    // IHL < 5.
    let mut bad = good.clone();
    bad[14] = 0x44;
    expect(&dp, Prog::XdpInside, &bad, XDP_DROP, &[InMalformedDrop]);
    // Version 6 in an IPv4 ethertype.
    let mut bad = good.clone();
    bad[14] = 0x65;
    expect(&dp, Prog::XdpInside, &bad, XDP_DROP, &[InMalformedDrop]);
    // Total length larger than the frame.
    let mut bad = good.clone();
    bad[16..18].copy_from_slice(&500u16.to_be_bytes());
    expect(&dp, Prog::XdpInside, &bad, XDP_DROP, &[InMalformedDrop]);
    // Total length below the header length.
    let mut bad = good.clone();
    bad[16..18].copy_from_slice(&12u16.to_be_bytes());
    expect(&dp, Prog::XdpInside, &bad, XDP_DROP, &[InMalformedDrop]);
    // Total length smaller than the frame (Ethernet padding): still classified.
    let mut padded = good.clone();
    padded.extend_from_slice(&[0; 20]);
    expect(&dp, Prog::XdpInside, &padded, XDP_DROP, hold);
    // Truncated UDP header on the protected flow: ports unknown, still held.
    let mut short = good[..14 + 20 + 2].to_vec();
    short[16..18].copy_from_slice(&22u16.to_be_bytes());
    expect(&dp, Prog::XdpInside, &short, XDP_DROP, hold);
    // ... and the DNS deny cannot exempt it without ports.
    let mut short_dns = udp(WEST_LAN, EAST_LAN, 1000, 53, b"q")[..14 + 22].to_vec();
    short_dns[16..18].copy_from_slice(&22u16.to_be_bytes());
    expect(&dp, Prog::XdpInside, &short_dns, XDP_DROP, hold);

    // IP options: ports are read after them, so the DNS deny still applies
    // and the protected flow is still held.
    expect(
        &dp,
        Prog::XdpInside,
        &with_ip_options(&udp(WEST_LAN, EAST_LAN, 1000, 53, b"q"), 8),
        XDP_PASS,
        &[InDenyPass],
    );
    expect(
        &dp,
        Prog::XdpInside,
        &with_ip_options(&good, 40),
        XDP_DROP,
        hold,
    );
    expect(
        &dp,
        Prog::XdpInside,
        &with_ip_options(&udp(WEST_LAN, [8, 8, 4, 4], 1, 2, b"x"), 4),
        XDP_PASS,
        &[InNoMatchPass],
    );

    // Fragments: classified on addresses, never passed when protected.
    let mut first = good.clone();
    set_frag(&mut first, 14, true, 0);
    expect(
        &dp,
        Prog::XdpInside,
        &first,
        XDP_DROP,
        &[InFragment, InHoldNoSocketDrop, PuntSent],
    );
    let mut later = good.clone();
    set_frag(&mut later, 14, false, 100);
    expect(
        &dp,
        Prog::XdpInside,
        &later,
        XDP_DROP,
        &[InFragment, InHoldNoSocketDrop, PuntSent],
    );
    // A DNS datagram's fragment: the port-based deny may not apply, so it
    // is held too (fail closed).
    let mut dns_frag = udp(WEST_LAN, EAST_LAN, 1000, 53, b"q");
    set_frag(&mut dns_frag, 14, true, 0);
    expect(
        &dp,
        Prog::XdpInside,
        &dns_frag,
        XDP_DROP,
        &[InFragment, InHoldNoSocketDrop, PuntSent],
    );
    // Fragments of unprotected traffic pass.
    let mut other = udp(WEST_LAN, [8, 8, 8, 8], 1, 2, b"x");
    set_frag(&mut other, 14, false, 3);
    expect(
        &dp,
        Prog::XdpInside,
        &other,
        XDP_PASS,
        &[InFragment, InNoMatchPass],
    );

    // One VLAN tag: parsed, protected, and the metadata says where L3 is.
    let xsk = Xsk::new();
    dp.register_xsk(Side::Inside, 0, xsk.0).unwrap();
    dp.install_outbound_sa(
        10,
        OutboundSaSpec {
            sa_id: 5,
            peer: ip(EAST_GW),
            local: ip(WEST_GW),
            natt: None,
        },
    )
    .unwrap();
    let out = expect(
        &dp,
        Prog::XdpInside,
        &vlan_udp(WEST_LAN, EAST_LAN, 1, 2),
        XDP_REDIRECT,
        &[InEncryptRedirect],
    );
    assert_eq!(meta::decode(&out[..XDP_META_SIZE]).unwrap().l3_offset, 18);
    expect(
        &dp,
        Prog::XdpInside,
        &vlan_udp(WEST_LAN, [8, 8, 8, 8], 1, 2),
        XDP_PASS,
        &[InNoMatchPass],
    );
    // Fragment with an SA: encrypted, flagged "ports unknown".
    let out = expect(
        &dp,
        Prog::XdpInside,
        &later,
        XDP_REDIRECT,
        &[InFragment, InEncryptRedirect],
    );
    assert_eq!(out[7] & META_FLAG_PORTS_UNKNOWN, META_FLAG_PORTS_UNKNOWN);
    // Two VLAN tags: not IPv4 for us (the stack has no use for it either).
    let mut qinq = vlan_udp(WEST_LAN, EAST_LAN, 1, 2);
    qinq.splice(12..12, [0x88, 0xa8, 0, 7]);
    expect(&dp, Prog::XdpInside, &qinq, XDP_PASS, &[InNonIpv4Pass]);
}

/// Every punt event queued now (the ring is read without waiting: the
/// program wrote them synchronously under test-run).
fn drain(punts: &mut PuntStream) -> Vec<PuntEvent> {
    let mut v = Vec::new();
    for _ in 0..10_000 {
        match punts.try_recv() {
            Some(ev) => v.push(ev.expect("well-formed punt event")),
            None => break,
        }
    }
    v
}

#[test]
fn outside_verdicts() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut dp = open();
    let mut punts = rt.block_on(async { dp.punt_events() }).unwrap();
    use Verdict::*;
    dp.install_inbound_spi(0x1000_0001, 9).unwrap();
    dp.set_unknown_spi_peers(&[ip(EAST_GW)]).unwrap();
    let ike = udp(EAST_GW, WEST_GW, 500, 500, &[0u8; 40]);
    expect(&dp, Prog::XdpOutside, &ike, XDP_PASS, &[OutIkePass]);
    expect(
        &dp,
        Prog::XdpOutside,
        &udp(EAST_GW, WEST_GW, 4500, 4500, &[0, 0, 0, 0, 1, 2, 3]),
        XDP_PASS,
        &[OutIkePass],
    );
    expect(
        &dp,
        Prog::XdpOutside,
        &udp(EAST_GW, WEST_GW, 4500, 4500, &[0xff]),
        XDP_PASS,
        &[OutKeepalivePass],
    );
    expect(
        &dp,
        Prog::XdpOutside,
        &udp(EAST_GW, WEST_GW, 4500, 4500, &[0x01, 2]),
        XDP_PASS,
        &[OutOtherPass],
    );
    expect(
        &dp,
        Prog::XdpOutside,
        &tcp(EAST_GW, WEST_GW, 1, 22),
        XDP_PASS,
        &[OutOtherPass],
    );
    expect(
        &dp,
        Prog::XdpOutside,
        &ipv6_udp(),
        XDP_PASS,
        &[OutNonIpv4Pass],
    );
    expect(
        &dp,
        Prog::XdpOutside,
        &esp(EAST_GW, WEST_GW, 0x1000_0001),
        XDP_DROP,
        &[OutEspNoSocketDrop],
    );
    assert!(drain(&mut punts).is_empty(), "known SPI: no punt");
    // Unknown SPI: dropped, and the daemon is told who sent it.
    expect(
        &dp,
        Prog::XdpOutside,
        &esp(EAST_GW, WEST_GW, 0x2000_0002),
        XDP_DROP,
        &[OutUnknownSpiDrop, PuntSent],
    );
    let ev = drain(&mut punts);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, PuntKind::UnknownSpi { spi: 0x2000_0002 });
    assert_eq!(
        (ev[0].src, ev[0].dst, ev[0].proto, ev[0].ports),
        (ip(EAST_GW), ip(WEST_GW), 50, Some((0, 0)))
    );
    let mut natt = 0x1000_0001u32.to_be_bytes().to_vec();
    natt.extend_from_slice(&[0x33; 40]);
    let natt_frame = udp(EAST_GW, WEST_GW, 4500, 4500, &natt);
    expect(
        &dp,
        Prog::XdpOutside,
        &natt_frame,
        XDP_DROP,
        &[OutEspNoSocketDrop],
    );
    natt[0] = 0x77;
    expect(
        &dp,
        Prog::XdpOutside,
        &udp(EAST_GW, WEST_GW, 4500, 4500, &natt),
        XDP_DROP,
        &[OutUnknownSpiDrop, PuntSent],
    );
    let ev = drain(&mut punts);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, PuntKind::UnknownSpi { spi: 0x7700_0001 });
    assert_eq!(
        (ev[0].src, ev[0].proto, ev[0].ports),
        (ip(EAST_GW), 17, Some((4500, 4500)))
    );
    // ESP too short for an SPI, malformed IPv4: to the stack.
    expect(
        &dp,
        Prog::XdpOutside,
        &raw_ipv4(EAST_GW, WEST_GW, 50, &[1, 2]),
        XDP_PASS,
        &[OutMalformedPass],
    );
    let mut bad = ike.clone();
    bad[14] = 0x43;
    expect(&dp, Prog::XdpOutside, &bad, XDP_PASS, &[OutMalformedPass]);
    // ESP fragments go to the stack for reassembly (ciphertext only).
    let mut frag = esp(EAST_GW, WEST_GW, 0x1000_0001);
    set_frag(&mut frag, 14, true, 0);
    expect(&dp, Prog::XdpOutside, &frag, XDP_PASS, &[OutFragmentPass]);
    set_frag(&mut frag, 14, false, 185);
    expect(&dp, Prog::XdpOutside, &frag, XDP_PASS, &[OutFragmentPass]);

    let xsk = Xsk::new();
    dp.register_xsk(Side::Outside, 0, xsk.0).unwrap();
    let e = esp(EAST_GW, WEST_GW, 0x1000_0001);
    let out = expect(&dp, Prog::XdpOutside, &e, XDP_REDIRECT, &[OutEspRedirect]);
    let m = meta::decode(&out[..XDP_META_SIZE]).unwrap();
    assert_eq!(
        m.verdict,
        FrameVerdict::Decrypt {
            sa_id: 9,
            natt: false
        }
    );
    assert_eq!(out[4], META_KIND_DECRYPT);
    let out = expect(
        &dp,
        Prog::XdpOutside,
        &natt_frame,
        XDP_REDIRECT,
        &[OutEspRedirect],
    );
    assert_eq!(out[7] & META_FLAG_NATT, META_FLAG_NATT);
    assert_eq!(&out[XDP_META_SIZE..], &natt_frame[..]);
    let s = dp.sa_counters(9).unwrap();
    assert_eq!(s.packets, 2);
    assert_eq!(s.bytes, (e.len() - 14 + natt_frame.len() - 14) as u64);
    dp.remove_inbound_spi(0x1000_0001).unwrap();
    expect(
        &dp,
        Prog::XdpOutside,
        &e,
        XDP_DROP,
        &[OutUnknownSpiDrop, PuntSent],
    );
    let ev = drain(&mut punts);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, PuntKind::UnknownSpi { spi: 0x1000_0001 });
}

/// Unknown-SPI events come only from configured peers, within one global
/// bucket of their own: a non-peer source is counted and never punted; a
/// peer's burst empties the bucket for every source; the selectors keep
/// their own buckets whatever the unknown-SPI traffic did.
#[test]
fn unknown_spi_punts_only_for_peers_in_their_own_bucket() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut dp = open();
    dp.set_acl(&standard_acl()).unwrap();
    dp.set_punt_rate(Duration::from_secs(3600), 3).unwrap();
    dp.set_unknown_spi_punt_rate(Duration::from_secs(3600), 2)
        .unwrap();
    let mut punts = rt.block_on(async { dp.punt_events() }).unwrap();
    use Verdict::*;
    let out = Prog::XdpOutside;

    // No peers configured: nobody's unknown SPI is worth an event.
    for i in 0..20u32 {
        expect(
            &dp,
            out,
            &esp(EAST_GW, WEST_GW, 0x4000_0000 + i),
            XDP_DROP,
            &[OutUnknownSpiDrop, PuntSpiNotPeer],
        );
    }
    assert!(drain(&mut punts).is_empty());

    let other_peer = [203, 0, 113, 99];
    dp.set_unknown_spi_peers(&[ip(EAST_GW), ip(other_peer)])
        .unwrap();
    // A non-peer stays silent next to configured peers.
    expect(
        &dp,
        out,
        &esp([192, 0, 2, 200], WEST_GW, 0x4100_0000),
        XDP_DROP,
        &[OutUnknownSpiDrop, PuntSpiNotPeer],
    );
    for i in 0..2u32 {
        expect(
            &dp,
            out,
            &esp(EAST_GW, WEST_GW, 0x4000_0000 + i),
            XDP_DROP,
            &[OutUnknownSpiDrop, PuntSent],
        );
    }
    // The bucket is global: empty for the other peer too.
    for src in [EAST_GW, other_peer] {
        expect(
            &dp,
            out,
            &esp(src, WEST_GW, 0x4200_0000),
            XDP_DROP,
            &[OutUnknownSpiDrop, PuntSpiRateLimited],
        );
    }
    let ev = drain(&mut punts);
    assert_eq!(ev.len(), 2, "{ev:?}");
    for (i, e) in ev.iter().enumerate() {
        assert_eq!(
            e.kind,
            PuntKind::UnknownSpi {
                spi: 0x4000_0000 + i as u32
            }
        );
        assert_eq!(e.src, ip(EAST_GW));
    }

    // Selector 10 has its whole burst, as if no unknown SPI was seen.
    let frame = udp(WEST_LAN, EAST_LAN, 1, 2, b"x");
    for _ in 0..3 {
        expect(
            &dp,
            Prog::XdpInside,
            &frame,
            XDP_DROP,
            &[InHoldNoSocketDrop, PuntSent],
        );
    }
    expect(
        &dp,
        Prog::XdpInside,
        &frame,
        XDP_DROP,
        &[InHoldNoSocketDrop, PuntRateLimited],
    );
    assert_eq!(drain(&mut punts).len(), 3);

    // A peer taken out of the configuration is a stranger again.
    dp.set_unknown_spi_peers(&[ip(other_peer)]).unwrap();
    expect(
        &dp,
        out,
        &esp(EAST_GW, WEST_GW, 0x4300_0000),
        XDP_DROP,
        &[OutUnknownSpiDrop, PuntSpiNotPeer],
    );
}

/// A flood of unknown-SPI ESP from 5,000 sources, every one a configured
/// peer, with the global bucket opened wide: the events stop when the ring
/// is half full, a selector's bucket is not evicted (it stays limited),
/// and a selector that never punted still gets its event into the ring.
#[test]
fn unknown_spi_flood_does_not_starve_selector_punts() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut dp = open();
    dp.set_acl(&standard_acl()).unwrap();
    dp.set_punt_rate(Duration::from_secs(3600), 3).unwrap();
    // Wide open: only the ring reserve stands between the flood and the
    // selectors.
    dp.set_unknown_spi_punt_rate(Duration::from_nanos(1), 1024)
        .unwrap();
    let mut punts = rt.block_on(async { dp.punt_events() }).unwrap();
    use Verdict::*;

    const SOURCES: u32 = 5_000;
    let source = |i: u32| [198, 18 + (i >> 16) as u8, (i >> 8) as u8, i as u8];
    let peers: Vec<Ipv4Addr> = (0..SOURCES).map(|i| ip(source(i))).collect();
    dp.set_unknown_spi_peers(&peers).unwrap();

    let frame = udp(WEST_LAN, EAST_LAN, 1, 2, b"x");
    for _ in 0..3 {
        expect(
            &dp,
            Prog::XdpInside,
            &frame,
            XDP_DROP,
            &[InHoldNoSocketDrop, PuntSent],
        );
    }
    expect(
        &dp,
        Prog::XdpInside,
        &frame,
        XDP_DROP,
        &[InHoldNoSocketDrop, PuntRateLimited],
    );

    // Nobody reads the ring during the flood (the daemon is busy or slow).
    let before = dp.counters().unwrap();
    for i in 0..SOURCES {
        let out = dp
            .test_run(
                Prog::XdpOutside,
                &esp(source(i), WEST_GW, 0x7000_0000 + i),
                1,
            )
            .unwrap();
        assert_eq!(out.action, XDP_DROP);
    }
    let d = dp.counters().unwrap().since(&before);
    assert_eq!(d.get(OutUnknownSpiDrop), SOURCES as u64);
    let sent = d.get(PuntSent);
    // A ring record is the event plus an 8-byte header.
    let record = (ipsec_common::PUNT_EVENT_SIZE + 8) as u64;
    assert!(sent > 0, "no unknown-SPI event at all: {:?}", d.nonzero());
    assert!(
        sent * record <= ipsec_common::PUNT_SPI_RING_MAX_USED + record,
        "{sent} unknown-SPI events took more than half the ring"
    );
    assert_eq!(d.get(PuntSpiRingReserved), SOURCES as u64 - sent);
    assert_eq!(d.get(PuntRingFull), 0);
    assert_eq!(d.get(PuntSpiNotPeer), 0);

    // Selector 10's bucket survived 5,000 other keys: still limited.
    expect(
        &dp,
        Prog::XdpInside,
        &frame,
        XDP_DROP,
        &[InHoldNoSocketDrop, PuntRateLimited],
    );
    // Selector 20 (TCP 443) finds room in the ring.
    expect(
        &dp,
        Prog::XdpInside,
        &tcp(WEST_LAN, [192, 0, 2, 129], 1, 443),
        XDP_DROP,
        &[InHoldNoSocketDrop, PuntSent],
    );
    let ev = drain(&mut punts);
    assert_eq!(ev.len() as u64, 3 + sent + 1);
    assert!(
        ev[..3]
            .iter()
            .all(|e| e.kind == PuntKind::NoSa { selector: 10 })
    );
    assert!(
        ev[3..ev.len() - 1]
            .iter()
            .all(|e| matches!(e.kind, PuntKind::UnknownSpi { .. }))
    );
    assert_eq!(ev.last().unwrap().kind, PuntKind::NoSa { selector: 20 });
}

/// Local UDP from port 500 or 4500 that is not from the daemon's IKE
/// sockets is classified like any other packet: protected cleartext from
/// such a port is dropped, whatever its payload looks like (the non-ESP
/// marker of IKE, a keepalive, an SPI).
#[test]
fn tc_egress_guard_source_port_is_no_pass() {
    let mut dp = open();
    dp.set_acl(&standard_acl()).unwrap();
    use Verdict::*;
    let mut ike = vec![0u8; 4];
    ike.extend_from_slice(b"secret cleartext behind an IKE marker");
    let payloads: [&[u8]; 4] = [
        b"secret cleartext",
        &ike,
        &[0xff],
        &[0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1],
    ];
    for sport in [500, 4500] {
        for payload in payloads {
            expect(
                &dp,
                Prog::TcEgress,
                &udp(WEST_LAN, EAST_LAN, sport, 4500, payload),
                TC_ACT_SHOT,
                &[TcProtectedDrop],
            );
        }
    }
}

#[test]
fn tc_egress_guard() {
    let mut dp = open();
    dp.set_acl(&standard_acl()).unwrap();
    use Verdict::*;
    let tc = Prog::TcEgress;
    expect(
        &dp,
        tc,
        &udp(WEST_LAN, EAST_LAN, 1000, 2000, b"secret"),
        TC_ACT_SHOT,
        &[TcProtectedDrop],
    );
    expect(
        &dp,
        tc,
        &icmp(WEST_LAN, EAST_LAN),
        TC_ACT_SHOT,
        &[TcProtectedDrop],
    );
    expect(
        &dp,
        tc,
        &vlan_udp(WEST_LAN, EAST_LAN, 1, 2),
        TC_ACT_SHOT,
        &[TcProtectedDrop],
    );
    let mut frag = udp(WEST_LAN, EAST_LAN, 1000, 2000, b"secret");
    set_frag(&mut frag, 14, false, 9);
    expect(&dp, tc, &frag, TC_ACT_SHOT, &[TcProtectedDrop]);
    expect(
        &dp,
        tc,
        &udp(WEST_LAN, EAST_LAN, 1000, 53, b"q"),
        TC_ACT_OK,
        &[TcOtherPass],
    );
    expect(
        &dp,
        tc,
        &udp(WEST_GW, EAST_GW, 40000, 2000, b"x"),
        TC_ACT_OK,
        &[TcOtherPass],
    );
    expect(
        &dp,
        tc,
        &esp(WEST_GW, EAST_GW, 5),
        TC_ACT_OK,
        &[TcEspIkePass],
    );
    // IKE between the gateways is not protected: it passes, classified
    // (under test-run the skb's socket is a fresh dummy, never the
    // daemon's; `live_egress_guard_trusts_only_the_ike_sockets` covers
    // the daemon's own sockets).
    expect(
        &dp,
        tc,
        &udp(WEST_GW, EAST_GW, 500, 500, &[0; 28]),
        TC_ACT_OK,
        &[TcOtherPass],
    );
    expect(
        &dp,
        tc,
        &udp(WEST_GW, EAST_GW, 4500, 4500, &[0; 28]),
        TC_ACT_OK,
        &[TcOtherPass],
    );
    expect(&dp, tc, &ipv6_udp(), TC_ACT_OK, &[TcNonIpv4Pass]);
    expect(&dp, tc, &arp(), TC_ACT_OK, &[TcNonIpv4Pass]);
    let mut bad = udp(WEST_LAN, EAST_LAN, 1, 2, b"x");
    bad[14] = 0x42;
    expect(&dp, tc, &bad, TC_ACT_SHOT, &[TcMalformedDrop]);
}

/// Deterministic pseudo-random numbers for the big ACL: the harness's
/// xorshift64* (this crate cannot depend on the harness crate).
#[path = "../../tests/harness/rng.rs"]
mod rng;
use rng::Rng;

/// `few_tuples`: only /16, /24 and /32 sources and /16 and /24
/// destinations (6 prefix pairs: the classifier's unrolled path, with long
/// overflow chains); otherwise 20 pairs (its `bpf_loop` path).
fn big_acl(rng: &mut Rng, n: usize, few_tuples: bool) -> Vec<AclRule> {
    // Prefix lengths weighted like real crypto ACLs: mostly /16../32,
    // a few very broad lines that shadow many others.
    let src_len = |rng: &mut Rng| match rng.below(100) {
        0..5 => 8u8,
        5..30 => 16,
        30..65 => 24,
        _ => 32,
    };
    let dst_len = |rng: &mut Rng| match rng.below(100) {
        0..3 => 0u8,
        3..8 => 8,
        8..38 => 16,
        38..69 => 24,
        _ => 32,
    };
    (0..n)
        .map(|i| {
            // Addresses from a small space so lines overlap and shadow.
            // With few pairs, a smaller space still gives > 8 lines per
            // key (overflow chains).
            let (first, second) = if few_tuples { (2, 4) } else { (4, 16) };
            let a = |rng: &mut Rng| {
                [
                    10 + rng.below(first) as u8,
                    rng.below(second) as u8,
                    rng.below(16) as u8,
                    rng.below(16) as u8,
                ]
            };
            let (s, d) = (a(rng), a(rng));
            let (mut sl, mut dl) = (src_len(rng), dst_len(rng));
            if few_tuples {
                sl = sl.max(16);
                dl = dl.clamp(16, 24);
            }
            let mut r = AclRule::permit_ip(1000 + i as u32, net(s, sl), net(d, dl));
            if rng.below(4) == 0 {
                r.action = AclAction::Deny;
            }
            match rng.below(4) {
                0 => {}
                1 => r.proto = Some(1),
                _ => {
                    r.proto = Some(if rng.below(2) == 0 { 6 } else { 17 });
                    if rng.below(2) == 0 {
                        let lo = rng.below(2000) as u16;
                        r.dst_ports = lo..=lo + rng.below(50) as u16;
                    }
                    if rng.below(4) == 0 {
                        let lo = rng.below(2000) as u16;
                        r.src_ports = lo..=lo + rng.below(500) as u16;
                    }
                }
            }
            r
        })
        .collect()
}

#[test]
fn ten_thousand_lines_first_match() {
    let mut rng = Rng(0x1b5e_c0de_1234_5678);
    let rules = big_acl(&mut rng, 10_000, false);
    check_against_reference(&rules, &mut rng);
}

#[test]
fn ten_thousand_lines_few_tuples_first_match() {
    let mut rng = Rng(0x0dd_ba11_5eed_0001);
    let rules = big_acl(&mut rng, 10_000, true);
    let pairs: std::collections::BTreeSet<(u8, u8)> =
        rules.iter().map(|r| (r.src.1, r.dst.1)).collect();
    assert_eq!(pairs.len(), 6);
    let c = ipsecgw::dataplane::acl::compile(&rules).unwrap();
    assert!(!c.chain.is_empty(), "some keys overflow into chains");
    check_against_reference(&rules, &mut rng);
}

/// Installs `rules` (every permit with an SA named after its selector) and
/// checks 3,000 packets against the linear reference `first_match`.
fn check_against_reference(rules: &[AclRule], rng: &mut Rng) {
    let mut dp = open();
    dp.set_acl(rules).unwrap();
    // Every permit selector has an SA whose id is the selector, and a
    // socket is registered: the metadata then names the line that won.
    for r in rules.iter().filter(|r| r.action == AclAction::Permit) {
        dp.install_outbound_sa(
            r.selector,
            OutboundSaSpec {
                sa_id: r.selector,
                peer: ip(EAST_GW),
                local: ip(WEST_GW),
                natt: None,
            },
        )
        .unwrap();
    }
    let xsk = Xsk::new();
    dp.register_xsk(Side::Inside, 0, xsk.0).unwrap();
    let (mut permits, mut denies, mut misses) = (0, 0, 0);
    for k in 0..3000 {
        // Mostly packets aimed inside a random line's prefixes.
        let r = &rules[rng.below(rules.len() as u64) as usize];
        let pick = |rng: &mut Rng, (a, l): (Ipv4Addr, u8)| {
            let host = (rng.next() as u32) & !ipsecgw::dataplane::acl::prefix_mask(l);
            let base = u32::from(a) & ipsecgw::dataplane::acl::prefix_mask(l);
            // Keep /0 picks inside 10/8 most of the time.
            let v = if l < 8 && rng.below(4) != 0 {
                0x0a00_0000 | (host & 0x030f_0f0f)
            } else if l < 24 && rng.below(2) == 0 {
                base | (host & 0x000f_0f0f)
            } else {
                base | host
            };
            Ipv4Addr::from(v)
        };
        let (s, d) = if k % 10 == 0 {
            (Ipv4Addr::new(192, 0, 2, 99), Ipv4Addr::new(10, 0, 0, 1))
        } else {
            (pick(rng, r.src), pick(rng, r.dst))
        };
        let proto = r.proto.unwrap_or(if rng.below(2) == 0 { 17 } else { 1 });
        let sport = *r.src_ports.start() + (rng.below(3) as u16);
        let dport = *r.dst_ports.start() + (rng.below(3) as u16);
        let frame = match proto {
            6 => tcp(s.octets(), d.octets(), sport, dport),
            17 => udp(s.octets(), d.octets(), sport, dport, b"payload"),
            _ => icmp(s.octets(), d.octets()),
        };
        let ports = matches!(proto, 6 | 17).then_some((sport, dport));
        let want = first_match(rules, s, d, proto, ports);
        let out = dp.test_run(Prog::XdpInside, &frame, 1).unwrap();
        match want {
            Some((_, w)) if w.action == AclAction::Permit => {
                permits += 1;
                assert_eq!(
                    out.action, XDP_REDIRECT,
                    "packet {k} {s}->{d} p{proto} {ports:?}"
                );
                let m = meta::decode(&out.data_out[..XDP_META_SIZE]).unwrap();
                match m.verdict {
                    FrameVerdict::Encrypt { sa_id, .. } => {
                        assert_eq!(sa_id, w.selector, "packet {k} {s}->{d} p{proto} {ports:?}")
                    }
                    v => panic!("{v:?}"),
                }
            }
            Some(_) => {
                denies += 1;
                assert_eq!(out.action, XDP_PASS, "packet {k} should hit a deny");
            }
            None => {
                misses += 1;
                assert_eq!(out.action, XDP_PASS, "packet {k} should match nothing");
            }
        }
    }
    // The sample really exercised all three outcomes.
    assert!(
        permits > 500 && denies > 200 && misses > 200,
        "{permits} {denies} {misses}"
    );
    let c = dp.counters().unwrap();
    assert_eq!(c.get(Verdict::InEncryptRedirect), permits);
    assert_eq!(c.get(Verdict::InDenyPass), denies);
    assert_eq!(c.get(Verdict::InNoMatchPass), misses);

    // Replacing the set: the old lines are gone, the new one works.
    dp.set_acl(&[AclRule::deny_ip(
        net([10, 0, 0, 0], 8),
        net([0, 0, 0, 0], 0),
    )])
    .unwrap();
    let f = udp([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, b"x");
    assert_eq!(
        dp.test_run(Prog::XdpInside, &f, 1).unwrap().action,
        XDP_PASS
    );
    dp.set_acl(&[]).unwrap();
    assert_eq!(
        dp.test_run(Prog::XdpInside, &f, 1).unwrap().action,
        XDP_PASS
    );
    assert_eq!(
        dp.counters().unwrap().get(Verdict::InNoMatchPass),
        misses + 1
    );
}

/// ns/packet of the classifier for 1, 1,000 and 10,000 lines:
/// `cargo test -p ipsec-user --test bpf_prog -- --ignored --nocapture classify_bench`
#[test]
#[ignore]
fn classify_bench() {
    // Side by side in one run: BPF-side logs off (the default) and on
    // (`debug crypto ipsec 255`).
    for bpf_log in [false, true] {
        let r = ipsecgw::dataplane::bench::classify_bench(
            &[(1, 3), (1_000, 3), (10_000, 3), (10_000, 20)],
            1_000_000,
            bpf_log,
        )
        .unwrap();
        for b in r {
            eprintln!(
                "bpf logs {:>3}: {:>6} lines, {:>2} prefix pairs: match (no SA) {:>5} ns/pkt, match (SA) {:>5} ns/pkt, no match {:>5} ns/pkt",
                if bpf_log { "on" } else { "off" },
                b.lines,
                b.pairs,
                b.matching.as_nanos(),
                b.matching_sa.as_nanos(),
                b.non_matching.as_nanos()
            );
        }
    }
}
