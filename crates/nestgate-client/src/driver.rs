//! The connection task: connects, flushes the offline queue, reads and writes frames, and
//! reconnects with backoff until the client closes.

use crate::close::{is_final_close, is_final_status};
use crate::events::{Ack, Event, Lifecycle};
use crate::frame::{self, Incoming};
use crate::options::{Auth, AuthIn};
use crate::shared::{Kind, Outgoing, Shared};
use crate::{Error, ServerError, State};
use futures_util::{SinkExt as _, StreamExt as _};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Frames the writer side takes at once before it flushes.
const WRITE_BATCH: usize = 64;
/// How many frames may wait for the writer (emit and request wait for room beyond it).
const WRITE_BUFFER: usize = 256;
/// How long a closing handshake may take before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How a connection (or an attempt) ended.
#[derive(Debug)]
struct Ended {
    code: u16,
    reason: String,
    /// The HTTP status that refused the handshake.
    status: Option<u16>,
    was_open: bool,
}

impl Ended {
    fn lost(reason: impl Into<String>, was_open: bool) -> Self {
        Ended {
            code: 1006,
            reason: reason.into(),
            status: None,
            was_open,
        }
    }

    fn describe(&self) -> String {
        if self.reason.is_empty() {
            self.code.to_string()
        } else {
            format!("{} {}", self.code, self.reason)
        }
    }
}

/// Runs until the client closes. `must_connect_first`: a failed first attempt closes the
/// client with [`Error::Connect`] (what `ClientBuilder::connect` returns).
pub(crate) async fn run(shared: Arc<Shared>, must_connect_first: bool) {
    let mut attempt = 0u32;
    let mut ever_open = false;
    loop {
        let ended = match connect(&shared).await {
            Attempt::Open(ws) => {
                ever_open = true;
                attempt = 0;
                run_open(&shared, *ws).await
            }
            Attempt::Failed(ended) => ended,
            Attempt::Closed => return,
        };
        if shared.is_closed() {
            return;
        }
        if !ever_open && must_connect_first {
            shared.shut_down(None, Error::Connect(ended.reason));
            return;
        }
        let fresh_auth = matches!(shared.config.auth, Auth::Fresh(_));
        let is_final = match ended.status {
            Some(status) => is_final_status(status),
            None => is_final_close(ended.code, &ended.reason, fresh_auth),
        };
        let reconnect = shared.config.reconnect.filter(|_| !is_final);
        let Some(reconnect) = reconnect else {
            let last = (ended.was_open || is_final).then(|| disconnected(&ended, false));
            let why = format!("the connection closed for good ({})", ended.describe());
            shared.shut_down(last, Error::Disconnected(why));
            return;
        };
        if ended.was_open {
            shared.lock().lifecycle(disconnected(&ended, true));
        }
        attempt += 1;
        if reconnect.attempts.is_some_and(|max| attempt > max) {
            let attempts = attempt - 1;
            let why = format!("reconnection gave up after {attempts} attempts");
            let last = Lifecycle::ReconnectFailed { attempts };
            shared.shut_down(Some(last), Error::Disconnected(why));
            return;
        }
        let delay = reconnect.delay(attempt);
        shared.set_state(State::Reconnecting);
        shared
            .lock()
            .lifecycle(Lifecycle::Reconnecting { attempt, delay });
        if !wait(&shared, delay).await {
            return;
        }
    }
}

fn disconnected(ended: &Ended, will_reconnect: bool) -> Lifecycle {
    Lifecycle::Disconnected {
        code: ended.code,
        reason: ended.reason.clone(),
        will_reconnect,
    }
}

