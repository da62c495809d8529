//! The `/admin` namespace: its guard, what a UI that connects is sent (its session, the
//! features, every socket), the stats every 2 s, and the UI's commands (emit, join, leave,
//! disconnect).

use super::auth::{AdminGuard, NewSession};
use super::events::TRANSPORT;
use super::{Admin, NAMESPACE, serialize};
use crate::extract::{Args, FromMessage as _, Message};
use crate::filter::Failure;
use crate::gateway::{FromAppState, GatewayHandlers, GatewayMeta, HandlerDef};
use crate::guard::BoxedHandshakeGuard;
use crate::handler::reply::Reply;
use crate::namespace::Namespace;
use crate::runtime::Runtime;
use crate::server::Server;
use crate::socket::Socket;
use crate::state::AppState;
use crate::util::sync::lock;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// How often the UI gets the server's stats (socket.io's admin: 2 s).
const STATS_EVERY: Duration = Duration::from_secs(2);

/// The gateway of the admin namespace.
pub(crate) struct AdminGateway {
    admin: Admin,
}

impl FromAppState for AdminGateway {
    fn from_app_state(state: &AppState) -> crate::Result<Self> {
        let admin = state
            .get::<Admin>()
            .ok_or(crate::Error::Unsupported("the admin UI's state is missing"))?;
        Ok(AdminGateway { admin })
    }
}

impl GatewayMeta for AdminGateway {
    const NAME: &'static str = "AdminUi";
    const PATH: &'static str = NAMESPACE;

    fn handshake_guards() -> Vec<BoxedHandshakeGuard> {
        vec![BoxedHandshakeGuard::new(AdminGuard)]
    }
}

/// A UI command: what it changes, given the sending socket and the command's arguments.
type Command = fn(Socket, Vec<Value>) -> BoxFuture<'static, ()>;

fn command(event: &'static str, run: Command) -> HandlerDef<AdminGateway> {
    HandlerDef::new(
        event,
        event,
        move |gateway: Arc<AdminGateway>, message: Message| async move {
            if gateway.admin.0.config.readonly {
                return Reply::none();
            }
            let (parts, payload) = message.into_parts();
            let socket = parts.socket().clone();
            let Ok(Args(args)) = Args::from_message(&parts, payload).await;
            run(socket, args).await;
            Reply::none()
        },
    )
}

impl GatewayHandlers for AdminGateway {
    fn handlers() -> Vec<HandlerDef<Self>> {
        vec![
            command("emit", |socket, args| Box::pin(emit(socket, args))),
            command("join", |socket, args| Box::pin(join(socket, args, true))),
            command("leave", |socket, args| Box::pin(join(socket, args, false))),
            command("_disconnect", |socket, args| {
                Box::pin(disconnect(socket, args))
            }),
        ]
    }

    fn after_init(self: Arc<Self>, server: Server) -> BoxFuture<'static, ()> {
        tokio::spawn(stats(self.admin.clone(), server.runtime().clone()));
        Box::pin(async {})
    }

    fn on_connection(
        self: Arc<Self>,
        socket: Socket,
    ) -> BoxFuture<'static, Result<(), Failure<crate::Reject>>> {
        Box::pin(async move {
            if let Some(NewSession(session)) = socket.extension::<NewSession>() {
                let _ = socket.emit("session", &session);
            }
            let config = &self.admin.0.config;
            let mut features: Vec<&str> = if config.readonly {
                Vec::new()
            } else {
                vec![
                    "EMIT",
                    "JOIN",
                    "LEAVE",
                    "DISCONNECT",
                    "MJOIN",
                    "MLEAVE",
                    "MDISCONNECT",
                ]
            };
            features.push("AGGREGATED_EVENTS");
            let _ = socket.emit("config", &json!({"supportedFeatures": features}));
            if !config.production {
                let sockets = all_sockets(socket.runtime()).await;
                let _ = socket.emit("all_sockets", &sockets);
            }
            Ok(())
        })
    }
}

