//! Every room operator of nestgate, one event each, with its socket.io equivalent.
//!
//! Two gateways: `/rooms`, where each event shows one operator, and `/admin`, a second path (a
//! socket.io namespace) that the first reaches with `server.of("/admin")` and that reaches back.
//! An HTTP route, `GET /announce?room=..&text=..`, emits from outside any handler.
//!
//! Run it with `cargo run -p rooms` (listens on 127.0.0.1:$PORT, default 3000), connect two or
//! three clients to `ws://127.0.0.1:3000/rooms` and one to `ws://127.0.0.1:3000/admin`, and send
//! the events below. `README.md` lists them with what each client receives.
//!
//! # Vocabulary, for a newcomer
//!
//! - A **room** is a named group of sockets of one gateway path. A socket joins and leaves rooms
//!   (`socket.join`, `socket.leave`); a room exists while it has members. Every socket is also
//!   reachable through a room named by its own id, which is how you reach one socket.
//! - An **operator** chooses sockets: `server.to("red")`, `socket.broadcast()`,
//!   `server.to("red").except("blue")`. Then you `emit` to them, or ask about them
//!   (`fetch_sockets`, `sockets_count`) or act on them (`sockets_join`, `disconnect_sockets`).
//! - A **reply** is the handler's return value. When the client puts an `"id"` in its frame, the
//!   reply comes back as `{"ack": id, "data": reply}` (socket.io's acknowledgement callback), and
//!   an error as `{"ack": id, "error": {...}}`.
//! - An **acknowledgement from the client** is the other way round: the server emits
//!   `{"event","data","id": n}` and the client answers `{"ack": n, "data": answer}`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use futures_util::StreamExt as _;
use nestgate::AppHandle;
use nestgate::ack::AckResponse;
use nestgate::adapter::Room;
use nestgate::operators::BroadcastError;
use nestgate::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// The longest a `poll` or `confirm` may wait for answers: a handler that waits holds one of
/// its connection's in-flight slots (128 by default).
const MAX_WAIT: Duration = Duration::from_secs(10);

// ---- what clients send ---------------------------------------------------------------------

/// `{"rooms": ["red", "blue"]}`: rooms to join or leave.
#[derive(Debug, Deserialize)]
struct RoomList {
    rooms: Vec<String>,
}

/// `{"room": "red"}`.
#[derive(Debug, Deserialize)]
struct RoomArg {
    room: String,
}

/// `{"room": "red", "text": "hi"}`: something to say to a room.
#[derive(Debug, Deserialize)]
struct Say {
    room: String,
    text: String,
}

/// `{"text": "hi"}`: something to say to everyone.
#[derive(Debug, Deserialize)]
struct Text {
    text: String,
}

/// `{"room": "red", "question": "lunch?", "timeout_ms": 500}`.
#[derive(Debug, Deserialize)]
struct Poll {
    room: String,
    question: Value,
    timeout_ms: u64,
}

/// `{"question": "sure?", "timeout_ms": 500}` (`timeout_ms` may be left out).
#[derive(Debug, Deserialize)]
struct Confirm {
    question: Value,
    timeout_ms: Option<u64>,
}

/// `{"room": "blue", "join": "green"}`: every socket in `room` joins `join`.
#[derive(Debug, Deserialize)]
struct SocketsJoin {
    room: String,
    join: String,
}

/// `{"room": "green", "leave": "blue"}`: every socket in `room` leaves `leave`.
#[derive(Debug, Deserialize)]
struct SocketsLeave {
    room: String,
    leave: String,
}

// ---- what the server sends -----------------------------------------------------------------

/// `hello`, sent to each socket as it connects, so that a client knows its own id.
#[derive(Debug, Serialize)]
struct Hello<'a> {
    id: &'a str,
}

/// `said`: a text, who sent it, to which room, and through which operator (`via`), so that a
/// client can see which operator reached it.
#[derive(Debug, Serialize)]
struct Said<'a> {
    via: &'static str,
    from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    text: &'a str,
}

/// `announcement`, to a room of `/rooms`, from `/admin` or from the HTTP route.
#[derive(Debug, Serialize)]
struct Announcement<'a> {
    from: &'static str,
    room: &'a str,
    text: &'a str,
}

/// `notice`, to every client of `/admin`.
#[derive(Debug, Serialize)]
struct Notice<'a> {
    from: &'a str,
    text: &'a str,
}

/// The rooms of the socket, the reply to `join` and `leave`.
#[derive(Debug, Serialize)]
struct MyRooms {
    rooms: Vec<Room>,
}

