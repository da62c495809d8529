//! Decoding and dispatching a frame allocates nothing beyond the handler's own data.
//!
//! A counting allocator (dhat in testing mode) measures each step of the real dispatch path,
//! driven in-process by `nestgate::testing::InProcess`. What remains per frame is the handler's
//! future (one box: handlers are type-erased) and what the handler itself produces: its data
//! and its reply frame. Nested `data` adds serde_json's scratch buffer while it skips over it.

use nestgate::App;
use nestgate::prelude::*;
use nestgate::testing::InProcess;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
struct Measured;

#[websocket_gateway]
impl Measured {
    #[subscribe_message("nothing")]
    fn nothing(&self) {}

    #[subscribe_message("number")]
    fn number(&self, Data(n): Data<u64>) -> u64 {
        n + 1
    }

    #[subscribe_message("quiet")]
    fn quiet(&self, socket: Socket, Data(n): Data<u64>) {
        let _ = (n, socket);
    }
}

/// Heap blocks allocated while dispatching `frame`: the fewest of three dispatches.
///
/// The counter is the whole process's, so a block allocated elsewhere at the same moment (once
/// seen on a loaded machine: the first frame counted 2) would be counted too; what the dispatch
/// path allocates is the same every time, so the fewest of three is exactly its count.
async fn blocks_during(client: &mut InProcess, frame: &axum::extract::ws::Utf8Bytes) -> u64 {
    let mut fewest = u64::MAX;
    for _ in 0..3 {
        let before = dhat::HeapStats::get().total_blocks;
        client.send_frame(frame.clone()).await;
        fewest = fewest.min(dhat::HeapStats::get().total_blocks - before);
    }
    fewest
}

#[tokio::test]
async fn decoding_and_dispatching_allocate_only_the_handler_future() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let mut client = InProcess::new(App::bare().gateway::<Measured>(), "/")
        .await
        .unwrap();

    let frames = [
        r#"{"event":"nothing"}"#,
        r#"{"event":"nothing","data":1}"#,
        r#"{"event":"nothing","data":[1]}"#,
        r#"{"event":"nothing","other":"keys"}"#,
        r#"{"event":"quiet","data":41}"#,
    ];
    for text in frames {
        // Frames arrive from the WebSocket layer as shared bytes; a clone is a reference count.
        let frame = axum::extract::ws::Utf8Bytes::from(text);
        let _ = frame.clone();
        // Warm up once (lazy statics, first-use growth), then measure.
        client.send_frame(frame.clone()).await;
        let blocks = blocks_during(&mut client, &frame).await;
        println!("{text}: {blocks} allocation(s)");
        assert_eq!(
            blocks, 1,
            "{text}: only the handler's boxed future may allocate"
        );
    }
    assert_eq!(client.recv(), None, "these handlers answer nothing");

    // `data` nested two levels deep costs serde_json one scratch buffer (its stack of open
    // brackets, per deserializer) while it finds where `data` ends: the data's own shape.
    let frame = axum::extract::ws::Utf8Bytes::from(r#"{"event":"nothing","data":{"a":[1,2,3]}}"#);
    let _ = frame.clone();
    client.send_frame(frame.clone()).await;
    let blocks = blocks_during(&mut client, &frame).await;
    println!("nested data: {blocks} allocation(s)");
    assert_eq!(blocks, 2, "the future and serde_json's scratch buffer");

    // A reply is the handler's own data: its JSON text and the frame that carries it.
    let frame = axum::extract::ws::Utf8Bytes::from(r#"{"event":"number","data":41}"#);
    let _ = frame.clone();
    client.send_frame(frame.clone()).await;
    let _ = client.recv();
    let blocks = blocks_during(&mut client, &frame).await;
    println!("number (reply 42): {blocks} allocation(s)");
    assert!(
        blocks <= 3,
        "the future, the reply's text and its frame: {blocks}"
    );
    assert_eq!(client.recv().as_deref(), Some("42"));
}
