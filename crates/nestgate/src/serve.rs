//! The accept loop: TCP connections, their HTTP/1.1 handshake, and graceful shutdown.
//!
//! nestgate serves HTTP itself (hyper, as axum's `serve` does) for three things axum's `serve`
//! does not give: a deadline for a client to send its request head (so an idle TCP connection
//! cannot hold a slot forever), `TCP_NODELAY` on every socket, and an accept loop that pauses
//! instead of spinning when the process runs out of file descriptors.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service as _;

/// How long the accept loop pauses when the process has no file descriptor left.
const EXHAUSTED_PAUSE: Duration = Duration::from_millis(100);

/// Accepts connections until `shutdown` is cancelled; each connection runs in a task that
/// `connections` tracks.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    handshake_timeout: Duration,
    shutdown: CancellationToken,
    connections: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                handle_accept_error(&err).await;
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

/// Errors of one connection are skipped; running out of descriptors pauses the loop.
async fn handle_accept_error(err: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: new clients wait in the listen backlog until
    // connections close; pausing keeps the loop from spinning on the same error.
    tracing::warn!(error = %err, pause = ?EXHAUSTED_PAUSE, "cannot accept a connection; pausing the accept loop");
    tokio::time::sleep(EXHAUSTED_PAUSE).await;
}

async fn serve_connection(
    tcp: TcpStream,
    remote: SocketAddr,
    router: Router,
    handshake_timeout: Duration,
    shutdown: CancellationToken,
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
        () = shutdown.cancelled() => connection.as_mut().graceful_shutdown(),
    }
    if let Err(err) = connection.await {
        tracing::debug!(%remote, error = %err, "HTTP connection ended with an error");
    }
}
