//! nestgate's spans in OpenTelemetry: the `connection` and `message` spans
//! (`nestgate::metrics::TRACE_TARGET`) go through `tracing-opentelemetry` to any exporter.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Spans to stdout; for a collector, `opentelemetry_otlp::SpanExporter` instead.
//! let provider = otel::provider(opentelemetry_stdout::SpanExporter::default());
//! otel::install(&provider);
//! otel::app().listen("127.0.0.1:3000").await?;
//! # Ok(()) }
//! ```
//!
//! What it takes, in any app: a `tracing_opentelemetry` layer with a tracer of your provider,
//! and a filter that lets `nestgate::trace` through at `DEBUG` (nestgate's spans are off
//! otherwise). Nothing of a payload is recorded; a handler's own spans and events nest inside
//! its message's span.

use nestgate::prelude::*;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// A gateway to trace: `echo` answers, `fail` fails.
#[websocket_gateway(path = "/")]
#[derive(Debug, Default)]
pub struct Traced;

#[websocket_gateway]
impl Traced {
    /// Answers the data.
    #[subscribe_message("echo")]
    fn echo(&self, Data(data): Data<serde_json::Value>) -> serde_json::Value {
        // A handler's own span nests in its message's.
        let _span = tracing::info_span!("echo_work").entered();
        data
    }

    /// Fails: the message span's `outcome` says `exception`.
    #[subscribe_message("fail")]
    fn fail(&self) -> Result<(), WsException> {
        Err(WsException::new("no"))
    }
}

/// The app.
pub fn app() -> nestgate::App {
    nestgate::App::bare().gateway::<Traced>()
}

/// A tracer provider exporting each span as it ends (a simple processor: for a collector,
/// `with_batch_exporter`).
pub fn provider(exporter: impl SpanExporter + 'static) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .build()
}

/// The global subscriber: nestgate's spans (and the app's) to OpenTelemetry, logs at `info`.
pub fn install(provider: &SdkTracerProvider) {
    let tracer = provider.tracer("nestgate");
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,nestgate::trace=debug".into());
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .init();
}
