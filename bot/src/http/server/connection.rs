//! One client connection: what it is doing (waiting for a request, receiving a header, being
//! served), the socket wrapper that notices a request's first byte, and the deadlines that
//! close a connection left idle or sending its header too slowly.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The state of one connection, shared by its task, its socket, its requests and the registry
/// that may evict it. Times are milliseconds since the server's `epoch`.
#[derive(Debug)]
pub(super) struct Connection {
    epoch: Instant,
    /// Requests handed to the router and not yet answered (0 or 1 with HTTP/1).
    in_flight: AtomicUsize,
    /// When the connection last had nothing to do: opened, or finished a response.
    free_since: AtomicU64,
    /// One more than when the first byte of a request not yet handed on arrived; 0 = none.
    header_started: AtomicU64,
    /// Set once the server has asked this connection to close (eviction, shutdown).
    closing: AtomicBool,
    /// Wakes the task: a header started (its deadline may come sooner), or it must close.
    changed: Notify,
}

/// Why a connection's time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expired {
    Idle,
    Header,
}

impl Expired {
    pub(super) fn reason(self) -> &'static str {
        match self {
            Expired::Idle => "idle_timeout",
            Expired::Header => "header_timeout",
        }
    }
}

impl Connection {
    pub(super) fn new(epoch: Instant) -> Connection {
        let now = millis_since(epoch, Instant::now());
        Connection {
            epoch,
            in_flight: AtomicUsize::new(0),
            free_since: AtomicU64::new(now),
            header_started: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        millis_since(self.epoch, Instant::now())
    }

    /// Whether a request is being received (body) or served: such a connection is never cut.
    pub(super) fn busy(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) > 0
    }

    /// Bytes arrived on the socket. With no request in progress they begin a header, whose
    /// deadline then runs.
    fn bytes_arrived(&self) {
        if self.busy() {
            return;
        }
        let started = self.now() + 1;
        if self
            .header_started
            .compare_exchange(0, started, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// A request's header is complete and goes to the router; the guard marks it answered.
    pub(super) fn request_started(self: &std::sync::Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        RequestGuard(self.clone())
    }

    /// Asks the connection to close: at once when it has no request in progress, else after
    /// the one in progress. False when it was already asked.
    pub(super) fn close(&self) -> bool {
        let first = !self.closing.swap(true, Ordering::SeqCst);
        if first {
            self.changed.notify_one();
        }
        first
    }

    pub(super) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Whether the connection's time ran out, and when to look again if not.
    pub(super) fn check(&self, idle: Duration, header: Duration) -> Result<Duration, Expired> {
        let now = self.now();
        let idle = to_millis(idle);
        let header = to_millis(header);
        if self.busy() {
            // The body has its own timeout; the handlers theirs. Look again later.
            return Ok(Duration::from_millis(idle.min(header).max(1)));
        }
        let started = self.header_started.load(Ordering::SeqCst);
        let (since, limit, expired) = if started != 0 {
            (started - 1, header, Expired::Header)
        } else {
            (self.free_since.load(Ordering::SeqCst), idle, Expired::Idle)
        };
        // Whole milliseconds, truncated: only a difference over the limit is surely one.
        let elapsed = now.saturating_sub(since);
        if elapsed > limit {
            Err(expired)
        } else {
            Ok(Duration::from_millis(limit - elapsed + 1))
        }
    }

    /// Resolves when something happened that may change `check`'s answer.
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Held while a request is with the router; dropping it frees the connection again.
#[derive(Debug)]
pub(super) struct RequestGuard(std::sync::Arc<Connection>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let connection = &self.0;
        connection.header_started.store(0, Ordering::SeqCst);
        connection
            .free_since
            .store(connection.now(), Ordering::SeqCst);
        connection.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The client socket, telling its connection when bytes arrive.
#[derive(Debug)]
pub(super) struct Watched {
    pub(super) socket: TcpStream,
    pub(super) connection: std::sync::Arc<Connection>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.socket).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.connection.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_shutdown(cx)
    }
}

fn millis_since(epoch: Instant, at: Instant) -> u64 {
    to_millis(at.saturating_duration_since(epoch))
}

fn to_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const IDLE: Duration = Duration::from_secs(75);
    const HEADER: Duration = Duration::from_secs(10);

    /// A connection whose epoch lies `ago` in the past, so "now" is `ago` after it opened.
    fn opened(ago: Duration) -> Arc<Connection> {
        let epoch = Instant::now() - ago;
        let connection = Arc::new(Connection::new(epoch));
        connection.free_since.store(0, Ordering::SeqCst);
        connection
    }

    #[test]
    fn an_idle_connection_expires_after_the_idle_timeout() {
        assert!(opened(Duration::from_secs(74)).check(IDLE, HEADER).is_ok());
        assert_eq!(
            opened(Duration::from_secs(76)).check(IDLE, HEADER),
            Err(Expired::Idle)
        );
    }

    #[test]
    fn a_started_header_expires_after_the_header_timeout() {
        let connection = opened(Duration::from_secs(30));
        // The first byte came 11 s ago: 19 s after opening.
        connection
            .header_started
            .store(19_000 + 1, Ordering::SeqCst);
        assert_eq!(connection.check(IDLE, HEADER), Err(Expired::Header));
        connection
            .header_started
            .store(25_000 + 1, Ordering::SeqCst);
        let next = connection.check(IDLE, HEADER).expect("not yet");
        assert!(next <= Duration::from_millis(5_001), "{next:?}");
    }

    #[test]
    fn a_request_in_progress_never_expires_and_frees_the_connection_when_done() {
        let connection = opened(Duration::from_secs(300));
        connection.header_started.store(1, Ordering::SeqCst);
        let guard = connection.request_started();
        assert!(connection.busy());
        assert!(connection.check(IDLE, HEADER).is_ok());
        drop(guard);
        assert!(!connection.busy());
        assert_eq!(connection.header_started.load(Ordering::SeqCst), 0);
        assert!(connection.check(IDLE, HEADER).is_ok(), "free just now");
    }
}
