//! What one client can make the server hold for it, and what one client can do to the others:
//! the outbound queue's byte bound (W1) and the inbound rate limit (W2).

use futures_util::StreamExt as _;
use nestgate::App;
use nestgate::extract::State;
use nestgate::prelude::*;
use nestgate::testing::Closed;
use nestgate::testing::TestClient;
use nestgate_tests::{assert_alive, serve};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Reads text frames until the connection ends: how many, and how it ended.
async fn count_until_closed(client: &mut TestClient) -> (usize, Closed) {
    let mut texts = 0;
    let read = async {
        loop {
            match client.inner().next().await {
                Some(Ok(Message::Text(_))) => texts += 1,
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Closed::Frame(frame.code.into(), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) => return Closed::Frame(1005, String::new()),
                Some(Ok(_)) => {}
                Some(Err(err)) => return Closed::Abrupt(err.to_string()),
                None => return Closed::Abrupt("end of stream".to_owned()),
            }
        }
    };
    let closed = tokio::time::timeout(std::time::Duration::from_secs(30), read)
        .await
        .expect("the connection ended within 30 s");
    (texts, closed)
}

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Fanout;

/// Handlers of `slow` running now, and the most seen at once.
#[derive(Clone, Default)]
struct Concurrency(Arc<(AtomicUsize, AtomicUsize)>);

#[websocket_gateway]
impl Fanout {
    #[subscribe_message("ping")]
    fn ping(&self) -> &'static str {
        "pong"
    }

    /// Fan-out of a client's message, not volatile: a recipient that cannot keep up is closed.
    #[subscribe_message("broadcast")]
    fn broadcast(&self, server: Server, Data(data): Data<Value>) -> Result<(), WsException> {
        server.emit("broadcast", &data)?;
        Ok(())
    }

    #[subscribe_message("echo")]
    fn echo(&self, Data(value): Data<Value>) -> Value {
        value
    }

    #[subscribe_message("slow")]
    async fn slow(&self, State(concurrency): State<Concurrency>) -> usize {
        let (now, most) = &*concurrency.0;
        let running = now.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(running, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        now.fetch_sub(1, Ordering::SeqCst);
        running
    }
}

#[tokio::test]
async fn a_paused_client_is_closed_with_1013_once_its_queue_holds_16_mib() {
    // 64 echoes of 512 KiB are 32 MiB of answers: with frames alone bounded (1,024 by default)
    // they would all be queued. The byte bound (16 MiB) closes the client after about 32 of
    // them, plus what the socket buffers took.
    let server = serve(
        App::bare()
            .provide(Concurrency::default())
            .gateway::<Fanout>(),
    )
    .await;
    let mut paused = server.client("/").await;
    let data = "x".repeat(512 * 1024);
    for _ in 0..64 {
        paused.emit("echo", json!(data)).await;
    }
    let (answers, closed) = count_until_closed(&mut paused).await;
    assert_eq!(closed, Closed::Frame(1013, "slow consumer".to_owned()));
    assert!(
        answers < 64,
        "{answers} answers: the queue was not bounded in bytes"
    );
    println!("answers received before the 1013: {answers}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_flooder_of_a_fan_out_event_evicts_nobody_under_the_default_limit() {
    // The default: 100 messages per second, bursts of 200. Without it the five readers' queues
    // overflowed within 0.3 s (the security review's A12).
    let server = serve(
        App::bare()
            .provide(Concurrency::default())
            .gateway::<Fanout>(),
    )
    .await;
    let mut readers = Vec::new();
    for _ in 0..5 {
        let mut reader = server.client("/").await;
        assert_alive(&mut reader).await;
        readers.push(reader);
    }
    let started = Instant::now();
    let mut flooder = server.client("/").await;
    let flood = tokio::spawn(async move {
        let data = "x".repeat(1000);
        for _ in 0..10_000 {
            flooder.emit("broadcast", json!(data)).await;
        }
        flooder
    });
    let window = Duration::from_secs(3);
    let counting: Vec<_> = readers
        .into_iter()
        .map(|mut reader| {
            tokio::spawn(async move {
                let mut received = 0usize;
                let deadline = started + window;
                while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                    match reader.try_recv(left).await {
                        Some(frame) => {
                            assert_eq!(frame["event"], "broadcast");
                            received += 1;
                        }
                        None => break,
                    }
                }
                (received, reader)
            })
        })
        .collect();
    let mut counts = Vec::new();
    for counting in counting {
        // `try_recv` panics if the connection ends: a reader closed with 1013 fails here.
        let (received, mut reader) = counting.await.expect("a reader was disconnected");
        assert_alive(&mut reader).await;
        counts.push(received);
    }
    let elapsed = started.elapsed();
    nestgate_tests::assert_at_the_default_rate(&counts, elapsed);
    println!("each reader received {counts:?} broadcasts in {elapsed:.2?}");
    flood.abort();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_rate_limit_can_be_raised_or_removed() {
    for app in [
        App::bare()
            .provide(Concurrency::default())
            .gateway::<Fanout>()
            .max_messages_per_second(1_000, 1_000),
        App::bare()
            .provide(Concurrency::default())
            .gateway::<Fanout>()
            .without_message_rate_limit(),
    ] {
        let server = serve(app).await;
        let mut client = server.client("/").await;
        let started = Instant::now();
        // 1,000 round trips, pipelined: 5 s at the default limit.
        for id in 0..1_000 {
            client
                .send_json(json!({"event": "echo", "data": id, "id": id}))
                .await;
        }
        for id in 0..1_000 {
            assert_eq!(client.recv().await, json!({"ack": id, "data": id}));
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}: still limited",
            started.elapsed()
        );
        server.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn at_most_max_in_flight_handlers_of_one_connection_run_at_once() {
    let concurrency = Concurrency::default();
    let app = App::bare()
        .provide(concurrency.clone())
        .gateway::<Fanout>()
        .max_in_flight(2);
    let server = serve(app).await;
    let mut client = server.client("/").await;
    for id in 0..10 {
        client.send_json(json!({"event": "slow", "id": id})).await;
    }
    // Every request is answered; reading paused while two ran, so never a third at once.
    for _ in 0..10 {
        let answer = client.recv().await;
        assert!(answer["data"].as_u64().unwrap() <= 2, "{answer}");
    }
    assert_eq!(concurrency.0.1.load(Ordering::SeqCst), 2);
    server.shutdown().await.unwrap();
}
