//! The CLI's side of the control socket: blocking, one request per call.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::proto::{Command, MAX_REPLY_BYTES, Reply, ReplyBody, ReplyData, Request};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the daemon at {0}: {1} (is `ipsecgw run` running? use --control SOCK)")]
    Connect(PathBuf, std::io::Error),
    #[error("permission denied on {0}: the control socket is for root only (run ipsecgw as root)")]
    PermissionDenied(PathBuf),
    #[error("control socket I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("the daemon's reply is not valid: {0}")]
    BadReply(String),
    #[error("{0}")]
    Daemon(String),
}

pub fn request(socket: &Path, command: Command) -> Result<ReplyData, ClientError> {
    let mut stream = UnixStream::connect(socket).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            ClientError::PermissionDenied(socket.to_path_buf())
        } else {
            ClientError::Connect(socket.to_path_buf(), e)
        }
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut line = serde_json::to_vec(&Request::new(command))
        .map_err(|e| ClientError::BadReply(e.to_string()))?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut reply = Vec::new();
    BufReader::new(stream.take(MAX_REPLY_BYTES as u64)).read_until(b'\n', &mut reply)?;
    let reply: Reply = serde_json::from_slice(reply.trim_ascii())
        .map_err(|e| ClientError::BadReply(e.to_string()))?;
    match reply.body {
        ReplyBody::Ok { data } => Ok(data),
        ReplyBody::Error { message } => Err(ClientError::Daemon(message)),
    }
}
