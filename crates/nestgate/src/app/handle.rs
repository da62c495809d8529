//! A built app at work: [`App::bind`] makes a [`Listening`] app, [`App::listen`] runs one until
//! the termination signal; an [`AppHandle`] shuts it down and reaches a path's [`Server`].

use super::App;
use super::serve::{ServeSettings, serve};
use crate::error::{Error, Result};
use crate::runtime::Runtime;
use crate::server::Server;
use crate::util::signal::Signal;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio_util::task::TaskTracker;

impl App {
    /// Binds `addr` and builds the app; [`Listening::run`] then serves it.
    pub async fn bind(self, addr: impl ToSocketAddrs + std::fmt::Display) -> Result<Listening> {
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local_addr = listener.local_addr()?;
        let handle = self.handle.clone();
        let admission = &self.config.admission;
        let settings = ServeSettings {
            metrics: Arc::new(crate::metrics::ServeMetrics::new(&self.config.metrics)),
            handshake_timeout: self.config.handshake_timeout,
            max_header_size: admission.max_header_size,
            // Nothing to count when neither cap is set.
            limits: (admission.max_connections.is_some()
                || admission.max_connections_per_ip.is_some())
            .then(|| {
                crate::util::caps::Caps::new(
                    admission.max_connections,
                    admission.max_connections_per_ip,
                )
            }),
        };
        let router = self.into_router_at(Some(local_addr)).await?;
        Ok(Listening {
            listener,
            local_addr,
            router,
            handle,
            settings,
        })
    }

    /// Serves the app on `addr` until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn listen(self, addr: impl ToSocketAddrs + std::fmt::Display) -> Result<()> {
        let listening = self.bind(addr).await?;
        tracing::info!(addr = %listening.local_addr(), "nestgate listening");
        listening.run().await
    }
}

/// A handle to a running app: shut it down, or reach a gateway path's [`Server`] from an axum
/// route or a background task.
#[derive(Clone)]
pub struct AppHandle {
    pub(super) shutdown: Arc<Signal>,
    pub(super) connections: TaskTracker,
    pub(super) runtime: Arc<OnceLock<Arc<Runtime>>>,
}

impl AppHandle {
    pub(super) fn new() -> Self {
        AppHandle {
            shutdown: Arc::default(),
            connections: TaskTracker::new(),
            runtime: Arc::new(OnceLock::new()),
        }
    }

    /// Starts a graceful shutdown: no new clients; running handlers get the shutdown timeout to
    /// answer; every socket then closes with 1001.
    pub fn shutdown(&self) {
        self.shutdown.fire();
    }

    /// Whether a shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_fired()
    }

    /// Waits until every connection has ended (after [`AppHandle::shutdown`]).
    pub async fn wait_closed(&self) {
        self.connections.close();
        self.connections.wait().await;
    }

    /// How many connections are open: HTTP connections and WebSocket sessions (an upgraded
    /// connection counts once for each until its HTTP side is done).
    pub fn active_connections(&self) -> usize {
        self.connections.len()
    }

    /// How many namespaces dynamic gateways (`path = "/tenant/{id}"`) have made and are still
    /// in use (see [`App::max_dynamic_namespaces`]).
    pub fn dynamic_namespaces(&self) -> usize {
        self.runtime
            .get()
            .map_or(0, |runtime| runtime.dynamic_namespaces())
    }

    /// The server of a gateway path, once the app is built. For a dynamic gateway's path the
    /// namespace is made if needed, and kept while the returned `Server` (or a clone) is.
    pub fn server(&self, path: &str) -> Option<Server> {
        let runtime = self.runtime.get()?;
        let namespace = runtime.namespace(path)?;
        Some(Server::new(namespace, runtime.clone()))
    }
}

impl std::fmt::Debug for AppHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppHandle")
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}

/// A bound, built app, ready to serve: see [`App::bind`].
#[derive(Debug)]
pub struct Listening {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    handle: AppHandle,
    settings: ServeSettings,
}

impl Listening {
    /// The address the app listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle to shut the app down.
    pub fn handle(&self) -> AppHandle {
        self.handle.clone()
    }

    /// Serves until Ctrl-C or SIGTERM (or [`AppHandle::shutdown`]), then shuts down gracefully.
    pub async fn run(self) -> Result<()> {
        self.run_until(termination()).await
    }

    /// Serves until `signal` completes (or [`AppHandle::shutdown`]), then shuts down gracefully:
    /// stops accepting, lets running handlers finish within the shutdown timeout, closes every
    /// socket with 1001 and waits for the connections to end.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Listening {
            listener,
            router,
            handle,
            settings,
            ..
        } = self;
        let token = handle.shutdown.clone();
        let stop = async move {
            tokio::select! {
                () = signal => {}
                () = token.fired() => {}
            }
            token.fire();
        };
        let accepting = serve(
            listener,
            router,
            settings,
            handle.shutdown.clone(),
            handle.connections.clone(),
        );
        tokio::join!(stop, accepting);
        handle.wait_closed().await;
        Ok(())
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
async fn termination() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
}
