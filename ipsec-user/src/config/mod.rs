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
//! * `tunnel-group P type ipsec-l2l`, `tunnel-group P ipsec-attributes`
//!   (` [ikev1] pre-shared-key K`, ` isakmp keepalive threshold T retry R|disable`),
//!   `tunnel-group P general-attributes` (` default-group-policy G`),
//!   `group-policy G internal|attributes` (` vpn-idle-timeout N|none`)
//!
//! ipsecgw's own knobs:
//!
//! * `crypto isakmp allow-weak-groups`: acknowledges DH groups 1/2/5 (the
//!   check stops warning about them).
//! * `sysopt connection tcpmss N` (an ASA command; 0 disables clamping):
//!   MSS clamp for TCP SYNs entering a tunnel, default 1380.
//!
//! IKEv2 lines (`crypto ikev2 ...`, `crypto ipsec ikev2 ...`, `set ikev2 ...`)
//! are recognised and ignored with one warning: ipsecgw speaks IKEv1 only.
//! Everything else is listed in [`Parsed::ignored`], with its sub-mode lines.

mod check;
mod diag;
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
    if errors.is_empty() { Ok(parsed) } else { Err(ConfigErrors { errors }) }
}

/// Why [`parse_file`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge { path: String },
    #[error("{path}:\n{errors}")]
    Config { path: String, errors: ConfigErrors },
}

/// Reads and parses a configuration file.
pub fn parse_file(path: &Path) -> Result<Parsed, LoadError> {
    let p = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io { path: p.clone(), source })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge { path: p });
    }
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io { path: p.clone(), source })?;
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
            Ok(again) => assert_eq!(again.config, parsed.config, "round trip changed the config:\n{printed}"),
            Err(e) => panic!("printed config does not parse: {e}\n{printed}"),
        }
    }
}
