//! The `idle` scenario: many idle connections (memory per connection, connection setup rate),
//! optionally with a fraction of them echoing in a closed loop meanwhile.

use crate::client::{self, Counts, Protocol, Result, Target, Ws};
use crate::stats::{self, Latency, parse_duration};
use crate::sys::{self, Probe};
use serde::Serialize;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

/// How long one echo reply may take before the connection counts as failed.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long closing every connection may take in all.
const CLOSE_ALL_TIMEOUT: Duration = Duration::from_secs(15);

/// The `idle` subcommand's arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct IdleArgs {
    /// The server's WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:3000/")]
    pub(crate) url: String,
    /// Connections to open and hold.
    #[arg(short = 'c', long, default_value_t = 10_000)]
    pub(crate) connections: usize,
    /// The server's pid, to read its memory (VmRSS) and descriptors.
    #[arg(long)]
    pub(crate) pid: Option<u32>,
    /// Percent of the connections that echo once all are open.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) active_percent: f64,
    /// Each active connection sends one echo per interval (0: a closed loop, as fast as the
    /// server answers — a throughput test, whose RTT is mostly queueing).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub(crate) active_interval: Duration,
    /// How long the connections are held (and the active ones echo) once all are open.
    #[arg(short = 'd', long, default_value = "5s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// Handshakes in flight at once while connecting.
    #[arg(long, default_value_t = 128)]
    pub(crate) concurrency: usize,
    /// Batches to open the connections in; the server's memory is read after each.
    #[arg(long, default_value_t = 8)]
    pub(crate) batches: usize,
    /// Loopback source addresses to spread connections over (127.0.0.2 and up).
    #[arg(long, default_value_t = 32)]
    pub(crate) sources: usize,
    /// Bytes of data in each echo message.
    #[arg(long, default_value_t = 32)]
    pub(crate) payload: usize,
    /// After closing, open the same number of idle connections again and compare the server's
    /// memory with the first round's (memory not reused: a leak).
    #[arg(long)]
    pub(crate) reopen: bool,
    /// The wire protocol (`socketio`: Engine.IO's WebSocket transport at `/socket.io/`, each
    /// connection CONNECTed to the namespace `/`).
    #[arg(long, value_enum, default_value_t = Protocol::WsJson)]
    pub(crate) protocol: Protocol,
}

/// What an `idle` run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IdleResult {
    /// Connections asked for.
    pub(crate) connections: usize,
    /// Connections opened.
    pub(crate) connected: usize,
    /// Connections that could not be opened, by error.
    pub(crate) connect_errors: Counts,
    /// Connections opened per second (time spent connecting only).
    pub(crate) connects_per_sec: f64,
    /// The server's memory before the first connection, in bytes.
    pub(crate) rss_before: Option<u64>,
    /// The server's memory with every connection open and idle, in bytes.
    pub(crate) rss_open: Option<u64>,
    /// The server's memory after the hold (and the active connections' echoing), in bytes.
    pub(crate) rss_held: Option<u64>,
    /// The server's memory once every connection is closed, in bytes.
    pub(crate) rss_after_close: Option<u64>,
    /// `(rss_open - rss_before) / connected`.
    pub(crate) bytes_per_connection: Option<f64>,
    /// (connections open, server memory) after each batch.
    pub(crate) rss_points: Vec<(usize, u64)>,
    /// The least-squares slope of those points, in bytes per connection.
    pub(crate) slope_bytes_per_connection: Option<f64>,
    /// The line through those points at 1,000,000 connections, in bytes.
    pub(crate) projected_rss_1m: Option<f64>,
    /// The server's open descriptors before, with every connection open, and after closing.
    pub(crate) server_fds: [Option<u64>; 3],
    /// How long the connections were held (and the active ones echoed), in seconds.
    pub(crate) hold_s: f64,
    /// Connections that echoed.
    pub(crate) active: usize,
    /// Their round trips.
    pub(crate) active_round_trips: u64,
    /// Their round-trip times.
    pub(crate) active_rtt: Latency,
    /// Replies that were not exactly the expected frame.
    pub(crate) mismatches: u64,
    /// Connections that ended before the run did, by how they ended.
    pub(crate) unexpected_ends: Counts,
    /// Connections whose close handshake did not complete in time.
    pub(crate) unclean_closes: u64,
    /// The same number of idle connections opened again after closing (with `--reopen`).
    pub(crate) reopen: Option<Reopen>,
    /// Seconds each phase took.
    pub(crate) phases: Vec<(&'static str, f64)>,
}

