//! A live-auction server, as a NestJS developer writes it (see docs/guide.md, "From NestJS"):
//! the [`Auctions`](auctions::Auctions) service injected into the gateway (`src/gateway.rs`), a room per
//! auction, JWT on the handshake, validated bids, an admin guard; served over ws-json and
//! Socket.IO.
//!
//! ```text
//! cargo run -p auction -- token ann bidder    # a token (development secret unless JWT_SECRET is set)
//! cargo run -p auction                        # ws://127.0.0.1:3000/auction?token=..., Socket.IO at /socket.io/
//! ```

pub mod auctions;
pub mod auth;
mod gateway;

use nestgate::socketio::SocketIoConfig;

/// The app: the service and the keys provided, the gateway, Socket.IO beside ws-json.
pub fn app(keys: auth::Keys) -> nestgate::App {
    nestgate::App::bare()
        .provide(auctions::Auctions::default())
        .provide(keys)
        .gateway::<gateway::AuctionGateway>()
        .socket_io(SocketIoConfig::default())
}
