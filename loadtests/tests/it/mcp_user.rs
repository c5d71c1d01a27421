//! McpUser against target-server's `/mcp` (and against servers that misbehave): the whole
//! session lifecycle under load, read back from the server's own session counters.
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use target_server::ServerConfig;

use crate::support::{counts, results, run_file, scenario_file, stderr, Server};

/// A scenario of `users` McpUsers for `run_time` with `mcp` as its `[user_classes.mcp]` body.
fn scenario(users: u32, run_time: &str, think: &str, mcp: &str) -> String {
    format!(
        "users = {users}\nspawn_rate = 100\nrun_time = \"{run_time}\"\n[[user_classes]]\nclass = \"McpUser\"\nweight = 1\nthink_time = {think}\n[user_classes.mcp]\n{mcp}\n{LENIENT}"
    )
}

/// Tools drawn from schemas may be slow (`long_report` of up to 10 steps): these tests judge
/// sessions, not the default p95 SLA.
const LENIENT: &str = "[sla]\np95_ms = 30000\n";

const TOOLS: &str = r#"
[[user_classes.mcp.tools]]
name = "search"
weight = 4
arguments = '{"query": "{{pick(gpu, queue)}}", "limit": {{int(1, 5)}}}'
[[user_classes.mcp.tools]]
name = "summarize"
weight = 1
[[user_classes.mcp.tools]]
name = "long_report"
weight = 1
arguments = '{"steps": 3}'
[[user_classes.mcp.resources]]
uri = "doc://guide/quickstart"
"#;

