//! `nestgate-client` against this example's real server (the binary cargo built for this
//! test) over loopback: the scenarios of the TypeScript client's suite, in Rust.

use nestgate::testing::ChildServer;
use nestgate_client::{Client, Error, Lifecycle, QueueLimits, Reconnect, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};

mod support;
use support::{STEP, next};

/// Starts the server on `port` (0: any).
async fn start_server(port: u16) -> ChildServer {
    support::start_server(port, &[]).await
}

fn url(server: &ChildServer) -> String {
    server.ws_url("/")
}

fn quick_reconnect(initial_ms: u64) -> Reconnect {
    Reconnect {
        initial_delay: Duration::from_millis(initial_ms),
        jitter: 0.0,
        ..Reconnect::default()
    }
}

#[tokio::test]
async fn a_request_is_answered_with_the_handlers_value() {
    let server = start_server(0).await;
    let client = Client::connect(url(&server)).await.expect("connects");
    let answer: Value = client
        .request("echo", &json!({"a": [1, "two"]}))
        .await
        .unwrap();
    assert_eq!(answer, json!({"a": [1, "two"]}));
    let text: String = client.request("echo", "text").await.unwrap();
    assert_eq!(text, "text");
    // Concurrent requests are told apart by their ids.
    let sleeps = [60u64, 20, 40];
    let answers = futures_util::future::join_all(
        sleeps
            .iter()
            .map(|ms| client.request::<u64, _>("sleep", ms)),
    )
    .await;
    let answers: Vec<u64> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(answers, [60, 20, 40]);
    // An answer of the wrong type is a decoding error, not a panic.
    let wrong = client.request::<u64, _>("echo", "not a number").await;
    assert!(matches!(wrong, Err(Error::Json(_))), "{wrong:?}");
}

#[tokio::test]
async fn a_server_exception_fails_the_request_with_server_error() {
    let server = start_server(0).await;
    let client = Client::connect(url(&server)).await.unwrap();
    match client.request::<Value, _>("fail", "no such auction").await {
        Err(Error::Server(error)) => {
            assert_eq!(error.message, "no such auction");
            assert_eq!(error.status.as_deref(), Some("error"));
        }
        other => panic!("{other:?}"),
    }
    // An emit without an id gets the exception event instead.
    let mut events = client.events();
    client.emit("fail", "as an event").await.unwrap();
    let event = timeout(STEP, events.next()).await.unwrap().unwrap();
    assert_eq!(event.name, "exception");
    let data: Value = event.data().unwrap();
    assert_eq!(data["message"], "as an event");
    assert_eq!(data["cause"]["pattern"], "fail");
}

#[tokio::test]
async fn a_request_with_no_answer_in_time_fails_with_timeout() {
    let server = start_server(0).await;
    let client = Client::connect(url(&server)).await.unwrap();
    let started = Instant::now();
    let late = client
        .request_timeout::<u64, _>("sleep", &5_000, Duration::from_millis(200))
        .await;
    let waited = started.elapsed();
    assert!(
        matches!(late, Err(Error::Timeout { queued: false, .. })),
        "{late:?}"
    );
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    // The late answer is ignored, and the client goes on.
    assert_eq!(client.request::<u64, _>("echo", &1).await.unwrap(), 1);
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Doubled {
    doubled: u64,
}

#[tokio::test]
async fn the_servers_own_request_is_answered() {
    let server = start_server(0).await;
    let client = Client::connect(url(&server)).await.unwrap();
    // By a handler...
    client.on_request(
        "question",
        |n: u64| async move { Doubled { doubled: n * 2 } },
    );
    let answer: Doubled = client
        .request("ask", &json!({"event": "question", "data": 21}))
        .await
        .unwrap();
    assert_eq!(answer, Doubled { doubled: 42 });
    // ...or through the events stream, when no handler answers.
    let mut events = client.events();
    let asking = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .request::<Value, _>("ask", &json!({"event": "other", "data": "hi"}))
                .await
        })
    };
    let event = timeout(STEP, events.next()).await.unwrap().unwrap();
    assert_eq!(event.name, "other");
    let ack = event.ack.expect("the server asked with an id");
    ack.send(&json!({"seen": true})).await.unwrap();
    assert_eq!(asking.await.unwrap().unwrap(), json!({"seen": true}));
}

