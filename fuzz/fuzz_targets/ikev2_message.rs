//! Fuzzes the IKEv2 codec the way the exchanges use it: a UDP payload is
//! parsed as a whole message (`MessageV2Repr::parse`); a cleartext one is
//! re-emitted and must parse back to the same header and payloads (and
//! re-emit to the same bytes); whatever follows an SK / SKF header is
//! parsed as if it were the decrypted chain (`parse_chain`), as is the
//! input after its first byte (taken as the first payload type), with
//! the same round trip. The input is also tried as a UDP 4500 datagram.
//! Every typed payload goes through the transform-id and accessor
//! helpers the exchange code calls.

#![no_main]

use ipsecgw::ike::wire::v2::*;
use ipsecgw::ike::wire::{HEADER_LEN, MAX_PAYLOADS, Udp4500, classify_udp4500};
use libfuzzer_sys::fuzz_target;

/// What a re-emit cannot keep: the count of skipped (IPv6) selectors.
fn normalized(ps: &[PayloadV2]) -> Vec<PayloadV2> {
    ps.iter()
        .cloned()
        .map(|p| match p {
            PayloadV2::TsI(ts) => PayloadV2::TsI(TsV2::new(ts.selectors)),
            PayloadV2::TsR(ts) => PayloadV2::TsR(TsV2::new(ts.selectors)),
            p => p,
        })
        .collect()
}

fn touch(ps: &[PayloadV2]) {
    for p in ps {
        match p {
            PayloadV2::Sa(sa) => {
                assert!(!sa.proposals.is_empty());
                for prop in &sa.proposals {
                    assert!(matches!(prop.spi.len(), 0 | 4 | 8));
                    let _ = (prop.spi_u32(), prop.spi_u64());
                    for t in &prop.transforms {
                        let _ = (t.as_ike_encr(), t.as_prf(), t.as_ike_integ(), t.as_dh());
                        let _ = (t.as_esp_encr(), t.as_esp_integ(), t.as_esn());
                    }
                }
            }
            PayloadV2::IdI(id) | PayloadV2::IdR(id) => {
                assert_eq!(id.body().len(), 4 + id.data.len());
            }
            PayloadV2::Notify(n) => {
                let _ = (n.is_error(), n.spi_u32());
                assert!(n.data.len() <= 4096);
            }
            PayloadV2::Delete(d) => {
                let _ = d.spis_u32().count();
            }
            PayloadV2::Nonce(n) => assert!(NONCE_LEN_V2.contains(&n.len())),
            PayloadV2::Ke(ke) => assert!(KE_DATA_LEN.contains(&ke.data.len())),
            PayloadV2::TsI(ts) | PayloadV2::TsR(ts) => {
                assert!(ts.selectors.len() + ts.skipped <= MAX_TRAFFIC_SELECTORS)
            }
            _ => {}
        }
    }
}

fn check_chain(first: u8, body: &[u8]) {
    match parse_chain(first, body) {
        Ok(ps) => {
            assert!(ps.len() <= MAX_PAYLOADS);
            touch(&ps);
            let (kind, bytes) = emit_chain(&ps);
            assert!(bytes.len() <= body.len());
            let again = parse_chain(kind, &bytes).expect("re-parse of an emitted chain");
            assert_eq!(again, normalized(&ps));
            assert_eq!(emit_chain(&again), (kind, bytes));
        }
        Err(e) => {
            let _ = e.notify_type_v2();
            let _ = e.to_string();
        }
    }
}

fn check_message(data: &[u8]) {
    let m = match MessageV2Repr::parse(data) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.notify_type_v2();
            let _ = e.to_string();
            return;
        }
    };
    let len = m.header.length as usize;
    assert!((HEADER_LEN..=data.len()).contains(&len));
    assert_eq!(HeaderV2::parse(data), Ok(m.header));
    touch(&m.payloads);
    let _ = m.notify(notify::NAT_DETECTION_SOURCE_IP);
    match m.protected {
        Protected::None => {
            let out = emit_message(m.header, &m.payloads);
            let again = MessageV2Repr::parse(&out).expect("re-parse of an emitted message");
            assert_eq!(again.payloads, normalized(&m.payloads));
            assert_eq!(again.protected, Protected::None);
            assert_eq!(again.header.spi_i, m.header.spi_i);
            assert_eq!(again.header.message_id, m.header.message_id);
            assert_eq!(again.header.flags, m.header.flags);
            assert_eq!(again.header.length as usize, out.len());
            assert_eq!(emit_message(again.header, &again.payloads), out);
        }
        Protected::Sk {
            first_inner,
            offset,
        } => {
            assert!(offset >= HEADER_LEN && offset + SK_HEADER_LEN <= len);
            check_chain(first_inner, &data[offset + SK_HEADER_LEN..len]);
        }
        Protected::Skf {
            first_inner,
            offset,
            number,
            total,
        } => {
            assert!(number >= 1 && number <= total);
            assert!(offset >= HEADER_LEN && offset + SKF_HEADER_LEN <= len);
            check_chain(first_inner, &data[offset + SKF_HEADER_LEN..len]);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check_message(data);
    if let Some((&first, body)) = data.split_first() {
        check_chain(first, body);
    }
    if let Udp4500::Ike(ike) = classify_udp4500(data) {
        check_message(ike);
    }
});
