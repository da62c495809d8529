//! The Socket.IO translation cache (the last frame translated for a namespace, shared by its
//! sockets) lives in the namespace: a client touring distinct dynamic namespaces leaves none
//! behind. A test binary of its own: the count is process-wide.

use futures_util::{SinkExt as _, StreamExt as _};
use nestgate::__internals::live_translations;
use nestgate::App;
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use nestgate_tests::{TestServer, serve};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

#[websocket_gateway(path = "/tenant/{id}")]
#[derive(Debug, Default)]
struct Tenant;

#[websocket_gateway]
impl Tenant {
    /// Answers through the namespace's translation (so each cache holds a frame).
    #[subscribe_message("shout")]
    fn shout(&self, server: Server) -> Result<&'static str, WsException> {
        server.emit("shouted", "hi")?;
        Ok("done")
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// The next text frame that is not a ping (answered).
async fn recv(ws: &mut Ws) -> String {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the session is open")
            .expect("a frame");
        match message {
            Message::Text(text) if text.as_str() == "2" => {
                ws.send(Message::text("3")).await.unwrap()
            }
            Message::Text(text) => return text.as_str().to_owned(),
            _ => {}
        }
    }
}

/// Waits (up to 5 s) until `count` translation caches and no dynamic namespace are left.
async fn settles_at(server: &TestServer, count: usize) {
    for _ in 0..100 {
        if live_translations() == count && server.handle().dynamic_namespaces() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{} translation caches (expected {count}), {} dynamic namespaces",
        live_translations(),
        server.handle().dynamic_namespaces()
    );
}

#[tokio::test]
async fn distinct_dynamic_namespaces_leave_no_translation_cache() {
    let server = serve(
        App::bare()
            .gateway::<Tenant>()
            .socket_io(SocketIoConfig::default()),
    )
    .await;
    let before = live_translations();
    for n in 0..100 {
        let url = server.url("/socket.io/?EIO=4&transport=websocket");
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert!(recv(&mut ws).await.starts_with("0{"));
        let nsp = format!("/tenant/t{n}");
        ws.send(Message::text(format!("40{nsp},"))).await.unwrap();
        assert!(recv(&mut ws).await.starts_with(&format!("40{nsp},")));
        ws.send(Message::text(format!(r#"42{nsp},1["shout"]"#)))
            .await
            .unwrap();
        // The broadcast and the answer, both translated by this namespace's cache.
        let (first, second) = (recv(&mut ws).await, recv(&mut ws).await);
        assert_eq!(first, format!(r#"42{nsp},["shouted","hi"]"#));
        assert_eq!(second, format!(r#"43{nsp},1["done"]"#));
        // While connected, the namespace has its cache.
        assert!(live_translations() > before, "cycle {n}");
        if n % 2 == 0 {
            // A Socket.IO DISCONNECT, then the session ends.
            ws.send(Message::text(format!("41{nsp},"))).await.unwrap();
        }
        ws.close(None).await.unwrap();
    }
    settles_at(&server, before).await;
}
