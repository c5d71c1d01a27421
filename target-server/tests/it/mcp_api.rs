//! The MCP API at `/mcp` (streamable HTTP, protocol 2025-06-18): the session handshake, the
//! transport's refusals (as the python SDK words them), JSON and SSE answers, progress
//! notifications of `long_report` on the modelled step time, session deletion, idle expiry,
//! the session limit and stateless mode.
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use target_server::mcp::{PATH, SESSION_HEADER};
use target_server::{RunningServer, ServerConfig};

use crate::support::*;

mod sessions;

const BOTH: &str = "application/json, text/event-stream";
const JSON_ONLY: &str = "application/json";

fn url(server: &RunningServer) -> String {
    format!("{}{PATH}", server.base_url())
}

fn request(id: u64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

fn init_params(version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": {},
        "clientInfo": { "name": "skein-test", "version": "0" },
    })
}

/// One POST with the token, `accept`, and the session header when given.
async fn post(
    server: &RunningServer,
    session: Option<&str>,
    accept: &str,
    body: &Value,
) -> reqwest::Response {
    post_raw(server, session, accept, &body.to_string()).await
}

async fn post_raw(
    server: &RunningServer,
    session: Option<&str>,
    accept: &str,
    body: &str,
) -> reqwest::Response {
    let mut builder = client()
        .post(url(server))
        .bearer_auth(server.token())
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(body.to_string());
    if let Some(session) = session {
        builder = builder.header(SESSION_HEADER, session);
    }
    builder.send().await.expect("request")
}

/// `initialize` with `version`; returns (session id, result).
async fn initialize(server: &RunningServer, version: &str) -> (Option<String>, Value) {
    let response = post(
        server,
        None,
        JSON_ONLY,
        &request(0, "initialize", init_params(version)),
    )
    .await;
    assert_eq!(response.status(), 200);
    let session = response
        .headers()
        .get(SESSION_HEADER)
        .map(|v| v.to_str().expect("visible ASCII").to_string());
    let answer: Value = response.json().await.unwrap();
    (session, answer["result"].clone())
}

async fn open_session(server: &RunningServer) -> String {
    initialize(server, "2025-06-18")
        .await
        .0
        .expect("a session id")
}

