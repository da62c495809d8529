//! The Socket.IO Admin UI's protocol with the real npm `socket.io-client` 4.8: the script
//! `tests/node/admin.mjs` logs in as the UI does, against this example started with
//! `ADMIN_PASSWORD`.
//!
//! Needs `node` and `npm ci --prefix examples/socketio-chat/tests/node`. Without them the test
//! is skipped with a loud line on stderr, unless `CI=true`, where it fails.

use nestgate::testing::{ChildServer, Prerequisites};
use std::path::Path;

#[test]
fn the_npm_socket_io_client_speaks_the_admin_uis_protocol() {
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let ready = Prerequisites::new(
        "the admin UI protocol test",
        "npm ci --prefix examples/socketio-chat/tests/node",
    )
    .node()
    .npm_package(&script_dir, "socket.io-client")
    .ready();
    if !ready {
        return;
    }
    let server = ChildServer::start(
        env!("CARGO_BIN_EXE_socketio-chat"),
        &[("ADMIN_PASSWORD", "s3cret"), ("RUST_LOG", "warn")],
    )
    .expect("the socketio-chat example starts");
    nestgate::testing::node_script(
        script_dir.join("admin.mjs"),
        [server.http_url("")],
        "the admin script",
    );
}
