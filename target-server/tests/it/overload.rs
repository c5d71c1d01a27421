//! The capacity knee: bounded service and queue, shedding with 429, body limit with 413.
use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_capacity_and_queue_the_server_sheds_with_retry_after() {
    let server = server_with(|c| {
        c.capacity = 2;
        c.queue_limit = 2;
        c.queue_timeout_ms = 5_000;
        c.latency_overrides = vec!["training.get_status=300".parse().unwrap()];
        c.no_latency = false;
    })
    .await;
    let url = format!("{}/api/v1/jsonrpc", server.base_url());
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "training.get_status", "params": { "job_id": "x" } });
    let mut calls = Vec::new();
    for _ in 0..12 {
        let request = client().post(&url).bearer_auth(server.token()).json(&call);
        calls.push(tokio::spawn(async move { request.send().await.unwrap() }));
    }
    let (mut served, mut shed) = (0, 0);
    for call in calls {
        let response = call.await.unwrap();
        match response.status().as_u16() {
            200 => served += 1,
            429 => {
                assert_eq!(response.headers()["retry-after"], "1");
                assert!(response.headers().contains_key("x-ratelimit-remaining"));
                shed += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    // 2 in service + 2 queued get served; the rest are shed at once.
    assert!(served >= 4, "served {served}");
    assert!(shed >= 1, "nothing was shed");
    let text = metrics_text(&server).await;
    assert_eq!(
        metric(&text, "target_server_shed_requests_total"),
        shed as f64
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_request_is_shed_when_its_wait_times_out() {
    let server = server_with(|c| {
        c.capacity = 1;
        c.queue_limit = 10;
        c.queue_timeout_ms = 50;
        c.latency_overrides = vec!["get_workflow_status=500".parse().unwrap()];
        c.no_latency = false;
    })
    .await;
    let url = format!("{}/api/v1/workflows/w/status", server.base_url());
    let first = tokio::spawn(client().get(&url).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = client().get(&url).send().await.unwrap();
    assert_eq!(second.status(), 429);
    assert_eq!(first.await.unwrap().unwrap().status(), 404);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_get_413() {
    let server = server_with(|c| c.max_body_bytes = 1024).await;
    let response = client()
        .post(format!("{}/api/v1/events/batch", server.base_url()))
        .header("content-type", "application/json")
        .body(format!("{{\"events\":[{}]}}", "0".repeat(4096)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    server.shutdown().await.unwrap();
}
