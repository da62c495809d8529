//! JWT on the handshake, once for the whole project (`nestgate generate guard jwt`): every
//! gateway that authenticates uses this module, so a token one accepts the others accept.
//!
//! - [`JwtGuard`] lets in a client with a valid token (HTTP 401, or a Socket.IO
//!   `connect_error`, otherwise) and stores its [`Claims`] on the socket, where handlers read
//!   them with `Extension<Claims>`. The token is read, in this order, from the Socket.IO CONNECT
//!   `auth` payload (`io(url, {auth: {token}})`), the `token` query parameter, an
//!   `Authorization: Bearer` header and a `token` cookie.
//! - [`RoleGuard`] lets a message through only if the token carries a role.
//! - [`Keys`] signs and checks tokens (HS256) with `JWT_SECRET`; [`Keys::issue`] is what a login
//!   route (or a test) calls.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use nestgate::WsException;
use nestgate::guard::{Guard, GuardContext, HandshakeGuard, HandshakeRejection, HandshakeRequest};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The signing key used when `JWT_SECRET` is not set. For development only: anyone who reads
/// this file can sign tokens with it.
const DEVELOPMENT_SECRET: &str = "nestgate-development-secret";

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

    /// The keys of `JWT_SECRET`, or of the development secret, with a warning in the log (which
    /// goes to stderr).
    pub fn from_env() -> Self {
        match std::env::var("JWT_SECRET") {
            Ok(secret) if !secret.is_empty() => Keys::new(secret.as_bytes()),
            _ => {
                tracing::warn!(
                    "JWT_SECRET is not set: using the development secret; never do this in production"
                );
                Keys::new(DEVELOPMENT_SECRET.as_bytes())
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

    /// A guard that checks tokens with [`Keys::from_env`].
    pub fn from_env() -> Self {
        JwtGuard::new(Keys::from_env())
    }
}

impl HandshakeGuard for JwtGuard {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let token = request
            .auth()
            .and_then(|auth| auth.get("token"))
            .and_then(|token| token.as_str())
            .map(str::to_owned)
            .or_else(|| request.query("token"))
            .or_else(|| request.bearer_token().map(str::to_owned))
            .or_else(|| request.cookie("token").map(str::to_owned))
            .ok_or_else(|| {
                HandshakeRejection::unauthorized(
                    "missing token: send it in the Socket.IO auth payload, ?token=, Authorization: Bearer or a token cookie",
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
