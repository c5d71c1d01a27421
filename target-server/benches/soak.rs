//! Soak: does a long heavy-like run stay bounded? Runs the real `target-server` binary on a
//! database file with its default retention caps, drives it with a load shaped like the heavy
//! scenario (start_grpo, get_status, export_trajectories, 1,000-event batches, workflows of up
//! to 100 tasks created and executed), and prints the
//! server's RSS and store size at every report, then the growth per minute after warm-up
//! against the growth during warm-up (the ratio is the figure to read: near 0 means bounded).
//!
//! Run: `cargo bench -p target-server --bench soak [-- MINUTES]` (default 1; fractions allowed).
//! Reports come every minute, or every 15 s for runs under 2 minutes.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Semaphore;

/// Requests per second of each kind: 200 heavy-scenario users at their think times.
const START_PER_S: u64 = 13;
const STATUS_PER_S: u64 = 100;
const EXPORT_PER_S: u64 = 9;
const EVENT_BATCHES_PER_S: u64 = 6;
const EVENTS_PER_BATCH: usize = 1_000;
/// Workflows created (each then executed once): the heavy scenario's ~22 orchestration users.
const WORKFLOWS_PER_S: u64 = 18;
const MAX_TASKS: usize = 100;
/// Requests in flight at most (like a bounded user count).
const CONCURRENCY: usize = 128;
const TOKEN: &str = "skein-dev-token";

fn main() {
    let minutes: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1.0);
    let total = Duration::from_secs_f64(minutes * 60.0);
    let every = if minutes < 2.0 {
        Duration::from_secs(15)
    } else {
        Duration::from_secs(60)
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("soak.db");
    let (mut child, url) = start_server(&db);
    println!(
        "soak: {minutes} min against {url}, db {} (default caps), load/s: start_grpo {START_PER_S}, \
         get_status {STATUS_PER_S}, export {EXPORT_PER_S}, event batches {EVENT_BATCHES_PER_S} x {EVENTS_PER_BATCH}, \
         workflows {WORKFLOWS_PER_S} (1..={MAX_TASKS} tasks, executed once)",
        db.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let samples = runtime.block_on(drive(&url, &db, child.id(), total, every));
    let _ = child.kill();
    let _ = child.wait();
    summarize(&samples);
}

fn start_server(db: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_target-server"))
        .args(["--bind", "127.0.0.1:0", "--db"])
        .arg(db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn target-server");
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut first).expect("banner");
    // Keep reading: the server logs warnings to stdout, and a closed pipe would lose them.
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            eprintln!("server: {line}");
        }
    });
    let url = first
        .trim()
        .strip_prefix("target-server listening on ")
        .expect("banner names the URL")
        .to_string();
    (child, url)
}

/// One report: what the server and its store weigh at `at`.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_bytes: u64,
    file_bytes: u64,
    wal_bytes: u64,
    trajectories: f64,
    events: f64,
    jobs: f64,
    workflows: f64,
    executions: f64,
    requests: u64,
    failures: u64,
}

#[derive(Default)]
struct Load {
    jobs: Mutex<Vec<String>>,
    requests: AtomicU64,
    failures: AtomicU64,
}