#[tokio::test]
async fn events_reach_on_and_streams_and_off_stops_them() {
    let server = start_server(0).await;
    let client = Client::connect(url(&server)).await.unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = {
        let seen = seen.clone();
        client.on("said", move |n: u64| seen.lock().unwrap().push(n))
    };
    let mut events = client.events();
    let mut lifecycle = client.lifecycle();
    // A listener whose type does not fit: reported, and the others still run.
    client.on("said", |_: String| unreachable!("numbers are not strings"));
    client.request::<Value, _>("say", &1).await.unwrap();
    client.request::<Value, _>("say", &2).await.unwrap();
    client.off(listener);
    client.request::<Value, _>("say", &3).await.unwrap();
    client.request::<Value, _>("echo", "flush").await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [1, 2]);
    let mut streamed = Vec::new();
    for _ in 0..3 {
        let event = timeout(STEP, events.next()).await.unwrap().unwrap();
        assert_eq!(event.name, "said");
        streamed.push(event.data::<u64>().unwrap());
    }
    assert_eq!(streamed, [1, 2, 3]);
    let error = next(&mut lifecycle, |event| match event {
        Lifecycle::Error(error) => Some(error),
        _ => None,
    })
    .await;
    assert!(
        error.to_string().contains("\"said\" does not decode"),
        "{error}"
    );
}

#[tokio::test]
async fn auth_goes_as_a_header_or_in_the_query_and_a_function_is_called_each_attempt() {
    let server = start_server(0).await;
    let header = Client::builder(url(&server))
        .token("t1")
        .connect()
        .await
        .unwrap();
    let who: Value = header.request("whoami", &()).await.unwrap();
    assert_eq!(who, json!({"token": "t1", "via": "header"}));
    let query = Client::builder(url(&server))
        .token("t2")
        .auth_in(nestgate_client::AuthIn::Query)
        .connect()
        .await
        .unwrap();
    let who: Value = query.request("whoami", &()).await.unwrap();
    assert_eq!(who, json!({"token": "t2", "via": "query"}));

    let calls = Arc::new(AtomicU32::new(0));
    let fresh = Client::builder(url(&server))
        .auth({
            let calls = calls.clone();
            move || {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                async move { Some(format!("fresh-{n}")) }
            }
        })
        .reconnect(quick_reconnect(50))
        .connect()
        .await
        .unwrap();
    let who: Value = fresh.request("whoami", &()).await.unwrap();
    assert_eq!(who["token"], "fresh-1");
    // Kicked with a code that is not final: it reconnects, with a new token.
    let mut lifecycle = fresh.lifecycle();
    let _ = fresh
        .request::<Value, _>("kick", &json!({"code": 1011, "reason": "try again"}))
        .await;
    let (code, will_reconnect) = next(&mut lifecycle, |event| match event {
        Lifecycle::Disconnected {
            code,
            will_reconnect,
            ..
        } => Some((code, will_reconnect)),
        _ => None,
    })
    .await;
    assert_eq!((code, will_reconnect), (1011, true));
    next(&mut lifecycle, |event| {
        matches!(event, Lifecycle::Connected).then_some(())
    })
    .await;
    let who: Value = fresh.request("whoami", &()).await.unwrap();
    assert_eq!(who["token"], "fresh-2");
}

