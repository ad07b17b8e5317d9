//! Issue 14: 1,100 idle sockets against `serve` running with 1,024 open files made every
//! request fail with "Too many open files". Rerun against the real binary under that
//! limit: connections beyond the cap are closed at once, a connection already open keeps
//! being served, idle sockets are closed after the idle timeout, and then new visitors
//! are served again.

use crate::support::{child_server, slow};

use std::net::SocketAddr;
use std::time::Duration;

use child_server::Deployment;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one keep-alive request on `stream` and reads its answer; the status.
async fn request_on(stream: &mut TcpStream, path: &str, token: &str) -> u16 {
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: ledger\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the established connection was closed");
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .and_then(|v| v.trim().parse().ok())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    return head
                        .split(' ')
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("no answer on the established connection")
}

/// Whether the server closes `stream` within `within`.
async fn closed_within(mut stream: TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_sockets_beyond_the_cap_never_exhaust_file_descriptors() {
    if slow::skip("idle_sockets_beyond_the_cap_never_exhaust_file_descriptors") {
        return;
    }
    let db = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", db.path().join("ledger.db").display());
    let (d, tokens) = Deployment::init(&url);
    let server = d
        .serve_with(
            "idle",
            &[
                "--max-connections",
                "512",
                "--header-read-timeout-secs",
                "5",
                "--idle-timeout-secs",
                "6",
            ],
            Some(1024),
        )
        .await;
    let addr: SocketAddr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let mut established = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(
        request_on(&mut established, "/v1/whoami", &tokens.auditor).await,
        200
    );

    let mut idle = Vec::new();
    for _ in 0..1_100 {
        idle.push(TcpStream::connect(addr).await.expect("idle connect"));
    }
    // The connection that was already open is still served, token and database alike.
    assert_eq!(
        request_on(&mut established, "/v1/whoami", &tokens.auditor).await,
        200,
        "log:\n{}",
        server.log_text()
    );
    assert_eq!(
        request_on(&mut established, "/v1/ledger/status", &tokens.auditor).await,
        200
    );
    // Those over the cap were closed at once rather than held.
    let early: Vec<bool> = futures::future::join_all(idle.drain(..).map(|s| async move {
        let mut s = s;
        let mut buf = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => (true, None),
            _ => (false, Some(s)),
        }
    }))
    .await
    .into_iter()
    .map(|(closed, s)| {
        if let Some(s) = s {
            idle.push(s);
        }
        closed
    })
    .collect();
    let closed_early = early.iter().filter(|c| **c).count();
    assert!(
        closed_early >= 1_100 - 512,
        "only {closed_early} of 1,100 idle sockets were refused"
    );
    // The rest are closed once they have sent nothing for the timeout.
    let late = futures::future::join_all(
        idle.into_iter()
            .map(|s| closed_within(s, Duration::from_secs(20))),
    )
    .await;
    assert!(late.iter().all(|c| *c), "idle sockets were kept open");
    // And a new visitor is served.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let r = client
        .get(server.url("/v1/whoami"))
        .bearer_auth(&tokens.auditor)
        .send()
        .await
        .expect("a new connection after the idle flood");
    assert_eq!(r.status(), 200);
    let log = server.log_text();
    assert!(
        !log.contains("Too many open files"),
        "the server ran out of file descriptors:\n{log}"
    );
    server.kill();
}
