//! Where the pins go: a bpffs that outlives the daemon.
//!
//! The pinned links and maps are what keep XDP and the TC egress guard
//! attached after the daemon dies (fail closed). They do so only on a
//! bpffs mount that outlives the process. Started by `ip netns exec`, the
//! daemon runs in a private mount namespace whose fresh /sys has no bpffs;
//! one mounted there dies with that namespace, that is with the daemon,
//! and takes the programs along: protected traffic is then routed in
//! cleartext. [`resolve`] finds a persistent bpffs (the host's, through
//! `/proc/1/root` if need be) or refuses with a one-line reason.
//!
//! "The host" is PID 1's mount namespace. Where PID 1 may not be looked at
//! (a sandbox whose init belongs to an outer user namespace), it is the
//! mount namespace of the nearest ancestor in another mount namespace than
//! ours: the one `ip netns exec` was run from.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::is_bpffs;

/// Root of all instances' pins unless `--pin-root` says otherwise.
pub const DEFAULT_PIN_ROOT: &str = "/sys/fs/bpf/ipsecgw";
const SYS_BPF: &str = "/sys/fs/bpf";
/// How far up the process tree to look for the host's mount namespace.
const MAX_ANCESTORS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum PinRootError {
    #[error("--pin-root {0}: not on a bpffs (mount one there, or leave --pin-root out)")]
    NotBpffs(PathBuf),
    #[error(
        "--pin-root {0}: this bpffs is private to the daemon's mount namespace and would die with it, and the fail-closed guard with it; use a bpffs the host sees, or --no-persistent-guard"
    )]
    NotPersistent(PathBuf),
    #[error(
        "/sys/fs/bpf here is private to this mount namespace (started by `ip netns exec`?) and the host has no bpffs on /sys/fs/bpf: pins would die with the daemon and protected cleartext would leak after a crash; mount bpffs on the host's /sys/fs/bpf, pass --pin-root DIR on a persistent bpffs, or --no-persistent-guard"
    )]
    NoHostBpffs,
    #[error("mounting bpffs on /sys/fs/bpf: {0}")]
    Mount(io::Error),
}

/// The directory under which each instance pins (`<root>/<instance>/`).
///
/// - `requested` (`--pin-root DIR`) must lie on a bpffs, and one that
///   outlives us: we share PID 1's mount namespace, or PID 1 sees the same
///   bpffs (same superblock) at the same path.
/// - By default, `/sys/fs/bpf/ipsecgw`: in PID 1's mount namespace bpffs
///   is mounted there if missing (the mount persists). In a private mount
///   namespace, `/sys/fs/bpf` is used only if it is the host's bpffs;
///   otherwise the pins go to the host's through
///   `/proc/1/root/sys/fs/bpf/ipsecgw` (the same directory as seen from
///   the host, so an operator and a restarted daemon find them).
/// - `allow_private` (`--no-persistent-guard`) accepts a bpffs that dies
///   with us, when nothing better exists.
pub fn resolve(requested: Option<&Path>, allow_private: bool) -> Result<PathBuf, PinRootError> {
    let host = host_root();
    if let Some(dir) = requested {
        let probe = nearest_existing(dir);
        if !is_bpffs(&probe) {
            return Err(PinRootError::NotBpffs(dir.to_path_buf()));
        }
        if host.as_ref().is_none_or(|h| host_sees_same(h, &probe)) {
            return Ok(dir.to_path_buf());
        }
        if allow_private {
            tracing::warn!(dir = %dir.display(), "--no-persistent-guard: pins on a private bpffs die with the daemon; after a crash protected traffic is no longer dropped");
            return Ok(dir.to_path_buf());
        }
        return Err(PinRootError::NotPersistent(dir.to_path_buf()));
    }
    let sys = Path::new(SYS_BPF);
    let Some(host) = host else {
        // The host's mount namespace: a bpffs mounted here persists.
        ensure_bpffs()?;
        return Ok(PathBuf::from(DEFAULT_PIN_ROOT));
    };
    if is_bpffs(sys) && host_sees_same(&host, sys) {
        return Ok(PathBuf::from(DEFAULT_PIN_ROOT));
    }
    if is_bpffs(&under(&host, sys)) {
        let root = under(&host, Path::new(DEFAULT_PIN_ROOT));
        tracing::info!(pins = %root.display(), "private mount namespace: pinning in the host's bpffs so the guard outlives the daemon");
        return Ok(root);
    }
    if allow_private {
        tracing::warn!(
            "--no-persistent-guard: pins on a private bpffs die with the daemon; after a crash protected traffic is no longer dropped"
        );
        ensure_bpffs()?;
        return Ok(PathBuf::from(DEFAULT_PIN_ROOT));
    }
    Err(PinRootError::NoHostBpffs)
}

