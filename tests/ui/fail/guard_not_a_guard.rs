use nestgate::prelude::*;

struct NotAGuard;

#[websocket_gateway]
#[derive(Default)]
struct Chat;

#[websocket_gateway]
impl Chat {
    #[subscribe_message("join")]
    #[use_guards(NotAGuard)]
    fn join(&self) {}
}

fn main() {}