/// A counter or gauge of the server's `/metrics`, summed over its labels.
fn metric(server: &Server, name: &str) -> f64 {
    let text = get_text(&format!("{}/metrics", server.url));
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn get_text(url: &str) -> String {
    let address = url.trim_start_matches("http://").split('/').next().unwrap();
    let path = &url[url.find(address).unwrap() + address.len()..];
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// Runs the McpUsers of `scenario(...)` against `url`; the output and the results.
fn run_mcp(
    url: &str,
    users: u32,
    run_time: &str,
    think: &str,
    mcp: &str,
) -> (std::process::Output, reports::RunResult) {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "mcp", &scenario(users, run_time, think, mcp));
    let out = dir.path().join("out");
    let o = run_file(&file, url, &out);
    let r = results(&out);
    (o, r)
}

fn mcp_server(adjust: impl FnOnce(&mut ServerConfig)) -> Server {
    Server::start(|c| {
        c.no_latency = true;
        c.latency_overrides = vec![
            "mcp.search=1".parse().unwrap(),
            "mcp.long_report.step=20".parse().unwrap(),
        ];
        adjust(c);
    })
}

#[test]
fn mcp_users_open_call_stream_and_close_their_sessions() {
    let server = mcp_server(|_| {});
    let (o, r) = run_mcp(&server.url, 4, "3s", r#"["10ms", "20ms"]"#, TOOLS);
    assert!(o.status.success(), "{}", stderr(&o));
    let failures: Vec<_> = r.failures.iter().map(|f| (&f.name, &f.error)).collect();
    assert_eq!(r.overall().failures, 0, "{failures:?}");
    for name in [
        "initialize",
        "notifications/initialized",
        "tools/list",
        "DELETE session",
    ] {
        assert_eq!(counts(&r, name), (4, 0), "{name}");
    }
    let (search, _) = counts(&r, "tools/call search");
    let (report, _) = counts(&r, "tools/call long_report");
    assert!(
        search > 20 && report > 2,
        "search {search}, long_report {report}"
    );
    assert!(
        counts(&r, "tools/call summarize").0 > 0,
        "arguments drawn from the schema"
    );
    assert!(counts(&r, "resources/read").0 > 0);
    // long_report's three progress notifications are its chunks: first after one 20 ms step.
    let stream = &r
        .requests
        .iter()
        .find(|s| s.name == "tools/call long_report")
        .unwrap()
        .stream;
    assert_eq!(stream.streams, report, "every long_report streamed");
    assert_eq!(stream.chunks, 3 * report);
    let ttfc_p50 = stream.ttfc.value_at_quantile(0.5);
    assert!((19.0..35.0).contains(&ttfc_p50), "TTFC p50 {ttfc_p50} ms");
    assert_eq!(
        metric(&server, "target_mcp_sessions_open"),
        0.0,
        "sessions left open"
    );
    assert_eq!(metric(&server, "target_mcp_sessions_opened_total"), 4.0);
}

#[test]
fn session_churn_opens_and_closes_a_session_every_n_calls() {
    let server = mcp_server(|_| {});
    let mcp = format!("churn_every = 2\n{TOOLS}");
    let (o, r) = run_mcp(&server.url, 3, "2s", r#"["5ms", "10ms"]"#, &mcp);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(r.overall().failures, 0);
    let (initialize, _) = counts(&r, "initialize");
    let (deletes, _) = counts(&r, "DELETE session");
    assert!(initialize > 10, "{initialize} sessions opened");
    // Every session opened was closed: by churn, or at the user's stop.
    assert_eq!(deletes, initialize);
    assert_eq!(
        metric(&server, "target_mcp_sessions_opened_total"),
        initialize as f64
    );
    assert_eq!(metric(&server, "target_mcp_sessions_open"), 0.0);
}

#[test]
fn an_expired_session_is_opened_again_and_counted() {
    // Sessions expire after 150 ms unused; users think 300 ms between calls.
    let server = mcp_server(|c| c.mcp_session_idle_ms = Some(150));
    let (o, r) = run_mcp(&server.url, 2, "2s", r#"["300ms", "300ms"]"#, TOOLS);
    let reopened: u64 = r
        .skipped_requests
        .iter()
        .filter(|s| s.name.starts_with("(session expired"))
        .map(|s| s.count)
        .sum();
    let lost: u64 = r
        .failures
        .iter()
        .filter(|f| f.error == "HTTP 404 Not Found")
        .map(|f| f.occurrences)
        .sum();
    assert!(reopened >= 2, "{:?}\n{}", r.skipped_requests, stderr(&o));
    // Each call that found its session gone is a failure, and the next opens it again.
    assert!(
        lost >= reopened && lost <= reopened + 2,
        "{lost} lost, {reopened} reopened"
    );
    assert_eq!(counts(&r, "initialize").0, 2 + reopened);
    assert_eq!(metric(&server, "target_mcp_sessions_open"), 0.0);
}

#[test]
fn a_stateless_server_needs_no_session_and_the_tools_it_lists_are_called() {
    let server = mcp_server(|c| c.mcp_stateless = true);
    // No tools named: every tool tools/list gives, with arguments from its schema.
    let (o, r) = run_mcp(&server.url, 2, "2s", r#"["5ms", "10ms"]"#, "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(r.overall().failures, 0, "{:?}", r.failures);
    assert_eq!(counts(&r, "initialize"), (2, 0));
    assert_eq!(counts(&r, "DELETE session"), (0, 0), "nothing to delete");
    let called: Vec<&str> = r
        .requests
        .iter()
        .filter_map(|s| s.name.strip_prefix("tools/call "))
        .collect();
    assert!(called.len() >= 3, "tools called: {called:?}");
}

/// A server that answers every request with an HTML page.
fn html_server() -> String {
    canned_server("text/html", "<html><body>Login</body></html>")
}

/// A server that answers every request with `body` as `content_type`.
fn canned_server(content_type: &'static str, page: &'static str) -> String {
    canned_server_status("200 OK", content_type, page)
}

/// A server that answers every request with `status` and `page` as `content_type`.
fn canned_server_status(
    status: &'static str,
    content_type: &'static str,
    page: &'static str,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    url
}

#[test]
fn an_html_answer_to_initialize_is_a_named_failure_and_users_are_not_started() {
    let url = html_server();
    let (o, r) = run_mcp(&url, 2, "2s", r#"["5ms", "10ms"]"#, "");
    let errors: Vec<&str> = r.failures.iter().map(|f| f.error.as_str()).collect();
    assert!(
        errors
            .iter()
            .all(|e| e.starts_with("malformed JSON answer to initialize")),
        "{errors:?}"
    );
    let (initialize, failed) = counts(&r, "initialize");
    assert!(
        (2..=6).contains(&initialize) && failed == initialize,
        "{initialize}"
    );
    assert!(
        stderr(&o).contains("McpUser: 2 users never started"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_shipped_mcp_scenario_runs_against_the_embedded_reference_server() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    const USERS: u32 = 20;
    // Tools are drawn by weight: `long_report` (weight 1 of 12), whose streaming SLA needs at
    // least one call, is missed by all of n calls with probability (11/12)^n. Five users for
    // 4 s made ~34 calls (a miss in 1 run of 19, and the SLA failed on no samples); 20 users
    // for 6 s make ~170 (1 in 2.6 million).
    let o = crate::support::run_shipped("mcp-tools", USERS, "6s", &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        stderr(&o),
        crate::support::stdout(&o)
    );
    assert!(stderr(&o).contains("running against the embedded reference server"));
    let r = results(&out);
    assert_eq!(r.overall().failures, 0, "{:?}", r.failures);
    for name in [
        "tools/call search",
        "tools/call fetch_document",
        "tools/call long_report",
    ] {
        assert!(counts(&r, name).0 > 0, "{name} never called");
    }
    assert_eq!(counts(&r, "DELETE session"), (u64::from(USERS), 0));
}

#[test]
fn a_malformed_or_cut_event_stream_is_a_named_failure() {
    let cases = [
        (
            "event: message\r\ndata: {\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": \r\n\r\n",
            "malformed JSON-RPC message in the event stream",
        ),
        (
            ": ping\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n",
            "the event stream ended before the JSON-RPC response",
        ),
    ];
    for (page, expected) in cases {
        let url = canned_server("text/event-stream", page);
        let (_, r) = run_mcp(&url, 1, "1s", r#"["50ms", "50ms"]"#, "");
        let errors: Vec<&str> = r.failures.iter().map(|f| f.error.as_str()).collect();
        assert!(
            !errors.is_empty() && errors.iter().all(|e| e.contains(expected)),
            "{expected}: {errors:?}"
        );
        assert_eq!(counts(&r, "initialize").1, counts(&r, "initialize").0);
    }
}

#[test]
fn the_stateless_revision_needs_no_handshake_or_session() {
    let server = mcp_server(|_| {});
    for version in ["2026-07-28", "auto"] {
        let mcp = format!("protocol_version = \"{version}\"\n{TOOLS}");
        let (o, r) = run_mcp(&server.url, 2, "2s", r#"["5ms", "10ms"]"#, &mcp);
        assert!(o.status.success(), "{version}: {}", stderr(&o));
        assert_eq!(r.overall().failures, 0, "{version}: {:?}", r.failures);
        assert_eq!(counts(&r, "server/discover"), (2, 0), "{version}");
        assert_eq!(counts(&r, "tools/list"), (2, 0), "{version}");
        for handshake in ["initialize", "notifications/initialized", "DELETE session"] {
            assert_eq!(counts(&r, handshake), (0, 0), "{version}: {handshake}");
        }
        assert!(counts(&r, "tools/call search").0 > 5, "{version}");
        // long_report's progress still streams on the request's own response.
        let report = r
            .requests
            .iter()
            .find(|s| s.name == "tools/call long_report")
            .unwrap();
        assert_eq!(report.stream.chunks, 3 * report.stream.streams, "{version}");
    }
    assert_eq!(
        metric(&server, "target_mcp_sessions_opened_total"),
        0.0,
        "no session opened"
    );
}

#[test]
fn auto_falls_back_to_the_handshake_when_the_probe_finds_no_modern_server() {
    // A handshake-era server refuses the probe as it refuses any request without a session.
    let url = canned_server_status(
        "400 Bad Request",
        "application/json",
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Bad Request: Missing session ID"}}"#,
    );
    let (_, r) = run_mcp(
        &url,
        2,
        "2s",
        r#"["5ms", "10ms"]"#,
        "protocol_version = \"auto\"\n",
    );
    // Each user probes once: its start is retried after about 1 s, with the handshake only.
    assert_eq!(
        counts(&r, "server/discover"),
        (2, 0),
        "the probe did its work, once per user"
    );
    let (initialize, failed) = counts(&r, "initialize");
    assert!(
        initialize > 2 && failed == initialize,
        "then the handshake: {:?}",
        r.failures
    );
    let error = &r
        .failures
        .iter()
        .find(|f| f.name == "initialize")
        .unwrap()
        .error;
    assert_eq!(error, "HTTP 400 Bad Request");
}
