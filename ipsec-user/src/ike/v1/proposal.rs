//! Proposal construction and matching, phase 1 (ISAKMP policies) and
//! phase 2 (transform sets), with the reason for a mismatch in words.
//!
//! Responder choice is ASA behaviour: we walk OUR list in priority order
//! and take the first entry that matches ANY of the peer's offers, so the
//! responder's priorities win, not the initiator's.

use std::fmt;

use super::config::IsakmpPolicy;
use super::message::{Attr, Proposal, SaPayload, Transform};
use crate::algo::{DhGroup, EspCipher, EspInteg, EspTransform, IkeAuth, IkeEncryption, IkeHash};

/// Phase-1 attribute types (RFC 2409 appendix A).
pub mod p1 {
    pub const ENC: u16 = 1;
    pub const HASH: u16 = 2;
    pub const AUTH: u16 = 3;
    pub const GROUP: u16 = 4;
    pub const LIFE_TYPE: u16 = 11;
    pub const LIFE_DURATION: u16 = 12;
    pub const KEY_LEN: u16 = 14;
    pub const KEY_IKE: u8 = 1;
}

/// IPsec DOI attribute types (RFC 2407 4.5).
pub mod p2 {
    pub const LIFE_TYPE: u16 = 1;
    pub const LIFE_DURATION: u16 = 2;
    pub const GROUP: u16 = 3;
    pub const ENCAP: u16 = 4;
    pub const AUTH: u16 = 5;
    pub const KEY_LEN: u16 = 6;
    /// RFC 4304: Extended (64-bit) Sequence Number, value 1.
    pub const ESN: u16 = 11;
    pub const ENCAP_TUNNEL: u64 = 1;
    pub const ENCAP_TRANSPORT: u64 = 2;
    pub const ENCAP_UDP_TUNNEL: u64 = 3;
    pub const ENCAP_UDP_TUNNEL_DRAFT: u64 = 61443;
    pub const PROTO_ESP: u8 = 3;
}

const LIFE_SECONDS: u64 = 1;
const LIFE_KILOBYTES: u64 = 2;

/// What a peer offered in one phase-1 transform, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P1Offer {
    pub encryption: Option<IkeEncryption>,
    pub hash: Option<IkeHash>,
    pub auth: Option<IkeAuth>,
    pub group: Option<DhGroup>,
    pub lifetime_s: Option<u32>,
}

fn opt<T: fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "unsupported".into())
}

impl fmt::Display for P1Offer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/",
            opt(&self.encryption),
            opt(&self.hash),
            opt(&self.group)
        )?;
        match self.lifetime_s {
            Some(l) => write!(f, "{l}"),
            None => write!(f, "-"),
        }
    }
}

pub fn p1_transform(number: u8, p: &IsakmpPolicy) -> Transform {
    let (enc, keylen) = match p.encryption {
        IkeEncryption::Des => (1, None),
        IkeEncryption::TripleDes => (5, None),
        IkeEncryption::Aes128 => (7, Some(128)),
        IkeEncryption::Aes192 => (7, Some(192)),
        IkeEncryption::Aes256 => (7, Some(256)),
    };
    let hash = match p.hash {
        IkeHash::Md5 => 1,
        IkeHash::Sha1 => 2,
        IkeHash::Sha256 => 4,
        IkeHash::Sha384 => 5,
        IkeHash::Sha512 => 6,
    };
    let auth = match p.auth {
        IkeAuth::PreShare => 1,
        IkeAuth::RsaSig => 3,
    };
    let mut attrs = vec![Attr {
        atype: p1::ENC,
        value: enc,
    }];
    if let Some(k) = keylen {
        attrs.push(Attr {
            atype: p1::KEY_LEN,
            value: k,
        });
    }
    attrs.extend([
        Attr {
            atype: p1::HASH,
            value: hash,
        },
        Attr {
            atype: p1::GROUP,
            value: p.group.number() as u64,
        },
        Attr {
            atype: p1::AUTH,
            value: auth,
        },
        Attr {
            atype: p1::LIFE_TYPE,
            value: LIFE_SECONDS,
        },
        Attr {
            atype: p1::LIFE_DURATION,
            value: p.lifetime_s as u64,
        },
    ]);
    Transform {
        number,
        id: p1::KEY_IKE,
        attrs,
    }
}