async fn drive(url: &str, db: &Path, pid: u32, total: Duration, every: Duration) -> Vec<Sample> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");
    let load = Arc::new(Load::default());
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let training_data: Value = (0..100)
        .map(|i| json!({ "query": format!("Summarise incident report #{i} and propose a remediation plan"),
                          "expected_outcome": format!("A remediation plan for incident #{i} naming owner and deadline") }))
        .collect();
    let kinds: [(u64, Kind); 5] = [
        (START_PER_S, Kind::Start),
        (STATUS_PER_S, Kind::Status),
        (EXPORT_PER_S, Kind::Export),
        (EVENT_BATCHES_PER_S, Kind::Events),
        (WORKFLOWS_PER_S, Kind::Workflow),
    ];
    let started = Instant::now();
    let mut loops = Vec::new();
    for (rate, kind) in kinds {
        let (http, load, permits, url) =
            (http.clone(), load.clone(), permits.clone(), url.to_string());
        let data = training_data.clone();
        loops.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while started.elapsed() < total {
                tick.tick().await;
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let (http, load, url, data) =
                    (http.clone(), load.clone(), url.clone(), data.clone());
                tokio::spawn(async move {
                    let ok = send(&http, &url, kind, &load, &data).await;
                    load.requests.fetch_add(1, Ordering::Relaxed);
                    if !ok {
                        load.failures.fetch_add(1, Ordering::Relaxed);
                    }
                    drop(permit);
                });
            }
        }));
    }
    let mut samples = Vec::new();
    let mut next = every.min(total);
    loop {
        tokio::time::sleep(next.saturating_sub(started.elapsed())).await;
        let s = sample(&http, url, db, pid, started.elapsed(), &load).await;
        println!(
            "{:>6.0} s  rss {:>7.1} MiB  db file {:>7.1} MiB (+wal {:>5.1} MiB)  rows: trajectories {:>8} events {:>8} jobs {:>7} workflows {:>6} executions {:>6}  requests {} (failed {})",
            s.at.as_secs_f64(), mib(s.rss_bytes), mib(s.file_bytes), mib(s.wal_bytes),
            s.trajectories, s.events, s.jobs, s.workflows, s.executions, s.requests, s.failures
        );
        samples.push(s);
        if next >= total {
            break;
        }
        next = (next + every).min(total);
    }
    for l in loops {
        let _ = l.await;
    }
    samples
}

#[derive(Clone, Copy)]
enum Kind {
    Start,
    Status,
    Export,
    Events,
    Workflow,
}

async fn send(http: &reqwest::Client, url: &str, kind: Kind, load: &Load, data: &Value) -> bool {
    let job = || {
        let jobs = load.jobs.lock().expect("jobs");
        (!jobs.is_empty()).then(|| jobs[rand::random_range(0..jobs.len())].clone())
    };
    let rpc = |method: &str, params: Value| {
        http.post(format!("{url}/api/v1/jsonrpc"))
            .bearer_auth(TOKEN)
            .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }))
    };
    let request = match kind {
        Kind::Start => rpc(
            "training.start_grpo",
            json!({ "agent_id": "soak", "training_data": data, "config": {
                "n_iterations": rand::random_range(10..=50), "batch_size": 16,
                "n_trajectories_per_query": 4, "max_budget_usd": 100.0 } }),
        ),
        Kind::Status => match job() {
            Some(id) => rpc("training.get_status", json!({ "job_id": id })),
            None => return true,
        },
        Kind::Export => match job() {
            Some(id) => rpc(
                "training.export_trajectories",
                json!({ "job_id": id, "success_only": true, "limit": 50 }),
            ),
            None => return true,
        },
        Kind::Events => {
            let now = chrono::Utc::now().timestamp();
            let batch = uuid::Uuid::new_v4();
            let events: Vec<Value> = (0..EVENTS_PER_BATCH)
                .map(|i| json!({ "event_id": format!("{batch}-{i}"), "event_type": "agent.step.completed",
                                  "workflow_id": format!("wf-{batch}"), "timestamp": now,
                                  "data": { "step": i, "tokens": 128 } }))
                .collect();
            http.post(format!("{url}/api/v1/events/batch"))
                .json(&json!({ "events": events }))
        }
        Kind::Workflow => return create_and_execute_workflow(http, url).await,
    };
    let Ok(response) = request.send().await else {
        return false;
    };
    if !response.status().is_success() {
        return false;
    }
    let Ok(body) = response.json::<Value>().await else {
        return false;
    };
    if let (Kind::Start, Some(id)) = (kind, body["result"]["job_id"].as_str()) {
        let mut jobs = load.jobs.lock().expect("jobs");
        if jobs.len() >= 1_000 {
            jobs.remove(0);
        }
        jobs.push(id.to_string());
    }
    body.get("error").is_none()
}

