//! What the load generator reads from and sets in the operating system: a server's CPU time,
//! memory and descriptors from `/proc`, the descriptor limit, and CPU affinity.

use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::unistd::{Pid, SysconfVar, sysconf};
use std::io;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// Reads a server process's CPU time, memory and descriptors. Without a pid it reads nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe {
    /// The server's process id.
    pid: Option<u32>,
    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), the unit of `/proc/PID/stat`'s times.
    ticks_per_sec: u64,
}

impl Probe {
    /// A probe of process `pid` (none: every reading is `None`).
    pub(crate) fn new(pid: Option<u32>) -> Probe {
        let ticks_per_sec = sysconf(SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .and_then(|ticks| u64::try_from(ticks).ok())
            .filter(|&ticks| ticks > 0)
            .unwrap_or(100);
        Probe { pid, ticks_per_sec }
    }

    /// The process's user + system CPU time so far, in microseconds.
    pub(crate) fn cpu_us(&self) -> Option<u64> {
        let pid = self.pid?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces: count from the last
        // ')'. Field 3 (state) is then the first; utime and stime are fields 14 and 15.
        let (_, rest) = stat.rsplit_once(')')?;
        let mut fields = rest.split_whitespace().skip(11);
        let utime: u64 = fields.next()?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        Some((utime + stime) * 1_000_000 / self.ticks_per_sec)
    }

    /// The process's resident memory (`VmRSS`), in bytes.
    pub(crate) fn rss(&self) -> Option<u64> {
        let pid = self.pid?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// How many descriptors the process has open (a directory listing: off the runtime).
    pub(crate) async fn fds(&self) -> Option<u64> {
        let pid = self.pid?;
        tokio::task::spawn_blocking(move || {
            let entries = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
            u64::try_from(entries.count()).ok()
        })
        .await
        .ok()
        .flatten()
    }

    /// Waits until the server has used at most 2 % of a CPU over 100 ms (it has finished the
    /// work of the previous step), at most `limit`. Returns how long that took.
    pub(crate) async fn wait_quiet(&self, limit: Duration) -> Duration {
        let start = Instant::now();
        let Some(mut before) = self.cpu_us() else {
            sleep(Duration::from_millis(200)).await;
            return start.elapsed();
        };
        while start.elapsed() < limit {
            sleep(Duration::from_millis(100)).await;
            let Some(now) = self.cpu_us() else { break };
            if now.saturating_sub(before) <= 2_000 {
                break;
            }
            before = now;
        }
        start.elapsed()
    }

    /// Waits until the server has at most `target` descriptors open, at most `limit`; returns
    /// the last count.
    pub(crate) async fn wait_fds(&self, target: u64, limit: Duration) -> Option<u64> {
        let deadline = Instant::now() + limit;
        loop {
            let fds = self.fds().await?;
            if fds <= target || Instant::now() >= deadline {
                return Some(fds);
            }
            sleep(Duration::from_millis(100)).await;
        }
    }
}

/// CPU time used by the whole machine so far (every CPU, every process, interrupts), in µs:
/// the first line of `/proc/stat` without idle and iowait.
pub(crate) fn machine_busy_us(ticks_per_sec: u64) -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...; guest time is already in user.
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|&(i, _)| i != 3 && i != 4)
        .map(|(_, ticks)| ticks)
        .sum();
    Some(busy * 1_000_000 / ticks_per_sec.max(1))
}

/// How much CPU the rest of the machine (not the server, not the load generator) used over a
/// stretch of time: others building or testing on the same machine disturb a benchmark.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Contention {
    /// The machine's busy time at the start, in µs.
    machine: Option<u64>,
    /// The server's and the load generator's CPU time at the start.
    ours: (CpuMark, CpuMark),
    /// Probes of the server and the load generator.
    probes: (Probe, Probe),
}

impl Contention {
    /// Starts measuring.
    pub(crate) fn start(server: &Probe) -> Contention {
        let me = Probe::new(Some(std::process::id()));
        Contention {
            machine: machine_busy_us(me.ticks_per_sec),
            ours: (CpuMark::take(server), CpuMark::take(&me)),
            probes: (*server, me),
        }
    }

    /// The CPU the rest of the machine used since the start, in percent of one CPU.
    pub(crate) fn others_percent(&self) -> Option<f64> {
        let machine = machine_busy_us(self.probes.1.ticks_per_sec)?.saturating_sub(self.machine?);
        let server = self
            .ours
            .0
            .since(&self.probes.0)
            .map_or(0, |(used, _)| used);
        let me = self
            .ours
            .1
            .since(&self.probes.1)
            .map_or(0, |(used, _)| used);
        let wall = self.ours.1.at.elapsed().as_secs_f64().max(1e-9);
        let others = machine.saturating_sub(server + me);
        Some(others as f64 / (wall * 1e4))
    }
}

/// A CPU-time reading of the server, to subtract from a later one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuMark {
    /// The server's CPU time at the mark, in µs.
    cpu_us: Option<u64>,
    /// When the mark was taken.
    at: Instant,
}

impl CpuMark {
    /// Reads the server's CPU time now.
    pub(crate) fn take(probe: &Probe) -> CpuMark {
        CpuMark {
            cpu_us: probe.cpu_us(),
            at: Instant::now(),
        }
    }

    /// The server's CPU µs since this mark, and its CPU use in percent of one core.
    pub(crate) fn since(&self, probe: &Probe) -> Option<(u64, f64)> {
        let now = probe.cpu_us()?;
        let used = now.saturating_sub(self.cpu_us?);
        let wall = self.at.elapsed().as_secs_f64().max(1e-9);
        // µs of CPU over µs of wall time, in percent.
        Some((used, used as f64 / (wall * 1e4)))
    }
}

/// Raises this process's soft limit on open files to its hard limit (children inherit it).
/// Returns the soft and hard limits now in force.
pub(crate) fn raise_nofile() -> io::Result<(u64, u64)> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    Ok((soft, hard))
}

/// Pins the calling thread to `cpu`; threads it starts afterwards inherit the affinity.
pub(crate) fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok(())
}

/// How many CPUs this process may run on.
pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