/// The initiator's phase-1 SA: one proposal, our policies as transforms
/// in priority order.
pub fn p1_sa(policies: &[IsakmpPolicy]) -> SaPayload {
    let transforms = policies
        .iter()
        .enumerate()
        .map(|(i, p)| p1_transform(i as u8 + 1, p))
        .collect();
    SaPayload {
        proposals: vec![Proposal {
            number: 1,
            protocol: 1,
            spi: Vec::new(),
            transforms,
        }],
    }
}

fn life_seconds(t: &Transform, type_attr: u16, dur_attr: u16) -> (Option<u64>, Option<u64>) {
    // Life type and duration come in pairs; a duration applies to the type
    // that precedes it.
    let (mut secs, mut kb, mut cur) = (None, None, None);
    for a in &t.attrs {
        if a.atype == type_attr {
            cur = Some(a.value);
        } else if a.atype == dur_attr {
            match cur {
                Some(LIFE_SECONDS) => secs = Some(a.value),
                Some(LIFE_KILOBYTES) => kb = Some(a.value),
                _ => {}
            }
        }
    }
    (secs, kb)
}

pub fn decode_p1(t: &Transform) -> P1Offer {
    let keylen = t.attr(p1::KEY_LEN);
    let encryption = match (t.attr(p1::ENC), keylen) {
        (Some(1), _) => Some(IkeEncryption::Des),
        (Some(5), _) => Some(IkeEncryption::TripleDes),
        (Some(7), Some(128)) => Some(IkeEncryption::Aes128),
        (Some(7), Some(192)) => Some(IkeEncryption::Aes192),
        (Some(7), Some(256)) => Some(IkeEncryption::Aes256),
        _ => None,
    };
    let hash = match t.attr(p1::HASH) {
        Some(1) => Some(IkeHash::Md5),
        Some(2) => Some(IkeHash::Sha1),
        Some(4) => Some(IkeHash::Sha256),
        Some(5) => Some(IkeHash::Sha384),
        Some(6) => Some(IkeHash::Sha512),
        _ => None,
    };
    let auth = match t.attr(p1::AUTH) {
        Some(1) => Some(IkeAuth::PreShare),
        Some(3) => Some(IkeAuth::RsaSig),
        _ => None,
    };
    let group = t
        .attr(p1::GROUP)
        .and_then(|g| u16::try_from(g).ok())
        .and_then(DhGroup::from_number);
    let lifetime_s = life_seconds(t, p1::LIFE_TYPE, p1::LIFE_DURATION)
        .0
        .map(|v| v.min(u32::MAX as u64) as u32);
    P1Offer {
        encryption,
        hash,
        auth,
        group,
        lifetime_s,
    }
}

fn p1_diff(p: &IsakmpPolicy, o: &P1Offer) -> Vec<&'static str> {
    let mut d = Vec::new();
    if o.encryption != Some(p.encryption) {
        d.push("encryption");
    }
    if o.hash != Some(p.hash) {
        d.push("hash");
    }
    if o.auth != Some(p.auth) {
        d.push("authentication");
    }
    if o.group != Some(p.group) {
        d.push("DH group");
    }
    d
}

/// The responder's phase-1 choice.
#[derive(Debug, Clone)]
pub struct P1Choice {
    pub policy: IsakmpPolicy,
    /// The lifetime both sides use: the shorter of ours and the offer.
    pub lifetime_s: u32,
    /// We shortened the peer's lifetime: send RESPONDER-LIFETIME.
    pub shortened: bool,
    /// The offered transform, echoed back verbatim in our SA.
    pub transform: Transform,
}

/// A policy this build can negotiate: its DH group is computable (not
/// P-521) and it authenticates with a pre-shared key. `rsa-sig` needs
/// certificates, which do not exist yet: matching it would run phase 1 as
/// PSK under another name, so it never matches (and `check` refuses it).
pub fn usable_p1(p: &IsakmpPolicy) -> bool {
    crate::ike::crypto::dh::is_supported(p.group) && p.auth == IkeAuth::PreShare
}