/// A workflow of 1..=MAX_TASKS tasks (each depending on the one before, every third parallel),
/// then one execution of it; true when both succeed.
async fn create_and_execute_workflow(http: &reqwest::Client, url: &str) -> bool {
    let id = uuid::Uuid::new_v4().to_string();
    let tasks: Vec<Value> = (0..rand::random_range(1..=MAX_TASKS))
        .map(|i| {
            let depends_on: Vec<String> = (i > 0)
                .then(|| format!("task-{}", i - 1))
                .into_iter()
                .collect();
            json!({ "task_id": format!("task-{i}"), "agent_role": format!("worker-{}", i % 5),
                    "depends_on": depends_on, "parallel": i % 3 == 0 })
        })
        .collect();
    let workflow = json!({ "workflow_id": id, "name": "soak", "version": "1.0",
        "orchestration_pattern": "supervisor", "agents": { "supervisor": { "model": "m" } },
        "tasks": tasks });
    let ok =
        |r: Result<reqwest::Response, reqwest::Error>| r.is_ok_and(|r| r.status().is_success());
    ok(http
        .post(format!("{url}/api/v1/workflows"))
        .json(&workflow)
        .send()
        .await)
        && ok(http
            .post(format!("{url}/api/v1/workflows/{id}/execute"))
            .json(&json!({ "input_data": { "ticket": id }, "execution_options": {} }))
            .send()
            .await)
}

async fn sample(
    http: &reqwest::Client,
    url: &str,
    db: &Path,
    pid: u32,
    at: Duration,
    load: &Load,
) -> Sample {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("metrics");
    let text = text.text().await.expect("metrics text");
    let gauge = |series: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0)
    };
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    Sample {
        at,
        rss_bytes: rss_bytes(pid),
        file_bytes: size(db),
        wal_bytes: size(&db.with_extension("db-wal")),
        trajectories: gauge("target_server_store_rows{table=\"trajectories\"}"),
        events: gauge("target_server_store_rows{table=\"events\"}"),
        jobs: gauge("target_server_store_rows{table=\"jobs\"}"),
        workflows: gauge("target_server_store_rows{table=\"workflows\"}"),
        executions: gauge("target_server_store_rows{table=\"executions\"}"),
        requests: load.requests.load(Ordering::Relaxed),
        failures: load.failures.load(Ordering::Relaxed),
    }
}

/// Resident set size of a process, from /proc (0 where there is no /proc).
fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Growth per minute during warm-up and after it. Warm-up ends at the first report where the
/// trajectory and event tables reached their final size (the caps), or at the first report.
fn summarize(samples: &[Sample]) {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return;
    };
    let capped = samples
        .iter()
        .find(|s| s.trajectories >= 0.99 * last.trajectories && s.events >= 0.99 * last.events)
        .filter(|s| s.at < last.at)
        .unwrap_or(first);
    let per_min = |a: u64, b: u64, from: Duration, to: Duration| {
        let minutes = (to - from).as_secs_f64() / 60.0;
        (b as f64 - a as f64) / (1024.0 * 1024.0) / minutes.max(1e-9)
    };
    let warm_file = per_min(0, capped.file_bytes, Duration::ZERO, capped.at);
    println!(
        "warm-up (0..{:.0} s): db file +{warm_file:.1} MiB/min",
        capped.at.as_secs_f64()
    );
    if capped.at >= last.at {
        println!("the run ended during warm-up: run longer to see growth after it");
        return;
    }
    let minutes = (last.at - capped.at).as_secs_f64() / 60.0;
    let file = per_min(capped.file_bytes, last.file_bytes, capped.at, last.at);
    let rss = per_min(capped.rss_bytes, last.rss_bytes, capped.at, last.at);
    println!(
        "after warm-up ({:.0}..{:.0} s): db file {file:+.1} MiB/min, rss {rss:+.1} MiB/min, \
         trajectories {:+.0} rows/min, events {:+.0} rows/min, jobs {:+.0} rows/min, \
         workflows {:+.0} rows/min",
        capped.at.as_secs_f64(),
        last.at.as_secs_f64(),
        (last.trajectories - capped.trajectories) / minutes,
        (last.events - capped.events) / minutes,
        (last.jobs - capped.jobs) / minutes,
        (last.workflows - capped.workflows) / minutes,
    );
    println!(
        "ratio db-file growth after / during warm-up = {:.3}",
        file / warm_file.max(1e-9)
    );
}
