//! The JWT handshake guard: a token from the `token` query parameter, an
//! `Authorization: Bearer` header or a `token` cookie, checked with the app's signing key.
//! The token's `exp` becomes the socket's expiry; a refreshed token is checked by the same code
//! (nestgate puts it where the guard looks: see `nestgate::refresh`).

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use nestgate::guard::{HandshakeGuard, HandshakeRejection, HandshakeRequest};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The signing key used when `JWT_SECRET` is not set. For development only: anyone who reads
/// this file can sign tokens for it.
pub const DEVELOPMENT_SECRET: &str = "nestgate-auth-example-development-secret";

/// What a token says about its bearer; stored on the socket and extracted with
/// `Extension<Claims>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: String,
    /// `user` or `admin`.
    pub role: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// The HS256 key pair of one secret.
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

    /// `JWT_SECRET`, or the development secret (with a warning).
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
        // HS256 over serde-serializable claims cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims does not fail")
    }

    /// The claims of a valid token, or why it is not one.
    pub fn verify(&self, token: &str) -> Result<Claims, &'static str> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::InvalidSignature => "invalid token signature",
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    "token algorithm not accepted"
                }
                _ => "malformed token",
            })
    }
}

/// Lets in clients with a valid token; stores its [`Claims`] on the socket.
#[derive(Debug, Clone)]
pub struct JwtGuard {
    keys: Keys,
}

impl JwtGuard {
    /// A guard checking with `keys`.
    pub fn new(keys: Keys) -> Self {
        JwtGuard { keys }
    }
}

impl HandshakeGuard for JwtGuard {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let token = request
            .query("token")
            .or_else(|| request.bearer_token().map(str::to_owned))
            .or_else(|| request.cookie("token").map(str::to_owned))
            .ok_or_else(|| {
                HandshakeRejection::unauthorized(
                    "missing token: send ?token=, Authorization: Bearer or a token cookie",
                )
            })?;
        let claims = self
            .keys
            .verify(&token)
            .map_err(HandshakeRejection::unauthorized)?;
        tracing::debug!(sub = %claims.sub, role = %claims.role, refresh = request.is_refresh(), "authenticated");
        // The socket lives only as long as the token: before `exp` the server asks the client
        // for a fresh one (`nestgate:refresh`), which this same guard checks.
        request.expires_at(UNIX_EPOCH + Duration::from_secs(claims.exp));
        request.insert(claims);
        Ok(())
    }
}
