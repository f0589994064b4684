//! IKEv2 SA proposals: building ours from the configuration, choosing from
//! the peer's (as responder), checking the peer's choice (as initiator),
//! and saying in words what did not match.

use std::fmt::Write as _;

use crate::algo::{
    DhGroup, EspCipher, EspInteg, EspTransform, Ikev2Encryption, Ikev2Integrity, Ikev2Prf,
};
use crate::ike::config::Ikev2Policy;
use crate::ike::crypto::keys_v2::Ikev2Suite;
use crate::ike::wire::v2::{ProposalV2, SaV2, TransformV2, protocol, transform_type as tt};

const ENCR_DES: u16 = 2;
const ENCR_3DES: u16 = 3;
const ENCR_NULL: u16 = 11;
const ENCR_AES_CBC: u16 = 12;
const ENCR_AES_GCM_16: u16 = 20;
const ENCR_CHACHA20_POLY1305: u16 = 28;

fn t(kind: u8, id: u16, key_len: Option<u16>) -> TransformV2 {
    TransformV2 { kind, id, key_len }
}

pub fn ike_encr(e: Ikev2Encryption) -> TransformV2 {
    match e {
        Ikev2Encryption::Des => t(tt::ENCR, ENCR_DES, None),
        Ikev2Encryption::TripleDes => t(tt::ENCR, ENCR_3DES, None),
        Ikev2Encryption::Aes128 => t(tt::ENCR, ENCR_AES_CBC, Some(128)),
        Ikev2Encryption::Aes192 => t(tt::ENCR, ENCR_AES_CBC, Some(192)),
        Ikev2Encryption::Aes256 => t(tt::ENCR, ENCR_AES_CBC, Some(256)),
        Ikev2Encryption::Aes128Gcm => t(tt::ENCR, ENCR_AES_GCM_16, Some(128)),
        Ikev2Encryption::Aes256Gcm => t(tt::ENCR, ENCR_AES_GCM_16, Some(256)),
    }
}

pub fn ike_integ_id(i: Ikev2Integrity) -> Option<u16> {
    match i {
        Ikev2Integrity::Null => None,
        Ikev2Integrity::Md5 => Some(1),
        Ikev2Integrity::Sha1 => Some(2),
        Ikev2Integrity::Sha256 => Some(12),
        Ikev2Integrity::Sha384 => Some(13),
        Ikev2Integrity::Sha512 => Some(14),
    }
}

pub fn prf_id(p: Ikev2Prf) -> u16 {
    match p {
        Ikev2Prf::Md5 => 1,
        Ikev2Prf::Sha1 => 2,
        Ikev2Prf::Sha256 => 5,
        Ikev2Prf::Sha384 => 6,
        Ikev2Prf::Sha512 => 7,
    }
}

fn esp_encr(c: EspCipher) -> TransformV2 {
    match c {
        EspCipher::Null => t(tt::ENCR, ENCR_NULL, None),
        EspCipher::Des => t(tt::ENCR, ENCR_DES, None),
        EspCipher::TripleDes => t(tt::ENCR, ENCR_3DES, None),
        EspCipher::Aes128Cbc => t(tt::ENCR, ENCR_AES_CBC, Some(128)),
        EspCipher::Aes192Cbc => t(tt::ENCR, ENCR_AES_CBC, Some(192)),
        EspCipher::Aes256Cbc => t(tt::ENCR, ENCR_AES_CBC, Some(256)),
        EspCipher::Aes128Gcm => t(tt::ENCR, ENCR_AES_GCM_16, Some(128)),
        EspCipher::Aes256Gcm => t(tt::ENCR, ENCR_AES_GCM_16, Some(256)),
        EspCipher::ChaCha20Poly1305 => t(tt::ENCR, ENCR_CHACHA20_POLY1305, None),
    }
}

fn esp_integ_id(i: EspInteg) -> Option<u16> {
    match i {
        EspInteg::None => None,
        EspInteg::HmacMd5_96 => Some(1),
        EspInteg::HmacSha1_96 => Some(2),
        EspInteg::HmacSha256_128 => Some(12),
        EspInteg::HmacSha384_192 => Some(13),
        EspInteg::HmacSha512_256 => Some(14),
    }
}

