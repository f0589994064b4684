//! Wires config -> dataplane -> ike -> esp -> control.

use std::path::Path;

use anyhow::{Result, bail};

use crate::cli::RunArgs;

pub fn run(_control: &Path, _args: RunArgs) -> Result<()> {
    bail!("the daemon is not wired yet")
}

pub fn check_command(_config: &Path) -> Result<()> {
    bail!("check is not wired yet")
}
