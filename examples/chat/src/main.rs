//! A chat server with a browser page and rooms, at WebSocket path `/chat`.
//!
//! Run it with `cargo run -p chat` and open <http://127.0.0.1:3000> in two tabs
//! (listens on 127.0.0.1:$PORT, default 3000). The page at `/` talks to the gateway with
//! `@nestgate/client`, which the server also serves, at `/client/index.js` (see `client.rs`).
//!
//! Client → server:
//! - `{"event":"join","data":{"name":"alice"}}` names the socket and puts it in room `general`:
//!   the sender gets `welcome` `{"id","name","online","rooms"}`, everyone gets `online`
//!   `{"count"}`, and room `general` gets `joined` `{"id","name","room"}`.
//! - `{"event":"join_room","data":{"room":"rust"}}` joins a room (1 to 32 characters among
//!   `a-z`, `0-9`, `-` and `_`; at most 20 rooms per socket, `general` included): the sender
//!   gets `my_rooms` `{"rooms"}`, the room gets `joined`.
//! - `{"event":"leave_room","data":{"room":"rust"}}` leaves it: the sender gets `my_rooms`, the
//!   room's remaining members get `left` `{"id","name","room"}`.
//! - `{"event":"message","data":{"room":"rust","text":"hi"}}` sends `message`
//!   `{"id","name","room","text","at"}` to the members of that room, the sender included, if
//!   the sender is one of them (`at` is the server's clock, in Unix milliseconds).
//! - `{"event":"rooms"}` replies `rooms` `{"rooms":[{"name","size"}]}`: every room that has
//!   members, and how many.
//!
//! When a socket that joined goes away, each of its rooms gets `left` and everyone gets
//! `online`. Bad input is answered with nestgate's
//! `{"event":"exception","data":{"status":"error","message":...}}`.
//!
//! Connection-state recovery is on (`App::recovery`): a client whose connection was lost (not
//! closed) and comes back within two minutes with `?session=&offset=` (`@nestgate/client` does
//! so by itself) is the same socket again, with its name and rooms, and gets what it missed.
//! Its rooms heard it leave, so they hear `joined` again (it is not told of itself), and
//! everyone gets `online` with it counted again.
//!
//! `/metrics` serves nestgate's metrics in the Prometheus text format (`App::metrics_endpoint`;
//! names and labels in `nestgate::metrics`). With `ADMIN_PASSWORD` set (and `ADMIN_USERNAME`,
//! default `admin`) it serves the Socket.IO Admin UI's protocol on `/admin`, and with
//! `ADMIN_UI_DIR` the UI's built files at `/admin-ui/` (see `src/admin.rs`).

mod admin;
mod client;

use axum::response::Html;
use axum::routing::get;
use nestgate::adapter::Room;
use nestgate::prelude::*;
use nestgate::recovery::RecoveryConfig;
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// The browser page, compiled into the binary: the server needs no files at run time.
const PAGE: &str = include_str!("../static/index.html");

/// The longest name, in characters.
const MAX_NAME: usize = 32;
/// The longest message, in characters.
const MAX_TEXT: usize = 2000;
/// The longest room name, in characters.
const MAX_ROOM: usize = 32;
/// The room every socket joins along with its name.
const GENERAL: &str = "general";
/// The most rooms one socket may be in (`App::max_rooms_per_socket`). It also bounds the
/// `my_rooms` answer to each join: at most 20 names of at most 32 characters.
const MAX_ROOMS: usize = 20;

/// The name a socket joined with, kept on the socket itself as a typed extension.
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

/// The data of `welcome`, sent to the socket that joined.
#[derive(Debug, Serialize)]
struct Welcome<'a> {
    id: &'a str,
    name: &'a str,
    /// How many people have joined, this one included.
    online: usize,
    /// The rooms the socket is in: `general`.
    rooms: &'a [Room],
}

/// The data of `online`, sent to everyone when someone joins or leaves.
#[derive(Debug, Serialize)]
struct Online {
    count: usize,
}

/// The data of `my_rooms`, sent to a socket whose rooms changed.
#[derive(Debug, Serialize)]
struct MyRooms<'a> {
    rooms: &'a [Room],
}

/// The data of `joined` and `left`: who, and which room.
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

/// A room and how many sockets are in it.
#[derive(Debug, Serialize)]
struct RoomSize {
    name: Room,
    size: usize,
}

/// The chat. One instance serves every client of `/chat`, so its fields are shared.
#[websocket_gateway(path = "/chat")]
#[derive(Debug, Default)]
pub struct ChatGateway {
    /// How many connected sockets have joined.
    online: Mutex<usize>,
}

