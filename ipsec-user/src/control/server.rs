//! The daemon's side of the control socket. Each connection carries one
//! request; the request is handed to the daemon's main loop over a channel
//! so that all state stays owned by one task.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::proto::{MAX_REQUEST_BYTES, Reply, Request, decode_request};

/// A request waiting for the daemon's answer.
pub type Pending = (Request, oneshot::Sender<Reply>);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot create {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("cannot listen on {0}: {1}")]
    Bind(PathBuf, std::io::Error),
    #[error("another daemon answers on {0}; use another --control socket")]
    InUse(PathBuf),
}

/// Held from start-up to exit: an exclusive lock on `.<name>.lock` next
/// to the control socket. The socket itself appears only when the daemon
/// is ready, so without the lock two daemons started together could both
/// find the path free and load the same data plane. The kernel drops the
/// lock when the process dies, kill -9 included.
#[derive(Debug)]
pub struct Claim {
    _lock: std::fs::File,
}

/// Refuses when another daemon holds or answers on `path`, and removes a
/// stale socket file (a crashed daemon's). Called first thing at
/// start-up, so a second daemon stops before it touches the data plane,
/// and so that from then on the path exists only once a daemon is ready
/// ([`bind`]). Keep the returned [`Claim`] until exit.
pub async fn claim(path: &Path) -> Result<Claim, ServerError> {
    use std::os::fd::AsRawFd;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ServerError::Dir(dir.to_path_buf(), e))?;
    }
    let lock_path = sibling(path, "lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| ServerError::Bind(lock_path.clone(), e))?;
    // SAFETY: flock on a file we just opened.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(ServerError::InUse(path.to_path_buf()));
    }
    if path.symlink_metadata().is_ok() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(ServerError::InUse(path.to_path_buf()));
        }
        let _ = std::fs::remove_file(path);
    }
    Ok(Claim { _lock: lock })
}

/// Binds the socket (0600, root only) and returns the listener. Call it
/// when the daemon is ready to serve: the socket is bound under a
/// temporary name in the same directory and renamed into place, so the
/// path appears (atomically) only complete and listening, and a script or
/// unit that waits for it knows the daemon is up. A live daemon on the
/// path is an error, a stale socket file is replaced.
pub async fn bind(path: &Path) -> Result<UnixListener, ServerError> {
    let claim = claim(path).await?;
    bind_claimed(path, &claim)
}

/// [`bind`] for the holder of `claim` (the daemon, at the moment it is
/// ready).
pub fn bind_claimed(path: &Path, _claim: &Claim) -> Result<UnixListener, ServerError> {
    if path.symlink_metadata().is_ok() {
        // Only a socket we left ourselves can be here (we hold the lock).
        let _ = std::fs::remove_file(path);
    }
    let tmp = sibling(path, &format!("{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let bind_err = |e| ServerError::Bind(path.to_path_buf(), e);
    // Create the socket with a restrictive umask so it is never, even
    // briefly, reachable by other users.
    // SAFETY: umask only swaps the process's file-creation mask.
    let old = unsafe { libc::umask(0o177) };
    let listener = UnixListener::bind(&tmp);
    unsafe { libc::umask(old) };
    let listener = listener.map_err(bind_err)?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(bind_err(e));
    }
    Ok(listener)
}

/// `.<name>.<suffix>` next to `path`: same directory (a rename stays
/// within one filesystem), hidden from a glob on `*.sock`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{suffix}"))
}

/// Removes the socket at `path` when it is still the one `listener`
/// created (same inode): at orderly shutdown, so the path goes away with
/// the daemon, but never another daemon's.
pub fn unlink_if_ours(path: &Path, listener_ino: Option<u64>) {
    use std::os::unix::fs::MetadataExt;
    if let (Some(ino), Ok(m)) = (listener_ino, path.symlink_metadata())
        && m.ino() == ino
    {
        let _ = std::fs::remove_file(path);
    }
}

/// The inode of the socket file at `path` (right after [`bind`]).
pub fn socket_ino(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    path.symlink_metadata().ok().map(|m| m.ino())
}

/// Accepts connections forever, forwarding requests to `to_daemon`.
pub async fn serve(listener: UnixListener, to_daemon: mpsc::Sender<Pending>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let tx = to_daemon.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, tx).await {
                tracing::debug!(error = %e, "control connection ended with an error");
            }
        });
    }
}

async fn handle(stream: UnixStream, tx: mpsc::Sender<Pending>) -> std::io::Result<()> {
    let uid = stream.peer_cred().map(|c| c.uid()).unwrap_or(u32::MAX);
    let (rd, mut wr) = stream.into_split();
    // Read the request (bounded in size and time) even from a caller we
    // refuse: closing before it is written makes its write fail with EPIPE,
    // and it would never see why.
    let mut line = Vec::new();
    let mut limited = BufReader::new(rd).take(MAX_REQUEST_BYTES as u64 + 1);
    let read =
        tokio::time::timeout(Duration::from_secs(5), limited.read_until(b'\n', &mut line)).await;
    let reply = if uid != 0 {
        tracing::warn!(uid, "control request from a non-root caller refused");
        Reply::error("permission denied: the control socket is for root only")
    } else {
        match read {
            Err(_) => Reply::error("timed out waiting for the request"),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(_)) => match decode_request(line.trim_ascii()) {
                Err(e) => Reply::error(e.to_string()),
                Ok(req) => {
                    let (otx, orx) = oneshot::channel();
                    if tx.send((req, otx)).await.is_err() {
                        Reply::error("the daemon is shutting down")
                    } else {
                        orx.await
                            .unwrap_or_else(|_| Reply::error("the daemon dropped the request"))
                    }
                }
            },
        }
    };
    let mut out = serde_json::to_vec(&reply).unwrap_or_else(|_| b"{}".to_vec());
    out.push(b'\n');
    wr.write_all(&out).await?;
    wr.shutdown().await
}