/// The reply to `rooms`.
#[derive(Debug, Serialize)]
struct AllRooms {
    /// Every room of `/rooms` with at least one member, by name.
    all: Vec<Room>,
    /// The rooms of the socket that asked.
    mine: Vec<Room>,
}

/// A room and how many sockets are in it.
#[derive(Debug, Serialize)]
struct Size {
    room: String,
    size: usize,
}

/// One client's answer to a `poll`: its answer, or why there is none.
#[derive(Debug, Serialize)]
struct Answer {
    socket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A socket as `who` describes it.
#[derive(Debug, Serialize)]
struct Member {
    id: String,
    rooms: Vec<Room>,
    /// The path and query the client connected with.
    uri: String,
}

// ---- /rooms --------------------------------------------------------------------------------

/// One event per operator. Every method's comment says what the operator does and what it is
/// called in socket.io.
#[websocket_gateway(path = "/rooms")]
#[derive(Debug, Default)]
pub struct RoomsGateway;

#[websocket_gateway]
impl RoomsGateway {
    /// Tells each new socket its id: `hello` `{"id"}`.
    #[on_connection]
    fn hello(&self, socket: Socket) {
        // `socket.emit` sends to this one client (socket.io: `socket.emit`). It fails only if
        // the client is already gone, and then there is nobody to greet.
        let _ = socket.emit("hello", &Hello { id: socket.id() });
    }

    /// `join` `{"rooms": [...]}` → replies `{"rooms": [...]}`, the socket's rooms now.
    ///
    /// `socket.join(rooms)` puts this socket in one room (`"red"`) or many (a `Vec`, an array).
    /// Joining a room it is in already does nothing. socket.io: `socket.join(["red", "blue"])`.
    /// A socket is in at most `App::max_rooms_per_socket` rooms (1,000 by default);
    /// `socket.try_join` joins all or none and says so, where `socket.join` joins what fits.
    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(list): Data<RoomList>) -> Result<MyRooms, WsException> {
        if list.rooms.iter().any(String::is_empty) {
            return Err(WsException::new("a room name cannot be empty"));
        }
        socket
            .try_join(list.rooms)
            .map_err(|refused| WsException::new(refused.to_string()))?;
        // `socket.rooms()`: the rooms it is in, without the room named by its id (socket.io's
        // `socket.rooms` includes that one).
        Ok(MyRooms {
            rooms: socket.rooms(),
        })
    }

    /// `leave` `{"rooms": [...]}` → replies `{"rooms": [...]}`.
    ///
    /// `socket.leave(rooms)`; leaving a room it is not in does nothing. A socket leaves all its
    /// rooms when it disconnects. socket.io: `socket.leave("red")`.
    #[subscribe_message("leave")]
    fn leave(&self, socket: Socket, Data(list): Data<RoomList>) -> MyRooms {
        socket.leave(list.rooms);
        MyRooms {
            rooms: socket.rooms(),
        }
    }

    /// `to` `{"room","text"}` → `said` to the room's members, **except the sender**.
    ///
    /// `socket.to(room)`: the members of `room` but this socket. The room may be a socket id: a
    /// private message. socket.io: `socket.to("red").emit(...)`.
    #[subscribe_message("to")]
    fn to(&self, socket: Socket, Data(say): Data<Say>) -> Result<(), WsException> {
        let said = said("to", &socket, Some(&say.room), &say.text);
        socket.to(&say.room).emit("said", &said)?;
        Ok(())
    }

    /// `within` `{"room","text"}` → `said` to the room's members, **the sender included** if it
    /// is one.
    ///
    /// `socket.within(room)`, the same as `server.to(room)`. socket.io: `io.in("red").emit(...)`
    /// (or `io.to("red")`).
    #[subscribe_message("within")]
    fn within(&self, socket: Socket, Data(say): Data<Say>) -> Result<(), WsException> {
        let said = said("within", &socket, Some(&say.room), &say.text);
        socket.within(&say.room).emit("said", &said)?;
        Ok(())
    }

    /// `except` `{"room","text"}` → `said` to every socket of `/rooms` **but** the sender and the
    /// members of `room`.
    ///
    /// `socket.except(room)`. It combines with `to`: `socket.to("a").except("b")` reaches the
    /// members of `a` that are not in `b`. `server.except(room)` is the same without leaving the
    /// sender out. socket.io: `socket.except("red").emit(...)`.
    #[subscribe_message("except")]
    fn except(&self, socket: Socket, Data(say): Data<Say>) -> Result<(), WsException> {
        let said = said("except", &socket, Some(&say.room), &say.text);
        socket.except(&say.room).emit("said", &said)?;
        Ok(())
    }

