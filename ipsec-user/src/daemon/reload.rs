//! Live reconfiguration: what a new configuration changes, tunnel by
//! tunnel. A tunnel here is one selector (a crypto-map ACL permit line
//! with its entry's peers, keys and algorithms). One whose every setting is
//! unchanged keeps its selector id, so its data-plane line, outbound SA
//! and child SAs stay exactly where they are and it loses no packet. One
//! that is gone or changed in any setting is a removal (its SAs are
//! deleted, the peer told); a changed one comes back as a new selector
//! that traffic negotiates afresh.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use sha2::{Digest, Sha256};

use super::mapping::{self, SelectorInfo};
use crate::config::Config;
use crate::ike::v1::config::PeerConfig;

/// Everything about a selector that, if it changes, changes its SAs. The
/// keys enter as a digest only: the signature is compared, never shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature([u8; 32]);

/// Everything about a peer address that, if it changes, invalidates its
/// phase 1 (key, policies, mode, keepalives).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerSignature([u8; 32]);

fn peer_material(h: &mut Sha256, p: &PeerConfig, addr: Ipv4Addr) {
    h.update(b"peer\0");
    h.update(addr.octets());
    h.update(p.psk_for(addr));
    h.update(format!("{:?}", p.policies));
    h.update(format!("{:?}|{:?}", p.mode, p.aggressive_responder));
    h.update(format!("{:?}", p.dpd_for(addr)));
    // The IKE SA of an IKEv2 entry also rests on its two keys and its
    // policies. Only there: an IKEv1-only peer's phase 1 does not change
    // when an IKEv2 policy (which every IKEv2 entry shares) does.
    if p.wants_ikev2() {
        let (local, remote) = p.ikev2_psks_for(addr);
        h.update(b"ikev2\0");
        // Lengths first, so the split between the two keys is part of
        // what is hashed.
        h.update((local.len() as u64).to_be_bytes());
        h.update(local);
        h.update((remote.len() as u64).to_be_bytes());
        h.update(remote);
        h.update(format!("{:?}", p.ikev2_policies));
    }
}

/// The signature of `sel` in `cfg`, whose engine peer configuration is
/// `peer` (its crypto-map entry's).
pub fn signature(cfg: &Config, sel: &SelectorInfo, peer: &PeerConfig) -> Signature {
    let mut h = Sha256::new();
    h.update(format!(
        "{}|{}|{}|{}|{}|{}|{}|{:?}",
        sel.map, sel.seq, sel.acl_text, sel.local, sel.remote, sel.proto, sel.interface, sel.peers
    ));
    // Every ACL line of the entry: a new deny line, or a port range,
    // changes what the tunnel carries.
    if let Some(e) = cfg.crypto_maps.get(sel.entry) {
        h.update(format!("{:?}", e.rules));
    }
    h.update(format!(
        "{:?}|{:?}|{:?}|{}|{:?}|{}|{}|{:?}",
        peer.transforms,
        peer.ikev2_transforms,
        peer.pfs,
        peer.lifetime_s,
        peer.lifetime_kb,
        peer.nat_t,
        peer.force_encap,
        peer.nat_keepalive
    ));
    for &a in &sel.peers {
        peer_material(&mut h, peer, a);
    }
    Signature(h.finalize().into())
}

fn peer_signature(p: &PeerConfig, addr: Ipv4Addr) -> PeerSignature {
    let mut h = Sha256::new();
    peer_material(&mut h, p, addr);
    PeerSignature(h.finalize().into())
}

/// The running side of a reload: selectors with their signatures and the
/// next free selector id.
pub struct Current {
    pub selectors: Vec<(SelectorInfo, Signature)>,
    pub peers: HashMap<Ipv4Addr, PeerSignature>,
    pub next_id: u32,
}

impl Current {
    /// From a configuration loaded at start (ids as `mapping` numbers them).
    pub fn new(cfg: &Config) -> (Current, Vec<SelectorInfo>, Vec<PeerConfig>) {
        let sels = mapping::selectors(cfg);
        let peers = mapping::ike_peers(cfg, &sels);
        let next_id = sels.iter().map(|s| s.id + 1).max().unwrap_or(0);
        let cur = Current {
            selectors: with_signatures(cfg, &sels, &peers),
            peers: peer_signatures(&peers),
            next_id,
        };
        (cur, sels, peers)
    }
}

fn with_signatures(
    cfg: &Config,
    sels: &[SelectorInfo],
    peers: &[PeerConfig],
) -> Vec<(SelectorInfo, Signature)> {
    sels.iter()
        .filter_map(|s| {
            let p = peers
                .iter()
                .find(|p| p.selectors.iter().any(|x| x.id == s.id))?;
            Some((s.clone(), signature(cfg, s, p)))
        })
        .collect()
}

fn peer_signatures(peers: &[PeerConfig]) -> HashMap<Ipv4Addr, PeerSignature> {
    peers
        .iter()
        .flat_map(|p| p.addresses.iter().map(move |&a| (a, peer_signature(p, a))))
        .collect()
}

