//! No client can hold the bot: idle, slow-header and slow-body connections beyond the cap do
//! not keep `/healthz` or a signed callback from answering; idle connections and slow headers
//! are closed after their timeouts, slow bodies get 408, and an oversize Content-Length gets
//! 413 before a byte of the body is read.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use crate::harness::{spawn_app_with, TestApp, TestOptions};
use rallybot::config::HumanDuration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Connections the server serves at once in the flood test.
const CAP: usize = 64;
/// Far longer than any of these tests needs to see an answer.
const PATIENCE: Duration = Duration::from_secs(30);

fn seconds(n: u32) -> HumanDuration {
    HumanDuration::parse(&format!("{n}s")).unwrap()
}

fn address(app: &TestApp) -> String {
    app.base_url.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_to_close(socket: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                // A reset is a close too (unread bytes of ours were still queued).
                Err(_) => return,
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&received).into_owned()
}

/// Whether the server has closed `socket`, without waiting.
fn closed(socket: &TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    match socket.try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

async fn metric(app: &TestApp, line_start: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn health_and_callbacks_answer_through_a_flood_of_idle_and_slow_connections() {
    let app = spawn_app_with(TestOptions {
        configure: |s| {
            s.server.max_connections = CAP as u32;
            // Only the cap is under test here: no timeout fires while it runs.
            s.server.idle_timeout = seconds(120);
            s.server.header_timeout = seconds(120);
            s.server.body_timeout = seconds(120);
        },
        ..Default::default()
    })
    .await;
    let addr = address(&app);
    let mut held = Vec::new();
    for _ in 0..600 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    for _ in 0..100 {
        let mut socket = TcpStream::connect(&addr).await.unwrap();
        socket
            .write_all(
                b"POST /wecom/app?msg_signature=a&timestamp=1&nonce=n HTTP/1.1\r\nHost: bot\r\n",
            )
            .await
            .unwrap();
        held.push(socket);
    }
    // Fewer than the cap: a request whose body is arriving is never cut to make room.
    for _ in 0..40 {
        let mut socket = TcpStream::connect(&addr).await.unwrap();
        socket
            .write_all(
                b"POST /wecom/app?msg_signature=a&timestamp=1&nonce=n HTTP/1.1\r\nHost: bot\r\n\
                  Content-Length: 1000\r\n\r\n<xml><Encrypt>",
            )
            .await
            .unwrap();
        held.push(socket);
    }

    // A new client still gets in, each time on a new connection.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(PATIENCE)
        .build()
        .unwrap();
    for _ in 0..3 {
        let health = fresh
            .get(format!("{}/healthz", app.base_url))
            .send()
            .await
            .expect("/healthz answers");
        assert_eq!(health.status(), 200);
        assert_eq!(health.text().await.unwrap(), "ok");
    }
    let reply = tokio::time::timeout(PATIENCE, app.say("zhangsan", "帮助"))
        .await
        .expect("the callback is answered");
    assert_eq!(reply.status, 200);
    assert!(reply.text.is_some_and(|t| t.contains("帮助")));

    // The server holds no more than the cap: the rest were closed to make room.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let open = held.iter().filter(|s| !closed(s)).count();
        if open <= CAP {
            break;
        }
        assert!(Instant::now() < deadline, "{open} connections still open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        metric(
            &app,
            "rallybot_http_connections_closed_total{reason=\"evicted\"}"
        )
        .await
            >= 600,
        "evictions are counted"
    );
    drop(held);
    app.stop().await;
}

#[tokio::test]
async fn slow_headers_are_closed_and_slow_bodies_get_408() {
    let app = spawn_app_with(TestOptions {
        configure: |s| {
            s.server.idle_timeout = seconds(120);
            s.server.header_timeout = seconds(1);
            s.server.body_timeout = seconds(1);
        },
        ..Default::default()
    })
    .await;
    let addr = address(&app);

    let mut slow_header = TcpStream::connect(&addr).await.unwrap();
    // Before the write: the server cannot have seen the first byte earlier than this.
    let sent = Instant::now();
    slow_header
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut slow_header).await;
    assert!(
        sent.elapsed() >= Duration::from_secs(1),
        "not before the timeout"
    );
    assert_eq!(answer, "", "closed without an answer");

    let mut slow_body = TcpStream::connect(&addr).await.unwrap();
    slow_body
        .write_all(
            b"POST /wecom/app?msg_signature=a&timestamp=1&nonce=n HTTP/1.1\r\nHost: bot\r\n\
              Content-Length: 100\r\n\r\n<xml>",
        )
        .await
        .unwrap();
    let answer = read_to_close(&mut slow_body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    assert!(
        metric(
            &app,
            "rallybot_http_connections_closed_total{reason=\"header_timeout\"}"
        )
        .await
            >= 1
    );
    assert!(
        metric(
            &app,
            "rallybot_http_connections_closed_total{reason=\"body_timeout\"}"
        )
        .await
            >= 1
    );
    // The server itself is fine.
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed_and_oversize_bodies_refused_unread() {
    let app = spawn_app_with(TestOptions {
        configure: |s| {
            s.server.idle_timeout = seconds(1);
            // Were the body read, the answer would take two minutes.
            s.server.header_timeout = seconds(120);
            s.server.body_timeout = seconds(120);
        },
        ..Default::default()
    })
    .await;
    let addr = address(&app);

    let mut idle = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(read_to_close(&mut idle).await, "");

    let mut oversize = TcpStream::connect(&addr).await.unwrap();
    oversize
        .write_all(
            b"POST /wecom/app?msg_signature=a&timestamp=1&nonce=n HTTP/1.1\r\nHost: bot\r\n\
              Content-Length: 200000\r\n\r\n",
        )
        .await
        .unwrap();
    let answer = read_to_close(&mut oversize).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(
        metric(
            &app,
            "rallybot_http_connections_closed_total{reason=\"idle_timeout\"}"
        )
        .await
            >= 1
    );
    app.stop().await;
}
