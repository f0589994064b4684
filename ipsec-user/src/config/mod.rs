//! ASA crypto dialect: lexer, parser, typed model, check, printer.
//!
//! An engineer pastes the crypto part of an ASA running-config (or a whole
//! one); [`parse`] gives a resolved [`Config`], the list of lines it did not
//! use, and warnings. [`check`] then judges the configuration (weak
//! algorithms, overlapping protected networks, dangling references), and
//! [`print`] writes it back in ASA 8.4+ syntax.
//!
//! Accepted (both pre-8.4 and 8.4+ spellings, keywords case-insensitive):
//!
//! * `interface <linux-ifname>` / ` nameif N` / ` ip address A M`
//! * `names`, `name A NAME`; `object network X` (` host`, ` subnet`,
//!   ` range`); `object-group network G` (` network-object A M|host A|object X`,
//!   ` group-object G`)
//! * `access-list L [extended] permit|deny PROTO SRC [PORTS] DST [PORTS] [log ...] [inactive]`
//!   with `any|any4|host A|A M|object X|object-group G`, ports `eq|lt|gt|neq|range`
//! * `crypto isakmp|ikev1 policy N` (` authentication|encryption|hash|group|lifetime`),
//!   `crypto isakmp|ikev1 enable NAMEIF`, `crypto isakmp nat-traversal [N]`,
//!   `no crypto isakmp nat-traversal`
//! * `crypto ipsec [ikev1] transform-set T <cipher> [<integ>]`, `... T mode transport|tunnel`,
//!   `crypto ipsec security-association lifetime seconds S kilobytes K|unlimited`
//! * `crypto map M N match address L | set peer A [B..] | set [ikev1] transform-set A [B..]
//!   | set pfs [groupN] | set phase1-mode main|aggressive [groupN]
//!   | set security-association lifetime seconds S kilobytes K|unlimited`,
//!   `crypto map M interface NAMEIF`
//! * `crypto ikev2 policy N` (` encryption A [B..]`, ` integrity ..`, ` group ..`,
//!   ` prf ..`, ` lifetime seconds S`), `crypto ikev2 enable NAMEIF`,
//!   `crypto ikev2 cookie-challenge P`, `no crypto ikev2 cookie-challenge`,
//!   `crypto ikev2 limit max-in-negotiation-sa N`, `crypto ikev2 fragmentation mtu N`
//! * `crypto ipsec ikev2 ipsec-proposal P` (` protocol esp encryption A [B..]`,
//!   ` protocol esp integrity A [B..]`), `crypto map M N set ikev2 ipsec-proposal P [Q..]`
//! * `tunnel-group P type ipsec-l2l`, `tunnel-group P ipsec-attributes`
//!   (` [ikev1] pre-shared-key K`, ` ikev2 local-authentication pre-shared-key K`,
//!   ` ikev2 remote-authentication pre-shared-key K`,
//!   ` isakmp keepalive threshold T retry R|disable` (IKEv1 DPD and IKEv2 liveness)),
//!   `tunnel-group P general-attributes` (` default-group-policy G`),
//!   `group-policy G internal|attributes` (` vpn-idle-timeout N|none`)
//!
//! ipsecgw's own knobs:
//!
//! * `crypto isakmp allow-weak-groups`: acknowledges DH groups 1/2/5 (the
//!   check stops warning about them for IKEv1) and allows 1/2/5/24 for
//!   IKEv2, where the check otherwise refuses them.
//! * `crypto isakmp invalid-spi-recovery` (an IOS command): ESP from a
//!   configured peer for SAs we lost starts phase 1 with INITIAL-CONTACT.
//! * `sysopt connection tcpmss N` (an ASA command; 0 disables clamping):
//!   MSS clamp for TCP SYNs entering a tunnel, default 1380.
//!
//! A crypto map entry with a transform set negotiates IKEv1, one with an
//! ipsec-proposal IKEv2 (first, when it has both); certificates
//! (`ikev2 ...-authentication certificate`) are refused until they exist.
//! Everything else is listed in [`Parsed::ignored`], with its sub-mode lines.

mod check;
mod diag;
mod ikev2;
mod lexer;
mod model;
mod net;
mod parser;
mod ports;
mod printer;
mod resolve;

pub use check::check;
pub use diag::{ConfigErrors, Diagnostic, Severity};
pub use model::*;
pub use net::Ipv4Net;
pub use printer::{PrintOptions, print, print_with};
pub use resolve::{MAX_GROUP_DEPTH, MAX_GROUP_NETWORKS, MAX_RULES_PER_ACL};

