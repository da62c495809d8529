//! Connection-state recovery with the real npm `socket.io-client` 4.8, over WebSocket and
//! over long-polling: the script `tests/node/recovery.mjs` cuts a client's connection with a
//! TCP proxy and checks `socket.recovered` and every missed message; this test owns the
//! server (`RECOVERY=1`) — one process, or two nodes of a cluster on a real Redis, where the
//! client comes back to the other node and recovers there.
//!
//! Needs `node` and `npm ci --prefix examples/socketio-chat/tests/node`. Without them the test
//! is skipped with a loud line on stderr, unless `CI=true`, where it fails.

use nestgate::testing::{ChildServer, Prerequisites};
use std::path::Path;

#[test]
fn the_npm_socket_io_client_recovers_its_connection_state() {
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let ready = Prerequisites::new(
        "the socket.io recovery test",
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
        &[("RECOVERY", "1"), ("RUST_LOG", "warn")],
    )
    .expect("the socketio-chat example starts");
    nestgate::testing::node_script(
        script_dir.join("recovery.mjs"),
        [server.http_url("")],
        "the recovery script",
    );
}

#[test]
fn the_npm_socket_io_client_recovers_on_another_node_of_a_cluster() {
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let ready = Prerequisites::new(
        "the socket.io recovery test across nodes",
        "npm ci --prefix examples/socketio-chat/tests/node",
    )
    .node()
    .npm_package(&script_dir, "socket.io-client")
    .ready();
    if !ready {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let Some(redis) = runtime.block_on(nestgate_redis::testing::TestRedis::any()) else {
        return;
    };
    let prefix = format!("socketio-recovery-{}", std::process::id());
    let env = [
        ("RECOVERY", "1"),
        ("RUST_LOG", "warn"),
        ("REDIS_URL", redis.url()),
        ("REDIS_PREFIX", prefix.as_str()),
    ];
    let start = || {
        ChildServer::start(env!("CARGO_BIN_EXE_socketio-chat"), &env)
            .expect("the socketio-chat example starts")
    };
    let (a, b) = (start(), start());
    nestgate::testing::node_script(
        script_dir.join("recovery.mjs"),
        [a.http_url(""), b.http_url("")],
        "the recovery script",
    );
}
