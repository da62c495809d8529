//! `cluster`: broadcast deliveries/s of a cluster of echo processes over one Redis (the Redis
//! adapter), against one process alone — in memory, and over Redis.
//!
//! It starts a `redis-server` of its own on a free loopback port and, for each setup, the echo
//! processes with `REDIS_URL` set; receivers are spread evenly over the nodes and the sender
//! sits on the first, so every broadcast crosses Redis to reach two thirds of the receivers of
//! a 3-node cluster. Each setup runs the broadcast ramp (the highest rate with p99 under
//! 250 ms and nothing lost), `--repeats` times, alternating setups; the table shows medians.

use crate::broadcast::{self, BroadcastArgs, StepResult};
use crate::client::{Protocol, Result};
use crate::stats::median;
use serde::Serialize;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::time::{sleep, timeout};

/// The `cluster` subcommand's arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClusterArgs {
    /// The echo example's binary (it joins a cluster when `REDIS_URL` is set).
    #[arg(long)]
    pub(crate) echo: PathBuf,
    /// The `redis-server` binary.
    #[arg(long, default_value = "redis-server")]
    pub(crate) redis_server: PathBuf,
    /// Receivers, spread over the nodes (the sender is one more connection, on the first).
    #[arg(short = 'c', long, default_value_t = 1000)]
    pub(crate) connections: usize,
    /// Nodes of the cluster setup.
    #[arg(long, default_value_t = 3)]
    pub(crate) nodes: usize,
    /// Runs of each setup (the table shows medians).
    #[arg(long, default_value_t = 3)]
    pub(crate) repeats: usize,
    /// Short ramp steps: a check, not a result.
    #[arg(long)]
    pub(crate) quick: bool,
    /// The CPU the servers (nodes and Redis) are pinned to with `taskset`; none: not pinned.
    #[arg(long)]
    pub(crate) server_cpu: Option<usize>,
    /// Where to write cluster.json and cluster.md.
    #[arg(long, default_value = "target/bench")]
    pub(crate) out: PathBuf,
    /// Loopback source addresses to spread connections over.
    #[arg(long, default_value_t = 32)]
    pub(crate) sources: usize,
}

/// One way of serving the receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Setup {
    /// One echo process, no Redis.
    OneInMemory,
    /// One echo process with the Redis adapter (a cluster of one).
    OneOverRedis,
    /// N echo processes with the Redis adapter.
    ClusterOverRedis,
}

impl Setup {
    fn describe(self, nodes: usize) -> String {
        match self {
            Setup::OneInMemory => "1 node, in memory".to_owned(),
            Setup::OneOverRedis => "1 node over Redis".to_owned(),
            Setup::ClusterOverRedis => format!("{nodes} nodes over Redis"),
        }
    }
}

/// One ramp of one setup.
#[derive(Debug, Clone, Serialize)]
struct ClusterRun {
    setup: Setup,
    nodes: usize,
    repeat: usize,
    /// The passing step with the most deliveries per second.
    best: Option<StepResult>,
    /// Every step.
    steps: Vec<StepResult>,
}

/// A started server process, killed when dropped.
struct Process {
    child: Child,
    addr: Option<SocketAddr>,
}

/// Starts `program`, pinned to `cpu` if given; with `listening`, waits for its
/// `listening on http://ADDR` line. Its output is then discarded.
async fn spawn(
    program: &std::path::Path,
    args: &[String],
    env: &[(&str, String)],
    cpu: Option<usize>,
    listening: bool,
) -> Result<Process> {
    let mut command = match cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string()).arg(program);
            command
        }
        None => Command::new(program),
    };
    command
        .args(args)
        .env("PORT", "0")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot start {}: {err}", program.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = if listening {
        let addr = timeout(Duration::from_secs(15), async {
            while let Some(line) = lines.next_line().await? {
                if let Some((_, addr)) = line.split_once("listening on http://") {
                    return Ok::<_, crate::client::Error>(addr.trim().parse()?);
                }
            }
            Err("the server exited without its address".into())
        })
        .await
        .map_err(|_| format!("{} did not print its address in time", program.display()))??;
        Some(addr)
    } else {
        None
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Process { child, addr })
}

