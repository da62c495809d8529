//! The `broadcast` scenario: C receivers and one sender emitting at a fixed rate; and the ramp
//! that looks for the highest rate a server sustains.

use crate::client::{self, Counts, Protocol, Result, Target, Ws};
use crate::stats::{self, Latency, parse_duration};
use crate::sys::{CpuMark, Probe};
use futures_util::{SinkExt as _, StreamExt as _};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, sleep, sleep_until, timeout_at};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// The highest rate the ramp tries, in messages per second.
const MAX_RATE: f64 = 1_000_000.0;

/// The `broadcast` subcommand's arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BroadcastArgs {
    /// The server's WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:3000/")]
    pub(crate) url: String,
    /// More servers of the same cluster (repeatable): receivers are spread evenly over `--url`
    /// and these; the sender stays on `--url`.
    #[arg(long = "also-url")]
    pub(crate) also_urls: Vec<String>,
    /// Receivers (the sender is one more connection).
    #[arg(short = 'c', long, default_value_t = 1000)]
    pub(crate) connections: usize,
    /// Broadcasts per second the sender emits (with --ramp: the first rate tried).
    #[arg(long, default_value_t = 100.0)]
    pub(crate) rate: f64,
    /// How long the sender emits (with --ramp: per step).
    #[arg(short = 'd', long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// After the sender stops, how long receivers may take to get what is still on its way.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub(crate) drain: Duration,
    /// Look for the highest rate whose p99 stays under --p99-limit with no loss: doubling from
    /// --rate, then bisecting.
    #[arg(long)]
    pub(crate) ramp: bool,
    /// The ramp's latency limit.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    pub(crate) p99_limit: Duration,
    /// The ramp's most steps in all.
    #[arg(long, default_value_t = 14)]
    pub(crate) max_steps: usize,
    /// The ramp's bisection steps after the first failing rate.
    #[arg(long, default_value_t = 4)]
    pub(crate) bisections: usize,
    /// The server's pid, to measure its CPU time per delivery.
    #[arg(long)]
    pub(crate) pid: Option<u32>,
    /// More processes whose CPU time counts as the server's (repeatable): the other nodes of a
    /// cluster, Redis.
    #[arg(long = "also-pid")]
    pub(crate) also_pids: Vec<u32>,
    /// Loopback source addresses to spread connections over (127.0.0.2 and up).
    #[arg(long, default_value_t = 32)]
    pub(crate) sources: usize,
    /// The wire protocol (`socketio`: Engine.IO's WebSocket transport at `/socket.io/`).
    #[arg(long, value_enum, default_value_t = Protocol::WsJson)]
    pub(crate) protocol: Protocol,
}

/// What one step (one rate) measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepResult {
    /// The rate asked for, in broadcasts per second.
    pub(crate) offered_rate: f64,
    /// The rate the sender achieved (lower when the server does not read its frames fast enough).
    pub(crate) sent_rate: f64,
    /// Receivers connected.
    pub(crate) receivers: usize,
    /// Receivers that could not connect, by error.
    pub(crate) connect_errors: Counts,
    /// Broadcasts sent.
    pub(crate) sent: u64,
    /// Deliveries expected: sent × receivers.
    pub(crate) expected: u64,
    /// Deliveries received.
    pub(crate) delivered: u64,
    /// Deliveries per second of sending.
    pub(crate) deliveries_per_sec: f64,
    /// Expected deliveries that never arrived (negative: duplicates).
    pub(crate) lost: i64,
    /// Delivery latency, from the time the broadcast was due to be sent.
    pub(crate) latency: Latency,
    /// Connections (receivers or the sender) that ended before the step did, by how they ended.
    pub(crate) unexpected_ends: Counts,
    /// Seconds spent sending.
    pub(crate) sending_s: f64,
    /// Seconds from the first send until every delivery arrived (or the drain time ran out):
    /// the window CPU time is measured over.
    pub(crate) window_s: f64,
    /// The server's CPU time per delivery, in µs.
    pub(crate) server_cpu_us_per_delivery: Option<f64>,
    /// The server's CPU use during the step, in percent of one core.
    pub(crate) server_cpu_percent: Option<f64>,
    /// The load generator's CPU use during the step, in percent of one core (near 100 with
    /// one thread: the generator, not the server, may be the limit).
    pub(crate) client_cpu_percent: Option<f64>,
    /// Whether the step passed: p99 under the limit, nothing lost, no connection ended.
    pub(crate) passed: bool,
}

