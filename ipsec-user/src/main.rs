use std::process::ExitCode;

/// Errors end the program with ONE line on stderr (`ipsecgw: reason: cause`),
/// never anyhow's multi-line report with a backtrace (which RUST_BACKTRACE=1,
/// common on developer machines, would add): operators read and grep it.
fn main() -> ExitCode {
    match ipsecgw::cli::main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipsecgw: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by ": ", skipping a cause whose text the
/// message before it already contains (many errors print their source).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