/// The argument at `index` as text (`None`: absent, empty or not text).
fn text(args: &[Value], index: usize) -> Option<String> {
    args.get(index)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// The namespace of `path` if it exists now: a static one, or a dynamic one alive (unlike
/// `Runtime::namespace`, this never makes one).
fn existing(runtime: &Runtime, path: &str) -> Option<Arc<Namespace>> {
    match runtime.namespaces.get(path) {
        Some(namespace) => Some(namespace.clone()),
        None => runtime.children.map.get(path)?.upgrade(),
    }
}

/// The server of the namespace a command names (an existing one only).
fn server_of(socket: &Socket, nsp: &str) -> Option<Server> {
    let runtime = socket.runtime();
    Some(Server::new(existing(runtime, nsp)?, runtime.clone()))
}

/// `emit(nsp, filter, event, ...args)`: the event to the namespace, or to one room of it.
async fn emit(socket: Socket, args: Vec<Value>) {
    let (Some(nsp), Some(event)) = (text(&args, 0), text(&args, 2)) else {
        return;
    };
    let Some(server) = server_of(&socket, &nsp) else {
        return;
    };
    // One argument is the data itself (a ws-json client sees it as it is); several are spread
    // for Socket.IO clients (`Args`).
    let data = match args.get(3..).unwrap_or_default() {
        [one] => one.clone(),
        several => serde_json::to_value(Args(several.to_vec())).unwrap_or(Value::Null),
    };
    let sent = match text(&args, 1) {
        Some(room) => server.to(room).emit(&event, &data),
        None => server.emit(&event, &data),
    };
    if let Err(err) = sent {
        tracing::debug!(%err, "an emit from the admin UI failed");
    }
}

/// `join(nsp, room, filter)` / `leave(…)`: the namespace's sockets (or those in `filter`,
/// a room or a socket id) join or leave `room`.
async fn join(socket: Socket, args: Vec<Value>, joining: bool) {
    let (Some(nsp), Some(room)) = (text(&args, 0), text(&args, 1)) else {
        return;
    };
    let Some(server) = server_of(&socket, &nsp) else {
        return;
    };
    let done = match (text(&args, 2), joining) {
        (Some(filter), true) => server.to(filter).sockets_join(room).await,
        (Some(filter), false) => server.to(filter).sockets_leave(room).await,
        (None, true) => server.sockets_join(room).await,
        (None, false) => server.sockets_leave(room).await,
    };
    if let Err(err) = done {
        tracing::debug!(%err, "a join or leave from the admin UI failed");
    }
}

/// `_disconnect(nsp, close, filter)`: the namespace's sockets (or those in `filter`) are
/// disconnected.
async fn disconnect(socket: Socket, args: Vec<Value>) {
    let Some(nsp) = text(&args, 0) else {
        return;
    };
    let Some(server) = server_of(&socket, &nsp) else {
        return;
    };
    let done = match text(&args, 2) {
        Some(filter) => server.to(filter).disconnect_sockets().await,
        None => server.disconnect_sockets().await,
    };
    if let Err(err) = done {
        tracing::debug!(%err, "a disconnect from the admin UI failed");
    }
}

/// Every namespace now, by path: the static ones and the dynamic ones alive.
fn namespaces(runtime: &Runtime) -> Vec<Arc<Namespace>> {
    let mut all: Vec<Arc<Namespace>> = runtime.namespaces.values().cloned().collect();
    all.extend(
        runtime
            .children
            .map
            .iter()
            .filter_map(|entry| entry.value().upgrade()),
    );
    all.sort_by(|a, b| a.path().cmp(b.path()));
    all
}

/// Every socket of every namespace, across the cluster (`fetch_sockets`).
async fn all_sockets(runtime: &Arc<Runtime>) -> Vec<Value> {
    let mut sockets = Vec::new();
    for namespace in namespaces(runtime) {
        let path = namespace.path().to_owned();
        let server = Server::new(namespace, runtime.clone());
        match server.fetch_sockets().await {
            Ok(infos) => {
                sockets.extend(infos.iter().map(|info| serialize::socket(info, TRANSPORT)))
            }
            Err(err) => {
                tracing::debug!(%err, path, "the admin UI's socket list misses a namespace")
            }
        }
    }
    sockets
}

/// The stats every [`STATS_EVERY`], until the server shuts down.
async fn stats(admin: Admin, runtime: Arc<Runtime>) {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".to_owned());
    let server_id = admin
        .0
        .config
        .server_id
        .clone()
        .unwrap_or_else(|| hostname.clone());
    // A static path's namespace: there for the runtime's life.
    let Some(admin_namespace) = runtime.namespaces.get(NAMESPACE).cloned() else {
        return;
    };
    let mut tick = tokio::time::interval(STATS_EVERY);
    loop {
        tokio::select! {
            () = runtime.shutdown.fired() => return,
            _ = tick.tick() => {}
        }
        let mut clients = 0;
        let namespaces: Vec<Value> = namespaces(&runtime)
            .iter()
            .map(|namespace| {
                let count = namespace.store().len();
                clients += count;
                json!({"name": namespace.path(), "socketsCount": count})
            })
            .collect();
        let aggregated = lock(&admin.0.buffer).drain();
        let stats = json!({
            "serverId": server_id,
            "hostname": hostname,
            "pid": std::process::id(),
            "uptime": admin.0.started.elapsed().as_secs_f64(),
            "clientsCount": clients,
            "pollingClientsCount": 0,
            "aggregatedEvents": aggregated,
            "namespaces": namespaces,
        });
        let server = Server::new(admin_namespace.clone(), runtime.clone());
        let _ = server.emit("server_stats", &stats);
    }
}
