//! A Socket.IO socket's handlers start on the task of the transport that read their frames
//! while the socket's own reader has nothing to do (`connection::Handoff`), and go through the
//! reader's queue otherwise: these tests hold both paths to the reader's promises — handlers
//! start in the order their frames came, at most `max_in_flight` run at once, and a handler
//! that waits (started on one task, finished on another) is woken and answers.

use nestgate::App;
use nestgate::extract::State;
use nestgate::prelude::*;
use nestgate::socketio::SocketIoConfig;
use nestgate_tests::serve;
use nestgate_tests::socketio::RawSocketIo as Raw;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The order handlers started in, and how many of `slow` ran at once.
#[derive(Clone, Default)]
struct Seen {
    started: Arc<Mutex<Vec<u64>>>,
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

#[websocket_gateway(path = "/")]
#[derive(Default)]
struct Mixed;

#[websocket_gateway]
impl Mixed {
    /// Done at once.
    #[subscribe_message("fast")]
    fn fast(&self, State(seen): State<Seen>, Data(n): Data<u64>) -> u64 {
        seen.started.lock().unwrap().push(n);
        n
    }

    /// Waits on a timer before it answers: it never finishes on its first poll.
    #[subscribe_message("slow")]
    async fn slow(&self, State(seen): State<Seen>, Data(n): Data<u64>) -> u64 {
        seen.started.lock().unwrap().push(n);
        let now = seen.running.fetch_add(1, Ordering::SeqCst) + 1;
        seen.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5 + n % 7)).await;
        seen.running.fetch_sub(1, Ordering::SeqCst);
        n
    }
}

/// The ack id and data of an ACK packet `43<id>[<data>]` on the main namespace.
fn ack(packet: &str) -> (u64, u64) {
    let body = packet
        .strip_prefix("43")
        .unwrap_or_else(|| panic!("an ack: {packet}"));
    let (id, data) = body.split_once('[').expect("an ack id");
    let data = data.strip_suffix(']').expect("one argument");
    (id.parse().unwrap(), data.parse().unwrap())
}

#[tokio::test]
async fn handlers_start_in_the_order_their_frames_came_whichever_task_starts_them() {
    let seen = Seen::default();
    let server = serve(
        App::bare()
            .provide(seen.clone())
            .gateway::<Mixed>()
            .socket_io(SocketIoConfig::default()),
    )
    .await;
    let mut client = Raw::connect(&server).await;
    client.join("/", None).await;
    // Runs of fast frames behind slow ones: a fast frame that comes while a slow handler
    // runs is queued for the reader, one that comes while nothing runs starts at once.
    let kinds: Vec<&str> = (0..200u64)
        .map(|n| {
            if n % 5 == 0 || n % 7 == 3 {
                "slow"
            } else {
                "fast"
            }
        })
        .collect();
    for (n, kind) in kinds.iter().enumerate() {
        client.send(&format!(r#"42{n}["{kind}",{n}]"#)).await;
        if n % 40 == 39 {
            // Let the socket go idle now and then, so that both paths are taken.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    let mut answered = vec![false; kinds.len()];
    for _ in 0..kinds.len() {
        let (id, n) = ack(&client.recv().await.expect("an answer"));
        assert_eq!(id, n);
        assert!(
            !std::mem::replace(&mut answered[id as usize], true),
            "{id} twice"
        );
    }
    let started = seen.started.lock().unwrap().clone();
    assert_eq!(started, (0..kinds.len() as u64).collect::<Vec<_>>());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn at_most_max_in_flight_socket_io_handlers_run_at_once() {
    let seen = Seen::default();
    let app = App::bare()
        .provide(seen.clone())
        .gateway::<Mixed>()
        .socket_io(SocketIoConfig::default())
        .max_in_flight(2);
    let server = serve(app).await;
    let mut client = Raw::connect(&server).await;
    client.join("/", None).await;
    for n in 0..20 {
        client.send(&format!(r#"42{n}["slow",{n}]"#)).await;
    }
    for _ in 0..20 {
        client.recv().await.expect("an answer");
    }
    // The first was started by the transport, the rest by the reader, never a third at once.
    assert_eq!(seen.most.load(Ordering::SeqCst), 2);
    // And with nothing running, the next one is started by the transport again, and answered.
    client.send(r#"4299["slow",99]"#).await;
    assert_eq!(ack(&client.recv().await.unwrap()), (99, 99));
    server.shutdown().await.unwrap();
}
