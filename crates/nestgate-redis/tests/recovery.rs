//! Connection-state recovery in Redis, in process: a client of one node recovers on another
//! (a dynamic namespace's too), a session is claimed once, a trimmed log is a gap, an expired
//! session is unknown, and what cannot work over Redis is refused at startup. (The clients'
//! own recovery across two processes, a `kill -9` included: `examples/clients`.)

mod common;

use common::{Redis, cluster, config, unique_prefix};
use nestgate::App;
use nestgate::prelude::*;
use nestgate::recovery::RecoveryConfig;
use nestgate::testing::TestClient;
use serde_json::{Value, json};
use std::time::Duration;

#[websocket_gateway(path = "/tenant/{id}")]
#[derive(Debug, Default)]
struct Tenant;

#[websocket_gateway]
impl Tenant {
    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(room): Data<String>) {
        socket.join(room);
    }

    /// To the room, on every node.
    #[subscribe_message("shout")]
    fn shout(&self, server: Server, Data(n): Data<u32>) -> Result<(), WsException> {
        server.to("lobby").emit("shouted", &n)?;
        Ok(())
    }

    #[subscribe_message("me")]
    fn me(&self, socket: Socket) -> Value {
        json!({"id": socket.id(), "rooms": socket.rooms(), "recovered": socket.recovered()})
    }
}

fn app_with(config: RecoveryConfig) -> App {
    App::bare().gateway::<Tenant>().recovery(config)
}

fn app() -> App {
    app_with(RecoveryConfig::default())
}

/// The `nestgate:connected` frame's data.
async fn connected(client: &mut TestClient) -> Value {
    let frame = client.recv().await;
    assert_eq!(frame["event"], "nestgate:connected", "{frame}");
    frame["data"].clone()
}

fn again(hello: &Value) -> String {
    format!(
        "/tenant/a?session={}&offset={}",
        hello["session"].as_str().unwrap(),
        hello["offset"].as_str().unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_one_node_recovers_on_another_once() {
    let Some(redis) = Redis::any().await else {
        return;
    };
    let config = config(&redis, &unique_prefix("recovery"));
    let nodes = cluster(&config, 2, app).await;
    let mut ann = nodes[0].client("/tenant/a").await;
    let hello = connected(&mut ann).await;
    assert_eq!(hello["recovered"], false);
    ann.request(1, "join", json!("lobby")).await;
    let me = ann.request(2, "me", json!(null)).await["data"].clone();
    drop(ann); // No close frame: lost.
    let mut bob = nodes[1].client("/tenant/a").await;
    connected(&mut bob).await;
    tokio::time::sleep(Duration::from_millis(200)).await; // Node 0 saves the session.
    for n in 1..=3 {
        bob.request(n, "shout", json!(n)).await;
    }

    let mut back = nodes[1].client(&again(&hello)).await;
    let welcome = connected(&mut back).await;
    assert_eq!(welcome["recovered"], true, "{welcome}");
    assert_eq!(welcome["id"], me["id"]);
    for n in 1..=3 {
        let missed = back.recv().await;
        assert_eq!(
            (&missed["event"], &missed["data"]),
            (&json!("shouted"), &json!(n))
        );
        assert!(missed["offset"].is_string(), "{missed}");
    }
    let now = back.request(9, "me", json!(null)).await["data"].clone();
    assert_eq!(now["rooms"], json!(["lobby"]));
    assert_eq!(now["recovered"], true);
    // Live again, from the other node.
    let mut carl = nodes[0].client("/tenant/a").await;
    connected(&mut carl).await;
    carl.request(1, "shout", json!(4)).await;
    assert_eq!(back.recv().await["data"], 4);
    // Claimed once: nobody else gets that session, on any node.
    let mut twice = nodes[0].client(&again(&hello)).await;
    let refused = connected(&mut twice).await;
    assert_eq!(refused["recovered"], false);
    assert_eq!(refused["reason"], "unknown_session");
    // The recovery was node 1's; node 0's namespace went with its last socket (a dynamic one).
    let stats = nodes[1].server("/tenant/a").recovery_stats().unwrap();
    assert_eq!((stats.recovered, stats.unknown_session), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_trimmed_past_the_offset_is_a_gap() {
    let Some(redis) = Redis::any().await else {
        return;
    };
    let config = config(&redis, &unique_prefix("recovery-gap"));
    // `MAXLEN ~ 5` trims whole stream nodes (100 entries each): 500 messages trim past it.
    let bounded = || {
        app_with(RecoveryConfig {
            max_messages: 5,
            ..RecoveryConfig::default()
        })
    };
    let nodes = cluster(&config, 2, bounded).await;
    let mut ann = nodes[0].client("/tenant/a").await;
    let hello = connected(&mut ann).await;
    ann.request(1, "join", json!("lobby")).await;
    drop(ann);
    let mut bob = nodes[1].client("/tenant/a").await;
    connected(&mut bob).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    for n in 1..=500 {
        bob.emit("shout", json!(n)).await;
    }
    bob.request(1, "me", json!(null)).await;
    let mut back = nodes[1].client(&again(&hello)).await;
    let welcome = connected(&mut back).await;
    assert_eq!(
        (&welcome["recovered"], &welcome["reason"]),
        (&json!(false), &json!("gap"))
    );
    assert_eq!(back.try_recv(Duration::from_millis(300)).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_past_its_window_is_unknown() {
    let Some(redis) = Redis::any().await else {
        return;
    };
    let config = config(&redis, &unique_prefix("recovery-window"));
    let short = || {
        app_with(RecoveryConfig {
            window: Duration::from_millis(400),
            ..RecoveryConfig::default()
        })
    };
    let nodes = cluster(&config, 2, short).await;
    let mut ann = nodes[0].client("/tenant/a").await;
    let hello = connected(&mut ann).await;
    drop(ann);
    tokio::time::sleep(Duration::from_millis(900)).await;
    let mut late = nodes[1].client(&again(&hello)).await;
    let welcome = connected(&mut late).await;
    assert_eq!(
        (&welcome["recovered"], &welcome["reason"]),
        (&json!(false), &json!("unknown_session"))
    );
}

#[tokio::test]
async fn skip_guards_over_redis_is_refused_at_startup() {
    let Some(redis) = Redis::any().await else {
        return;
    };
    let cluster = nestgate_redis::RedisCluster::connect(config(&redis, &unique_prefix("skip")))
        .await
        .unwrap();
    let err = app_with(RecoveryConfig {
        skip_guards: true,
        ..RecoveryConfig::default()
    })
    .adapter(cluster)
    .into_router()
    .await
    .unwrap_err();
    assert!(err.to_string().contains("skip_guards"), "{err}");
}
