//! The control socket end to end over a real Unix socket: valid requests
//! reach the daemon loop, malformed and oversized ones get error replies,
//! the socket is 0600, and the server keeps serving after bad input.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

use ipsecgw::control::client;
use ipsecgw::control::proto::*;
use ipsecgw::control::server;

fn raw(path: &std::path::Path, bytes: &[u8]) -> serde_json::Value {
    let mut s = UnixStream::connect(path).unwrap();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn serves_requests_and_survives_bad_ones() {
    let dir = std::env::temp_dir().join(format!("ipsecgw-ctl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("control.sock");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(server::bind(&path)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let (tx, mut rx) = tokio::sync::mpsc::channel::<server::Pending>(8);
    rt.spawn(server::serve(listener, tx));
    // A fake daemon loop: answers show-running-config, counts requests.
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen2 = seen.clone();
    rt.spawn(async move {
        while let Some((req, reply)) = rx.recv().await {
            seen2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let r = match req.command {
                Command::ShowRunningConfig => {
                    Reply::ok(ReplyData::Text("crypto isakmp policy 10\n".into()))
                }
                _ => Reply::error("unsupported in this test"),
            };
            let _ = reply.send(r);
        }
    });

    let v = raw(&path, b"this is not json\n");
    assert_eq!(v["status"], "error");
    assert!(v["message"].as_str().unwrap().contains("malformed"));

    let big = vec![b'x'; MAX_REQUEST_BYTES + 100];
    let v = raw(&path, &big);
    assert_eq!(v["status"], "error");

    let v = raw(
        &path,
        br#"{"version":7,"command":{"cmd":"show-isakmp-sa"}}"#,
    );
    assert!(v["message"].as_str().unwrap().contains("version 7"));

    // Still serving, and a real request reaches the daemon loop.
    let data = client::request(&path, Command::ShowRunningConfig).unwrap();
    assert_eq!(data, ReplyData::Text("crypto isakmp policy 10\n".into()));
    let err = client::request(&path, Command::ShowIsakmpSa).unwrap_err();
    assert!(err.to_string().contains("unsupported in this test"));
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 2);

    // A second daemon on the same socket is refused.
    let again = rt.block_on(server::bind(&path));
    assert!(matches!(again, Err(server::ServerError::InUse(_))));
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A starting daemon claims its socket path before it is ready: the path
/// stays absent (it appears only at `bind_claimed`), and a second daemon
/// is refused although nothing listens yet. The claim ends with its holder.
#[test]
fn a_claimed_path_is_refused_before_the_socket_exists() {
    let dir = std::env::temp_dir().join(format!("ipsecgw-claim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("control.sock");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let claim = rt.block_on(server::claim(&path)).unwrap();
    assert!(!path.exists(), "no socket before the daemon is ready");
    let again = rt.block_on(server::claim(&path));
    assert!(
        matches!(again, Err(server::ServerError::InUse(_))),
        "{again:?}"
    );
    let listener = {
        let _guard = rt.enter();
        server::bind_claimed(&path, &claim).unwrap()
    };
    assert!(path.exists());
    drop(listener);
    drop(claim);
    // The holder is gone (its socket file is stale): the path is free.
    let claim = rt.block_on(server::claim(&path)).unwrap();
    assert!(!path.exists(), "the stale socket was removed");
    drop(claim);
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}
