//! JSON-RPC 2.0 framing: parse errors, invalid requests, batches, notifications.
use serde_json::{json, Value};

use crate::support::*;

async fn post_raw(server: &target_server::RunningServer, body: &str) -> reqwest::Response {
    client()
        .post(format!("{}/api/v1/jsonrpc", server.base_url()))
        .bearer_auth(server.token())
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_errors_are_http_200_with_an_error_object() {
    let server = fast_server().await;
    let cases = [
        ("{not json", -32700),
        ("[]", -32600),
        ("42", -32600),
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"training.get_status"}"#,
            -32600,
        ),
        (r#"{"jsonrpc":"2.0","id":1,"method":7}"#, -32600),
    ];
    for (body, code) in cases {
        let response = post_raw(&server, body).await;
        assert_eq!(response.status(), 200, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["jsonrpc"], "2.0");
        assert_eq!(answer["error"]["code"], code, "{body} -> {answer}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_every_call_with_its_id_and_skips_notifications() {
    let server = fast_server().await;
    let missing = uuid::Uuid::new_v4().to_string();
    let batch = json!([
        { "jsonrpc": "2.0", "id": "a", "method": "training.start_grpo", "params": start_params(1) },
        { "jsonrpc": "2.0", "id": "b", "method": "training.get_status", "params": { "job_id": missing } },
        { "jsonrpc": "2.0", "method": "training.get_status", "params": { "job_id": missing } },
        { "jsonrpc": "2.0", "id": "c", "method": "no.such.method" },
    ]);
    let response = post_raw(&server, &batch.to_string()).await;
    assert_eq!(response.status(), 200);
    let answers: Vec<Value> = response.json().await.unwrap();
    assert_eq!(
        answers.len(),
        3,
        "the notification gets no answer: {answers:?}"
    );
    let by_id = |id: &str| answers.iter().find(|a| a["id"] == id).unwrap().clone();
    assert_eq!(by_id("a")["result"]["status"], "queued");
    assert_eq!(by_id("b")["error"]["code"], -32001);
    assert_eq!(by_id("c")["error"]["code"], -32601);

    let only_notification = json!({ "jsonrpc": "2.0", "method": "training.get_status", "params": { "job_id": missing } });
    let response = post_raw(&server, &only_notification.to_string()).await;
    assert_eq!(response.status(), 204);
    server.shutdown().await.unwrap();
}
