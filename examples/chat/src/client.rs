//! `@nestgate/client` (`clients/js`), served to the page at `/client/<file>.js`.
//!
//! The files are tsc's output, committed in `clients/js/dist` and compiled into the binary, so
//! whoever runs the example needs neither a build step nor a CDN. Only the runtime `.js` files
//! are here: `index.js` and the modules it imports, directly or not (`tests/chat.rs` follows
//! the imports and fails if one is missing).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// `(name, contents)` of `clients/js/dist/<name>`, compiled in.
macro_rules! dist {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../clients/js/dist/", $name)),
        )
    };
}

/// Each file the page may load: its name under `/client/`, and its contents.
const FILES: &[(&str, &str)] = &[
    dist!("index.js"),
    dist!("socket.js"),
    dist!("backoff.js"),
    dist!("close.js"),
    dist!("errors.js"),
    dist!("queue.js"),
    dist!("transport.js"),
];

/// The route `/client/{file}`.
pub(crate) fn router() -> axum::Router {
    axum::Router::new().route("/client/{file}", get(serve))
}

/// One of [`FILES`] as JavaScript (a module script must come with a JavaScript MIME type, or
/// the browser refuses it), or 404.
async fn serve(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _)| *name == file) {
        Some((_, contents)) => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            *contents,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
