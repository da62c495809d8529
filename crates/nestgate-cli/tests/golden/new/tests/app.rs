//! Starts the real binary, as `cargo run` does, and connects to the events gateway: the
//! gateways declared in `src/lib.rs` are served without being listed anywhere else.

use nestgate::testing::{ChildServer, TestClient};

#[tokio::test]
async fn the_binary_serves_the_gateways() {
    let server = ChildServer::start(env!("CARGO_BIN_EXE_shop"), &[]).expect("the server starts");
    match TestClient::connect(&server.ws_url("/events")).await {
        Ok(mut client) => client.close().await,
        // A gateway with a handshake guard refuses a client without credentials: it is there.
        Err(refused) if refused.to_string().contains("401") => {}
        Err(err) => panic!("/events is not served: {err}"),
    }
    let status = server.terminate().expect("the server stops");
    assert!(
        status.success(),
        "the server exits cleanly on SIGTERM: {status}"
    );
}
