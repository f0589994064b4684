//! Stateless cookies (RFC 7296 2.6): once half-open SAs pass the
//! configured share of `max-in-negotiation-sa`, an IKE_SA_INIT without a
//! valid cookie is answered with one and forgotten. The cookie is
//! version | SHA-256(secret | Ni | IPi | SPIi) truncated; the secret
//! rotates every minute and the previous one stays valid for one more.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ring::rand::SecureRandom;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const ROTATE: Duration = Duration::from_secs(60);
/// Version byte + 16 bytes of digest.
pub const COOKIE_LEN: usize = 17;

pub struct CookieJar {
    version: u8,
    current: Zeroizing<[u8; 32]>,
    previous: Zeroizing<[u8; 32]>,
    rotated: Instant,
}

fn secret(rng: &dyn SecureRandom) -> Zeroizing<[u8; 32]> {
    let mut s = Zeroizing::new([0u8; 32]);
    let _ = rng.fill(&mut s[..]);
    s
}

impl CookieJar {
    pub fn new(rng: &dyn SecureRandom, now: Instant) -> Self {
        CookieJar {
            version: 0,
            current: secret(rng),
            previous: secret(rng),
            rotated: now,
        }
    }

    pub fn next_rotation(&self) -> Instant {
        self.rotated + ROTATE
    }

    pub fn rotate(&mut self, rng: &dyn SecureRandom, now: Instant) {
        if now < self.next_rotation() {
            return;
        }
        self.previous = std::mem::replace(&mut self.current, secret(rng));
        self.version = self.version.wrapping_add(1);
        self.rotated = now;
    }

    fn compute(
        secret: &[u8; 32],
        version: u8,
        ni: &[u8],
        ip: Ipv4Addr,
        spi_i: &[u8; 8],
    ) -> [u8; COOKIE_LEN] {
        let mut h = Sha256::new();
        h.update(secret);
        h.update(ni);
        h.update(ip.octets());
        h.update(spi_i);
        let d = h.finalize();
        let mut c = [0u8; COOKIE_LEN];
        c[0] = version;
        c[1..].copy_from_slice(&d[..COOKIE_LEN - 1]);
        c
    }

    pub fn make(&self, ni: &[u8], ip: Ipv4Addr, spi_i: &[u8; 8]) -> [u8; COOKIE_LEN] {
        Self::compute(&self.current, self.version, ni, ip, spi_i)
    }

    /// A cookie we made with the current or the previous secret.
    pub fn check(&self, cookie: &[u8], ni: &[u8], ip: Ipv4Addr, spi_i: &[u8; 8]) -> bool {
        use subtle::ConstantTimeEq;
        let Some(&v) = cookie.first() else {
            return false;
        };
        let secret = if v == self.version {
            &self.current
        } else if v == self.version.wrapping_sub(1) {
            &self.previous
        } else {
            return false;
        };
        let want = Self::compute(secret, v, ni, ip, spi_i);
        cookie.len() == COOKIE_LEN && bool::from(want.ct_eq(cookie))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn cookies_verify_for_two_periods_and_bind_their_inputs() {
        let rng = SystemRandom::new();
        let t0 = Instant::now();
        let mut jar = CookieJar::new(&rng, t0);
        let ip: Ipv4Addr = "192.0.2.2".parse().unwrap();
        let c = jar.make(b"nonce-nonce-nonce", ip, &[1; 8]);
        assert!(jar.check(&c, b"nonce-nonce-nonce", ip, &[1; 8]));
        assert!(!jar.check(
            &c,
            b"nonce-nonce-nonce",
            "192.0.2.3".parse().unwrap(),
            &[1; 8]
        ));
        assert!(!jar.check(&c, b"nonce-nonce-nonce", ip, &[2; 8]));
        assert!(!jar.check(&c[..5], b"nonce-nonce-nonce", ip, &[1; 8]));
        jar.rotate(&rng, t0 + ROTATE);
        assert!(
            jar.check(&c, b"nonce-nonce-nonce", ip, &[1; 8]),
            "previous secret still valid"
        );
        jar.rotate(&rng, t0 + ROTATE * 2);
        assert!(
            !jar.check(&c, b"nonce-nonce-nonce", ip, &[1; 8]),
            "two rotations later it is stale"
        );
    }
}
