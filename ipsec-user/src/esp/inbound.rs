//! Inbound SA: decapsulation of tunnel-mode ESP (RFC 4303 section 3.4) in
//! the caller's buffer.
//!
//! Order matters and is the RFC's: cheap length checks; anti-replay
//! pre-check; ICV verification (constant time) before any decryption (an
//! AEAD's open verifies the tag before releasing plaintext); decryption in
//! place; padding and next-header checks; the inner packet against the
//! SA's selectors; only then does the replay window move, so neither a
//! forgery nor a policy violation can advance it.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::EspError;
use super::counters::SaCounters;
use super::ipv4;
use super::outbound::{NEXT_HEADER_IPV4, aad_for};
use super::replay::{ReplayVerdict, ReplayWindow};
use super::sa::{SaParams, Selector, byte_limits, handles};
use super::transform::{ESP_HEADER, Transform};

/// RFC 4303 section 2.6: a dummy packet (traffic flow confidentiality) to
/// be discarded silently.
const NEXT_HEADER_NONE: u8 = 59;

/// What the workers decrypting one SA share: the replay window (lock-free,
/// see [`super::replay`]) and the bytes the kilobyte lifetime counts.
#[derive(Debug)]
struct Shared {
    window: ReplayWindow,
    bytes: AtomicU64,
}

/// One inbound SA as one worker uses it: its own cipher state and
/// counters, the replay window and lifetime shared with the other workers
/// of the SA (see [`InboundSa::new_group`]).
#[derive(Debug)]
pub struct InboundSa {
    spi: u32,
    xf: Transform,
    esn: bool,
    shared: Arc<Shared>,
    local_ts: Selector,
    remote_ts: Selector,
    soft_bytes: u64,
    hard_bytes: u64,
    counters: SaCounters,
}

impl InboundSa {
    pub fn new(p: &SaParams<'_>) -> Result<Self, EspError> {
        let shared = Arc::new(Shared {
            window: ReplayWindow::new(p.esn),
            bytes: AtomicU64::new(0),
        });
        Self::with_shared(p, shared)
    }

