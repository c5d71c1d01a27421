//! The server's modelled waits on its precise clock against the same waits on tokio's timer,
//! in one run: how late each wait ends, and the CPU time each wait costs.
//!
//! Like the server, each variant runs on a tokio runtime (one worker thread) where many tasks
//! wait over and over for a service time drawn from 2 + [0, 4] ms (get_status's default
//! latency model); every wait records how long after its deadline it ended. CPU time is that of
//! every thread of the process (runtime workers, the clock thread), read from
//! `/proc/self/task/*/schedstat` before and after each variant. The machine is shared and
//! noisy, so the figures to read are the ratios printed at the end.
//!
//! Run: `cargo bench -p target-server --bench modelled_waits [-- SECONDS [WAITERS]]`
//! (defaults: 3 s per variant, 100 waiters, about 25,000 waits/s).
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use target_server::precise_clock::PreciseClock;

/// Which timer a variant's waits sleep on.
#[derive(Clone, Copy)]
enum Timer {
    Tokio,
    Precise,
}

/// What one variant measured.
struct Measured {
    waits: usize,
    waits_per_s: f64,
    cpu_us_per_wait: f64,
    /// How long after their deadlines waits ended, in µs, sorted.
    late_us: Vec<u64>,
}

impl Measured {
    fn late_at(&self, quantile: f64) -> u64 {
        let i = ((self.late_us.len() - 1) as f64 * quantile).round() as usize;
        self.late_us[i]
    }

    fn print(&self, name: &str) {
        println!(
            "{name:<14}: {:>7} waits ({:>6.0}/s), CPU {:>5.2} µs/wait, late p50 {:>5} µs p90 {:>5} µs p99 {:>5} µs max {:>6} µs",
            self.waits,
            self.waits_per_s,
            self.cpu_us_per_wait,
            self.late_at(0.5),
            self.late_at(0.9),
            self.late_at(0.99),
            self.late_us.last().copied().unwrap_or(0),
        );
    }
}

fn main() {
    let mut numbers = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<u64>().ok());
    let seconds = numbers.next().unwrap_or(3);
    let waiters = numbers.next().unwrap_or(100) as usize;
    let length = Duration::from_secs(seconds);
    println!(
        "{waiters} tasks waiting 2 + [0, 4] ms over and over, {seconds} s per variant, one runtime worker"
    );
    let clock = PreciseClock::start().expect("clock thread");
    let tokio = run(Timer::Tokio, &clock, waiters, length);
    let precise = run(Timer::Precise, &clock, waiters, length);
    tokio.print("tokio timer");
    precise.print("precise clock");
    println!(
        "ratio precise / tokio: CPU per wait {:.2}, late p50 {:.3}, late p99 {:.3}",
        precise.cpu_us_per_wait / tokio.cpu_us_per_wait,
        precise.late_at(0.5) as f64 / tokio.late_at(0.5).max(1) as f64,
        precise.late_at(0.99) as f64 / tokio.late_at(0.99).max(1) as f64,
    );
}

fn run(timer: Timer, clock: &PreciseClock, waiters: usize, length: Duration) -> Measured {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let late_us = Arc::new(Mutex::new(Vec::new()));
    let cpu_before = process_cpu();
    let started = Instant::now();
    runtime.block_on(async {
        let until = started + length;
        let tasks: Vec<_> = (0..waiters)
            .map(|_| {
                let (clock, late_us) = (clock.clone(), late_us.clone());
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    while Instant::now() < until {
                        let wait = Duration::from_micros(rand::rng().random_range(2_000..=6_000));
                        let deadline = Instant::now() + wait;
                        match timer {
                            Timer::Tokio => tokio::time::sleep_until(deadline.into()).await,
                            Timer::Precise => clock.sleep_until(deadline).await,
                        }
                        mine.push(deadline.elapsed().as_micros() as u64);
                    }
                    late_us.lock().unwrap().extend(mine);
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("waiter");
        }
    });
    let elapsed = started.elapsed();
    let cpu = process_cpu() - cpu_before;
    drop(runtime);
    let mut late_us = std::mem::take(&mut *late_us.lock().unwrap());
    late_us.sort_unstable();
    Measured {
        waits: late_us.len(),
        waits_per_s: late_us.len() as f64 / elapsed.as_secs_f64(),
        cpu_us_per_wait: cpu.as_secs_f64() * 1e6 / late_us.len() as f64,
        late_us,
    }
}

/// CPU time of every live thread of this process (`/proc/self/task/*/schedstat`, first field:
/// nanoseconds on a CPU).
fn process_cpu() -> Duration {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task (Linux only)");
    let nanos: u64 = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}
