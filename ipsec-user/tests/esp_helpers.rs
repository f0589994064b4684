//! The engine's pure helpers: outer parsing, MSS clamp, ICMP
//! "fragmentation needed", hold queue.

use ipsecgw::esp::ipv4::checksum;
use ipsecgw::esp::{
    HoldQueue, IcmpError, OuterError, build_frag_needed, clamp_tcp_mss, parse_outer,
    parse_outer_ethernet,
};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

fn ip_header(proto: u8, payload_len: usize, src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let total = 20 + payload_len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[6] = 0x40;
    p[8] = 64;
    p[9] = proto;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    let c = checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

#[test]
fn outer_esp_and_nat_t() {
    let mut esp = ip_header(50, 40, [192, 0, 2, 2], [192, 0, 2, 1]);
    esp[20..28].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 1, 0]);
    let o = parse_outer(&esp).unwrap();
    assert_eq!(
        (o.spi, o.seq, o.udp_encap, o.esp_offset, o.esp_len),
        (0xdeadbeef, 256, None, 20, 40)
    );
    assert_eq!(o.src, Ipv4Addr::new(192, 0, 2, 2));
    // Link padding after the IP packet is not ESP.
    let mut padded = esp.clone();
    padded.extend_from_slice(&[0; 6]);
    assert_eq!(parse_outer(&padded).unwrap().esp_len, 40);

    let mut udp = ip_header(17, 48, [192, 0, 2, 2], [192, 0, 2, 1]);
    udp[20..28].copy_from_slice(&[0x11, 0x94, 0x11, 0x94, 0, 48, 0, 0]);
    udp[28..36].copy_from_slice(&[0, 0, 0, 7, 0, 0, 0, 1]);
    let o = parse_outer(&udp).unwrap();
    assert_eq!(
        (o.spi, o.udp_encap, o.esp_offset, o.esp_len),
        (7, Some((4500, 4500)), 28, 40)
    );

    // Non-ESP marker: IKE on 4500.
    udp[28..32].copy_from_slice(&[0; 4]);
    assert_eq!(parse_outer(&udp), Err(OuterError::Ike));
    // Keepalive.
    let mut ka = ip_header(17, 9, [192, 0, 2, 2], [192, 0, 2, 1]);
    ka[20..28].copy_from_slice(&[0x11, 0x94, 0x11, 0x94, 0, 9, 0, 0]);
    ka[28] = 0xff;
    assert_eq!(parse_outer(&ka), Err(OuterError::Keepalive));
    // Port 500 is not ours.
    let mut ike = udp.clone();
    ike[22..24].copy_from_slice(&500u16.to_be_bytes());
    assert_eq!(parse_outer(&ike), Err(OuterError::NotNatT));
    // Fragments, SPI 0, other protocols, lies about lengths.
    let mut frag = esp.clone();
    frag[6] = 0x20;
    assert_eq!(parse_outer(&frag), Err(OuterError::Fragment));
    let mut zero = esp.clone();
    zero[20..24].copy_from_slice(&[0; 4]);
    assert_eq!(parse_outer(&zero), Err(OuterError::ZeroSpi));
    assert_eq!(
        parse_outer(&ip_header(6, 20, [1; 4], [2; 4])),
        Err(OuterError::NotEsp)
    );
    assert_eq!(parse_outer(&esp[..30]), Err(OuterError::NotIpv4));
    let mut liar = udp.clone();
    liar[24..26].copy_from_slice(&999u16.to_be_bytes());
    assert_eq!(parse_outer(&liar), Err(OuterError::Truncated));

    // Ethernet, with and without a VLAN tag.
    let mut frame = vec![0u8; 12];
    frame.extend_from_slice(&[0x08, 0x00]);
    frame.extend_from_slice(&esp);
    assert_eq!(parse_outer_ethernet(&frame).unwrap().esp_offset, 34);
    let mut tagged = vec![0u8; 12];
    tagged.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
    tagged.extend_from_slice(&esp);
    assert_eq!(parse_outer_ethernet(&tagged).unwrap().esp_offset, 38);
    assert_eq!(
        parse_outer_ethernet(&tagged[..15]),
        Err(OuterError::Truncated)
    );
}

fn tcp_syn(mss: u16, opts_before: &[u8]) -> Vec<u8> {
    let mut opts = opts_before.to_vec();
    opts.extend_from_slice(&[2, 4]);
    opts.extend_from_slice(&mss.to_be_bytes());
    while !opts.len().is_multiple_of(4) {
        opts.push(1);
    }
    let tcp_len = 20 + opts.len();
    let mut p = ip_header(6, tcp_len, [198, 51, 100, 10], [203, 0, 113, 10]);
    let t = &mut p[20..];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&443u16.to_be_bytes());
    t[12] = ((tcp_len / 4) as u8) << 4;
    t[13] = 0x02;
    t[20..].copy_from_slice(&opts);
    let c = tcp_checksum(&p);
    p[36..38].copy_from_slice(&c.to_be_bytes());
    p
}

/// The full TCP checksum with the pseudo-header, computed from scratch.
fn tcp_checksum(p: &[u8]) -> u16 {
    let tcp = &p[20..];
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&p[12..20]);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    let mut t = tcp.to_vec();
    t[16..18].copy_from_slice(&[0, 0]);
    pseudo.extend_from_slice(&t);
    checksum(&pseudo)
}

