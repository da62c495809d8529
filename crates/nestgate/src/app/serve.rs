//! The accept loop: TCP connections, their HTTP/1.1 handshake, and graceful shutdown.
//!
//! nestgate serves HTTP itself (hyper, as axum's `serve` does) for three things axum's `serve`
//! does not give: a deadline for a client to send its request head (so an idle TCP connection
//! cannot hold a slot forever), `TCP_NODELAY` on every socket, and an accept loop that pauses
//! instead of spinning when the process runs out of file descriptors. It also bounds what a
//! client may open before any handler runs: the size of a request head (431), connections in
//! all and per address (503, see [`Counted`]), and requests must carry exactly one `Host` (400).

use crate::util::caps::{Caps, Permit};
use crate::util::linger::LingerLimits;
use crate::util::signal::Signal;
use axum::Router;
use axum::extract::ConnectInfo;
use futures_util::FutureExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;
use tower_service::Service as _;

/// How long the accept loop pauses when the process has no file descriptor left, not even the
/// spare one.
const EXHAUSTED_PAUSE: Duration = Duration::from_millis(100);

/// The answer to a client refused for lack of room (descriptors or a connection cap).
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
    Content-Length: 20\r\nRetry-After: 1\r\n\r\ntoo many connections";

/// Refused connections whose request is read and discarded at once, so that closing them
/// sends a FIN and not a reset that could destroy the 503 before the client reads it. Past
/// this many, a refused connection is closed at once.
const MAX_LINGERING: usize = 64;

/// How long a refused connection lingers at most.
const LINGER: Duration = Duration::from_secs(1);

/// How the accept loop and each HTTP connection are bounded.
#[derive(Debug, Clone)]
pub(super) struct ServeSettings {
    /// The deadline for a request head.
    pub(super) handshake_timeout: Duration,
    /// The largest request head, in bytes (431 past it).
    pub(super) max_header_size: usize,
    /// The connection caps, if any is set.
    pub(super) limits: Option<Arc<Caps>>,
    /// Connections refused before any path.
    pub(super) metrics: Arc<crate::metrics::ServeMetrics>,
}

/// Accepts connections until `shutdown` is cancelled; each connection runs in a task that
/// `connections` tracks.
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ServeSettings,
    shutdown: Arc<Signal>,
    connections: TaskTracker,
) {
    let mut limit = DescriptorLimit::new();
    let lingering = Arc::new(AtomicUsize::new(0));
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
                    settings.metrics.fd_limit();
                    limit.refuse_one(&listener).await;
                } else {
                    // An error of that connection only (reset or aborted before we took it).
                    tracing::debug!(error = %err, "accept failed");
                }
                continue;
            }
        };
        let permit = match settings
            .limits
            .as_ref()
            .map(|limits| limits.admit(Some(remote.ip())))
        {
            None => None,
            Some(Ok(permit)) => Some(permit),
            Some(Err(cap)) => {
                tracing::debug!(%remote, ?cap, "connection cap reached: refusing with 503");
                settings.metrics.connection_cap();
                refuse(tcp, &lingering);
                continue;
            }
        };
        let (router, shutdown) = (router.clone(), shutdown.clone());
        connections.spawn(serve_connection(
            Counted::new(tcp, permit),
            remote,
            router,
            settings.clone(),
            shutdown,
        ));
    }
}

/// Answers `503 too many connections` and closes, after reading what the client sent.
fn refuse(tcp: TcpStream, lingering: &Arc<AtomicUsize>) {
    if lingering.fetch_add(1, Ordering::Relaxed) >= MAX_LINGERING {
        lingering.fetch_sub(1, Ordering::Relaxed);
        // Best effort: a fresh socket's send buffer takes this at once.
        let _ = tcp.try_write(BUSY);
        return;
    }
    let lingering = lingering.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        let mut tcp = tcp;
        let started = tokio::time::Instant::now();
        if tokio::time::timeout(LINGER, tcp.write_all(BUSY))
            .await
            .is_ok()
        {
            // Discard the request (up to 64 KiB) until the client closes, within what is left
            // of LINGER.
            let left = LINGER.saturating_sub(started.elapsed());
            crate::util::linger::linger(tcp, LingerLimits::new(left, 64 * 1024)).await;
        }
        lingering.fetch_sub(1, Ordering::Relaxed);
    });
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

