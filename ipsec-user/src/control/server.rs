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

/// Binds the socket (0600, root only) and returns the listener. A stale
/// socket file from a crashed daemon is replaced; a live one is an error.
pub async fn bind(path: &Path) -> Result<UnixListener, ServerError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ServerError::Dir(dir.to_path_buf(), e))?;
    }
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(ServerError::InUse(path.to_path_buf()));
        }
        let _ = std::fs::remove_file(path);
    }
    // Create the socket with a restrictive umask so it is never, even
    // briefly, reachable by other users.
    let old = unsafe { libc::umask(0o177) };
    let listener = UnixListener::bind(path);
    unsafe { libc::umask(old) };
    let listener = listener.map_err(|e| ServerError::Bind(path.to_path_buf(), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| ServerError::Bind(path.to_path_buf(), e))?;
    Ok(listener)
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
