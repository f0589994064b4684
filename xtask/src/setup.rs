//! Idempotent installation of what the project needs on Debian 12.

use std::process::Command;

use anyhow::{Context, Result, bail};

/// Debian packages: the eBPF toolchain (Debian's rustc-web 1.96 with its
/// library source, LLVM 22 for bpf-linker), runtime tools the tests use,
/// and the strongSwan peer for the interop tests.
const APT_PACKAGES: &[&str] = &[
    "llvm-22-dev",
    "libpolly-22-dev",
    "libzstd-dev",
    "zlib1g-dev",
    "libxml2-dev",
    "libssl-dev",
    "pkg-config",
    "bpftool",
    "rust-web-src",
    "rustc-web",
    "cargo-web",
    "iproute2",
    "iputils-ping",
    "iperf3",
    "tcpdump",
    "ethtool",
    "python3",
    // `cargo xtask deb` (objdump, dpkg-deb) and its install test
    "binutils",
    "debootstrap",
    // the metrics test scrapes with curl and checks with promtool
    "curl",
    "prometheus",
    // systemd-analyze verifies the packaged unit
    "systemd",
    // nft: the masquerading NAT between the gateways (NAT-T interop)
    "nftables",
    "strongswan-charon",
    "strongswan-swanctl",
    "libcharon-extra-plugins",
    "libstrongswan-extra-plugins",
    "libstrongswan-standard-plugins",
];

const BPF_LINKER_VERSION: &str = "0.13.0";

pub fn run() -> Result<()> {
    if unsafe { libc_geteuid() } != 0 {
        bail!("setup installs packages: run it as root");
    }
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if !missing.is_empty() {
        eprintln!("setup: installing {}", missing.join(" "));
        crate::run(Command::new("apt-get").arg("update").arg("-q"))?;
        crate::run(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    if !bpf_linker_ok() {
        eprintln!("setup: building bpf-linker {BPF_LINKER_VERSION} against LLVM 22");
        crate::run(
            Command::new("cargo")
                .args([
                    "install",
                    &format!("bpf-linker@{BPF_LINKER_VERSION}"),
                    "--locked",
                    "--no-default-features",
                    "--features",
                    "llvm-22",
                ])
                // Without these, bpf-linker's build finds LLVM 14's llvm-config.
                .env("LLVM_PREFIX", "/usr/lib/llvm-22")
                .env("LLVM_SYS_221_PREFIX", "/usr/lib/llvm-22"),
        )
        .context("installing bpf-linker")?;
    }
    Ok(())
}

fn dpkg_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn bpf_linker_ok() -> bool {
    Command::new("bpf-linker")
        .arg("--version")
        .output()
        .map(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains(BPF_LINKER_VERSION)
        })
        .unwrap_or(false)
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
