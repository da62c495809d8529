//! The auction server, or `token SUB ROLE [TTL_SECONDS]` to print a token signed with the same key.

use auction::auth::Keys;
use std::time::Duration;

#[tokio::main]
async fn main() -> nestgate::Result<()> {
    // Logs go to stderr: stdout is for what a script reads (the address, a printed token).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, sub, role, rest @ ..] = args.as_slice()
        && command == "token"
    {
        let ttl = rest.first().and_then(|t| t.parse().ok()).unwrap_or(3600);
        println!(
            "{}",
            Keys::from_env().issue(sub, role, Duration::from_secs(ttl))
        );
        return Ok(());
    }
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listening = auction::app().bind(format!("127.0.0.1:{port}")).await?;
    println!("auction listening on http://{}", listening.local_addr());
    listening.run().await
}