/// The second round of connections: does the server reuse what the first round freed?
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Reopen {
    /// Connections opened.
    pub(crate) connected: usize,
    /// The server's memory with them open, in bytes (compare with the first round's).
    pub(crate) rss_open: Option<u64>,
    /// The server's memory once they are closed, in bytes.
    pub(crate) rss_after_close: Option<u64>,
    /// The server's descriptors once they are closed.
    pub(crate) server_fds_after_close: Option<u64>,
    /// Connect errors and connections that ended early.
    pub(crate) problems: Counts,
}

/// What one connection saw.
#[derive(Debug)]
struct Outcome {
    /// Round-trip times (active connections only: a histogram is ~100 KB, too much for each of
    /// tens of thousands of idle ones).
    histogram: Option<hdrhistogram::Histogram<u64>>,
    /// Mismatched replies.
    mismatches: u64,
    /// How the connection ended, if it ended before the run.
    ended: Option<String>,
    /// Whether the close handshake completed.
    clean_close: bool,
}

/// The echo request and the reply expected.
#[derive(Debug, Clone)]
struct Echo {
    /// The frame sent.
    request: Utf8Bytes,
    /// The frame expected back.
    expected: Utf8Bytes,
    /// The pace (zero: a closed loop).
    interval: Duration,
}

/// Runs the scenario.
pub(crate) async fn run(args: &IdleArgs) -> Result<IdleResult> {
    let limits = sys::raise_nofile()?;
    let needed = u64::try_from(args.connections).unwrap_or(u64::MAX) + 64;
    if limits.0 < needed {
        eprintln!(
            "warning: {} connections need about {needed} descriptors; the limit is {}",
            args.connections, limits.0
        );
    }
    let probe = Probe::new(args.pid);
    let target = Target::resolve(&args.url, args.sources, args.protocol).await?;
    let data = "x".repeat(args.payload);
    let echo = Echo {
        request: args.protocol.frame("echo", &format!("\"{data}\"")).into(),
        expected: args.protocol.frame("echo", &format!("\"{data}\"")).into(),
        interval: args.active_interval,
    };
    // Every `every`-th connection is active.
    let every = if args.active_percent > 0.0 {
        ((100.0 / args.active_percent).round() as usize).max(1)
    } else {
        usize::MAX
    };

    let mut phases = Phases::default();
    let fds_before = probe.fds().await;
    let rss_before = probe.rss();
    let mut rss_points = Vec::new();
    if let Some(rss) = rss_before {
        rss_points.push((0, rss));
    }
    let (go, stop) = (CancellationToken::new(), CancellationToken::new());
    let opened = open(
        &target,
        args,
        every,
        &echo,
        &go,
        &stop,
        &probe,
        &mut rss_points,
    )
    .await;
    let connected = opened.tasks.len();
    let rss_open = probe.rss();
    let fds_open = probe.fds().await;
    phases.mark("open");

    go.cancel();
    let active = if every == usize::MAX {
        0
    } else {
        connected.div_ceil(every)
    };
    sleep(args.duration).await;
    stop.cancel();
    let rss_held = probe.rss();
    phases.mark("hold");
    let closed = close_all(opened.tasks).await;
    phases.mark("close");
    // The server releases its descriptors once it has seen the closes.
    let fds_after = match fds_before {
        Some(before) => probe.wait_fds(before, Duration::from_secs(10)).await,
        None => None,
    };
    let rss_after_close = probe.rss();
    phases.mark("server released descriptors");

    // The same number of connections again: a server that frees what a connection used reuses
    // that memory, so its RSS should not grow past `rss_open`.
    let mut reopen = None;
    if args.reopen {
        let (go, stop) = (CancellationToken::new(), CancellationToken::new());
        let mut points = Vec::new();
        let again = open(
            &target,
            args,
            usize::MAX,
            &echo,
            &go,
            &stop,
            &probe,
            &mut points,
        )
        .await;
        let rss_reopened = probe.rss();
        phases.mark("reopen");
        stop.cancel();
        let closed = close_all(again.tasks).await;
        phases.mark("close again");
        let fds_after = match fds_before {
            Some(before) => probe.wait_fds(before, Duration::from_secs(10)).await,
            None => None,
        };
        phases.mark("server released descriptors again");
        let mut problems = again.errors;
        problems.merge(&closed.unexpected_ends);
        reopen = Some(Reopen {
            connected: points.last().map_or(0, |p| p.0),
            rss_open: rss_reopened,
            rss_after_close: probe.rss(),
            server_fds_after_close: fds_after,
            problems,
        });
    }

    let points: Vec<(f64, f64)> = rss_points
        .iter()
        .map(|&(n, rss)| (n as f64, rss as f64))
        .collect();
    let fit = stats::linear_fit(&points);
    let active_rtt = Latency::of(&closed.histogram);
    Ok(IdleResult {
        connections: args.connections,
        connected,
        connect_errors: opened.errors,
        connects_per_sec: connected as f64 / opened.connecting.as_secs_f64().max(1e-9),
        rss_before,
        rss_open,
        rss_held,
        rss_after_close,
        bytes_per_connection: match (rss_before, rss_open) {
            (Some(before), Some(open)) if connected > 0 => {
                Some((open as f64 - before as f64) / connected as f64)
            }
            _ => None,
        },
        rss_points,
        slope_bytes_per_connection: fit.map(|(_, slope)| slope),
        projected_rss_1m: fit.map(|(intercept, slope)| intercept + slope * 1e6),
        server_fds: [fds_before, fds_open, fds_after],
        hold_s: stats::secs(args.duration),
        active,
        active_round_trips: active_rtt.count,
        active_rtt,
        mismatches: closed.mismatches,
        unexpected_ends: closed.unexpected_ends,
        unclean_closes: closed.unclean_closes,
        reopen,
        phases: phases.0,
    })
}

