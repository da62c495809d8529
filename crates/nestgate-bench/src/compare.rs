//! `compare`: starts nestgate's echo example and the raw-axum baseline itself, runs every
//! scenario against both alternately (A, B, A, B, ...), and reports medians side by side as a
//! table, JSON, and an SVG plot of the broadcast ramps.

use crate::broadcast::{self, BroadcastArgs, RampResult};
use crate::client::{Counts, Protocol, Result};
use crate::echo::{self, EchoArgs, EchoResult};
use crate::idle::{self, IdleArgs, IdleResult};
use crate::stats::median;
use crate::sys::{Contention, Probe};
use serde::Serialize;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, BufWriter};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};

/// Above this CPU use by other processes (percent of one CPU), a run is flagged as disturbed.
const CONTENDED: f64 = 10.0;

/// Above this CPU use (percent of its one CPU), the load generator may be what limits a step.
const GENERATOR_BOUND: f64 = 90.0;

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The `compare` subcommand's arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CompareArgs {
    /// The nestgate server: the echo example's binary.
    #[arg(long)]
    pub(crate) nestgate: PathBuf,
    /// The raw-axum baseline's binary.
    #[arg(long)]
    pub(crate) baseline: PathBuf,
    /// Short durations: the whole comparison takes about two minutes (for checking, not for
    /// publishing).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Where to write results.json, table.md, broadcast-ramp.svg and the servers' logs.
    #[arg(long, default_value = "target/bench")]
    pub(crate) out: PathBuf,
    /// Runs of each scenario against each server (the table shows medians).
    #[arg(long, default_value_t = 3)]
    pub(crate) repeats: usize,
    /// Only these scenarios (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub(crate) only: Vec<Scenario>,
    /// The CPU the servers are pinned to (with `taskset`).
    #[arg(long, default_value_t = 0)]
    pub(crate) server_cpu: usize,
    /// The CPU the load generator pins itself to.
    #[arg(long, default_value_t = 1)]
    pub(crate) client_cpu: usize,
    /// Pin nothing (the servers and the load generator share every CPU).
    #[arg(long)]
    pub(crate) no_pin: bool,
    /// Loopback source addresses to spread connections over (127.0.0.2 and up).
    #[arg(long, default_value_t = 32)]
    pub(crate) sources: usize,
    /// The wire protocol both servers are measured on: `socketio` compares nestgate's
    /// Socket.IO engine (the same echo example, at `/socket.io/`) with a Socket.IO baseline,
    /// such as this crate's `socketioxide` binary.
    #[arg(long, value_enum, default_value_t = Protocol::WsJson)]
    pub(crate) protocol: Protocol,
    /// What the baseline is called in the table and the plot.
    #[arg(long, default_value = "raw axum")]
    pub(crate) baseline_name: String,
}

/// The scenarios `compare` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Scenario {
    /// Echo round trips, 50 connections in a closed loop.
    Echo,
    /// The broadcast ramp, 1,000 receivers.
    Broadcast,
    /// 10,000 idle connections.
    Idle,
    /// 19,000 connections, 1 % of them echoing.
    Active,
}

/// The two servers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Kind {
    /// nestgate's echo example.
    Nestgate,
    /// The raw-axum baseline.
    Baseline,
}

impl Kind {
    /// The server's name in reports.
    fn name(self) -> &'static str {
        match self {
            Kind::Nestgate => "nestgate",
            Kind::Baseline => "baseline",
        }
    }
}

/// The durations and sizes of one comparison (full or quick).
#[derive(Debug, Clone, Serialize)]
struct Plan {
    /// Echo: connections, measured time and warm-up.
    echo_connections: usize,
    /// Echo: measured seconds.
    echo_duration: Duration,
    /// Echo: warm-up seconds.
    echo_warmup: Duration,
    /// Broadcast: receivers.
    broadcast_receivers: usize,
    /// Broadcast: the first rate of the ramp.
    ramp_start_rate: f64,
    /// Broadcast: sending time per step.
    ramp_step: Duration,
    /// Broadcast: drain time per step.
    ramp_drain: Duration,
    /// Broadcast: most steps.
    ramp_max_steps: usize,
    /// Broadcast: bisection steps.
    ramp_bisections: usize,
    /// Idle: connections.
    idle_connections: usize,
    /// Idle: how long they are held.
    idle_hold: Duration,
    /// Active: connections.
    active_connections: usize,
    /// Active: percent echoing.
    active_percent: f64,
    /// Active: each echoing connection sends one echo per this interval.
    active_interval: Duration,
    /// Active: how long they echo.
    active_duration: Duration,
}

