use nestgate::prelude::*;

/// Not `Clone`: a provided value is cloned into each gateway that injects it.
struct Auctions;

#[websocket_gateway(path = "/auction")]
struct AuctionGateway {
    #[inject]
    auctions: Auctions,
}

#[websocket_gateway]
impl AuctionGateway {}

fn main() {}
