//! Authentication, the admin fault endpoint, fault injection, health and metrics.
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_training_api_needs_the_bearer_token() {
    let server = fast_server().await;
    let url = format!("{}/api/v1/jsonrpc", server.base_url());
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "training.get_status", "params": { "job_id": "x" } });
    let anonymous = client().post(&url).json(&call).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let wrong = client()
        .post(&url)
        .bearer_auth("guess")
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client()
        .post(&url)
        .bearer_auth(server.token())
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    for header in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(right.headers().contains_key(header), "missing {header}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_change_at_runtime_only_with_the_token() {
    let server = fast_server().await;
    let url = format!("{}/admin/faults", server.base_url());
    let change =
        json!({ "error_rates": { "training.get_status": 1.0, "get_workflow_status": 1.0 } });
    assert_eq!(client().get(&url).send().await.unwrap().status(), 401);
    assert_eq!(
        client()
            .put(&url)
            .json(&change)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let bad = client()
        .put(&url)
        .bearer_auth(server.token())
        .json(&json!({ "error_rates": { "*": 2.0 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let now: Value = client()
        .put(&url)
        .bearer_auth(server.token())
        .json(&change)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["error_rates"]["training.get_status"], 1.0);

    // An injected JSON-RPC fault is an internal error on HTTP 200; REST answers 500.
    let code = rpc_error_code(&server, "training.get_status", json!({ "job_id": "x" })).await;
    assert_eq!(code, -32603);
    let rest = client()
        .get(format!("{}/api/v1/workflows/w/status", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 500);

    // Injected latency shows in the response time.
    client()
        .put(&url)
        .bearer_auth(server.token())
        .json(&json!({ "error_rates": { "training.get_status": 0.0 }, "latency_ms": { "training.get_status": { "base_ms": 300.0 } } }))
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    let code = rpc_error_code(&server, "training.get_status", json!({ "job_id": "x" })).await;
    assert_eq!(code, -32001);
    assert!(started.elapsed() >= Duration::from_millis(300));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_stalls_hold_requests_until_the_window_ends() {
    let server = server_with(|c| {
        c.stall_every_s = 1;
        c.stall_for_ms = 400;
    })
    .await;
    // Over 2 s of back-to-back calls some land inside a stall window and wait for its end.
    let mut slowest = Duration::ZERO;
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let started = Instant::now();
        rpc(&server, "training.get_status", json!({ "job_id": "x" })).await;
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest >= Duration::from_millis(200),
        "slowest call {slowest:?}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_by_method_and_status() {
    let server = fast_server().await;
    let base = server.base_url();
    assert_eq!(
        client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for _ in 0..3 {
        rpc(&server, "training.get_status", json!({ "job_id": "x" })).await;
    }
    client()
        .get(format!("{base}/api/v1/workflows/none/status"))
        .send()
        .await
        .unwrap();
    let text = metrics_text(&server).await;
    assert_eq!(
        metric(
            &text,
            "target_server_requests_total{method=\"training.get_status\",status=\"200\"}"
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "target_server_requests_total{method=\"get_workflow_status\",status=\"404\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "target_server_request_duration_seconds_count{method=\"training.get_status\"}"
        ),
        3.0
    );
    for name in [
        "target_server_jobs{state=\"queued\"}",
        "target_server_trajectories_written_total",
        "target_server_events_accepted_total",
        "target_server_shed_requests_total",
        "target_server_queue_depth",
    ] {
        assert!(text.contains(name), "metrics lack {name}");
    }
    server.shutdown().await.unwrap();
}
