//! MCP sessions: `DELETE`, idle expiry, the session limit and stateless mode, read through
//! the status codes and the `target_mcp_*` metrics.
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use target_server::mcp::SESSION_HEADER;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_ends_a_session_and_get_is_not_offered() {
    let server = fast_server().await;
    let session = open_session(&server).await;
    assert_eq!(gauge(&server, "target_mcp_sessions_open").await, 1.0);
    let delete = |id: Option<String>| {
        let mut builder = client().delete(url(&server)).bearer_auth(server.token());
        if let Some(id) = id {
            builder = builder.header(SESSION_HEADER, id);
        }
        builder.send()
    };
    assert_eq!(delete(Some(session.clone())).await.unwrap().status(), 200);
    let (status, _) = call(&server, Some(&session), &request(1, "ping", json!({}))).await;
    assert_eq!(status, 404, "a deleted session is not found");
    assert_eq!(delete(Some(session.clone())).await.unwrap().status(), 404);
    assert_eq!(delete(None).await.unwrap().status(), 400);
    let text = metrics_text(&server).await;
    assert_eq!(metric(&text, "target_mcp_sessions_open"), 0.0);
    assert_eq!(
        metric(
            &text,
            "target_mcp_sessions_closed_total{reason=\"deleted\"}"
        ),
        1.0
    );

    let get = client()
        .get(url(&server))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST, DELETE");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_expires_and_a_used_one_does_not() {
    const IDLE: Duration = Duration::from_millis(300);
    let server = server_with(|c| c.mcp_session_idle_ms = Some(IDLE.as_millis() as u64)).await;
    let idle = open_session(&server).await;
    let idle_since = Instant::now();
    let used = open_session(&server).await;
    // One client for the pings, so each is one request on a kept-alive connection: the
    // session is used every ~50 ms, far inside its idle time even on a loaded machine.
    let pinger = client();
    let ping = |session: String| {
        pinger
            .post(url(&server))
            .bearer_auth(server.token())
            .header("accept", JSON_ONLY)
            .header(SESSION_HEADER, session)
            .json(&request(1, "ping", json!({})))
            .send()
    };
    while idle_since.elapsed() < IDLE + Duration::from_millis(50) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let status = ping(used.clone()).await.unwrap().status();
        assert_eq!(status, 200, "a session in use stays open");
    }
    let response = ping(idle.clone()).await.unwrap();
    assert_eq!(response.status(), 404);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["message"], "Session not found");
    let text = metrics_text(&server).await;
    assert_eq!(metric(&text, "target_mcp_sessions_open"), 1.0);
    assert_eq!(
        metric(
            &text,
            "target_mcp_sessions_closed_total{reason=\"expired\"}"
        ),
        1.0
    );
    // Left alone, the used one expires too: the gauge (swept before each scrape) reaches 0.
    let deadline = Instant::now() + IDLE + Duration::from_secs(2);
    while gauge(&server, "target_mcp_sessions_open").await != 0.0 {
        assert!(Instant::now() < deadline, "the last session never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialize_past_the_session_limit_gets_503() {
    let server = server_with(|c| c.mcp_max_sessions = 2).await;
    let first = open_session(&server).await;
    open_session(&server).await;
    let init = request(0, "initialize", init_params("2025-06-18"));
    let (status, answer) = call(&server, None, &init).await;
    assert_eq!(status, 503, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("2 open sessions") && message.contains("--mcp-max-sessions"),
        "{message}"
    );
    client()
        .delete(url(&server))
        .bearer_auth(server.token())
        .header(SESSION_HEADER, first)
        .send()
        .await
        .unwrap();
    let (status, _) = call(&server, None, &init).await;
    assert_eq!(status, 200, "a deleted session made room");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_mode_needs_no_session() {
    let server = server_with(|c| c.mcp_stateless = true).await;
    let (session, init) = initialize(&server, "2025-06-18").await;
    assert_eq!(session, None, "no session id in stateless mode");
    assert_eq!(init["protocolVersion"], "2025-06-18");
    let search = request(
        1,
        "tools/call",
        json!({ "name": "search", "arguments": { "query": "x" } }),
    );
    let (status, answer) = call(&server, None, &search).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = call(&server, Some("anything"), &search).await;
    assert_eq!(status, 200, "a session header is ignored");
    let delete = client()
        .delete(url(&server))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 405);
    assert_eq!(gauge(&server, "target_mcp_sessions_open").await, 0.0);
    server.shutdown().await.unwrap();
}
