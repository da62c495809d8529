use nestgate::prelude::*;

#[websocket_gateway]
#[derive(Default)]
struct Chat;

struct NotAnExtractor;

#[websocket_gateway]
impl Chat {
    #[subscribe_message("join")]
    fn join(&self, _socket: Socket, _nope: NotAnExtractor, Data(_room): Data<String>) {}
}

fn main() {}
