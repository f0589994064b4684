//! From the ASA configuration model to what the subsystems take: IKE peer
//! configurations, data-plane ACL rules with selector ids, and the facts
//! `show crypto ipsec sa` prints about each selector.

use std::net::Ipv4Addr;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::config::{self, AclAction, Config, CryptoMapEntry};
use crate::dataplane::acl as dp;
use crate::ike::v1::config as ike;

/// One crypto-map ACL permit line: a selector of its own, with its own SA
/// pair (as an ASA builds one pair per ACL line).
#[derive(Debug, Clone)]
pub struct SelectorInfo {
    pub id: u32,
    /// Index of the crypto map entry in `Config::crypto_maps`.
    pub entry: usize,
    pub map: String,
    pub seq: u32,
    pub acl: String,
    /// The access-list line as written, normalised (for `show`).
    pub acl_text: String,
    pub local: config::Ipv4Net,
    pub remote: config::Ipv4Net,
    pub proto: u8,
    pub peers: Vec<Ipv4Addr>,
    /// nameif the crypto map is bound to.
    pub interface: String,
}

/// Entries that are live: bound to an interface with IKEv1 enabled, with
/// at least one peer and one transform set.
fn live_entries(cfg: &Config) -> impl Iterator<Item = (usize, &CryptoMapEntry)> {
    cfg.crypto_maps.iter().enumerate().filter(move |(_, e)| {
        e.interface
            .as_ref()
            .is_some_and(|i| cfg.ikev1_enabled_on.contains(i))
            && !e.peers.is_empty()
    })
}

/// Selector ids are assigned in crypto-map order, permit lines in ACL order.
pub fn selectors(cfg: &Config) -> Vec<SelectorInfo> {
    let mut out = Vec::new();
    for (idx, e) in live_entries(cfg) {
        for r in e.rules.iter().filter(|r| r.action == AclAction::Permit) {
            if out
                .iter()
                .any(|s: &SelectorInfo| s.entry == idx && s.local == r.src && s.remote == r.dst)
            {
                continue;
            }
            out.push(SelectorInfo {
                id: out.len() as u32,
                entry: idx,
                map: e.map.clone(),
                seq: e.seq,
                acl: e.acl.clone(),
                acl_text: format!(
                    "{} extended permit {} {} {} {} {}",
                    e.acl,
                    r.proto.map(proto_name).unwrap_or_else(|| "ip".into()),
                    r.src.addr(),
                    r.src.mask(),
                    r.dst.addr(),
                    r.dst.mask()
                ),
                local: r.src,
                remote: r.dst,
                proto: r.proto.unwrap_or(0),
                peers: e.peers.clone(),
                interface: e.interface.clone().unwrap_or_default(),
            });
        }
    }
    out
}

fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        n => n.to_string(),
    }
}

/// The data plane's ordered ACL set: every live entry's lines in crypto-map
/// order. Deny lines keep their place (they exclude traffic from the
/// tunnel); permit lines carry the selector of their (local, remote) pair.
pub fn acl_rules(cfg: &Config, sels: &[SelectorInfo]) -> Vec<dp::AclRule> {
    let mut out = Vec::new();
    for (idx, e) in live_entries(cfg) {
        for r in &e.rules {
            let selector = sels
                .iter()
                .find(|s| s.entry == idx && s.local == r.src && s.remote == r.dst)
                .map(|s| s.id)
                .unwrap_or(u32::MAX);
            out.push(dp::AclRule {
                selector,
                action: match r.action {
                    AclAction::Permit => dp::AclAction::Permit,
                    AclAction::Deny => dp::AclAction::Deny,
                },
                proto: r.proto,
                src: (r.src.addr(), r.src.prefix()),
                dst: (r.dst.addr(), r.dst.prefix()),
                src_ports: r.src_ports.clone(),
                dst_ports: r.dst_ports.clone(),
            });
        }
    }
    out
}

