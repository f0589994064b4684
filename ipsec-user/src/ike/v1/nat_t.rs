//! NAT traversal (RFC 3947): vendor ids, NAT-D hashes, port floating.
//!
//! strongSwan 5.9.8 with kernel-libipsec fakes its NAT-D so that ESP is
//! always UDP-encapsulated; `force_encap` does the same from our side (a
//! random NAT-D for our own address makes the peer see a NAT).

use std::net::{Ipv4Addr, SocketAddrV4};

use super::config::PeerConfig;
use super::engine::Engine;
use super::message::{Chain, Message, pt};
use super::sa::IkeSa;
use crate::ike::crypto::Prf;

/// RFC 3947 vendor id: MD5("RFC 3947").
pub const VID_RFC3947: [u8; 16] = [
    0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f,
];
/// RFC 3706 DPD vendor id.
pub const VID_DPD: [u8; 16] = [
    0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00,
];

/// Push the vendor ids we support.
pub(super) fn push_vids(chain: &mut Chain, cfg: &PeerConfig, peer: Ipv4Addr) {
    if cfg.nat_t {
        chain.push(pt::VID, VID_RFC3947.to_vec());
    }
    if cfg.dpd_for(peer).is_some() {
        chain.push(pt::VID, VID_DPD.to_vec());
    }
}

/// Learn what the peer supports from its vendor ids.
pub(super) fn read_vids(sa: &mut IkeSa, msg: &Message, cfg: &PeerConfig) {
    for v in msg.all(pt::VID) {
        if v == VID_RFC3947 && cfg.nat_t {
            sa.nat.negotiated = true;
        }
        if v == VID_DPD {
            sa.nat.peer_dpd = true;
        }
    }
}

/// HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash.
pub fn natd_hash(prf: Prf, icookie: &[u8; 8], rcookie: &[u8; 8], addr: SocketAddrV4) -> Vec<u8> {
    prf.hash(&[
        icookie,
        rcookie,
        &addr.ip().octets(),
        &addr.port().to_be_bytes(),
    ])
}

impl Engine {
    /// NAT-D for the peer's address, then for ours.
    pub(super) fn push_natd(&self, chain: &mut Chain, sa: &IkeSa, prf: Prf, force: bool) {
        if !sa.nat.negotiated {
            return;
        }
        chain.push(
            pt::NAT_D,
            natd_hash(prf, &sa.icookie, &sa.rcookie, sa.remote),
        );
        let ours = if force {
            self.random_bytes(prf.output_len())
        } else {
            natd_hash(prf, &sa.icookie, &sa.rcookie, sa.local)
        };
        chain.push(pt::NAT_D, ours);
    }
}

/// Compare the peer's NAT-D payloads with the addresses the datagram
/// really used (the SA's current addresses: from the peer to us).
pub(super) fn check_natd(sa: &mut IkeSa, msg: &Message, prf: Prf) {
    if !sa.nat.negotiated {
        return;
    }
    let (from, to) = (sa.remote, sa.local);
    let hashes: Vec<&[u8]> = msg.all(pt::NAT_D).chain(msg.all(pt::NAT_D_DRAFT)).collect();
    let Some((first, rest)) = hashes.split_first() else {
        return;
    };
    let me = natd_hash(prf, &sa.icookie, &sa.rcookie, to);
    let them = natd_hash(prf, &sa.icookie, &sa.rcookie, from);
    sa.nat.local_behind_nat = *first != me.as_slice();
    sa.nat.remote_behind_nat = !rest.contains(&them.as_slice());
}
