//! What the Rust client's tests share: starting this example's server, and waiting for a
//! lifecycle event.

use nestgate::testing::ChildServer;
use nestgate_client::{Lifecycle, Lifecycles};
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};

/// How long any one wait of these tests may take.
pub(crate) const STEP: Duration = Duration::from_secs(10);

/// Starts the server on `port` (0: any) with `env` besides, retrying a given port for up to
/// 10 s while the previous process's socket lingers.
pub(crate) async fn start_server(port: u16, env: &[(&'static str, &'static str)]) -> ChildServer {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let env = env.to_vec();
        // Starting reads the child's stdout, which blocks: off the runtime's threads.
        let started = tokio::task::spawn_blocking(move || {
            let port = port.to_string();
            let mut all = vec![("PORT", port.as_str()), ("RUST_LOG", "warn")];
            all.extend(env);
            ChildServer::start(env!("CARGO_BIN_EXE_clients"), &all)
        })
        .await
        .expect("the start task runs");
        match started {
            Ok(server) => return server,
            Err(err) if port != 0 && Instant::now() < deadline => {
                eprintln!("port {port} not free yet ({err}); again");
                sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("the clients server starts: {err}"),
        }
    }
}

/// The next lifecycle event that `matches` picks, within [`STEP`].
pub(crate) async fn next<T>(
    lifecycle: &mut Lifecycles,
    mut matches: impl FnMut(Lifecycle) -> Option<T>,
) -> T {
    let deadline = Instant::now() + STEP;
    loop {
        let event = timeout(deadline - Instant::now(), lifecycle.next())
            .await
            .expect("the lifecycle event comes in time")
            .expect("the lifecycle stream goes on");
        if let Some(found) = matches(event) {
            return found;
        }
    }
}
