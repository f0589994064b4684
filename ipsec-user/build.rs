//! Builds the eBPF crate (`ipsec-ebpf`) for `bpfel-unknown-none` with
//! Debian's rustc 1.96 and `-Z build-std=core` (the only toolchain here that
//! has a matching core source; see shared/toolchain/README.md), then copies
//! the object to OUT_DIR for `aya::include_bytes_aligned!`.
//!
//! `IPSECGW_SKIP_EBPF=1` embeds an empty object instead (the loader then
//! reports "built without eBPF").

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const TARGET: &str = "bpfel-unknown-none";

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("workspace root").to_path_buf();
    let ebpf = root.join("ipsec-ebpf");
    let common = root.join("ipsec-common");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let dest = out.join("ipsec-ebpf.o");

    println!("cargo:rerun-if-env-changed=IPSECGW_SKIP_EBPF");
    for p in [
        ebpf.join("src"),
        ebpf.join("Cargo.toml"),
        ebpf.join("Cargo.lock"),
        common.join("src"),
        common.join("Cargo.toml"),
    ] {
        println!("cargo:rerun-if-changed={}", p.display());
    }

    if env::var("IPSECGW_SKIP_EBPF").is_ok_and(|v| v == "1") {
        std::fs::write(&dest, []).expect("write empty eBPF object");
        println!("cargo:rustc-cfg=ipsecgw_no_ebpf");
        println!("cargo:rustc-check-cfg=cfg(ipsecgw_no_ebpf)");
        return;
    }
    println!("cargo:rustc-check-cfg=cfg(ipsecgw_no_ebpf)");

    let linker = home_cargo_bin("bpf-linker");
    let missing: Vec<&str> = [
        (!Path::new(DEBIAN_CARGO).exists()).then_some(DEBIAN_CARGO),
        (!Path::new(DEBIAN_RUSTC).exists()).then_some(DEBIAN_RUSTC),
        (!Path::new("/usr/lib/rustlib/src/rust").exists()).then_some("rust-web-src"),
        linker.as_ref().map_or(Some("bpf-linker"), |_| None),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        panic!(
            "the eBPF toolchain is missing ({}): run `cargo xtask setup` (as root), \
             or build without eBPF with IPSECGW_SKIP_EBPF=1",
            missing.join(", ")
        );
    }

    // A target dir of its own that survives `cargo clean -p` of the outer
    // build and is shared by every worktree build of this crate: the
    // rebuild stays incremental.
    let target_dir = ebpf.join("target");
    let mut cmd = Command::new(DEBIAN_CARGO);
    cmd.current_dir(&ebpf)
        .args(["build", "--quiet", "--release", "--target", TARGET])
        .args(["-Z", "build-std=core"])
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build exports its own toolchain and flags; none of them fit
    // the BPF build.
    for (k, _) in env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("CARGO")
            || k.starts_with("RUSTC")
            || k.starts_with("RUSTFLAGS")
            || k == "RUSTDOC"
            || k == "RUSTUP_TOOLCHAIN"
        {
            cmd.env_remove(&k);
        }
    }
    // bpf-linker lives in ~/.cargo/bin, which must stay on PATH.
    if let Some(dir) = linker.as_ref().and_then(|l| l.parent()) {
        let path = env::var_os("PATH").unwrap_or_default();
        let mut paths: Vec<PathBuf> = env::split_paths(&path).collect();
        paths.push(dir.to_path_buf());
        cmd.env("PATH", env::join_paths(paths).expect("PATH"));
    }
    cmd.env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            "-Cdebuginfo=2\x1f-Clink-arg=--btf",
        );
    let status = cmd.status().expect("run Debian cargo for ipsec-ebpf");
    if !status.success() {
        panic!("building ipsec-ebpf failed ({status})");
    }
    let obj = target_dir.join(TARGET).join("release").join("ipsec-ebpf");
    std::fs::copy(&obj, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", obj.display()));
}

fn home_cargo_bin(name: &str) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(home) = env::var_os("CARGO_HOME") {
        candidates.push(PathBuf::from(home).join("bin").join(name));
    }
    if let Some(home) = env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin").join(name));
    }
    for dir in env::split_paths(&env::var_os("PATH").unwrap_or_default()) {
        candidates.push(dir.join(name));
    }
    candidates.into_iter().find(|p| p.is_file())
}