/// Our IKE SA offer: per policy, one proposal for its combined-mode
/// ciphers and one for the others (an AEAD proposal carries no
/// integrity, RFC 7296 3.3), with the groups in the policy's order but
/// `group` (the one our KE carries) first.
pub fn ike_offer(policies: &[Ikev2Policy], group: DhGroup, spi: &[u8]) -> SaV2 {
    let mut proposals = Vec::new();
    for p in policies {
        for aead in [true, false] {
            let encr: Vec<_> = p
                .encryption
                .iter()
                .filter(|e| e.is_aead() == aead)
                .collect();
            if encr.is_empty() {
                continue;
            }
            let mut ts: Vec<TransformV2> = encr.iter().map(|e| ike_encr(**e)).collect();
            for prf in p.prfs() {
                ts.push(t(tt::PRF, prf_id(prf), None));
            }
            if !aead {
                for i in p.integrity.iter().filter_map(|i| ike_integ_id(*i)) {
                    ts.push(t(tt::INTEG, i, None));
                }
            }
            let mut groups = p.groups.clone();
            if let Some(pos) = groups.iter().position(|g| *g == group) {
                groups.remove(pos);
                groups.insert(0, group);
            }
            for g in groups {
                ts.push(t(tt::DH, g.number(), None));
            }
            proposals.push(ProposalV2 {
                num: (proposals.len() + 1).min(255) as u8,
                protocol: protocol::IKE,
                spi: spi.to_vec(),
                transforms: ts,
            });
        }
    }
    SaV2 { proposals }
}

/// The first group we would send a KE for.
pub fn preferred_group(policies: &[Ikev2Policy]) -> Option<DhGroup> {
    policies
        .iter()
        .flat_map(|p| p.groups.iter())
        .copied()
        .next()
}

/// What a responder chose from an IKE proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IkeChoice {
    pub suite: Ikev2Suite,
    pub group: DhGroup,
}

fn encr_from(tr: &TransformV2) -> Option<Ikev2Encryption> {
    Some(match (tr.id, tr.key_len) {
        (ENCR_DES, None) => Ikev2Encryption::Des,
        (ENCR_3DES, None) => Ikev2Encryption::TripleDes,
        (ENCR_AES_CBC, Some(128)) => Ikev2Encryption::Aes128,
        (ENCR_AES_CBC, Some(192)) => Ikev2Encryption::Aes192,
        (ENCR_AES_CBC, Some(256)) => Ikev2Encryption::Aes256,
        (ENCR_AES_GCM_16, Some(128)) => Ikev2Encryption::Aes128Gcm,
        (ENCR_AES_GCM_16, Some(256)) => Ikev2Encryption::Aes256Gcm,
        _ => return None,
    })
}

fn integ_from(id: u16) -> Option<Ikev2Integrity> {
    Some(match id {
        1 => Ikev2Integrity::Md5,
        2 => Ikev2Integrity::Sha1,
        12 => Ikev2Integrity::Sha256,
        13 => Ikev2Integrity::Sha384,
        14 => Ikev2Integrity::Sha512,
        _ => return None,
    })
}

fn prf_from(id: u16) -> Option<Ikev2Prf> {
    Some(match id {
        1 => Ikev2Prf::Md5,
        2 => Ikev2Prf::Sha1,
        5 => Ikev2Prf::Sha256,
        6 => Ikev2Prf::Sha384,
        7 => Ikev2Prf::Sha512,
        _ => return None,
    })
}

/// Why no IKE proposal was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IkeRefusal {
    /// Nothing in common.
    NoMatch(String),
    /// A proposal matches, but with another group than the KE's: answer
    /// INVALID_KE_PAYLOAD naming `0`.
    WrongGroup(DhGroup),
}

