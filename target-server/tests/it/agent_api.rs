//! The A2A agent API at `/a2a`: a client sends a message and gets the answer whole
//! (`message/send`) or chunk by chunk as Server-Sent Events (`message/stream`), on the
//! generation model's times; it reads and cancels tasks; bad input, missing tokens and
//! overload get plain errors before any streaming starts.
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use target_server::RunningServer;

use crate::support::*;

/// A server whose agent answers in `chunks` chunks, the first after `ttfc_ms`, then one every
/// `gap_ms`; no other latency.
async fn agent_server(ttfc_ms: u64, gap_ms: u64, chunks: u32) -> RunningServer {
    agent_server_with(ttfc_ms, gap_ms, chunks, |_| {}).await
}

async fn agent_server_with(
    ttfc_ms: u64,
    gap_ms: u64,
    chunks: u32,
    adjust: impl FnOnce(&mut target_server::ServerConfig),
) -> RunningServer {
    server_with(|c| {
        c.latency_overrides = vec![
            format!("agent.ttfc={ttfc_ms}+0").parse().unwrap(),
            format!("agent.gap={gap_ms}+0").parse().unwrap(),
        ];
        c.agent_chunks = format!("{chunks}+0").parse().unwrap();
        adjust(c);
    })
    .await
}

fn message(text: &str) -> Value {
    json!({ "message": {
        "kind": "message", "role": "user", "messageId": uuid::Uuid::new_v4().to_string(),
        "parts": [{ "kind": "text", "text": text }],
    } })
}

fn a2a_url(server: &RunningServer) -> String {
    format!("{}{}", server.base_url(), target_server::a2a::PATH)
}

async fn post(server: &RunningServer, body: &Value) -> reqwest::Response {
    post_with(&client(), server, body).await
}

async fn post_with(
    client: &reqwest::Client,
    server: &RunningServer,
    body: &Value,
) -> reqwest::Response {
    client
        .post(a2a_url(server))
        .bearer_auth(server.token())
        .json(body)
        .send()
        .await
        .expect("request")
}

/// One call; returns the whole JSON-RPC answer.
async fn a2a(server: &RunningServer, method: &str, params: Value) -> Value {
    let body = json!({ "jsonrpc": "2.0", "id": 7, "method": method, "params": params });
    let response = post(server, &body).await;
    assert_eq!(response.status(), 200, "{method}");
    response.json().await.expect("JSON answer")
}

async fn a2a_ok(server: &RunningServer, method: &str, params: Value) -> Value {
    let answer = a2a(server, method, params).await;
    assert!(answer.get("error").is_none(), "{method} failed: {answer}");
    answer["result"].clone()
}

async fn a2a_error(server: &RunningServer, method: &str, params: Value) -> Value {
    let answer = a2a(server, method, params).await;
    assert!(
        answer.get("error").is_some(),
        "{method} should fail: {answer}"
    );
    answer["error"].clone()
}

/// A Server-Sent Events reader: splits the body into events at blank lines and parses each
/// event's `data` as JSON, noting when it arrived.
struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    async fn open(server: &RunningServer, id: &str, text: &str) -> EventReader {
        EventReader::open_with(&client(), server, id, text).await
    }

    async fn open_with(
        client: &reqwest::Client,
        server: &RunningServer,
        id: &str,
        text: &str,
    ) -> EventReader {
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": "message/stream", "params": message(text) });
        let response = post_with(client, server, &body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventReader {
            response,
            buffer: String::new(),
        }
    }

    async fn next(&mut self) -> Option<(Value, Instant)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    .collect();
                assert!(!data.is_empty(), "an event without data: {block:?}");
                let event = serde_json::from_str(&data.join("\n")).expect("event data is JSON");
                return Some((event, Instant::now()));
            }
            let chunk = self.response.chunk().await.expect("reading the stream")?;
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    /// Every remaining event, in order.
    async fn rest(&mut self) -> Vec<(Value, Instant)> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }
}