/// What applying a new configuration does.
pub struct Plan {
    /// The new selectors: unchanged ones under their old ids, the rest
    /// under fresh ones.
    pub selectors: Vec<SelectorInfo>,
    pub peers: Vec<PeerConfig>,
    /// Old selector ids that are gone (removed or changed).
    pub removed: Vec<u32>,
    pub kept: usize,
    pub added: usize,
    /// Peer addresses whose phase 1 is no longer valid (key, policies,
    /// mode or keepalives changed, or no longer configured).
    pub stale_peers: Vec<Ipv4Addr>,
    pub next: Current,
}

pub fn plan(cur: &Current, new_cfg: &Config) -> Plan {
    // Ids as mapping numbers them only identify selectors within one
    // configuration; signatures do not depend on them, so they are
    // computed once, and then every id (selectors, the engine peers'
    // selectors, the signed list kept for the next reload) is moved to
    // the old one or a fresh one past every id used.
    let mut sels = mapping::selectors(new_cfg);
    let mut peers = mapping::ike_peers(new_cfg, &sels);
    let mut signed = with_signatures(new_cfg, &sels, &peers);
    let old: HashMap<&Signature, u32> = cur.selectors.iter().map(|(s, g)| (g, s.id)).collect();
    let mut next_id = cur.next_id;
    let mut taken = HashSet::new();
    let mut kept = 0;
    let mut ids = HashMap::new();
    for (s, g) in &signed {
        let id = match old.get(g) {
            Some(&id) if taken.insert(id) => {
                kept += 1;
                id
            }
            _ => {
                let id = next_id;
                next_id += 1;
                id
            }
        };
        ids.insert(s.id, id);
    }
    // Every selector belongs to a live entry, hence has a peer and a
    // signature; one without could not be negotiated anyway.
    sels.retain(|s| ids.contains_key(&s.id));
    let remap = |id: &mut u32| {
        if let Some(&n) = ids.get(id) {
            *id = n;
        }
    };
    sels.iter_mut().for_each(|s| remap(&mut s.id));
    signed.iter_mut().for_each(|(s, _)| remap(&mut s.id));
    for p in &mut peers {
        p.selectors.iter_mut().for_each(|x| remap(&mut x.id));
    }
    let removed = cur
        .selectors
        .iter()
        .map(|(s, _)| s.id)
        .filter(|id| !taken.contains(id))
        .collect();
    let new_peers = peer_signatures(&peers);
    let stale_peers = cur
        .peers
        .iter()
        .filter(|(a, g)| new_peers.get(*a) != Some(*g))
        .map(|(a, _)| *a)
        .collect();
    let added = sels.len() - kept;
    let next = Current {
        selectors: signed,
        peers: new_peers,
        next_id,
    };
    Plan {
        selectors: sels,
        peers,
        removed,
        kept,
        added,
        stale_peers,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "\
interface wan0
 nameif outside
interface lan0
 nameif inside
access-list L2L extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0
crypto ikev1 policy 10
 encryption aes-256
 hash sha256
 group 14
crypto ipsec ikev1 transform-set T esp-aes-256 esp-sha256-hmac
crypto map M 10 match address L2L
crypto map M 10 set peer 192.0.2.2
crypto map M 10 set ikev1 transform-set T
crypto map M interface outside
crypto ikev1 enable outside
tunnel-group 192.0.2.2 type ipsec-l2l
tunnel-group 192.0.2.2 ipsec-attributes
 ikev1 pre-shared-key k3y
";

    const SECOND: &str = "\
access-list L2 extended permit ip 198.51.100.0 255.255.255.0 192.0.2.128 255.255.255.128
crypto map M 5 match address L2
crypto map M 5 set peer 192.0.2.9
crypto map M 5 set ikev1 transform-set T
tunnel-group 192.0.2.9 type ipsec-l2l
tunnel-group 192.0.2.9 ipsec-attributes
 ikev1 pre-shared-key other
";

    fn cfg(text: &str) -> Config {
        crate::config::parse(text).unwrap().config
    }

    #[test]
    fn an_unchanged_tunnel_keeps_its_id_when_an_entry_is_added_before_it() {
        let (cur, sels, _) = Current::new(&cfg(BASE));
        assert_eq!(sels.len(), 1);
        let old_id = sels[0].id;
        // M 5 sorts before M 10: mapping alone would renumber M 10.
        let p = plan(&cur, &cfg(&format!("{BASE}{SECOND}")));
        assert_eq!((p.kept, p.added, p.removed.len()), (1, 1, 0));
        let m10 = p.selectors.iter().find(|s| s.seq == 10).unwrap();
        assert_eq!(m10.id, old_id);
        let m5 = p.selectors.iter().find(|s| s.seq == 5).unwrap();
        assert_ne!(m5.id, old_id);
        assert!(p.stale_peers.is_empty());
        // The engine peers name the stable ids.
        assert!(p.peers.iter().any(|c| {
            c.selectors
                .iter()
                .any(|s| s.id == old_id && s.local == m10.local)
        }));
    }

    #[test]
    fn a_changed_key_or_transform_is_a_removal_and_a_new_tunnel() {
        let (cur, sels, _) = Current::new(&cfg(BASE));
        let p = plan(&cur, &cfg(&BASE.replace("k3y", "n3w")));
        assert_eq!(p.removed, vec![sels[0].id]);
        assert_eq!(
            p.stale_peers,
            vec!["192.0.2.2".parse::<Ipv4Addr>().unwrap()]
        );
        assert_ne!(p.selectors[0].id, sels[0].id);
        let p = plan(&cur, &cfg(&BASE.replace("esp-aes-256 ", "esp-aes ")));
        assert_eq!(p.removed, vec![sels[0].id]);
        assert!(p.stale_peers.is_empty(), "phase 1 is still good");
    }

    #[test]
    fn a_removed_entry_is_removed_and_its_peer_stale() {
        let (cur, _, _) = Current::new(&cfg(&format!("{BASE}{SECOND}")));
        let p = plan(&cur, &cfg(BASE));
        assert_eq!((p.kept, p.added, p.removed.len()), (1, 0, 1));
        assert_eq!(
            p.stale_peers,
            vec!["192.0.2.9".parse::<Ipv4Addr>().unwrap()]
        );
    }

    const V2: &str = "\
interface wan0
 nameif outside
access-list L2L extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0
access-list L2 extended permit ip 198.51.100.0 255.255.255.0 192.0.2.128 255.255.255.128
crypto ikev1 policy 10
 encryption aes-256
 hash sha256
 group 14
crypto ikev2 policy 10
 encryption aes-gcm-256
 integrity null
 group 21
crypto ipsec ikev1 transform-set T esp-aes-256 esp-sha256-hmac
crypto ipsec ikev2 ipsec-proposal P1
 protocol esp encryption aes-gcm-256
 protocol esp integrity null
crypto map M 10 match address L2L
crypto map M 10 set peer 192.0.2.2
crypto map M 10 set ikev2 ipsec-proposal P1
crypto map M 20 match address L2
crypto map M 20 set peer 192.0.2.9
crypto map M 20 set ikev1 transform-set T
crypto map M interface outside
crypto ikev1 enable outside
crypto ikev2 enable outside
tunnel-group 192.0.2.2 type ipsec-l2l
tunnel-group 192.0.2.2 ipsec-attributes
 ikev2 remote-authentication pre-shared-key r3mote
 ikev2 local-authentication pre-shared-key l0cal
tunnel-group 192.0.2.9 type ipsec-l2l
tunnel-group 192.0.2.9 ipsec-attributes
 ikev1 pre-shared-key k3y
";

    fn v2_selector(p: &Plan) -> u32 {
        p.selectors.iter().find(|s| s.seq == 10).unwrap().id
    }

    /// The IKEv2 algorithms and keys are part of what a tunnel is: a
    /// change makes it a removal and a new tunnel, as for IKEv1.
    #[test]
    fn a_changed_ikev2_proposal_key_or_policy_is_a_new_tunnel() {
        let (cur, sels, _) = Current::new(&cfg(V2));
        assert_eq!(sels.len(), 2);
        let old = sels.iter().find(|s| s.seq == 10).unwrap().id;
        let v1 = sels.iter().find(|s| s.seq == 20).unwrap().id;
        let east: Ipv4Addr = "192.0.2.2".parse().unwrap();

        let same = plan(&cur, &cfg(V2));
        assert_eq!((same.kept, same.removed.len()), (2, 0));
        assert!(same.stale_peers.is_empty());

        // The proposal: the child SAs change, the IKE SA stays good.
        let p = plan(
            &cur,
            &cfg(&V2.replace(
                " protocol esp encryption aes-gcm-256\n",
                " protocol esp encryption aes-gcm\n",
            )),
        );
        assert_eq!(p.removed, vec![old]);
        assert_ne!(v2_selector(&p), old);
        assert!(p.stale_peers.is_empty());

        // Either key: the IKE SA is stale too.
        for (from, to) in [("l0cal", "n3w-local"), ("r3mote", "n3w-remote")] {
            let p = plan(&cur, &cfg(&V2.replace(from, to)));
            assert_eq!(p.removed, vec![old], "{from}");
            assert_eq!(p.stale_peers, vec![east], "{from}");
        }
        // Swapping the two keys is a change, not the same pair.
        let swapped = V2
            .replace("pre-shared-key r3mote", "pre-shared-key TMP")
            .replace("pre-shared-key l0cal", "pre-shared-key r3mote")
            .replace("pre-shared-key TMP", "pre-shared-key l0cal");
        assert_eq!(plan(&cur, &cfg(&swapped)).stale_peers, vec![east]);

        // An IKEv2 policy: the IKEv2 peer's IKE SA is stale, the IKEv1-only
        // peer's phase 1 and tunnel are untouched.
        let p = plan(&cur, &cfg(&V2.replace(" group 21\n", " group 21 20\n")));
        assert_eq!(p.stale_peers, vec![east]);
        assert!(!p.removed.contains(&v1));
        assert_eq!(p.selectors.iter().find(|s| s.seq == 20).unwrap().id, v1);
    }
}
