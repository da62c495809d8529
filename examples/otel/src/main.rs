//! `cargo run -p otel`: the traced gateway on 127.0.0.1:$PORT (default 3000), its spans printed
//! by OpenTelemetry's stdout exporter as they end. Connect with any ws-json client and send
//! `{"event":"echo","data":1}`.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let provider = otel::provider(opentelemetry_stdout::SpanExporter::default());
    otel::install(&provider);
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listening = otel::app().bind(format!("127.0.0.1:{port}")).await?;
    println!("otel listening on http://{}", listening.local_addr());
    listening.run().await?;
    provider.shutdown()?;
    Ok(())
}
