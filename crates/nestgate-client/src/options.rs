//! How a client is set up: [`ClientBuilder`].

use crate::client::Client;
use crate::{Error, QueueLimits, Reconnect};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Where the token goes in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthIn {
    /// An `Authorization: Bearer` header (the default: it stays out of access logs).
    #[default]
    Header,
    /// The query parameter named by [`ClientBuilder::auth_param`] (what a browser client
    /// must use; nestgate's handshake guards read both).
    Query,
    /// Both.
    Both,
}

type TokenFuture = Pin<Box<dyn Future<Output = Option<String>> + Send>>;

/// Where the token comes from.
#[derive(Clone, Default)]
pub(crate) enum Auth {
    #[default]
    None,
    Token(String),
    /// Called before every connection attempt, and when the server asks for a fresh token.
    Fresh(Arc<dyn Fn() -> TokenFuture + Send + Sync>),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Token(_) => f.write_str("Token(..)"),
            Auth::Fresh(_) => f.write_str("Fresh(..)"),
        }
    }
}

impl Auth {
    /// The token for the next attempt.
    pub(crate) async fn token(&self) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::Token(token) => Some(token.clone()),
            Auth::Fresh(fresh) => fresh().await,
        }
    }
}

/// The settings of a client, as the builder left them.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) url: String,
    pub(crate) auth: Auth,
    pub(crate) auth_in: AuthIn,
    pub(crate) auth_param: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) reconnect: Option<Reconnect>,
    pub(crate) ack_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) queue: QueueLimits,
    pub(crate) max_message_size: usize,
    pub(crate) event_buffer: usize,
}

/// Sets up a [`Client`]: `Client::builder(url)…connect().await`.
///
/// ```no_run
/// # async fn run() -> Result<(), nestgate_client::Error> {
/// use nestgate_client::{Client, Reconnect};
/// use std::time::Duration;
///
/// let client = Client::builder("ws://127.0.0.1:3000/chat")
///     .auth(|| async { Some(std::env::var("TOKEN").ok()?) }) // a fresh token for each attempt
///     .reconnect(Reconnect { attempts: Some(10), ..Reconnect::default() })
///     .ack_timeout(Duration::from_secs(5))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `connect` or `start`"]
pub struct ClientBuilder {
    config: Config,
}

impl ClientBuilder {
    pub(crate) fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            config: Config {
                url: url.into(),
                auth: Auth::None,
                auth_in: AuthIn::default(),
                auth_param: "token".to_owned(),
                headers: Vec::new(),
                reconnect: Some(Reconnect::default()),
                ack_timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(10),
                keepalive: Some(Duration::from_secs(25)),
                queue: QueueLimits::default(),
                max_message_size: 16 * 1024 * 1024,
                event_buffer: 256,
            },
        }
    }

    /// The token sent with every handshake.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.config.auth = Auth::Token(token.into());
        self
    }

    /// Where the token comes from: `fresh` is called before every connection attempt, and
    /// when the server asks for a fresh one before the current one expires (nestgate's
    /// `nestgate:refresh`), so a long-lived client never presents an expired token. `None`:
    /// no token this time.
    pub fn auth<F, Fut>(mut self, fresh: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        self.config.auth = Auth::Fresh(Arc::new(move || Box::pin(fresh())));
        self
    }

    /// Where the token goes: an `Authorization: Bearer` header (default), the query, or both.
    pub fn auth_in(mut self, auth_in: AuthIn) -> Self {
        self.config.auth_in = auth_in;
        self
    }

    /// The query parameter carrying the token with [`AuthIn::Query`]. Default `token`.
    pub fn auth_param(mut self, name: impl Into<String>) -> Self {
        self.config.auth_param = name.into();
        self
    }

    /// A header sent with every handshake (a cookie, an API key).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.headers.push((name.into(), value.into()));
        self
    }

    /// How to reconnect (default: [`Reconnect::default`]).
    pub fn reconnect(mut self, reconnect: Reconnect) -> Self {
        self.config.reconnect = Some(reconnect);
        self
    }

    /// Never reconnect: the first close ends the client.
    pub fn no_reconnect(mut self) -> Self {
        self.config.reconnect = None;
        self
    }

    /// How long [`Client::request`] waits for its answer, queued time included. Default 10 s.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.config.ack_timeout = timeout;
        self
    }

    /// How long a connection attempt (TCP and the WebSocket handshake) may take. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Pings the server this often, and counts the connection as lost (1006, then reconnect)
    /// when nothing at all came from it for two such periods: a server that vanished without
    /// closing its TCP connection is noticed. Default 25 s; `None`: never.
    pub fn keepalive(mut self, every: Option<Duration>) -> Self {
        self.config.keepalive = every;
        self
    }

    /// The offline queue's bounds.
    pub fn queue(mut self, limits: QueueLimits) -> Self {
        self.config.queue = limits;
        self
    }

    /// The largest message accepted from the server, in bytes; a larger one drops the
    /// connection (then the client reconnects). Default 16 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes;
        self
    }

    /// How many events each [`Client::events`] stream holds before the client stops reading
    /// from the server until it is read (backpressure: nothing is dropped). Default 256.
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.config.event_buffer = events.max(1);
        self
    }

    /// Connects, and returns once connected; fails with [`Error::Connect`] when the first
    /// attempt fails (the server unreachable, the handshake refused). Reconnection applies
    /// after that.
    pub async fn connect(self) -> Result<Client, Error> {
        let client = Client::spawn(self.config, true);
        client.wait_connected().await?;
        Ok(client)
    }

    /// Returns at once and connects in the background, retrying from the first attempt as
    /// [`reconnect`](Self::reconnect) says; `emit` and `request` queue meanwhile.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (the connection is a task of it).
    pub fn start(self) -> Client {
        Client::spawn(self.config, false)
    }
}