impl Plan {
    /// The plan of a full or a quick comparison.
    fn new(quick: bool) -> Plan {
        let s = Duration::from_secs_f64;
        Plan {
            echo_connections: 50,
            echo_duration: s(if quick { 1.5 } else { 10.0 }),
            echo_warmup: s(if quick { 0.5 } else { 1.0 }),
            broadcast_receivers: 1000,
            ramp_start_rate: if quick { 400.0 } else { 100.0 },
            ramp_step: s(if quick { 0.5 } else { 3.0 }),
            ramp_drain: s(if quick { 0.5 } else { 2.0 }),
            ramp_max_steps: if quick { 5 } else { 12 },
            ramp_bisections: if quick { 1 } else { 4 },
            idle_connections: 10_000,
            idle_hold: s(if quick { 0.5 } else { 3.0 }),
            active_connections: 19_000,
            active_percent: 1.0,
            active_interval: Duration::from_millis(10),
            active_duration: s(if quick { 1.5 } else { 10.0 }),
        }
    }
}

/// A running server.
#[derive(Debug)]
struct Server {
    /// The process.
    child: Child,
    /// Its pid.
    pid: u32,
    /// The address it listens on.
    addr: SocketAddr,
    /// The task copying its output into its log file.
    log: JoinHandle<LogSummary>,
}

/// What a server logged.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct LogSummary {
    /// The log file.
    file: String,
    /// Lines logged.
    lines: u64,
    /// WARN lines, grouped by message (fields left out).
    warnings: Counts,
    /// ERROR lines, grouped by message.
    errors: Counts,
    /// CPU used meanwhile by other processes (not the server, not the load generator), in
    /// percent of one CPU: others building on the machine disturb the figures.
    others_cpu_percent: Option<f64>,
}

/// Starts a server: `PORT=0`, pinned with `taskset` when `cpu` is given; reads its address from
/// its first line of output, then copies its output to `log_path`.
async fn start(binary: &Path, cpu: Option<usize>, log_path: PathBuf) -> Result<Server> {
    let mut command = match cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string()).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    command
        .env("PORT", "0")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot start {}: {err}", binary.display()))?;
    let pid = child.id().ok_or("the server exited at once")?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let mut stdout = BufReader::new(stdout).lines();
    let mut first_lines = Vec::new();
    let addr = timeout(START_TIMEOUT, async {
        while let Some(line) = stdout.next_line().await? {
            if let Some((_, addr)) = line.split_once("listening on http://") {
                let addr: SocketAddr = addr.trim().parse()?;
                first_lines.push(line);
                return Ok::<_, crate::client::Error>(addr);
            }
            first_lines.push(line);
        }
        Err(format!("the server exited without its address; it printed {first_lines:?}").into())
    })
    .await
    .map_err(|_| format!("{} did not print its address in time", binary.display()))??;
    let log = tokio::spawn(copy_log(stdout, BufReader::new(stderr).lines(), log_path));
    Ok(Server {
        child,
        pid,
        addr,
        log,
    })
}

/// Copies a server's output into its log file, counting warnings and errors, until both
/// pipes close.
async fn copy_log(
    mut stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    mut stderr: tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    path: PathBuf,
) -> LogSummary {
    let mut summary = LogSummary {
        file: path.display().to_string(),
        ..LogSummary::default()
    };
    let mut file = match tokio::fs::File::create(&path).await {
        Ok(file) => Some(BufWriter::new(file)),
        Err(err) => {
            eprintln!("warning: cannot write {}: {err}", path.display());
            None
        }
    };
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        let line = tokio::select! {
            line = stdout.next_line(), if out_open => match line {
                Ok(Some(line)) => line,
                _ => {
                    out_open = false;
                    continue;
                }
            },
            line = stderr.next_line(), if err_open => match line {
                Ok(Some(line)) => line,
                _ => {
                    err_open = false;
                    continue;
                }
            },
        };
        summary.lines += 1;
        if let Some(message) = level_message(&line, " WARN ") {
            summary.warnings.add(message);
        } else if let Some(message) = level_message(&line, " ERROR ") {
            summary.errors.add(message);
        }
        if let Some(file) = &mut file {
            let _ = file.write_all(line.as_bytes()).await;
            let _ = file.write_all(b"\n").await;
        }
    }
    if let Some(file) = &mut file {
        let _ = file.flush().await;
    }
    summary
}

/// The message of a tracing line at `level`, without its fields (`key=value` words), so that
/// lines about different sockets group together.
fn level_message(line: &str, level: &str) -> Option<String> {
    let (_, rest) = line.split_once(level)?;
    let words: Vec<&str> = rest
        .split_whitespace()
        .filter(|w| !w.contains('='))
        .collect();
    let mut message = words.join(" ");
    message.truncate(160);
    Some(message)
}

impl Server {
    /// The URL of its gateway.
    fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// Kills the server and returns what it logged.
    async fn stop(mut self) -> LogSummary {
        let _ = self.child.start_kill();
        let _ = timeout(Duration::from_secs(10), self.child.wait()).await;
        match timeout(Duration::from_secs(5), self.log).await {
            Ok(Ok(summary)) => summary,
            _ => LogSummary::default(),
        }
    }
}

