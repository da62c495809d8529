//! A live-auction server, as a NestJS developer writes it (see docs/guide.md, "From NestJS"):
//! the [`Auctions`](auctions::Auctions) service injected into the gateway (`src/gateway.rs`), a room per
//! auction, JWT on the handshake, validated bids, an admin guard; served over ws-json and
//! Socket.IO.
//!
//! ```text
//! cargo run -p auction -- token ann user    # a token (development secret unless JWT_SECRET is set)
//! cargo run -p auction                        # ws://127.0.0.1:3000/auction?token=..., Socket.IO at /socket.io/
//! ```

pub mod auctions;
/// The project's JWT guard: the very file `nestgate generate guard jwt` writes as `src/auth.rs`
/// (`Claims`, `Keys` from `JWT_SECRET`, `JwtGuard` reading the Socket.IO `auth` payload, the
/// query, the `Authorization` header or a cookie, `RoleGuard`).
#[path = "../../templates/src/auth.rs"]
pub mod auth;
mod gateway;

use nestgate::socketio::SocketIoConfig;

/// The app: the service provided, the gateway, Socket.IO beside ws-json.
pub fn app() -> nestgate::App {
    nestgate::App::bare()
        .provide(auctions::Auctions::default())
        .gateway::<gateway::AuctionGateway>()
        .socket_io(SocketIoConfig::default())
}
