//! Lifecycle hooks, rejection, heartbeat, kicking and graceful shutdown.

use nestgate::prelude::*;
use nestgate::testing::Closed;
use nestgate::{App, DisconnectReason, Reject};
use nestgate_tests::{assert_alive, serve};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// What the hooks saw, shared with the test through the app state.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }

    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until an entry starting with `prefix` shows up.
    async fn wait_for(&self, prefix: &str) -> String {
        for _ in 0..200 {
            if let Some(entry) = self.entries().into_iter().find(|e| e.starts_with(prefix)) {
                return entry;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "no log entry starting with {prefix:?} in {:?}",
            self.entries()
        );
    }
}

#[websocket_gateway(path = "/")]
struct Hooks {
    log: Log,
}

impl nestgate::gateway::FromAppState for Hooks {
    fn from_app_state(state: &nestgate::AppState) -> nestgate::Result<Self> {
        Ok(Hooks {
            log: nestgate::gateway::require(state, "Hooks")?,
        })
    }
}

#[derive(Clone)]
struct Name(String);

#[websocket_gateway]
impl Hooks {
    #[after_init]
    fn init(&self, server: Server) {
        self.log.push(format!("init {}", server.path()));
    }

    #[on_connection]
    async fn connect(&self, socket: Socket) -> Result<(), Reject> {
        match socket.handshake().query("name").as_deref() {
            Some("mallory") => {
                // Joined, then rejected: the room must not outlive the connection.
                socket.join("lobby");
                Err(Reject::new(4003, "go away").with_exception(WsException::new("banned")))
            }
            Some("eve") => Err(WsException::new("no eavesdroppers").into()),
            Some("buggy") => panic!("a bug in the connection hook"),
            Some(name) => {
                socket.insert_extension(Name(name.to_owned()));
                Ok(())
            }
            None => Ok(()),
        }
    }

    #[on_disconnect]
    fn disconnect(&self, socket: Socket, reason: DisconnectReason) {
        let name = socket
            .extension::<Name>()
            .map_or_else(|| "?".to_owned(), |n| n.0);
        self.log.push(format!("disconnect {name} {reason:?}"));
    }

    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }

    #[subscribe_message("whoami")]
    fn whoami(&self, socket: Socket) -> Option<String> {
        socket.extension::<Name>().map(|n| n.0)
    }

    #[subscribe_message("bye")]
    fn bye(&self, socket: Socket) {
        socket.disconnect();
    }

    #[subscribe_message("kick")]
    fn kick(&self, socket: Socket) {
        // Frames queued before the kick still go out, then the close frame.
        let _ = socket.emit("bye", "see you");
        socket.disconnect_with(4000, "kicked by test");
    }

    #[subscribe_message("slow")]
    async fn slow(&self, Data(ms): Data<u64>) -> u64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.log.push(format!("slow finished {ms}"));
        ms
    }
}

fn app(log: &Log) -> App {
    App::bare().provide(log.clone()).gateway::<Hooks>()
}