pub fn choose_p1(ours: &[IsakmpPolicy], offered: &SaPayload) -> Result<P1Choice, String> {
    let offers: Vec<(&Transform, P1Offer)> = offered
        .proposals
        .iter()
        .filter(|p| p.protocol == 1)
        .flat_map(|p| p.transforms.iter())
        .map(|t| (t, decode_p1(t)))
        .collect();
    for p in ours.iter().filter(|p| usable_p1(p)) {
        for (t, o) in &offers {
            if p1_diff(p, o).is_empty() {
                let offered_life = o.lifetime_s.unwrap_or(p.lifetime_s);
                let lifetime_s = offered_life.min(p.lifetime_s);
                return Ok(P1Choice {
                    policy: *p,
                    lifetime_s,
                    shortened: lifetime_s < offered_life,
                    transform: (*t).clone(),
                });
            }
        }
    }
    let theirs: Vec<String> = offers.iter().map(|(_, o)| o.to_string()).collect();
    let mine: Vec<String> = ours.iter().map(|p| p.to_string()).collect();
    let mut reason = format!(
        "no ISAKMP policy matched: peer offered {}; ours: {}",
        if theirs.is_empty() {
            "nothing usable".to_string()
        } else {
            theirs.join(", ")
        },
        mine.join(", ")
    );
    // Name the attribute of the closest pair, which is what an engineer fixes.
    if let Some((p, d)) = ours
        .iter()
        .flat_map(|p| offers.iter().map(move |(_, o)| (p, p1_diff(p, o))))
        .min_by_key(|(_, d)| d.len())
    {
        reason.push_str(&format!(
            " (closest: policy {} differs in {})",
            p.priority,
            d.join(", ")
        ));
    }
    Err(reason)
}

// ---------------------------------------------------------------- phase 2

/// ESP transform id and key length attribute for a cipher.
fn esp_id(c: EspCipher) -> (u8, Option<u64>) {
    match c {
        EspCipher::Null => (11, None),
        EspCipher::Des => (2, None),
        EspCipher::TripleDes => (3, None),
        EspCipher::Aes128Cbc => (12, Some(128)),
        EspCipher::Aes192Cbc => (12, Some(192)),
        EspCipher::Aes256Cbc => (12, Some(256)),
        EspCipher::Aes128Gcm => (20, Some(128)),
        EspCipher::Aes256Gcm => (20, Some(256)),
        // RFC 7634: ChaCha20-Poly1305 has a fixed key and no key-length attribute
        EspCipher::ChaCha20Poly1305 => (28, None),
    }
}

fn esp_auth(i: EspInteg) -> Option<u64> {
    match i {
        EspInteg::None => None,
        EspInteg::HmacMd5_96 => Some(1),
        EspInteg::HmacSha1_96 => Some(2),
        EspInteg::HmacSha256_128 => Some(5),
        EspInteg::HmacSha384_192 => Some(6),
        EspInteg::HmacSha512_256 => Some(7),
    }
}

/// Phase-2 parameters common to every proposal we make or accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P2Params {
    pub pfs: Option<DhGroup>,
    pub encap: u64,
    pub lifetime_s: u32,
    pub lifetime_kb: Option<u64>,
}

pub fn p2_transform(number: u8, t: &EspTransform, p: &P2Params) -> Transform {
    let (id, keylen) = esp_id(t.cipher);
    let mut attrs = vec![
        Attr {
            atype: p2::LIFE_TYPE,
            value: LIFE_SECONDS,
        },
        Attr {
            atype: p2::LIFE_DURATION,
            value: p.lifetime_s as u64,
        },
    ];
    if let Some(kb) = p.lifetime_kb {
        attrs.push(Attr {
            atype: p2::LIFE_TYPE,
            value: LIFE_KILOBYTES,
        });
        attrs.push(Attr {
            atype: p2::LIFE_DURATION,
            value: kb,
        });
    }
    if let Some(g) = p.pfs {
        attrs.push(Attr {
            atype: p2::GROUP,
            value: g.number() as u64,
        });
    }
    attrs.push(Attr {
        atype: p2::ENCAP,
        value: p.encap,
    });
    if let Some(a) = esp_auth(t.integ) {
        attrs.push(Attr {
            atype: p2::AUTH,
            value: a,
        });
    }
    if let Some(k) = keylen {
        attrs.push(Attr {
            atype: p2::KEY_LEN,
            value: k,
        });
    }
    Transform { number, id, attrs }
}

/// The initiator's quick-mode SA: one ESP proposal per transform, in order,
/// all carrying our inbound SPI.
pub fn p2_sa(transforms: &[EspTransform], p: &P2Params, spi: u32) -> SaPayload {
    let proposals = transforms
        .iter()
        .enumerate()
        .map(|(i, t)| Proposal {
            number: i as u8 + 1,
            protocol: p2::PROTO_ESP,
            spi: spi.to_be_bytes().to_vec(),
            transforms: vec![p2_transform(1, t, p)],
        })
        .collect();
    SaPayload { proposals }
}