/// One scenario run against one server.
#[derive(Debug, Clone, Serialize)]
struct Run<T> {
    /// The server.
    server: Kind,
    /// Which repetition (0-based).
    repeat: usize,
    /// What the run measured.
    result: T,
    /// What the server logged meanwhile.
    log: LogSummary,
}

/// Every run of a comparison.
#[derive(Debug, Default, Serialize)]
struct Runs {
    /// Echo runs.
    echo: Vec<Run<EchoResult>>,
    /// Broadcast ramps.
    broadcast: Vec<Run<RampResult>>,
    /// 10,000 idle connections.
    idle: Vec<Run<IdleResult>>,
    /// 19,000 connections, 1 % active.
    active: Vec<Run<IdleResult>>,
}

/// One row of the summary table.
#[derive(Debug, Clone, Serialize)]
struct Row {
    /// What is measured.
    metric: String,
    /// The unit of both figures.
    unit: &'static str,
    /// Whether higher is better.
    higher_is_better: bool,
    /// nestgate's median.
    nestgate: Option<f64>,
    /// The baseline's median.
    baseline: Option<f64>,
    /// nestgate / baseline.
    ratio: Option<f64>,
}

/// The JSON report.
#[derive(Debug, Serialize)]
struct Report<'a> {
    /// Whether this was a quick run.
    quick: bool,
    /// Repetitions per scenario and server.
    repeats: usize,
    /// The binaries compared.
    nestgate: String,
    /// The baseline binary.
    baseline: String,
    /// What the baseline is called.
    baseline_name: &'a str,
    /// The wire protocol both were measured on.
    protocol: &'static str,
    /// CPUs available to the load generator.
    cpus: usize,
    /// Whether servers and load generator were pinned to separate CPUs.
    pinned: bool,
    /// Durations and sizes.
    plan: &'a Plan,
    /// Medians, side by side.
    summary: &'a [Row],
    /// Anomalies seen (closes, errors, warnings), per server.
    anomalies: &'a [String],
    /// Every run.
    runs: &'a Runs,
    /// Seconds the whole comparison took.
    elapsed_s: f64,
}

/// Runs the comparison.
pub(crate) async fn run(args: &CompareArgs, pinned: bool) -> Result<()> {
    let started = Instant::now();
    let plan = Plan::new(args.quick);
    let logs = args.out.join("logs");
    tokio::fs::create_dir_all(&logs).await?;
    let cpu = pinned.then_some(args.server_cpu);
    let scenarios = if args.only.is_empty() {
        vec![
            Scenario::Echo,
            Scenario::Broadcast,
            Scenario::Idle,
            Scenario::Active,
        ]
    } else {
        args.only.clone()
    };
    let mut runs = Runs::default();
    for &scenario in &scenarios {
        let scenario_started = Instant::now();
        println!("\n== {scenario:?}");
        for repeat in 0..args.repeats {
            for kind in [Kind::Nestgate, Kind::Baseline] {
                let binary = match kind {
                    Kind::Nestgate => &args.nestgate,
                    Kind::Baseline => &args.baseline,
                };
                let log_path = logs.join(format!(
                    "{}-{}-{repeat}.log",
                    kind.name(),
                    format!("{scenario:?}").to_lowercase()
                ));
                let server = start(binary, cpu, log_path).await?;
                println!(
                    "-- {} (pid {}, {}), run {} of {}",
                    kind.name(),
                    server.pid,
                    server.addr,
                    repeat + 1,
                    args.repeats
                );
                sleep(Duration::from_millis(200)).await;
                let contention = Contention::start(&Probe::new(Some(server.pid)));
                let outcome =
                    run_scenario(scenario, &server, &plan, args.sources, args.protocol).await;
                let others = contention.others_percent();
                if let Some(others) = others.filter(|&others| others > CONTENDED) {
                    println!(
                        "   note: other processes used {others:.0} % of a CPU meanwhile: these figures are disturbed"
                    );
                }
                let mut log = server.stop().await;
                log.others_cpu_percent = others;
                if log.warnings.total() + log.errors.total() > 0 {
                    println!(
                        "   server log: warnings: {}; errors: {}",
                        log.warnings.summary(),
                        log.errors.summary()
                    );
                }
                match outcome? {
                    Outcome::Echo(result) => runs.echo.push(Run {
                        server: kind,
                        repeat,
                        result,
                        log,
                    }),
                    Outcome::Broadcast(result) => runs.broadcast.push(Run {
                        server: kind,
                        repeat,
                        result,
                        log,
                    }),
                    Outcome::Idle(result) => runs.idle.push(Run {
                        server: kind,
                        repeat,
                        result,
                        log,
                    }),
                    Outcome::Active(result) => runs.active.push(Run {
                        server: kind,
                        repeat,
                        result,
                        log,
                    }),
                }
            }
        }
        println!(
            "({scenario:?} took {:.0} s)",
            scenario_started.elapsed().as_secs_f64()
        );
    }

    let rows = summarize(&runs);
    let mut anomalies = anomalies(&runs);
    if let Some(disturbed) = disturbance(&runs) {
        anomalies.insert(0, disturbed);
    }
    let table = render_table(&rows, &anomalies, args, &plan);
    println!("\n{table}");
    let elapsed_s = started.elapsed().as_secs_f64();
    let report = Report {
        quick: args.quick,
        repeats: args.repeats,
        nestgate: args.nestgate.display().to_string(),
        baseline: args.baseline.display().to_string(),
        baseline_name: &args.baseline_name,
        protocol: protocol_name(args.protocol),
        cpus: crate::sys::cpus(),
        pinned,
        plan: &plan,
        summary: &rows,
        anomalies: &anomalies,
        runs: &runs,
        elapsed_s,
    };
    let json = serde_json::to_string_pretty(&report)?;
    tokio::fs::write(args.out.join("results.json"), json).await?;
    tokio::fs::write(args.out.join("table.md"), &table).await?;
    tokio::fs::write(
        args.out.join("broadcast-ramp.svg"),
        ramp_svg(&runs.broadcast, &args.baseline_name),
    )
    .await?;
    println!(
        "wrote {0}/results.json, {0}/table.md, {0}/broadcast-ramp.svg and {0}/logs/ in {elapsed_s:.0} s",
        args.out.display()
    );
    Ok(())
}

