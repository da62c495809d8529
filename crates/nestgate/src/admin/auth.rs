//! The admin namespace's handshake guard: basic auth against a bcrypt hash (checked off the
//! runtime's threads: bcrypt is slow on purpose), or a session id a login handed out.

use super::{Admin, Auth, MAX_SESSIONS};
use crate::guard::{HandshakeGuard, HandshakeRejection, HandshakeRequest};
use crate::util::sync::lock;
use serde_json::Value;

/// A session id handed out by this login, for the connection hook to tell the UI.
#[derive(Debug, Clone)]
pub(crate) struct NewSession(pub(crate) String);

/// The guard of the admin namespace.
pub(crate) struct AdminGuard;

impl HandshakeGuard for AdminGuard {
    async fn check(&self, request: &mut HandshakeRequest) -> Result<(), HandshakeRejection> {
        let Some(Admin(admin)) = request.state::<Admin>() else {
            return Err(HandshakeRejection::unauthorized("invalid credentials"));
        };
        let Auth::Basic { username, hash } = &admin.config.auth else {
            return Ok(());
        };
        let auth = request.auth().cloned().unwrap_or(Value::Null);
        let field = |name: &str| auth.get(name).and_then(Value::as_str).map(str::to_owned);
        if let Some(session) = field("sessionId")
            && lock(&admin.sessions).contains(&session)
        {
            return Ok(());
        }
        let (Some(given), Some(password)) = (field("username"), field("password")) else {
            return Err(HandshakeRejection::unauthorized("invalid credentials"));
        };
        if &given != username {
            return Err(HandshakeRejection::unauthorized("invalid credentials"));
        }
        let hash = hash.clone();
        let matches = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if !matches {
            return Err(HandshakeRejection::unauthorized("invalid credentials"));
        }
        let session = hex_id();
        {
            let mut sessions = lock(&admin.sessions);
            if sessions.len() >= MAX_SESSIONS {
                sessions.pop_front();
            }
            sessions.push_back(session.clone());
        }
        request.insert(NewSession(session));
        Ok(())
    }
}

/// 8 random bytes in hex, as the UI's own server makes session ids.
fn hex_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `hash` is shaped like a bcrypt hash: `$2a$`/`$2b$`/`$2y$`, a two-digit cost of 4 to
/// 31, and 53 characters of bcrypt's base64.
pub(super) fn is_bcrypt(hash: &str) -> bool {
    let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|prefix| hash.strip_prefix(prefix))
    else {
        return false;
    };
    let Some((cost, salt_and_hash)) = rest.split_once('$') else {
        return false;
    };
    let cost_ok = cost.len() == 2
        && cost
            .parse::<u32>()
            .is_ok_and(|cost| (4..=31).contains(&cost));
    let alphabet = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'/';
    cost_ok && salt_and_hash.len() == 53 && salt_and_hash.bytes().all(alphabet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_hashes_are_told_from_passwords() {
        assert!(is_bcrypt(
            "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS"
        ));
        assert!(!is_bcrypt("changeit"));
        assert!(!is_bcrypt(
            "$2b$1$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS"
        ));
        assert!(!is_bcrypt("$2b$10$short"));
    }
}