/// `400` for a request with two `Host` headers, or an HTTP/1.1 one with none (RFC 9112 §3.2):
/// the origin and host checks need one unambiguous `Host`. HTTP/1.0 may omit it.
fn host_refusal<B>(request: &hyper::Request<B>) -> Option<axum::response::Response> {
    let mut hosts = request.headers().get_all(axum::http::header::HOST).iter();
    let reason = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => "more than one Host header",
        (None, _) if request.version() >= axum::http::Version::HTTP_11 => "no Host header",
        _ => return None,
    };
    tracing::debug!(reason, "request refused");
    let mut response = axum::response::Response::new(axum::body::Body::from(reason));
    *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    Some(response)
}

/// Opens the spare descriptor. Opening `/dev/null` does not block.
fn open_spare() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null").ok()
}

async fn serve_connection(
    tcp: Counted,
    remote: SocketAddr,
    router: Router,
    settings: ServeSettings,
    shutdown: Arc<Signal>,
) {
    // Small frames must not wait for the client's delayed ACK (Nagle's algorithm).
    if let Err(err) = tcp.tcp().set_nodelay(true) {
        tracing::debug!(error = %err, "cannot set TCP_NODELAY");
    }
    let metrics = settings.metrics.clone();
    // Whether a request head ever came: a timeout before that is a handshake timeout, one after
    // is a keep-alive connection going idle.
    let served = Arc::new(AtomicBool::new(false));
    let head_came = served.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        let metrics = metrics.clone();
        head_came.store(true, Ordering::Relaxed);
        async move {
            if let Some(refusal) = host_refusal(&request) {
                metrics.host_header();
                return Ok(refusal);
            }
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(remote));
            // A `Router` is always ready, so `call` needs no `poll_ready` first.
            router.clone().call(request).await
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.handshake_timeout)
        // hyper answers 431 past it, for a complete head and for a partial one as it grows
        // (hyper 1.12 `proto/h1/io.rs` `parse`), so an unfinished head is not buffered up to
        // `max_buf_size` (about 400 KB) until the handshake timeout.
        .max_header_size(settings.max_header_size)
        // hyper's read buffer grows by doubling its next read: without this, a 15 KB head
        // reserves about 60 KB (measured by `tests/tests/head_memory.rs`). Bodies are read in
        // pieces of at most this size; hyper's minimum is 8 KiB.
        .max_buf_size(settings.max_header_size.max(8 * 1024))
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                if err.is_timeout() && !served.load(Ordering::Relaxed) {
                    settings.metrics.handshake_timeout();
                }
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

/// The TCP stream of a counted connection
/// ([`App::max_connections`](crate::App::max_connections),
/// [`App::max_connections_per_ip`](crate::App::max_connections_per_ip)): it holds its
/// connection's permit (if any) until it is dropped.
///
/// The accept loop takes a [`Permit`] of the app's [`Caps`](crate::util::caps::Caps) for each
/// connection; the permit travels inside the connection's I/O object ([`Counted`]), so it is
/// held exactly as long as the socket is open: through the HTTP exchange and, after an upgrade,
/// for the WebSocket's whole life.
#[derive(Debug)]
struct Counted {
    tcp: TcpStream,
    _permit: Option<Permit>,
}

impl Counted {
    fn new(tcp: TcpStream, permit: Option<Permit>) -> Self {
        Counted {
            tcp,
            _permit: permit,
        }
    }

    fn tcp(&self) -> &TcpStream {
        &self.tcp
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
