//! Fuzzes the control socket's request decoder (one JSON line from a local
//! client).  Whatever decodes must re-encode to a request that decodes to
//! the same value; anything else must be a typed error.

#![no_main]

use ipsecgw::control::proto::{MAX_REQUEST_BYTES, ProtoError, decode_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode_request(data) {
        Ok(req) => {
            assert!(data.len() <= MAX_REQUEST_BYTES);
            let line = serde_json::to_vec(&req).expect("a decoded request encodes");
            assert_eq!(decode_request(&line).expect("re-decode"), req);
        }
        Err(e) => {
            if data.len() > MAX_REQUEST_BYTES {
                assert!(matches!(e, ProtoError::TooLarge));
            }
            let _ = e.to_string();
        }
    }
});