#[websocket_gateway]
impl ChatGateway {
    /// Gives the socket a name, puts it in `general`, welcomes it, and tells everyone.
    #[subscribe_message("join")]
    fn join(
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
        let rooms = enter(&socket, GENERAL)?;
        socket.insert_extension(Name(name.to_owned()));
        let id = socket.id();
        let mut online = self.online();
        *online += 1;
        // Emit the welcome ourselves rather than return it: a returned value is sent after the
        // handler ends, which would put it behind the broadcasts below.
        // This fails only if the client is already gone; its disconnect hook then says `left`.
        let welcome = Welcome {
            id,
            name,
            online: *online,
            rooms: &rooms,
        };
        let _ = socket.emit("welcome", &welcome);
        server.emit("online", &Online { count: *online })?;
        drop(online);
        let joined = Who {
            id,
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
        let already_in = socket.in_room(&room);
        let rooms = enter(&socket, &room)?;
        // The sender learns its rooms before the room hears of it, as with `welcome`.
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
        let was_in = socket.in_room(&room);
        socket.leave(&room);
        let rooms = socket.rooms();
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

    /// Sends a message to the members of a room, the sender included, if the sender is one.
    #[subscribe_message("message")]
    fn message(
        &self,
        socket: Socket,
        server: Server,
        Data(say): Data<Say>,
    ) -> Result<(), WsException> {
        let name = joined_name(&socket)?;
        if !socket.in_room(&say.room) {
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
        // Every member of the room, the sender too (`socket.within(..)` would do the same).
        server.to(&say.room).emit("message", &message)?;
        Ok(())
    }

    /// Replies `rooms`: every room with members, and how many, by name.
    #[subscribe_message("rooms")]
    async fn rooms(&self, server: Server) -> Result<WsResponse<RoomList>, WsException> {
        let mut rooms = Vec::new();
        for name in server.rooms().await? {
            let size = server.to(name.clone()).sockets_count().await?;
            // A room can empty between the two questions; it no longer exists then.
            if size > 0 {
                rooms.push(RoomSize { name, size });
            }
        }
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(WsResponse::new("rooms", RoomList { rooms }))
    }

    /// A socket that recovered its lost connection is back: its rooms (which heard it leave)
    /// hear it joined again, and everyone gets the count with it. Nothing for a new socket,
    /// which has no name yet.
    #[on_connection]
    fn back(&self, socket: Socket) {
        if !socket.recovered() {
            return;
        }
        let Some(Name(name)) = socket.extension::<Name>() else {
            return;
        };
        // Its rooms are back already (the messages sent to them meanwhile come after the hooks).
        for room in &socket.rooms() {
            let joined = Who {
                id: socket.id(),
                name: &name,
                room: room.as_ref(),
            };
            // `socket.to`: not to the socket itself, which never left as far as it knows. As
            // in `leave`, there is nobody to tell of a failure here.
            let _ = socket.to(room.clone()).emit("joined", &joined);
        }
        let mut online = self.online();
        *online += 1;
        // To the socket too: it gets it after what it missed, the last count it heard.
        let _ = socket.server().emit("online", &Online { count: *online });
    }

    /// Tells each room of a socket that joined that it left, and everyone else the new count.
    ///
    /// The socket is already out of its rooms and off the server's list, so it is not told;
    /// `socket.rooms()` still lists the rooms it was in (socket.io's `disconnecting`). Sent
    /// with `socket.to` and `socket.broadcast`, that exclude it, so that a socket that recovers
    /// its connection does not get these with what it missed.
    #[on_disconnect]
    fn leave(&self, socket: Socket) {
        let Some(Name(name)) = socket.extension::<Name>() else {
            return;
        };
        for room in &socket.rooms() {
            let left = Who {
                id: socket.id(),
                name: &name,
                room: room.as_ref(),
            };
            // `emit` fails only if the data cannot be serialized (three strings always can) or
            // a cluster adapter is unreachable, and there is nobody to tell about either here.
            let _ = socket.to(room.clone()).emit("left", &left);
        }
        let mut online = self.online();
        *online = online.saturating_sub(1);
        let _ = socket
            .broadcast()
            .emit("online", &Online { count: *online });
    }
}

impl ChatGateway {
    /// The number of people online, locked. Hold the lock while sending a new count, so that
    /// everyone receives the counts in the order they were reached (sending only queues frames,
    /// it waits for nobody).
    fn online(&self) -> MutexGuard<'_, usize> {
        // Going on after a panic elsewhere is fine: the count is a plain number.
        self.online.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Joins `room` and returns the socket's rooms; fails if the socket is closing (a closing
/// socket can join no room, and its disconnect hook may have run already).
fn enter(socket: &Socket, room: &str) -> Result<Vec<Room>, WsException> {
    socket
        .try_join(room)
        .map_err(|_| WsException::new(format!("a socket can be in at most {MAX_ROOMS} rooms")))?;
    let rooms = socket.rooms();
    if is_in(&rooms, room) {
        Ok(rooms)
    } else {
        Err(WsException::new("the connection is closing"))
    }
}

/// Whether `room` is among `rooms`.
fn is_in(rooms: &[Room], room: &str) -> bool {
    rooms.iter().any(|joined| joined == room)
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
async fn main() -> nestgate::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let mut app = nestgate::App::new()
        .max_rooms_per_socket(MAX_ROOMS)
        // A page whose network blips comes back as the same socket, with what it missed.
        .recovery(RecoveryConfig::default())
        .metrics_endpoint("/metrics")
        .merge(axum::Router::new().route("/", get(page)))
        .merge(client::router());
    if let Some(config) = admin::config() {
        app = app.admin_ui(config);
    }
    if let Some(ui) = admin::router() {
        app = app.merge(ui);
    }
    let listening = app.bind(format!("127.0.0.1:{port}")).await?;
    println!("chat listening on http://{}", listening.local_addr());
    listening.run().await
}
