//! Throughput of `training.get_status` against a bare axum JSON handler, in one run.
//!
//! Both servers get one runtime thread (one core); the same client drives each for the same
//! time with 64 keep-alive connections: `wrk` (one thread) when it is on PATH, as it costs the
//! shared machine far less CPU per request, else a single-threaded reqwest client. The machine
//! is shared and noisy, so the figure that matters is the ratio printed at the end.
//!
//! Run: `cargo bench -p target-server --bench get_status_throughput [-- SECONDS]`
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use target_server::ServerConfig;

const CONCURRENCY: usize = 64;

fn main() {
    pin_to_first_core();
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let duration = Duration::from_secs(seconds);

    let (bare_addr, _bare) = on_one_thread(|| async {
        let router = Router::new().route(
            "/api/v1/jsonrpc",
            post(|Json(call): Json<Value>| async move {
                Json(json!({ "jsonrpc": "2.0", "id": call["id"], "result": {
                    "job_id": call["params"]["job_id"], "status": "running", "current_iteration": 3,
                    "total_iterations": 10, "progress_percent": 30.0,
                    "metrics": { "avg_reward": 0.5, "trajectories_generated": 12 } } }))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    });

    let (server_addr, _server) = on_one_thread(|| async {
        let mut config = ServerConfig::in_memory_on_loopback();
        config.no_latency = true;
        let server = target_server::spawn(config).await.unwrap();
        let addr = server.local_addr();
        std::mem::forget(server); // Serves until the process exits.
        addr
    });
    let job_id = client_runtime().block_on(start_job(server_addr));

    let wrk = std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok();
    println!(
        "client: {}",
        if wrk {
            "wrk -t1 -c64"
        } else {
            "reqwest, 64 concurrent calls (install wrk for a cheaper client)"
        }
    );
    let measure = |addr| {
        if wrk {
            drive_with_wrk(addr, &job_id, duration)
        } else {
            drive(addr, &job_id, duration)
        }
    };
    let bare = measure(bare_addr);
    let real = measure(server_addr);
    println!("bare axum JSON handler : {bare:>9.0} req/s");
    println!("target-server get_status: {real:>9.0} req/s (SQLite read, metrics, admission, no latency model)");
    println!("ratio target-server / bare axum = {:.2}", real / bare);
}

/// Re-runs this benchmark under `taskset -c 0` (servers, their blocking threads and all), so
/// that "one core" holds for the server side and the client gets the other core.
fn pin_to_first_core() {
    const PINNED: &str = "SKEIN_BENCH_PINNED";
    if std::env::var_os(PINNED).is_some() {
        return;
    }
    let me = std::env::current_exe().expect("own path");
    let status = std::process::Command::new("taskset")
        .args(["-c", "0"])
        .arg(me)
        .args(std::env::args().skip(1))
        .env(PINNED, "1")
        .status();
    match status {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(_) => eprintln!("taskset not found: running unpinned, servers may use several cores"),
    }
}

/// Runs a server set up by `start` on its own single-threaded runtime; returns its address.
fn on_one_thread<F, Fut>(start: F) -> (SocketAddr, std::thread::JoinHandle<()>)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = SocketAddr>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            tx.send(start().await).unwrap();
            std::future::pending::<()>().await;
        });
    });
    (rx.recv().unwrap(), handle)
}

fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn start_job(addr: SocketAddr) -> String {
    let data: Vec<Value> = (0..100)
        .map(|i| json!({ "query": format!("q{i}"), "expected_outcome": "a" }))
        .collect();
    let answer: Value = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/jsonrpc"))
        .bearer_auth(target_server::DEFAULT_TOKEN)
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "training.start_grpo", "params": {
            "agent_id": "bench", "config": { "n_iterations": 10, "batch_size": 4, "n_trajectories_per_query": 2 },
            "training_data": data } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["result"]["job_id"].as_str().unwrap().to_string()
}

fn get_status_body(job_id: &str) -> String {
    json!({ "jsonrpc": "2.0", "id": 1, "method": "training.get_status", "params": { "job_id": job_id } }).to_string()
}

/// Requests per second measured by `wrk` (its `Requests/sec:` line).
fn drive_with_wrk(addr: SocketAddr, job_id: &str, duration: Duration) -> f64 {
    let script = std::env::temp_dir().join(format!("skein-bench-{}.lua", std::process::id()));
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.body = '{}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {}\"\n",
        get_status_body(job_id),
        target_server::DEFAULT_TOKEN
    );
    std::fs::write(&script, lua).unwrap();
    let out = std::process::Command::new("taskset")
        .args([
            "-c",
            "1",
            "wrk",
            "-t1",
            "-c64",
            &format!("-d{}s", duration.as_secs()),
        ])
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{addr}/api/v1/jsonrpc"))
        .output()
        .expect("run wrk");
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("Non-2xx"), "wrk saw errors:\n{text}");
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"))
}

/// Requests per second of successful get_status calls over `duration`.
fn drive(addr: SocketAddr, job_id: &str, duration: Duration) -> f64 {
    let body = get_status_body(job_id);
    let url = format!("http://{addr}/api/v1/jsonrpc");
    client_runtime().block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(CONCURRENCY)
            .build()
            .unwrap();
        let done = Arc::new(AtomicU64::new(0));
        let until = Instant::now() + duration;
        let started = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let (client, url, body, done) =
                    (client.clone(), url.clone(), body.clone(), done.clone());
                tokio::spawn(async move {
                    while Instant::now() < until {
                        let response = client
                            .post(&url)
                            .bearer_auth(target_server::DEFAULT_TOKEN)
                            .header("content-type", "application/json")
                            .body(body.clone())
                            .send()
                            .await
                            .expect("request");
                        assert_eq!(response.status(), 200);
                        response.bytes().await.expect("body");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    })
}
