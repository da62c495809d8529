//! `SampleNameGateway`, at `/sample-name`: JWT authentication on the handshake, a role guard
//! and validated data (a smaller `examples/auth`).
//!
//! - The handshake needs a token, `?token=…` or `Authorization: Bearer …`, signed (HS256) with
//!   `JWT_SECRET`. Without a valid one the client gets HTTP 401 and no socket is created.
//! - `whoami` answers the token's claims.
//! - `profile` `{"display_name","email"}` is validated: every failed field and rule comes back.
//! - `announce` sends `announcement` to everyone; only tokens with role `admin` may.
//!
//! Sign tokens with [`Keys::issue`] in your login route (or a test).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use nestgate::extract::{Extension, Valid};
use nestgate::guard::{Guard, GuardContext, HandshakeGuard, HandshakeRejection, HandshakeRequest};
use nestgate::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use validator::Validate;

/// The signing key used when `JWT_SECRET` is not set. For development only: anyone who reads
/// this file can sign tokens with it.
const SAMPLE_NAME_DEVELOPMENT_SECRET: &str = "sample-name-development-secret";

/// What a token says about its bearer; handlers read it with `Extension<Claims>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: String,
    /// `user` or `admin`.
    pub role: String,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
}

/// The HS256 keys of one secret.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// The keys of `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// The keys of `JWT_SECRET`, or of the development secret (with a warning).
    pub fn from_env() -> Self {
        match std::env::var("JWT_SECRET") {
            Ok(secret) if !secret.is_empty() => Keys::new(secret.as_bytes()),
            _ => {
                tracing::warn!(
                    "JWT_SECRET is not set: using the development secret; never do this in production"
                );
                Keys::new(SAMPLE_NAME_DEVELOPMENT_SECRET.as_bytes())
            }
        }
    }

    /// A token for `sub` with `role`, valid for `ttl`.
    pub fn issue(&self, sub: &str, role: &str, ttl: Duration) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let claims = Claims {
            sub: sub.to_owned(),
            role: role.to_owned(),
            exp: now.saturating_add(ttl).as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims does not fail")
    }

    /// The claims of a valid, unexpired token.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map(|data| data.claims)
    }
}

/// Lets in clients with a valid token and stores its [`Claims`] on the socket.
#[derive(Debug, Clone)]
pub struct JwtGuard {
    keys: Keys,
}

impl JwtGuard {
    /// A guard that checks tokens with `keys`.
    pub fn new(keys: Keys) -> Self {
        JwtGuard { keys }
    }
}

impl HandshakeGuard for JwtGuard {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let token = request
            .query("token")
            .or_else(|| request.bearer_token().map(str::to_owned))
            .ok_or_else(|| {
                HandshakeRejection::unauthorized(
                    "missing token: send ?token= or Authorization: Bearer",
                )
            })?;
        let claims = self
            .keys
            .verify(&token)
            .map_err(|_| HandshakeRejection::unauthorized("invalid or expired token"))?;
        request.insert(claims);
        Ok(())
    }
}

/// Lets a message through only if the socket's token carries this role.
#[derive(Debug, Clone, Copy)]
pub struct RoleGuard(pub &'static str);

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
}

/// The sample name gateway; every connection passed [`JwtGuard`].
#[websocket_gateway(
    path = "/sample-name",
    handshake_guards(JwtGuard::new(Keys::from_env()))
)]
#[derive(Debug, Default)]
pub struct SampleNameGateway;

#[websocket_gateway]
impl SampleNameGateway {
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