/// Responder: the first of the peer's proposals (in its order) that one
/// of our policies allows, with the first transform of each type (peer's
/// order) we accept. `ke_group`: the group of the peer's KE payload.
pub fn choose_ike(
    policies: &[Ikev2Policy],
    offer: &SaV2,
    ke_group: u16,
) -> Result<(IkeChoice, ProposalV2), IkeRefusal> {
    let mut wrong_group: Option<DhGroup> = None;
    for prop in offer
        .proposals
        .iter()
        .filter(|p| p.protocol == protocol::IKE)
    {
        for pol in policies {
            let encr = prop
                .transforms
                .iter()
                .filter(|t| t.kind == tt::ENCR)
                .find_map(|t| {
                    encr_from(t)
                        .filter(|e| pol.encryption.contains(e))
                        .map(|e| (e, *t))
                });
            let Some((encr, encr_t)) = encr else { continue };
            let prfs = pol.prfs();
            let prf = prop
                .transforms
                .iter()
                .filter(|t| t.kind == tt::PRF)
                .find_map(|t| prf_from(t.id).filter(|p| prfs.contains(p)).map(|p| (p, *t)));
            let Some((prf, prf_t)) = prf else { continue };
            let integ = if encr.is_aead() {
                // RFC 7296 3.3: an AEAD proposal has no integrity (or NONE).
                let any = prop
                    .transforms
                    .iter()
                    .any(|t| t.kind == tt::INTEG && t.id != 0);
                if any {
                    continue;
                }
                (Ikev2Integrity::Null, None)
            } else {
                let i = prop
                    .transforms
                    .iter()
                    .filter(|t| t.kind == tt::INTEG)
                    .find_map(|t| {
                        integ_from(t.id)
                            .filter(|i| pol.integrity.contains(i))
                            .map(|i| (i, Some(*t)))
                    });
                let Some(i) = i else { continue };
                i
            };
            let groups: Vec<DhGroup> = prop
                .transforms
                .iter()
                .filter(|t| t.kind == tt::DH)
                .filter_map(|t| DhGroup::from_number(t.id))
                .filter(|g| pol.groups.contains(g))
                .collect();
            if groups.is_empty() {
                continue;
            }
            let Some(group) = groups.iter().find(|g| g.number() == ke_group).copied() else {
                // Our preference among what both allow.
                let ours = pol.groups.iter().find(|g| groups.contains(g)).copied();
                if wrong_group.is_none() {
                    wrong_group = ours;
                }
                continue;
            };
            let mut ts = vec![encr_t, prf_t];
            if let (_, Some(it)) = integ {
                ts.push(it);
            }
            ts.push(t(tt::DH, group.number(), None));
            let chosen = ProposalV2 {
                num: prop.num,
                protocol: protocol::IKE,
                spi: prop.spi.clone(),
                transforms: ts,
            };
            return Ok((
                IkeChoice {
                    suite: Ikev2Suite {
                        encr,
                        integ: integ.0,
                        prf,
                    },
                    group,
                },
                chosen,
            ));
        }
    }
    match wrong_group {
        Some(g) => Err(IkeRefusal::WrongGroup(g)),
        None => Err(IkeRefusal::NoMatch(format!(
            "the peer offered {}; we allow {}",
            describe_ike_offer(offer),
            describe_policies(policies)
        ))),
    }
}

/// Initiator: the responder's one proposal must be one we offered.
pub fn accept_ike(policies: &[Ikev2Policy], chosen: &SaV2) -> Option<IkeChoice> {
    let [prop] = chosen.proposals.as_slice() else {
        return None;
    };
    let one = |kind| {
        let mut it = prop.transforms.iter().filter(move |t| t.kind == kind);
        let first = it.next();
        if it.next().is_some() {
            None
        } else {
            first.copied()
        }
    };
    let encr = encr_from(&one(tt::ENCR)?)?;
    let prf = prf_from(one(tt::PRF)?.id)?;
    let integ = match one(tt::INTEG) {
        Some(t) if t.id != 0 => integ_from(t.id)?,
        _ => Ikev2Integrity::Null,
    };
    let group = DhGroup::from_number(one(tt::DH)?.id)?;
    let ok = policies.iter().any(|p| {
        p.encryption.contains(&encr)
            && p.prfs().contains(&prf)
            && p.groups.contains(&group)
            && (if encr.is_aead() {
                integ == Ikev2Integrity::Null
            } else {
                p.integrity.contains(&integ)
            })
    });
    ok.then_some(IkeChoice {
        suite: Ikev2Suite { encr, integ, prf },
        group,
    })
}

/// Our CHILD SA offer: one proposal per configured transform (in order),
/// each with our SPI, no ESN, and `pfs` as its DH transform.
pub fn esp_offer(transforms: &[EspTransform], spi: u32, pfs: Option<DhGroup>) -> SaV2 {
    let proposals = transforms
        .iter()
        .enumerate()
        .map(|(i, tr)| {
            let mut ts = vec![esp_encr(tr.cipher)];
            if let Some(id) = esp_integ_id(tr.integ) {
                ts.push(t(tt::INTEG, id, None));
            }
            if let Some(g) = pfs {
                ts.push(t(tt::DH, g.number(), None));
            }
            ts.push(t(tt::ESN, 0, None));
            ProposalV2 {
                num: (i + 1).min(255) as u8,
                protocol: protocol::ESP,
                spi: spi.to_be_bytes().to_vec(),
                transforms: ts,
            }
        })
        .collect();
    SaV2 { proposals }
}

/// What was agreed for a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspChoice {
    pub transform: EspTransform,
    /// The peer's SPI (inbound for it: our outbound).
    pub peer_spi: u32,
    pub esn: bool,
    pub pfs: Option<DhGroup>,
}

