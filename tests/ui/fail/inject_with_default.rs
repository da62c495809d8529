use nestgate::prelude::*;

#[derive(Clone)]
struct Auctions;

#[websocket_gateway(path = "/auction")]
#[derive(Default)]
struct AuctionGateway {
    #[inject]
    auctions: Auctions,
}

fn main() {}