    /// `broadcast` `{"text"}` → `said` to every socket of `/rooms` but the sender.
    ///
    /// `socket.broadcast()`. socket.io: `socket.broadcast.emit(...)`.
    #[subscribe_message("broadcast")]
    fn broadcast(&self, socket: Socket, Data(text): Data<Text>) -> Result<(), WsException> {
        let said = said("broadcast", &socket, None, &text.text);
        socket.broadcast().emit("said", &said)?;
        Ok(())
    }

    /// `local` `{"text"}` → `said` to every socket of `/rooms` connected to **this process**,
    /// the sender included.
    ///
    /// `server.local()`. With the default in-memory adapter every socket is local, so this is
    /// `server.emit`; with a cluster adapter (Redis) it skips the other processes.
    /// socket.io: `io.local.emit(...)`.
    #[subscribe_message("local")]
    fn local(
        &self,
        socket: Socket,
        server: Server,
        Data(text): Data<Text>,
    ) -> Result<(), WsException> {
        let said = said("local", &socket, None, &text.text);
        server.local().emit("said", &said)?;
        Ok(())
    }

    /// `volatile` `{"text"}` → `said` to every socket of `/rooms`, the sender included, **except
    /// those that cannot take it now**.
    ///
    /// `server.volatile()`: a client whose outbound queue is full misses this frame instead of
    /// being disconnected as a slow consumer (what a plain emit does). For data that the next
    /// frame replaces anyway: positions, typing indicators, prices. `socket.emit_volatile` is the
    /// same for one socket. socket.io: `io.volatile.emit(...)`.
    #[subscribe_message("volatile")]
    fn volatile(
        &self,
        socket: Socket,
        server: Server,
        Data(text): Data<Text>,
    ) -> Result<(), WsException> {
        let said = said("volatile", &socket, None, &text.text);
        server.volatile().emit("said", &said)?;
        Ok(())
    }

    /// `poll` `{"room","question","timeout_ms"}` → sends `question` to the room's other members
    /// and replies with every answer: `[{"socket","answer"}]`, or `{"socket","error"}` for those
    /// that did not answer in time.
    ///
    /// `.timeout(d).emit_with_ack::<_, R>(..)` sends `{"event","data","id": n}` to each targeted
    /// client and returns a stream of their answers (`{"ack": n, "data": ...}` from the client),
    /// decoded as `R`, as they arrive; the late ones come last, as timeouts. Without `.timeout`
    /// the app's ack timeout applies (5 s unless `App::ack_timeout`).
    /// socket.io: `socket.to("red").timeout(500).emitWithAck("question", ...)`.
    #[subscribe_message("poll")]
    async fn poll(
        &self,
        socket: Socket,
        Data(poll): Data<Poll>,
    ) -> Result<Vec<Answer>, WsException> {
        let wait = Duration::from_millis(poll.timeout_ms).min(MAX_WAIT);
        let answers = socket
            .to(&poll.room)
            .timeout(wait)
            .emit_with_ack::<_, Value>("question", &poll.question)
            .await?;
        // `collect` waits for the stream's end: every answer, or the timeout.
        let answers: Vec<AckResponse<Value>> = answers.collect().await;
        Ok(answers
            .into_iter()
            .map(|AckResponse { socket, result }| match result {
                Ok(answer) => Answer {
                    socket,
                    answer: Some(answer),
                    error: None,
                },
                Err(err) => Answer {
                    socket,
                    answer: None,
                    error: Some(err.to_string()),
                },
            })
            .collect())
    }

    /// `confirm` `{"question","timeout_ms"?}` → sends `confirm` to the sender itself, with an
    /// `id`, waits for its answer, and replies `{"answer": ...}`; an error if it does not answer.
    ///
    /// `socket.emit_with_ack::<_, R>(event, data)` waits for one client's answer within the app's
    /// ack timeout; `emit_with_ack_timeout` takes its own. socket.io:
    /// `socket.timeout(500).emitWithAck("confirm", ...)`.
    #[subscribe_message("confirm")]
    async fn confirm(
        &self,
        socket: Socket,
        Data(confirm): Data<Confirm>,
    ) -> Result<Value, WsException> {
        let answer = match confirm.timeout_ms {
            Some(ms) => {
                let wait = Duration::from_millis(ms).min(MAX_WAIT);
                socket
                    .emit_with_ack_timeout::<_, Value>("confirm", &confirm.question, wait)
                    .await
            }
            None => {
                socket
                    .emit_with_ack::<_, Value>("confirm", &confirm.question)
                    .await
            }
        };
        // An `AckError` says why there is no answer: timeout, disconnected, wrong type.
        let answer = answer.map_err(|err| WsException::new(err.to_string()))?;
        Ok(serde_json::json!({ "answer": answer }))
    }