#[tokio::test]
async fn after_init_and_extensions_set_on_connection() {
    let log = Log::default();
    let server = serve(app(&log)).await;
    assert_eq!(log.entries(), ["init /"]);
    let mut client = server.client("/?name=alice").await;
    client.emit("whoami", Value::Null).await;
    assert_eq!(client.recv().await, json!("alice"));
    client.close().await;
    assert_eq!(
        log.wait_for("disconnect").await,
        "disconnect alice ClientClose"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rejected_connection_gets_the_exception_then_the_close_code() {
    let log = Log::default();
    let server = serve(app(&log)).await;

    let mut mallory = server.client("/?name=mallory").await;
    assert_eq!(
        mallory.recv().await,
        // NestJS names the hook as the pattern (integration/websockets/e2e/connection-hook-error.spec.ts).
        json!({"event": "exception", "data": {"status": "error", "message": "banned",
            "cause": {"pattern": "handleConnection"}}})
    );
    assert_eq!(
        mallory.closed().await,
        Closed::Frame(4003, "go away".to_owned())
    );

    let mut eve = server.client("/?name=eve").await;
    assert_eq!(eve.recv().await["data"]["message"], "no eavesdroppers");
    assert_eq!(
        eve.closed().await,
        Closed::Frame(1008, "no eavesdroppers".to_owned())
    );

    // A hook that panics closes that connection with 1011; the server goes on.
    let mut buggy = server.client("/?name=buggy").await;
    assert_eq!(
        buggy.closed().await,
        Closed::Frame(1011, "Internal server error".to_owned())
    );
    let mut fine = server.client("/?name=fine").await;
    assert_alive(&mut fine).await;
    fine.close().await;
    assert_eq!(
        log.wait_for("disconnect fine").await,
        "disconnect fine ClientClose"
    );

    // Rejected clients never connected: no disconnect hook for them, nobody counted, no room.
    let rooms = server.handle().server("/").unwrap().rooms().await.unwrap();
    assert!(rooms.is_empty(), "{rooms:?}");
    assert_eq!(server.handle().server("/").unwrap().local_socket_count(), 0);
    let disconnects: Vec<_> = log
        .entries()
        .into_iter()
        .filter(|e| e.starts_with("disconnect"))
        .collect();
    assert_eq!(disconnects, ["disconnect fine ClientClose"]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn kicked_clients_get_their_pending_frames_then_the_close_code() {
    let log = Log::default();
    let server = serve(app(&log)).await;
    let mut client = server.client("/?name=bob").await;
    client.emit("kick", Value::Null).await;
    assert_eq!(
        client.recv().await,
        json!({"event": "bye", "data": "see you"})
    );
    assert_eq!(
        client.closed().await,
        Closed::Frame(4000, "kicked by test".to_owned())
    );
    assert_eq!(log.wait_for("disconnect").await, "disconnect bob Kicked");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn disconnect_closes_with_1000() {
    let log = Log::default();
    let server = serve(app(&log)).await;
    let mut client = server.client("/?name=erin").await;
    client.emit("bye", Value::Null).await;
    assert_eq!(
        client.closed().await,
        Closed::Frame(1000, "disconnected by the server".to_owned())
    );
    assert_eq!(log.wait_for("disconnect").await, "disconnect erin Kicked");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn silent_clients_are_closed_after_the_heartbeat_timeout() {
    let log = Log::default();
    let app = app(&log).heartbeat(Duration::from_millis(100), Duration::from_millis(200));
    let server = serve(app).await;

    // A client that reads answers the server's pings (tungstenite pongs while reading) and stays.
    let mut lively = server.client("/?name=lively").await;
    assert_eq!(lively.try_recv(Duration::from_millis(800)).await, None);
    assert_alive(&mut lively).await;

    // A client that does not read never answers the pings.
    let mut silent = server.client("/?name=silent").await;
    // Meanwhile the lively client keeps reading, and so keeps answering.
    assert_eq!(lively.try_recv(Duration::from_millis(800)).await, None);
    assert_eq!(
        log.wait_for("disconnect silent").await,
        "disconnect silent HeartbeatTimeout"
    );
    assert_eq!(
        silent.closed().await,
        Closed::Frame(1008, "heartbeat timeout".to_owned())
    );
    assert_alive(&mut lively).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_running_handlers_answer_then_closes_with_1001() {
    let log = Log::default();
    let server = serve(app(&log)).await;
    let mut client = server.client("/?name=carol").await;
    client
        .send_json(json!({"event": "slow", "data": 300, "id": 1}))
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    let handle = server.handle().clone();
    let (done_tx, mut done_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let result = server.shutdown().await;
        done_tx.send(result.is_ok()).await.unwrap();
    });

    assert_eq!(client.recv().await, json!({"ack": 1, "data": 300}));
    assert_eq!(
        client.closed().await,
        Closed::Frame(1001, "server shutting down".to_owned())
    );
    assert!(done_rx.recv().await.unwrap(), "the server stopped cleanly");
    assert!(handle.is_shutting_down());
    assert_eq!(
        log.wait_for("disconnect").await,
        "disconnect carol ServerShutdown"
    );
}

#[tokio::test]
async fn shutdown_does_not_wait_past_its_deadline() {
    let log = Log::default();
    let server = serve(app(&log).shutdown_timeout(Duration::from_millis(200))).await;
    let mut client = server.client("/?name=dave").await;
    client.emit("slow", json!(60_000)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(
        client.closed().await,
        Closed::Frame(1001, "server shutting down".to_owned())
    );
    stopping.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(!log.entries().iter().any(|e| e.starts_with("slow finished")));
}

#[tokio::test]
async fn new_clients_are_refused_during_shutdown() {
    let log = Log::default();
    let server = serve(app(&log)).await;
    let addr = server.addr();
    server.shutdown().await.unwrap();
    let refused = nestgate::testing::TestClient::connect(&format!("ws://{addr}/")).await;
    assert!(refused.is_err());
}