/// The result of one scenario run.
#[derive(Debug)]
enum Outcome {
    /// An echo run.
    Echo(EchoResult),
    /// A broadcast ramp.
    Broadcast(RampResult),
    /// An idle run.
    Idle(IdleResult),
    /// A 19,000-connection run.
    Active(IdleResult),
}

/// Runs one scenario against a server, printing its figures.
async fn run_scenario(
    scenario: Scenario,
    server: &Server,
    plan: &Plan,
    sources: usize,
    protocol: Protocol,
) -> Result<Outcome> {
    let url = server.url();
    let pid = Some(server.pid);
    Ok(match scenario {
        Scenario::Echo => {
            let args = EchoArgs {
                url,
                connections: plan.echo_connections,
                duration: plan.echo_duration,
                warmup: plan.echo_warmup,
                payload: 32,
                pid,
                sources,
                protocol,
            };
            let result = echo::run(&args).await?;
            echo::print(&result);
            Outcome::Echo(result)
        }
        Scenario::Broadcast => {
            let args = BroadcastArgs {
                url,
                also_urls: Vec::new(),
                connections: plan.broadcast_receivers,
                rate: plan.ramp_start_rate,
                duration: plan.ramp_step,
                drain: plan.ramp_drain,
                ramp: true,
                p99_limit: Duration::from_millis(250),
                max_steps: plan.ramp_max_steps,
                bisections: plan.ramp_bisections,
                pid,
                also_pids: Vec::new(),
                sources,
                protocol,
            };
            let result = broadcast::ramp(&args, broadcast::print_step).await?;
            Outcome::Broadcast(result)
        }
        Scenario::Idle | Scenario::Active => {
            let active = scenario == Scenario::Active;
            let args = IdleArgs {
                url,
                connections: if active {
                    plan.active_connections
                } else {
                    plan.idle_connections
                },
                pid,
                active_percent: if active { plan.active_percent } else { 0.0 },
                active_interval: if active {
                    plan.active_interval
                } else {
                    Duration::ZERO
                },
                duration: if active {
                    plan.active_duration
                } else {
                    plan.idle_hold
                },
                concurrency: 128,
                batches: 8,
                sources,
                payload: 32,
                reopen: !active,
                protocol,
            };
            let result = idle::run(&args).await?;
            idle::print(&result);
            if active {
                Outcome::Active(result)
            } else {
                Outcome::Idle(result)
            }
        }
    })
}

/// The median of `figure` over one server's runs.
fn median_of<T>(runs: &[Run<T>], kind: Kind, figure: impl Fn(&T) -> Option<f64>) -> Option<f64> {
    median(
        runs.iter()
            .filter(|run| run.server == kind)
            .filter_map(|run| figure(&run.result)),
    )
}

