//! The `echo` scenario: C connections, each in a closed loop (send, await the reply, repeat).

use crate::client::{self, Counts, Protocol, Result, Target};
use crate::stats::{self, Latency, parse_duration};
use crate::sys::{CpuMark, Probe};
use serde::Serialize;
use std::time::Duration;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// How long one reply may take before the connection counts as failed.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The `echo` subcommand's arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct EchoArgs {
    /// The server's WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:3000/")]
    pub(crate) url: String,
    /// Connections, each in a closed loop.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub(crate) connections: usize,
    /// How long to measure (after the warm-up).
    #[arg(short = 'd', long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// Warm-up before measuring (round trips in it are not counted).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub(crate) warmup: Duration,
    /// Bytes of data in each message (a JSON string of this length).
    #[arg(long, default_value_t = 32)]
    pub(crate) payload: usize,
    /// The server's pid, to measure its CPU time per round trip.
    #[arg(long)]
    pub(crate) pid: Option<u32>,
    /// Loopback source addresses to spread connections over (127.0.0.2 and up).
    #[arg(long, default_value_t = 32)]
    pub(crate) sources: usize,
    /// The wire protocol (`socketio`: Engine.IO's WebSocket transport at `/socket.io/`).
    #[arg(long, value_enum, default_value_t = Protocol::WsJson)]
    pub(crate) protocol: Protocol,
}

/// What an `echo` run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EchoResult {
    /// Connections asked for.
    pub(crate) connections: usize,
    /// Connections opened.
    pub(crate) connected: usize,
    /// Connections that could not be opened, by error.
    pub(crate) connect_errors: Counts,
    /// The measured time, in seconds.
    pub(crate) duration_s: f64,
    /// Round trips completed in the measured time.
    pub(crate) round_trips: u64,
    /// Round trips per second.
    pub(crate) round_trips_per_sec: f64,
    /// Round-trip times.
    pub(crate) rtt: Latency,
    /// Replies that were not exactly the expected frame.
    pub(crate) mismatches: u64,
    /// Connections that ended before the run did, by how they ended.
    pub(crate) unexpected_ends: Counts,
    /// Connections whose close handshake did not complete in time.
    pub(crate) unclean_closes: u64,
    /// The server's CPU time per round trip, in µs.
    pub(crate) server_cpu_us_per_round_trip: Option<f64>,
    /// The server's CPU use while measuring, in percent of one core.
    pub(crate) server_cpu_percent: Option<f64>,
    /// The load generator's CPU use while measuring, in percent of one core.
    pub(crate) client_cpu_percent: Option<f64>,
}

/// What one connection saw.
#[derive(Debug)]
struct ConnectionOutcome {
    /// Round-trip times in the measured time.
    histogram: hdrhistogram::Histogram<u64>,
    /// Replies that differed from the expected frame.
    mismatches: u64,
    /// How the connection ended, if it ended before the run.
    ended: Option<String>,
    /// Whether the close handshake completed.
    clean_close: bool,
}

/// Runs the scenario.
pub(crate) async fn run(args: &EchoArgs) -> Result<EchoResult> {
    let probe = Probe::new(args.pid);
    let me = Probe::new(Some(std::process::id()));
    let target = Target::resolve(&args.url, args.sources, args.protocol).await?;
    let data = format!("\"{}\"", "x".repeat(args.payload));
    let request: Utf8Bytes = args.protocol.frame("echo", &data).into();
    let expected: Utf8Bytes = args.protocol.frame("echo", &data).into();

    let (connections, connect_errors) = target.connect_many(0..args.connections, 64).await;
    let connected = connections.len();
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + args.warmup;
    let end = measure_from + args.duration;

    let mut tasks = Vec::with_capacity(connected);
    for (_, mut ws) in connections {
        let (request, expected) = (request.clone(), expected.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcome = ConnectionOutcome {
                histogram: stats::fine_histogram(),
                mismatches: 0,
                ended: None,
                clean_close: false,
            };
            sleep_until(start).await;
            loop {
                let sent_at = Instant::now();
                if sent_at >= end {
                    break;
                }
                if let Err(ended) = client::send_text(&mut ws, request.clone()).await {
                    outcome.ended = Some(ended);
                    break;
                }
                match timeout(REPLY_TIMEOUT, client::next_text(&mut ws)).await {
                    Ok(Ok(reply)) => {
                        if reply != expected {
                            outcome.mismatches += 1;
                        }
                        if sent_at >= measure_from {
                            stats::record(&mut outcome.histogram, sent_at.elapsed());
                        }
                    }
                    Ok(Err(ended)) => {
                        outcome.ended = Some(ended);
                        break;
                    }
                    Err(_) => {
                        outcome.ended = Some("reply timed out".to_owned());
                        break;
                    }
                }
            }
            outcome.clean_close = client::close(ws).await;
            outcome
        }));
    }

    sleep_until(measure_from).await;
    let (cpu, my_cpu) = (CpuMark::take(&probe), CpuMark::take(&me));
    sleep_until(end).await;
    let (cpu, my_cpu) = (cpu.since(&probe), my_cpu.since(&me));

    let mut histogram = stats::fine_histogram();
    let (mut mismatches, mut unclean_closes) = (0, 0);
    let mut unexpected_ends = Counts::default();
    for task in tasks {
        let outcome = task.await?;
        stats::merge(&mut histogram, &outcome.histogram);
        mismatches += outcome.mismatches;
        if let Some(ended) = outcome.ended {
            unexpected_ends.add(ended);
        }
        unclean_closes += u64::from(!outcome.clean_close);
    }
    let rtt = Latency::of(&histogram);
    let duration_s = stats::secs(args.duration);
    Ok(EchoResult {
        connections: args.connections,
        connected,
        connect_errors,
        duration_s,
        round_trips: rtt.count,
        round_trips_per_sec: rtt.count as f64 / duration_s,
        rtt,
        mismatches,
        unexpected_ends,
        unclean_closes,
        server_cpu_us_per_round_trip: cpu
            .filter(|_| rtt.count > 0)
            .map(|(used, _)| used as f64 / rtt.count as f64),
        server_cpu_percent: cpu.map(|(_, percent)| percent),
        client_cpu_percent: my_cpu.map(|(_, percent)| percent),
    })
}

/// Prints a run's figures.
pub(crate) fn print(result: &EchoResult) {
    println!(
        "echo: {} of {} connected, {:.1} s: {} round trips = {:.0}/s; RTT p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs",
        result.connected,
        result.connections,
        result.duration_s,
        result.round_trips,
        result.round_trips_per_sec,
        result.rtt.p50_us,
        result.rtt.p99_us,
        result.rtt.p999_us,
        result.rtt.max_us,
    );
    if let (Some(per), Some(percent)) = (
        result.server_cpu_us_per_round_trip,
        result.server_cpu_percent,
    ) {
        println!(
            "      server CPU {per:.2} µs per round trip ({percent:.0} % of a core; load generator {:.0} %)",
            result.client_cpu_percent.unwrap_or(f64::NAN)
        );
    }
    println!(
        "      mismatched replies {}, connect errors: {}, ended early: {}, unclean closes {}",
        result.mismatches,
        result.connect_errors.summary(),
        result.unexpected_ends.summary(),
        result.unclean_closes,
    );
}
