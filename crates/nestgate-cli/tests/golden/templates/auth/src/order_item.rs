//! `OrderItemGateway`, at `/order-item`: JWT authentication on the handshake, a role guard
//! and validated data (a smaller `examples/auth`).
//!
//! - The handshake needs a token signed (HS256) with `JWT_SECRET`: the project's `src/auth.rs`
//!   (`nestgate generate guard jwt`, written with the first `auth` gateway and shared by every
//!   other) reads it from the Socket.IO `auth` payload, `?token=…`, `Authorization: Bearer …` or
//!   a `token` cookie. Without a valid one the client gets HTTP 401 and no socket is created.
//! - `whoami` answers the token's claims.
//! - `profile` `{"display_name","email"}` is validated: every failed field and rule comes back.
//! - `announce` sends `announcement` to everyone; only tokens with role `admin` may.
//!
//! Sign tokens with `auth::Keys::issue` in your login route (or a test).

use crate::auth::{Claims, JwtGuard, RoleGuard};
use nestgate::extract::{Extension, Valid};
use nestgate::prelude::*;
use serde::{Deserialize, Serialize};
use validator::Validate;

/// A profile update, validated before the handler runs.
#[derive(Debug, Deserialize, Serialize, Validate)]
pub struct Profile {
    /// Shown to other users.
    #[validate(length(min = 1, max = 32, message = "1 to 32 characters"))]
    pub display_name: String,
    /// Where notifications go.
    #[validate(email(message = "not an email address"))]
    pub email: String,
}

/// The order item gateway; every connection passed [`JwtGuard`].
#[websocket_gateway(path = "/order-item", handshake_guards(JwtGuard::from_env()))]
#[derive(Debug, Default)]
pub struct OrderItemGateway;

#[websocket_gateway]
impl OrderItemGateway {
    /// The claims of the token the client connected with.
    #[subscribe_message("whoami")]
    fn whoami(&self, Extension(claims): Extension<Claims>) -> Claims {
        claims
    }

    /// Answers the validated profile; invalid data is answered with every failed rule.
    #[subscribe_message("profile")]
    fn profile(&self, Valid(profile): Valid<Profile>) -> WsResponse<Profile> {
        WsResponse::new("profile", profile)
    }

    /// Sends an announcement to everyone; admins only ("Forbidden resource" otherwise).
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

#[cfg(test)]
mod tests;
