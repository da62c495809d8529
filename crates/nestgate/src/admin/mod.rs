//! The server side of the Socket.IO Admin UI (`@socket.io/admin-ui`, protocol of its 0.5
//! release): [`App::admin_ui`](crate::App::admin_ui) serves the `/admin` Socket.IO namespace
//! the UI connects to, so the hosted UI (<https://admin.socket.io>) or its built files list
//! every socket of both wire modes with its rooms and handshake, the rooms, and the server's
//! stats, and can make sockets join, leave, be disconnected or receive an emit.
//!
//! - **Auth**: basic, with the password as a bcrypt hash (as the UI's own server wants it:
//!   `AdminConfig::basic("admin", "$2b$10$…")`), or none. A login gets a session id the UI
//!   reconnects with; at most [`MAX_SESSIONS`] are kept (the oldest goes).
//! - **Read-only** ([`AdminConfig::readonly`]): the UI sees, and changes nothing.
//! - **Production mode** ([`AdminConfig::production`]): no socket list and no per-socket event
//!   is sent, only the stats every 2 s with the connections and disconnections counted per
//!   second (the UI's "aggregated events"), which costs nothing per message.
//!
//! The namespace is `/admin` (socket.io's default). Guards of the app (`App::handshake_guard`)
//! run on it too. With the Redis adapter the socket list is the cluster's (`fetch_sockets`);
//! the stats and events are this process's.

mod auth;
mod events;
mod gateway;
mod serialize;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub(crate) use events::AdminObserver;
pub(crate) use gateway::AdminGateway;

/// The namespace the UI connects to.
pub const NAMESPACE: &str = "/admin";

/// Login sessions kept, at most.
pub const MAX_SESSIONS: usize = 1000;

/// How the Admin UI's server side works: [`App::admin_ui`](crate::App::admin_ui).
///
/// ```
/// use nestgate::admin::AdminConfig;
///
/// // bcrypt.hashSync("changeit", 10), as the UI's own docs make it.
/// let hash = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS";
/// let config = AdminConfig::basic("admin", hash)?.readonly();
/// let app = nestgate::App::new().admin_ui(config);
/// # Ok::<(), nestgate::admin::InvalidHash>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdminConfig {
    auth: Auth,
    readonly: bool,
    production: bool,
    server_id: Option<String>,
}

#[derive(Debug, Clone)]
enum Auth {
    Basic { username: String, hash: String },
    None,
}

/// The password of [`AdminConfig::basic`] is not a bcrypt hash (`$2a$`, `$2b$` or `$2y$`, a
/// two-digit cost, 53 characters of salt and hash).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the admin password must be a bcrypt hash (\"$2b$10$…\"), not the password itself")]
pub struct InvalidHash;

impl AdminConfig {
    /// Basic auth: `username`, and the bcrypt hash of the password.
    pub fn basic(
        username: impl Into<String>,
        password_hash: impl Into<String>,
    ) -> Result<Self, InvalidHash> {
        let hash = password_hash.into();
        if !auth::is_bcrypt(&hash) {
            return Err(InvalidHash);
        }
        Ok(AdminConfig {
            auth: Auth::Basic {
                username: username.into(),
                hash,
            },
            readonly: false,
            production: false,
            server_id: None,
        })
    }

    /// No auth at all: anyone who reaches the port administers the server. For a loopback
    /// development server only.
    pub fn without_auth() -> Self {
        AdminConfig {
            auth: Auth::None,
            readonly: false,
            production: false,
            server_id: None,
        }
    }

    /// The UI may look, not change anything.
    pub fn readonly(mut self) -> Self {
        self.readonly = true;
        self
    }

    /// Production mode: only the stats and the aggregated counts (see the [module](self)).
    pub fn production(mut self) -> Self {
        self.production = true;
        self
    }

    /// The server's name in the UI (default: the host name).
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }
}

/// What the admin gateway, its guard and its observer share: provided as app state.
#[derive(Debug, Clone)]
pub(crate) struct Admin(pub(crate) Arc<Inner>);

#[derive(Debug)]
pub(crate) struct Inner {
    config: AdminConfig,
    sessions: Mutex<VecDeque<String>>,
    started: Instant,
    /// Connections and disconnections per second since the last stats (aggregated events).
    buffer: Mutex<events::Buffer>,
}

impl Admin {
    pub(crate) fn new(config: AdminConfig) -> Self {
        Admin(Arc::new(Inner {
            config,
            sessions: Mutex::default(),
            started: Instant::now(),
            buffer: Mutex::default(),
        }))
    }
}