/// What a ramp found.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RampResult {
    /// Every step, in the order run.
    pub(crate) steps: Vec<StepResult>,
    /// The passing step with the most deliveries per second, if any passed.
    pub(crate) best: Option<StepResult>,
}

/// What one receiver saw.
#[derive(Debug)]
struct ReceiverOutcome {
    /// Delivery latencies.
    histogram: hdrhistogram::Histogram<u64>,
    /// How the connection ended, if it ended before the step.
    ended: Option<String>,
}

/// Runs one step at `rate` broadcasts per second.
pub(crate) async fn step(
    args: &BroadcastArgs,
    rate: f64,
    p99_limit: Duration,
) -> Result<StepResult> {
    let probe = Probe::new(args.pid);
    let counted: Vec<Probe> = args
        .also_pids
        .iter()
        .map(|&pid| Probe::new(Some(pid)))
        .collect();
    let me = Probe::new(Some(std::process::id()));
    let target = Target::resolve(&args.url, args.sources, args.protocol).await?;
    let mut others = Vec::new();
    for url in &args.also_urls {
        others.push(Target::resolve(url, args.sources, args.protocol).await?);
    }
    // Every timestamp in a frame is in ns since this instant, shared by sender and receivers.
    let clock = std::time::Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();

    // Receivers are spread evenly over the servers: server k gets indices k, k + n, k + 2n...
    let mut receivers = Vec::with_capacity(args.connections);
    let mut connect_errors = Counts::default();
    let servers = 1 + others.len();
    for (k, server) in std::iter::once(&target).chain(&others).enumerate() {
        let share = args.connections / servers + usize::from(k < args.connections % servers);
        let first = receivers.len();
        let (connected, errors) = server.connect_many(first..first + share, 64).await;
        receivers.extend(connected);
        connect_errors.merge(&errors);
    }
    let receiver_count = receivers.len();
    let tasks: Vec<_> = receivers
        .into_iter()
        .map(|(_, ws)| tokio::spawn(receive(ws, clock, delivered.clone(), stop.clone())))
        .collect();
    let sender = target.connect(args.connections).await?;
    let (mut sink, mut own) = sender.split();
    // The sender gets every broadcast too: it must read them, or its queue would fill up.
    let own_reader = {
        let stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return (own, None),
                    next = own.next() => match next {
                        Some(Ok(_)) => {}
                        other => return (own, Some(client::describe_end(other))),
                    }
                }
            }
        })
    };
    sleep(Duration::from_millis(100)).await;

    let cpu = CpuMark::take(&probe);
    let counted_cpu: Vec<CpuMark> = counted.iter().map(CpuMark::take).collect();
    let my_cpu = CpuMark::take(&me);
    let send_start = Instant::now();
    let end = send_start + args.duration;
    // A server that stops reading the sender's frames blocks its writes: give up after this.
    let give_up = end + client::SEND_TIMEOUT;
    let t0 = u64::try_from(clock.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let mut sent: u64 = 0;
    let mut sender_error = None;
    'sending: loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Broadcast k is due at k / rate; send every one due by now, then flush once.
        let due = ((now - send_start).as_secs_f64() * rate) as u64 + 1;
        while sent < due {
            let t = t0 + (sent as f64 / rate * 1e9) as u64;
            let frame = args
                .protocol
                .frame("broadcast", &format!(r#"{{"seq":{sent},"t":{t}}}"#));
            match timeout_at(give_up, sink.feed(Message::Text(frame.into()))).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    sender_error = Some(client::describe_end(Some(Err(err))));
                    break 'sending;
                }
                Err(_) => {
                    sender_error = Some("blocked: the server stopped reading".to_owned());
                    break 'sending;
                }
            }
            sent += 1;
        }
        match timeout_at(give_up, sink.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                sender_error = Some(client::describe_end(Some(Err(err))));
                break;
            }
            Err(_) => {
                sender_error = Some("blocked: the server stopped reading".to_owned());
                break;
            }
        }
        let next = send_start + Duration::from_secs_f64(sent as f64 / rate);
        sleep_until(next.min(end)).await;
    }
    let sending = send_start.elapsed();

    let expected = sent * receiver_count as u64;
    let drain_deadline = Instant::now() + args.drain;
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_deadline {
        sleep(Duration::from_millis(10)).await;
    }
    // The server's CPU and that of the processes counted with it (all of them, or none).
    let cpu = cpu.since(&probe).and_then(|first| {
        counted_cpu
            .iter()
            .zip(&counted)
            .try_fold(first, |(used, percent), (mark, probe)| {
                let (more, more_percent) = mark.since(probe)?;
                Some((used + more, percent + more_percent))
            })
    });
    let my_cpu = my_cpu.since(&me);
    let window = send_start.elapsed();
    stop.cancel();

    let mut histogram = stats::coarse_histogram();
    let mut unexpected_ends = Counts::default();
    if let Some(ended) = sender_error {
        unexpected_ends.add(format!("sender: {ended}"));
    }
    for task in tasks {
        let outcome = task.await?;
        stats::merge(&mut histogram, &outcome.histogram);
        if let Some(ended) = outcome.ended {
            unexpected_ends.add(ended);
        }
    }
    let (own, own_end) = own_reader.await?;
    if let Some(ended) = own_end {
        unexpected_ends.add(format!("sender: {ended}"));
    }
    if let Ok(ws) = sink.reunite(own) {
        client::close(ws).await;
    }

    let delivered = delivered.load(Ordering::Relaxed);
    let latency = Latency::of(&histogram);
    let lost =
        i64::try_from(expected).unwrap_or(i64::MAX) - i64::try_from(delivered).unwrap_or(i64::MAX);
    let passed = lost == 0
        && unexpected_ends.total() == 0
        && connect_errors.total() == 0
        && sent > 0
        && latency.p99_us < u64::try_from(p99_limit.as_micros()).unwrap_or(u64::MAX);
    Ok(StepResult {
        offered_rate: rate,
        sent_rate: sent as f64 / sending.as_secs_f64(),
        receivers: receiver_count,
        connect_errors,
        sent,
        expected,
        delivered,
        deliveries_per_sec: delivered as f64 / sending.as_secs_f64(),
        lost,
        latency,
        unexpected_ends,
        sending_s: sending.as_secs_f64(),
        window_s: window.as_secs_f64(),
        server_cpu_us_per_delivery: cpu
            .filter(|_| delivered > 0)
            .map(|(used, _)| used as f64 / delivered as f64),
        server_cpu_percent: cpu.map(|(_, percent)| percent),
        client_cpu_percent: my_cpu.map(|(_, percent)| percent),
        passed,
    })
}

