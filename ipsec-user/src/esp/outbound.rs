//! Outbound SA: encapsulation of an inner IPv4 packet into tunnel-mode ESP
//! (RFC 4303), optionally inside UDP (RFC 3948).

use super::EspError;
use super::counters::SaCounters;
use super::ipv4::{self, IPV4_HEADER, Ipv4Emit, PROTO_ESP, PROTO_UDP, UDP_HEADER};
use super::sa::{SaParams, byte_limits, handles};
use super::transform::{ESP_HEADER, Transform};
use std::net::Ipv4Addr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Next header value of a tunnel-mode IPv4 payload.
pub const NEXT_HEADER_IPV4: u8 = 4;
/// Without ESN, rekey is due once this many packets have been sent.
const SOFT_SEQ_32: u64 = 0xF000_0000;
/// With ESN, the same when the 64-bit counter gets this close to the end.
const SOFT_SEQ_64: u64 = u64::MAX - (1 << 32);
const OUTER_TTL: u8 = 64;

/// What the workers using one outbound SA share: the sequence number
/// (RFC 4303 forbids sending one twice) and the bytes the kilobyte
/// lifetime counts. Atomics, not a lock.
#[derive(Debug)]
struct Shared {
    /// Sequence number of the next packet (the first is 1; 0 once the
    /// space is used up, with ESN).
    next_seq: AtomicU64,
    /// Inner bytes encapsulated by all workers.
    bytes: AtomicU64,
}

/// One outbound SA as one worker uses it: its own cipher state and
/// counters, and the sequence and lifetime shared with the other workers
/// of the same SA (see [`OutboundSa::new_group`]). No lock and no
/// allocation per packet.
#[derive(Debug)]
pub struct OutboundSa {
    spi: u32,
    xf: Transform,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    udp: Option<(u16, u16)>,
    esn: bool,
    shared: Arc<Shared>,
    ident: u16,
    soft_bytes: u64,
    hard_bytes: u64,
    counters: SaCounters,
}

impl OutboundSa {
    pub fn new(p: &SaParams<'_>) -> Result<Self, EspError> {
        let shared = Arc::new(Shared {
            next_seq: AtomicU64::new(1),
            bytes: AtomicU64::new(0),
        });
        Self::with_shared(p, shared)
    }

    /// `n` handles on one SA, one per worker: each expands its own key
    /// schedule, all draw from one sequence space and one lifetime.
    pub fn new_group(p: &SaParams<'_>, n: usize) -> Result<Vec<Self>, EspError> {
        handles(n, Self::new(p)?, |first| {
            Self::with_shared(p, first.shared.clone())
        })
    }

    fn with_shared(p: &SaParams<'_>, shared: Arc<Shared>) -> Result<Self, EspError> {
        if p.spi == 0 {
            return Err(EspError::Unsupported("SPI 0 is reserved"));
        }
        let (soft_bytes, hard_bytes) = byte_limits(p.lifetime_kb);
        Ok(OutboundSa {
            spi: p.spi,
            xf: Transform::new(p.transform, p.keymat)?,
            src: p.tunnel_src,
            dst: p.tunnel_dst,
            udp: p.udp_encap,
            esn: p.esn,
            shared,
            ident: 0,
            soft_bytes,
            hard_bytes,
            counters: SaCounters::default(),
        })
    }

    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// This worker's counters (the daemon adds up the workers').
    pub fn counters(&self) -> &SaCounters {
        &self.counters
    }

    /// The sequence number the next packet will carry.
    pub fn next_seq(&self) -> u64 {
        self.shared.next_seq.load(Ordering::Acquire)
    }

    /// Starts the sequence at `seq` (tests of the wrap, and resuming).
    pub fn set_next_seq(&self, seq: u64) {
        self.shared.next_seq.store(seq, Ordering::Release);
    }

    /// Rekey is due: the sequence number nears its end (a 32-bit one
    /// without ESN) or 90% of the kilobyte lifetime is used.
    pub fn needs_rekey(&self) -> bool {
        let soft_seq = if self.esn { SOFT_SEQ_64 } else { SOFT_SEQ_32 };
        let next = self.next_seq();
        next >= soft_seq
            || next == 0
            || self.shared.bytes.load(Ordering::Relaxed) >= self.soft_bytes
    }

    /// The kilobyte lifetime is used up: `encapsulate` refuses.
    pub fn expired(&self) -> bool {
        self.shared.bytes.load(Ordering::Relaxed) >= self.hard_bytes
    }

    /// The sequence space is used up: `encapsulate` refuses until the SA is
    /// replaced (RFC 4303 3.3.3: a sequence number never cycles).
    pub fn exhausted(&self) -> bool {
        Self::past_end(self.next_seq(), self.esn)
    }

