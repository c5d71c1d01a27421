//! What a Prometheus scrape of `/metrics` costs the generator: CPU per request of a run
//! (10 users, no think time, 5 s) serving `/metrics` and scraped once a second, against the
//! same run serving `/metrics` and never scraped — measured in one run of this benchmark.
//!
//! Each mode runs in a child process (this binary re-run with SKEIN_BENCH_MODE) so its CPU
//! is its own; the parent runs the reference server (latency model off) and does the
//! scraping, so the scraper's own CPU is not counted. Modes alternate over three rounds and
//! each keeps its best (the machine is shared).
//!
//! The whole-run ratio is at the mercy of the shared machine, so the cost of one scrape is
//! also measured directly (snapshot + exposition of a recorder holding the child runs'
//! request names, timed over 200 scrapes) and set against the CPU one second of the
//! unscraped run used.
//!
//! Run: `cargo bench -p skein --bench metrics_scrape`
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skein::engine::StopHandle;
use skein::live_outputs::{LiveConfig, LiveOutputs};
use skein::recorder::Recorder;
use skein::resources;
use skein::runner::{run_plan, RunPlan};

const USERS: usize = 10;
const SECONDS: u64 = 5;
const ROUNDS: usize = 3;

fn main() {
    if let Ok(host) = std::env::var("SKEIN_BENCH_HOST") {
        child(&host);
        return;
    }
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut config = target_server::ServerConfig::in_memory_on_loopback();
    config.no_latency = true;
    config.capacity = 4096;
    let server = server_runtime
        .block_on(target_server::spawn(config))
        .unwrap();
    let host = server.base_url();
    println!("Generator CPU per request ({USERS} users, no think time, {SECONDS} s per run):");
    let (mut quiet, mut scraped) = (f64::INFINITY, f64::INFINITY);
    let mut scrape_bytes = 0;
    let mut quiet_cpu_per_second = f64::INFINITY;
    for _ in 0..ROUNDS {
        let (cost, _, cpu) = run_child(&host, false);
        quiet = quiet.min(cost);
        quiet_cpu_per_second = quiet_cpu_per_second.min(cpu / SECONDS as f64);
        let (cost, bytes, _) = run_child(&host, true);
        scraped = scraped.min(cost);
        scrape_bytes = bytes;
    }
    println!(
        "best of {ROUNDS}: not scraped {:.1} µs, scraped every 1 s {:.1} µs CPU/request",
        quiet * 1e6,
        scraped * 1e6
    );
    println!(
        "scrape cost: scraped / not scraped = {:.3} (aim <= 1.02); last exposition {:.1} KiB",
        scraped / quiet,
        scrape_bytes as f64 / 1024.0
    );
    let one = scrape_cost();
    println!(
        "one scrape (snapshot + exposition, 4 names): {:.0} µs CPU = {:.3} % of one second of the unscraped run's CPU ({:.2} CPU s/s)",
        one * 1e6,
        100.0 * one / quiet_cpu_per_second,
        quiet_cpu_per_second
    );
    drop(server);
}

/// CPU seconds of one `/metrics` body for a recorder holding the four request names of
/// `BurstTrainingUser` with 100,000 samples each.
fn scrape_cost() -> f64 {
    let recorder = Arc::new(Recorder::new());
    let names = [
        "training.get_status",
        "training.start_grpo",
        "training.export_trajectories",
        "training.cancel",
    ];
    let now = Instant::now();
    for i in 0..400_000u64 {
        recorder.record(skein::recorder::Sample {
            method: "POST",
            name: names[(i % 4) as usize],
            latency: Duration::from_micros(300 + (i * 7919) % 20_000),
            sent_at: now,
            timing: skein::recorder::Timing::Closed {
                expected_interval: Duration::from_millis(1),
            },
            content_bytes: 180,
            items: 0,
            stream: None,
            tokens: None,
            error: None,
        });
    }
    recorder.roll(true);
    let source = skein::live_outputs::Source {
        recorder,
        scenario: "bench".into(),
        load_model: reports::LoadModel::Closed,
    };
    let n = 200;
    let before = resources::cpu_seconds();
    let mut bytes = 0;
    for _ in 0..n {
        bytes += reports::prometheus::render(&source.snapshot(Some(1)).0).len();
    }
    assert!(bytes > 0);
    (resources::cpu_seconds() - before) / n as f64
}

/// Runs one child; scrapes it every second when `scrape`. Returns its CPU seconds per
/// request, the size of the last exposition and its CPU seconds.
fn run_child(host: &str, scrape: bool) -> (f64, usize, f64) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("SKEIN_BENCH_HOST", host)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = lines.next().unwrap().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut bytes = 0;
    if scrape {
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(SECONDS) {
            std::thread::sleep(Duration::from_secs(1));
            if let Ok(text) = runtime.block_on(async {
                client
                    .get(format!("http://{addr}/metrics"))
                    .send()
                    .await?
                    .text()
                    .await
            }) {
                bytes = text.len();
            }
        }
    }
    let last = lines.last().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    let (cpu, requests) = last.split_once(' ').unwrap();
    let (cpu, requests): (f64, f64) = (cpu.parse().unwrap(), requests.parse().unwrap());
    let mode = if scrape { "scraped" } else { "not scraped" };
    println!(
        "{mode:<12} {requests:>8} requests, {cpu:>6.2} CPU s, {:>6.1} µs CPU/request",
        1e6 * cpu / requests
    );
    (cpu / requests, bytes, cpu)
}

/// The child: a Skein run with `/metrics` served; prints its address, then "CPU requests".
fn child(host: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = format!(
        "users = {USERS}\nspawn_rate = {USERS}\nrun_time = \"{SECONDS}s\"\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\nthink_time = [\"0ms\", \"0ms\"]\n"
    );
    let scenario = skein::scenario::file::parse("bench", "bench.toml", &text).unwrap();
    let plan = RunPlan::new(scenario, host.into(), target_server::DEFAULT_TOKEN.into());
    let live = LiveOutputs::start(&LiveConfig {
        metrics_bind: Some("127.0.0.1:0".parse().unwrap()),
        jsonl: None,
        web: None,
    })
    .unwrap();
    println!("{}", live.metrics_addr().unwrap());
    let cpu_before = resources::cpu_seconds();
    let result = runtime.block_on(async {
        let recorder = Arc::new(Recorder::new());
        live.attach(recorder.clone(), &plan.scenario);
        run_plan(&plan, recorder, &StopHandle::default())
            .await
            .unwrap()
    });
    let cpu = resources::cpu_seconds() - cpu_before;
    let requests: u64 = result.requests.iter().map(|r| r.requests).sum();
    println!("{cpu} {requests}");
}
