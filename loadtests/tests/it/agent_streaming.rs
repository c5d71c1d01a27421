//! Streamed answers measured against the reference server's configured generation model:
//! time to first chunk and the gaps between chunks within 5 % (or 0.5 ms) of what the server
//! was told, chunk counts exact, and the same figures merged exactly from two workers.
use std::time::Duration;

use reports::RequestStats;

use crate::distributed_support::{manager_for, worker};
use crate::support::*;

const TTFC_MS: f64 = 100.0;
const GAP_MS: f64 = 20.0;
const CHUNKS: u64 = 6;

/// A reference server whose answers start after exactly 100 ms and stream 6 chunks 20 ms
/// apart; everything else answers at once. (Its precise clock wakes ~0.1 ms after a deadline,
/// which the time to first chunk includes with the request's way in and out; the gaps, between
/// absolute deadlines, do not accumulate it.)
fn calibrated_server() -> Server {
    Server::start(|c| {
        c.no_latency = true;
        c.latency_overrides = vec![
            format!("agent.ttfc={TTFC_MS}+0").parse().unwrap(),
            format!("agent.gap={GAP_MS}+0").parse().unwrap(),
        ];
        c.agent_chunks = format!("{CHUNKS}+0").parse().unwrap();
    })
}

fn chat_scenario(dir: &std::path::Path, users: u32, seconds: u32) -> std::path::PathBuf {
    scenario_file(
        dir,
        "chat",
        &format!(
            r#"users = {users}
spawn_rate = {users}
run_time = "{seconds}s"

[[user_classes]]
class = "AgentChatUser"
weight = 1
think_time = ["50ms", "100ms"]

[sla]
p95_ms = 1000
ttfc_p95_ms = 150
gap_p99_ms = 60
min_items_per_s = 10
"#
        ),
    )
}

fn streamed(result: &reports::RunResult) -> &RequestStats {
    result
        .requests
        .iter()
        .find(|r| r.name == "message/stream")
        .expect("message/stream was sent")
}

/// Within 5 % of `told`, or 0.5 ms, whichever is wider.
fn close(measured: f64, told: f64) -> bool {
    (measured - told).abs() <= (told * 0.05).max(0.5)
}

