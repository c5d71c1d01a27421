//! Starting servers and talking to them.
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use target_server::{RunningServer, ServerConfig};

/// An in-memory server without the latency model, trainers ticking fast.
pub async fn fast_server() -> RunningServer {
    server_with(|_| {}).await
}

pub async fn server_with(adjust: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let mut config = ServerConfig::in_memory_on_loopback();
    config.no_latency = true;
    config.trainer_tick_ms = 10;
    adjust(&mut config);
    target_server::spawn(config).await.expect("server starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// One JSON-RPC call with the server's token; returns the whole answer object.
pub async fn rpc(server: &RunningServer, method: &str, params: Value) -> Value {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let response = client()
        .post(format!("{}/api/v1/jsonrpc", server.base_url()))
        .bearer_auth(server.token())
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "JSON-RPC answers are HTTP 200");
    response.json().await.expect("JSON answer")
}

/// The `result` of a call that must succeed.
pub async fn rpc_ok(server: &RunningServer, method: &str, params: Value) -> Value {
    let answer = rpc(server, method, params).await;
    assert!(answer.get("error").is_none(), "{method} failed: {answer}");
    answer["result"].clone()
}

/// The error code of a call that must fail.
pub async fn rpc_error_code(server: &RunningServer, method: &str, params: Value) -> i64 {
    let answer = rpc(server, method, params).await;
    answer["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("{method} should fail: {answer}"))
}

pub fn training_data(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({ "query": format!("question {i}"), "expected_outcome": format!("answer {i}") }))
            .collect(),
    )
}

pub fn start_params(n_iterations: u64) -> Value {
    json!({
        "agent_id": "agent-1",
        "config": { "n_iterations": n_iterations, "batch_size": 4, "n_trajectories_per_query": 2 },
        "training_data": training_data(100),
    })
}

/// Polls `training.get_status` until `done` holds (at most 10 s).
pub async fn wait_for_status(
    server: &RunningServer,
    job_id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..500 {
        let status = rpc_ok(server, "training.get_status", json!({ "job_id": job_id })).await;
        if done(&status) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job {job_id} never reached the awaited state");
}

/// The value of one Prometheus sample line (exact series text), 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

pub async fn metrics_text(server: &RunningServer) -> String {
    client()
        .get(format!("{}/metrics", server.base_url()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// The real `target-server` binary with `args` (which must bind an ephemeral port); returns
/// the child and the base URL its first stdout line announces.
pub fn spawn_binary(args: &[&OsStr]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_target-server"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn target-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("read banner");
    let url = first
        .trim()
        .strip_prefix("target-server listening on ")
        .unwrap_or_else(|| panic!("unexpected banner `{first}`"))
        .to_string();
    (child, url)
}

/// The real binary on an ephemeral port with `--no-latency`, the store `db` and `extra_args`.
pub fn start_binary(db: &Path, extra_args: &[&str]) -> (Child, String) {
    let mut args: Vec<&OsStr> = ["--bind", "127.0.0.1:0", "--no-latency", "--db"]
        .map(OsStr::new)
        .to_vec();
    args.push(db.as_os_str());
    args.extend(extra_args.iter().map(OsStr::new));
    spawn_binary(&args)
}
