//! A2A 1.0 at `/a2a` beside 0.3: the agent card, the 1.0 method names and proto3-JSON shapes
//! (`ROLE_USER`, `TASK_STATE_*`, `StreamResponse` wrappers), the `A2A-Version` header rules,
//! and re-subscription (`SubscribeToTask`, `tasks/resubscribe`) after a stream cut by
//! `--a2a-cut-after`: the rest of the chunks, at their modelled times, then the final status.
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use target_server::generation::GenerationPlan;
use target_server::RunningServer;

use crate::support::*;

async fn agent(
    gap_ms: u64,
    chunks: u32,
    adjust: impl FnOnce(&mut target_server::ServerConfig),
) -> RunningServer {
    server_with(|c| {
        c.latency_overrides = vec![
            "agent.ttfc=0+0".parse().unwrap(),
            format!("agent.gap={gap_ms}+0").parse().unwrap(),
        ];
        c.agent_chunks = format!("{chunks}+0").parse().unwrap();
        adjust(c);
    })
    .await
}

fn message_v1(text: &str) -> Value {
    json!({ "message": {
        "role": "ROLE_USER", "messageId": uuid::Uuid::new_v4().to_string(),
        "parts": [{ "text": text }],
    } })
}

async fn post(
    server: &RunningServer,
    version: Option<&str>,
    method: &str,
    params: Value,
) -> reqwest::Response {
    let body = json!({ "jsonrpc": "2.0", "id": "r1", "method": method, "params": params });
    let mut request = client()
        .post(format!("{}/a2a", server.base_url()))
        .bearer_auth(server.token())
        .json(&body);
    if let Some(v) = version {
        request = request.header("A2A-Version", v);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), 200, "{method}");
    response
}

/// One 1.0 call (with `A2A-Version: 1.0`); the whole JSON-RPC answer.
async fn call(server: &RunningServer, method: &str, params: Value) -> Value {
    post(server, Some("1.0"), method, params)
        .await
        .json()
        .await
        .expect("JSON")
}

async fn ok(server: &RunningServer, method: &str, params: Value) -> Value {
    let answer = call(server, method, params).await;
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

/// An SSE reader that tells a stream that ended from one whose connection was cut.
struct Events {
    response: reqwest::Response,
    buffer: String,
    cut: bool,
}

impl Events {
    async fn open(
        server: &RunningServer,
        version: Option<&str>,
        method: &str,
        params: Value,
    ) -> Events {
        let response = post(server, version, method, params).await;
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "{method}"
        );
        Events {
            response,
            buffer: String::new(),
            cut: false,
        }
    }

    /// The next event's JSON-RPC `result`, when it arrived; `None` at the end or the cut.
    async fn next(&mut self) -> Option<(Value, Instant)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("data");
                let answer: Value = serde_json::from_str(data).expect("JSON");
                assert_eq!(answer["id"], "r1");
                assert!(answer.get("error").is_none(), "{answer}");
                return Some((answer["result"].clone(), Instant::now()));
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                Ok(None) => return None,
                Err(_) => {
                    self.cut = true;
                    return None;
                }
            }
        }
    }

    async fn rest(&mut self) -> Vec<(Value, Instant)> {
        let mut events = Vec::new();
        while let Some(e) = self.next().await {
            events.push(e);
        }
        events
    }
}

