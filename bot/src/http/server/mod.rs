//! The HTTP server under the router: our own accept loop over hyper's HTTP/1 connections, so
//! that no client can hold the bot: connections are capped below the open-files limit (when
//! full, the oldest one without a request in progress is closed to make room), idle
//! connections and slow headers time out (`connection`), slow and oversize bodies are refused
//! (`body`), and the open-files limit is raised at start (`files`). `axum::serve` offers none
//! of these knobs; hyper's connection builder is what it runs underneath.

mod body;
mod connection;
pub mod files;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::ServerSettings;
use crate::http::callback::MAX_BODY_BYTES;
use crate::http::metrics::Metrics;
use body::BodyLimits;
use connection::{Connection, Watched};

/// A new connection waits at most this long for a place when all are taken and none can be
/// made; then it is closed. Short: the kernel's backlog holds the ones behind it meanwhile.
const ROOM_WAIT: Duration = Duration::from_millis(500);
/// After "too many open files", accepting pauses this long (after making room) before retrying.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// How the server treats connections; from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub idle_timeout: Duration,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    pub max_body_bytes: usize,
}

impl Limits {
    /// The configured limits, the connection cap kept below this process's open-files limit.
    pub fn from_settings(server: &ServerSettings) -> Limits {
        let to_std = |d: crate::config::HumanDuration| d.get().to_std().unwrap_or(Duration::MAX);
        Limits {
            idle_timeout: to_std(server.idle_timeout),
            header_timeout: to_std(server.header_timeout),
            body_timeout: to_std(server.body_timeout),
            max_connections: files::connection_cap(
                server.max_connections,
                files::open_files_limit(),
            ),
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}

/// The connections being served, oldest first, so that room can be made.
#[derive(Debug, Default)]
struct Registry {
    live: Mutex<BTreeMap<u64, Arc<Connection>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Connection>>> {
        // A poisoned lock only means a panic while a map entry was added or removed.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes the oldest connection with no request in progress; false when every one is busy.
    fn evict_oldest_idle(&self) -> bool {
        self.lock()
            .values()
            .find(|c| !c.busy() && !c.is_closing())
            .is_some_and(|c| c.close())
    }

    fn close_all(&self) {
        for connection in self.lock().values() {
            connection.close();
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, closes idle
/// connections, lets requests in progress finish and returns when every connection is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let epoch = Instant::now();
    let registry = Arc::new(Registry::default());
    let places = Arc::new(Semaphore::new(limits.max_connections));
    let mut tasks = JoinSet::new();
    let mut next_id: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        let socket = tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((socket, _peer)) => socket,
                Err(error) => {
                    accept_failed(&error, &registry).await;
                    continue;
                }
            },
        };
        let Some(place) = room_for(&places, &registry, &metrics).await else {
            metrics.connection_closed("refused");
            drop(socket);
            continue;
        };
        next_id += 1;
        let connection = Arc::new(Connection::new(epoch));
        registry.lock().insert(next_id, connection.clone());
        tasks.spawn(run_connection(
            socket,
            connection,
            router.clone(),
            limits,
            metrics.clone(),
            ConnectionSlot {
                id: next_id,
                registry: registry.clone(),
                _place: place,
            },
        ));
    }
    // New clients are refused from here on rather than left waiting in the backlog.
    drop(listener);
    registry.close_all();
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// A place under the cap: at once if one is free, else by closing the oldest idle connection
/// (or waiting briefly for a busy one to finish).
async fn room_for(
    places: &Arc<Semaphore>,
    registry: &Registry,
    metrics: &Metrics,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(place) = places.clone().try_acquire_owned() {
        return Some(place);
    }
    if registry.evict_oldest_idle() {
        metrics.connection_closed("evicted");
    }
    tokio::time::timeout(ROOM_WAIT, places.clone().acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
}

/// Out of descriptors despite the cap (something else holds many): make room and pause, rather
/// than spin on an error that retrying at once cannot fix.
async fn accept_failed(error: &io::Error, registry: &Registry) {
    // EMFILE and ENFILE: this process or the whole system is out of file descriptors.
    let out_of_files = matches!(error.raw_os_error(), Some(24 | 23));
    if out_of_files {
        registry.evict_oldest_idle();
        tracing::warn!(%error, "accepting a connection failed: out of file descriptors");
        tokio::time::sleep(ACCEPT_PAUSE).await;
    } else {
        // A client that gave up before we accepted it (ECONNABORTED, …): nothing to fix.
        tracing::debug!(%error, "accepting a connection failed");
    }
}

/// A connection's place under the cap and in the registry, given back when it ends.
struct ConnectionSlot {
    id: u64,
    registry: Arc<Registry>,
    _place: OwnedSemaphorePermit,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

async fn run_connection(
    socket: TcpStream,
    connection: Arc<Connection>,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    _slot: ConnectionSlot,
) {
    metrics.connection_opened();
    let _ = socket.set_nodelay(true);
    let io = TokioIo::new(Watched {
        socket,
        connection: connection.clone(),
    });
    let body = BodyLimits {
        max_bytes: limits.max_body_bytes,
        timeout: limits.body_timeout,
    };
    let service = hyper::service::service_fn({
        let connection = connection.clone();
        let metrics = metrics.clone();
        move |request| {
            let served = body::serve_request(
                request,
                router.clone(),
                body,
                connection.clone(),
                metrics.clone(),
            );
            async move { Ok::<_, Infallible>(served.await) }
        }
    });
    // Header and idle deadlines are ours (`Connection::check`): hyper's one header timer
    // cannot tell a connection that sends nothing from one that sends too slowly.
    let served = http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(served);
    let mut shutting_down = false;
    loop {
        let wait = match connection.check(limits.idle_timeout, limits.header_timeout) {
            Ok(wait) => wait,
            Err(expired) => {
                metrics.connection_closed(expired.reason());
                break;
            }
        };
        tokio::select! {
            result = served.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                break;
            }
            _ = connection.changed() => {
                if connection.is_closing() && !shutting_down {
                    if !connection.busy() {
                        break; // nothing in progress: close now
                    }
                    // Finish the request in progress, then close.
                    served.as_mut().graceful_shutdown();
                    shutting_down = true;
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
    metrics.connection_ended();
}
