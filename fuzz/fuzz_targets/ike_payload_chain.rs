//! Fuzzes IKEv1 payload chains and every payload `Repr` on its own,
//! complementing `isakmp_message` (which needs a valid ISAKMP header
//! first).  The first byte chooses a payload type:
//!
//! * the rest as a decrypted body whose chain starts with that type
//!   (`parse_payloads`): the chain's invariants, every payload typed, and
//!   a re-emit that must parse back to the same payloads and the same
//!   bytes up to the chain's end;
//! * the rest as the body of a single payload of that type
//!   (`Payload::parse` without a generic header to satisfy), re-emitted
//!   and re-parsed;
//! * the rest as an attribute list and as a raw chain iterator of any type
//!   (PROPOSAL/TRANSFORM included, which `parse_payloads` refuses).

#![no_main]

use ipsecgw::ike::wire::*;
use libfuzzer_sys::fuzz_target;

/// Emits one payload and parses it back: must be equal.
fn round_trip(p: &Payload) {
    let bytes = emit_chain(std::slice::from_ref(p)).expect("emit of a parsed payload");
    assert_eq!(bytes.len(), GENERIC_HEADER_LEN + p.body_len());
    let chain = parse_payloads(p.kind(), &bytes).expect("re-parse of an emitted payload");
    assert_eq!(chain.end, bytes.len());
    assert_eq!(chain.payloads.len(), 1);
    let again = chain.typed().expect("typed re-parse");
    assert_eq!(&again[..], std::slice::from_ref(p));
    if let Payload::Sa(sa) = p {
        for prop in &sa.proposals {
            for t in &prop.transforms {
                if let Ok(a) = Phase1Attrs::from_attributes(&t.attributes) {
                    assert_eq!(Phase1Attrs::from_attributes(&a.to_attributes()), Ok(a));
                }
                if let Ok(a) = esp_transform_from_attrs(t.id, &t.attributes) {
                    let (id, attrs) = a.to_transform_id_and_attributes();
                    assert_eq!(esp_transform_from_attrs(id, &attrs), Ok(a));
                }
            }
        }
    }
}

fn chain(first: PayloadType, body: &[u8]) {
    let Ok(chain) = parse_payloads(first, body) else {
        return;
    };
    assert!(chain.end <= body.len());
    assert!(chain.payloads.len() <= MAX_PAYLOADS);
    // Payloads are contiguous from offset 0 and each announces the next.
    let mut pos = 0;
    let mut kind = first;
    for p in &chain.payloads {
        assert_eq!(p.offset, pos);
        assert_eq!(p.kind, kind);
        assert_eq!(p.bytes, &body[pos..pos + p.bytes.len()]);
        assert_eq!(p.body, &p.bytes[GENERIC_HEADER_LEN..]);
        pos += p.bytes.len();
        kind = p.next;
    }
    assert_eq!(pos, chain.end);
    let after = chain.after_first(body);
    if let Some(p) = chain.payloads.first() {
        assert_eq!(after, &body[p.bytes.len()..chain.end]);
    }
    let _ = chain.find(PayloadType::SA);
    let Ok(typed) = chain.typed() else {
        return;
    };
    typed.iter().for_each(round_trip);
    if let Ok(out) = emit_chain(&typed) {
        let again = parse_payloads(first, &out).expect("re-parse of an emitted chain");
        assert_eq!(again.end, out.len());
        assert_eq!(again.typed().expect("re-typed chain"), typed);
        // A chain of payloads that emit canonically comes back byte for
        // byte; `Other` bodies and every Repr keep their bytes.
        let canonical = emit_chain(&again.typed().unwrap()).unwrap();
        assert_eq!(canonical, out);
    }
}

fn single(kind: PayloadType, body: &[u8]) {
    // A body is at most 65535 - 4 bytes on the wire.
    if body.len() > usize::from(u16::MAX) - GENERIC_HEADER_LEN {
        return;
    }
    let mut bytes = vec![0u8; GENERIC_HEADER_LEN];
    bytes[2..4].copy_from_slice(&((body.len() + GENERIC_HEADER_LEN) as u16).to_be_bytes());
    bytes.extend_from_slice(body);
    let raw = RawPayload {
        kind,
        next: PayloadType::NONE,
        reserved: 0,
        offset: 0,
        bytes: &bytes,
        body: &bytes[GENERIC_HEADER_LEN..],
    };
    match Payload::parse(&raw) {
        Ok(p) => {
            assert_eq!(p.kind(), kind);
            round_trip(&p);
            match &p {
                Payload::Notify(n) => {
                    let _ = n.dpd_sequence();
                }
                Payload::VendorId(v) => {
                    let _ = v.recognise();
                }
                _ => {}
            }
        }
        Err(e) => {
            let _ = e.notify_type();
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let kind = PayloadType(first);
    chain(kind, body);
    single(kind, body);

    if let Ok(attrs) = parse_attributes(body) {
        let _ = Phase1Attrs::from_attributes(&attrs);
        let _ = esp_transform_from_attrs(first, &attrs);
    }
    // The raw iterator accepts any type and is bounded by MAX_PAYLOADS
    // items plus one error.
    let mut n = 0;
    for item in PayloadIter::new(kind, body) {
        n += 1;
        assert!(n <= MAX_PAYLOADS + 1);
        if let Ok(p) = item {
            assert!(p.offset + p.bytes.len() <= body.len());
        }
    }
});
