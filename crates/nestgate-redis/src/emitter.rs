//! [`Emitter`]: reach a cluster's clients from a process that holds no sockets.

use crate::cluster::new_uid;
use crate::config::RedisConfig;
use crate::error::Error;
use crate::link;
use crate::wire::{self, Header, Op};
use nestgate::adapter::BroadcastOptions;
use nestgate::operators::IntoRooms;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Emits to the clients of a nestgate cluster from a process that serves none: a worker, a cron
/// job, a CLI (socket.io's `@socket.io/redis-emitter`).
///
/// It only publishes: each call returns once Redis accepted the message, and the nodes apply it
/// to their sockets. It is not a node, so it neither counts in nor waits for the cluster.
///
/// ```no_run
/// # async fn run() -> Result<(), nestgate_redis::Error> {
/// use nestgate_redis::{Emitter, RedisConfig};
///
/// let emitter = Emitter::connect(RedisConfig::new("redis://127.0.0.1:6379")).await?;
/// // Every client of /chat in room "general", on every node.
/// emitter.of("/chat").to("general").emit("notice", "maintenance at noon").await?;
/// // Make room "vip" leave room "general", cluster-wide.
/// emitter.of("/chat").to("vip").sockets_leave("general").await?;
/// // The nodes' own handlers, registered with RedisCluster::on.
/// emitter.server_side_emit("reload_config", &()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Emitter {
    inner: Arc<EmitterInner>,
}

#[derive(Debug)]
struct EmitterInner {
    client: redis::Client,
    config: RedisConfig,
    id: String,
    channel: String,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Emitter {
    /// Connects to Redis (failing now if it cannot be reached). A connection lost later is
    /// re-established by the next call.
    pub async fn connect(config: RedisConfig) -> Result<Self, Error> {
        let client = redis::Client::open(config.url.as_str()).map_err(|source| Error::Redis {
            url: config.url.clone(),
            source,
        })?;
        let connection = link::connect_publisher(&client, &config)
            .await
            .map_err(|source| Error::Redis {
                url: config.url.clone(),
                source,
            })?;
        let inner = EmitterInner {
            channel: config.all_channel(),
            id: format!("emitter-{}", new_uid()),
            client,
            config,
            connection: Mutex::new(Some(connection)),
        };
        Ok(Emitter {
            inner: Arc::new(inner),
        })
    }

    /// The operators of the gateway path `path`.
    pub fn of(&self, path: &str) -> EmitterOperators {
        EmitterOperators {
            emitter: self.clone(),
            path: path.to_owned(),
            options: BroadcastOptions::default(),
        }
    }

    /// Sends server-side event `event` to every node's handler (see
    /// [`RedisCluster::on`](crate::RedisCluster::on)).
    pub async fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), Error> {
        let data = serde_json::to_vec(data)?;
        let header = Header::ServerEvent {
            node: self.inner.id.clone(),
            req: None,
            event: event.to_owned(),
        };
        self.publish(&header, &data).await
    }

    async fn publish(&self, header: &Header, payload: &[u8]) -> Result<(), Error> {
        let message = wire::encode(header, payload);
        let inner = &self.inner;
        let unreachable = |source| Error::Redis {
            url: inner.config.url.clone(),
            source,
        };
        let mut connection = inner.connection.lock().await;
        let conn = match connection.as_mut() {
            Some(conn) => conn,
            None => connection.insert(
                link::connect_publisher(&inner.client, &inner.config)
                    .await
                    .map_err(unreachable)?,
            ),
        };
        let mut command = redis::cmd("PUBLISH");
        command.arg(&inner.channel).arg(message);
        let sent: Result<redis::RedisResult<i64>, _> =
            tokio::time::timeout(inner.config.command_timeout, command.query_async(conn)).await;
        let error = match sent {
            Ok(Ok(_receivers)) => return Ok(()),
            Ok(Err(err)) => err,
            Err(_) => std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "Redis did not answer the publish in time",
            )
            .into(),
        };
        // Connect again next time.
        *connection = None;
        Err(unreachable(error))
    }
}

/// The targets of an [`Emitter`]'s operation on one gateway path: refine them with
/// [`to`](EmitterOperators::to) and [`except`](EmitterOperators::except), then act.
#[derive(Debug, Clone)]
pub struct EmitterOperators {
    emitter: Emitter,
    path: String,
    options: BroadcastOptions,
}

impl EmitterOperators {
    /// Also targets these rooms (or socket ids).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        self.options.rooms.extend(rooms.into_rooms());
        self
    }

    /// Leaves out the sockets in these rooms (or with these ids).
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        self.options.except.extend(rooms.into_rooms());
        self
    }

    /// Drops the frame for clients whose outbound queue is full instead of closing them.
    pub fn volatile(mut self) -> Self {
        self.options.volatile = true;
        self
    }

    /// Sends `{"event": event, "data": data}` to every targeted socket, on every node.
    pub async fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), Error> {
        let data = serde_json::to_string(data)?;
        let frame = wire::event_frame(event, &data);
        let header = Header::Broadcast {
            node: self.emitter.inner.id.clone(),
            path: self.path.clone(),
            opts: self.options.clone(),
        };
        self.emitter.publish(&header, frame.as_bytes()).await
    }

    /// Makes the targeted sockets join rooms, on every node.
    pub async fn sockets_join(&self, rooms: impl IntoRooms) -> Result<(), Error> {
        let op = Op::Join {
            opts: self.options.clone(),
            rooms: rooms.into_rooms(),
        };
        self.request(op).await
    }

    /// Makes the targeted sockets leave rooms, on every node.
    pub async fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<(), Error> {
        let op = Op::Leave {
            opts: self.options.clone(),
            rooms: rooms.into_rooms(),
        };
        self.request(op).await
    }

    /// Closes the targeted sockets with 1000, on every node.
    pub async fn disconnect_sockets(&self) -> Result<(), Error> {
        let op = Op::Disconnect {
            opts: self.options.clone(),
            code: 1000,
            reason: "disconnected by the server".to_owned(),
        };
        self.request(op).await
    }

    async fn request(&self, op: Op) -> Result<(), Error> {
        let header = Header::Request {
            node: self.emitter.inner.id.clone(),
            req: None,
            path: self.path.clone(),
            op,
        };
        self.emitter.publish(&header, b"").await
    }
}