#[test]
fn mss_clamp() {
    for opts in [&[][..], &[1, 1][..], &[4, 2][..], &[3, 3, 7][..]] {
        let mut p = tcp_syn(1460, opts);
        assert!(clamp_tcp_mss(&mut p, 1380));
        let at = 40 + opts.len();
        assert_eq!(u16::from_be_bytes([p[at + 2], p[at + 3]]), 1380);
        // The incremental update equals a checksum computed from scratch.
        assert_eq!(
            u16::from_be_bytes([p[36], p[37]]),
            tcp_checksum(&p),
            "{opts:?}"
        );
    }
    // Already small enough, not a SYN, not TCP, broken options: untouched.
    let mut small = tcp_syn(1200, &[]);
    let copy = small.clone();
    assert!(!clamp_tcp_mss(&mut small, 1380));
    assert_eq!(small, copy);
    let mut ack = tcp_syn(1460, &[]);
    ack[33] = 0x10;
    assert!(!clamp_tcp_mss(&mut ack, 1380));
    let mut udp = ip_header(17, 30, [1; 4], [2; 4]);
    assert!(!clamp_tcp_mss(&mut udp, 1380));
    let mut broken = tcp_syn(1460, &[]);
    broken[41] = 40; // option length past the header
    assert!(!clamp_tcp_mss(&mut broken, 1380));
    for cut in 0..broken.len() {
        let mut b = tcp_syn(1460, &[])[..cut].to_vec();
        let _ = clamp_tcp_mss(&mut b, 1380);
    }
}

#[test]
fn frag_needed() {
    let mut big = ip_header(17, 1480, [198, 51, 100, 10], [203, 0, 113, 10]);
    big[20..28].copy_from_slice(&[0x30, 0x39, 0, 53, 0x05, 0xc8, 0xab, 0xcd]);
    let mut out = [0u8; 128];
    let gw = Ipv4Addr::new(198, 51, 100, 1);
    let n = build_frag_needed(&big, 1418, gw, &mut out).unwrap();
    assert_eq!(n, 20 + 8 + 28);
    let r = &out[..n];
    assert_eq!(checksum(&r[..20]), 0);
    assert_eq!(r[9], 1);
    assert_eq!(&r[12..16], &gw.octets());
    assert_eq!(&r[16..20], &[198, 51, 100, 10]);
    assert_eq!((r[20], r[21]), (3, 4));
    assert_eq!(u16::from_be_bytes([r[26], r[27]]), 1418);
    assert_eq!(checksum(&r[20..]), 0);
    assert_eq!(&r[28..], &big[..28]);

    assert_eq!(
        build_frag_needed(&big, 1418, gw, &mut out[..40]),
        Err(IcmpError::BufferTooSmall(56))
    );
    // Never about an ICMP error.
    let mut icmp_err = ip_header(1, 36, [198, 51, 100, 10], [203, 0, 113, 10]);
    icmp_err[20] = 3;
    assert_eq!(
        build_frag_needed(&icmp_err, 1400, gw, &mut out),
        Err(IcmpError::NotAllowed)
    );
    let mut echo = icmp_err.clone();
    echo[20] = 8;
    assert!(build_frag_needed(&echo, 1400, gw, &mut out).is_ok());
    let bcast = ip_header(17, 10, [255; 4], [1; 4]);
    assert_eq!(
        build_frag_needed(&bcast, 1400, gw, &mut out),
        Err(IcmpError::NotAllowed)
    );
    assert_eq!(
        build_frag_needed(&big[..10], 1400, gw, &mut out),
        Err(IcmpError::Malformed)
    );
}

#[test]
fn hold_queue_bounds() {
    let t0 = Instant::now();
    let mut q = HoldQueue::new(4, 100, Duration::from_secs(1));
    for i in 0..6u8 {
        q.push(&[i; 10], t0);
    }
    assert_eq!(q.len(), 4);
    assert_eq!(q.counters().overflow, 2);
    assert!(!q.push(&[0; 101], t0));
    assert_eq!(q.counters().too_big, 1);
    let mut got = Vec::new();
    assert_eq!(q.drain(t0, |p| got.push(p.to_vec())), 4);
    assert_eq!(got, (0..4u8).map(|i| vec![i; 10]).collect::<Vec<_>>());
    assert!(q.is_empty());

    // Aging: the old ones are dropped, the young ones released.
    q.push(&[1; 5], t0);
    q.push(&[2; 7], t0 + Duration::from_millis(900));
    let mut got = Vec::new();
    q.drain(t0 + Duration::from_millis(1500), |p| got.push(p.to_vec()));
    assert_eq!(got, vec![vec![2u8; 7]]);
    assert_eq!(q.counters().expired, 1);
    // The ring wraps around many times without losing order.
    for round in 0..50u8 {
        for k in 0..3u8 {
            assert!(q.push(&[round, k], t0));
        }
        let mut seen = Vec::new();
        q.drain(t0, |p| seen.push(p.to_vec()));
        assert_eq!(seen, vec![vec![round, 0], vec![round, 1], vec![round, 2]]);
    }
}