/// A JSON-answered request in `session`; returns (HTTP status, body).
async fn call(server: &RunningServer, session: Option<&str>, body: &Value) -> (u16, Value) {
    let response = post(server, session, JSON_ONLY, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn result(server: &RunningServer, session: &str, method: &str, params: Value) -> Value {
    let (status, answer) = call(server, Some(session), &request(1, method, params)).await;
    assert_eq!(status, 200, "{method}: {answer}");
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

async fn tool(server: &RunningServer, session: &str, name: &str, arguments: Value) -> Value {
    let params = json!({ "name": name, "arguments": arguments });
    result(server, session, "tools/call", params).await
}

async fn gauge(server: &RunningServer, series: &str) -> f64 {
    metric(&metrics_text(server).await, series)
}

/// Reads an SSE answer event by event, each with the time it arrived.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    fn new(response: reqwest::Response) -> Events {
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events {
            response,
            buffer: String::new(),
        }
    }

    async fn next(&mut self) -> Option<(Value, Instant)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| -> Vec<String> {
                    block
                        .lines()
                        .filter_map(|l| l.strip_prefix(name))
                        .map(|d| d.strip_prefix(' ').unwrap_or(d).to_string())
                        .collect()
                };
                assert_eq!(field("event:"), ["message"], "{block:?}");
                let data = field("data:").join("\n");
                let message = serde_json::from_str(&data).expect("event data is JSON");
                return Some((message, Instant::now()));
            }
            let chunk = self.response.chunk().await.expect("reading the stream")?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    async fn all(mut self) -> Vec<(Value, Instant)> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        assert!(
            self.buffer.trim().is_empty(),
            "trailing bytes {:?}",
            self.buffer
        );
        events
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialize_negotiates_the_version_and_opens_a_session() {
    let server = fast_server().await;
    let (session, init) = initialize(&server, "2025-03-26").await;
    let session = session.expect("stateful mode issues a session id");
    assert!(session.len() >= 16 && session.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    assert_eq!(init["protocolVersion"], "2025-03-26");
    assert_eq!(init["capabilities"]["tools"]["listChanged"], false);
    assert!(init["capabilities"]["resources"].is_object());
    assert!(init["capabilities"]["prompts"].is_object());
    assert_eq!(init["serverInfo"]["name"], "target-server");
    assert!(init["serverInfo"]["version"].is_string());

    let (other, init) = initialize(&server, "1999-01-01").await;
    assert_eq!(
        init["protocolVersion"], "2025-06-18",
        "the latest supported"
    );
    assert_ne!(
        other.unwrap(),
        session,
        "every initialize opens a fresh session"
    );
    let text = metrics_text(&server).await;
    assert_eq!(metric(&text, "target_mcp_sessions_open"), 2.0);
    assert_eq!(metric(&text, "target_mcp_sessions_opened_total"), 2.0);
    assert_eq!(
        metric(&text, "target_mcp_requests_total{method=\"initialize\"}"),
        2.0
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_need_a_live_session_and_notifications_get_202() {
    let server = fast_server().await;
    let search = request(
        1,
        "tools/call",
        json!({ "name": "search", "arguments": { "query": "x" } }),
    );
    let (status, answer) = call(&server, None, &search).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "Bad Request: Missing session ID"
    );
    assert_eq!(answer["id"], Value::Null);
    let (status, answer) = call(&server, Some("no-such-session"), &search).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["message"], "Session not found");

    let session = open_session(&server).await;
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let response = post(&server, Some(&session), BOTH, &initialized).await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.text().await.unwrap(), "", "202 has an empty body");
    let client_response = json!({ "jsonrpc": "2.0", "id": "s-1", "result": {} });
    let response = post(&server, Some(&session), BOTH, &client_response).await;
    assert_eq!(response.status(), 202);

    let (status, answer) = call(&server, Some(&session), &search).await;
    assert_eq!(status, 200);
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["isError"], false);
    assert_eq!(answer["result"]["content"][0]["type"], "text");
    let text = metrics_text(&server).await;
    assert_eq!(
        metric(
            &text,
            "target_mcp_requests_total{method=\"notifications/initialized\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(&text, "target_mcp_requests_total{method=\"tools/call\"}"),
        1.0
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_resources_and_prompts_answer_as_the_spec_shapes_them() {
    let server = fast_server().await;
    let session = open_session(&server).await;
    assert_eq!(
        result(&server, &session, "ping", json!({})).await,
        json!({})
    );

    let tools = result(&server, &session, "tools/list", json!({})).await;
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["search", "fetch_document", "summarize", "long_report"]
    );
    let search_schema = &tools["tools"][0]["inputSchema"];
    assert_eq!(search_schema["type"], "object");
    assert_eq!(search_schema["properties"]["query"]["type"], "string");
    assert_eq!(search_schema["properties"]["limit"]["type"], "integer");
    assert_eq!(search_schema["required"], json!(["query"]));

    let found = tool(
        &server,
        &session,
        "search",
        json!({ "query": "capacity", "limit": 3 }),
    )
    .await;
    let text = found["content"][0]["text"].as_str().unwrap().to_string();
    assert_eq!(
        text.lines().count(),
        4,
        "a heading and three results: {text}"
    );
    let id = text
        .lines()
        .nth(1)
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .trim_end_matches(':');
    let document = tool(&server, &session, "fetch_document", json!({ "id": id })).await;
    assert_eq!(document["isError"], false);
    assert!(document["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains(id));
    let missing = tool(
        &server,
        &session,
        "fetch_document",
        json!({ "id": "doc-x" }),
    )
    .await;
    assert_eq!(missing["isError"], true);
    let summary = tool(
        &server,
        &session,
        "summarize",
        json!({ "text": "one two three" }),
    )
    .await;
    assert!(summary["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("3 words"));

    // Missing required argument: a tool result with isError, as the python SDK answers.
    let invalid = tool(&server, &session, "search", json!({ "limit": 2 })).await;
    assert_eq!(invalid["isError"], true);
    assert!(invalid["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("'query' is a required property"));
    let unknown_tool = request(2, "tools/call", json!({ "name": "nope", "arguments": {} }));
    let (_, answer) = call(&server, Some(&session), &unknown_tool).await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    let (_, answer) = call(&server, Some(&session), &request(3, "made/up", json!({}))).await;
    assert_eq!(answer["error"]["code"], -32601, "{answer}");

    let resources = result(&server, &session, "resources/list", json!({})).await;
    let uri = resources["resources"][0]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(uri.starts_with("doc://"));
    let read = result(&server, &session, "resources/read", json!({ "uri": uri })).await;
    assert_eq!(read["contents"][0]["uri"], uri.as_str());
    assert!(read["contents"][0]["text"].as_str().unwrap().len() > 10);
    let unknown = request(4, "resources/read", json!({ "uri": "doc://nope" }));
    let (_, answer) = call(&server, Some(&session), &unknown).await;
    assert_eq!(answer["error"]["code"], -32002, "{answer}");
    assert_eq!(answer["error"]["message"], "Resource not found");

    let prompts = result(&server, &session, "prompts/list", json!({})).await;
    assert_eq!(prompts["prompts"][0]["name"], "summarize_document");
    let prompt = result(
        &server,
        &session,
        "prompts/get",
        json!({ "name": "summarize_document", "arguments": { "id": "doc-0007" } }),
    )
    .await;
    assert_eq!(prompt["messages"][0]["role"], "user");
    assert!(prompt["messages"][0]["content"]["text"]
        .as_str()
        .unwrap()
        .contains("doc-0007"));
    let no_argument = request(5, "prompts/get", json!({ "name": "summarize_document" }));
    let (_, answer) = call(&server, Some(&session), &no_argument).await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_and_the_answer_mode_choose_json_or_sse() {
    let server = fast_server().await;
    let session = open_session(&server).await;
    let ping = request(9, "ping", json!({}));

    let response = post(&server, Some(&session), BOTH, &ping).await;
    assert_eq!(response.status(), 200);
    let events = Events::new(response).all().await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].0,
        json!({ "jsonrpc": "2.0", "id": 9, "result": {} })
    );

    let response = post(&server, Some(&session), JSON_ONLY, &ping).await;
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let response = post(&server, Some(&session), "*/*", &ping).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let response = post(&server, Some(&session), "text/html", &ping).await;
    assert_eq!(response.status(), 406);
    server.shutdown().await.unwrap();

    let server = server_with(|c| c.mcp_answers = target_server::config::McpAnswers::Json).await;
    let session = open_session(&server).await;
    let response = post(&server, Some(&session), BOTH, &ping).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["result"], json!({}));
    server.shutdown().await.unwrap();
}

/// A server whose `long_report` steps take `step_ms` each, nothing else modelled.
async fn report_server(step_ms: u64, adjust: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    server_with(|c| {
        c.latency_overrides = vec![format!("mcp.long_report.step={step_ms}+0").parse().unwrap()];
        adjust(c);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_report_streams_progress_before_its_result_one_step_apart() {
    const STEP_MS: u64 = 30;
    let server = report_server(STEP_MS, |_| {}).await;
    let session = open_session(&server).await;
    let body = request(
        7,
        "tools/call",
        json!({ "name": "long_report", "arguments": { "steps": 4 }, "_meta": { "progressToken": "p-1" } }),
    );
    let sent = Instant::now();
    let response = post(&server, Some(&session), BOTH, &body).await;
    let events = Events::new(response).all().await;
    assert_eq!(
        events.len(),
        5,
        "four progress notifications, then the response"
    );
    // Each step's wait starts when the previous notification was sent, so notification n is
    // sent at least n steps after the request arrived. That bound is what arrival times can
    // check: a gap between two arrivals alone may shrink when the earlier event was read late
    // (two events in one read), however exact the server's gaps are.
    let mut previous = sent;
    for (i, (note, at)) in events[..4].iter().enumerate() {
        assert_eq!(note["method"], "notifications/progress", "{note}");
        assert_eq!(note["params"]["progressToken"], "p-1");
        assert_eq!(note["params"]["progress"], i as u64 + 1);
        assert_eq!(note["params"]["total"], 4);
        let since_sent = at.duration_since(sent);
        let steps = Duration::from_millis(STEP_MS * (i as u64 + 1));
        assert!(since_sent >= steps, "notification {i} after {since_sent:?}");
        assert!(*at >= previous, "in order");
        previous = *at;
    }
    let (answer, _) = &events[4];
    assert_eq!(answer["id"], 7);
    assert_eq!(answer["result"]["isError"], false);

    // Without a progress token: the steps' time, then the response alone.
    let body = request(
        8,
        "tools/call",
        json!({ "name": "long_report", "arguments": { "steps": 2 } }),
    );
    let sent = Instant::now();
    let events = Events::new(post(&server, Some(&session), BOTH, &body).await)
        .all()
        .await;
    assert_eq!(events.len(), 1);
    assert!(sent.elapsed() >= Duration::from_millis(2 * STEP_MS));
    // A JSON answer has nowhere to put progress: the response alone, after every step.
    let with_token = request(
        9,
        "tools/call",
        json!({ "name": "long_report", "arguments": { "steps": 2 }, "_meta": { "progressToken": 5 } }),
    );
    let sent = Instant::now();
    let (status, answer) = call(&server, Some(&session), &with_token).await;
    assert_eq!((status, &answer["id"]), (200, &json!(9)));
    assert!(sent.elapsed() >= Duration::from_millis(2 * STEP_MS));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_takes_its_modelled_service_time() {
    let server =
        server_with(|c| c.latency_overrides = vec!["mcp.search=40+0".parse().unwrap()]).await;
    let session = open_session(&server).await;
    let sent = Instant::now();
    tool(&server, &session, "search", json!({ "query": "q" })).await;
    assert!(
        sent.elapsed() >= Duration::from_millis(40),
        "{:?}",
        sent.elapsed()
    );
    let text = metrics_text(&server).await;
    assert_eq!(
        metric(
            &text,
            "target_server_requests_total{method=\"mcp.search\",status=\"200\"}"
        ),
        1.0
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_the_sdks_status_codes() {
    let server = fast_server().await;
    let session = open_session(&server).await;
    for (body, code) in [
        ("{not json", -32700),
        ("42", -32600),
        (r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, -32600),
        (r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, -32600),
    ] {
        let response = post_raw(&server, Some(&session), BOTH, body).await;
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        assert_eq!(answer["id"], Value::Null);
    }
    let ping = request(1, "ping", json!({}));
    let with_version = |version: &'static str| {
        client()
            .post(url(&server))
            .bearer_auth(server.token())
            .header("accept", JSON_ONLY)
            .header(SESSION_HEADER, session.clone())
            .header("mcp-protocol-version", version)
            .json(&ping)
            .send()
    };
    assert_eq!(with_version("1999-01-01").await.unwrap().status(), 400);
    assert_eq!(with_version("2025-06-18").await.unwrap().status(), 200);
    assert_eq!(with_version("2025-03-26").await.unwrap().status(), 200);
    let no_token = client()
        .post(url(&server))
        .header("accept", JSON_ONLY)
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_whose_client_went_away_stops_and_frees_its_slot() {
    let server = report_server(20, |_| {}).await;
    let session = open_session(&server).await;
    // 1000 steps of 20 ms: 20 s if nobody noticed the client leaving.
    let body = request(
        1,
        "tools/call",
        json!({ "name": "long_report", "arguments": { "steps": 1000 } }),
    );
    let response = post(&server, Some(&session), BOTH, &body).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(gauge(&server, "target_server_in_flight").await, 1.0);
    drop(response);
    let deadline = Instant::now() + Duration::from_secs(2);
    while gauge(&server, "target_server_in_flight").await != 0.0 {
        assert!(Instant::now() < deadline, "the report kept its slot");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await.unwrap();
}
