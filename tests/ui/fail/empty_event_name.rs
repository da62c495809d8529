use nestgate::prelude::*;

#[websocket_gateway]
#[derive(Default)]
struct Chat;

#[websocket_gateway]
impl Chat {
    #[subscribe_message("")]
    fn join(&self) {}
}

fn main() {}
