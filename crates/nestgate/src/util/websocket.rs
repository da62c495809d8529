//! nestgate's own WebSocket, built from the HTTP upgrade here rather than by axum, for both wire
//! modes (ws-json and Engine.IO's WebSocket transport): the connection owns its IO and can close
//! it without a TCP reset, and its task holds only what the connection needs.
//!
//! When a server drops a TCP connection while unread data from the client is still arriving (the
//! rest of an oversized message, the frames of a client that floods while it is being closed), the
//! kernel answers with a reset, and the reset makes the client drop what it had not read yet:
//! the close frame the server just sent. The client sees 1006 instead of 1009 or 1013. axum's
//! `WebSocket` hides its IO, so every connection here runs over [`Linger`]: when the
//! WebSocket is dropped, its IO is handed to a short task that half-closes it (FIN after the
//! close frame) and reads and discards what the client still sends, until the client closes its
//! side or its [`LingerLimits`] are reached.
//!
//! [`WebSocket`] presents the tungstenite stream with axum's message types, which the rest of
//! the runtime speaks. Outgoing text goes out as a prepared frame, without a copy or a second
//! UTF-8 check; incoming text is checked once more when it becomes axum's `Utf8Bytes` (axum has
//! no unchecked conversion).

use super::linger::LingerLimits;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::future::Either;
use futures_util::{FutureExt as _, Sink, Stream};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::{Role, WebSocketConfig};

/// The WebSocket of one connection, with axum's message types.
pub(crate) struct WebSocket(WebSocketStream<Linger<TokioIo<Upgraded>>>);

/// The WebSocket settings both wire modes use: the read buffer, and one bound for a message and
/// for each of its frames.
pub(crate) fn config(read_buffer_size: usize, max_message_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer_size)
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
}

/// A checked upgrade request: what is needed to answer 101 and to take the connection over.
pub(crate) struct Upgrade {
    on_upgrade: OnUpgrade,
    /// `Sec-WebSocket-Accept`; `None` for an HTTP/2 extended CONNECT (answered with 200).
    accept: Option<HeaderValue>,
}

impl Upgrade {
    /// Checks the request as axum's `WebSocketUpgrade` does (its rejections are the answers).
    pub(crate) async fn from_parts(parts: &mut Parts) -> Result<Self, Response> {
        // The extractor takes the upgrade handle out of the request; a clone stays with us.
        let on_upgrade = parts.extensions.get::<OnUpgrade>().cloned();
        if let Err(rejection) = WebSocketUpgrade::from_request_parts(parts, &()).await {
            return Err(rejection.into_response());
        }
        let Some(on_upgrade) = on_upgrade else {
            return Err((StatusCode::UPGRADE_REQUIRED, "connection not upgradable").into_response());
        };
        let accept = match parts.headers.get(header::SEC_WEBSOCKET_KEY) {
            Some(key) => {
                let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
                // Base64 is always a valid header value.
                Some(HeaderValue::try_from(accept).map_err(|_| {
                    (StatusCode::INTERNAL_SERVER_ERROR, "bad accept key").into_response()
                })?)
            }
            None => None,
        };
        Ok(Upgrade { on_upgrade, accept })
    }

    /// Answers the upgrade and runs `callback` with the WebSocket once hyper hands the
    /// connection over.
    pub(crate) fn on_upgrade<C, F>(
        self,
        config: WebSocketConfig,
        linger: LingerLimits,
        callback: C,
    ) -> Response
    where
        C: FnOnce(WebSocket) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let Upgrade { on_upgrade, accept } = self;
        // Combinators, not an async block: an async block keeps its captures (the callback and
        // what it holds) beside the futures made from them for the connection's whole life.
        let connection = on_upgrade.then(move |upgraded| match upgraded {
            Ok(upgraded) => {
                let io = Linger::new(TokioIo::new(upgraded), linger);
                Either::Left(
                    WebSocketStream::from_raw_socket(io, Role::Server, Some(config))
                        .then(|ws| callback(WebSocket(ws))),
                )
            }
            Err(err) => {
                tracing::debug!(error = %err, "WebSocket upgrade failed");
                Either::Right(std::future::ready(()))
            }
        });
        tokio::spawn(connection);
        let mut response = Response::new(Body::empty());
        if let Some(accept) = accept {
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let headers = response.headers_mut();
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

/// An IO that, when dropped, lingers: it sends FIN and discards what the peer still sends,
/// in a task of its own, within its limits.
pub(crate) struct Linger<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    /// `None` only once dropped.
    io: Option<T>,
    limits: LingerLimits,
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Linger<T> {
    pub(crate) fn new(io: T, limits: LingerLimits) -> Self {
        Linger {
            io: Some(io),
            limits,
        }
    }

    fn io(&mut self) -> std::io::Result<Pin<&mut T>> {
        match &mut self.io {
            Some(io) => Ok(Pin::new(io)),
            None => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for Linger<T> {
    fn drop(&mut self) {
        let Some(io) = self.io.take() else { return };
        // Without a runtime (it is shutting down) the IO is simply closed.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(crate::util::linger::linger(io, self.limits));
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncRead for Linger<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.get_mut().io()?.poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Linger<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().io()?.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().io()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(T::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().io()?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().io()?.poll_shutdown(cx)
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let message = match ready!(Pin::new(&mut self.0).poll_next(cx)) {
                Some(Ok(message)) => message,
                Some(Err(err)) => return Poll::Ready(Some(Err(axum::Error::new(err)))),
                None => return Poll::Ready(None),
            };
            let message = match message {
                tungstenite::Message::Text(text) => Message::Text(utf8(text.into())?),
                tungstenite::Message::Binary(data) => Message::Binary(data),
                tungstenite::Message::Ping(data) => Message::Ping(data),
                tungstenite::Message::Pong(data) => Message::Pong(data),
                tungstenite::Message::Close(frame) => Message::Close(match frame {
                    Some(frame) => Some(CloseFrame {
                        code: frame.code.into(),
                        reason: utf8(frame.reason.into())?,
                    }),
                    None => None,
                }),
                // Only ever produced for writing.
                tungstenite::Message::Frame(_) => continue,
            };
            return Poll::Ready(Some(Ok(message)));
        }
    }
}

/// Text tungstenite has already checked, as axum's type.
fn utf8(bytes: Bytes) -> Result<Utf8Bytes, axum::Error> {
    Utf8Bytes::try_from(bytes).map_err(axum::Error::new)
}

impl Sink<Message> for WebSocket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0)
            .poll_ready(cx)
            .map_err(axum::Error::new)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        let message = match item {
            // A prepared text frame: the bytes are shared, not copied or checked again.
            Message::Text(text) => tungstenite::Message::Frame(Frame::message(
                Bytes::from(text),
                OpCode::Data(Data::Text),
                true,
            )),
            Message::Binary(data) => tungstenite::Message::Binary(data),
            Message::Ping(data) => tungstenite::Message::Ping(data),
            Message::Pong(data) => tungstenite::Message::Pong(data),
            Message::Close(frame) => {
                tungstenite::Message::Close(frame.map(|frame| tungstenite::protocol::CloseFrame {
                    code: CloseCode::from(frame.code),
                    reason: tungstenite::Utf8Bytes::from(frame.reason.as_str()),
                }))
            }
        };
        Pin::new(&mut self.0)
            .start_send(message)
            .map_err(axum::Error::new)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0)
            .poll_flush(cx)
            .map_err(axum::Error::new)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0)
            .poll_close(cx)
            .map_err(axum::Error::new)
    }
}