    /// `n` handles on one SA, one per worker: each expands its own key
    /// schedule, all share one replay window and one lifetime.
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
        Ok(InboundSa {
            spi: p.spi,
            xf: Transform::new(p.transform, p.keymat)?,
            esn: p.esn,
            shared,
            local_ts: p.local_ts,
            remote_ts: p.remote_ts,
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

    /// Highest sequence number accepted so far.
    pub fn highest_seq(&self) -> u64 {
        self.shared.window.top()
    }

    /// 90% of the kilobyte lifetime received.
    pub fn needs_rekey(&self) -> bool {
        self.shared.bytes.load(Ordering::Relaxed) >= self.soft_bytes
    }

    /// The kilobyte lifetime is used up.
    pub fn expired(&self) -> bool {
        self.shared.bytes.load(Ordering::Relaxed) >= self.hard_bytes
    }

    /// Decapsulates `esp` (from the ESP header to the end of the ICV, as
    /// located by [`super::parse_outer`]) in place and returns where the
    /// inner IPv4 packet lies inside it. Every failure is counted. After an
    /// error the buffer must be dropped: with CBC a forged packet is left
    /// untouched (verified before decryption), with an AEAD its contents
    /// are unspecified (ring releases no plaintext of a failed open).
    pub fn decapsulate(&mut self, esp: &mut [u8]) -> Result<Range<usize>, EspError> {
        let r = self.decapsulate_inner(esp);
        if let Err(e) = &r {
            if matches!(e, EspError::Dummy) {
                return r;
            }
            let c = &mut self.counters;
            c.recv_errors += 1;
            match e {
                EspError::AuthFailed => c.auth_failures += 1,
                EspError::Replay(_) => c.replay_drops += 1,
                EspError::PolicyViolation { .. } => c.policy_drops += 1,
                _ => c.malformed += 1,
            }
        }
        r
    }

    fn decapsulate_inner(&mut self, esp: &mut [u8]) -> Result<Range<usize>, EspError> {
        let (iv_len, icv_len, align) = (self.xf.iv_len(), self.xf.icv_len(), self.xf.align());
        // Header, IV, at least pad length + next header, ICV.
        let min = ESP_HEADER + iv_len + align.max(4) + icv_len;
        if esp.len() < min {
            return Err(EspError::Truncated {
                len: esp.len(),
                min,
            });
        }
        let ct_start = ESP_HEADER + iv_len;
        let ct_end = esp.len() - icv_len;
        if !(ct_end - ct_start).is_multiple_of(align) {
            return Err(EspError::Misaligned {
                len: ct_end - ct_start,
                align,
            });
        }
        let spi = u32::from_be_bytes([esp[0], esp[1], esp[2], esp[3]]);
        if spi != self.spi {
            return Err(EspError::WrongSpi {
                got: spi,
                expected: self.spi,
            });
        }
        let seq_lo = u32::from_be_bytes([esp[4], esp[5], esp[6], esp[7]]);
        let seq = self.shared.window.infer(seq_lo);
        self.shared.window.check(seq).map_err(EspError::Replay)?;

        let mut iv = [0u8; 16];
        iv[..iv_len].copy_from_slice(&esp[ESP_HEADER..ct_start]);
        if self.xf.is_aead() {
            let mut aad = [0u8; 12];
            let aad_len = aad_for(self.spi, seq, self.esn, &mut aad);
            let mut iv8 = [0u8; 8];
            iv8.copy_from_slice(&iv[..8]);
            self.xf.open(&iv8, &aad[..aad_len], &mut esp[ct_start..])?;
        } else {
            if self.xf.has_icv() {
                let hi = ((seq >> 32) as u32).to_be_bytes();
                let (body, icv) = esp.split_at(ct_end);
                let parts: [&[u8]; 2] = [body, if self.esn { &hi } else { &[] }];
                if !self.xf.verify(&parts, icv) {
                    return Err(EspError::AuthFailed);
                }
            }
            self.xf.decrypt(&iv[..iv_len], &mut esp[ct_start..ct_end])?;
        }
        self.counters.pkts_verify += u64::from(self.xf.has_icv());
        self.counters.pkts_decrypt += u64::from(self.xf.encrypts());

        // Trailer: ... padding (1, 2, 3, ...) | pad length | next header.
        let pt = &esp[ct_start..ct_end];
        let (pad_len, next) = match pt {
            [.., p, n] => (usize::from(*p), *n),
            _ => return Err(EspError::BadPadding),
        };
        let payload_len = pt
            .len()
            .checked_sub(pad_len + 2)
            .ok_or(EspError::BadPadding)?;
        let pad = &pt[payload_len..payload_len + pad_len];
        if pad
            .iter()
            .enumerate()
            .any(|(i, b)| usize::from(*b) != i + 1)
        {
            return Err(EspError::BadPadding);
        }
        if next == NEXT_HEADER_NONE {
            // Authentic dummy packet: discard, but it did use its number.
            let _ = self.shared.window.accept(seq);
            return Err(EspError::Dummy);
        }
        if next != NEXT_HEADER_IPV4 {
            return Err(EspError::NextHeader(next));
        }
        let inner = &pt[..payload_len];
        let info = ipv4::parse(inner).ok_or(EspError::InnerMalformed)?;
        if !self.remote_ts.contains(info.src) || !self.local_ts.contains(info.dst) {
            return Err(EspError::PolicyViolation {
                src: info.src,
                dst: info.dst,
            });
        }
        self.shared.window.accept(seq).map_err(EspError::Replay)?;
        self.shared
            .bytes
            .fetch_add(info.total_len as u64, Ordering::Relaxed);
        let c = &mut self.counters;
        c.pkts_decaps += 1;
        c.bytes_decaps += info.total_len as u64;
        Ok(ct_start..ct_start + info.total_len)
    }
}

impl From<ReplayVerdict> for EspError {
    fn from(v: ReplayVerdict) -> Self {
        EspError::Replay(v)
    }
}