    /// `who` `{"room"}` or no data → replies `[{"id","rooms","uri"}]`, the sockets in the room
    /// (or all of them), by id.
    ///
    /// `.fetch_sockets()` describes the targeted sockets (`SocketInfo`: id, path, rooms,
    /// handshake), wherever they are connected. To act on one, target it by its id:
    /// `server.to(info.id)`. socket.io: `io.in("red").fetchSockets()`.
    #[subscribe_message("who")]
    async fn who(
        &self,
        server: Server,
        Data(filter): Data<Option<RoomArg>>,
    ) -> Result<Vec<Member>, WsException> {
        let sockets = match filter {
            Some(RoomArg { room }) => server.to(room).fetch_sockets().await?,
            None => server.fetch_sockets().await?,
        };
        let mut members: Vec<Member> = sockets
            .into_iter()
            .map(|info| Member {
                id: info.id,
                rooms: info.rooms,
                uri: info.uri,
            })
            .collect();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(members)
    }

    /// `sockets_join` `{"room","join"}` → every socket in `room` joins `join`; replies
    /// `{"room": join, "size"}`.
    ///
    /// `.sockets_join(rooms)` makes the targeted sockets join, wherever they are connected.
    /// socket.io: `io.in("blue").socketsJoin("green")`.
    #[subscribe_message("sockets_join")]
    async fn sockets_join(
        &self,
        server: Server,
        Data(args): Data<SocketsJoin>,
    ) -> Result<Size, WsException> {
        server.to(&args.room).sockets_join(&args.join).await?;
        room_size(&server, args.join).await
    }

    /// `sockets_leave` `{"room","leave"}` → every socket in `room` leaves `leave`; replies
    /// `{"room": leave, "size"}`.
    ///
    /// `.sockets_leave(rooms)`. socket.io: `io.in("green").socketsLeave("blue")`.
    #[subscribe_message("sockets_leave")]
    async fn sockets_leave(
        &self,
        server: Server,
        Data(args): Data<SocketsLeave>,
    ) -> Result<Size, WsException> {
        server.to(&args.room).sockets_leave(&args.leave).await?;
        room_size(&server, args.leave).await
    }

    /// `kick` `{"room"}` → closes the connections of the room's members but the sender, with
    /// code 1000; replies `{"kicked": n}`.
    ///
    /// `.disconnect_sockets()`; their `#[on_disconnect]` hooks see `DisconnectReason::Kicked`.
    /// socket.io: `socket.to("red").disconnectSockets()`.
    #[subscribe_message("kick")]
    async fn kick(&self, socket: Socket, Data(arg): Data<RoomArg>) -> Result<Value, WsException> {
        let targets = socket.to(&arg.room);
        let kicked = targets.sockets_count().await?;
        targets.disconnect_sockets().await?;
        Ok(serde_json::json!({ "kicked": kicked }))
    }

    /// `size` `{"room"}` → replies `{"room","size"}`: how many sockets are in the room.
    ///
    /// `server.to(room).sockets_count()`. socket.io: `(await io.in("red").fetchSockets()).length`,
    /// or `io.of("/").adapter.rooms.get("red")?.size` on one process.
    #[subscribe_message("size")]
    async fn size(&self, server: Server, Data(arg): Data<RoomArg>) -> Result<Size, WsException> {
        room_size(&server, arg.room).await
    }

    /// `rooms` → replies `{"all": [...], "mine": [...]}`: every room of `/rooms` with members,
    /// and the sender's rooms.
    ///
    /// `server.rooms()` lists rooms across the cluster; rooms named by socket ids are not listed.
    /// socket.io: `io.of("/").adapter.rooms` (which lists the id rooms too) and `socket.rooms`.
    #[subscribe_message("rooms")]
    async fn rooms(&self, socket: Socket, server: Server) -> Result<AllRooms, WsException> {
        let mut all = server.rooms().await?;
        all.sort();
        Ok(AllRooms {
            all,
            mine: socket.rooms(),
        })
    }

