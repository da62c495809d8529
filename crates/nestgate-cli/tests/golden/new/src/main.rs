//! Serves shop: every gateway of the library, on 127.0.0.1:$PORT (default 3000), until
//! Ctrl-C or SIGTERM.

#[tokio::main]
async fn main() -> nestgate::Result<()> {
    // Logs (the development-secret warning among them) go to stderr: stdout is for what a
    // script reads (the address, a printed token).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listening = shop::app().bind(format!("127.0.0.1:{port}")).await?;
    println!("shop listening on http://{}", listening.local_addr());
    listening.run().await
}
