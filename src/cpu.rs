//! How many cores other processes leave free, so that a compute job sizes its threads to them.
//!
//! ggml's worker threads (Whisper) spin while they wait for each other: when another process
//! keeps one of two cores busy, a two-thread transcription stalls at every barrier and costs
//! 2-3x a one-thread one (measured with `bench_vs_peer.sh`'s loaded run). A sampler thread reads
//! the machine's busy time (`/proc/stat`) and this process's own (`/proc/self/stat`) every
//! [`SAMPLE_EVERY`], and keeps a smoothed count of the cores busy with other work. Jobs ask
//! [`threads_for`] just before they start. Where `/proc` is missing, every core counts as free.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How often the load is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// Weight of the newest sample in the smoothed figure (about half a second of memory).
const NEWEST_WEIGHT: f64 = 0.3;

/// Cores busy with other processes, in hundredths, as last smoothed.
static OTHERS_BUSY: AtomicU32 = AtomicU32::new(0);
static SAMPLER: OnceLock<()> = OnceLock::new();

/// Threads a job that wants `wanted` should use now: no more than the cores other processes
/// leave free (rounded to the nearest), and at least one.
pub fn threads_for(wanted: u32) -> u32 {
    start();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let busy = f64::from(OTHERS_BUSY.load(Ordering::Relaxed)) / 100.0;
    let free = (cores - busy).round().max(1.0) as u32;
    wanted.clamp(1, free.max(1))
}

/// Starts sampling (once per process), so that the figure is known by the time a job asks.
pub fn start() {
    SAMPLER.get_or_init(|| {
        let Some(mut last) = Sample::read() else {
            return;
        };
        let spawned = std::thread::Builder::new()
            .name("cpu-load-sampler".into()) // process-wide: not one of a session's "duplex-" threads
            .spawn(move || {
                let mut smoothed: Option<f64> = None;
                loop {
                    std::thread::sleep(SAMPLE_EVERY);
                    let Some(now) = Sample::read() else { return };
                    if let Some(busy) = now.others_busy_since(&last) {
                        let smoothed = *smoothed.insert(smoothed.map_or(busy, |old| {
                            NEWEST_WEIGHT * busy + (1.0 - NEWEST_WEIGHT) * old
                        }));
                        OTHERS_BUSY.store((smoothed * 100.0).round() as u32, Ordering::Relaxed);
                    }
                    last = now;
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the CPU load sampler: {e}; thread counts stay as set");
        }
    });
}

/// Cumulative clock ticks: the whole machine's busy and total time, and this process's own.
struct Sample {
    machine_busy: u64,
    machine_total: u64,
    own: u64,
    cores: u64,
}

impl Sample {
    fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let (machine_busy, machine_total, cores) = parse_machine(&stat)?;
        let own = parse_own(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        Some(Self {
            machine_busy,
            machine_total,
            own,
            cores,
        })
    }

    /// Cores that other processes kept busy between `before` and this sample.
    fn others_busy_since(&self, before: &Sample) -> Option<f64> {
        let total = self.machine_total.checked_sub(before.machine_total)?;
        if total == 0 {
            return None;
        }
        let busy = self.machine_busy.saturating_sub(before.machine_busy);
        let own = self.own.saturating_sub(before.own);
        let per_core = total as f64 / self.cores as f64;
        Some((busy.saturating_sub(own) as f64 / per_core).max(0.0))
    }
}

/// Busy and total ticks over all cores, and the number of cores, from `/proc/stat`.
fn parse_machine(stat: &str) -> Option<(u64, u64, u64)> {
    let mut lines = stat.lines();
    let all: Vec<u64> = lines
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let field = |i: usize| all.get(i).copied().unwrap_or(0);
    let idle = field(3) + field(4);
    let total: u64 = (0..8).map(field).sum();
    let cores = lines.filter(|l| l.starts_with("cpu")).count().max(1) as u64;
    Some((total - idle, total, cores))
}

/// This process's user and system ticks, from `/proc/self/stat`.
fn parse_own(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_and_own_ticks_are_read_from_proc_lines() {
        let stat = "cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n\
                    cpu1 50 3 25 500 10 2 1 0 0 0\nintr 1\n";
        assert_eq!(parse_machine(stat), Some((160, 1180, 2)));
        let own = "4242 (duplex (x)) S 1 2 3 4 5 6 7 8 9 10 77 23 0 0 20 0";
        assert_eq!(parse_own(own), Some(100));
    }

    #[test]
    fn others_are_the_machine_s_busy_time_less_our_own() {
        let before = Sample {
            machine_busy: 0,
            machine_total: 0,
            own: 0,
            cores: 2,
        };
        // One second on two cores: 200 ticks; busy 150 of which 40 ours.
        let after = Sample {
            machine_busy: 150,
            machine_total: 200,
            own: 40,
            cores: 2,
        };
        let busy = after.others_busy_since(&before).unwrap();
        assert!((busy - 1.1).abs() < 1e-9, "{busy}");
    }

    #[test]
    fn a_job_gets_at_least_one_thread_and_no_more_than_it_wants() {
        assert!(threads_for(1) == 1);
        assert!((1..=2).contains(&threads_for(2)));
    }
}