#[tokio::test]
async fn when_the_server_asks_for_a_fresh_token_the_function_is_called_and_the_client_lives_on() {
    let server = start_server(0).await;
    let calls = Arc::new(AtomicU32::new(0));
    let client = Client::builder(url(&server))
        .auth({
            let calls = calls.clone();
            move || {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                async move { Some(format!("short-{n}")) }
            }
        })
        .connect()
        .await
        .unwrap();
    let mut lifecycle = client.lifecycle();
    let who: Value = client.request("whoami", &()).await.unwrap();
    assert_eq!(who["token"], "short-1");
    // Asked after 1 s, expired after 2 s without an answer: refreshed at least once by then.
    sleep(Duration::from_millis(2_500)).await;
    assert_eq!(client.state(), State::Open);
    while let Ok(Some(event)) = timeout(Duration::from_millis(1), lifecycle.next()).await {
        assert!(
            !matches!(event, Lifecycle::Disconnected { .. }),
            "{event:?}"
        );
    }
    let who: Value = client.request("whoami", &()).await.unwrap();
    let token = who["token"].as_str().unwrap();
    assert!(token.starts_with("short-") && token != "short-1", "{token}");
    assert!(calls.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn after_the_server_restarts_the_client_reconnects_with_growing_delays_and_sends_what_was_queued()
 {
    let server = start_server(0).await;
    let port = server.addr().port();
    let client = Client::builder(url(&server))
        .reconnect(Reconnect {
            max_delay: Duration::from_secs(2),
            ..quick_reconnect(100)
        })
        .connect()
        .await
        .unwrap();
    let mut lifecycle = client.lifecycle();
    // A request in flight when the server dies: failed, not sent again.
    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .request_timeout::<u64, _>("sleep", &10_000, Duration::from_secs(20))
                .await
        })
    };
    sleep(Duration::from_millis(100)).await;
    drop(server); // SIGKILL: no close frame, the connection is just lost.
    let will_reconnect = next(&mut lifecycle, |event| match event {
        Lifecycle::Disconnected { will_reconnect, .. } => Some(will_reconnect),
        _ => None,
    })
    .await;
    assert!(will_reconnect);
    let failed = in_flight.await.unwrap();
    assert!(matches!(failed, Err(Error::Disconnected(_))), "{failed:?}");
    // While down: queued.
    let queued = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .request_timeout::<String, _>("echo", "sent while down", Duration::from_secs(15))
                .await
        })
    };
    client.emit("say", "emitted while down").await.unwrap();
    let mut delays = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(800);
    while Instant::now() < deadline {
        if let Ok(Some(Lifecycle::Reconnecting { attempt, delay })) =
            timeout(deadline - Instant::now(), lifecycle.next()).await
        {
            delays.push((attempt, delay.as_millis()));
        }
    }
    assert_eq!(client.queued(), 2);
    let _server = start_server(port).await;
    next(&mut lifecycle, |event| {
        matches!(event, Lifecycle::Connected).then_some(())
    })
    .await;
    assert_eq!(queued.await.unwrap().unwrap(), "sent while down");
    assert!(delays.len() >= 3, "{delays:?}");
    for (index, (attempt, delay)) in delays.iter().enumerate() {
        assert_eq!(*attempt as usize, index + 1, "{delays:?}");
        assert_eq!(*delay, (100u128 << index).min(2_000), "{delays:?}");
    }
}