/// Waits `delay` before the next attempt, dropping queued emits as they expire; `false` when
/// the client closed meanwhile.
async fn wait(shared: &Shared, delay: Duration) -> bool {
    let retry_at = Instant::now() + delay;
    loop {
        let expiry = shared.lock().queue.next_expiry();
        tokio::select! {
            () = tokio::time::sleep_until(retry_at) => return true,
            () = sleep_until_some(expiry) => expire(shared),
            () = shared.queued.notified() => {}
            () = shared.closed() => return false,
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Drops the queued emits that waited too long, and says so.
fn expire(shared: &Shared) {
    let mut inner = shared.lock();
    let timeout = shared.config.queue.timeout;
    for item in inner.queue.expire(Instant::now()) {
        if let crate::queue::Kind::Emit { event, .. } = item.kind {
            inner.lifecycle(Lifecycle::Error(Error::Expired { event, timeout }));
        }
    }
}

enum Attempt {
    // Boxed: a WebSocket stream is ten times the size of the other variants.
    Open(Box<Ws>),
    Failed(Ended),
    Closed,
}

/// One connection attempt, bounded by the connect timeout.
async fn connect(shared: &Shared) -> Attempt {
    let config = &shared.config;
    let attempt = async {
        let token = config.auth.token().await;
        let session = shared.lock().session.clone();
        let request = handshake(config, token.as_deref(), session.as_ref())?;
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(config.max_message_size))
            .max_frame_size(Some(config.max_message_size));
        match tokio::time::timeout(
            config.connect_timeout,
            tokio_tungstenite::connect_async_with_config(request, Some(ws_config), true),
        )
        .await
        {
            Ok(Ok((ws, _response))) => Ok(ws),
            Ok(Err(tungstenite::Error::Http(response))) => Err(Ended {
                code: 1006,
                reason: format!("handshake refused: HTTP {}", response.status().as_u16()),
                status: Some(response.status().as_u16()),
                was_open: false,
            }),
            Ok(Err(err)) => Err(Ended::lost(err.to_string(), false)),
            Err(_) => Err(Ended::lost(
                format!(
                    "connection attempt timed out after {:?}",
                    config.connect_timeout
                ),
                false,
            )),
        }
    };
    tokio::select! {
        result = attempt => match result {
            Ok(ws) => Attempt::Open(Box::new(ws)),
            Err(ended) => Attempt::Failed(ended),
        },
        () = shared.closed() => Attempt::Closed,
    }
}

/// The handshake request: the URL (with the token in the query, if it goes there) and headers.
fn handshake(
    config: &crate::options::Config,
    token: Option<&str>,
    session: Option<&(String, String)>,
) -> Result<tungstenite::handshake::client::Request, Ended> {
    let mut url = match (token, config.auth_in) {
        (Some(token), AuthIn::Query | AuthIn::Both) => {
            with_query(&config.url, &config.auth_param, token)
        }
        _ => config.url.clone(),
    };
    if let Some((session, offset)) = session {
        // Connection-state recovery: where this client left off.
        url = with_query(&url, "session", session);
        url = with_query(&url, "offset", offset);
    }
    let invalid = |what: String| Ended {
        code: 1006,
        reason: what,
        // Nothing will make this request valid: as final as a refused handshake.
        status: Some(400),
        was_open: false,
    };
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|err| invalid(format!("invalid URL {url:?}: {err}")))?;
    let headers = request.headers_mut();
    if let (Some(token), AuthIn::Header | AuthIn::Both) = (token, config.auth_in) {
        let value = HeaderValue::try_from(format!("Bearer {token}"))
            .map_err(|err| invalid(format!("the token cannot be a header: {err}")))?;
        headers.insert("authorization", value);
    }
    for (name, value) in &config.headers {
        let name = tungstenite::http::HeaderName::try_from(name.as_str())
            .map_err(|err| invalid(format!("invalid header name {name:?}: {err}")))?;
        let value = HeaderValue::try_from(value.as_str())
            .map_err(|err| invalid(format!("invalid value of header {name}: {err}")))?;
        headers.append(name, value);
    }
    Ok(request)
}

/// `url` with the query parameter `name` set to `value` (replacing one already there).
fn with_query(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, existing) in form_urlencoded::parse(query.as_bytes()) {
        if key != name {
            serializer.append_pair(&key, &existing);
        }
    }
    serializer.append_pair(name, value);
    format!("{base}?{}", serializer.finish())
}

/// Drives an open connection until it ends.
async fn run_open(shared: &Shared, mut ws: Ws) -> Ended {
    let (writer, mut unsent) = mpsc::channel::<Outgoing>(WRITE_BUFFER);
    if let Err(err) = flush_queue(shared, &mut ws, &writer).await {
        let ended = Ended::lost(format!("writing failed: {err}"), false);
        shared
            .lock()
            .connection_ended(unsent, &disconnect_error(&ended));
        return ended;
    }
    let ended = exchange(shared, &mut ws, &writer, &mut unsent).await;
    shared
        .lock()
        .connection_ended(unsent, &disconnect_error(&ended));
    ended
}

fn disconnect_error(ended: &Ended) -> Error {
    Error::Disconnected(format!(
        "the connection closed ({}) before the answer came",
        ended.describe()
    ))
}

