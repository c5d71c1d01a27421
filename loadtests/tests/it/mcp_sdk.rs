//! A declared MCP class (on_start: initialize with the session id captured from its header,
//! then the `notifications/initialized` notification; tools/call with the session header; on_stop:
//! DELETE of the session) against an MCP server built with the official Python SDK (`mcp`,
//! pinned in .ci/requirements.txt) at its default settings: stateful sessions, SSE answers.
//! This is the run that failed 590 of 590 requests before Skein read headers, notifications
//! and event-stream answers.
use std::time::{Duration, Instant};

use crate::python_server::PythonServer;

use crate::support::{
    counts, results, run_scenario, scenario_file, signal_and_wait, spawn_run, stderr,
};

/// The MCP SDK server (tests/fixtures/mcp_sdk_server.py).
struct SdkServer(PythonServer);

impl SdkServer {
    fn start(flags: &[&str]) -> SdkServer {
        SdkServer(PythonServer::start("mcp_sdk_server.py", flags, "/sessions"))
    }

    fn url(&self) -> String {
        self.0.url()
    }

    /// The sessions the SDK holds open.
    fn open_sessions(&self) -> u64 {
        let body = self.0.get("/sessions").expect("the SDK server answers");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["open"].as_u64().unwrap()
    }
}

/// The class as a team would declare it (docs/custom-workloads.md, "Sessions").
const MCP_CLASS: &str = r#"
users = 3
spawn_rate = 30
run_time = "RUN_TIME"
[[user_classes]]
name = "McpClient"
weight = 1
think_time = ["20ms", "40ms"]
[[user_classes.on_start]]
name = "initialize"
path = "/mcp"
jsonrpc = "initialize"
params = '{"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "skein", "version": "1"}}'
capture = { session = "header:Mcp-Session-Id", version = "/result/protocolVersion" }
[[user_classes.on_start]]
name = "notifications/initialized"
path = "/mcp"
jsonrpc = "notifications/initialized"
notification = true
headers = { "Mcp-Session-Id" = "{{session}}", "MCP-Protocol-Version" = "{{version}}" }
[[user_classes.requests]]
name = "tools/call search"
path = "/mcp"
jsonrpc = "tools/call"
params = '{"name": "search", "arguments": {"query": "load", "limit": 2}}'
headers = { "Mcp-Session-Id" = "{{session}}", "MCP-Protocol-Version" = "{{version}}" }
[[user_classes.on_stop]]
name = "DELETE session"
path = "/mcp"
method = "DELETE"
headers = { "Mcp-Session-Id" = "{{session}}", "MCP-Protocol-Version" = "{{version}}" }
"#;

#[test]
fn a_declared_mcp_class_runs_against_the_official_sdk_and_closes_every_session() {
    for flags in [&[][..], &["--json"][..]] {
        let server = SdkServer::start(flags);
        let dir = tempfile::tempdir().unwrap();
        let scenario = scenario_file(dir.path(), "mcp", &MCP_CLASS.replace("RUN_TIME", "3s"));
        let out = dir.path().join("out");
        let o = run_scenario(&scenario, &server.url(), &out, &[]);
        assert!(o.status.success(), "{flags:?}: {}", stderr(&o));
        let r = results(&out);
        let failures: Vec<_> = r.failures.iter().map(|f| &f.error).collect();
        assert_eq!(r.overall().failures, 0, "{flags:?}: {failures:?}");
        assert_eq!(counts(&r, "initialize"), (3, 0), "{flags:?}");
        assert_eq!(counts(&r, "notifications/initialized"), (3, 0), "{flags:?}");
        assert_eq!(counts(&r, "DELETE session"), (3, 0), "{flags:?}");
        let (calls, _) = counts(&r, "tools/call search");
        assert!(calls > 30, "{flags:?}: {calls} tool calls in 3 s");
        assert!(r.skipped_requests.is_empty(), "{:?}", r.skipped_requests);
        assert_eq!(server.open_sessions(), 0, "{flags:?}: sessions left open");
    }
}

