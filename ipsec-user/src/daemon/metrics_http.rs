//! The `--metrics ADDR:PORT` listener: HTTP/1.x GET /metrics, nothing else.
//!
//! Hand-written rather than a web framework: one route, one method, and a
//! request we read at most 8 KiB of, within 5 s, then close. Whoever can
//! reach the port can read the metrics (no secrets in them) and cost us a
//! bounded connection slot; nothing a client sends allocates past the
//! bound or reaches the daemon's state except as "render now".

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{debug, warn};

/// A scrape asks the daemon loop for the text through this channel.
pub type Scrape = oneshot::Sender<String>;

const MAX_REQUEST: usize = 8 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at accept.
const MAX_CONNECTIONS: usize = 16;

pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves until the daemon's loop goes away.
pub async fn serve(listener: TcpListener, to_daemon: mpsc::Sender<Scrape>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            debug!(%peer, "metrics: too many connections; closed");
            continue;
        };
        let tx = to_daemon.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = tokio::time::timeout(REQUEST_TIMEOUT, one(stream, tx)).await {
                debug!(%peer, error = %e, "metrics: request timed out");
            }
        });
    }
}

/// What the request line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Metrics,
    NotFound,
    BadMethod,
    BadRequest,
}

/// Reads the request line of `head` (bytes up to the end of the headers).
pub fn route(head: &[u8]) -> Route {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = std::str::from_utf8(line)
        .unwrap_or("")
        .trim_end_matches('\r');
    let mut w = line.split(' ');
    match (w.next(), w.next(), w.next(), w.next()) {
        (Some(method), Some(target), Some(version), None) if version.starts_with("HTTP/1.") => {
            if method != "GET" {
                Route::BadMethod
            } else if target == "/metrics" || target.starts_with("/metrics?") {
                Route::Metrics
            } else {
                Route::NotFound
            }
        }
        _ => Route::BadRequest,
    }
}

/// An `Accept` header naming OpenMetrics.
fn wants_openmetrics(head: &[u8]) -> bool {
    String::from_utf8_lossy(head).lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("accept:") && l.contains("application/openmetrics-text")
    })
}

async fn one(mut s: TcpStream, to_daemon: mpsc::Sender<Scrape>) -> std::io::Result<()> {
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut n = 0;
    // Up to the end of the headers, within the bound.
    while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
        if n == buf.len() {
            return respond(
                &mut s,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"",
            )
            .await;
        }
        let r = s.read(&mut buf[n..]).await?;
        if r == 0 {
            return Ok(());
        }
        n += r;
    }
    match route(&buf[..n]) {
        Route::Metrics => {
            // Content negotiation, as Prometheus does it: OpenMetrics when
            // asked for, the classic text format otherwise.
            let openmetrics = wants_openmetrics(&buf[..n]);
            let (tx, rx) = oneshot::channel();
            if to_daemon.send(tx).await.is_err() {
                return respond(&mut s, "503 Service Unavailable", "text/plain", b"").await;
            }
            let Ok(text) = rx.await else {
                return respond(&mut s, "503 Service Unavailable", "text/plain", b"").await;
            };
            if openmetrics {
                respond(
                    &mut s,
                    "200 OK",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    text.as_bytes(),
                )
                .await
            } else {
                let text = super::metrics::to_prometheus_text(&text);
                respond(
                    &mut s,
                    "200 OK",
                    "text/plain; version=0.0.4; charset=utf-8",
                    text.as_bytes(),
                )
                .await
            }
        }
        Route::NotFound => respond(&mut s, "404 Not Found", "text/plain", b"try /metrics\n").await,
        Route::BadMethod => respond(&mut s, "405 Method Not Allowed", "text/plain", b"").await,
        Route::BadRequest => respond(&mut s, "400 Bad Request", "text/plain", b"").await,
    }
}

async fn respond(s: &mut TcpStream, status: &str, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    s.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Route::Metrics
        );
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Route::Metrics);
        assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route(b"POST /metrics HTTP/1.1\r\n\r\n"), Route::BadMethod);
        assert_eq!(route(b"GET /metrics\r\n\r\n"), Route::BadRequest);
        assert_eq!(route(b"\xff\xfe\r\n\r\n"), Route::BadRequest);
        assert_eq!(route(b""), Route::BadRequest);
    }
}