#[test]
fn time_to_first_chunk_and_gaps_match_the_servers_model() {
    let server = calibrated_server();
    let dir = tempfile::tempdir().unwrap();
    let out = run_file(&chat_scenario(dir.path(), 8, 4), &server.url, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result = results(dir.path());
    assert_eq!(result.overall().failures, 0, "{:?}", result.failures);
    let r = streamed(&result);
    let s = &r.stream;
    assert!(s.streams >= 30, "enough streams to judge: {}", s.streams);
    assert_eq!(s.streams, r.requests, "every stream delivered chunks");
    assert_eq!(s.chunks, CHUNKS * s.streams, "chunk counts are exact");
    assert_eq!(r.items, s.chunks, "a stream's items are its chunks");
    assert_eq!(s.gap.count(), (CHUNKS - 1) * s.streams);

    let ttfc = s.ttfc.value_at_quantile(0.5);
    let (gap_p50, gap_mean) = (s.gap.value_at_quantile(0.5), s.gap.mean());
    eprintln!(
        "told ttfc {TTFC_MS} ms, gap {GAP_MS} ms; measured ttfc p50 {ttfc:.2} p95 {:.2}, gap p50 {gap_p50:.2} mean {gap_mean:.3} p99 {:.2} ms, chunks/s p50 {:.1}",
        s.ttfc.value_at_quantile(0.95),
        s.gap.value_at_quantile(0.99),
        s.chunk_rate_at(0.5)
    );
    assert!(close(ttfc, TTFC_MS), "ttfc p50 {ttfc} ms");
    assert!(close(gap_p50, GAP_MS), "gap p50 {gap_p50} ms");
    assert!(close(gap_mean, GAP_MS), "gap mean {gap_mean} ms");
    assert!(
        close(s.chunk_rate_at(0.5), 1000.0 / GAP_MS),
        "{}",
        s.chunk_rate_at(0.5)
    );
    // The whole answer is the first chunk plus 5 gaps, and the request's latency says so.
    let total = r.latency.value_at_quantile(0.5);
    let told = TTFC_MS + (CHUNKS - 1) as f64 * GAP_MS;
    assert!(close(total, told), "total {total} ms");

    // Every streaming SLA was judged on these figures and held.
    for key in ["ttfc_p95_ms", "gap_p99_ms", "min_items_per_s"] {
        let v = result
            .slas
            .iter()
            .find(|v| v.threshold.metric.key() == key)
            .unwrap();
        assert!(v.passed, "{v:?}");
    }
    let csv = std::fs::read_to_string(dir.path().join("skein_stream_stats.csv")).unwrap();
    assert!(csv.lines().any(|l| l.contains("message/stream")), "{csv}");
    assert!(
        stdout(&out).contains("Streaming and items"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_slow_first_chunk_fails_the_ttfc_sla_but_not_the_latency_one() {
    let server = Server::start(|c| {
        c.no_latency = true;
        c.latency_overrides = vec![
            "agent.ttfc=200+0".parse().unwrap(),
            "agent.gap=1+0".parse().unwrap(),
        ];
        c.agent_chunks = "3+0".parse().unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let out = run_file(&chat_scenario(dir.path(), 4, 2), &server.url, dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let result = results(dir.path());
    let failed: Vec<&str> = result
        .slas
        .iter()
        .filter(|v| !v.passed)
        .map(|v| v.threshold.metric.key())
        .collect();
    assert_eq!(failed, ["ttfc_p95_ms"], "{:?}", result.slas);
}

#[test]
fn two_workers_streams_merge_exactly() {
    let server = calibrated_server();
    let dir = tempfile::tempdir().unwrap();
    let path = chat_scenario(dir.path(), 4, 3);
    let out = dir.path().join("merged");
    let (mut manager, url) = manager_for(&path, 2, &server.url, &out);
    let mut workers = [
        worker(
            &url,
            "w1",
            &["--out", dir.path().join("w1").to_str().unwrap()],
        ),
        worker(
            &url,
            "w2",
            &["--out", dir.path().join("w2").to_str().unwrap()],
        ),
    ];
    assert_eq!(
        manager.exit_code(Duration::from_secs(60)),
        Some(0),
        "{}",
        manager.text()
    );
    for w in &mut workers {
        assert_eq!(
            w.exit_code(Duration::from_secs(20)),
            Some(0),
            "{}",
            w.text()
        );
    }
    let merged = results(&out);
    let parts: Vec<reports::RunResult> = ["w1", "w2"]
        .iter()
        .map(|w| results(&dir.path().join(w)))
        .collect();
    let m = streamed(&merged);
    let mut sum = reports::StreamStats::default();
    for p in &parts {
        sum.add(&streamed(p).stream);
    }
    assert!(m.stream.streams > 0);
    assert_eq!(m.stream, sum, "the manager's streams are the workers' sum");
    assert_eq!(
        m.items,
        parts.iter().map(|p| streamed(p).items).sum::<u64>()
    );
}

/// A declared class reads the same stream (`stream = true`, chunks by pointer), captures
/// the task from the stream's last event and counts items by pointer.
#[test]
fn a_declared_class_streams_captures_and_counts_items() {
    let server = calibrated_server();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "declared-chat",
        r#"users = 6
spawn_rate = 6
run_time = "3s"

[[user_classes]]
name = "A2AClient"
weight = 1
mode = "sequence"
think_time = ["20ms", "50ms"]

[[user_classes.requests]]
name = "ask"
path = "/a2a"
jsonrpc = "message/stream"
params = '{"message": {"role": "user", "parts": [{"kind": "text", "text": "hi"}], "messageId": "{{uuid()}}"}}'
stream = true
chunk = "/result/artifact"
capture = { task = "/result/taskId" }

[[user_classes.requests]]
name = "check"
path = "/a2a"
jsonrpc = "tasks/get"
params = '{"id": "{{task}}"}'
items = "/result/artifacts"

[sla]
p95_ms = 2000
ttfc_p95_ms = 150
"#,
    );
    let out = run_file(&path, &server.url, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result = results(dir.path());
    assert_eq!(result.overall().failures, 0, "{:?}", result.failures);
    let by_name = |n: &str| result.requests.iter().find(|r| r.name == n).unwrap();
    let (ask, check) = (by_name("ask"), by_name("check"));
    assert!(ask.stream.streams >= 10, "{}", ask.stream.streams);
    assert_eq!(ask.stream.streams, ask.requests);
    assert_eq!(ask.stream.chunks, CHUNKS * ask.requests);
    assert_eq!(ask.items, ask.stream.chunks);
    assert!(close(ask.stream.ttfc.value_at_quantile(0.5), TTFC_MS));
    // Every check read a task captured from a stream: one artifact each.
    assert!(check.requests > 0);
    assert_eq!(
        check.items, check.requests,
        "one artifact per finished task"
    );
    assert!(check.stream.is_empty(), "check does not stream");
}

#[test]
fn stream_keys_misused_are_refused_where_they_stand() {
    let dir = tempfile::tempdir().unwrap();
    for (key, line, expected) in [
        ("chunk = \"/result\"", 10, "`chunk` without `stream = true`"),
        (
            "stream = true\nchunk = \"result\"",
            11,
            "does not start with `/`",
        ),
        ("items = -3", 10, "items = -3"),
        ("items = 2.5", 10, "items is a float"),
    ] {
        let path = scenario_file(
            dir.path(),
            "bad-stream",
            &format!(
                "users = 1\nrun_time = \"1s\"\n[[user_classes]]\nname = \"C\"\nweight = 1\n\
                 [[user_classes.requests]]\nname = \"r\"\npath = \"/x\"\n\n{key}\n"
            ),
        );
        let out = skein()
            .args(["scenarios", "--check"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("bad-stream.toml:{line}:")) && err.contains(expected),
            "{key}: {err}"
        );
    }
}