    /// `notify_admins` `{"text"}` → `notice` `{"from","text"}` to every client of `/admin`;
    /// replies `{"admins": n}`.
    ///
    /// `server.of(path)` is the server of another gateway path (socket.io: a namespace), with
    /// every operator. socket.io: `io.of("/admin").emit(...)`.
    #[subscribe_message("notify_admins")]
    fn notify_admins(
        &self,
        socket: Socket,
        server: Server,
        Data(text): Data<Text>,
    ) -> Result<Value, WsException> {
        let Some(admin) = server.of("/admin") else {
            return Err(WsException::new("no gateway at /admin"));
        };
        let notice = Notice {
            from: socket.id(),
            text: &text.text,
        };
        admin.emit("notice", &notice)?;
        // `socket_count` is how many clients this process has on that path.
        Ok(serde_json::json!({ "admins": admin.local_socket_count() }))
    }
}

/// A `said` frame.
fn said<'a>(
    via: &'static str,
    socket: &'a Socket,
    room: Option<&'a str>,
    text: &'a str,
) -> Said<'a> {
    Said {
        via,
        from: socket.id(),
        room,
        text,
    }
}

/// How many sockets are in `room`.
async fn room_size(server: &Server, room: String) -> Result<Size, WsException> {
    let size = server.to(&room).sockets_count().await?;
    Ok(Size { room, size })
}

// ---- /admin --------------------------------------------------------------------------------

/// A second gateway path. In socket.io terms, a namespace: its own sockets and its own rooms.
#[websocket_gateway(path = "/admin")]
#[derive(Debug, Default)]
pub struct AdminGateway;

#[websocket_gateway]
impl AdminGateway {
    /// `announce` `{"room","text"}` (to `/admin`) → `announcement` `{"from":"admin","room","text"}`
    /// to the members of that room of `/rooms`; replies `{"sockets": n}`.
    ///
    /// The `Server` here is `/admin`'s; `server.of("/rooms")` reaches the other path.
    /// socket.io: `io.of("/rooms").to("red").emit(...)`.
    #[subscribe_message("announce")]
    async fn announce(&self, server: Server, Data(say): Data<Say>) -> Result<Value, WsException> {
        let Some(rooms) = server.of("/rooms") else {
            return Err(WsException::new("no gateway at /rooms"));
        };
        let sockets = announce(&rooms, "admin", &say.room, &say.text).await?;
        Ok(serde_json::json!({ "sockets": sockets }))
    }
}

/// Sends `announcement` to the members of `room`; returns how many there were.
async fn announce(
    server: &Server,
    from: &'static str,
    room: &str,
    text: &str,
) -> Result<usize, BroadcastError> {
    let targets = server.to(room);
    let sockets = targets.sockets_count().await?;
    targets.emit("announcement", &Announcement { from, room, text })?;
    Ok(sockets)
}

// ---- HTTP ----------------------------------------------------------------------------------

/// The query of `GET /announce?room=red&text=hello`.
#[derive(Debug, Deserialize)]
struct AnnounceQuery {
    room: String,
    text: String,
}

/// `GET /announce?room=red&text=hello` → `announcement` `{"from":"http","room","text"}` to the
/// members of that room of `/rooms`; answers `announced to N sockets in ROOM`.
///
/// An axum handler is outside any gateway, so it has no `Server` argument: the `AppHandle`
/// (taken from the `App` before it starts) gives one with `handle.server("/rooms")`. The same
/// works from a background task. socket.io: using the `io` object from an Express route.
async fn announce_over_http(
    State(handle): State<AppHandle>,
    Query(query): Query<AnnounceQuery>,
) -> (StatusCode, String) {
    // `None` only before the app is built, and requests come after.
    let Some(server) = handle.server("/rooms") else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not started yet\n".to_owned(),
        );
    };
    match announce(&server, "http", &query.room, &query.text).await {
        Ok(sockets) => (
            StatusCode::OK,
            format!("announced to {sockets} sockets in {}\n", query.room),
        ),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n")),
    }
}

#[tokio::main]
async fn main() -> nestgate::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let app = nestgate::App::new();
    // Taken before `bind`, which consumes the app; it reaches the servers once the app is built.
    let handle = app.handle();
    let http = axum::Router::new()
        .route("/announce", get(announce_over_http))
        .with_state(handle);
    let listening = app.merge(http).bind(format!("127.0.0.1:{port}")).await?;
    println!("rooms listening on http://{}", listening.local_addr());
    listening.run().await
}
