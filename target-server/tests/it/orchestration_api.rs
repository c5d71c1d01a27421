//! The orchestration REST API: workflows, executions, status, event batches.
use serde_json::{json, Value};

use crate::support::*;

fn workflow(id: &str, tasks: Value) -> Value {
    json!({
        "workflow_id": id, "name": "research pipeline", "version": "1.0",
        "orchestration_pattern": "supervisor",
        "agents": { "planner": { "model": "m" }, "worker": { "model": "m" } },
        "tasks": tasks,
    })
}

fn chain(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                let deps: Vec<String> = if i == 0 { vec![] } else { vec![format!("t{}", i - 1)] };
                json!({ "task_id": format!("t{i}"), "agent_role": "worker", "depends_on": deps, "parallel": i % 3 == 0 })
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_lifecycle_and_its_error_statuses() {
    let server = fast_server().await;
    let base = format!("{}/api/v1", server.base_url());
    let http = client();

    let created = http
        .post(format!("{base}/workflows"))
        .json(&workflow("wf-1", chain(50)))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let again = http
        .post(format!("{base}/workflows"))
        .json(&workflow("wf-1", chain(5)))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    let cycle = json!([
        { "task_id": "a", "depends_on": ["c"] },
        { "task_id": "b", "depends_on": ["a"] },
        { "task_id": "c", "depends_on": ["b"] },
    ]);
    let rejected = http
        .post(format!("{base}/workflows"))
        .json(&workflow("wf-cycle", cycle))
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 422);
    let body: Value = rejected.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("cycle"),
        "{body}"
    );
    let dangling = json!([{ "task_id": "a", "depends_on": ["ghost"] }]);
    let rejected = http
        .post(format!("{base}/workflows"))
        .json(&workflow("wf-x", dangling))
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 422);
    let bad_pattern = json!({ "orchestration_pattern": "anarchy" });
    let mut w = workflow("wf-y", chain(2));
    w.as_object_mut()
        .unwrap()
        .extend(bad_pattern.as_object().unwrap().clone());
    assert_eq!(
        http.post(format!("{base}/workflows"))
            .json(&w)
            .send()
            .await
            .unwrap()
            .status(),
        422
    );

    let execution = http
        .post(format!("{base}/workflows/wf-1/execute"))
        .json(&json!({ "input_data": { "topic": "x" }, "execution_options": { "timeout_s": 60 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(execution.status(), 200);
    let execution: Value = execution.json().await.unwrap();
    assert!(execution["execution_id"].is_string());
    assert!(execution["status"].is_string());
    let unknown = http
        .post(format!("{base}/workflows/nope/execute"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let status = http
        .get(format!("{base}/workflows/wf-1/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    let status: Value = status.json().await.unwrap();
    assert_eq!(status["workflow_id"], "wf-1");
    assert_eq!(
        http.get(format!("{base}/workflows/nope/status"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_ten_thousand_events_is_accepted() {
    let server = fast_server().await;
    let events: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({ "event_id": format!("e{i}"), "event_type": "agent.step", "workflow_id": "wf-1",
                    "timestamp": "2026-11-23T00:00:00Z", "data": { "step": i, "tokens": 128 } })
        })
        .collect();
    let response = client()
        .post(format!("{}/api/v1/events/batch", server.base_url()))
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 10_000);
    let text = metrics_text(&server).await;
    assert_eq!(
        metric(&text, "target_server_events_accepted_total"),
        10_000.0
    );

    let empty = client()
        .post(format!("{}/api/v1/events/batch", server.base_url()))
        .json(&json!({ "events": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 422);
    server.shutdown().await.unwrap();
}
