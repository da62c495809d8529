//! shop: real-time gateways built with nestgate.
//!
//! Each gateway is a module below, with its test beside it (`src/events/tests.rs`).
//! `nestgate generate gateway NAME --template T` writes another one and adds its `pub mod`
//! line: declaring the module is enough, `nestgate::App::new` finds every gateway linked into
//! the binary.

pub mod events;

/// The application: every gateway of this crate. Add shared state with `.provide(...)`,
/// app-wide handshake guards with `.handshake_guard(...)` and HTTP routes with `.merge(...)`.
pub fn app() -> nestgate::App {
    nestgate::App::new()
}
