use nestgate::prelude::*;

#[websocket_gateway]
#[derive(Default)]
struct Chat;

/// Not `Serialize`: a handler's return value is sent to the client as JSON.
struct Reply;

#[websocket_gateway]
impl Chat {
    #[subscribe_message("join")]
    fn join(&self) -> Reply {
        Reply
    }
}

fn main() {}