fn esp_matches(prop: &ProposalV2, tr: &EspTransform) -> bool {
    let want_encr = esp_encr(tr.cipher);
    let encr_ok = prop
        .transforms
        .iter()
        .any(|t| t.kind == tt::ENCR && t.id == want_encr.id && t.key_len == want_encr.key_len);
    let integ_ok = match esp_integ_id(tr.integ) {
        Some(id) => prop
            .transforms
            .iter()
            .any(|t| t.kind == tt::INTEG && t.id == id),
        None => !prop
            .transforms
            .iter()
            .any(|t| t.kind == tt::INTEG && t.id != 0),
    };
    encr_ok && integ_ok
}

fn esn_of(prop: &ProposalV2) -> Option<bool> {
    let esns: Vec<u16> = prop
        .transforms
        .iter()
        .filter(|t| t.kind == tt::ESN)
        .map(|t| t.id)
        .collect();
    if esns.is_empty() || esns.contains(&0) {
        Some(false)
    } else if esns.contains(&1) {
        Some(true)
    } else {
        None
    }
}

/// Why no ESP proposal was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EspRefusal {
    NoMatch(String),
    /// PFS group differs from the KE's (or KE missing): INVALID_KE_PAYLOAD.
    WrongGroup(DhGroup),
}

/// Responder: the first peer proposal (peer's order) matching one of our
/// transforms, with our PFS requirement: with `pfs` set, the proposal must
/// allow that group and the KE (`ke_group`) must carry it; without, the
/// proposal must allow no DH (or NONE).
pub fn choose_esp(
    transforms: &[EspTransform],
    pfs: Option<DhGroup>,
    offer: &SaV2,
    ke_group: Option<u16>,
) -> Result<(EspChoice, ProposalV2), EspRefusal> {
    let mut wrong_group = None;
    for prop in offer
        .proposals
        .iter()
        .filter(|p| p.protocol == protocol::ESP)
    {
        let Ok(spi) = <[u8; 4]>::try_from(prop.spi.as_slice()) else {
            continue;
        };
        let Some(tr) = transforms.iter().find(|tr| esp_matches(prop, tr)) else {
            continue;
        };
        let Some(esn) = esn_of(prop) else { continue };
        let dh: Vec<u16> = prop
            .transforms
            .iter()
            .filter(|t| t.kind == tt::DH)
            .map(|t| t.id)
            .collect();
        match pfs {
            Some(g) => {
                if !dh.contains(&g.number()) {
                    continue;
                }
                if ke_group != Some(g.number()) {
                    wrong_group = Some(g);
                    continue;
                }
            }
            None => {
                if !(dh.is_empty() || dh.contains(&0)) {
                    continue;
                }
            }
        }
        let mut ts = vec![esp_encr(tr.cipher)];
        if let Some(id) = esp_integ_id(tr.integ) {
            ts.push(t(tt::INTEG, id, None));
        }
        if let Some(g) = pfs {
            ts.push(t(tt::DH, g.number(), None));
        }
        ts.push(t(tt::ESN, u16::from(esn), None));
        return Ok((
            EspChoice {
                transform: *tr,
                peer_spi: u32::from_be_bytes(spi),
                esn,
                pfs,
            },
            ProposalV2 {
                num: prop.num,
                protocol: protocol::ESP,
                spi: Vec::new(), // the caller puts our SPI here
                transforms: ts,
            },
        ));
    }
    match wrong_group {
        Some(g) => Err(EspRefusal::WrongGroup(g)),
        None => Err(EspRefusal::NoMatch(format!(
            "the peer offered ESP {}; we allow {}{}",
            describe_esp_offer(offer),
            transforms
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            pfs.map(|g| format!(" with PFS {g}")).unwrap_or_default()
        ))),
    }
}

/// Initiator: the responder's chosen ESP proposal must be one we offered.
pub fn accept_esp(
    transforms: &[EspTransform],
    pfs: Option<DhGroup>,
    chosen: &SaV2,
) -> Option<EspChoice> {
    let [prop] = chosen.proposals.as_slice() else {
        return None;
    };
    if prop.protocol != protocol::ESP {
        return None;
    }
    let spi = u32::from_be_bytes(<[u8; 4]>::try_from(prop.spi.as_slice()).ok()?);
    let tr = transforms.iter().find(|tr| esp_matches(prop, tr))?;
    let esn = esn_of(prop)?;
    let dh: Vec<u16> = prop
        .transforms
        .iter()
        .filter(|t| t.kind == tt::DH && t.id != 0)
        .map(|t| t.id)
        .collect();
    let agreed_pfs = match (pfs, dh.as_slice()) {
        (Some(g), [x]) if *x == g.number() => Some(g),
        (None, []) => None,
        _ => return None,
    };
    Some(EspChoice {
        transform: *tr,
        peer_spi: spi,
        esn,
        pfs: agreed_pfs,
    })
}