/// How long each phase of a run took.
#[derive(Debug)]
struct Phases(Vec<(&'static str, f64)>, Instant);

impl Default for Phases {
    fn default() -> Self {
        Phases(Vec::new(), Instant::now())
    }
}

impl Phases {
    /// Ends a phase.
    fn mark(&mut self, name: &'static str) {
        self.0.push((name, self.1.elapsed().as_secs_f64()));
        self.1 = Instant::now();
    }
}

/// Connections opened and held by their tasks.
#[derive(Debug)]
struct Opened {
    /// One task per connection.
    tasks: Vec<JoinHandle<Outcome>>,
    /// Connections that could not be opened, by error.
    errors: Counts,
    /// Time spent connecting (without the pauses between batches).
    connecting: Duration,
}

/// Opens `args.connections` connections in `args.batches` batches, reading the server's memory
/// after each batch into `points`; every `every`-th connection echoes from `go` on.
#[allow(clippy::too_many_arguments)]
async fn open(
    target: &Target,
    args: &IdleArgs,
    every: usize,
    echo: &Echo,
    go: &CancellationToken,
    stop: &CancellationToken,
    probe: &Probe,
    points: &mut Vec<(usize, u64)>,
) -> Opened {
    let mut opened = Opened {
        tasks: Vec::with_capacity(args.connections),
        errors: Counts::default(),
        connecting: Duration::ZERO,
    };
    let batches = args.batches.clamp(1, args.connections.max(1));
    for batch in 0..batches {
        let range = args.connections * batch / batches..args.connections * (batch + 1) / batches;
        let started = Instant::now();
        let (connections, errors) = target.connect_many(range, args.concurrency).await;
        opened.connecting += started.elapsed();
        opened.errors.merge(&errors);
        for (index, ws) in connections {
            // `usize::MAX` means none: index 0 would otherwise be active.
            let active = every != usize::MAX && index % every == 0;
            opened.tasks.push(tokio::spawn(hold(
                ws,
                active.then(|| echo.clone()),
                go.clone(),
                stop.clone(),
            )));
        }
        // Let the server finish setting up the last connections before reading its memory.
        sleep(Duration::from_millis(200)).await;
        if let Some(rss) = probe.rss() {
            points.push((opened.tasks.len(), rss));
        }
    }
    opened
}

/// What the connections saw, gathered once they are closed.
#[derive(Debug)]
struct Closed {
    /// Round-trip times of the active connections.
    histogram: hdrhistogram::Histogram<u64>,
    /// Mismatched replies.
    mismatches: u64,
    /// Connections whose close handshake did not complete in time.
    unclean_closes: u64,
    /// Connections that ended before the run did, by how they ended.
    unexpected_ends: Counts,
}

/// Waits for every connection task to close its connection (they were told to stop), at most
/// [`CLOSE_ALL_TIMEOUT`] in all; tasks still running then are aborted, which drops their
/// connections.
async fn close_all(tasks: Vec<JoinHandle<Outcome>>) -> Closed {
    let mut closed = Closed {
        histogram: stats::fine_histogram(),
        mismatches: 0,
        unclean_closes: 0,
        unexpected_ends: Counts::default(),
    };
    let deadline = Instant::now() + CLOSE_ALL_TIMEOUT;
    for task in tasks {
        let abort = task.abort_handle();
        match timeout(deadline.saturating_duration_since(Instant::now()), task).await {
            Ok(Ok(outcome)) => {
                if let Some(theirs) = &outcome.histogram {
                    stats::merge(&mut closed.histogram, theirs);
                }
                closed.mismatches += outcome.mismatches;
                if let Some(ended) = outcome.ended {
                    closed.unexpected_ends.add(ended);
                }
                closed.unclean_closes += u64::from(!outcome.clean_close);
            }
            Ok(Err(err)) => closed.unexpected_ends.add(format!("task failed: {err}")),
            Err(_) => {
                abort.abort();
                closed.unclean_closes += 1;
            }
        }
    }
    closed
}

/// Holds one connection until `stop`: reads (so pings are answered and closes seen) and, when
/// `echo` is given, echoes in a closed loop from `go` on. Then closes it.
async fn hold(
    mut ws: Ws,
    echo: Option<Echo>,
    go: CancellationToken,
    stop: CancellationToken,
) -> Outcome {
    let mut outcome = Outcome {
        histogram: None,
        mismatches: 0,
        ended: None,
        clean_close: false,
    };
    // Idle until `go` (active connections only) or `stop`, reading whatever comes.
    let wake = if echo.is_some() { &go } else { &stop };
    tokio::select! {
        () = wake.cancelled() => {}
        () = stop.cancelled() => {}
        next = client::next_text(&mut ws) => {
            outcome.ended = Some(next.map_or_else(|ended| ended, |_| "unexpected text frame".to_owned()));
            return outcome;
        }
    }
    if let Some(echo) = echo {
        let histogram = outcome.histogram.insert(stats::fine_histogram());
        let mut next_send = Instant::now();
        while !stop.is_cancelled() {
            if !echo.interval.is_zero() {
                // Paced: one echo per interval, on a fixed schedule (a late reply does not
                // shift the next send, so slow answers cannot lower the offered load).
                tokio::select! {
                    () = tokio::time::sleep_until(next_send) => {}
                    () = stop.cancelled() => break,
                }
                next_send += echo.interval;
            }
            let sent_at = Instant::now();
            if let Err(ended) = client::send_text(&mut ws, echo.request.clone()).await {
                outcome.ended = Some(ended);
                return outcome;
            }
            match timeout(REPLY_TIMEOUT, client::next_text(&mut ws)).await {
                Ok(Ok(reply)) => {
                    outcome.mismatches += u64::from(reply != echo.expected);
                    stats::record(histogram, sent_at.elapsed());
                }
                Ok(Err(ended)) => {
                    outcome.ended = Some(ended);
                    return outcome;
                }
                Err(_) => {
                    outcome.ended = Some("reply timed out".to_owned());
                    return outcome;
                }
            }
        }
    }
    outcome.clean_close = client::close(ws).await;
    outcome
}

/// Prints a run's figures.
pub(crate) fn print(result: &IdleResult) {
    let mib = |bytes: Option<u64>| {
        bytes.map_or("?".to_owned(), |b| {
            format!("{:.1} MiB", b as f64 / 1048576.0)
        })
    };
    println!(
        "idle: {} of {} connected at {:.0} connections/s; connect errors: {}",
        result.connected,
        result.connections,
        result.connects_per_sec,
        result.connect_errors.summary()
    );
    println!(
        "      server RSS {} before, {} open, {} held, {} after closing; {} bytes/connection, slope {} bytes/connection, projected {} at 1M",
        mib(result.rss_before),
        mib(result.rss_open),
        mib(result.rss_held),
        mib(result.rss_after_close),
        result
            .bytes_per_connection
            .map_or("?".to_owned(), |b| format!("{b:.0}")),
        result
            .slope_bytes_per_connection
            .map_or("?".to_owned(), |b| format!("{b:.0}")),
        result
            .projected_rss_1m
            .map_or("?".to_owned(), |b| format!("{:.2} GiB", b / 1073741824.0)),
    );
    let fds = |fds: Option<u64>| fds.map_or("?".to_owned(), |n| n.to_string());
    println!(
        "      server fds {} before, {} open, {} after closing; ended early: {}; unclean closes {}",
        fds(result.server_fds[0]),
        fds(result.server_fds[1]),
        fds(result.server_fds[2]),
        result.unexpected_ends.summary(),
        result.unclean_closes,
    );
    if let Some(reopen) = &result.reopen {
        println!(
            "      reopened {}: server RSS {} open ({} the first time), {} after closing, fds {}; problems: {}",
            reopen.connected,
            mib(reopen.rss_open),
            mib(result.rss_open),
            mib(reopen.rss_after_close),
            fds(reopen.server_fds_after_close),
            reopen.problems.summary(),
        );
    }
    let phases: Vec<String> = result
        .phases
        .iter()
        .map(|(name, secs)| format!("{name} {secs:.1} s"))
        .collect();
    println!("      phases: {}", phases.join(", "));
    if result.active > 0 {
        println!(
            "      {} active: {} round trips, RTT p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs, mismatches {}",
            result.active,
            result.active_round_trips,
            result.active_rtt.p50_us,
            result.active_rtt.p99_us,
            result.active_rtt.p999_us,
            result.active_rtt.max_us,
            result.mismatches,
        );
    }
}
