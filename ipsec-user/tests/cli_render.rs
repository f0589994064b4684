//! Golden tests of the ASA layouts over canned SA sets, and the `--json`
//! contract: every field the operator interface promises, with its type.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipsecgw::cli::render::render;
use ipsecgw::control::proto::*;

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

fn isakmp_list() -> IsakmpSaList {
    IsakmpSaList {
        sas: vec![
            IsakmpSaView {
                peer: Ipv4Addr::new(192, 0, 2, 2),
                kind: "L2L".into(),
                role: Role::Responder,
                rekey: false,
                state: "MM_ACTIVE".into(),
                ike_version: 1,
                encryption: "3des".into(),
                hash: "sha".into(),
                group: 2,
                auth: "pre-share".into(),
                lifetime_s: 86400,
                remaining_s: 86012,
                reason: None,
            },
            IsakmpSaView {
                peer: Ipv4Addr::new(192, 0, 2, 3),
                kind: "L2L".into(),
                role: Role::Initiator,
                rekey: false,
                state: "MM_WAIT_MSG2".into(),
                ike_version: 1,
                encryption: "aes-256".into(),
                hash: "sha256".into(),
                group: 14,
                auth: "pre-share".into(),
                lifetime_s: 86400,
                remaining_s: 86400,
                reason: Some("no reply from 192.0.2.3:500 after 2 tries so far".into()),
            },
        ],
        down: vec![PeerDiagnosis {
            peer: Ipv4Addr::new(192, 0, 2, 4),
            crypto_map: "OUTSIDE_MAP".into(),
            seq: 30,
            state: "MM_NO_STATE".into(),
            reason: "no ISAKMP policy matched: peer offered aes-256/sha256/group 14/86400; ours: 10 3des/sha/group 2/86400".into(),
        }],
    }
}

fn ipsec_sa() -> IpsecSaView {
    IpsecSaView {
        interface: "outside".into(),
        crypto_map: "OUTSIDE_MAP".into(),
        seq: 10,
        local_addr: Ipv4Addr::new(192, 0, 2, 1),
        acl: "L2L extended permit ip 198.51.100.0 255.255.255.0 203.0.113.0 255.255.255.0".into(),
        local_ident: Ident {
            addr: Ipv4Addr::new(198, 51, 100, 0),
            mask: Ipv4Addr::new(255, 255, 255, 0),
            prot: 0,
            port: 0,
        },
        remote_ident: Ident {
            addr: Ipv4Addr::new(203, 0, 113, 0),
            mask: Ipv4Addr::new(255, 255, 255, 0),
            prot: 0,
            port: 0,
        },
        peer: Ipv4Addr::new(192, 0, 2, 2),
        pkts_encaps: 5,
        pkts_encrypt: 5,
        pkts_digest: 5,
        pkts_decaps: 5,
        pkts_decrypt: 5,
        pkts_verify: 5,
        bytes_encaps: 420,
        bytes_decaps: 420,
        send_errors: 0,
        recv_errors: 1,
        replay_drops: 1,
        policy_drops: 0,
        auth_failures: 0,
        path_mtu: 1500,
        ipsec_overhead: 66,
        inbound_spi: 0xC0FFEE01,
        outbound_spi: 0x1A2B3C4D,
        transform: "esp-3des esp-sha-hmac".into(),
        mode: "tunnel".into(),
        udp_encap: Some(4500),
        remaining_s: 28750,
        remaining_kb: 4607999,
        iv_size: 8,
        replay_window: 1024,
        pfs_group: None,
    }
}

#[test]
fn isakmp_layout() {
    golden(
        "show-crypto-isakmp-sa.txt",
        &render(&ReplyData::IsakmpSas(isakmp_list()), false),
    );
}

#[test]
fn isakmp_layout_empty() {
    let out = render(&ReplyData::IsakmpSas(IsakmpSaList::default()), false);
    assert_eq!(out, "There are no IKEv1 SAs\n");
}

#[test]
fn ipsec_layout() {
    let mut second = ipsec_sa();
    second.seq = 20;
    second.udp_encap = None;
    second.pfs_group = Some(14);
    second.transform = "esp-aes-gcm-256".into();
    second.iv_size = 8;
    golden(
        "show-crypto-ipsec-sa.txt",
        &render(&ReplyData::IpsecSas(vec![ipsec_sa(), second]), false),
    );
}

#[test]
fn isakmp_json_fields_and_types() {
    let out = render(&ReplyData::IsakmpSas(isakmp_list()), true);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let arr = v.as_array().expect("an array of objects");
    assert_eq!(arr.len(), 3);
    let sa = &arr[0];
    for (field, is_type) in [
        ("peer", "string"),
        ("type", "string"),
        ("role", "string"),
        ("rekey", "bool"),
        ("state", "string"),
        ("ike_version", "number"),
        ("encryption", "string"),
        ("hash", "string"),
        ("group", "number"),
        ("auth", "string"),
        ("lifetime_s", "number"),
        ("remaining_s", "number"),
        ("active", "bool"),
    ] {
        let f = sa
            .get(field)
            .unwrap_or_else(|| panic!("missing field {field}"));
        let ok = match is_type {
            "string" => f.is_string(),
            "bool" => f.is_boolean(),
            "number" => f.is_u64(),
            _ => unreachable!(),
        };
        assert!(ok, "field {field} should be a {is_type}: {f}");
    }
    assert_eq!(sa["peer"], "192.0.2.2");
    assert_eq!(sa["state"], "MM_ACTIVE");
    assert_eq!(sa["active"], true);
    assert_eq!(arr[1]["active"], false);
    let down = &arr[2];
    assert_eq!(down["state"], "MM_NO_STATE");
    assert!(
        down["reason"]
            .as_str()
            .unwrap()
            .contains("no ISAKMP policy matched")
    );
}

#[test]
fn ipsec_json_fields_and_types() {
    let out = render(&ReplyData::IpsecSas(vec![ipsec_sa()]), true);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sa = &v.as_array().unwrap()[0];
    for field in ["peer", "transform"] {
        assert!(sa[field].is_string(), "{field}");
    }
    for field in ["local_ident", "remote_ident"] {
        assert!(sa[field].is_object(), "{field}");
        assert!(sa[field]["addr"].is_string() && sa[field]["mask"].is_string());
        assert!(sa[field]["prot"].is_u64() && sa[field]["port"].is_u64());
    }
    for field in [
        "inbound_spi",
        "outbound_spi",
        "pkts_encaps",
        "pkts_decaps",
        "bytes_encaps",
        "bytes_decaps",
        "send_errors",
        "recv_errors",
        "replay_drops",
        "remaining_s",
        "remaining_kb",
    ] {
        assert!(
            sa[field].is_u64(),
            "field {field} should be a number: {}",
            sa[field]
        );
    }
    assert_eq!(sa["inbound_spi"], 0xC0FFEE01u32);
    assert_eq!(sa["pkts_encaps"], 5);
    assert_eq!(sa["replay_drops"], 1);
}
