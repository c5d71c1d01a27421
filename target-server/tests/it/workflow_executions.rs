//! Executions run their tasks in dependency order, finish, and the workflow's status follows.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// a → (b ∥ c) → d: b and c are parallel, d waits for both.
fn diamond(id: &str) -> Value {
    json!({
        "workflow_id": id, "name": "diamond", "orchestration_pattern": "supervisor",
        "tasks": [
            { "task_id": "d", "depends_on": ["b", "c"] },
            { "task_id": "a", "depends_on": [] },
            { "task_id": "b", "depends_on": ["a"], "parallel": true },
            { "task_id": "c", "depends_on": ["a"], "parallel": true },
        ],
    })
}

fn dependencies() -> HashMap<&'static str, Vec<&'static str>> {
    HashMap::from([
        ("a", vec![]),
        ("b", vec!["a"]),
        ("c", vec!["a"]),
        ("d", vec!["b", "c"]),
    ])
}

async fn get(url: String) -> Value {
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_runs_its_tasks_in_dependency_order_and_completes() {
    let server = server_with(|c| c.workflow_task_ms = 250).await;
    let base = format!("{}/api/v1", server.base_url());
    let http = client();
    let created = http
        .post(format!("{base}/workflows"))
        .json(&diamond("wf-d"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let status = get(format!("{base}/workflows/wf-d/status")).await;
    assert_eq!(status["status"], "idle", "{status}");

    let started: Value = http
        .post(format!("{base}/workflows/wf-d/execute"))
        .json(&json!({ "input_data": {} }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let execution_id = started["execution_id"].as_str().unwrap().to_string();
    let status = get(format!("{base}/workflows/wf-d/status")).await;
    assert_eq!(status["status"], "active", "{status}");
    assert_eq!(status["executions"]["running"], 1, "{status}");

    let deps = dependencies();
    let mut seen_running = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    let last = loop {
        assert!(Instant::now() < deadline, "execution never completed");
        let e = get(format!("{base}/executions/{execution_id}")).await;
        let states: HashMap<String, String> = e["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["task_id"].as_str().unwrap().to_string(),
                    t["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(states.len(), 4, "{e}");
        // At every moment: a task that started has all its dependencies completed.
        for (task, needs) in &deps {
            if states[*task] != "pending" {
                for need in needs {
                    assert_eq!(
                        states[*need], "completed",
                        "{task} started before {need}: {e}"
                    );
                }
            }
        }
        if e["status"] == "completed" {
            break e;
        }
        assert_eq!(e["status"], "running");
        seen_running = true;
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(seen_running, "the execution was never seen running");
    assert!(last["finished_at"].is_string(), "{last}");
    let times: HashMap<&str, (&str, &str)> = last["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task_id"].as_str().unwrap(),
                (
                    t["started_at"].as_str().unwrap(),
                    t["finished_at"].as_str().unwrap(),
                ),
            )
        })
        .collect();
    // Same-format UTC timestamps compare as text.
    for (task, needs) in &deps {
        for need in needs {
            assert!(
                times[task].0 >= times[need].1,
                "{task} before {need}: {last}"
            );
        }
    }
    assert_eq!(times["b"].0, times["c"].0, "parallel tasks start together");

    let status = get(format!("{base}/workflows/wf-d/status")).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(
        status["executions"],
        json!({ "running": 0, "completed": 1 })
    );
    assert_eq!(
        http.get(format!("{base}/executions/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_from_before_execution_plans_opens_and_its_executions_count_as_completed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE workflows (workflow_id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at TEXT NOT NULL);
         CREATE TABLE executions (execution_id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL,
             status TEXT NOT NULL, input TEXT NOT NULL, created_at TEXT NOT NULL);
         INSERT INTO workflows VALUES ('old', '{\"tasks\":[{\"task_id\":\"a\"}]}', '2026-01-01T00:00:00Z');
         INSERT INTO executions VALUES ('x1', 'old', 'running', 'null', '2026-01-01T00:00:00Z');",
    )
    .unwrap();
    drop(conn);
    let server = server_with(|c| c.db = db.clone()).await;
    let base = format!("{}/api/v1", server.base_url());
    let status = get(format!("{base}/workflows/old/status")).await;
    assert_eq!(status["status"], "completed", "{status}");
    let execution = get(format!("{base}/executions/x1")).await;
    assert_eq!(execution["status"], "completed", "{execution}");
    server.shutdown().await.unwrap();
}
