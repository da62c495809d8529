//! The chat of `examples/chat`, clustered: several processes over one Redis serve one chat.
//!
//! ```sh
//! redis-server --port 6379 &
//! PORT=3001 REDIS_URL=redis://127.0.0.1:6379 cargo run -p cluster &
//! PORT=3002 REDIS_URL=redis://127.0.0.1:6379 cargo run -p cluster &
//! PORT=3003 REDIS_URL=redis://127.0.0.1:6379 cargo run -p cluster &
//! ```
//!
//! Open <http://127.0.0.1:3001> and <http://127.0.0.1:3002>: the same rooms, the same messages,
//! the same online count. The page and the protocol are the chat example's (see its docs);
//! what changes is where the state lives. Nothing is kept in the process: who is online is the
//! size of a room across the cluster, the room list and sizes come from every node, and every
//! broadcast reaches the clients of every node once. Without `REDIS_URL` it runs alone, in
//! memory.

use axum::response::Html;
use axum::routing::get;
use nestgate::adapter::Room;
use nestgate::prelude::*;
use nestgate_redis::{RedisCluster, RedisConfig};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// The chat example's page, served as it is.
const PAGE: &str = include_str!("../../chat/static/index.html");

/// The longest name, in characters.
const MAX_NAME: usize = 32;
/// The longest message, in characters.
const MAX_TEXT: usize = 2000;
/// The longest room name, in characters.
const MAX_ROOM: usize = 32;
/// The room every socket joins along with its name.
const GENERAL: &str = "general";
/// Every socket that joined is in this room too: its size, cluster-wide, is the online count.
/// It is never shown (room names the page accepts cannot start with `@`).
const ONLINE: &str = "@online";

/// The name a socket joined with.
#[derive(Debug, Clone)]
struct Name(String);

/// The data of a `join` event.
#[derive(Debug, Deserialize)]
struct Join {
    name: String,
}

/// The data of `join_room` and `leave_room`.
#[derive(Debug, Deserialize)]
struct RoomRequest {
    room: String,
}

/// The data of a `message` event.
#[derive(Debug, Deserialize)]
struct Say {
    room: String,
    text: String,
}

/// The data of `welcome`.
#[derive(Debug, Serialize)]
struct Welcome<'a> {
    id: &'a str,
    name: &'a str,
    online: usize,
    rooms: &'a [Room],
}

/// The data of `online`.
#[derive(Debug, Serialize)]
struct Online {
    count: usize,
}

/// The data of `my_rooms`.
#[derive(Debug, Serialize)]
struct MyRooms<'a> {
    rooms: &'a [Room],
}

/// The data of `joined` and `left`.
#[derive(Debug, Serialize)]
struct Who<'a> {
    id: &'a str,
    name: &'a str,
    room: &'a str,
}

/// The data of a broadcast `message`.
#[derive(Debug, Serialize)]
struct ChatMessage<'a> {
    id: &'a str,
    name: &'a str,
    room: &'a str,
    text: &'a str,
    at: u64,
}

/// The data of the `rooms` reply.
#[derive(Debug, Serialize)]
struct RoomList {
    rooms: Vec<RoomSize>,
}

/// A room and how many sockets are in it, across the cluster.
#[derive(Debug, Serialize)]
struct RoomSize {
    name: Room,
    size: usize,
}

/// The chat, with no state of its own: everything is asked of the cluster.
#[websocket_gateway(path = "/chat")]
#[derive(Debug, Default)]
pub struct ClusterChat;

