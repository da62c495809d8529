//! [`App`]'s request pipeline around every gateway: handshake guards, message guards,
//! exception filters and the origin check, set for the whole app.

use super::App;
use crate::filter::{BoxedFilter, ExceptionFilter};
use crate::guard::{BoxedGuard, BoxedHandshakeGuard, Guard, HandshakeGuard, OriginPolicy};

/// What the app adds around every gateway: guards, filters, the origin check.
#[derive(Default)]
pub(super) struct Pipeline {
    pub(super) handshake_guards: Vec<BoxedHandshakeGuard>,
    pub(super) guards: Vec<BoxedGuard>,
    pub(super) filters: Vec<BoxedFilter>,
    pub(super) origins: OriginPolicy,
    /// Told of every socket's life (the Admin UI's server side).
    pub(super) observer: Option<std::sync::Arc<dyn crate::observer::Observer>>,
}

impl App {
    /// Serves the Socket.IO Admin UI's protocol on the `/admin` namespace (and turns Socket.IO
    /// on with its defaults if it is not): see [`admin`](crate::admin).
    ///
    /// ```
    /// let app = nestgate::App::new().admin_ui(nestgate::admin::AdminConfig::without_auth());
    /// ```
    pub fn admin_ui(mut self, config: crate::admin::AdminConfig) -> Self {
        let admin = crate::admin::Admin::new(config);
        self.pipeline.observer = Some(std::sync::Arc::new(crate::admin::AdminObserver(
            admin.clone(),
        )));
        if self.socket_io.is_none() {
            self = self.socket_io(crate::socketio::SocketIoConfig::default());
        }
        self.provide(admin).gateway::<crate::admin::AdminGateway>()
    }

    /// Adds a handshake guard for every path: it runs on each upgrade request, before the
    /// gateways' own (`handshake_guards(...)` on a gateway struct), and a rejection answers
    /// the HTTP status before any socket exists. See [`guard`](crate::guard).
    pub fn handshake_guard(mut self, guard: impl HandshakeGuard) -> Self {
        self.pipeline
            .handshake_guards
            .push(BoxedHandshakeGuard::new(guard));
        self
    }

    /// Adds a message guard for every handler, run before the gateways' and handlers' own (as
    /// NestJS's `useGlobalGuards`).
    pub fn guard(mut self, guard: impl Guard) -> Self {
        self.pipeline.guards.push(BoxedGuard::new(guard));
        self
    }

    /// Adds an exception filter for every handler and connection hook, tried after the
    /// handlers' and gateways' own (as NestJS's `useGlobalFilters`); it also sees the errors of
    /// frames that reach no handler (malformed JSON, unknown events). See
    /// [`filter`](crate::filter).
    pub fn exception_filter<E: Send + 'static>(mut self, filter: impl ExceptionFilter<E>) -> Self {
        self.pipeline.filters.push(BoxedFilter::new(filter));
        self
    }

    /// Which browser origins may connect; the default, [`OriginPolicy::SameHost`], lets a page
    /// connect to the host that served it, and any client that sends no `Origin` (non-browser).
    ///
    /// ```
    /// use nestgate::guard::OriginPolicy;
    ///
    /// let app = nestgate::App::bare().origins(OriginPolicy::AllowList(vec![
    ///     "https://app.example.com".into(),
    /// ]));
    /// ```
    pub fn origins(mut self, policy: OriginPolicy) -> Self {
        self.pipeline.origins = policy;
        self
    }
}