#[tokio::test]
async fn the_offline_queue_is_bounded_and_its_frames_expire() {
    let server = start_server(0).await;
    let port = server.addr().port();
    drop(server);
    // Nothing listens: the client keeps trying, and queues meanwhile.
    let client = Client::builder(format!("ws://127.0.0.1:{port}/"))
        .queue(QueueLimits {
            max_items: 2,
            max_bytes: 1_000,
            timeout: Duration::from_millis(300),
        })
        .reconnect(quick_reconnect(50))
        .start();
    let mut lifecycle = client.lifecycle();
    let request = |n: u64, timeout_ms: u64| {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .request_timeout::<u64, _>("echo", &n, Duration::from_millis(timeout_ms))
                .await
        })
    };
    let first = request(1, 5_000);
    let second = request(2, 200);
    sleep(Duration::from_millis(20)).await;
    assert_eq!(client.queued(), 2);
    let full = client.request::<u64, _>("echo", &3).await;
    assert!(matches!(full, Err(Error::QueueFull(_))), "{full:?}");
    let full = client.emit("echo", &4).await;
    assert!(matches!(full, Err(Error::QueueFull(_))), "{full:?}");
    // A request waits its own timeout in the queue.
    let expired = second.await.unwrap();
    assert!(
        matches!(expired, Err(Error::Timeout { queued: true, .. })),
        "{expired:?}"
    );
    assert_eq!(client.queued(), 1);
    // Bytes count too.
    let big = client
        .request::<String, _>("echo", &"x".repeat(2_000))
        .await;
    match big {
        Err(Error::QueueFull(why)) => assert!(why.contains("bytes"), "{why}"),
        other => panic!("{other:?}"),
    }
    // An emit expires after the queue's timeout, reported on the lifecycle stream.
    client.emit("echo", &5).await.unwrap();
    let error = next(&mut lifecycle, |event| match event {
        Lifecycle::Error(error) => Some(error),
        _ => None,
    })
    .await;
    assert!(matches!(error, Error::Expired { .. }), "{error:?}");
    // Closing fails what is still queued.
    client.close();
    let closed = first.await.unwrap();
    assert!(matches!(closed, Err(Error::Disconnected(_))), "{closed:?}");
    assert_eq!(client.state(), State::Closed);
    let after = client.emit("echo", &6).await;
    assert!(matches!(after, Err(Error::Disconnected(_))), "{after:?}");
}

#[tokio::test]
async fn no_reconnect_after_a_close_the_server_marks_as_final() {
    let server = start_server(0).await;
    for (token, kick, code) in [
        // Refused by the connection hook: 1008.
        (Some("banned"), None, 1008),
        // Kicked with an application code.
        (None, Some(json!({"code": 4000, "reason": "bye"})), 4000),
        // Closed normally by the server.
        (None, Some(json!({"code": 1000, "reason": "done"})), 1000),
    ] {
        let mut builder = Client::builder(url(&server)).reconnect(quick_reconnect(20));
        if let Some(token) = token {
            builder = builder.token(token);
        }
        let client = builder.start();
        let mut lifecycle = client.lifecycle();
        let mut events = client.events();
        if let Some(kick) = kick {
            client.wait_connected().await.unwrap();
            client.emit("kick", &kick).await.unwrap();
        }
        let (closed, will_reconnect) = next(&mut lifecycle, |event| match event {
            Lifecycle::Disconnected {
                code,
                will_reconnect,
                ..
            } => Some((code, will_reconnect)),
            Lifecycle::Reconnecting { .. } => panic!("reconnecting after {code}"),
            _ => None,
        })
        .await;
        assert_eq!((closed, will_reconnect), (code, false));
        // The stream ends: the client is closed, and nothing more comes.
        assert!(timeout(STEP, lifecycle.next()).await.unwrap().is_none());
        assert_eq!(client.state(), State::Closed);
        if code == 1008 {
            let event = timeout(STEP, events.next()).await.unwrap().unwrap();
            assert_eq!(event.name, "exception");
            assert_eq!(event.data::<Value>().unwrap()["message"], "banned");
        }
    }
}

