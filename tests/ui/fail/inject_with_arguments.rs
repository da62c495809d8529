use nestgate::prelude::*;

#[websocket_gateway(path = "/auction")]
struct AuctionGateway {
    #[inject(optional)]
    other: u8,
}

#[websocket_gateway]
impl AuctionGateway {}

fn main() {}
