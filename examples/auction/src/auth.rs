//! JWT on the handshake (NestJS's `WsJwtGuard`) and the admin guard.
//!
//! The token is read from the Socket.IO CONNECT `auth` payload (`io(url, {auth: {token}})`),
//! the `token` query parameter, an `Authorization: Bearer` header or a `token` cookie, and
//! checked with the provided [`Keys`] (HS256, `JWT_SECRET`).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use nestgate::WsException;
use nestgate::guard::{Guard, GuardContext, HandshakeGuard, HandshakeRejection, HandshakeRequest};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The signing key when `JWT_SECRET` is not set: for development only, anyone who reads this
/// file can sign tokens with it.
pub const DEVELOPMENT_SECRET: &str = "nestgate-auction-example-development-secret";

/// What a token says about its bearer; stored on the socket, read with `Extension<Claims>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: String,
    /// `bidder` or `admin`.
    pub role: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// The HS256 keys of one secret; provided to the app, read by [`Jwt`].
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
    /// Keys for `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// `JWT_SECRET`, or the development secret with a warning on stderr (never on stdout, where
    /// `token` prints what a script captures).
    pub fn from_env() -> Self {
        match std::env::var("JWT_SECRET") {
            Ok(secret) if !secret.is_empty() => Keys::new(secret.as_bytes()),
            _ => {
                eprintln!(
                    "warning: JWT_SECRET is not set: using the development secret; never in production"
                );
                Keys::new(DEVELOPMENT_SECRET.as_bytes())
            }
        }
    }

    /// A token for `sub` with `role`, valid for `ttl`.
    pub fn issue(&self, sub: &str, role: &str, ttl: Duration) -> String {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(ttl)
            .as_secs();
        let claims = Claims {
            sub: sub.to_owned(),
            role: role.to_owned(),
            exp,
        };
        // HS256 over plain serde claims cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims does not fail")
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: &str) -> Result<Claims, &'static str> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "token expired",
                _ => "invalid token",
            })
    }
}

/// Lets in a client with a valid token; stores its [`Claims`] on the socket.
#[derive(Debug, Clone, Copy)]
pub struct Jwt;

impl HandshakeGuard for Jwt {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let token = request
            .auth()
            .and_then(|auth| auth["token"].as_str().map(str::to_owned))
            .or_else(|| request.query("token"))
            .or_else(|| request.bearer_token().map(str::to_owned))
            .or_else(|| request.cookie("token").map(str::to_owned))
            .ok_or_else(|| HandshakeRejection::unauthorized("missing token"))?;
        let keys = request
            .state::<Keys>()
            .ok_or_else(|| HandshakeRejection::unauthorized("no keys provided"))?;
        let claims = keys
            .verify(&token)
            .map_err(HandshakeRejection::unauthorized)?;
        request.expires_at(UNIX_EPOCH + Duration::from_secs(claims.exp));
        request.insert(claims);
        Ok(())
    }
}

/// Lets through only admins (NestJS's `RolesGuard` with `@Roles('admin')`).
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl Guard for Admin {
    async fn can_activate(&self, context: &GuardContext) -> Result<bool, WsException> {
        Ok(context
            .extension::<Claims>()
            .is_some_and(|claims| claims.role == "admin"))
    }
}
