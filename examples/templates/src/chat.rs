//! `SampleNameGateway`, at `/sample-name`: a chat where clients join with a name and talk to
//! everyone.
//!
//! - `{"event":"join","data":{"name":"ann"}}` names the socket: it gets `welcome` `{"id","name"}`
//!   and everyone else gets `joined` `{"id","name"}`.
//! - `{"event":"message","data":{"text":"hi"}}` sends `message` `{"from","text"}` to everyone,
//!   the sender included; a socket must join first.
//! - When a socket that joined goes away, everyone gets `left` `{"id","name"}`.
//!
//! Bad input is answered with `{"event":"exception","data":{"status":"error","message":...}}`.

use nestgate::prelude::*;
use serde::{Deserialize, Serialize};

/// The longest name and the longest message, in characters.
const MAX_NAME: usize = 32;
const MAX_TEXT: usize = 2000;

/// The name a socket joined with, kept on the socket.
#[derive(Debug, Clone)]
struct Name(String);

/// The data of `join`.
#[derive(Debug, Deserialize)]
pub struct Join {
    /// The name others see.
    pub name: String,
}

/// The data of `message`.
#[derive(Debug, Deserialize)]
pub struct Say {
    /// What to say.
    pub text: String,
}

/// The data of `welcome`, `joined` and `left`.
#[derive(Debug, Serialize)]
struct Who<'a> {
    id: &'a str,
    name: &'a str,
}

/// The data of a broadcast `message`.
#[derive(Debug, Serialize)]
struct Line<'a> {
    from: &'a str,
    text: &'a str,
}

/// The sample name chat: one instance serves every client of its path.
#[websocket_gateway(path = "/sample-name")]
#[derive(Debug, Default)]
pub struct SampleNameGateway;

#[websocket_gateway]
impl SampleNameGateway {
    /// Names the socket, welcomes it and tells the others.
    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(join): Data<Join>) -> Result<(), WsException> {
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
        let who = Who {
            id: socket.id(),
            name,
        };
        // The welcome goes first, so the sender hears of itself before anyone else does.
        socket.emit("welcome", &who)?;
        socket.broadcast().emit("joined", &who)?;
        Ok(())
    }

    /// Sends a line to everyone, the sender included.
    #[subscribe_message("message")]
    fn message(
        &self,
        socket: Socket,
        server: Server,
        Data(say): Data<Say>,
    ) -> Result<(), WsException> {
        let Some(Name(from)) = socket.extension::<Name>() else {
            return Err(WsException::new("join first"));
        };
        let text = say.text.trim();
        if text.is_empty() || text.chars().count() > MAX_TEXT {
            return Err(WsException::new(format!(
                "a message has 1 to {MAX_TEXT} characters"
            )));
        }
        server.emit("message", &Line { from: &from, text })?;
        Ok(())
    }

    /// Tells everyone that a socket which joined has left.
    #[on_disconnect]
    fn leave(&self, socket: Socket) {
        if let Some(Name(name)) = socket.extension::<Name>() {
            let who = Who {
                id: socket.id(),
                name: &name,
            };
            // Nobody is left to tell if this fails: the socket is gone.
            let _ = socket.server().emit("left", &who);
        }
    }
}

#[cfg(test)]
mod tests;