/// The summary table's rows: medians of each server, and their ratio.
fn summarize(runs: &Runs) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut row =
        |metric: &str, unit: &'static str, higher_is_better: bool, pair: [Option<f64>; 2]| {
            let [nestgate, baseline] = pair;
            let ratio = match (nestgate, baseline) {
                (Some(n), Some(b)) if b != 0.0 => Some(n / b),
                _ => None,
            };
            rows.push(Row {
                metric: metric.to_owned(),
                unit,
                higher_is_better,
                nestgate,
                baseline,
                ratio,
            });
        };
    let both = |f: &dyn Fn(Kind) -> Option<f64>| [f(Kind::Nestgate), f(Kind::Baseline)];
    if !runs.echo.is_empty() {
        let echo = &runs.echo;
        row(
            "echo round trips/s (C=50)",
            "1/s",
            true,
            both(&|k| median_of(echo, k, |r| Some(r.round_trips_per_sec))),
        );
        row(
            "echo RTT p99 (C=50)",
            "µs",
            false,
            both(&|k| median_of(echo, k, |r| Some(r.rtt.p99_us as f64))),
        );
        row(
            "server CPU per round trip",
            "CPU-µs",
            false,
            both(&|k| median_of(echo, k, |r| r.server_cpu_us_per_round_trip)),
        );
    }
    if !runs.broadcast.is_empty() {
        let ramps = &runs.broadcast;
        let best = |r: &RampResult, f: fn(&broadcast::StepResult) -> Option<f64>| {
            r.best.as_ref().and_then(f)
        };
        row(
            "broadcast max sustained deliveries/s (C=1000)",
            "1/s",
            true,
            both(&|k| {
                median_of(ramps, k, |r| {
                    Some(best(r, |s| Some(s.deliveries_per_sec)).unwrap_or(0.0))
                })
            }),
        );
        row(
            "  at broadcast rate",
            "msg/s",
            true,
            both(&|k| {
                median_of(ramps, k, |r| {
                    Some(best(r, |s| Some(s.offered_rate)).unwrap_or(0.0))
                })
            }),
        );
        row(
            "  delivery p99 there",
            "ms",
            false,
            both(&|k| {
                median_of(ramps, k, |r| {
                    best(r, |s| Some(s.latency.p99_us as f64 / 1000.0))
                })
            }),
        );
        row(
            "server CPU per delivery (at the max rate)",
            "CPU-µs",
            false,
            both(&|k| median_of(ramps, k, |r| best(r, |s| s.server_cpu_us_per_delivery))),
        );
        // Per-delivery cost falls as the rate rises (more frames per write), so compare both
        // servers at the same rate too: the highest one every run passed.
        if let Some(rate) = common_rate(ramps) {
            let at = |r: &RampResult| {
                r.steps
                    .iter()
                    .find(|s| s.offered_rate == rate)
                    .and_then(|s| s.server_cpu_us_per_delivery)
            };
            row(
                &format!("server CPU per delivery (both at {rate:.0} msg/s)"),
                "CPU-µs",
                false,
                both(&|k| median_of(ramps, k, at)),
            );
        }
    }
    if !runs.idle.is_empty() {
        let idle = &runs.idle;
        row(
            "idle memory per connection (C=10,000)",
            "bytes",
            false,
            both(&|k| median_of(idle, k, |r| r.bytes_per_connection)),
        );
        row(
            "connections set up per second (C=10,000)",
            "1/s",
            true,
            both(&|k| median_of(idle, k, |r| Some(r.connects_per_sec))),
        );
        row(
            "idle: RSS growth on reopening (leak check)",
            "bytes/conn",
            false,
            both(&|k| median_of(idle, k, reopen_growth)),
        );
    }
    if !runs.active.is_empty() {
        let active = &runs.active;
        row(
            "19,000 conns, 1 % echoing every 10 ms: RTT p99",
            "µs",
            false,
            both(&|k| median_of(active, k, |r| Some(r.active_rtt.p99_us as f64))),
        );
        row(
            "19,000 conns: round trips/s of the 1 %",
            "1/s",
            true,
            both(&|k| {
                median_of(active, k, |r| {
                    (r.active > 0).then(|| r.active_round_trips as f64 / r.hold_s)
                })
            }),
        );
        row(
            "19,000 conns: memory slope",
            "bytes/conn",
            false,
            both(&|k| median_of(active, k, |r| r.slope_bytes_per_connection)),
        );
        row(
            "19,000 conns: RSS projected to 1,000,000",
            "GiB",
            false,
            both(&|k| {
                median_of(active, k, |r| {
                    r.projected_rss_1m.map(|b| b / 1_073_741_824.0)
                })
            }),
        );
        row(
            "connections set up per second (C=19,000)",
            "1/s",
            true,
            both(&|k| median_of(active, k, |r| Some(r.connects_per_sec))),
        );
    }
    rows
}

/// The highest ramp rate that every run (of both servers) ran and passed; else the first rate
/// every run ran.
fn common_rate(ramps: &[Run<RampResult>]) -> Option<f64> {
    let first = ramps.first()?;
    let ran_by_all = |rate: f64, passed: bool| {
        ramps.iter().all(|run| {
            run.result
                .steps
                .iter()
                .any(|s| s.offered_rate == rate && (s.passed || !passed))
        })
    };
    let rates = || first.result.steps.iter().map(|s| s.offered_rate);
    rates()
        .filter(|&rate| ran_by_all(rate, true))
        .max_by(f64::total_cmp)
        .or_else(|| rates().find(|&rate| ran_by_all(rate, false)))
}

/// How much more memory per connection the server held with the second round of idle
/// connections open than with the first.
fn reopen_growth(result: &IdleResult) -> Option<f64> {
    let reopen = result.reopen.as_ref()?;
    let (first, second) = (result.rss_open?, reopen.rss_open?);
    (reopen.connected > 0).then(|| (second as f64 - first as f64) / reopen.connected as f64)
}

