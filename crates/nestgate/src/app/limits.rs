//! [`App`]'s admission bounds: what a client may open and hold before any handler of yours runs
//! (request heads, connections, rooms, dynamic namespaces, `Host` names). Every bound is listed
//! in `docs/LIMITS.md`.

use super::App;

impl App {
    /// The largest HTTP request head (request line and headers) a client may send, in bytes
    /// (default 16 KiB, Node.js's limit, so what a NestJS or socket.io server accepts;
    /// browsers send 1–8 KiB with their cookies). A larger one is answered
    /// `431 Request Header Fields Too Large` (at least 1 KiB is allowed, whatever is set).
    ///
    /// Each ws-json socket and Engine.IO session keeps a copy of its request's headers for
    /// [`Handshake`](crate::Handshake), so this also bounds what an idle client pins. Under
    /// [`App::into_router`] your server parses the head; nestgate then still refuses a
    /// WebSocket upgrade whose headers are larger, with 431.
    ///
    /// ```
    /// let app = nestgate::App::new().max_header_size(32 * 1024);
    /// ```
    pub fn max_header_size(mut self, bytes: usize) -> Self {
        self.config.admission.max_header_size = bytes.max(1024);
        self
    }

    /// How many TCP connections may be open at once (default: no cap beyond the process's file
    /// descriptor limit, which is answered the same way). Past it, a new connection is
    /// answered `503 too many connections` and closed. Applies under [`App::listen`] and
    /// [`App::bind`].
    ///
    /// ```
    /// let app = nestgate::App::new().max_connections(50_000);
    /// ```
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.admission.max_connections = Some(connections.max(1));
        self
    }

    /// How many TCP connections one client address may have open at once (default: no cap).
    /// Past it, a new connection from that address is answered `503 too many connections`.
    /// IPv6 clients are counted per /64. Applies under [`App::listen`] and [`App::bind`].
    ///
    /// Set it when clients connect directly: 64 to 256 leaves room for many tabs and for
    /// users behind one NAT. Leave it unset behind a reverse proxy or load balancer, where
    /// every connection comes from the proxy's address: cap per client there instead.
    ///
    /// ```
    /// let app = nestgate::App::new().max_connections_per_ip(128);
    /// ```
    pub fn max_connections_per_ip(mut self, connections: usize) -> Self {
        self.config.admission.max_connections_per_ip = Some(connections.max(1));
        self
    }

    /// How many rooms one socket may be in, not counting the room named by its id (default
    /// 1,000; socket.io has no cap). [`Socket::join`](crate::Socket::join) past it joins what
    /// fits and logs a warning; [`Socket::try_join`](crate::Socket::try_join) tells the handler.
    ///
    /// ```
    /// let app = nestgate::App::new().max_rooms_per_socket(50);
    /// ```
    pub fn max_rooms_per_socket(mut self, rooms: usize) -> Self {
        self.config.admission.max_rooms_per_socket = rooms;
        self
    }

    /// How many namespaces dynamic gateways (`path = "/tenant/{id}"`) may have at once
    /// (default 10,000). A namespace is made when a client that passed the upgrade, origin and
    /// handshake-guard checks connects to a new path, and goes when nothing uses it any more
    /// (its last socket left, no [`Server`](crate::Server) handle of it is kept). Past the cap a
    /// new path is refused: 503 (ws-json), "Invalid namespace" (Socket.IO).
    ///
    /// ```
    /// let app = nestgate::App::new().max_dynamic_namespaces(100_000);
    /// ```
    pub fn max_dynamic_namespaces(mut self, namespaces: usize) -> Self {
        self.config.admission.max_dynamic_namespaces = namespaces;
        self
    }

    /// The `Host` names gateway requests (ws-json and Socket.IO) may carry, beside IP
    /// literals, `localhost` and `*.localhost`, which are always allowed; others get 403
    /// before the origin check. This stops DNS rebinding: a page on an attacker's name
    /// re-pointed at your server's address passes the same-host origin check, but its requests
    /// carry the attacker's name as `Host`.
    ///
    /// An entry is `name` (any port), `name:port`, or `.name` (the name and its subdomains).
    ///
    /// By default the check applies when the app is bound to a loopback address (a local dev
    /// server or tool: the usual rebinding target), with no names beside the loopback ones.
    /// Under [`App::into_router`] the bound address is unknown, so it applies only when this
    /// method has been called.
    /// Behind a reverse proxy that forwards the public `Host` to a loopback-bound app (Caddy
    /// does by default; nginx with `proxy_set_header Host $host`), list the public names, or
    /// call [`App::allow_any_host`].
    ///
    /// ```
    /// let app = nestgate::App::new().allowed_hosts(["chat.example.com", ".example.org"]);
    /// ```
    pub fn allowed_hosts<I>(mut self, hosts: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let hosts = hosts.into_iter().map(Into::into).collect();
        self.config.admission.hosts = crate::host::HostSetting::List(hosts);
        self
    }

    /// Turns the `Host` check of [`App::allowed_hosts`] off, even on a loopback address.
    ///
    /// ```
    /// let app = nestgate::App::new().allow_any_host();
    /// ```
    pub fn allow_any_host(mut self) -> Self {
        self.config.admission.hosts = crate::host::HostSetting::Any;
        self
    }
}