fn answer_text(task: &Value) -> String {
    task["artifacts"][0]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_send_waits_for_the_whole_answer_and_returns_the_completed_task() {
    let server = agent_server(20, 5, 4).await;
    let mut params = message("hello");
    params["message"]["contextId"] = json!("conversation-1");
    let sent = Instant::now();
    let task = a2a_ok(&server, "message/send", params).await;
    let took = sent.elapsed();
    assert!(
        took >= Duration::from_millis(35),
        "20 ms + 3 gaps of 5 ms, took {took:?}"
    );
    assert_eq!(task["kind"], "task");
    assert_eq!(task["contextId"], "conversation-1");
    assert_eq!(task["status"]["state"], "completed");
    assert!(task["status"]["timestamp"].is_string(), "{task}");
    let artifact = &task["artifacts"][0];
    assert!(artifact["artifactId"].is_string());
    assert_eq!(artifact["parts"][0]["kind"], "text");
    assert_eq!(answer_text(&task).split_whitespace().count(), 4, "{task}");

    let read = a2a_ok(&server, "tasks/get", json!({ "id": task["id"] })).await;
    assert_eq!(read, task, "tasks/get reads the task as it ended");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_sends_each_chunk_at_its_time_then_one_final_status() {
    let server = agent_server(50, 10, 8).await;
    // A client built and connected beforehand, so the times below are the server's.
    let client = client();
    let health = client
        .get(format!("{}/healthz", server.base_url()))
        .send()
        .await;
    assert_eq!(health.unwrap().status(), 200);
    let sent = Instant::now();
    let mut stream = EventReader::open_with(&client, &server, "s-1", "hello").await;
    let events = stream.rest().await;
    assert_eq!(events.len(), 9, "8 chunks and the final status: {events:?}");

    let (chunks, last) = events.split_at(8);
    let task_id = chunks[0].0["result"]["taskId"].clone();
    let mut text = String::new();
    for (i, (event, _)) in chunks.iter().enumerate() {
        assert_eq!(event["jsonrpc"], "2.0");
        assert_eq!(event["id"], "s-1", "every event answers the request's id");
        let update = &event["result"];
        assert_eq!(update["kind"], "artifact-update");
        assert_eq!(update["taskId"], task_id);
        assert_eq!(update["append"], i > 0);
        assert_eq!(update["lastChunk"], i == 7);
        text.push_str(update["artifact"]["parts"][0]["text"].as_str().unwrap());
    }
    let end = &last[0].0["result"];
    assert_eq!(end["kind"], "status-update");
    assert_eq!(end["status"]["state"], "completed");
    assert_eq!(end["final"], true);

    // Timing as this client sees it, asserted loosely (the load generator checks precision):
    // no chunk before its deadline (start + 50 ms + i × 10 ms), none more than 25 ms after
    // it. Deadlines are absolute, so lateness does not add up along the stream; a gap
    // between two arrivals may still be short when the earlier one was late.
    let slack = Duration::from_millis(25);
    for (i, (_, arrived)) in chunks.iter().enumerate() {
        let at = *arrived - sent;
        let due = Duration::from_millis(50 + 10 * i as u64);
        assert!(
            at >= due && at < due + slack,
            "chunk {i} at {at:?}, due at {due:?}"
        );
    }

    let task = a2a_ok(&server, "tasks/get", json!({ "id": task_id })).await;
    assert_eq!(task["status"]["state"], "completed");
    assert_eq!(
        answer_text(&task),
        text,
        "the stored answer is what was streamed"
    );
    let metrics = metrics_text(&server).await;
    assert_eq!(
        metric(&metrics, "target_server_agent_chunks_streamed_total"),
        8.0
    );
    assert_eq!(
        metric(
            &metrics,
            "target_server_agent_tasks_total{state=\"completed\"}"
        ),
        1.0
    );
    assert_eq!(metric(&metrics, "target_server_agent_generations"), 0.0);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_cancel_ends_a_stream_mid_answer() {
    // 20 chunks 50 ms apart: about a second if nobody cancels.
    let server = agent_server(10, 50, 20).await;
    let opened = Instant::now();
    let mut stream = EventReader::open(&server, "s-2", "a long answer").await;
    let (first, _) = stream.next().await.expect("first chunk");
    let task_id = first["result"]["taskId"].clone();

    let working = a2a_ok(&server, "tasks/get", json!({ "id": task_id })).await;
    assert_eq!(working["status"]["state"], "working");
    assert_eq!(working["artifacts"], json!([]));
    let metrics = metrics_text(&server).await;
    assert_eq!(metric(&metrics, "target_server_agent_generations"), 1.0);

    let canceled = a2a_ok(&server, "tasks/cancel", json!({ "id": task_id })).await;
    assert_eq!(canceled["status"]["state"], "canceled");
    let rest = stream.rest().await;
    let (end, _) = rest.last().expect("a final event");
    assert_eq!(end["result"]["kind"], "status-update");
    assert_eq!(end["result"]["status"]["state"], "canceled");
    assert_eq!(end["result"]["final"], true);
    assert!(
        rest.len() < 19,
        "the stream stopped early: {} more events",
        rest.len()
    );
    assert!(
        opened.elapsed() < Duration::from_millis(900),
        "{:?}",
        opened.elapsed()
    );

    let read = a2a_ok(&server, "tasks/get", json!({ "id": task_id })).await;
    assert_eq!(read["status"]["state"], "canceled");
    assert!(answer_text(&read).starts_with("The "), "{read}");
    let again = a2a_error(&server, "tasks/cancel", json!({ "id": task_id })).await;
    assert_eq!(again["code"], -32002);
    assert_eq!(again["data"]["state"], "canceled");
    let metrics = metrics_text(&server).await;
    assert_eq!(
        metric(
            &metrics,
            "target_server_agent_tasks_total{state=\"canceled\"}"
        ),
        1.0
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_calls_get_json_rpc_errors_before_any_streaming() {
    let server = agent_server(0, 0, 3).await;
    let missing = json!({ "id": uuid::Uuid::new_v4().to_string() });
    assert_eq!(
        a2a_error(&server, "tasks/get", missing.clone()).await["code"],
        -32001
    );
    assert_eq!(
        a2a_error(&server, "tasks/cancel", missing).await["code"],
        -32001
    );
    assert_eq!(
        a2a_error(&server, "tasks/get", json!({})).await["code"],
        -32602
    );
    assert_eq!(
        a2a_error(&server, "agent/dance", json!({})).await["code"],
        -32601
    );

    let no_parts = json!({ "message": { "role": "user", "messageId": "m" } });
    let error = a2a_error(&server, "message/send", no_parts.clone()).await;
    assert_eq!(error["code"], -32602);
    assert_eq!(error["data"]["field"], "message.parts");
    // A stream with bad params is refused as plain JSON, not as an event stream.
    let error = a2a_error(&server, "message/stream", no_parts).await;
    assert_eq!(error["code"], -32602);

    let done = a2a_ok(&server, "message/send", message("hi")).await;
    let error = a2a_error(&server, "tasks/cancel", json!({ "id": done["id"] })).await;
    assert_eq!(error["code"], -32002, "a completed task cannot be canceled");

    let batch =
        json!([{ "jsonrpc": "2.0", "id": 1, "method": "message/stream", "params": message("x") }]);
    let answers: Value = post(&server, &batch).await.json().await.unwrap();
    assert_eq!(answers[0]["error"]["code"], -32600, "{answers}");
    let notification =
        json!({ "jsonrpc": "2.0", "method": "message/stream", "params": message("x") });
    let answer: Value = post(&server, &notification).await.json().await.unwrap();
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_api_needs_the_token_and_a_stream_holds_its_slot_to_the_end() {
    let server = agent_server_with(10, 100, 4, |c| {
        c.capacity = 1;
        c.queue_limit = 0;
    })
    .await;
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": { "id": "x" } });
    let anonymous = client()
        .post(a2a_url(&server))
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let mut stream = EventReader::open(&server, "s-3", "hold the slot").await;
    stream.next().await.expect("first chunk");
    let shed = post(&server, &call).await;
    assert_eq!(shed.status(), 429, "the only slot is held by the stream");
    assert_eq!(shed.headers()["retry-after"], "1");
    let rest = stream.rest().await;
    assert_eq!(
        rest.last().unwrap().0["result"]["status"]["state"],
        "completed"
    );
    // The slot was freed when the stream ended.
    assert_eq!(
        a2a_error(&server, "tasks/get", json!({ "id": "x" })).await["code"],
        -32001
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_mid_answer_frees_its_slot_and_its_task_goes_on() {
    // 20 chunks 50 ms apart: one second if the client stayed.
    let server = agent_server_with(0, 50, 20, |c| {
        c.capacity = 1;
        c.queue_limit = 10;
        c.queue_timeout_ms = 5_000;
    })
    .await;
    let left = Instant::now();
    let mut stream = EventReader::open(&server, "s-5", "never mind").await;
    let (first, _) = stream.next().await.expect("first chunk");
    let task_id = first["result"]["taskId"].clone();
    drop(stream);
    // The next chunk's write fails and the stream is dropped, so its slot is free again: this
    // call waits in the queue for it rather than for the whole answer. Generation goes on
    // (a client may re-subscribe), so the task still completes, on the model's time.
    let task = a2a_ok(&server, "tasks/get", json!({ "id": task_id })).await;
    assert_eq!(task["status"]["state"], "working", "{task}");
    assert!(
        left.elapsed() < Duration::from_millis(700),
        "{:?}",
        left.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let task = a2a_ok(&server, "tasks/get", json!({ "id": task_id })).await;
        if task["status"]["state"] == "completed" {
            let answer = task["artifacts"][0]["parts"][0]["text"].as_str().unwrap();
            assert_eq!(
                answer,
                target_server::generation::GenerationPlan::answer(20)
            );
            break;
        }
        assert!(Instant::now() < deadline, "still {task}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        left.elapsed() >= Duration::from_millis(950),
        "{:?}",
        left.elapsed()
    );
    let metrics = metrics_text(&server).await;
    assert_eq!(metric(&metrics, "target_server_agent_generations"), 0.0);
    assert_eq!(
        metric(&metrics, "target_server_in_flight"),
        0.0,
        "the slot was freed"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_evicts_the_oldest_finished_tasks_never_a_working_one() {
    let server = agent_server_with(0, 0, 2, |c| {
        c.max_agent_tasks = 2;
        c.retention_interval_ms = 20;
    })
    .await;
    // The oldest task keeps generating: its gap is made long at runtime, then short again.
    let set_gap = |ms: u64| {
        client()
            .put(format!("{}/admin/faults", server.base_url()))
            .bearer_auth(server.token())
            .json(&json!({ "latency_ms": { "agent.gap": { "base_ms": ms } } }))
            .send()
    };
    assert_eq!(set_gap(5_000).await.unwrap().status(), 200);
    let mut stream = EventReader::open(&server, "s-4", "the oldest").await;
    let (first, _) = stream.next().await.expect("first chunk");
    let working_id = first["result"]["taskId"].clone();
    assert_eq!(set_gap(0).await.unwrap().status(), 200);
    let mut finished = Vec::new();
    for i in 0..5 {
        finished
            .push(a2a_ok(&server, "message/send", message(&format!("q{i}"))).await["id"].clone());
    }

    let rows = "target_server_store_rows{table=\"agent_tasks\"}";
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&metrics_text(&server).await, rows) > 2.0 {
        assert!(Instant::now() < deadline, "the cap was never enforced");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let metrics = metrics_text(&server).await;
    assert_eq!(
        metric(
            &metrics,
            "target_server_evictions_total{table=\"agent_tasks\"}"
        ),
        4.0
    );
    let oldest = a2a_ok(&server, "tasks/get", json!({ "id": working_id })).await;
    assert_eq!(
        oldest["status"]["state"], "working",
        "a working task is never evicted"
    );
    assert_eq!(
        a2a_error(&server, "tasks/get", json!({ "id": finished[0] })).await["code"],
        -32001
    );
    a2a_ok(&server, "tasks/get", json!({ "id": finished[4] })).await;

    a2a_ok(&server, "tasks/cancel", json!({ "id": working_id })).await;
    let rest = stream.rest().await;
    assert_eq!(
        rest.last().unwrap().0["result"]["status"]["state"],
        "canceled"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_survive_kill_9_and_one_cut_off_mid_answer_reads_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let slow = ["--latency", "agent.gap=5000", "--agent-chunks", "3"];
    let (mut child, url) = start_binary(&db, &slow);
    let call = |url: String, method: &'static str, params: Value| async move {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let response = client()
            .post(format!("{url}{}", target_server::a2a::PATH))
            .bearer_auth(target_server::DEFAULT_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response)
    };
    let (status, mut cut_off) = call(url.clone(), "message/stream", message("cut off")).await;
    assert_eq!(status, 200);
    let first = cut_off.chunk().await.unwrap().expect("first chunk");
    let first = std::str::from_utf8(&first).unwrap();
    let event: Value =
        serde_json::from_str(first.trim().trim_start_matches("data:").trim()).unwrap();
    let cut_off_id = event["result"]["taskId"].clone();
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let (mut child, url) = start_binary(&db, &[]);
    let (_, read) = call(url.clone(), "tasks/get", json!({ "id": cut_off_id })).await;
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["result"]["status"]["state"], "failed", "{read}");
    let (_, sent) = call(url.clone(), "message/send", message("kept")).await;
    let sent: Value = sent.json().await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, url) = start_binary(&db, &[]);
    let (_, read) = call(url, "tasks/get", json!({ "id": sent["result"]["id"] })).await;
    let read: Value = read.json().await.unwrap();
    assert_eq!(
        read["result"], sent["result"],
        "a completed task survives kill -9"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
