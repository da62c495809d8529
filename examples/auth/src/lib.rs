//! JWT authentication on the WebSocket handshake, a role guard, validation errors, and two
//! tower layers (a timing log and a per-socket rate limit).
//!
//! - The handshake needs a token — `?token=…`, `Authorization: Bearer …` or a `token` cookie —
//!   signed with `JWT_SECRET` (HS256). Without one, or with a malformed, wrongly signed or expired
//!   one, the client gets HTTP 401 and no socket is created. Browser pages from other sites are
//!   refused with 403 (the default origin check).
//! - The token's `exp` is the socket's expiry. Before it the server asks
//!   `{"event":"nestgate:refresh","data":{"expiresAt":<ms>},"id":N}`; the client answers
//!   `{"ack":N,"data":{"token":"<a fresh token>"}}` and goes on with the new claims. Without a
//!   valid one by `exp` it is closed with 4001 "token expired" (4003 "refresh refused: …" for a
//!   bad one). A client may also send `nestgate:refresh` with `{"token"}` by itself.
//! - `whoami` → the token's claims. `profile` (validated: every failed field and rule comes
//!   back). `chat` → every client (at most 5 per second per socket; more are answered
//!   "Too many requests" at once). `announce` → admins only ("Forbidden resource" otherwise).
//!
//! ```text
//! cargo run -p auth -- token ann admin      # prints a token (development secret unless JWT_SECRET is set)
//! cargo run -p auth                         # serves ws://127.0.0.1:3000/?token=<token>
//! ```

pub mod jwt;
pub mod layers;

use jwt::{Claims, JwtGuard, Keys};
use layers::{PerSocketRateLimitLayer, TimingLayer};
use nestgate::extract::Extension;
use nestgate::guard::{Guard, GuardContext};
use nestgate::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use validator::Validate;

/// Lets through only sockets whose token carries `role`.
#[derive(Debug, Clone, Copy)]
pub struct RoleGuard(&'static str);

impl Guard for RoleGuard {
    async fn can_activate(&self, context: &GuardContext) -> Result<bool, WsException> {
        Ok(context
            .extension::<Claims>()
            .is_some_and(|claims| claims.role == self.0))
    }
}

/// A profile update, validated before the handler runs.
#[derive(Debug, Deserialize, Serialize, Validate)]
pub struct Profile {
    /// Shown to other users.
    #[validate(length(min = 1, max = 32, message = "1 to 32 characters"))]
    pub display_name: String,
    /// Where notifications go.
    #[validate(email(message = "not an email address"))]
    pub email: String,
    /// Users must be 13 or older.
    #[validate(range(min = 13, max = 130))]
    pub age: u32,
}

/// A chat line as everyone receives it.
#[derive(Debug, Serialize)]
struct Line<'a> {
    from: &'a str,
    text: &'a str,
}

/// The authenticated gateway; every connection passed [`JwtGuard`].
#[websocket_gateway(path = "/", handshake_guards(JwtGuard::new(Keys::from_env())))]
#[derive(Debug, Default)]
pub struct AuthGateway;

#[websocket_gateway]
#[use_layers(TimingLayer)]
impl AuthGateway {
    /// The claims of the token the client connected with.
    #[subscribe_message("whoami")]
    fn whoami(&self, Extension(claims): Extension<Claims>) -> Claims {
        claims
    }

    /// Updates the profile; invalid data is answered with every failed field and rule.
    #[subscribe_message("profile")]
    fn profile(
        &self,
        Extension(claims): Extension<Claims>,
        Valid(profile): Valid<Profile>,
    ) -> WsResponse<Profile> {
        tracing::info!(sub = %claims.sub, "profile updated");
        WsResponse::new("profile", profile)
    }

    /// Sends a line to everyone; at most 5 per second per socket.
    #[subscribe_message("chat")]
    #[use_layers(PerSocketRateLimitLayer::new(5, Duration::from_secs(1)))]
    fn chat(
        &self,
        server: Server,
        Extension(claims): Extension<Claims>,
        Data(text): Data<String>,
    ) -> Result<(), WsException> {
        server.emit(
            "chat",
            &Line {
                from: &claims.sub,
                text: &text,
            },
        )?;
        Ok(())
    }

    /// An announcement to everyone, for admins only.
    #[subscribe_message("announce")]
    #[use_guards(RoleGuard("admin"))]
    fn announce(
        &self,
        server: Server,
        Data(text): Data<String>,
    ) -> Result<&'static str, WsException> {
        server.emit("announcement", &text)?;
        Ok("announced")
    }
}
