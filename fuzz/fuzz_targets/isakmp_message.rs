//! Fuzzes the ISAKMP codec the way the daemon uses it: a UDP payload is
//! parsed as a whole message (IKEv1 or IKEv2), every payload into its
//! `Repr`, attributes into their phase-1/phase-2 meaning; whatever parses is
//! re-emitted and must parse back to the same values (and, for a whole
//! cleartext message, to the same bytes).  The same input is also tried as
//! a decrypted body (`parse_payloads`) and as a UDP 4500 datagram.

#![no_main]

use ipsecgw::ike::wire::*;
use libfuzzer_sys::fuzz_target;

fn check_payload(p: &Payload) {
    // Emit, re-parse, compare.
    let bytes = emit_chain(std::slice::from_ref(p)).expect("emit of a parsed payload");
    let chain = parse_payloads(p.kind(), &bytes).expect("re-parse of an emitted payload");
    assert_eq!(chain.end, bytes.len());
    assert_eq!(
        &chain.typed().expect("typed re-parse")[..],
        std::slice::from_ref(p)
    );
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
    if let Payload::Notify(n) = p {
        let _ = n.dpd_sequence();
    }
    if let Payload::VendorId(v) = p {
        let _ = v.recognise();
    }
}

fn check_message(data: &[u8]) {
    match IkeMessage::parse(data) {
        Ok(IkeMessage::V1(m)) => {
            assert!(m.bytes.len() <= data.len());
            if m.is_encrypted() {
                assert_eq!(m.ciphertext(), Some(m.body));
                return;
            }
            if let Ok(payloads) = m.typed_payloads() {
                payloads.iter().for_each(check_payload);
                let mut b = MessageBuilder::new(m.header);
                for p in payloads {
                    b.push(p);
                }
                let out = b.build().expect("re-emit");
                let again = Message::parse(&out).expect("re-parse");
                assert_eq!(
                    again.typed_payloads().expect("re-typed"),
                    m.typed_payloads().unwrap()
                );
                assert_eq!(again.header, m.header);
            }
        }
        Ok(IkeMessage::V2(m)) => {
            let _ = (m.header.from_initiator(), m.payloads.len());
        }
        Err(e) => {
            let _ = e.notify_type();
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check_message(data);

    // As a decrypted body whose first payload type is the first byte.
    if let Some((&first, body)) = data.split_first()
        && let Ok(chain) = parse_payloads(PayloadType(first), body)
    {
        assert!(chain.end <= body.len());
        if let Ok(ps) = chain.typed() {
            ps.iter().for_each(check_payload);
        }
    }

    // As a UDP 4500 datagram.
    if let Udp4500::Ike(ike) = classify_udp4500(data) {
        check_message(ike);
    }
});