#[test]
fn an_interrupted_run_still_closes_every_session() {
    let server = SdkServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "mcp", &MCP_CLASS.replace("RUN_TIME", "60s"));
    let out = dir.path().join("out");
    let mut child = spawn_run(&scenario, &server.url(), &out);
    // Every user has started once the server holds three sessions.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.open_sessions() < 3 {
        assert!(
            Instant::now() < deadline,
            "the users never opened their sessions"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let status = signal_and_wait(&mut child, "-INT", Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
    let r = results(&out);
    assert!(r.metadata.interrupted);
    assert_eq!(counts(&r, "DELETE session"), (3, 0));
    assert_eq!(server.open_sessions(), 0, "sessions left open after Ctrl-C");
}

#[test]
fn a_session_header_the_server_never_sends_leaves_users_not_started_without_hammering() {
    // A stateless server sends no Mcp-Session-Id: the notification that needs it cannot be
    // sent, so every start fails, is retried after a backoff, and is counted.
    let server = SdkServer::start(&["--stateless"]);
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "mcp", &MCP_CLASS.replace("RUN_TIME", "3s"));
    let out = dir.path().join("out");
    let o = run_scenario(&scenario, &server.url(), &out, &[]);
    let r = results(&out);
    let (initialize, _) = counts(&r, "initialize");
    // Backoff 1 s, then 2 s: at most three tries per user in 3 s.
    assert!(
        (3..=9).contains(&initialize),
        "{initialize} initialize calls"
    );
    assert_eq!(counts(&r, "tools/call search"), (0, 0));
    assert_eq!(
        counts(&r, "DELETE session"),
        (0, 0),
        "no stop for users that never started"
    );
    let not_started: u64 = r
        .skipped_requests
        .iter()
        .filter(|s| s.name.starts_with("(user not started"))
        .map(|s| s.count)
        .sum();
    assert_eq!(not_started, 3, "{:?}", r.skipped_requests);
    assert!(
        stderr(&o).contains("McpClient: 3 users never started"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_built_in_mcp_user_speaks_to_the_official_sdk() {
    let server = SdkServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    // No tools named: McpUser calls what tools/list gives, arguments from the schemas.
    let text = "users = 3\nspawn_rate = 30\nrun_time = \"3s\"\n[[user_classes]]\nclass = \"McpUser\"\nweight = 1\nthink_time = [\"20ms\", \"40ms\"]\n[sla]\np95_ms = 30000\n";
    let scenario = scenario_file(dir.path(), "mcp-user", text);
    let out = dir.path().join("out");
    let o = run_scenario(&scenario, &server.url(), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = results(&out);
    let failures: Vec<_> = r.failures.iter().map(|f| (&f.name, &f.error)).collect();
    assert_eq!(r.overall().failures, 0, "{failures:?}");
    for name in [
        "initialize",
        "notifications/initialized",
        "tools/list",
        "DELETE session",
    ] {
        assert_eq!(counts(&r, name), (3, 0), "{name}");
    }
    assert!(counts(&r, "tools/call search").0 > 5);
    assert!(counts(&r, "tools/call long_report").0 > 5);
    assert_eq!(server.open_sessions(), 0);
}

#[test]
fn the_stateless_revision_is_spoken_with_the_official_sdk() {
    // mcp 2.3.0 serves 2026-07-28 beside the handshake revisions (a dual-era server): `auto`
    // finds it with server/discover, and forcing it needs no handshake either.
    let server = SdkServer::start(&[]);
    for version in ["auto", "2026-07-28"] {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("users = 2\nspawn_rate = 20\nrun_time = \"2s\"\n[[user_classes]]\nclass = \"McpUser\"\nweight = 1\nthink_time = [\"20ms\", \"40ms\"]\n[user_classes.mcp]\nprotocol_version = \"{version}\"\n[sla]\np95_ms = 30000\n");
        let scenario = scenario_file(dir.path(), "mcp-modern", &text);
        let out = dir.path().join("out");
        let o = run_scenario(&scenario, &server.url(), &out, &[]);
        assert!(o.status.success(), "{version}: {}", stderr(&o));
        let r = results(&out);
        let failures: Vec<_> = r.failures.iter().map(|f| (&f.name, &f.error)).collect();
        assert_eq!(r.overall().failures, 0, "{version}: {failures:?}");
        assert_eq!(counts(&r, "server/discover"), (2, 0), "{version}");
        assert_eq!(counts(&r, "initialize"), (0, 0), "{version}: no handshake");
        assert!(counts(&r, "tools/call search").0 > 3, "{version}");
        assert_eq!(server.open_sessions(), 0, "{version}: no session");
    }
}