use std::path::Path;

/// Largest configuration file [`parse_file`] reads.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Parses a configuration. Errors in supported lines stop the load; all of
/// them are reported, in line order.
pub fn parse(text: &str) -> Result<Parsed, ConfigErrors> {
    let lines = lexer::lex(text);
    let raw = parser::Raw::build(&lines);
    let (parsed, errors) = resolve::resolve(raw);
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(ConfigErrors { errors })
    }
}

/// Why [`parse_file`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge { path: String },
    #[error("{path}:\n{errors}")]
    Config { path: String, errors: ConfigErrors },
}

/// Reads and parses a configuration file.
pub fn parse_file(path: &Path) -> Result<Parsed, LoadError> {
    let p = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
        path: p.clone(),
        source,
    })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge { path: p });
    }
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: p.clone(),
        source,
    })?;
    parse(&text).map_err(|errors| LoadError::Config { path: p, errors })
}

/// Entry point for a cargo-fuzz target: parse arbitrary bytes, and for
/// what loads, check it and round-trip it through the printer. Must never
/// panic. (The round-trip assertion is the one deliberate panic: a
/// printed configuration that does not re-parse equal is a bug to find.)
pub fn fuzz_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = parse(&text) {
        let _ = check(&parsed);
        let printed = print_with(&parsed.config, PrintOptions { include_keys: true });
        match parse(&printed) {
            Ok(again) => assert_eq!(
                again.config, parsed.config,
                "round trip changed the config:\n{printed}"
            ),
            Err(e) => panic!("printed config does not parse: {e}\n{printed}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEDS: [&str; 4] = [
        include_str!("../../tests/data/config/design.cfg"),
        include_str!("../../tests/data/config/asa9-running.cfg"),
        include_str!("../../tests/data/config/asa82-pre84.cfg"),
        include_str!("../../tests/data/config/ikev2.cfg"),
    ];

    /// Words a mutation may drop in: keywords, edge numbers, odd bytes.
    const DICT: &[&str] = &[
        "crypto",
        "map",
        "ikev1",
        "ikev2",
        "isakmp",
        "ipsec",
        "policy",
        "set",
        "peer",
        "pfs",
        "group14",
        "transform-set",
        "ipsec-proposal",
        "protocol",
        "esp",
        "encryption",
        "integrity",
        "prf",
        "null",
        "aes-gcm-256",
        "sha-256",
        "local-authentication",
        "remote-authentication",
        "certificate",
        "cookie-challenge",
        "fragmentation",
        "mtu",
        "limit",
        "max-in-negotiation-sa",
        "match",
        "address",
        "access-list",
        "extended",
        "permit",
        "deny",
        "ip",
        "tcp",
        "udp",
        "icmp",
        "any",
        "any4",
        "host",
        "object",
        "object-group",
        "network-object",
        "group-object",
        "range",
        "eq",
        "lt",
        "gt",
        "neq",
        "interface",
        "nameif",
        "tunnel-group",
        "ipsec-attributes",
        "general-attributes",
        "pre-shared-key",
        "*****",
        "exit",
        "0",
        "1",
        "65535",
        "65536",
        "4294967296",
        "99999999999999999999",
        "255.255.255.255",
        "0.0.0.0",
        "255.0.255.0",
        "192.0.2.2",
        "lifetime",
        "seconds",
        "kilobytes",
        "unlimited",
        "esp-aes-gcm",
        "esp-none",
        "esp-null",
        "mode",
        "transport",
        "keepalive",
        "threshold",
        "retry",
        "vpn-idle-timeout",
        "none",
        "names",
        "name",
        "é",
        "\u{200b}",
        "\t",
        "!",
        ":",
        "-",
        "",
    ];

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next() % n as u64) as usize
            }
        }
    }

    fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
        let mut data = input.to_vec();
        for _ in 0..1 + rng.below(4) {
            let len = data.len();
            match rng.below(8) {
                0 if len > 0 => {
                    let i = rng.below(len);
                    data[i] = rng.next() as u8;
                }
                1 if len > 0 => {
                    let a = rng.below(len);
                    let b = (a + 1 + rng.below(64)).min(len);
                    data.drain(a..b);
                }
                2..=4 => {
                    // Line-level edits keep the input mostly well-formed, so
                    // the mutated config often still loads and round-trips.
                    let text = String::from_utf8_lossy(&data).into_owned();
                    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                    if lines.is_empty() {
                        continue;
                    }
                    let i = rng.below(lines.len());
                    let j = rng.below(lines.len());
                    match rng.below(4) {
                        0 => lines.swap(i, j),
                        1 => {
                            let l = lines[i].clone();
                            lines.insert(j, l);
                        }
                        2 => {
                            // Replace one word by a dictionary word.
                            let mut words: Vec<String> =
                                lines[i].split(' ').map(str::to_string).collect();
                            let k = rng.below(words.len());
                            words[k] = DICT[rng.below(DICT.len())].to_string();
                            lines[i] = words.join(" ");
                        }
                        _ => {
                            lines[i] = match lines[i].strip_prefix(' ') {
                                Some(s) => s.to_string(),
                                None => format!(" {}", lines[i]),
                            }
                        }
                    }
                    data = lines.join("\n").into_bytes();
                }
                5 => data.truncate(rng.below(len + 1)),
                6 => {
                    let at = rng.below(len + 1);
                    let junk: Vec<u8> = (0..rng.below(8)).map(|_| rng.next() as u8).collect();
                    data.splice(at..at, junk);
                }
                _ => {
                    let at = rng.below(len + 1);
                    let w = DICT[rng.below(DICT.len())];
                    data.splice(at..at, format!(" {w} ").into_bytes());
                }
            }
        }
        data
    }

    #[test]
    fn fuzz_parse_survives_mutations() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut loaded = 0;
        const ROUNDS: usize = 4000;
        for round in 0..ROUNDS {
            let seed = SEEDS[round % SEEDS.len()].as_bytes();
            let input = mutate(&mut rng, seed);
            let result = std::panic::catch_unwind(|| fuzz_parse(&input));
            assert!(
                result.is_ok(),
                "fuzz_parse panicked on round {round}:\n{}",
                String::from_utf8_lossy(&input)
            );
            if parse(&String::from_utf8_lossy(&input)).is_ok() {
                loaded += 1;
            }
        }
        // Both paths (refused, and loaded + checked + round-tripped) are
        // exercised in earnest.
        assert!(
            loaded > ROUNDS / 10 && loaded < ROUNDS * 9 / 10,
            "{loaded} of {ROUNDS} loaded"
        );
    }

    #[test]
    fn fuzz_parse_arbitrary_bytes() {
        let mut rng = Rng(42);
        for _ in 0..1000 {
            let data: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
            fuzz_parse(&data);
        }
        fuzz_parse(b"");
        fuzz_parse(b"\n\n \n\x00\xff");
    }

    #[test]
    fn expansion_is_bounded() {
        // A diamond of groups doubling 13 times would be 8192 networks.
        let mut text = String::from("object-group network G0\n network-object host 198.51.100.1\n");
        for i in 1..=13 {
            text += &format!(
                "object-group network G{i}\n group-object G{}\n group-object G{}\n",
                i - 1,
                i - 1
            );
        }
        text += "access-list A extended permit ip object-group G13 any\ncrypto map M 1 match address A\n";
        let e = parse(&text).unwrap_err();
        assert!(
            e.errors[0]
                .message
                .contains("expands to more than 4096 networks"),
            "{e}"
        );
        // Twelve levels (4096 networks) are fine.
        let ok = text.replace("G13 any", "G12 any");
        assert_eq!(parse(&ok).unwrap().config.crypto_maps[0].rules.len(), 4096);

        // Deep nesting is refused before it costs anything.
        let mut deep = String::from("object-group network D0\n network-object host 198.51.100.1\n");
        for i in 1..=20 {
            deep += &format!("object-group network D{i}\n group-object D{}\n", i - 1);
        }
        deep += "access-list A extended permit ip object-group D20 any\ncrypto map M 1 match address A\n";
        assert!(
            parse(&deep)
                .unwrap_err()
                .to_string()
                .contains("nested deeper than 16")
        );

        // L x R networks on one line: bounded by the rule limit.
        let product = |l: usize, r: usize| {
            let mut text = String::from("object-group network L\n");
            for i in 0..l {
                text += &format!(" network-object host 198.51.100.{i}\n");
            }
            text += "object-group network R\n";
            for i in 0..r {
                text += &format!(" network-object host 203.0.113.{i}\n");
            }
            text + "access-list A extended permit ip object-group L object-group R\ncrypto map M 1 match address A\n"
        };
        let e = parse(&product(100, 100)).unwrap_err();
        assert_eq!(
            e.errors[0].to_string(),
            "line 203, col 1: error: access-list expands to more than 4096 rules"
        );
        assert_eq!(
            parse(&product(40, 100)).unwrap().config.crypto_maps[0]
                .rules
                .len(),
            4000
        );
    }
}
