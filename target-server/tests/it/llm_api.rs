//! The LLM endpoints (`/v1/chat/completions`, `/v1/completions`, `/v1/messages`,
//! `/v1/models`): each API's streamed and whole answers, token counts a client can check,
//! the modelled times measured from the client, decode-slot queueing, every fault, bad input.
use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use target_server::{RunningServer, ServerConfig};

use crate::support::{client, metric, metrics_text, server_with};

mod faults;
mod timing;

/// Every test here ends within this, or fails.
async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), test)
        .await
        .expect("the test ran past its bound")
}

/// A server without latencies, adjusted by `adjust`.
async fn llm_server(adjust: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    server_with(adjust).await
}

fn latencies(config: &mut ServerConfig, ttft_ms: u64, tpot_ms: u64) {
    config.latency_overrides = vec![
        format!("llm.ttft={ttft_ms}").parse().unwrap(),
        format!("llm.tpot={tpot_ms}").parse().unwrap(),
    ];
}

const MODEL: &str = "skein-reference-llm";

fn chat_body(max_tokens: u32, stream: bool, include_usage: bool) -> Value {
    let mut body = json!({
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "Count to ten for me please"}]},
        ],
        "max_tokens": max_tokens, "ignore_eos": true, "stream": stream, "temperature": 0.0,
    });
    if include_usage {
        body["stream_options"] = json!({ "include_usage": true });
    }
    body
}

/// The prompt words of [`chat_body`]: 3 + 6.
const CHAT_PROMPT_WORDS: u64 = 9;

fn messages_body(max_tokens: u32, stream: bool) -> Value {
    json!({
        "model": MODEL, "max_tokens": max_tokens, "stream": stream, "ignore_eos": true,
        "system": "be brief",
        "messages": [{"role": "user", "content": "say something short"}],
    })
}

async fn post(
    client: &reqwest::Client,
    server: &RunningServer,
    path: &str,
    body: &Value,
    fault: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(format!("{}{path}", server.base_url()))
        .bearer_auth(server.token())
        .json(body);
    if let Some(fault) = fault {
        request = request.header("x-llm-fault", fault);
    }
    request.send().await.expect("request")
}

/// The `x-llm-truth` header as numbers (and `fault` as text).
fn truth(response: &reqwest::Response) -> HashMap<String, String> {
    let header = response.headers()["x-llm-truth"].to_str().unwrap();
    header
        .split(';')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn truth_us(t: &HashMap<String, String>, key: &str) -> u64 {
    t[key].parse().unwrap()
}

/// One Server-Sent Event: its `event:` name, its data, when it arrived.
#[derive(Debug, Clone)]
struct Event {
    name: Option<String>,
    data: String,
    at: Instant,
}

impl Event {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("data is not JSON ({e}): {}", self.data))
    }
}

/// Reads a whole event stream; `Err` carries the events read before the body failed.
async fn read_events(mut response: reqwest::Response) -> Result<Vec<Event>, Vec<Event>> {
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut buffer = String::new();
    let mut events = Vec::new();
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = Event {
                name: None,
                data: String::new(),
                at: Instant::now(),
            };
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event.name = Some(name.to_string());
                } else if let Some(data) = line.strip_prefix("data: ") {
                    event.data.push_str(data);
                }
            }
            events.push(event);
        }
        match response.chunk().await {
            Ok(Some(bytes)) => buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
            Ok(None) => return Ok(events),
            Err(_) => return Err(events),
        }
    }
}

/// The content chunks' text of an OpenAI stream (chat `delta.content` or completions `text`),
/// skipping the role-only chunk.
fn openai_texts(events: &[Event]) -> Vec<(String, Instant)> {
    events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .filter_map(|e| {
            let v: Value = serde_json::from_str(&e.data).ok()?;
            let choice = v["choices"].get(0)?;
            let text = choice["delta"]["content"]
                .as_str()
                .or(choice["text"].as_str())?;
            (!text.is_empty()).then(|| (text.to_string(), e.at))
        })
        .collect()
}

