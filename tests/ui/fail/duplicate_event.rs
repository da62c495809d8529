use nestgate::prelude::*;

#[websocket_gateway]
#[derive(Default)]
struct Chat;

#[websocket_gateway]
impl Chat {
    #[subscribe_message("join")]
    fn join(&self) {}

    #[subscribe_message("join")]
    fn join_again(&self) {}
}

fn main() {}
