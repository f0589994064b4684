//! `cargo xtask setup | build | build-and-load | test | demo [--ikev2] | bench | fuzz`
//!
//! Every command that needs the toolchain runs `setup` first; setup is
//! idempotent and only installs what is missing, so the README's two
//! commands work on a fresh Debian 12 machine as root.

mod deb;
mod setup;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "ipsecgw developer tasks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what is missing: apt packages and bpf-linker (idempotent).
    Setup,
    /// Build the eBPF object and the userspace binary that embeds it.
    Build {
        #[arg(long)]
        release: bool,
    },
    /// Build everything, then run the daemon on real interfaces.
    BuildAndLoad {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, default_value = "native")]
        xdp_mode: String,
    },
    /// Run every test (unit, BPF, namespaces, strongSwan interop).
    Test {
        /// Extra arguments for `cargo test`, after `--`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Two gateways in namespaces, a tunnel raised by the first ping.
    Demo {
        /// Negotiate the tunnel with IKEv2 (`crypto ikev2 policy`, an
        /// ipsec-proposal) and show `show crypto ikev2 sa [detail]`.
        #[arg(long)]
        ikev2: bool,
    },
    /// Benchmarks: classify, esp, e2e, ike (or all).
    Bench {
        #[arg(default_value = "all")]
        what: String,
        /// Extra arguments for `e2e` or `ike`, after `--` (e.g. `--seconds 10
        /// --markdown BENCHMARKS.md`; `--quick`, `--only ikev2`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Build the Debian package target/deb/ipsecgw_VERSION_amd64.deb.
    Deb {
        /// Package this binary instead of building the release one (the
        /// install test packages the debug binary it was built with).
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Directory for the staging tree and the .deb (default target/deb).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run every fuzz target for N seconds (needs the rustup nightly).
    Fuzz {
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Setup => setup::run(),
        Cmd::Build { release } => build(release),
        Cmd::BuildAndLoad { config, xdp_mode } => {
            build(true)?;
            let bin = root().join("target/release/ipsecgw");
            run(Command::new(bin)
                .arg("run")
                .arg("--config")
                .arg(config)
                .arg("--xdp-mode")
                .arg(xdp_mode))
        }
        Cmd::Test { args } => {
            setup::run()?;
            build(false)?;
            // The namespace tests are heavy on two cores: a few at a time.
            let mut cmd = cargo();
            cmd.args(["test", "--workspace", "--no-fail-fast"]);
            cmd.arg("--");
            if !args.iter().any(|a| a.starts_with("--test-threads")) {
                cmd.arg("--test-threads=2");
            }
            cmd.args(args);
            run(&mut cmd)
        }
        Cmd::Demo { ikev2 } => {
            setup::run()?;
            run(cargo().args(["build", "--release", "-p", "ipsec-user", "--bin", "ipsecgw"]))?;
            let mut cmd = cargo();
            cmd.args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "ipsecgw-tests",
                "--bin",
                "demo",
            ]);
            if ikev2 {
                cmd.args(["--", "--ikev2"]);
            }
            run(&mut cmd)
        }
        Cmd::Bench { what, args } => {
            setup::run()?;
            bench(&what, &args)
        }
        Cmd::Fuzz { seconds } => fuzz(seconds),
        Cmd::Deb { binary, out } => {
            setup::run()?;
            deb::build(binary, out).map(|_| ())
        }
    }
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn build(release: bool) -> Result<()> {
    let mut c = cargo();
    c.args(["build", "--workspace", "--all-targets"]);
    if release {
        c.arg("--release");
    }
    run(&mut c)
}

fn bench(what: &str, args: &[String]) -> Result<()> {
    const KNOWN: &[&str] = &["all", "classify", "esp", "e2e", "ike"];
    if !KNOWN.contains(&what) {
        bail!("unknown benchmark {what:?}: one of {}", KNOWN.join(", "));
    }
    if !matches!(what, "e2e" | "ike" | "all") && !args.is_empty() {
        bail!("extra arguments are for `bench e2e` and `bench ike` (or `all`: e2e) only");
    }
    let all = what == "all";
    if all || what == "classify" {
        // BPF_PROG_TEST_RUN ns/packet at 1, 1,000 and 10,000 ACL lines
        // (an #[ignore]d test so that `cargo test` does not time it).
        run(cargo().args([
            "test",
            "--release",
            "-p",
            "ipsec-user",
            "--test",
            "bpf_prog",
            "--",
            "--ignored",
            "--exact",
            "--nocapture",
            "classify_bench",
        ]))?;
    }
    if all || what == "esp" {
        run(cargo().args(["bench", "-p", "ipsec-user", "--bench", "esp"]))?;
    }
    if all || what == "e2e" {
        bench_e2e(args)?;
    }
    if all || what == "ike" {
        // `bench ike -- --quick` etc. reach bench-ike; `all` forwards its
        // arguments to e2e only.
        let fwd: &[String] = if all { &[] } else { args };
        run(cargo()
            .args([
                "run",
                "--release",
                "-p",
                "ipsecgw-tests",
                "--bin",
                "bench-ike",
                "--",
            ])
            .args(fwd))?;
    }
    Ok(())
}

/// iperf3 through plain routing, strongSwan and ipsecgw in one run
/// (`tests/bench_e2e.rs`). The release daemon must sit next to the
/// release `bench-e2e` (the harness looks there); if it does not build,
/// the run still measures the other paths and says why ipsecgw is missing.
fn bench_e2e(args: &[String]) -> Result<()> {
    if let Err(e) =
        run(cargo().args(["build", "--release", "-p", "ipsec-user", "--bin", "ipsecgw"]))
    {
        eprintln!("xtask: ipsecgw did not build ({e:#}); its rows will say why");
    }
    // `--markdown FILE` is relative to where the user typed the command,
    // but cargo runs from the workspace root: make it absolute.
    let cwd = std::env::current_dir()?;
    let mut fwd: Vec<String> = Vec::with_capacity(args.len());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        fwd.push(a.clone());
        if a == "--markdown"
            && let Some(f) = it.next()
        {
            fwd.push(cwd.join(f).display().to_string());
        }
    }
    let typed = if args.is_empty() {
        "cargo xtask bench e2e".to_string()
    } else {
        format!("cargo xtask bench e2e -- {}", args.join(" "))
    };
    run(cargo()
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "ipsecgw-tests",
            "--bin",
            "bench-e2e",
            "--",
        ])
        .args(&fwd)
        .env("IPSECGW_BENCH_COMMAND", typed))
}

