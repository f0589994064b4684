//! The Debian package installs into a clean Debian 12 root and works
//! there: `cargo xtask deb` packages the binary these tests were built
//! with, debootstrap makes a minimal bookworm root, dpkg installs the
//! package in it, and `ipsecgw check` accepts the shipped configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::gateway::ipsecgw_bin;
use harness::topology::unique;

/// A scratch directory removed on drop, after unmounting anything a tool
/// left mounted below it (debootstrap mounts /proc and /sys while it runs).
struct Root(PathBuf);

impl Drop for Root {
    fn drop(&mut self) {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut below: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| Path::new(m).starts_with(&self.0))
            .collect();
        below.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in below {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn xtask_bin() -> PathBuf {
    ipsecgw_bin().with_file_name("xtask")
}

#[test]
fn the_package_installs_into_a_clean_debian_12_root_and_checks_its_config() {
    let scratch = Root(std::env::temp_dir().join(unique("ipsecgw-deb")));
    std::fs::create_dir_all(&scratch.0).unwrap();
    let out = scratch.0.join("out");
    let root = scratch.0.join("root");

    let built = sh(Command::new(xtask_bin())
        .arg("deb")
        .arg("--binary")
        .arg(ipsecgw_bin())
        .arg("--out")
        .arg(&out));
    let deb = PathBuf::from(built.lines().last().unwrap().trim());
    assert!(deb.exists(), "{built}");

    let info = sh(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(info.contains("Package: ipsecgw"), "{info}");
    assert!(
        info.contains(" Depends: ") && info.contains("libc6 (>= 2.36)"),
        "{info}"
    );
    let contents = sh(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for f in [
        "./usr/sbin/ipsecgw",
        "./lib/systemd/system/ipsecgw.service",
        "./etc/ipsecgw/ipsecgw.conf",
        "./usr/share/man/man1/ipsecgw.1.gz",
        "./usr/share/bash-completion/completions/ipsecgw",
    ] {
        assert!(contents.contains(f), "{f} missing:\n{contents}");
    }

    // A minimal bookworm with the package's dependencies, from the Debian
    // archive the machine's apt uses.
    sh(Command::new("debootstrap")
        .args([
            "--variant=minbase",
            "--include=libssl3,iproute2",
            "bookworm",
        ])
        .arg(&root)
        .arg("http://deb.debian.org/debian"));
    std::fs::copy(&deb, root.join("tmp/ipsecgw.deb")).unwrap();
    sh(Command::new("chroot")
        .arg(&root)
        .args(["dpkg", "-i", "/tmp/ipsecgw.deb"]));
    let conffiles = sh(Command::new("chroot").arg(&root).args([
        "dpkg-query",
        "-W",
        "-f=${Conffiles}",
        "ipsecgw",
    ]));
    assert!(
        conffiles.contains("/etc/ipsecgw/ipsecgw.conf"),
        "the configuration is a conffile: {conffiles}"
    );
    let check = sh(Command::new("chroot").arg(&root).args([
        "/usr/sbin/ipsecgw",
        "check",
        "--config",
        "/etc/ipsecgw/ipsecgw.conf",
    ]));
    eprintln!("ipsecgw check in the clean root:\n{check}");
    let unit = std::fs::read_to_string(root.join("lib/systemd/system/ipsecgw.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/sbin/ipsecgw run"), "{unit}");
    assert!(
        unit.contains("ExecReload=/usr/sbin/ipsecgw reload"),
        "{unit}"
    );
    assert!(unit.contains("Type=notify"), "{unit}");
    // systemd accepts the unit (the minimal root has no systemd: verify it
    // on this host, pointing at the binary the package installed).
    let installed = root.join("usr/sbin/ipsecgw");
    let check_unit = scratch.0.join("ipsecgw.service");
    std::fs::write(
        &check_unit,
        unit.replace("/usr/sbin/ipsecgw", installed.to_str().unwrap()),
    )
    .unwrap();
    let v = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&check_unit)
        .output()
        .unwrap();
    assert!(
        v.status.success() && v.stderr.is_empty(),
        "systemd-analyze verify:\n{}",
        String::from_utf8_lossy(&v.stderr)
    );
}