#[tokio::test]
async fn a_handshake_refused_with_401_is_final() {
    let server = start_server(0).await;
    // `connect` says so at once...
    match Client::builder(url(&server)).token("bad").connect().await {
        Err(Error::Connect(why)) => assert_eq!(why, "handshake refused: HTTP 401"),
        other => panic!("{other:?}"),
    }
    // ...and a started client does not retry.
    let client = Client::builder(url(&server))
        .token("bad")
        .reconnect(quick_reconnect(20))
        .start();
    let mut lifecycle = client.lifecycle();
    let (reason, will_reconnect) = next(&mut lifecycle, |event| match event {
        Lifecycle::Disconnected {
            reason,
            will_reconnect,
            ..
        } => Some((reason, will_reconnect)),
        Lifecycle::Reconnecting { .. } => panic!("reconnecting after a 401"),
        _ => None,
    })
    .await;
    assert_eq!(reason, "handshake refused: HTTP 401");
    assert!(!will_reconnect);
    assert!(client.wait_connected().await.is_err());
}

#[tokio::test]
async fn reconnection_gives_up_after_its_attempts() {
    let server = start_server(0).await;
    let port = server.addr().port();
    drop(server);
    let client = Client::builder(format!("ws://127.0.0.1:{port}/"))
        .reconnect(Reconnect {
            attempts: Some(3),
            ..quick_reconnect(20)
        })
        .start();
    let mut lifecycle = client.lifecycle();
    let queued = {
        let client = client.clone();
        tokio::spawn(async move { client.request::<u64, _>("echo", &1).await })
    };
    let attempts = next(&mut lifecycle, |event| match event {
        Lifecycle::ReconnectFailed { attempts } => Some(attempts),
        _ => None,
    })
    .await;
    assert_eq!(attempts, 3);
    assert_eq!(client.state(), State::Closed);
    let failed = queued.await.unwrap();
    assert!(matches!(failed, Err(Error::Disconnected(_))), "{failed:?}");
    // `connect` to nothing fails at once instead.
    let refused = Client::connect(format!("ws://127.0.0.1:{port}/")).await;
    assert!(matches!(refused, Err(Error::Connect(_))), "{refused:?}");
}

#[tokio::test]
async fn a_handshake_that_never_finishes_times_out_and_is_retried() {
    // A TCP server that accepts and never answers: the handshake never ends.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            sockets.push(socket);
        }
    });
    let client = Client::builder(format!("ws://{addr}/"))
        .connect_timeout(Duration::from_millis(100))
        .reconnect(quick_reconnect(20))
        .start();
    let mut lifecycle = client.lifecycle();
    let attempt = next(&mut lifecycle, |event| match event {
        Lifecycle::Reconnecting { attempt, .. } => Some(attempt),
        _ => None,
    })
    .await;
    assert_eq!(attempt, 1);
    next(&mut lifecycle, |event| {
        matches!(event, Lifecycle::Reconnecting { .. }).then_some(())
    })
    .await;
    client.close();
    assert_eq!(client.state(), State::Closed);
    held.abort();
}

#[tokio::test]
async fn a_server_that_stops_answering_is_noticed_by_the_keepalive() {
    // A WebSocket server that completes the handshake, then never reads again: no pongs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicU32::new(0));
    let held = tokio::spawn({
        let accepts = accepts.clone();
        async move {
            let mut sockets = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                if let Ok(ws) = tokio_tungstenite::accept_async(socket).await {
                    accepts.fetch_add(1, Ordering::SeqCst);
                    sockets.push(ws);
                }
            }
        }
    });
    let client = Client::builder(format!("ws://{addr}/"))
        .keepalive(Some(Duration::from_millis(100)))
        .reconnect(quick_reconnect(20))
        .connect()
        .await
        .unwrap();
    let mut lifecycle = client.lifecycle();
    let started = Instant::now();
    let (code, reason) = next(&mut lifecycle, |event| match event {
        Lifecycle::Disconnected { code, reason, .. } => Some((code, reason)),
        _ => None,
    })
    .await;
    assert_eq!(code, 1006);
    assert!(reason.contains("nothing came from the server"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // And it reconnects.
    next(&mut lifecycle, |event| {
        matches!(event, Lifecycle::Connected).then_some(())
    })
    .await;
    assert_eq!(accepts.load(Ordering::SeqCst), 2);
    held.abort();
}
