//! The refreshed handshake's token: the client's new token in place of the old one wherever a
//! guard usually looks (the bearer token, the `token` cookie and query parameter).

use super::TOKEN_PARAM;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, HeaderValue, Uri};

/// The handshake's headers with `token` as the bearer token and the `token` cookie (when it had
/// one); without a token, the old ones are removed, never reused.
pub(super) fn headers_with(original: &HeaderMap, token: Option<&str>) -> HeaderMap {
    let mut headers = original.clone();
    headers.remove(AUTHORIZATION);
    if let Some(Ok(mut bearer)) =
        token.map(|token| HeaderValue::from_str(&format!("Bearer {token}")))
    {
        bearer.set_sensitive(true);
        headers.insert(AUTHORIZATION, bearer);
    }
    let cookies: Vec<HeaderValue> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| cookie_with(value, token))
        .collect();
    headers.remove(COOKIE);
    for cookie in cookies {
        headers.append(COOKIE, cookie);
    }
    headers
}

/// One `Cookie` header with the `token` cookie's value replaced (or removed).
fn cookie_with(value: &HeaderValue, token: Option<&str>) -> Option<HeaderValue> {
    let text = value.to_str().ok()?;
    let pairs: Vec<String> = text
        .split(';')
        .filter_map(|pair| {
            let pair = pair.trim();
            match pair.split_once('=') {
                Some((name, _)) if name == TOKEN_PARAM => {
                    token.map(|token| format!("{name}={token}"))
                }
                _ => (!pair.is_empty()).then(|| pair.to_owned()),
            }
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let mut cookie = HeaderValue::from_str(&pairs.join("; ")).ok()?;
    cookie.set_sensitive(value.is_sensitive());
    Some(cookie)
}

/// The handshake's URI with the `token` query parameter's value replaced (or removed), when it
/// had one.
pub(super) fn uri_with(uri: &Uri, token: Option<&str>) -> Uri {
    let Some(query) = uri.query() else {
        return uri.clone();
    };
    let pairs = || form_urlencoded::parse(query.as_bytes());
    if !pairs().any(|(name, _)| name == TOKEN_PARAM) {
        return uri.clone();
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs() {
        match (name == TOKEN_PARAM, token) {
            (false, _) => out.append_pair(&name, &value),
            (true, Some(token)) => out.append_pair(&name, token),
            (true, None) => &mut out,
        };
    }
    let query = out.finish();
    let text = if query.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{query}", uri.path())
    };
    // Made from a valid path and an encoded query; the path alone is the fallback.
    Uri::try_from(text).unwrap_or_else(|_| Uri::try_from(uri.path()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_token_replaces_the_old_one_everywhere() {
        let mut original = HeaderMap::new();
        original.insert(AUTHORIZATION, HeaderValue::from_static("Bearer old"));
        original.insert(COOKIE, HeaderValue::from_static("a=1; token=old; b=2"));
        let headers = headers_with(&original, Some("new"));
        assert_eq!(headers[AUTHORIZATION], "Bearer new");
        assert_eq!(headers[COOKIE], "a=1; token=new; b=2");
        let headers = headers_with(&original, None);
        assert!(headers.get(AUTHORIZATION).is_none());
        assert_eq!(headers[COOKIE], "a=1; b=2");

        let uri: Uri = "/chat?room=a%20b&token=old".parse().unwrap();
        assert_eq!(uri_with(&uri, Some("new")), "/chat?room=a+b&token=new");
        assert_eq!(uri_with(&uri, None), "/chat?room=a+b");
        let plain: Uri = "/chat?room=a".parse().unwrap();
        assert_eq!(uri_with(&plain, Some("new")), plain);
    }
}
