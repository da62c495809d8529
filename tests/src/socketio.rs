//! A client speaking raw Engine.IO v4 / Socket.IO v5 over a WebSocket, for the tests that check
//! packets byte for byte.

use crate::TestServer;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long [`RawSocketIo::recv`] waits for a frame before failing the test.
const RECV_TIMEOUT: Duration = Duration::from_secs(10);

/// A raw Engine.IO session over a WebSocket (`/socket.io/?EIO=4&transport=websocket`).
#[derive(Debug)]
pub struct RawSocketIo {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl RawSocketIo {
    /// Opens a session on `server` and reads its open packet.
    pub async fn connect(server: &TestServer) -> RawSocketIo {
        let url = format!("{}/socket.io/?EIO=4&transport=websocket", server.url(""));
        let (ws, _) = connect_async(url).await.expect("the WebSocket opens");
        let mut raw = RawSocketIo { ws };
        let open = raw.recv().await.expect("the open packet");
        assert!(open.starts_with("0{"), "{open}");
        raw
    }

    /// Sends one text frame.
    pub async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .expect("sends");
    }

    /// Sends one text frame that the server may refuse by closing (the send's error is the
    /// answer, not a failure of the test).
    pub async fn try_send(
        &mut self,
        text: String,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(Message::text(text)).await
    }

    /// The next text frame (pings answered and skipped; a binary frame as `<binary ..>`);
    /// `None` once closed.
    pub async fn recv(&mut self) -> Option<String> {
        loop {
            let message = tokio::time::timeout(RECV_TIMEOUT, self.ws.next())
                .await
                .expect("a frame within 10 s");
            match message {
                Some(Ok(Message::Text(text))) if text.as_str() == "2" => self.send("3").await,
                Some(Ok(Message::Text(text))) => return Some(text.as_str().to_owned()),
                Some(Ok(Message::Binary(bytes))) => return Some(format!("<binary {bytes:?}>")),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
            }
        }
    }

    /// Whether the server closes the session: an Engine.IO close packet (`1`) at most, then the
    /// end of the WebSocket.
    pub async fn closed(&mut self) -> bool {
        match self.recv().await {
            None => true,
            Some(close) if close == "1" => self.recv().await.is_none(),
            Some(_) => false,
        }
    }

    /// Connects to `nsp` (with an auth payload) and returns the CONNECT answer.
    pub async fn join(&mut self, nsp: &str, auth: Option<Value>) -> String {
        let prefix = if nsp == "/" {
            String::new()
        } else {
            format!("{nsp},")
        };
        let auth = auth.map(|auth| auth.to_string()).unwrap_or_default();
        self.send(&format!("40{prefix}{auth}")).await;
        self.recv().await.expect("a CONNECT answer")
    }
}
