//! Readiness for service managers (sd_notify(3), without libsystemd): one
//! datagram to the Unix socket named by `$NOTIFY_SOCKET`, a path or, with a
//! leading `@`, a name in the abstract namespace. Without the variable
//! (not started by systemd) nothing is sent.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// The daemon is ready: data plane attached, IKE sockets bound, control
/// socket in place.
pub const READY: &str = "READY=1";
/// The daemon is shutting down.
pub const STOPPING: &str = "STOPPING=1";

/// Sends `state` to `$NOTIFY_SOCKET`. Returns whether a notification was
/// sent (false when the variable is unset).
pub fn notify(state: &str) -> std::io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(socket) => notify_to(&socket, state).map(|()| true),
        None => Ok(false),
    }
}

/// Sends `state` to the notification socket `socket` (`/path` or `@name`).
pub fn notify_to(socket: &OsStr, state: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let bytes = socket.as_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else if bytes.starts_with(b"/") {
        sock.send_to(state.as_bytes(), Path::new(socket))?;
    } else {
        // systemd also knows vsock addresses; a gateway has no use for them.
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET is neither a path nor an abstract name",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn recv(s: &UnixDatagram) -> String {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        let n = s.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn notifies_a_path_and_an_abstract_name() {
        let path = std::env::temp_dir().join(format!("ipsecgw-notify-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let s = UnixDatagram::bind(&path).unwrap();
        notify_to(path.as_os_str(), READY).unwrap();
        assert_eq!(recv(&s), "READY=1");
        let _ = std::fs::remove_file(&path);

        use std::os::linux::net::SocketAddrExt;
        let name = format!("ipsecgw-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let s = UnixDatagram::bind_addr(&addr).unwrap();
        notify_to(OsStr::new(&format!("@{name}")), STOPPING).unwrap();
        assert_eq!(recv(&s), "STOPPING=1");

        assert!(notify_to(OsStr::new("vsock:2:1"), READY).is_err());
    }
}