/// How many runs other processes disturbed, and how much: one line, or `None` if none was.
fn disturbance(runs: &Runs) -> Option<String> {
    let others: Vec<f64> = runs
        .echo
        .iter()
        .map(|run| &run.log)
        .chain(runs.broadcast.iter().map(|run| &run.log))
        .chain(runs.idle.iter().map(|run| &run.log))
        .chain(runs.active.iter().map(|run| &run.log))
        .filter_map(|log| log.others_cpu_percent)
        .collect();
    let disturbed: Vec<f64> = others.iter().copied().filter(|&o| o > CONTENDED).collect();
    let worst = disturbed.iter().copied().fold(0.0, f64::max);
    (!disturbed.is_empty()).then(|| {
        format!(
            "{} of {} runs were disturbed: other processes on the machine used more than {CONTENDED:.0} % of a CPU meanwhile (up to {worst:.0} %); see others_cpu_percent in results.json",
            disturbed.len(),
            others.len()
        )
    })
}

/// Everything that looks wrong in a run: connections that failed or ended early, mismatched
/// replies, lost broadcasts in passing steps, descriptors left open, warnings logged.
fn anomalies(runs: &Runs) -> Vec<String> {
    let mut found = Vec::new();
    let mut note = |kind: Kind, scenario: &str, repeat: usize, what: String| {
        found.push(format!(
            "{} {scenario} run {}: {what}",
            kind.name(),
            repeat + 1
        ));
    };
    let log = |note: &mut dyn FnMut(Kind, &str, usize, String),
               kind,
               scenario: &str,
               repeat,
               log: &LogSummary| {
        if log.warnings.total() > 0 {
            note(
                kind,
                scenario,
                repeat,
                format!("server warnings: {}", log.warnings.summary()),
            );
        }
        if log.errors.total() > 0 {
            note(
                kind,
                scenario,
                repeat,
                format!("server errors: {}", log.errors.summary()),
            );
        }
    };
    for run in &runs.echo {
        let r = &run.result;
        if r.connect_errors.total() > 0 {
            note(
                run.server,
                "echo",
                run.repeat,
                format!("connect errors: {}", r.connect_errors.summary()),
            );
        }
        if r.unexpected_ends.total() > 0 {
            note(
                run.server,
                "echo",
                run.repeat,
                format!("connections ended early: {}", r.unexpected_ends.summary()),
            );
        }
        if r.mismatches > 0 || r.unclean_closes > 0 {
            note(
                run.server,
                "echo",
                run.repeat,
                format!(
                    "{} mismatched replies, {} unclean closes",
                    r.mismatches, r.unclean_closes
                ),
            );
        }
        log(&mut note, run.server, "echo", run.repeat, &run.log);
    }
    for run in &runs.broadcast {
        for step in &run.result.steps {
            let mut what = Vec::new();
            if step.connect_errors.total() > 0 {
                what.push(format!("connect errors: {}", step.connect_errors.summary()));
            }
            if step.unexpected_ends.total() > 0 {
                what.push(format!(
                    "connections ended early: {}",
                    step.unexpected_ends.summary()
                ));
            }
            if !step.passed
                && let Some(client) = step.client_cpu_percent.filter(|&cpu| cpu > GENERATOR_BOUND)
            {
                what.push(format!(
                    "the load generator was at {client:.0} % of its CPU: this limit may be the generator's"
                ));
            }
            if step.lost != 0 {
                what.push(format!(
                    "{} of {} deliveries lost",
                    step.lost, step.expected
                ));
            }
            if !what.is_empty() {
                note(
                    run.server,
                    "broadcast",
                    run.repeat,
                    format!(
                        "at {:.0} msg/s (p99 {:.1} ms): {}",
                        step.offered_rate,
                        step.latency.p99_us as f64 / 1000.0,
                        what.join("; ")
                    ),
                );
            }
        }
        log(&mut note, run.server, "broadcast", run.repeat, &run.log);
    }
    for (scenario, runs) in [("idle", &runs.idle), ("active", &runs.active)] {
        for run in runs {
            let r = &run.result;
            if r.connect_errors.total() > 0 {
                note(
                    run.server,
                    scenario,
                    run.repeat,
                    format!("connect errors: {}", r.connect_errors.summary()),
                );
            }
            if r.unexpected_ends.total() > 0 {
                note(
                    run.server,
                    scenario,
                    run.repeat,
                    format!("connections ended early: {}", r.unexpected_ends.summary()),
                );
            }
            if r.mismatches > 0 || r.unclean_closes > 0 {
                note(
                    run.server,
                    scenario,
                    run.repeat,
                    format!(
                        "{} mismatched replies, {} unclean closes",
                        r.mismatches, r.unclean_closes
                    ),
                );
            }
            if let Some(reopen) = &r.reopen {
                if reopen.problems.total() > 0 {
                    note(
                        run.server,
                        scenario,
                        run.repeat,
                        format!("reopening: {}", reopen.problems.summary()),
                    );
                }
                if let Some(growth) = reopen_growth(r)
                    && growth > 512.0
                {
                    note(
                        run.server,
                        scenario,
                        run.repeat,
                        format!(
                            "memory not reused: RSS grew by {growth:.0} bytes per connection when the same number of connections was opened again"
                        ),
                    );
                }
                if let (Some(before), Some(after)) =
                    (r.server_fds[0], reopen.server_fds_after_close)
                    && after > before
                {
                    note(
                        run.server,
                        scenario,
                        run.repeat,
                        format!(
                            "server still had {after} descriptors open after the second round, {before} before"
                        ),
                    );
                }
            }
            if let [Some(before), _, Some(after)] = r.server_fds
                && after > before
            {
                note(
                    run.server,
                    scenario,
                    run.repeat,
                    format!(
                        "server still had {after} descriptors open after closing, {before} before"
                    ),
                );
            }
            log(&mut note, run.server, scenario, run.repeat, &run.log);
        }
    }
    found
}