/// One IKE peer configuration per live crypto map entry.
pub fn ike_peers(cfg: &Config, sels: &[SelectorInfo]) -> Vec<ike::PeerConfig> {
    let policies: Vec<ike::IsakmpPolicy> = cfg
        .isakmp_policies
        .iter()
        .map(|p| ike::IsakmpPolicy {
            priority: p.priority,
            encryption: p.encryption,
            hash: p.hash,
            auth: p.auth,
            group: p.group,
            lifetime_s: p.lifetime_s,
        })
        .collect();
    let mut out = Vec::new();
    for (idx, e) in live_entries(cfg) {
        // No key of its own for the entry: every address of `set peer A B C`
        // authenticates with its own tunnel-group (a backup peer is another
        // box with another key and other keepalive settings). An address
        // without a key keeps an empty one, which the engine refuses to
        // negotiate with (and `check` reports).
        let mut p = ike::PeerConfig::new(&format!("{} {}", e.map, e.seq), e.peers[0], &[]);
        p.addresses = e.peers.clone();
        p.per_address = e
            .peers
            .iter()
            .map(|&addr| (addr, peer_credentials(cfg, addr)))
            .collect();
        p.dpd = p.dpd_for(e.peers[0]);
        p.policies = policies.clone();
        p.mode = match e.phase1_mode {
            config::Phase1Mode::Main => ike::Phase1Mode::Main,
            config::Phase1Mode::Aggressive(_) => ike::Phase1Mode::Aggressive,
        };
        p.aggressive_responder = matches!(e.phase1_mode, config::Phase1Mode::Aggressive(_));
        p.transforms = e
            .transform_sets
            .iter()
            .filter_map(|n| cfg.transform_sets.get(n))
            .map(|t| t.transform)
            .collect();
        p.pfs = e.pfs;
        p.lifetime_s = e.lifetime_s;
        p.lifetime_kb = e.lifetime_kb;
        p.selectors = sels
            .iter()
            .filter(|s| s.entry == idx)
            .map(|s| ike::Selector {
                id: s.id,
                acl: s.acl.clone(),
                local: s.local,
                remote: s.remote,
            })
            .collect();
        p.nat_t = cfg.nat_traversal.is_some();
        if let Some(k) = cfg.nat_traversal {
            p.nat_keepalive = Duration::from_secs(u64::from(k.max(1)));
        }
        out.push(p);
    }
    out
}

/// `addr`'s tunnel-group (its own, or DefaultL2LGroup): key and DPD.
fn peer_credentials(cfg: &Config, addr: Ipv4Addr) -> ike::PeerCredentials {
    let tg = cfg.tunnel_group_for(addr);
    ike::PeerCredentials {
        psk: Zeroizing::new(
            tg.and_then(|t| t.psk.as_ref())
                .map(|k| k.expose().to_vec())
                .unwrap_or_default(),
        ),
        dpd: tg
            .and_then(|t| t.dpd)
            .map(|(threshold, retry)| ike::DpdConfig {
                threshold: Duration::from_secs(u64::from(threshold)),
                retry: Duration::from_secs(u64::from(retry.max(1))),
                max_retries: 5,
            }),
        // Filled by the IKEv2 dialect's mapping.
        ikev2_local_psk: Zeroizing::new(Vec::new()),
        ikev2_remote_psk: Zeroizing::new(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `set peer PRIMARY BACKUP` with a tunnel-group each: every address
    /// authenticates with its own key and keepalive settings. Before, the
    /// backup was offered the primary's key (and DPD).
    #[test]
    fn each_peer_address_has_its_own_tunnel_group() {
        let text = "\
interface wan0
 nameif outside
access-list L2L extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0
crypto ikev1 policy 10
 encryption aes-256
 hash sha256
 group 14
crypto ipsec ikev1 transform-set T esp-aes-256 esp-sha256-hmac
crypto map M 10 match address L2L
crypto map M 10 set peer 192.0.2.2 192.0.2.3
crypto map M 10 set ikev1 transform-set T
crypto map M interface outside
crypto ikev1 enable outside
tunnel-group 192.0.2.2 type ipsec-l2l
tunnel-group 192.0.2.2 ipsec-attributes
 ikev1 pre-shared-key primary-key
 isakmp keepalive threshold 30 retry 3
tunnel-group 192.0.2.3 type ipsec-l2l
tunnel-group 192.0.2.3 ipsec-attributes
 ikev1 pre-shared-key backup-key
 isakmp keepalive disable
";
        let cfg = config::parse(text).unwrap().config;
        let sels = selectors(&cfg);
        let peers = ike_peers(&cfg, &sels);
        assert_eq!(peers.len(), 1);
        let p = &peers[0];
        let (primary, backup) = ("192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap());
        assert_eq!(p.addresses, vec![primary, backup]);
        assert_eq!(p.psk_for(primary), b"primary-key");
        assert_eq!(p.psk_for(backup), b"backup-key");
        assert_eq!(
            p.dpd_for(primary)
                .map(|d| (d.threshold.as_secs(), d.retry.as_secs())),
            Some((30, 3))
        );
        assert_eq!(p.dpd_for(backup), None);
    }
}
