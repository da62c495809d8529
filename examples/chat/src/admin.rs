//! The Socket.IO Admin UI, when `ADMIN_PASSWORD` is set: its protocol on the `/admin`
//! namespace (`App::admin_ui`; user `ADMIN_USERNAME`, default `admin`), and, when
//! `ADMIN_UI_DIR` names the UI's built files (`node_modules/@socket.io/admin-ui/ui/dist` after
//! `npm install @socket.io/admin-ui`), the UI itself at `/admin-ui/` — same origin, so the
//! browser's origin check has nothing to refuse. (The hosted UI, <https://admin.socket.io>, is
//! another origin: it needs the app's origin policy to allow it.)

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use nestgate::admin::AdminConfig;

/// The Admin UI's config from the environment, if `ADMIN_PASSWORD` is set.
pub(crate) fn config() -> Option<AdminConfig> {
    let password = std::env::var("ADMIN_PASSWORD").ok()?;
    let username = std::env::var("ADMIN_USERNAME").unwrap_or_else(|_| "admin".to_owned());
    // Hashed at start (the protocol keeps only the hash); cost 10, as the UI's docs use.
    let hash = match bcrypt::hash(password, 10) {
        Ok(hash) => hash,
        Err(err) => {
            eprintln!("cannot hash ADMIN_PASSWORD ({err}): the admin UI is off");
            return None;
        }
    };
    // A hash bcrypt just made is one.
    AdminConfig::basic(username, hash).ok()
}

/// The UI's files at `/admin-ui/*`, from `ADMIN_UI_DIR`.
pub(crate) fn router() -> Option<axum::Router> {
    let dir = std::path::PathBuf::from(std::env::var_os("ADMIN_UI_DIR")?);
    let index = {
        let dir = dir.clone();
        move || serve(dir.clone(), "index.html".to_owned())
    };
    let file = move |Path(file): Path<String>| serve(dir.clone(), file);
    Some(
        axum::Router::new()
            .route("/admin-ui/", get(index))
            .route("/admin-ui/{*file}", get(file)),
    )
}

/// One file of the UI, never outside its directory.
async fn serve(dir: std::path::PathBuf, file: String) -> Response {
    let safe = !file.is_empty()
        && file
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains('\\'));
    if !safe {
        return StatusCode::NOT_FOUND.into_response();
    }
    let kind = match file.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("map") | Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    match tokio::fs::read(dir.join(&file)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, kind)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