/// A figure with a sensible number of digits.
fn figure(value: Option<f64>) -> String {
    match value {
        None => "n/a".to_owned(),
        Some(v) if v.abs().round() >= 1000.0 => {
            // Thousands separated by commas.
            let digits = format!("{:.0}", v.abs());
            let mut grouped = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(c);
            }
            if v < 0.0 {
                format!("-{grouped}")
            } else {
                grouped
            }
        }
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// The protocol's name in reports.
fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::WsJson => "ws-json",
        Protocol::Socketio => "Socket.IO",
    }
}

/// The table (Markdown), with the anomalies under it.
fn render_table(rows: &[Row], anomalies: &[String], args: &CompareArgs, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "nestgate vs {} ({}): median of {} runs each, alternating{}{}",
        args.baseline_name,
        protocol_name(args.protocol),
        args.repeats,
        if args.quick {
            ", QUICK (short runs: for checking only)"
        } else {
            ""
        },
        if args.no_pin { ", unpinned" } else { "" },
    );
    let _ = writeln!(
        out,
        "(echo {:.1} s per run; broadcast ramp {:.2} s per step; idle hold {:.1} s; 19k run {:.1} s)\n",
        plan.echo_duration.as_secs_f64(),
        plan.ramp_step.as_secs_f64(),
        plan.idle_hold.as_secs_f64(),
        plan.active_duration.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| {:<46} | {:>10} | {:>12} | {:>12} | {:>16} |",
        "metric", "unit", "nestgate", args.baseline_name, "nestgate/baseline"
    );
    let _ = writeln!(
        out,
        "|{:-<48}|{:->12}|{:->14}|{:->14}|{:->18}|",
        ":", ":", ":", ":", ":"
    );
    for row in rows {
        let ratio = row.ratio.map_or("n/a".to_owned(), |r| {
            let hint = if row.higher_is_better { "↑" } else { "↓" };
            format!("{r:.2} {hint}")
        });
        let _ = writeln!(
            out,
            "| {:<46} | {:>10} | {:>12} | {:>12} | {:>16} |",
            row.metric,
            row.unit,
            figure(row.nestgate),
            figure(row.baseline),
            ratio
        );
    }
    let _ = writeln!(out, "\n(↑: higher is better, ↓: lower is better)");
    if anomalies.is_empty() {
        let _ = writeln!(
            out,
            "\nNo anomalies: no failed or early-ended connections, no lost deliveries in any step, no server warnings."
        );
    } else {
        let _ = writeln!(out, "\nAnomalies:");
        for anomaly in anomalies {
            let _ = writeln!(out, "- {anomaly}");
        }
    }
    out
}