fn fuzz(seconds: u64) -> Result<()> {
    let fuzz_dir = root().join("fuzz");
    // Seed corpora first (pcaps, sample configs, generated packets); the
    // script is idempotent and only adds files.
    run(Command::new("python3")
        .arg("seed_corpus.py")
        .current_dir(&fuzz_dir))
    .context("fuzz/seed_corpus.py")?;
    let out = fuzz_cargo(&fuzz_dir)
        .args(["+nightly", "fuzz", "list"])
        .output()
        .context("cargo +nightly fuzz list (install with `cargo install cargo-fuzz`)")?;
    if !out.status.success() {
        bail!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for target in String::from_utf8_lossy(&out.stdout).lines() {
        let target = target.trim();
        if target.is_empty() {
            continue;
        }
        println!("== fuzz target {target}: {seconds} s");
        // The targets exercise userspace parsers only: no eBPF toolchain
        // needed (fuzz/.cargo/config.toml sets the same). One job: the
        // build machines are shared.
        run(fuzz_cargo(&fuzz_dir).env("IPSECGW_SKIP_EBPF", "1").args([
            "+nightly",
            "fuzz",
            "run",
            target,
            "--",
            &format!("-max_total_time={seconds}"),
            "-print_final_stats=1",
        ]))?;
    }
    Ok(())
}

/// `cargo` for the fuzz crate without what `cargo run` exported to xtask
/// (CARGO_*, RUSTUP_TOOLCHAIN, ...): inherited, they make the nightly
/// build's fingerprints differ from a `cargo +nightly fuzz` typed in a
/// shell, and each switch rebuilds every dependency.
fn fuzz_cargo(fuzz_dir: &Path) -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(fuzz_dir);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if (k.starts_with("CARGO") && k != "CARGO_HOME")
            || k.starts_with("RUSTC")
            || k.starts_with("RUSTFLAGS")
            || k == "RUSTDOC"
            || k == "RUSTUP_TOOLCHAIN"
        {
            c.env_remove(&k);
        }
    }
    c
}
