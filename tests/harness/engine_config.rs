//! Engine configurations for the sans-IO tests (engine pairs, the IKE
//! peer simulator, the IKE benchmark): the topology's outside addresses
//! and the seed article's IKEv1 peer, built the way a crypto-map entry
//! of `harness::config` would be.

use std::net::Ipv4Addr;

use ipsecgw::algo::{DhGroup, EspCipher, EspInteg, EspTransform, IkeAuth, IkeEncryption, IkeHash};
use ipsecgw::ike::config::{Ipv4Net, IsakmpPolicy, PeerConfig, Selector};

/// west-gw's and east-gw's outside addresses (DESIGN.md's topology).
pub const WEST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const EAST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const PSK: &[u8] = b"interop-test-psk-123";

/// `"A.B.C.D/P"` (panics on a typo: test input).
pub fn net(s: &str) -> Ipv4Net {
    let (a, p) = s.split_once('/').unwrap();
    Ipv4Net::new(a.parse().unwrap(), p.parse().unwrap()).unwrap()
}

/// A pre-shared-key ISAKMP policy with a day's lifetime.
pub fn policy(prio: u32, enc: IkeEncryption, hash: IkeHash, group: DhGroup) -> IsakmpPolicy {
    IsakmpPolicy {
        priority: prio,
        encryption: enc,
        hash,
        auth: IkeAuth::PreShare,
        group,
        lifetime_s: 86400,
    }
}

pub fn esp(cipher: EspCipher, integ: EspInteg) -> EspTransform {
    EspTransform { cipher, integ }
}

/// The seed article's entry `name` toward `remote` with key `psk`:
/// 3DES/SHA1/group 2, ESP-3DES-SHA, one selector `local -> remote`.
pub fn seed_entry(
    name: &str,
    remote: Ipv4Addr,
    psk: &[u8],
    local: Ipv4Net,
    remote_net: Ipv4Net,
) -> PeerConfig {
    let mut p = PeerConfig::new(name, remote, psk);
    p.policies = vec![policy(
        10,
        IkeEncryption::TripleDes,
        IkeHash::Sha1,
        DhGroup::Modp1024,
    )];
    p.transforms = vec![esp(EspCipher::TripleDes, EspInteg::HmacSha1_96)];
    p.selectors = vec![Selector {
        id: 1,
        acl: "L2L".into(),
        local,
        remote: remote_net,
    }];
    p
}

/// The seed article's configuration: 3DES/SHA1/group 2, ESP-3DES-SHA.
pub fn seed_peer(remote: Ipv4Addr, local_net: &str, remote_net: &str) -> PeerConfig {
    seed_entry(
        "OUTSIDE_MAP 10",
        remote,
        PSK,
        net(local_net),
        net(remote_net),
    )
}

pub fn west_peer() -> PeerConfig {
    seed_peer(EAST, "198.51.100.0/24", "203.0.113.0/24")
}
pub fn east_peer() -> PeerConfig {
    seed_peer(WEST, "203.0.113.0/24", "198.51.100.0/24")
}