/// A decoded ESP transform offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P2Offer {
    pub esp: Option<EspTransform>,
    pub pfs: Option<DhGroup>,
    pub encap: Option<u64>,
    pub lifetime_s: Option<u64>,
    pub lifetime_kb: Option<u64>,
    /// 64-bit sequence numbers (RFC 4304). The ESP engine supports them,
    /// so an offer with ESN is accepted with ESN: both ends must agree, or
    /// every ICV (and AEAD tag) fails.
    pub esn: bool,
}

impl fmt::Display for P2Offer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.esp {
            Some(e) => write!(f, "{e}")?,
            None => write!(f, "unsupported transform")?,
        }
        if let Some(g) = self.pfs {
            write!(f, " pfs {g}")?;
        }
        if self.esn {
            write!(f, " esn")?;
        }
        Ok(())
    }
}

pub fn decode_p2(t: &Transform) -> P2Offer {
    let keylen = t.attr(p2::KEY_LEN);
    let cipher = match (t.id, keylen) {
        (2, _) => Some(EspCipher::Des),
        (3, _) => Some(EspCipher::TripleDes),
        (11, _) => Some(EspCipher::Null),
        (12, Some(128) | None) => Some(EspCipher::Aes128Cbc),
        (12, Some(192)) => Some(EspCipher::Aes192Cbc),
        (12, Some(256)) => Some(EspCipher::Aes256Cbc),
        (20, Some(128)) => Some(EspCipher::Aes128Gcm),
        (20, Some(256)) => Some(EspCipher::Aes256Gcm),
        (28, _) => Some(EspCipher::ChaCha20Poly1305),
        _ => None,
    };
    let integ = match t.attr(p2::AUTH) {
        None => Some(EspInteg::None),
        Some(1) => Some(EspInteg::HmacMd5_96),
        Some(2) => Some(EspInteg::HmacSha1_96),
        Some(5) => Some(EspInteg::HmacSha256_128),
        Some(6) => Some(EspInteg::HmacSha384_192),
        Some(7) => Some(EspInteg::HmacSha512_256),
        Some(_) => None,
    };
    let esp = match (cipher, integ) {
        (Some(cipher), Some(integ)) => Some(EspTransform { cipher, integ }),
        _ => None,
    };
    let pfs = t
        .attr(p2::GROUP)
        .and_then(|g| u16::try_from(g).ok())
        .and_then(DhGroup::from_number);
    let (lifetime_s, lifetime_kb) = life_seconds(t, p2::LIFE_TYPE, p2::LIFE_DURATION);
    P2Offer {
        esp,
        pfs,
        encap: t.attr(p2::ENCAP),
        lifetime_s,
        lifetime_kb,
        esn: t.attr(p2::ESN) == Some(1),
    }
}

/// The responder's phase-2 choice.
#[derive(Debug, Clone)]
pub struct P2Choice {
    pub esp: EspTransform,
    pub proposal: Proposal,
    pub offer: P2Offer,
    pub pfs: Option<DhGroup>,
    pub lifetime_s: u32,
    pub lifetime_kb: Option<u64>,
    pub shortened: bool,
    pub peer_spi: u32,
}

