//! The accept loop: TCP connections, their HTTP/1.1 handshake, and graceful shutdown.
//!
//! nestgate serves HTTP itself (hyper, as axum's `serve` does) for three things axum's `serve`
//! does not give: a deadline for a client to send its request head (so an idle TCP connection
//! cannot hold a slot forever), `TCP_NODELAY` on every socket, and an accept loop that pauses
//! instead of spinning when the process runs out of file descriptors.

use crate::signal::Signal;
use axum::Router;
use axum::extract::ConnectInfo;
use futures_util::FutureExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;
use tower_service::Service as _;

/// How long the accept loop pauses when the process has no file descriptor left, not even the
/// spare one.
const EXHAUSTED_PAUSE: Duration = Duration::from_millis(100);

/// Accepts connections until `shutdown` is cancelled; each connection runs in a task that
/// `connections` tracks.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    handshake_timeout: Duration,
    shutdown: Arc<Signal>,
    connections: TaskTracker,
) {
    let mut limit = DescriptorLimit::new();
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.fired() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                if is_exhaustion(&err) {
                    limit.refuse_one(&listener).await;
                } else {
                    // An error of that connection only (reset or aborted before we took it).
                    tracing::debug!(error = %err, "accept failed");
                }
                continue;
            }
        };
        let (router, shutdown) = (router.clone(), shutdown.clone());
        connections.spawn(serve_connection(
            tcp,
            remote,
            router,
            handshake_timeout,
            shutdown,
        ));
    }
}

/// Whether an accept error means the process (or system) has no descriptor or memory left.
fn is_exhaustion(err: &io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12.
    matches!(err.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// Refuses clients politely when the descriptor limit is reached.
///
/// A spare descriptor is kept open; at the limit it is closed so that the waiting client can be
/// accepted, told `503` and closed, and the spare is taken again. Without it, the client would
/// sit in the listen backlog and `accept` would fail again at once: a spinning loop.
struct DescriptorLimit {
    spare: Option<std::fs::File>,
    last_log: Option<tokio::time::Instant>,
    refused: u64,
}

impl DescriptorLimit {
    fn new() -> Self {
        DescriptorLimit {
            spare: open_spare(),
            last_log: None,
            refused: 0,
        }
    }

    async fn refuse_one(&mut self, listener: &TcpListener) {
        self.refused += 1;
        let now = tokio::time::Instant::now();
        if self
            .last_log
            .is_none_or(|last| now.duration_since(last) >= Duration::from_secs(1))
        {
            self.last_log = Some(now);
            tracing::warn!(
                refused = self.refused,
                "file descriptor limit reached: refusing new connections with 503 until some close"
            );
        }
        match self.spare.take() {
            Some(spare) => {
                drop(spare);
                // Linux reports EMFILE before it looks at the backlog, so there may be nobody
                // waiting: take a client only if one is there right now, never wait for one.
                match listener.accept().now_or_never() {
                    Some(Ok((tcp, _))) => {
                        const BUSY: &[u8] =
                            b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
                            Content-Length: 20\r\nRetry-After: 1\r\n\r\ntoo many connections";
                        // Best effort: a fresh socket's send buffer takes this at once.
                        let _ = tcp.try_write(BUSY);
                    }
                    // Nobody waiting (or another error): pause rather than spin.
                    _ => tokio::time::sleep(EXHAUSTED_PAUSE).await,
                }
                self.spare = open_spare();
            }
            // No spare to give (it could not be reopened): pause rather than spin.
            None => {
                tokio::time::sleep(EXHAUSTED_PAUSE).await;
                self.spare = open_spare();
            }
        }
    }
}

/// Opens the spare descriptor. Opening `/dev/null` does not block.
fn open_spare() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null").ok()
}

async fn serve_connection(
    tcp: TcpStream,
    remote: SocketAddr,
    router: Router,
    handshake_timeout: Duration,
    shutdown: Arc<Signal>,
) {
    // Small frames must not wait for the client's delayed ACK (Nagle's algorithm).
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!(error = %err, "cannot set TCP_NODELAY");
    }
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(remote));
        // A `Router` is always ready, so `call` needs no `poll_ready` first.
        router.clone().call(request)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(handshake_timeout)
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%remote, error = %err, "HTTP connection ended with an error");
            }
            return;
        }
        () = shutdown.fired() => connection.as_mut().graceful_shutdown(),
    }
    if let Err(err) = connection.await {
        tracing::debug!(%remote, error = %err, "HTTP connection ended with an error");
    }
}
