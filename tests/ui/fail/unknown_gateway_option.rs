use nestgate::prelude::*;

#[websocket_gateway(path = "/chat", port = 80)]
#[derive(Default)]
struct Chat;

#[websocket_gateway]
impl Chat {}

fn main() {}
