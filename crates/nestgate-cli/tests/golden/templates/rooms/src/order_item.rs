//! `OrderItemGateway`, at `/order-item`: clients join and leave rooms and talk to the members
//! of a room (socket.io's `socket.join`, `socket.to(room).emit`).
//!
//! - `{"event":"join","data":{"room":"red"}}` joins `red`: the other members of `red` get
//!   `joined` `{"id","room"}`; the answer is the socket's rooms, `["red"]`.
//! - `{"event":"leave","data":{"room":"red"}}` leaves `red`: its members get `left`
//!   `{"id","room"}`; the answer is the socket's rooms.
//! - `{"event":"message","data":{"room":"red","text":"hi"}}` sends `message`
//!   `{"from","room","text"}` to the other members of `red`; the sender must be one.
//! - `{"event":"size","data":{"room":"red"}}` answers how many sockets are in `red`.
//!
//! Every socket is also in a room named by its own id, which is how one socket is reached:
//! `server.to(id).emit(..)`.

use nestgate::adapter::Room;
use nestgate::prelude::*;
use serde::{Deserialize, Serialize};

/// The longest room name, in characters.
const MAX_ROOM: usize = 32;

/// `{"room": "red"}`.
#[derive(Debug, Deserialize)]
pub struct RoomArg {
    /// The room's name: 1 to 32 characters.
    pub room: String,
}

/// `{"room": "red", "text": "hi"}`.
#[derive(Debug, Deserialize)]
pub struct Say {
    /// The room to talk to.
    pub room: String,
    /// What to say.
    pub text: String,
}

/// The data of `joined` and `left`.
#[derive(Debug, Serialize)]
struct Member<'a> {
    id: &'a str,
    room: &'a str,
}

/// The data of a `message`.
#[derive(Debug, Serialize)]
struct Line<'a> {
    from: &'a str,
    room: &'a str,
    text: &'a str,
}

/// The order item rooms: one instance serves every client of its path.
#[websocket_gateway(path = "/order-item")]
#[derive(Debug, Default)]
pub struct OrderItemGateway;

#[websocket_gateway]
impl OrderItemGateway {
    /// Joins a room, tells its other members, and answers the socket's rooms.
    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(arg): Data<RoomArg>) -> Result<Vec<Room>, WsException> {
        let room = checked(arg.room)?;
        socket.join(room.as_str());
        // `socket.to(..)` leaves the sender out, as in socket.io.
        socket.to(room.as_str()).emit(
            "joined",
            &Member {
                id: socket.id(),
                room: &room,
            },
        )?;
        Ok(socket.rooms())
    }

    /// Leaves a room, tells its members, and answers the socket's rooms.
    #[subscribe_message("leave")]
    fn leave(
        &self,
        socket: Socket,
        server: Server,
        Data(arg): Data<RoomArg>,
    ) -> Result<Vec<Room>, WsException> {
        let room = checked(arg.room)?;
        socket.leave(room.as_str());
        server.to(room.as_str()).emit(
            "left",
            &Member {
                id: socket.id(),
                room: &room,
            },
        )?;
        Ok(socket.rooms())
    }

    /// Sends a line to the other members of a room the sender is in.
    #[subscribe_message("message")]
    fn message(&self, socket: Socket, Data(say): Data<Say>) -> Result<(), WsException> {
        if !socket.rooms().iter().any(|room| *room == say.room) {
            return Err(WsException::new("join the room first"));
        }
        let line = Line {
            from: socket.id(),
            room: &say.room,
            text: &say.text,
        };
        socket.to(say.room.as_str()).emit("message", &line)?;
        Ok(())
    }

    /// How many sockets are in a room (in every process, with a cluster adapter).
    #[subscribe_message("size")]
    async fn size(&self, server: Server, Data(arg): Data<RoomArg>) -> Result<usize, WsException> {
        let room = checked(arg.room)?;
        Ok(server.to(room).sockets_count().await?)
    }
}

/// The room name, if it has 1 to 32 characters.
fn checked(room: String) -> Result<String, WsException> {
    if room.is_empty() || room.chars().count() > MAX_ROOM {
        return Err(WsException::new(format!(
            "a room name has 1 to {MAX_ROOM} characters"
        )));
    }
    Ok(room)
}

#[cfg(test)]
mod tests;
