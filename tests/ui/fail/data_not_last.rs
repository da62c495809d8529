use nestgate::prelude::*;

#[websocket_gateway]
#[derive(Default)]
struct Chat;

#[websocket_gateway]
impl Chat {
    #[subscribe_message("join")]
    fn join(&self, Data(_room): Data<String>, _socket: Socket) {}
}

fn main() {}