#[websocket_gateway]
impl ClusterChat {
    /// Names the socket, puts it in `general`, welcomes it, and tells everyone.
    #[subscribe_message("join")]
    async fn join(
        &self,
        socket: Socket,
        server: Server,
        Data(join): Data<Join>,
    ) -> Result<(), WsException> {
        let name = join.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(WsException::new(format!(
                "a name has 1 to {MAX_NAME} characters"
            )));
        }
        if let Some(Name(current)) = socket.extension::<Name>() {
            return Err(WsException::new(format!("already joined as {current}")));
        }
        socket.insert_extension(Name(name.to_owned()));
        socket.join([ONLINE, GENERAL]);
        let rooms = visible(socket.rooms());
        if !rooms.iter().any(|room| room == GENERAL) {
            return Err(WsException::new("the connection is closing"));
        }
        let online = server.to(ONLINE).sockets_count().await?;
        let welcome = Welcome {
            id: socket.id(),
            name,
            online,
            rooms: &rooms,
        };
        let _ = socket.emit("welcome", &welcome);
        server.emit("online", &Online { count: online })?;
        let joined = Who {
            id: socket.id(),
            name,
            room: GENERAL,
        };
        server.to(GENERAL).emit("joined", &joined)?;
        Ok(())
    }

    /// Puts a socket that joined in one more room, and tells that room.
    #[subscribe_message("join_room")]
    fn join_room(
        &self,
        socket: Socket,
        server: Server,
        Data(request): Data<RoomRequest>,
    ) -> Result<(), WsException> {
        let name = joined_name(&socket)?;
        let room = request.room;
        if !valid_room(&room) {
            return Err(WsException::new(format!(
                "a room name has 1 to {MAX_ROOM} characters among a-z, 0-9, - and _"
            )));
        }
        let already_in = socket.rooms().iter().any(|joined| *joined == room);
        socket.join(&room);
        let rooms = visible(socket.rooms());
        let _ = socket.emit("my_rooms", &MyRooms { rooms: &rooms });
        if !already_in {
            let joined = Who {
                id: socket.id(),
                name: &name,
                room: &room,
            };
            server.to(&room).emit("joined", &joined)?;
        }
        Ok(())
    }

    /// Takes a socket out of a room, and tells the members who stay.
    #[subscribe_message("leave_room")]
    fn leave_room(
        &self,
        socket: Socket,
        server: Server,
        Data(request): Data<RoomRequest>,
    ) -> Result<(), WsException> {
        let name = joined_name(&socket)?;
        let room = request.room;
        if room == ONLINE {
            return Err(WsException::new("no such room"));
        }
        let was_in = socket.rooms().iter().any(|joined| *joined == room);
        socket.leave(&room);
        let rooms = visible(socket.rooms());
        let _ = socket.emit("my_rooms", &MyRooms { rooms: &rooms });
        if was_in {
            let left = Who {
                id: socket.id(),
                name: &name,
                room: &room,
            };
            server.to(&room).emit("left", &left)?;
        }
        Ok(())
    }

    /// Sends a message to the members of a room, on every node, the sender included.
    #[subscribe_message("message")]
    fn message(
        &self,
        socket: Socket,
        server: Server,
        Data(say): Data<Say>,
    ) -> Result<(), WsException> {
        let name = joined_name(&socket)?;
        if say.room == ONLINE || !socket.rooms().iter().any(|room| *room == say.room) {
            return Err(WsException::new("join the room first"));
        }
        let text = say.text.trim();
        if text.is_empty() || text.chars().count() > MAX_TEXT {
            return Err(WsException::new(format!(
                "a message has 1 to {MAX_TEXT} characters"
            )));
        }
        let message = ChatMessage {
            id: socket.id(),
            name: &name,
            room: &say.room,
            text,
            at: unix_millis(),
        };
        server.to(&say.room).emit("message", &message)?;
        Ok(())
    }

    /// Replies `rooms`: every room with members on any node, and its size across the cluster.
    #[subscribe_message("rooms")]
    async fn rooms(&self, server: Server) -> Result<WsResponse<RoomList>, WsException> {
        let mut rooms = Vec::new();
        for name in visible(server.rooms().await?) {
            let size = server.to(name.clone()).sockets_count().await?;
            if size > 0 {
                rooms.push(RoomSize { name, size });
            }
        }
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(WsResponse::new("rooms", RoomList { rooms }))
    }

    /// Tells each room of a socket that joined that it left, and everyone the new count.
    #[on_disconnect]
    async fn leave(&self, socket: Socket) {
        let Some(Name(name)) = socket.extension::<Name>() else {
            return;
        };
        let server = socket.server();
        for room in visible(socket.rooms()) {
            let left = Who {
                id: socket.id(),
                name: &name,
                room: room.as_ref(),
            };
            let _ = server.to(room.clone()).emit("left", &left);
        }
        // The socket already left every room, so the count no longer includes it. Without Redis
        // there is nobody to tell about a failed count.
        if let Ok(count) = server.to(ONLINE).sockets_count().await {
            let _ = server.emit("online", &Online { count });
        }
    }
}

/// The rooms a user sees: all but the internal `@online`.
fn visible(rooms: Vec<Room>) -> Vec<Room> {
    rooms.into_iter().filter(|room| room != ONLINE).collect()
}

/// 1 to 32 characters among `a-z`, `0-9`, `-` and `_`.
fn valid_room(room: &str) -> bool {
    (1..=MAX_ROOM).contains(&room.len())
        && room
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"-_".contains(&byte))
}

/// The name a socket joined with, or the exception for one that has not joined.
fn joined_name(socket: &Socket) -> Result<String, WsException> {
    socket
        .extension::<Name>()
        .map(|Name(name)| name)
        .ok_or_else(|| WsException::new("join first"))
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Serves the page at `/`.
async fn page() -> Html<&'static str> {
    Html(PAGE)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let mut app = nestgate::App::new().merge(axum::Router::new().route("/", get(page)));
    let mut cluster = None;
    if let Ok(url) = std::env::var("REDIS_URL") {
        let prefix = std::env::var("REDIS_PREFIX").unwrap_or_else(|_| "chat".to_owned());
        let node = RedisCluster::connect(RedisConfig::new(url).prefix(prefix)).await?;
        println!(
            "node {} joined the cluster ({} other nodes)",
            node.node_id(),
            node.nodes().len()
        );
        app = app.adapter(node.clone());
        cluster = Some(node);
    }
    let listening = app.bind(format!("127.0.0.1:{port}")).await?;
    println!("chat listening on http://{}", listening.local_addr());
    listening.run().await?;
    if let Some(cluster) = cluster {
        // Tell the other nodes at once rather than let them wait for the heartbeat timeout.
        cluster.close().await;
    }
    Ok(())
}
