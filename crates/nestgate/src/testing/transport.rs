//! The Engine.IO transports of the test Socket.IO client: a WebSocket, or HTTP long-polling
//! (a GET that waits for packets, a POST per packet sent), each carrying Engine.IO packets as
//! text.

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Which Engine.IO transport a [`SocketIoClient`](super::SocketIoClient) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One WebSocket (`transport=websocket`), as socket.io-client with `transports: ["websocket"]`.
    WebSocket,
    /// HTTP long-polling only (`transport=polling`), as socket.io-client with
    /// `transports: ["polling"]`: a GET waits for the server's packets, a POST carries each sent.
    Polling,
}

/// Engine.IO's separator of packets in one polling body.
const SEPARATOR: char = '\u{1e}';

/// An open Engine.IO session over one transport.
#[derive(Debug)]
pub(super) enum Link {
    WebSocket(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
    Polling(Polling),
}

/// A polling session: where to POST, and the packets the background GET loop received.
#[derive(Debug)]
pub(super) struct Polling {
    host: String,
    path: String,
    inbox: mpsc::UnboundedReceiver<Result<String, String>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Polling {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Link {
    /// Opens a session at `host` (`127.0.0.1:3000`) with the handshake's `query` (may be
    /// empty): the link and the server's open packet.
    pub(super) async fn open(
        host: &str,
        query: &str,
        transport: Transport,
    ) -> Result<(Link, String), String> {
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("&{query}")
        };
        match transport {
            Transport::WebSocket => {
                let url = format!("ws://{host}/socket.io/?EIO=4&transport=websocket{query}");
                let (ws, _) = tokio_tungstenite::connect_async(url)
                    .await
                    .map_err(|err| err.to_string())?;
                let mut link = Link::WebSocket(Box::new(ws));
                let open = link.next().await.ok_or("closed before the open packet")??;
                Ok((link, open))
            }
            Transport::Polling => {
                let handshake = format!("/socket.io/?EIO=4&transport=polling{query}");
                let (status, body) = http(host, "GET", &handshake, "").await?;
                if status != 200 {
                    return Err(format!("the polling handshake answered {status}: {body}"));
                }
                let mut packets = body.split(SEPARATOR).map(str::to_owned);
                let open = packets.next().unwrap_or_default();
                let sid = open
                    .strip_prefix('0')
                    .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
                    .and_then(|open| open["sid"].as_str().map(str::to_owned))
                    .ok_or_else(|| format!("expected the open packet, got {open}"))?;
                let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}{query}");
                let (sender, inbox) = mpsc::unbounded_channel();
                for packet in packets {
                    let _ = sender.send(Ok(packet));
                }
                let reader = tokio::spawn(poll(host.to_owned(), path.clone(), sender));
                let polling = Polling {
                    host: host.to_owned(),
                    path,
                    inbox,
                    reader,
                };
                Ok((Link::Polling(polling), open))
            }
        }
    }

    /// Sends one Engine.IO packet.
    pub(super) async fn send(&mut self, text: String) -> Result<(), String> {
        match self {
            Link::WebSocket(ws) => ws
                .send(Message::text(text))
                .await
                .map_err(|e| e.to_string()),
            Link::Polling(polling) => {
                let (status, body) = http(&polling.host, "POST", &polling.path, &text).await?;
                if status == 200 {
                    Ok(())
                } else {
                    Err(format!("a POST was answered {status}: {body}"))
                }
            }
        }
    }

    /// The next Engine.IO packet; `None` once the session ended.
    pub(super) async fn next(&mut self) -> Option<Result<String, String>> {
        match self {
            Link::WebSocket(ws) => loop {
                match ws.next().await? {
                    Ok(Message::Text(text)) => return Some(Ok(text.as_str().to_owned())),
                    Ok(Message::Close(_)) => return None,
                    Ok(Message::Binary(_)) => {
                        return Some(Err(
                            "binary frames are not supported by this test client".into()
                        ));
                    }
                    Ok(_) => {}
                    Err(
                        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                    ) => {
                        return None;
                    }
                    Err(err) => return Some(Err(err.to_string())),
                }
            },
            Link::Polling(polling) => polling.inbox.recv().await,
        }
    }

    /// Ends the session: a close frame, or Engine.IO's close packet.
    pub(super) async fn close(&mut self) {
        match self {
            Link::WebSocket(ws) => {
                let _ = ws.as_mut().close(None).await;
            }
            Link::Polling(_) => {
                let _ = self.send("1".to_owned()).await;
            }
        }
    }
}

/// The long-poll loop: a GET at a time, its packets into `sender`, until the session ends.
async fn poll(host: String, path: String, sender: mpsc::UnboundedSender<Result<String, String>>) {
    loop {
        match http(&host, "GET", &path, "").await {
            Ok((200, body)) => {
                for packet in body.split(SEPARATOR) {
                    let close = packet == "1";
                    if sender.send(Ok(packet.to_owned())).is_err() || close {
                        return;
                    }
                }
            }
            // The session is gone (400 "Session ID unknown" after a close): the end.
            Ok(_) => return,
            Err(err) => {
                let _ = sender.send(Err(err));
                return;
            }
        }
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`): the status and the body.
async fn http(host: &str, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let io = |err: std::io::Error| format!("{method} {path}: {err}");
    let mut stream = TcpStream::connect(host).await.map_err(io)?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.map_err(io)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(io)?;
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| format!("{method} {path}: not an HTTP response"))?;
    let head = String::from_utf8_lossy(&response[..split]);
    let rest = &response[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| format!("{method} {path}: no status in {head}"))?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    String::from_utf8(body)
        .map(|body| (status, body))
        .map_err(|_| format!("{method} {path}: the body is not UTF-8"))
}

/// A chunked body, joined (sizes count bytes).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|window| window == b"\r\n") {
        let size = std::str::from_utf8(&rest[..line_end])
            .ok()
            .and_then(|size| usize::from_str_radix(size.trim(), 16).ok())
            .unwrap_or(0);
        let after = &rest[line_end + 2..];
        if size == 0 || after.len() < size {
            break;
        }
        body.extend_from_slice(&after[..size]);
        rest = after[size..]
            .strip_prefix(b"\r\n")
            .unwrap_or(&after[size..]);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
        assert_eq!(dechunk(b"0\r\n\r\n"), b"");
    }
}
