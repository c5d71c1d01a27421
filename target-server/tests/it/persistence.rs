//! Acknowledged writes survive `kill -9` of the real binary and a restart on the same file.
use std::process::Command;

use serde_json::{json, Value};

use crate::support::*;

async fn call(url: &str, method: &str, params: Value) -> Value {
    client()
        .post(format!("{url}/api/v1/jsonrpc"))
        .bearer_auth(target_server::DEFAULT_TOKEN)
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_jobs_and_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let (mut child, url) = start_binary(&db, &[]);

    let started = call(&url, "training.start_grpo", start_params(5_000)).await;
    let job_id = started["result"]["job_id"]
        .as_str()
        .expect("job started")
        .to_string();
    let events: Vec<Value> = (0..500)
        .map(|i| json!({ "event_id": format!("e{i}"), "event_type": "agent.step", "data": {} }))
        .collect();
    let accepted: Value = client()
        .post(format!("{url}/api/v1/events/batch"))
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(accepted["accepted"], 500);

    child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix.
    child.wait().unwrap();

    let (mut child, url) = start_binary(&db, &[]);
    let status = call(&url, "training.get_status", json!({ "job_id": job_id })).await;
    assert_eq!(status["result"]["job_id"], job_id.as_str(), "{status}");
    child.kill().unwrap();
    child.wait().unwrap();

    let conn = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(target_server::store::count_events(&conn).unwrap(), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let args = [
        "--bind",
        "127.0.0.1:0",
        "--latency",
        "get_workflow_status=800",
        "--db",
    ];
    let mut args: Vec<&std::ffi::OsStr> = args.map(std::ffi::OsStr::new).to_vec();
    args.push(db.as_os_str());
    let (mut child, url) = spawn_binary(&args);
    let slow = tokio::spawn(
        client()
            .get(format!("{url}/api/v1/workflows/w/status"))
            .send(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    // The request in flight when SIGTERM arrived still gets its answer...
    assert_eq!(slow.await.unwrap().unwrap().status(), 404);
    // ...and the process then exits cleanly.
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}