/// `/proc/<pid>/root` of a process in the host's mount namespace when
/// that is not ours; `None` when we are in it (or cannot tell: then there
/// is no better guess, and it was the behaviour before the check existed).
fn host_root() -> Option<PathBuf> {
    let ours = std::fs::read_link("/proc/self/ns/mnt").ok()?;
    let other = |pid: u32| {
        std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
            .ok()
            .map(|ns| ns != ours)
    };
    if let Some(differs) = other(1) {
        return differs.then(|| PathBuf::from("/proc/1/root"));
    }
    let mut pid = parent_of("self")?;
    for _ in 0..MAX_ANCESTORS {
        if pid <= 1 {
            return None;
        }
        if other(pid) == Some(true) {
            return Some(PathBuf::from(format!("/proc/{pid}/root")));
        }
        pid = parent_of(&pid.to_string())?;
    }
    None
}

/// The parent PID from `/proc/<pid>/stat` (the field after the command
/// name, which may itself hold spaces and parentheses).
fn parent_of(pid: &str) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `path` as seen from the host: `<host>/<path>`.
fn under(host: &Path, path: &Path) -> PathBuf {
    host.join(path.strip_prefix("/").unwrap_or(path))
}

/// Does the host see, at the same path, the same filesystem (device) as we
/// do at `path`? Each bpffs mount is its own superblock with its own
/// device number, so equal devices mean one bpffs shared with the host.
fn host_sees_same(host: &Path, path: &Path) -> bool {
    let theirs = under(host, path);
    match (std::fs::metadata(path), std::fs::metadata(&theirs)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && is_bpffs(&theirs),
        _ => false,
    }
}

/// `dir` or its nearest ancestor that exists (the pin directory itself is
/// created later).
fn nearest_existing(dir: &Path) -> PathBuf {
    let mut p = dir.to_path_buf();
    while !p.exists() {
        if !p.pop() {
            return PathBuf::from("/");
        }
    }
    p
}

/// Mounts bpffs on /sys/fs/bpf when it is not there yet.
pub(super) fn ensure_bpffs() -> Result<(), PinRootError> {
    if is_bpffs(Path::new(SYS_BPF)) {
        return Ok(());
    }
    tracing::info!("mounting bpffs on /sys/fs/bpf");
    let src = c"bpf";
    let dst = c"/sys/fs/bpf";
    // SAFETY: static NUL-terminated strings.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            src.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(PinRootError::Mount(io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_pid_is_read_from_stat() {
        assert_eq!(parent_of("self"), Some(std::os::unix::process::parent_id()));
    }

    #[test]
    fn a_directory_off_bpffs_is_refused() {
        let dir = std::env::temp_dir().join("ipsecgw-pinfs-not-bpffs/a/b");
        let e = resolve(Some(&dir), true).unwrap_err();
        assert!(matches!(e, PinRootError::NotBpffs(_)), "{e}");
        assert!(!e.to_string().contains('\n'));
        assert_eq!(nearest_existing(&dir), std::env::temp_dir());
    }
}