/// Sends what was queued, oldest first, then opens the client to direct sends; frames queued
/// while the first ones were being written go out before it opens, so order is kept.
async fn flush_queue(
    shared: &Shared,
    ws: &mut Ws,
    writer: &mpsc::Sender<Outgoing>,
) -> Result<(), tungstenite::Error> {
    loop {
        let items = {
            let mut inner = shared.lock();
            let items = inner.queue.take();
            if items.is_empty() {
                inner.writer = Some(writer.clone());
                inner.lifecycle(Lifecycle::Connected);
                drop(inner);
                shared.set_state(State::Open);
                return Ok(());
            }
            for item in &items {
                if let crate::queue::Kind::Request { id } = item.kind
                    && let Some(pending) = inner.pending.get_mut(&id)
                {
                    pending.sent = true;
                }
            }
            items
        };
        for item in items {
            ws.feed(Message::text(item.frame)).await?;
        }
        ws.flush().await?;
    }
}

/// Reads and writes until the connection ends or the client closes.
async fn exchange(
    shared: &Shared,
    ws: &mut Ws,
    writer: &mpsc::Sender<Outgoing>,
    unsent: &mut mpsc::Receiver<Outgoing>,
) -> Ended {
    let keepalive = shared.config.keepalive;
    let mut ping = tokio::time::interval(keepalive.unwrap_or(Duration::from_secs(3600)));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            biased;
            () = shared.closed() => {
                let (code, reason) = shared.lock().close_frame.clone();
                return close(ws, code, reason).await;
            }
            message = ws.next() => {
                heard = Instant::now();
                match message {
                    Some(Ok(Message::Text(text))) => receive(shared, text.as_str(), writer).await,
                    Some(Ok(Message::Binary(_))) => shared.lock().lifecycle(Lifecycle::Error(
                        Error::Protocol("a binary frame came: ws-json frames are text".into()),
                    )),
                    Some(Ok(Message::Close(frame))) => return closed_by_server(ws, frame).await,
                    Some(Ok(_)) => {} // Ping (answered by tungstenite), pong.
                    Some(Err(err)) => return Ended::lost(err.to_string(), true),
                    None => return Ended::lost("the connection was lost", true),
                }
            }
            outgoing = unsent.recv() => {
                // `writer` is held here: the channel never ends while this runs.
                let Some(outgoing) = outgoing else { continue };
                if let Err(err) = write(ws, outgoing, unsent).await {
                    return Ended::lost(format!("writing failed: {err}"), true);
                }
            }
            _ = ping.tick(), if keepalive.is_some() => {
                let every = keepalive.unwrap_or_default();
                if heard.elapsed() > every * 2 {
                    return Ended::lost(format!("nothing came from the server for {:?}", every * 2), true);
                }
                if let Err(err) = ws.send(Message::Ping(Default::default())).await {
                    return Ended::lost(format!("writing failed: {err}"), true);
                }
            }
        }
    }
}

/// Writes `first` and whatever else is waiting (up to a batch), then flushes once.
async fn write(
    ws: &mut Ws,
    first: Outgoing,
    unsent: &mut mpsc::Receiver<Outgoing>,
) -> Result<(), tungstenite::Error> {
    ws.feed(Message::text(first.text)).await?;
    for _ in 1..WRITE_BATCH {
        match unsent.try_recv() {
            Ok(outgoing) => ws.feed(Message::text(outgoing.text)).await?,
            Err(_) => break,
        }
    }
    ws.flush().await
}

/// The client closes: sends the close frame and waits (briefly) for the server's.
async fn close(ws: &mut Ws, code: u16, reason: String) -> Ended {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.clone().into(),
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if ws.close(Some(frame)).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
    Ended {
        code,
        reason,
        status: None,
        was_open: true,
    }
}

/// The server closed: the close frame's code and reason (1005 without one); the reply is
/// tungstenite's, sent while the stream is read to its end.
async fn closed_by_server(ws: &mut Ws, frame: Option<CloseFrame>) -> Ended {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let (code, reason) = match frame {
        Some(frame) => (u16::from(frame.code), frame.reason.to_string()),
        None => (1005, String::new()),
    };
    Ended {
        code,
        reason,
        status: None,
        was_open: true,
    }
}

