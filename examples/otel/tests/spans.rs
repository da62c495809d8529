//! nestgate's spans exported by OpenTelemetry: a ws-json client over a real socket, the spans
//! read back from the SDK's in-memory exporter — names, attributes, and their nesting.

use nestgate::testing::TestServer;
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use serde_json::json;

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key.as_str() == key)
        .map(|attribute| attribute.value.clone())
}

#[tokio::test]
async fn connection_and_message_spans_reach_the_exporter_nested() {
    let exporter = InMemorySpanExporter::default();
    let provider = otel::provider(exporter.clone());
    otel::install(&provider);

    let server = TestServer::start(otel::app()).await;
    let mut client = server.client("/").await;
    assert_eq!(client.request(1, "echo", json!(7)).await["data"], 7);
    client.request(2, "fail", json!(null)).await;
    client.close().await;
    server.shutdown().await.unwrap();
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let named =
        |name: &str| -> Vec<&SpanData> { spans.iter().filter(|span| span.name == name).collect() };
    let connection = named("connection");
    assert_eq!(connection.len(), 1, "{spans:#?}");
    let connection = connection[0];
    assert_eq!(attribute(connection, "path"), Some(Value::from("/")));
    assert_eq!(
        attribute(connection, "transport"),
        Some(Value::from("ws-json"))
    );
    let messages = named("message");
    assert_eq!(messages.len(), 2, "{spans:#?}");
    for message in &messages {
        assert_eq!(message.parent_span_id, connection.span_context.span_id());
        assert_eq!(
            message.span_context.trace_id(),
            connection.span_context.trace_id()
        );
    }
    let outcome = |event: &str| {
        let message = messages
            .iter()
            .find(|message| attribute(message, "event") == Some(Value::from(event.to_owned())))
            .unwrap();
        attribute(message, "outcome")
    };
    assert_eq!(outcome("echo"), Some(Value::from("ok")));
    assert_eq!(outcome("fail"), Some(Value::from("exception")));
    // The handler's own span is a child of its message's.
    let work = named("echo_work");
    assert_eq!(work.len(), 1);
    let echo = messages
        .iter()
        .find(|message| attribute(message, "event") == Some(Value::from("echo")))
        .unwrap();
    assert_eq!(work[0].parent_span_id, echo.span_context.span_id());
}