fn chunk_text(update: &Value) -> &str {
    update["artifactUpdate"]["artifact"]["parts"][0]["text"]
        .as_str()
        .expect("a text chunk")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_is_public_and_lists_the_enabled_versions() {
    let server = agent(0, 1, |_| {}).await;
    let card: Value = client()
        .get(format!("{}/.well-known/agent-card.json", server.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!("{}/a2a", server.base_url());
    assert_eq!(
        card["supportedInterfaces"],
        json!([
            { "url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0" },
            { "url": url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3" },
        ])
    );
    assert_eq!(
        card["capabilities"],
        json!({ "streaming": true, "pushNotifications": false })
    );
    assert_eq!(card["defaultInputModes"], json!(["text/plain"]));
    assert_eq!(card["skills"][0]["id"], "answer");
    assert_eq!(
        (card["url"].as_str(), card["protocolVersion"].as_str()),
        (Some(url.as_str()), Some("0.3.0"))
    );
    assert_eq!(card["preferredTransport"], "JSONRPC");
    server.shutdown().await.unwrap();

    let only_v1 = agent(0, 1, |c| {
        c.a2a_versions = vec![target_server::a2a::version::Dialect::V1]
    })
    .await;
    let card: Value = client()
        .get(format!(
            "{}/.well-known/agent-card.json",
            only_v1.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(card["supportedInterfaces"].as_array().unwrap().len(), 1);
    assert!(card.get("url").is_none());
    let refused: Value = post(&only_v1, None, "message/send", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refused["error"]["code"], -32601, "{refused}");
    ok(&only_v1, "SendMessage", message_v1("hi")).await;
    only_v1.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_get_and_cancel_speak_1_0_shapes() {
    let server = agent(1, 4, |_| {}).await;
    let sent = ok(&server, "SendMessage", message_v1("hello")).await;
    let task = &sent["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{sent}");
    assert!(task["status"]["timestamp"].is_string() && task["contextId"].is_string());
    assert_eq!(
        task["artifacts"][0]["parts"],
        json!([{ "text": GenerationPlan::answer(4) }])
    );
    assert!(task.get("kind").is_none() && task["artifacts"][0]["parts"][0].get("kind").is_none());
    let id = task["id"].clone();
    let got = ok(&server, "GetTask", json!({ "id": id, "historyLength": 0 })).await;
    assert_eq!(&got, task, "GetTask answers the Task itself");
    let not_cancelable = call(&server, "CancelTask", json!({ "id": id })).await;
    assert_eq!(not_cancelable["error"]["code"], -32002);
    assert_eq!(
        not_cancelable["error"]["data"]["state"],
        "TASK_STATE_COMPLETED"
    );
    assert_eq!(
        call(&server, "GetTask", json!({ "id": "nope" })).await["error"]["code"],
        -32001
    );
    let bad_role = call(
        &server,
        "SendMessage",
        json!({ "message": { "role": "user", "messageId": "m", "parts": [{ "text": "x" }] } }),
    )
    .await;
    assert_eq!(bad_role["error"]["code"], -32602);
    assert_eq!(bad_role["error"]["data"]["field"], "message.role");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_0_stream_sends_the_task_then_each_chunk_then_the_terminal_status() {
    let server = agent(10, 5, |_| {}).await;
    let mut events = Events::open(
        &server,
        Some("1.0"),
        "SendStreamingMessage",
        message_v1("go"),
    )
    .await;
    let all = events.rest().await;
    assert!(!events.cut);
    assert_eq!(all.len(), 7, "{all:?}");
    let task = &all[0].0["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_WORKING");
    for (i, (update, _)) in all[1..6].iter().enumerate() {
        let u = &update["artifactUpdate"];
        assert_eq!(
            (u["taskId"].clone(), u["contextId"].clone()),
            (task["id"].clone(), task["contextId"].clone())
        );
        assert_eq!(chunk_text(update), GenerationPlan::chunk_text(i as u32));
        assert_eq!(
            (u["append"].clone(), u["lastChunk"].clone()),
            (json!(i > 0), json!(i == 4))
        );
    }
    let end = &all[6].0["statusUpdate"];
    assert_eq!(end["status"]["state"], "TASK_STATE_COMPLETED");
    assert!(end.get("final").is_none());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_task_ends_a_1_0_stream_with_its_canceled_status() {
    let server = agent(100, 20, |_| {}).await;
    let mut events = Events::open(&server, None, "SendStreamingMessage", message_v1("go")).await;
    let (first, _) = events.next().await.unwrap();
    let id = first["task"]["id"].clone();
    events.next().await.expect("first chunk");
    let canceled = ok(&server, "CancelTask", json!({ "id": id })).await;
    assert_eq!(
        canceled["status"]["state"], "TASK_STATE_CANCELED",
        "{canceled}"
    );
    let rest = events.rest().await;
    let (last, _) = rest.last().expect("a final status");
    assert_eq!(
        last["statusUpdate"]["status"]["state"],
        "TASK_STATE_CANCELED"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_version_header_must_match_the_method_generation() {
    let server = agent(0, 1, |_| {}).await;
    let answer: Value = post(&server, Some("1.0"), "message/send", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["error"]["code"], -32009, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "A2A version '1.0' is not supported by this handler. Expected version '0.3'."
    );
    let answer: Value = post(&server, Some("0.3"), "SendMessage", message_v1("x"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["error"]["code"], -32009, "{answer}");
    let answer: Value = post(&server, None, "SendMessage", message_v1("x"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["result"]["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "no header: accepted"
    );
    let answer: Value = post(&server, Some("1.0"), "SendStreamingMessage", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["error"]["code"], -32602,
        "bad params before any streaming: {answer}"
    );
    server.shutdown().await.unwrap();
}

/// Streams are cut after 2 of 6 chunks; a re-subscription gets the task so far, then exactly
/// the 4 chunks still to come (the first one a modelled gap after the last one received),
/// then the completed status.
async fn resubscribe_after_a_cut(stream: &str, subscribe: &str) {
    let gap = Duration::from_millis(150);
    let server = agent(150, 6, |c| c.a2a_cut_after = Some(2)).await;
    let v1 = stream == "SendStreamingMessage";
    let (version, params) = if v1 {
        (Some("1.0"), message_v1("cut me"))
    } else {
        let p = json!({ "message": { "kind": "message", "role": "user", "messageId": "m-cut", "parts": [{ "kind": "text", "text": "cut me" }] } });
        (None, p)
    };
    let mut events = Events::open(&server, version, stream, params).await;
    let before = events.rest().await;
    assert!(events.cut, "the connection is closed mid-body");
    let chunks_before: Vec<&(Value, Instant)> = if v1 {
        before[1..].iter().collect()
    } else {
        before.iter().collect()
    };
    assert_eq!(chunks_before.len(), 2, "{before:?}");
    let task_id = if v1 {
        before[0].0["task"]["id"].clone()
    } else {
        before[0].0["taskId"].clone()
    };
    let cut_at = chunks_before[1].1;

    let mut again = Events::open(&server, version, subscribe, json!({ "id": task_id })).await;
    let after = again.rest().await;
    assert!(!again.cut);
    assert_eq!(
        after.len(),
        1 + 4 + 1,
        "task, the 4 remaining chunks, the status: {after:?}"
    );
    let (snapshot, updates, end) = (&after[0].0, &after[1..5], &after[5].0);
    let (task, state) = if v1 {
        (&snapshot["task"], "TASK_STATE_WORKING")
    } else {
        (snapshot, "working")
    };
    assert_eq!(task["status"]["state"], state, "{snapshot}");
    assert_eq!(
        task["artifacts"][0]["parts"][0]["text"],
        GenerationPlan::answer(2)
    );
    for (k, (update, _)) in updates.iter().enumerate() {
        let i = k as u32 + 2;
        let (text, last) = if v1 {
            (
                chunk_text(update),
                update["artifactUpdate"]["lastChunk"].clone(),
            )
        } else {
            (
                update["artifact"]["parts"][0]["text"].as_str().unwrap(),
                update["lastChunk"].clone(),
            )
        };
        assert_eq!(text, GenerationPlan::chunk_text(i));
        assert_eq!(last, json!(i == 5));
    }
    let first_after = updates[0].1 - cut_at;
    assert!(
        first_after >= gap - Duration::from_millis(25) && first_after < gap + Duration::from_millis(60),
        "the first re-subscribed chunk is a modelled gap after the last one received: {first_after:?}"
    );
    if v1 {
        assert_eq!(
            end["statusUpdate"]["status"]["state"],
            "TASK_STATE_COMPLETED"
        );
    } else {
        assert_eq!(
            (end["status"]["state"].clone(), end["final"].clone()),
            (json!("completed"), json!(true))
        );
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_to_task_after_a_cut_gets_exactly_the_remaining_chunks() {
    resubscribe_after_a_cut("SendStreamingMessage", "SubscribeToTask").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_resubscribe_after_a_cut_gets_exactly_the_remaining_chunks() {
    resubscribe_after_a_cut("message/stream", "tasks/resubscribe").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_or_unknown_task_cannot_be_subscribed_to() {
    let server = agent(0, 2, |_| {}).await;
    let id = ok(&server, "SendMessage", message_v1("x")).await["task"]["id"].clone();
    let ended = call(&server, "SubscribeToTask", json!({ "id": id })).await;
    assert_eq!(ended["error"]["code"], -32004, "{ended}");
    assert_eq!(
        ended["error"]["message"],
        format!(
            "Task {} is in terminal state: TASK_STATE_COMPLETED",
            id.as_str().unwrap()
        )
    );
    let unknown = call(&server, "SubscribeToTask", json!({ "id": "nope" })).await;
    assert_eq!(unknown["error"]["code"], -32001, "{unknown}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_takes_the_a2a_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start_binary(
        &dir.path().join("a.db"),
        &["--a2a-versions", "0.3", "--a2a-cut-after", "1"],
    );
    let card: Value = client()
        .get(format!("{url}/.well-known/agent-card.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(card["supportedInterfaces"][0]["protocolVersion"], "0.3");
    assert_eq!(card["supportedInterfaces"].as_array().unwrap().len(), 1);
}