/// One receiver: counts deliveries and records their latency until `stop`, then closes.
async fn receive(
    mut ws: Ws,
    clock: std::time::Instant,
    delivered: Arc<AtomicU64>,
    stop: CancellationToken,
) -> ReceiverOutcome {
    let mut outcome = ReceiverOutcome {
        histogram: stats::coarse_histogram(),
        ended: None,
    };
    // One cancellation future for the whole loop: a new one per frame would register and
    // unregister a waiter each time.
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        // Frames first: the stop signal is then polled only when no frame is ready.
        let next = tokio::select! {
            biased;
            next = client::next_text(&mut ws) => next,
            () = &mut stopped => break,
        };
        match next {
            Ok(text) => {
                let now = u64::try_from(clock.elapsed().as_nanos()).unwrap_or(u64::MAX);
                if let Some(t) = sent_at(&text) {
                    stats::record(
                        &mut outcome.histogram,
                        Duration::from_nanos(now.saturating_sub(t)),
                    );
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(ended) => {
                outcome.ended = Some(ended);
                return outcome;
            }
        }
    }
    client::close(ws).await;
    outcome
}

/// The `"t":<ns>` of a broadcast frame, without parsing the whole frame.
fn sent_at(frame: &str) -> Option<u64> {
    let at = frame.find(r#""t":"#)? + 4;
    let digits = frame[at..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(&frame[at..], |len| &frame[at..at + len]);
    digits.parse().ok()
}

/// Runs the ramp: doubling from `args.rate` until a step fails, then bisecting between the
/// last passing and the first failing rate; at most `max_steps` steps. Between steps it waits
/// for the server to go quiet. `on_step` sees each step as it completes.
pub(crate) async fn ramp(
    args: &BroadcastArgs,
    mut on_step: impl FnMut(&StepResult),
) -> Result<RampResult> {
    let probe = Probe::new(args.pid);
    let mut steps: Vec<StepResult> = Vec::new();
    let (mut good, mut bad): (Option<f64>, Option<f64>) = (None, None);
    let mut rate = args.rate;
    let mut bisections = 0;
    while steps.len() < args.max_steps {
        let result = step(args, rate, args.p99_limit).await?;
        on_step(&result);
        let passed = result.passed;
        steps.push(result);
        probe.wait_quiet(Duration::from_secs(5)).await;
        if passed {
            good = Some(rate);
        } else {
            bad = Some(rate);
        }
        rate = match (good, bad) {
            (Some(good), None) if good * 2.0 <= MAX_RATE => good * 2.0,
            (_, None) => break,
            (good, Some(bad)) => {
                let good = good.unwrap_or(0.0);
                if bisections >= args.bisections || bad - good <= (good * 0.05).max(1.0) {
                    break;
                }
                bisections += 1;
                (good + bad) / 2.0
            }
        };
    }
    let best = steps
        .iter()
        .filter(|step| step.passed)
        .max_by(|a, b| a.deliveries_per_sec.total_cmp(&b.deliveries_per_sec))
        .cloned();
    Ok(RampResult { steps, best })
}

/// Prints one step's figures.
pub(crate) fn print_step(step: &StepResult) {
    println!(
        "broadcast {:>8.1}/s to {} (sent {:.1}/s for {:.1} s, window {:.1} s): {:.0} deliveries/s, lost {}, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms{}{}{} => {}",
        step.offered_rate,
        step.receivers,
        step.sent_rate,
        step.sending_s,
        step.window_s,
        step.deliveries_per_sec,
        step.lost,
        step.latency.p50_us as f64 / 1000.0,
        step.latency.p99_us as f64 / 1000.0,
        step.latency.max_us as f64 / 1000.0,
        step.server_cpu_us_per_delivery
            .map(|cpu| format!(", server {cpu:.2} CPU-µs/delivery"))
            .unwrap_or_default(),
        match (step.server_cpu_percent, step.client_cpu_percent) {
            (Some(server), Some(client)) =>
                format!(" (CPU: server {server:.0} %, load generator {client:.0} %)"),
            (None, Some(client)) => format!(" (load generator CPU {client:.0} %)"),
            _ => String::new(),
        },
        if step.unexpected_ends.total() + step.connect_errors.total() > 0 {
            format!(
                ", ended early: {}, connect errors: {}",
                step.unexpected_ends.summary(),
                step.connect_errors.summary()
            )
        } else {
            String::new()
        },
        if step.passed { "pass" } else { "FAIL" },
    );
}

#[cfg(test)]
mod tests {
    use super::sent_at;

    #[test]
    fn the_timestamp_is_read_without_parsing_the_frame() {
        let frame = r#"{"event":"broadcast","data":{"seq":12,"t":123456789}}"#;
        assert_eq!(sent_at(frame), Some(123_456_789));
        assert_eq!(sent_at(r#"{"t":5"#), Some(5));
        assert_eq!(sent_at(r#"{"event":"echo","data":"x"}"#), None);
    }
}
