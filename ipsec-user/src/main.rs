use std::process::ExitCode;

/// Errors end the program with ONE line on stderr (`ipsecgw: reason: cause`),
/// never anyhow's multi-line report with a backtrace (which RUST_BACKTRACE=1,
/// common on developer machines, would add): operators read and grep it.
fn main() -> ExitCode {
    match ipsecgw::cli::main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipsecgw: {e:#}");
            ExitCode::FAILURE
        }
    }
}