pub fn choose_p2(
    ours: &[EspTransform],
    pfs: Option<DhGroup>,
    life_s: u32,
    life_kb: Option<u64>,
    offered: &SaPayload,
) -> Result<P2Choice, String> {
    let offers: Vec<(&Proposal, P2Offer)> = offered
        .proposals
        .iter()
        .filter(|p| p.protocol == p2::PROTO_ESP && p.spi.len() == 4)
        .filter_map(|p| p.transforms.first().map(|t| (p, decode_p2(t))))
        .collect();
    for mine in ours {
        for (p, o) in &offers {
            if o.esp != Some(*mine) {
                continue;
            }
            // With PFS configured the peer must use our group; without it
            // we accept whatever group the initiator asks for (IOS/ASA do).
            if pfs.is_some() && o.pfs != pfs {
                continue;
            }
            if !matches!(
                o.encap,
                Some(p2::ENCAP_TUNNEL | p2::ENCAP_UDP_TUNNEL | p2::ENCAP_UDP_TUNNEL_DRAFT)
            ) {
                continue;
            }
            let offered_s = o.lifetime_s.unwrap_or(life_s as u64);
            let lifetime_s = offered_s.min(life_s as u64) as u32;
            let lifetime_kb = match (o.lifetime_kb, life_kb) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let shortened = (lifetime_s as u64) < offered_s
                || matches!((o.lifetime_kb, lifetime_kb), (Some(a), Some(b)) if b < a);
            let spi = u32::from_be_bytes([p.spi[0], p.spi[1], p.spi[2], p.spi[3]]);
            return Ok(P2Choice {
                esp: *mine,
                proposal: (*p).clone(),
                offer: *o,
                pfs: o.pfs,
                lifetime_s,
                lifetime_kb,
                shortened,
                peer_spi: spi,
            });
        }
    }
    let theirs: Vec<String> = offers
        .iter()
        .map(|(_, o)| {
            let mut s = o.to_string();
            if o.encap == Some(p2::ENCAP_TRANSPORT) {
                s.push_str(" (transport mode)");
            }
            s
        })
        .collect();
    let mine: Vec<String> = ours.iter().map(|t| t.to_string()).collect();
    let pfs_s = pfs.map(|g| format!(" pfs {g}")).unwrap_or_default();
    Err(format!(
        "no transform set matched: peer offered {}; ours {}{}",
        if theirs.is_empty() {
            "nothing usable".into()
        } else {
            theirs.join(", ")
        },
        mine.join(", "),
        pfs_s
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> Vec<EspTransform> {
        vec![EspTransform {
            cipher: EspCipher::Aes256Gcm,
            integ: EspInteg::None,
        }]
    }

    fn offer(encap: u64) -> SaPayload {
        let p = P2Params {
            pfs: None,
            encap,
            lifetime_s: 3600,
            lifetime_kb: None,
        };
        p2_sa(&ours(), &p, 0x1234_5678)
    }

    #[test]
    fn udp_tunnel_modes_accepted_transport_refused() {
        for encap in [
            p2::ENCAP_TUNNEL,
            p2::ENCAP_UDP_TUNNEL,
            p2::ENCAP_UDP_TUNNEL_DRAFT,
        ] {
            let c = choose_p2(&ours(), None, 28800, None, &offer(encap)).unwrap();
            assert_eq!(c.peer_spi, 0x1234_5678);
            assert_eq!(c.lifetime_s, 3600, "the initiator's shorter lifetime");
            assert!(!c.shortened);
        }
        let e = choose_p2(&ours(), None, 28800, None, &offer(p2::ENCAP_TRANSPORT)).unwrap_err();
        assert_eq!(
            e,
            "no transform set matched: peer offered esp-aes-gcm-256 (transport mode); ours esp-aes-gcm-256"
        );
    }

    /// RFC 4304: a peer that offers 64-bit sequence numbers gets them. The
    /// chosen proposal (echoed in our reply) keeps the attribute and the
    /// choice says so, so both ends install ESN SAs; without it the peer
    /// would authenticate the high half and we would not.
    #[test]
    fn esn_offer_is_accepted_with_esn() {
        let plain = choose_p2(&ours(), None, 28800, None, &offer(p2::ENCAP_UDP_TUNNEL)).unwrap();
        assert!(!plain.offer.esn);
        let mut with_esn = offer(p2::ENCAP_UDP_TUNNEL);
        with_esn.proposals[0].transforms[0].attrs.push(Attr {
            atype: p2::ESN,
            value: 1,
        });
        let c = choose_p2(&ours(), None, 28800, None, &with_esn).unwrap();
        assert!(c.offer.esn);
        assert_eq!(c.offer.to_string(), "esp-aes-gcm-256 esn");
        assert_eq!(c.proposal.transforms[0].attr(p2::ESN), Some(1));
    }

    #[test]
    fn longer_phase2_lifetime_is_shortened() {
        let c = choose_p2(&ours(), None, 1800, None, &offer(p2::ENCAP_TUNNEL)).unwrap();
        assert_eq!(c.lifetime_s, 1800);
        assert!(c.shortened);
    }

    #[test]
    fn phase1_transform_round_trips_through_the_decoder() {
        let p = IsakmpPolicy {
            priority: 10,
            encryption: IkeEncryption::Aes192,
            hash: IkeHash::Sha384,
            auth: IkeAuth::PreShare,
            group: DhGroup::Ecp384,
            lifetime_s: 86400,
        };
        let o = decode_p1(&p1_transform(1, &p));
        assert_eq!(o.encryption, Some(IkeEncryption::Aes192));
        assert_eq!(o.hash, Some(IkeHash::Sha384));
        assert_eq!(o.group, Some(DhGroup::Ecp384));
        assert_eq!(o.lifetime_s, Some(86400));
        assert_eq!(o.to_string(), "aes-192/sha384/group 20/86400");
    }
}
