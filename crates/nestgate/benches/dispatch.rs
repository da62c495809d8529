//! Micro-benchmarks of the message path: decode a frame, dispatch it, extract, run the handler,
//! encode the reply — in-process, with no network (`nestgate::testing::InProcess`).
//!
//! Run with `cargo bench -p nestgate --bench dispatch`.

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nestgate::App;
use nestgate::prelude::*;
use nestgate::testing::InProcess;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::hint::black_box;

#[derive(Debug, Deserialize, Serialize)]
struct ChatMessage {
    room: String,
    user: String,
    text: String,
}

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Bench;

#[websocket_gateway]
impl Bench {
    #[subscribe_message("nothing")]
    fn nothing(&self) {}

    #[subscribe_message("echo")]
    fn echo(&self, Data(data): Data<Box<RawValue>>) -> WsResponse<Box<RawValue>> {
        WsResponse::new("echo", data)
    }

    #[subscribe_message("typed")]
    async fn typed(&self, socket: Socket, Data(message): Data<ChatMessage>) -> usize {
        let _ = socket;
        message.text.len()
    }
}

fn dispatch(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut client = runtime
        .block_on(InProcess::new(App::bare().gateway::<Bench>(), "/"))
        .expect("the bench app builds");

    let cases = [
        ("nothing", r#"{"event":"nothing"}"#.to_owned()),
        (
            "echo_32B",
            format!(r#"{{"event":"echo","data":"{}"}}"#, "x".repeat(32)),
        ),
        (
            "echo_1KiB",
            format!(r#"{{"event":"echo","data":"{}"}}"#, "x".repeat(1024)),
        ),
        (
            "typed_struct",
            r#"{"event":"typed","data":{"room":"lobby","user":"ada","text":"hello, world"}}"#
                .to_owned(),
        ),
        (
            "typed_struct_with_ack",
            r#"{"event":"typed","data":{"room":"lobby","user":"ada","text":"hi"},"id":7}"#
                .to_owned(),
        ),
        ("unknown_event", r#"{"event":"nope","data":1}"#.to_owned()),
    ];
    let mut group = c.benchmark_group("dispatch");
    for (name, text) in cases {
        let frame = axum::extract::ws::Utf8Bytes::from(text.as_str());
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(client.send_frame(black_box(frame.clone())));
                black_box(client.recv());
            });
        });
    }
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
