//! Fuzzes the configuration language: arbitrary bytes (lossily decoded as
//! UTF-8) through the parser and, for what loads, the checker and a
//! print -> parse round trip that must give back the same configuration.
//! `config::fuzz_parse` holds the logic so the unit tests share it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ipsecgw::config::fuzz_parse(data);
});
