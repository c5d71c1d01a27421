//! The injected faults (`x-llm-fault`, `--llm-fault-every`): error, stall, cut, malformed,
//! no-usage, in each API's framing.
use std::time::{Duration, Instant};

use serde_json::Value;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_error_fault_ends_each_stream_with_its_error_event() {
    bounded(async {
        let server = llm_server(|_| {}).await;
        let c = client();
        let response = post(
            &c,
            &server,
            "/v1/chat/completions",
            &chat_body(10, true, true),
            Some("error"),
        )
        .await;
        assert_eq!(truth(&response)["fault"], "error");
        let events = read_events(response).await.unwrap();
        assert_eq!(words(&openai_texts(&events)), 5, "half the output");
        let n = events.len();
        assert_eq!(
            events[n - 1].data,
            "[DONE]",
            "vLLM ends a failed stream with [DONE]"
        );
        let error = events[n - 2].json();
        assert_eq!(error["error"]["type"], "server_error");
        assert!(error["error"]["message"].is_string());
        assert!(events.iter().all(|e| !e.data.contains("\"usage\":{")));

        let events = read_events(
            post(
                &c,
                &server,
                "/v1/messages",
                &messages_body(10, true),
                Some("error"),
            )
            .await,
        )
        .await
        .unwrap();
        let last = events.last().unwrap();
        assert_eq!(last.name.as_deref(), Some("error"));
        assert_eq!(last.json()["type"], "error");
        assert_eq!(last.json()["error"]["type"], "api_error");
        assert!(events
            .iter()
            .all(|e| e.name.as_deref() != Some("message_stop")));
        assert_eq!(
            events
                .iter()
                .filter(|e| e.name.as_deref() == Some("content_block_delta"))
                .count(),
            5
        );

        // A whole answer fails with a 500 in the API's shape.
        let whole = post(
            &c,
            &server,
            "/v1/chat/completions",
            &chat_body(10, false, false),
            Some("error"),
        )
        .await;
        assert_eq!(whole.status(), 500);
        let body: Value = whole.json().await.unwrap();
        assert_eq!(body["error"]["type"], "server_error");
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stall_fault_makes_one_long_gap_mid_stream() {
    bounded(async {
        let server = llm_server(|c| {
            c.llm.llm_stall_ms = 120;
            latencies(c, 1, 1);
        })
        .await;
        let sent = Instant::now();
        let response = post(
            &client(),
            &server,
            "/v1/chat/completions",
            &chat_body(10, true, true),
            Some("stall"),
        )
        .await;
        let texts = openai_texts(&read_events(response).await.unwrap());
        assert_eq!(texts.len(), 10);
        let gaps: Vec<Duration> = texts.windows(2).map(|w| w[1].1 - w[0].1).collect();
        let long: Vec<usize> = (0..gaps.len())
            .filter(|&i| gaps[i] >= Duration::from_millis(100))
            .collect();
        assert_eq!(long, [4], "one stall, before the 6th chunk: {gaps:?}");
        // Chunk 5 is due at TTFT (1 ms + 9 × 50 µs) + 5 × 1 ms + the 120 ms stall; no chunk
        // ever comes before its deadline.
        let stalled = texts[5].1 - sent;
        assert!(stalled >= Duration::from_micros(126_450), "{stalled:?}");
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cut_fault_closes_the_connection_mid_stream() {
    bounded(async {
        let server = llm_server(|_| {}).await;
        let c = client();
        let response = post(
            &c,
            &server,
            "/v1/chat/completions",
            &chat_body(10, true, true),
            Some("cut"),
        )
        .await;
        let events = read_events(response)
            .await
            .expect_err("the body ends in an error");
        assert_eq!(words(&openai_texts(&events)), 5);
        assert!(events.iter().all(|e| e.data != "[DONE]"));
        let events = read_events(
            post(
                &c,
                &server,
                "/v1/messages",
                &messages_body(10, true),
                Some("cut"),
            )
            .await,
        )
        .await
        .expect_err("the body ends in an error");
        assert!(events
            .iter()
            .all(|e| e.name.as_deref() != Some("message_stop")));
        // The server is fine afterwards, and the cut stream freed its slots.
        let ok = post(
            &c,
            &server,
            "/v1/chat/completions",
            &chat_body(3, true, false),
            None,
        )
        .await;
        assert!(read_events(ok).await.is_ok());
        let scrape = metrics_text(&server).await;
        assert_eq!(metric(&scrape, "target_llm_streams_in_flight"), 0.0);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_malformed_fault_sends_one_event_that_is_not_json() {
    bounded(async {
        let server = llm_server(|_| {}).await;
        let c = client();
        let events = read_events(
            post(
                &c,
                &server,
                "/v1/chat/completions",
                &chat_body(10, true, true),
                Some("malformed"),
            )
            .await,
        )
        .await
        .unwrap();
        let bad: Vec<&Event> = events
            .iter()
            .filter(|e| e.data != "[DONE]" && serde_json::from_str::<Value>(&e.data).is_err())
            .collect();
        assert_eq!(bad.len(), 1, "{events:?}");
        assert_eq!(words(&openai_texts(&events)), 10, "no token is lost");
        assert_eq!(events.last().unwrap().data, "[DONE]");
        let events = read_events(
            post(
                &c,
                &server,
                "/v1/messages",
                &messages_body(4, true),
                Some("malformed"),
            )
            .await,
        )
        .await
        .unwrap();
        let bad = events
            .iter()
            .filter(|e| serde_json::from_str::<Value>(&e.data).is_err())
            .count();
        assert_eq!(bad, 1);
        assert_eq!(events.last().unwrap().name.as_deref(), Some("message_stop"));
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_no_usage_fault_leaves_usage_out() {
    bounded(async {
        let server = llm_server(|_| {}).await;
        let c = client();
        let events = read_events(
            post(
                &c,
                &server,
                "/v1/chat/completions",
                &chat_body(4, true, true),
                Some("no-usage"),
            )
            .await,
        )
        .await
        .unwrap();
        assert!(
            events.iter().all(|e| !e.data.contains("usage")),
            "{events:?}"
        );
        assert_eq!(words(&openai_texts(&events)), 4);
        let events = read_events(
            post(
                &c,
                &server,
                "/v1/messages",
                &messages_body(4, true),
                Some("no-usage"),
            )
            .await,
        )
        .await
        .unwrap();
        assert!(events.iter().all(|e| !e.data.contains("usage")));
        let whole: Value = post(
            &c,
            &server,
            "/v1/chat/completions",
            &chat_body(4, false, false),
            Some("no-usage"),
        )
        .await
        .json()
        .await
        .unwrap();
        assert!(whole.get("usage").is_none());
        let unknown = post(
            &c,
            &server,
            "/v1/chat/completions",
            &chat_body(4, true, false),
            Some("explode"),
        )
        .await;
        assert_eq!(unknown.status(), 400);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_every_n_hits_every_nth_streamed_request() {
    bounded(async {
        let server = llm_server(|c| {
            c.llm.llm_fault = Some(target_server::llm::FaultKind::Cut);
            c.llm.llm_fault_every = 2;
        })
        .await;
        let c = client();
        let mut cut = Vec::new();
        for _ in 0..4 {
            let response = post(
                &c,
                &server,
                "/v1/chat/completions",
                &chat_body(4, true, false),
                None,
            )
            .await;
            cut.push(read_events(response).await.is_err());
        }
        assert_eq!(cut, [false, true, false, true]);
        // Whole answers are not counted and not hit.
        let whole = post(
            &c,
            &server,
            "/v1/chat/completions",
            &chat_body(4, false, false),
            None,
        )
        .await;
        assert_eq!(whole.status(), 200);
        server.shutdown().await.unwrap();
    })
    .await;
}