/// A text frame from the server.
async fn receive(shared: &Shared, text: &str, writer: &mpsc::Sender<Outgoing>) {
    match frame::decode(text) {
        Ok(Incoming::Answer { id, result }) => {
            let pending = shared.lock().pending.remove(&id);
            // Without one, the request timed out already: the late answer is dropped.
            if let Some(pending) = pending {
                let result = result.map_err(|error| Error::Server(ServerError::new(error)));
                let _ = pending.answer.send(result);
            }
        }
        Ok(Incoming::Event {
            name,
            data,
            id,
            offset,
        }) => {
            if name == CONNECTED {
                registered(shared, &data);
                return;
            }
            if let Some(offset) = offset
                && let Some((_, last)) = &mut shared.lock().session
            {
                *last = offset;
            }
            event(shared, name, data, id, writer).await;
        }
        Ok(Incoming::Other(value)) => {
            tracing::debug!(%value, "nestgate-client: a frame that is neither an event nor an answer");
        }
        Err(error) => shared
            .lock()
            .lifecycle(Lifecycle::Error(Error::Protocol(error))),
    }
}

/// The event a server with connection-state recovery registers a connection with.
const CONNECTED: &str = "nestgate:connected";

/// `nestgate:connected`: the session to present next time, and whether this one recovered.
fn registered(shared: &Shared, data: &serde_json::value::RawValue) {
    #[derive(serde::Deserialize)]
    struct Connected {
        session: String,
        offset: String,
        recovered: bool,
        reason: Option<String>,
    }
    let mut inner = shared.lock();
    match serde_json::from_str::<Connected>(data.get()) {
        Ok(connected) => {
            inner.session = Some((connected.session, connected.offset));
            inner.lifecycle(Lifecycle::Registered {
                recovered: connected.recovered,
                reason: connected.reason,
            });
        }
        Err(err) => inner.lifecycle(Lifecycle::Error(Error::Protocol(format!(
            "a {CONNECTED} frame that does not read: {err}"
        )))),
    }
}

/// An event: the refresh of the token, or the user's listeners, answerer and streams.
async fn event(
    shared: &Shared,
    name: String,
    data: Box<serde_json::value::RawValue>,
    id: Option<u64>,
    writer: &mpsc::Sender<Outgoing>,
) {
    let mut ack = id.map(|id| Ack::new(id, writer.clone()));
    if name == "nestgate:refresh"
        && let (Auth::Fresh(_), Some(ack)) = (&shared.config.auth, ack.take())
    {
        // The server asks for a fresh token before the current one expires.
        let auth = shared.config.auth.clone();
        tokio::spawn(async move {
            let token = auth.token().await;
            let _ = ack.send(&serde_json::json!({ "token": token })).await;
        });
        return;
    }
    let (handlers, answerer, streams) = {
        let inner = shared.lock();
        let handlers = inner.listeners.on.get(&name).cloned().unwrap_or_default();
        let answerer = inner.listeners.answer.get(&name).map(|(_, a)| a.clone());
        (handlers, answerer, inner.events.clone())
    };
    for (_, handler) in handlers {
        if let Err(error) = handler(&data) {
            shared.lock().lifecycle(Lifecycle::Error(error));
        }
    }
    if let Some(answerer) = answerer {
        match answerer(&data) {
            Ok(answer) => {
                // Answered here: the streams get no ack.
                let answer_id = ack.take().and(id);
                let writer = writer.clone();
                tokio::spawn(async move {
                    let json = match answer.await {
                        Ok(json) => json,
                        Err(error) => {
                            tracing::warn!(%error, "nestgate-client: an on_request answer does not encode");
                            return;
                        }
                    };
                    if let Some(id) = answer_id {
                        // `json` is JSON already: the frame is `{"ack", "data"}` around it.
                        let text = format!(r#"{{"ack":{id},"data":{json}}}"#);
                        let _ = writer
                            .send(Outgoing {
                                text,
                                kind: Kind::Ack,
                            })
                            .await;
                    }
                });
            }
            Err(error) => shared.lock().lifecycle(Lifecycle::Error(error)),
        }
    }
    let mut gone = false;
    for stream in streams {
        let event = Event {
            name: name.clone(),
            data: data.clone(),
            ack: ack.take(),
        };
        // Waits for room: a full stream holds the reading back (backpressure, not loss).
        gone |= stream.send(event).await.is_err();
    }
    if gone {
        shared.lock().events.retain(|stream| !stream.is_closed());
    }
}