    /// 0 is where a 64-bit counter lands after its last number.
    fn past_end(next: u64, esn: bool) -> bool {
        next == 0 || (!esn && next > u64::from(u32::MAX))
    }

    /// Takes the next sequence number, or none once the space is used up:
    /// the counter never moves past the end, so no number is sent twice
    /// whatever the number of workers.
    fn take_seq(&self) -> Result<u64, EspError> {
        let esn = self.esn;
        self.shared
            .next_seq
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (!Self::past_end(s, esn)).then(|| s.wrapping_add(1))
            })
            .map_err(|_| EspError::SequenceExhausted)
    }

    fn outer_len(&self) -> usize {
        IPV4_HEADER + if self.udp.is_some() { UDP_HEADER } else { 0 }
    }

    /// Length of the whole outer packet for an inner packet of `inner_len`
    /// bytes.
    pub fn encapsulated_len(&self, inner_len: usize) -> usize {
        let padded = (inner_len + 2).div_ceil(self.xf.align()) * self.xf.align();
        self.outer_len() + ESP_HEADER + self.xf.iv_len() + padded + self.xf.icv_len()
    }

    /// The largest inner packet whose encapsulation fits in `mtu` bytes:
    /// the next-hop MTU to announce in an ICMP "fragmentation needed".
    pub fn max_inner_len(&self, mtu: usize) -> usize {
        let fixed = self.outer_len() + ESP_HEADER + self.xf.iv_len() + self.xf.icv_len();
        let room = mtu.saturating_sub(fixed);
        (room / self.xf.align() * self.xf.align()).saturating_sub(2)
    }

    /// Bytes the outer headers take in front of the inner packet: outer
    /// IPv4 (+ UDP under NAT-T), ESP header and IV.
    pub fn header_len(&self) -> usize {
        self.outer_len() + ESP_HEADER + self.xf.iv_len()
    }

    /// Encapsulates the IPv4 packet `inner` into `out`: outer IPv4 header
    /// (+ UDP with checksum 0 under NAT-T), ESP header, IV, ciphertext,
    /// ICV. Returns the length written. The outer header copies the inner
    /// TOS and DF bit.
    pub fn encapsulate(&mut self, inner: &[u8], out: &mut [u8]) -> Result<usize, EspError> {
        let at = self.header_len();
        let Some(info) = ipv4::parse(inner) else {
            self.counters.send_errors += 1;
            return Err(EspError::InnerMalformed);
        };
        let inner = &inner[..info.total_len];
        let need = self.encapsulated_len(inner.len());
        if out.len() < need {
            self.counters.send_errors += 1;
            return Err(EspError::BufferTooSmall {
                need,
                have: out.len(),
            });
        }
        out[at..at + inner.len()].copy_from_slice(inner);
        self.encapsulate_in_place(out, at..at + inner.len())
            .map(|r| r.len())
    }

    /// Encapsulates, without copying it, the IPv4 packet received in
    /// `buf[received]`: the outer headers are written into the
    /// [`header_len`](Self::header_len) bytes in front of it and the
    /// trailer and ICV after it, so `buf` needs that much headroom and
    /// about 50 bytes of tailroom. Bytes after the inner packet's total
    /// length are overwritten. Returns where the outer packet now lies in
    /// `buf`. This is the engine's hot path: the frame a packet arrived in
    /// leaves encrypted, with no copy of its payload.
    ///
    /// The packet's IPv4 total length must fit in `received`: the rest of
    /// a frame holds whatever an earlier packet left there, which must
    /// never be encrypted and sent.
    pub fn encapsulate_in_place(
        &mut self,
        buf: &mut [u8],
        received: Range<usize>,
    ) -> Result<Range<usize>, EspError> {
        match self.encapsulate_inner(buf, received) {
            Ok(r) => Ok(r),
            Err(e) => {
                self.counters.send_errors += 1;
                Err(e)
            }
        }
    }

    fn encapsulate_inner(
        &mut self,
        buf: &mut [u8],
        received: Range<usize>,
    ) -> Result<Range<usize>, EspError> {
        let inner_at = received.start;
        let info = buf
            .get(received)
            .and_then(ipv4::parse)
            .ok_or(EspError::InnerMalformed)?;
        let inner_len = info.total_len;
        // The lifetime is checked against what all workers sent; two
        // workers racing past the limit overshoot it by a packet each.
        let sent = self.shared.bytes.load(Ordering::Relaxed);
        if sent.saturating_add(inner_len as u64) > self.hard_bytes {
            return Err(EspError::LifetimeExpired);
        }
        let (iv_len, icv_len, align) = (self.xf.iv_len(), self.xf.icv_len(), self.xf.align());
        let padded = (inner_len + 2).div_ceil(align) * align;
        let pad_len = padded - inner_len - 2;
        let outer_len = self.outer_len();
        let esp_len = ESP_HEADER + iv_len + padded + icv_len;
        let total = outer_len + esp_len;
        if total > usize::from(u16::MAX) {
            return Err(EspError::TooBig { len: total });
        }
        let head = outer_len + ESP_HEADER + iv_len;
        let Some(start) = inner_at.checked_sub(head) else {
            return Err(EspError::BufferTooSmall {
                need: head,
                have: inner_at,
            });
        };
        if buf.len() < start + total {
            return Err(EspError::BufferTooSmall {
                need: start + total,
                have: buf.len(),
            });
        }
        // Taken last: every error above leaves the sequence untouched.
        let seq = self.take_seq()?;
        let out = &mut buf[start..start + total];
        let (hdrs, esp) = out.split_at_mut(outer_len);

        // ESP header, IV, payload (already in place), padding (1, 2, 3,
        // ... RFC 4303 2.4).
        esp[0..4].copy_from_slice(&self.spi.to_be_bytes());
        esp[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        let ct_start = ESP_HEADER + iv_len;
        let ct_end = ct_start + padded;
        let mut iv = [0u8; 16];
        self.xf.make_iv(seq, &mut iv[..iv_len]);
        esp[ESP_HEADER..ct_start].copy_from_slice(&iv[..iv_len]);
        let trailer = &mut esp[ct_start + inner_len..ct_end];
        for (i, b) in trailer[..pad_len].iter_mut().enumerate() {
            *b = (i + 1) as u8;
        }
        trailer[pad_len] = pad_len as u8;
        trailer[pad_len + 1] = NEXT_HEADER_IPV4;

        let seq_hi = (seq >> 32) as u32;
        if self.xf.is_aead() {
            let mut aad = [0u8; 12];
            let aad_len = aad_for(self.spi, seq, self.esn, &mut aad);
            let mut iv8 = [0u8; 8];
            iv8.copy_from_slice(&iv[..8]);
            let (body, icv) = esp.split_at_mut(ct_end);
            self.xf
                .seal(&iv8, &aad[..aad_len], &mut body[ct_start..], icv)?;
        } else {
            self.xf.encrypt(&iv[..iv_len], &mut esp[ct_start..ct_end])?;
            if self.xf.has_icv() {
                // With ESN the high half is authenticated but not sent
                // (RFC 4303 section 2.2.1).
                let hi = seq_hi.to_be_bytes();
                let (body, icv) = esp.split_at_mut(ct_end);
                let parts: [&[u8]; 2] = [body, if self.esn { &hi } else { &[] }];
                self.xf.icv(&parts, icv);
            }
        }

        if let Some((sport, dport)) = self.udp {
            let u = &mut hdrs[IPV4_HEADER..IPV4_HEADER + UDP_HEADER];
            u[0..2].copy_from_slice(&sport.to_be_bytes());
            u[2..4].copy_from_slice(&dport.to_be_bytes());
            u[4..6].copy_from_slice(&((UDP_HEADER + esp_len) as u16).to_be_bytes());
            u[6..8].copy_from_slice(&[0, 0]);
        }
        self.ident = self.ident.wrapping_add(1);
        Ipv4Emit {
            tos: info.tos,
            total_len: total as u16,
            ident: self.ident,
            dont_fragment: info.dont_fragment,
            ttl: OUTER_TTL,
            protocol: if self.udp.is_some() {
                PROTO_UDP
            } else {
                PROTO_ESP
            },
            src: self.src,
            dst: self.dst,
        }
        .emit(hdrs);

        self.shared
            .bytes
            .fetch_add(inner_len as u64, Ordering::Relaxed);
        let c = &mut self.counters;
        c.pkts_encaps += 1;
        if self.xf.encrypts() {
            c.pkts_encrypt += 1;
        }
        if self.xf.has_icv() {
            c.pkts_digest += 1;
        }
        c.bytes_encaps += inner_len as u64;
        Ok(start..start + total)
    }
}

/// The AEAD additional data: SPI | seq (32 bits), or SPI | seq-hi | seq-lo
/// with ESN (RFC 4106 section 5, RFC 7634 section 2.1). Returns its length.
pub(crate) fn aad_for(spi: u32, seq: u64, esn: bool, aad: &mut [u8; 12]) -> usize {
    aad[0..4].copy_from_slice(&spi.to_be_bytes());
    if esn {
        aad[4..12].copy_from_slice(&seq.to_be_bytes());
        12
    } else {
        aad[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        8
    }
}
