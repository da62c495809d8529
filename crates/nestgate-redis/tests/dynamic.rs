//! Dynamic namespaces across nodes: a namespace made on each node when a tenant's first client
//! connects there, dropped with its last socket, and made again, still reaches the other nodes.

mod common;

use common::{Redis, cluster, config, unique_prefix, wait_until};
use nestgate::App;
use nestgate::prelude::*;
use serde_json::{Value, json};

#[websocket_gateway(path = "/tenant/{id}")]
#[derive(Debug, Default)]
struct Tenant;

#[websocket_gateway]
impl Tenant {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }

    /// Tells every socket of this tenant, on every node.
    #[subscribe_message("shout")]
    fn shout(&self, server: Server, Data(text): Data<String>) -> Result<(), WsException> {
        server.emit("shouted", &text)?;
        Ok(())
    }
}

fn app() -> App {
    App::bare().gateway::<Tenant>()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_made_again_on_each_node_still_reaches_the_other() {
    let Some(redis) = Redis::any().await else {
        return;
    };
    let config = config(&redis, &unique_prefix("dynamic"));
    let nodes = cluster(&config, 2, app).await;
    for round in 0..3 {
        let mut here = nodes[0].client("/tenant/acme").await;
        let mut there = nodes[1].client("/tenant/acme").await;
        // Each socket is in its namespace once it is answered (the 101 comes a moment before).
        for client in [&mut here, &mut there] {
            assert_eq!(client.request(1, "ping", Value::Null).await["data"], "pong");
        }
        let text = format!("round {round}");
        here.emit("shout", json!(text)).await;
        assert_eq!(here.recv().await, json!({"event": "shouted", "data": text}));
        assert_eq!(
            there.recv().await,
            json!({"event": "shouted", "data": text})
        );
        // Another tenant hears nothing of it.
        let mut other = nodes[1].client("/tenant/other").await;
        assert_eq!(other.request(1, "ping", Value::Null).await["data"], "pong");
        here.emit("shout", Value::from("again")).await;
        assert_eq!(there.recv().await["data"], "again");
        assert!(
            other
                .try_recv(std::time::Duration::from_millis(150))
                .await
                .is_none()
        );
        drop((here, there, other));
        wait_until("both nodes dropped their tenant namespaces", || {
            nodes
                .iter()
                .all(|node| node.handle.dynamic_namespaces() == 0)
        })
        .await;
    }
}
