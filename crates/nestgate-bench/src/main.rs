//! `nestgate-bench`: a WebSocket load generator for nestgate's `echo` example and the raw-axum
//! `baseline` beside it.
//!
//! - `echo`: C connections in a closed loop; round trips/s and RTT percentiles.
//! - `broadcast`: C receivers and a sender at R messages/s; deliveries/s, latency, loss; `--ramp`
//!   finds the highest rate whose p99 stays under 250 ms with nothing lost.
//! - `idle`: C idle connections; server memory per connection, connections set up per second,
//!   and with `--active-percent` the RTT of the fraction that echoes meanwhile.
//! - `compare`: starts both servers, runs every scenario against both alternately and prints
//!   the medians side by side (also as JSON and an SVG plot).
//! - `cluster`: broadcast deliveries/s of several echo processes over one Redis (the Redis
//!   adapter) against one process, in memory and over Redis.
//!
//! Every run is bounded in time: each loop has a deadline and stops by itself.

mod broadcast;
mod client;
mod cluster;
mod compare;
mod echo;
mod idle;
mod stats;
mod sys;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "WebSocket load generator: nestgate vs a raw-axum baseline"
)]
struct Cli {
    /// Worker threads of the load generator (1: a single-threaded runtime; `compare` pins
    /// itself to one CPU, where one thread is best).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    /// The scenario.
    #[command(subcommand)]
    command: Command,
}

/// The scenarios.
#[derive(Debug, Subcommand)]
enum Command {
    /// C connections, each echoing in a closed loop.
    Echo(echo::EchoArgs),
    /// C receivers and one sender broadcasting at a fixed rate (or a ramp of rates).
    Broadcast(broadcast::BroadcastArgs),
    /// C idle connections: server memory per connection and setup rate.
    Idle(idle::IdleArgs),
    /// Start both servers and compare them on every scenario.
    Compare(compare::CompareArgs),
    /// Broadcast across a cluster of echo processes over Redis, against one process.
    Cluster(cluster::ClusterArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match sys::raise_nofile() {
        Ok((soft, hard)) => println!("# open-file limit: {soft} (hard {hard})"),
        Err(err) => eprintln!("warning: cannot raise the open-file limit: {err}"),
    }
    // Pin before the runtime starts: its threads inherit the affinity of this one.
    let mut pinned = false;
    if let Command::Compare(args) = &cli.command
        && !args.no_pin
    {
        if sys::cpus() < 2 {
            eprintln!("warning: fewer than 2 CPUs: servers and load generator are not pinned");
        } else if let Err(err) = sys::pin_to_cpu(args.client_cpu) {
            eprintln!(
                "warning: cannot pin the load generator to CPU {}: {err}",
                args.client_cpu
            );
        } else {
            pinned = true;
        }
    }
    if let Command::Cluster(args) = &cli.command
        && let Some(server_cpu) = args.server_cpu
        && sys::cpus() >= 2
    {
        let client_cpu = usize::from(server_cpu == 0);
        match sys::pin_to_cpu(client_cpu) {
            Ok(()) => pinned = true,
            Err(err) => {
                eprintln!("warning: cannot pin the load generator to CPU {client_cpu}: {err}")
            }
        }
    }
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, cli.threads, pinned)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the parameters, then runs the scenario.
async fn run(command: Command, threads: usize, pinned: bool) -> client::Result<()> {
    match command {
        Command::Echo(args) => {
            println!(
                "# echo: url {} connections {} duration {:?} warmup {:?} payload {} B pid {:?} sources {} threads {threads}",
                args.url,
                args.connections,
                args.duration,
                args.warmup,
                args.payload,
                args.pid,
                args.sources
            );
            echo::print(&echo::run(&args).await?);
        }
        Command::Broadcast(args) => {
            println!(
                "# broadcast: url {} receivers {} rate {}/s duration {:?} drain {:?} ramp {} (p99 limit {:?}, max steps {}, bisections {}) pid {:?} sources {} threads {threads}",
                args.url,
                args.connections,
                args.rate,
                args.duration,
                args.drain,
                args.ramp,
                args.p99_limit,
                args.max_steps,
                args.bisections,
                args.pid,
                args.sources
            );
            if args.ramp {
                let ramp = broadcast::ramp(&args, broadcast::print_step).await?;
                match &ramp.best {
                    Some(best) => println!(
                        "ramp: max sustained {:.0} deliveries/s at {:.1} broadcasts/s (p99 {:.1} ms)",
                        best.deliveries_per_sec,
                        best.offered_rate,
                        best.latency.p99_us as f64 / 1000.0
                    ),
                    None => println!("ramp: no rate passed"),
                }
            } else {
                let step = broadcast::step(&args, args.rate, args.p99_limit).await?;
                broadcast::print_step(&step);
            }
        }
        Command::Idle(args) => {
            println!(
                "# idle: url {} connections {} active {} % hold {:?} concurrency {} batches {} pid {:?} sources {} threads {threads}",
                args.url,
                args.connections,
                args.active_percent,
                args.duration,
                args.concurrency,
                args.batches,
                args.pid,
                args.sources
            );
            idle::print(&idle::run(&args).await?);
        }
        Command::Compare(args) => {
            println!(
                "# compare: nestgate {} baseline {} ({}) protocol {:?} quick {} repeats {} out {} pinned {pinned} (servers on CPU {}, load generator on CPU {}) sources {} threads {threads}",
                args.nestgate.display(),
                args.baseline.display(),
                args.baseline_name,
                args.protocol,
                args.quick,
                args.repeats,
                args.out.display(),
                args.server_cpu,
                args.client_cpu,
                args.sources
            );
            compare::run(&args, pinned).await?;
        }
        Command::Cluster(args) => {
            println!(
                "# cluster: echo {} redis-server {} receivers {} nodes {} repeats {} quick {} pinned {pinned} (servers on CPU {:?}) sources {} threads {threads}",
                args.echo.display(),
                args.redis_server.display(),
                args.connections,
                args.nodes,
                args.repeats,
                args.quick,
                args.server_cpu,
                args.sources
            );
            cluster::run(&args).await?;
        }
    }
    Ok(())
}