/// A free loopback port.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Runs every setup `repeats` times, alternating, and prints the medians.
pub(crate) async fn run(args: &ClusterArgs) -> Result<()> {
    let port = free_port()?;
    let redis_args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .collect();
    let mut redis = spawn(&args.redis_server, &redis_args, &[], args.server_cpu, false).await?;
    let mut ready = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        sleep(Duration::from_millis(25)).await;
    }
    if !ready {
        return Err("redis-server did not listen within 5 s".into());
    }
    let url = format!("redis://127.0.0.1:{port}");
    println!("# redis-server on {url}");

    let setups = [
        (Setup::OneInMemory, 1),
        (Setup::OneOverRedis, 1),
        (Setup::ClusterOverRedis, args.nodes),
    ];
    let mut runs = Vec::new();
    for repeat in 0..args.repeats {
        for &(setup, nodes) in &setups {
            println!("## {} (run {})", setup.describe(nodes), repeat + 1);
            let prefix = format!("bench-{}-{repeat}-{nodes}", std::process::id());
            let mut env = vec![("REDIS_PREFIX", prefix)];
            if setup != Setup::OneInMemory {
                env.push(("REDIS_URL", url.clone()));
            }
            let mut servers = Vec::new();
            for _ in 0..nodes {
                servers.push(spawn(&args.echo, &[], &env, args.server_cpu, true).await?);
            }
            let urls: Vec<String> = servers
                .iter()
                .filter_map(|server| server.addr)
                .map(|addr| format!("ws://{addr}/"))
                .collect();
            let broadcast = BroadcastArgs {
                url: urls[0].clone(),
                also_urls: urls[1..].to_vec(),
                connections: args.connections,
                rate: 100.0,
                duration: if args.quick {
                    Duration::from_secs(2)
                } else {
                    Duration::from_secs(5)
                },
                drain: Duration::from_secs(3),
                ramp: true,
                p99_limit: Duration::from_millis(250),
                max_steps: if args.quick { 10 } else { 14 },
                bisections: if args.quick { 2 } else { 4 },
                // CPU per delivery counts every node, and Redis when it is used.
                pid: servers[0].child.id(),
                also_pids: servers[1..]
                    .iter()
                    .filter_map(|server| server.child.id())
                    .chain(redis.child.id().filter(|_| setup != Setup::OneInMemory))
                    .collect(),
                sources: args.sources,
                protocol: Protocol::WsJson,
            };
            let ramp = broadcast::ramp(&broadcast, broadcast::print_step).await?;
            for mut server in servers {
                let _ = server.child.start_kill();
                let _ = timeout(Duration::from_secs(10), server.child.wait()).await;
            }
            runs.push(ClusterRun {
                setup,
                nodes,
                repeat,
                best: ramp.best,
                steps: ramp.steps,
            });
        }
    }
    let _ = redis.child.start_kill();

    let table = render(&runs, args);
    println!("\n{table}");
    tokio::fs::create_dir_all(&args.out).await?;
    tokio::fs::write(args.out.join("cluster.md"), &table).await?;
    tokio::fs::write(
        args.out.join("cluster.json"),
        serde_json::to_vec_pretty(&runs)?,
    )
    .await?;
    println!(
        "wrote {} and {}",
        args.out.join("cluster.md").display(),
        args.out.join("cluster.json").display()
    );
    Ok(())
}

/// The medians of each setup, as a Markdown table.
fn render(runs: &[ClusterRun], args: &ClusterArgs) -> String {
    let mut table = format!(
        "Broadcast to {} receivers spread over the nodes, sender on the first; the highest rate with p99 < 250 ms and nothing lost (median of {} runs).\n\n",
        args.connections, args.repeats
    );
    table.push_str(
        "| setup | deliveries/s | broadcasts/s | p99 at that rate | CPU-µs/delivery (nodes + Redis) |\n",
    );
    table.push_str("|---|---:|---:|---:|---:|\n");
    let mut seen = Vec::new();
    for run in runs {
        if seen.contains(&run.setup) {
            continue;
        }
        seen.push(run.setup);
        let same: Vec<&ClusterRun> = runs
            .iter()
            .filter(|other| other.setup == run.setup)
            .collect();
        let best = |figure: &dyn Fn(&StepResult) -> Option<f64>| {
            median(
                same.iter()
                    .filter_map(|run| run.best.as_ref().and_then(figure)),
            )
        };
        let show = |value: Option<f64>, scale: f64, digits: usize| {
            value.map_or_else(
                || "–".to_owned(),
                |value| format!("{:.*}", digits, value * scale),
            )
        };
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} ms | {} |",
            run.setup.describe(run.nodes),
            show(best(&|step| Some(step.deliveries_per_sec)), 1.0, 0),
            show(best(&|step| Some(step.offered_rate)), 1.0, 1),
            show(best(&|step| Some(step.latency.p99_us as f64)), 0.001, 1),
            show(best(&|step| step.server_cpu_us_per_delivery), 1.0, 2),
        );
    }
    table
}