/// An SVG plot of delivery p99 against the offered broadcast rate, every ramp step of every
/// run, both servers, on log-log axes; failed steps drawn hollow.
fn ramp_svg(ramps: &[Run<RampResult>], baseline_name: &str) -> String {
    const W: f64 = 820.0;
    const H: f64 = 520.0;
    const LEFT: f64 = 80.0;
    const RIGHT: f64 = 170.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 60.0;
    const LIMIT_MS: f64 = 250.0;
    let points: Vec<(f64, f64)> = ramps
        .iter()
        .flat_map(|run| run.result.steps.iter())
        .map(|step| {
            (
                step.offered_rate,
                (step.latency.p99_us as f64 / 1000.0).max(0.01),
            )
        })
        .collect();
    let (mut x_min, mut x_max) = (f64::MAX, f64::MIN);
    let (mut y_min, mut y_max) = (LIMIT_MS, LIMIT_MS);
    for &(x, y) in &points {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    if points.is_empty() {
        (x_min, x_max) = (1.0, 10.0);
    }
    let (x_lo, x_hi) = ((x_min / 1.3).log10(), (x_max * 1.3).log10());
    let (y_lo, y_hi) = ((y_min / 1.5).log10(), (y_max * 1.5).log10());
    let px = |x: f64| LEFT + (x.log10() - x_lo) / (x_hi - x_lo) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y.log10() - y_lo) / (y_hi - y_lo) * (H - TOP - BOTTOM);

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">Broadcast to 1,000 clients: delivery p99 vs offered rate (every ramp step)</text>"#,
        (LEFT + W - RIGHT) / 2.0
    );
    // Axes, decade and 2-5 ticks, grid.
    let ticks = |lo: f64, hi: f64| -> Vec<f64> {
        let mut ticks = Vec::new();
        let mut decade = 10f64.powf(lo.floor());
        while decade <= 10f64.powf(hi) {
            for m in [1.0, 2.0, 5.0] {
                let t = decade * m;
                if t.log10() >= lo && t.log10() <= hi {
                    ticks.push(t);
                }
            }
            decade *= 10.0;
        }
        ticks
    };
    for t in ticks(x_lo, x_hi) {
        let x = px(t);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#e5e5e5"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 18.0,
            figure(Some(t))
        );
    }
    for t in ticks(y_lo, y_hi) {
        let y = py(t);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            figure(Some(t))
        );
    }
    let _ = writeln!(
        svg,
        r#"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="none" stroke="black"/>"#,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">offered broadcast rate (messages/s, log scale)</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 15.0
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate(20 {:.1}) rotate(-90)" text-anchor="middle">delivery latency p99 (ms, log scale)</text>"#,
        (TOP + H - BOTTOM) / 2.0
    );
    let limit_y = py(LIMIT_MS);
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{limit_y:.1}" x2="{:.1}" y2="{limit_y:.1}" stroke="#888" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#555">250 ms limit</text>"##,
        W - RIGHT,
        W - RIGHT + 6.0,
        limit_y + 4.0
    );
    for (kind, colour) in [(Kind::Nestgate, "#d62728"), (Kind::Baseline, "#1f77b4")] {
        for run in ramps.iter().filter(|run| run.server == kind) {
            let mut steps: Vec<_> = run.result.steps.iter().collect();
            steps.sort_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate));
            let path: Vec<String> = steps
                .iter()
                .map(|s| {
                    format!(
                        "{:.1},{:.1}",
                        px(s.offered_rate),
                        py((s.latency.p99_us as f64 / 1000.0).max(0.01))
                    )
                })
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-opacity="0.5"/>"#,
                path.join(" ")
            );
            for s in steps {
                let fill = if s.passed { colour } else { "white" };
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{fill}" stroke="{colour}" stroke-width="1.5"><title>{} run {}: {:.0} msg/s, p99 {:.1} ms, {:.0} deliveries/s, lost {}</title></circle>"#,
                    px(s.offered_rate),
                    py((s.latency.p99_us as f64 / 1000.0).max(0.01)),
                    kind.name(),
                    run.repeat + 1,
                    s.offered_rate,
                    s.latency.p99_us as f64 / 1000.0,
                    s.deliveries_per_sec,
                    s.lost
                );
            }
        }
    }
    let legend_x = W - RIGHT + 12.0;
    for (i, (name, colour)) in [("nestgate", "#d62728"), (baseline_name, "#1f77b4")]
        .iter()
        .enumerate()
    {
        let y = TOP + 20.0 + i as f64 * 20.0;
        let _ = writeln!(
            svg,
            r#"<circle cx="{legend_x:.1}" cy="{y:.1}" r="4" fill="{colour}"/><text x="{:.1}" y="{:.1}">{name}</text>"#,
            legend_x + 10.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<circle cx="{legend_x:.1}" cy="{:.1}" r="4" fill="white" stroke="#333"/><text x="{:.1}" y="{:.1}">failed step</text>"##,
        TOP + 60.0,
        legend_x + 10.0,
        TOP + 64.0
    );
    let _ = writeln!(svg, "</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_group_without_their_fields() {
        let line = "2026-11-28T05:27:25.529340Z  WARN nestgate::socket: outbound queue full: closing a slow consumer with 1013 socket=ZMU9gJ1OSErPkx_KyNiVXD";
        assert_eq!(
            level_message(line, " WARN ").as_deref(),
            Some("nestgate::socket: outbound queue full: closing a slow consumer with 1013")
        );
        assert_eq!(level_message(line, " ERROR "), None);
    }

    #[test]
    fn figures_are_readable() {
        assert_eq!(figure(Some(1_234_567.4)), "1,234,567");
        assert_eq!(figure(Some(999.6)), "1,000");
        assert_eq!(figure(Some(123.4)), "123");
        assert_eq!(figure(Some(12.34)), "12.3");
        assert_eq!(figure(Some(1.234)), "1.23");
        assert_eq!(figure(None), "n/a");
    }

    #[test]
    fn an_empty_plot_is_still_an_svg() {
        let svg = ramp_svg(&[], "raw axum");
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
