use nestgate::prelude::*;

struct NotAGateway;

impl NotAGateway {
    #[subscribe_message("join")]
    fn join(&self) {}
}

fn main() {}