fn encr_name(t: &TransformV2) -> String {
    match (t.id, t.key_len) {
        (ENCR_DES, _) => "DES".into(),
        (ENCR_3DES, _) => "3DES".into(),
        (ENCR_NULL, _) => "NULL".into(),
        (ENCR_AES_CBC, Some(k)) => format!("AES-CBC-{k}"),
        (ENCR_AES_GCM_16, Some(k)) => format!("AES-GCM-{k}"),
        (ENCR_CHACHA20_POLY1305, _) => "CHACHA20-POLY1305".into(),
        (id, Some(k)) => format!("ENCR#{id}-{k}"),
        (id, None) => format!("ENCR#{id}"),
    }
}

fn integ_name(id: u16) -> String {
    match id {
        0 => "none".into(),
        1 => "MD5".into(),
        2 => "SHA1".into(),
        12 => "SHA256".into(),
        13 => "SHA384".into(),
        14 => "SHA512".into(),
        x => format!("INTEG#{x}"),
    }
}

fn prf_name(id: u16) -> String {
    match prf_from(id) {
        Some(p) => format!("PRF-{}", p.keyword().to_ascii_uppercase()),
        None => format!("PRF#{id}"),
    }
}

fn describe_proposal(p: &ProposalV2, out: &mut String) {
    let mut parts: Vec<String> = Vec::new();
    for t in &p.transforms {
        parts.push(match t.kind {
            tt::ENCR => encr_name(t),
            tt::INTEG => integ_name(t.id),
            tt::PRF => prf_name(t.id),
            tt::DH => format!("group {}", t.id),
            tt::ESN => continue,
            k => format!("T{k}#{}", t.id),
        });
    }
    let _ = write!(out, "[{}]", parts.join("/"));
}

/// The peer's IKE proposals in words.
pub fn describe_ike_offer(offer: &SaV2) -> String {
    let mut s = String::new();
    for (i, p) in offer.proposals.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        describe_proposal(p, &mut s);
    }
    if s.is_empty() {
        s.push_str("nothing");
    }
    s
}

fn describe_esp_offer(offer: &SaV2) -> String {
    describe_ike_offer(offer)
}

/// Our IKEv2 policies in words.
pub fn describe_policies(policies: &[Ikev2Policy]) -> String {
    if policies.is_empty() {
        return "no crypto ikev2 policy".into();
    }
    policies
        .iter()
        .map(|p| {
            format!(
                "policy {} [{} / integrity {} / prf {} / group {}]",
                p.priority,
                p.encryption
                    .iter()
                    .map(|e| e.keyword())
                    .collect::<Vec<_>>()
                    .join(" "),
                p.integrity
                    .iter()
                    .map(|e| e.keyword())
                    .collect::<Vec<_>>()
                    .join(" "),
                p.prfs()
                    .iter()
                    .map(|e| e.keyword())
                    .collect::<Vec<_>>()
                    .join(" "),
                p.groups
                    .iter()
                    .map(|g| g.number().to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ASA `Encr:` word and key size of an IKE suite.
pub fn asa_encr(e: Ikev2Encryption) -> (&'static str, u16) {
    match e {
        Ikev2Encryption::Des => ("DES", 56),
        Ikev2Encryption::TripleDes => ("3DES", 168),
        Ikev2Encryption::Aes128 => ("AES-CBC", 128),
        Ikev2Encryption::Aes192 => ("AES-CBC", 192),
        Ikev2Encryption::Aes256 => ("AES-CBC", 256),
        Ikev2Encryption::Aes128Gcm => ("AES-GCM", 128),
        Ikev2Encryption::Aes256Gcm => ("AES-GCM", 256),
    }
}

pub fn asa_integ(i: Ikev2Integrity) -> &'static str {
    match i {
        Ikev2Integrity::Null => "none",
        Ikev2Integrity::Md5 => "MD5",
        Ikev2Integrity::Sha1 => "SHA96",
        Ikev2Integrity::Sha256 => "SHA256",
        Ikev2Integrity::Sha384 => "SHA384",
        Ikev2Integrity::Sha512 => "SHA512",
    }
}

pub fn asa_prf(p: Ikev2Prf) -> &'static str {
    match p {
        Ikev2Prf::Md5 => "MD5",
        Ikev2Prf::Sha1 => "SHA1",
        Ikev2Prf::Sha256 => "SHA256",
        Ikev2Prf::Sha384 => "SHA384",
        Ikev2Prf::Sha512 => "SHA512",
    }
}
