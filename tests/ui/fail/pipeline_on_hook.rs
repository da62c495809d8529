use nestgate::prelude::*;

struct Auth;

#[websocket_gateway]
#[derive(Default)]
struct Chat;

#[websocket_gateway]
impl Chat {
    #[on_connection]
    #[use_guards(Auth)]
    fn connected(&self) {}

    #[use_layers(Auth)]
    fn helper(&self) {}
}

fn main() {}