fn words(texts: &[(String, Instant)]) -> u64 {
    texts
        .iter()
        .map(|(t, _)| t.split_whitespace().count() as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_stream_opens_with_the_role_and_counts_exactly() {
    bounded(async {
        let server = llm_server(|_| {}).await;
        let response = post(&client(), &server, "/v1/chat/completions", &chat_body(12, true, true), None).await;
        assert_eq!(response.status(), 200);
        let t = truth(&response);
        let events = read_events(response).await.expect("a whole stream");
        let first = events[0].json();
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["model"], MODEL);
        assert!(first["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert!(first["created"].is_i64());
        assert_eq!(first["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
        assert_eq!(first["choices"][0]["finish_reason"], Value::Null);

        let texts = openai_texts(&events);
        assert_eq!(texts.len(), 12, "one chunk per token by default");
        assert_eq!(texts[0].0, "tok1 ");
        assert_eq!(words(&texts), 12);
        let n = events.len();
        assert_eq!(events[n - 1].data, "[DONE]");
        let last_content = events[n - 3].json();
        assert_eq!(last_content["choices"][0]["finish_reason"], "length");
        assert_eq!(events[1].json()["choices"][0]["finish_reason"], Value::Null);
        let usage = events[n - 2].json();
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(
            usage["usage"],
            json!({"prompt_tokens": CHAT_PROMPT_WORDS, "completion_tokens": 12, "total_tokens": CHAT_PROMPT_WORDS + 12})
        );
        assert_eq!(truth_us(&t, "input_tokens"), CHAT_PROMPT_WORDS);
        assert_eq!(truth_us(&t, "output_tokens"), 12);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_include_usage_there_is_no_usage_and_a_short_answer_stops() {
    bounded(async {
        let server = llm_server(|c| c.llm.llm_output_tokens = "5".parse().unwrap()).await;
        let mut body = chat_body(100, true, false);
        body["ignore_eos"] = json!(false);
        let response = post(&client(), &server, "/v1/chat/completions", &body, None).await;
        let events = read_events(response).await.unwrap();
        assert!(
            events.iter().all(|e| !e.data.contains("usage")),
            "{events:?}"
        );
        assert_eq!(words(&openai_texts(&events)), 5);
        let n = events.len();
        assert_eq!(events[n - 1].data, "[DONE]");
        assert_eq!(events[n - 2].json()["choices"][0]["finish_reason"], "stop");
        // The draw capped at max_tokens finishes with `length`.
        body["max_tokens"] = json!(3);
        let response = post(&client(), &server, "/v1/chat/completions", &body, None).await;
        let events = read_events(response).await.unwrap();
        assert_eq!(words(&openai_texts(&events)), 3);
        assert_eq!(
            events[events.len() - 2].json()["choices"][0]["finish_reason"],
            "length"
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_answers_of_each_api() {
    bounded(async {
        let server = llm_server(|_| {}).await;
        let c = client();
        let chat = post(
            &c,
            &server,
            "/v1/chat/completions",
            &chat_body(7, false, false),
            None,
        )
        .await;
        assert_eq!(chat.status(), 200);
        assert!(chat.headers().contains_key("x-llm-truth"));
        let chat: Value = chat.json().await.unwrap();
        assert_eq!(chat["object"], "chat.completion");
        assert_eq!(chat["choices"][0]["message"]["role"], "assistant");
        let content = chat["choices"][0]["message"]["content"].as_str().unwrap();
        assert_eq!(content.split_whitespace().count(), 7);
        assert_eq!(chat["choices"][0]["finish_reason"], "length");
        assert_eq!(chat["usage"]["completion_tokens"], 7);
        assert_eq!(chat["usage"]["prompt_tokens"], CHAT_PROMPT_WORDS);

        let body = json!({"model": MODEL, "prompt": "one two three four", "max_tokens": 6});
        let completion: Value = post(&c, &server, "/v1/completions", &body, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(completion["object"], "text_completion");
        let text = completion["choices"][0]["text"].as_str().unwrap();
        assert_eq!(text, "tok1 tok2 tok3 tok4 tok5 tok6 ");
        assert_eq!(
            completion["choices"][0]["finish_reason"], "length",
            "the default 64 capped at 6"
        );
        assert_eq!(
            completion["usage"],
            json!({"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10})
        );

        let message: Value = post(&c, &server, "/v1/messages", &messages_body(4, false), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(message["type"], "message");
        assert_eq!(message["role"], "assistant");
        assert!(message["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(
            message["content"],
            json!([{"type": "text", "text": "tok1 tok2 tok3 tok4 "}])
        );
        assert_eq!(message["stop_reason"], "max_tokens");
        assert_eq!(
            message["usage"],
            json!({"input_tokens": 5, "output_tokens": 4})
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_stream_with_usage() {
    bounded(async {
        let server = llm_server(|_| {}).await;
        let body = json!({"model": MODEL, "prompt": "a b c", "max_tokens": 4, "stream": true,
                          "ignore_eos": true, "stream_options": {"include_usage": true}});
        let events = read_events(post(&client(), &server, "/v1/completions", &body, None).await)
            .await
            .unwrap();
        let first = events[0].json();
        assert_eq!(first["object"], "text_completion");
        assert_eq!(
            first["choices"][0]["text"], "tok1 ",
            "no role chunk in legacy completions"
        );
        let texts = openai_texts(&events);
        assert_eq!(words(&texts), 4);
        let n = events.len();
        assert_eq!(
            events[n - 3].json()["choices"][0]["finish_reason"],
            "length"
        );
        assert_eq!(events[n - 2].json()["usage"]["completion_tokens"], 4);
        assert_eq!(events[n - 2].json()["usage"]["prompt_tokens"], 3);
        assert_eq!(events[n - 1].data, "[DONE]");
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_stream_has_anthropic_events() {
    bounded(async {
        let server = llm_server(|c| c.llm.llm_output_tokens = "3".parse().unwrap()).await;
        let mut body = messages_body(50, true);
        body["ignore_eos"] = json!(false);
        let events = read_events(post(&client(), &server, "/v1/messages", &body, None).await)
            .await
            .unwrap();
        let names: Vec<&str> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        for e in &events {
            assert_eq!(
                e.json()["type"],
                e.name.as_deref().unwrap(),
                "data.type names the event"
            );
        }
        let start = events[0].json();
        assert_eq!(start["message"]["usage"]["input_tokens"], 5);
        assert_eq!(start["message"]["content"], json!([]));
        let text: String = events[3..6]
            .iter()
            .map(|e| {
                let d = e.json();
                assert_eq!(d["delta"]["type"], "text_delta");
                d["delta"]["text"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(text.split_whitespace().count(), 3);
        let delta = events[7].json();
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
        assert_eq!(delta["usage"]["output_tokens"], 3);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_come_in_multi_token_chunks() {
    bounded(async {
        let server = llm_server(|c| {
            c.llm.llm_tokens_per_chunk = "4".parse().unwrap();
            latencies(c, 1, 5);
        })
        .await;
        let response = post(
            &client(),
            &server,
            "/v1/chat/completions",
            &chat_body(10, true, true),
            None,
        )
        .await;
        let events = read_events(response).await.unwrap();
        let texts = openai_texts(&events);
        let chunks: Vec<&str> = texts.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            chunks,
            [
                "tok1 tok2 tok3 tok4 ",
                "tok5 tok6 tok7 tok8 ",
                "tok9 tok10 "
            ]
        );
        // A chunk of k tokens takes k × tpot: the chunks are due 20 and 30 ms after the first
        // (deadlines are absolute, so a late chunk shortens the next gap but moves no deadline).
        let after_first = |i: usize| texts[i].1 - texts[0].1;
        let slack = Duration::from_millis(5);
        assert!(
            after_first(1) + slack >= Duration::from_millis(20),
            "{:?}",
            after_first(1)
        );
        assert!(
            after_first(2) + slack >= Duration::from_millis(30),
            "{:?}",
            after_first(2)
        );
        assert!(
            after_first(2) < Duration::from_millis(45),
            "{:?}",
            after_first(2)
        );
        assert_eq!(
            events[events.len() - 2].json()["usage"]["completion_tokens"],
            10
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_answers_in_each_apis_error_shape() {
    bounded(async {
        let server = llm_server(|_| {}).await;
        let c = client();
        let expect = |status: u16| move |r: &reqwest::Response| assert_eq!(r.status(), status);
        let cases = [
            ("/v1/chat/completions", json!({"model": MODEL}), 400, "messages"),
            ("/v1/chat/completions", json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}), 400, "max_tokens"),
            ("/v1/completions", json!({"model": MODEL}), 400, "prompt"),
            ("/v1/completions", json!({"model": MODEL, "prompt": "x", "max_tokens": -1}), 400, "max_tokens"),
        ];
        for (path, body, status, param) in cases {
            let r = post(&c, &server, path, &body, None).await;
            expect(status)(&r);
            let e: Value = r.json().await.unwrap();
            assert_eq!(e["error"]["type"], "invalid_request_error", "{e}");
            assert_eq!(e["error"]["param"], param, "{e}");
        }
        let unknown = json!({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]});
        let r = post(&c, &server, "/v1/chat/completions", &unknown, None).await;
        assert_eq!(r.status(), 404);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "model_not_found");

        let no_max = json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}]});
        let r = post(&c, &server, "/v1/messages", &no_max, None).await;
        assert_eq!(r.status(), 400);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["type"], "error");
        assert_eq!(e["error"]["type"], "invalid_request_error");
        let mut unknown = messages_body(5, false);
        unknown["model"] = json!("claude-x");
        let r = post(&c, &server, "/v1/messages", &unknown, None).await;
        assert_eq!(r.status(), 404);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["type"], "not_found_error");

        let not_json = c.post(format!("{}/v1/chat/completions", server.base_url()))
            .bearer_auth(server.token()).body("{nope").send().await.unwrap();
        assert_eq!(not_json.status(), 400);

        // The token is required; Anthropic clients may send it as `x-api-key`.
        let anonymous = c.post(format!("{}/v1/chat/completions", server.base_url()))
            .json(&chat_body(2, false, false)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        assert_eq!(anonymous.json::<Value>().await.unwrap()["error"]["code"], "invalid_api_key");
        let anonymous = c.post(format!("{}/v1/messages", server.base_url()))
            .json(&messages_body(2, false)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        assert_eq!(anonymous.json::<Value>().await.unwrap()["error"]["type"], "authentication_error");
        let keyed = c.post(format!("{}/v1/messages", server.base_url()))
            .header("x-api-key", server.token()).json(&messages_body(2, false)).send().await.unwrap();
        assert_eq!(keyed.status(), 200);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_lists_the_served_names_and_metrics_count_tokens() {
    bounded(async {
        let server = llm_server(|c| c.llm.models = vec!["alpha".into(), "beta".into()]).await;
        let c = client();
        let list: Value = c
            .get(format!("{}/v1/models", server.base_url()))
            .bearer_auth(server.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["object"], "list");
        let ids: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["alpha", "beta"]);
        assert_eq!(list["data"][0]["object"], "model");
        let anonymous = c
            .get(format!("{}/v1/models", server.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);

        let mut body = chat_body(6, true, false);
        body["model"] = json!("beta");
        read_events(post(&c, &server, "/v1/chat/completions", &body, None).await)
            .await
            .unwrap();
        let mut body = messages_body(3, false);
        body["model"] = json!("alpha");
        assert_eq!(
            post(&c, &server, "/v1/messages", &body, None)
                .await
                .status(),
            200
        );
        let scrape = metrics_text(&server).await;
        assert_eq!(
            metric(
                &scrape,
                "target_llm_requests_total{api=\"chat_completions\"}"
            ),
            1.0
        );
        assert_eq!(
            metric(&scrape, "target_llm_requests_total{api=\"messages\"}"),
            1.0
        );
        assert_eq!(
            metric(&scrape, "target_llm_requests_total{api=\"completions\"}"),
            0.0
        );
        assert_eq!(metric(&scrape, "target_llm_output_tokens_total"), 9.0);
        assert_eq!(
            metric(&scrape, "target_llm_input_tokens_total"),
            (CHAT_PROMPT_WORDS + 5) as f64
        );
        assert_eq!(metric(&scrape, "target_llm_streams_in_flight"), 0.0);
        assert_eq!(metric(&scrape, "target_llm_queued"), 0.0);
        server.shutdown().await.unwrap();
    })
    .await;
}
