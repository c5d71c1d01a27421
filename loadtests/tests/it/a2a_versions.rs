//! AgentChatUser speaks the A2A generation the agent card offers (1.0 or 0.3, or the one
//! forced), against target-server and against an agent built with the official A2A SDK
//! (`a2a-sdk`, pinned in .ci/requirements.txt), and re-subscribes to a task whose stream
//! was cut, measuring the gap.
use target_server::a2a_dialect::Dialect;
use target_server::ServerConfig;

use crate::python_server::PythonServer;
use crate::support::{counts, results, run_scenario, scenario_file, stderr, Server};

const CHUNKS: u64 = 6;
const GAP_MS: f64 = 30.0;

/// Chat users that stream: 2 of them for `seconds`, one request kind per weight.
fn chat(dir: &std::path::Path, seconds: u32) -> std::path::PathBuf {
    let text = format!(
        "users = 2\nspawn_rate = 2\nrun_time = \"{seconds}s\"\n[[user_classes]]\nclass = \"AgentChatUser\"\nweight = 1\nthink_time = [\"20ms\", \"40ms\"]\n[sla]\np95_ms = 30000\n"
    );
    scenario_file(dir, "chat", &text)
}

fn agent(adjust: impl FnOnce(&mut ServerConfig)) -> Server {
    Server::start(|c| {
        c.no_latency = true;
        c.latency_overrides = vec![
            "agent.ttfc=20+0".parse().unwrap(),
            format!("agent.gap={GAP_MS}+0").parse().unwrap(),
        ];
        c.agent_chunks = format!("{CHUNKS}+0").parse().unwrap();
        adjust(c);
    })
}

/// Runs the chat against `url` with `extra` flags; the output and results.
fn run_chat(url: &str, seconds: u32, extra: &[&str]) -> (std::process::Output, reports::RunResult) {
    let dir = tempfile::tempdir().unwrap();
    let file = chat(dir.path(), seconds);
    let out = dir.path().join("out");
    let o = run_scenario(&file, url, &out, extra);
    let r = results(&out);
    (o, r)
}

#[test]
fn the_card_decides_the_generation_unless_one_is_forced() {
    let server = agent(|_| {});
    for (flags, spoken) in [
        (&[][..], "speaks A2A 1.0"),
        (&["--a2a-version", "0.3"][..], "speaks A2A 0.3"),
    ] {
        let (o, r) = run_chat(&server.url, 2, flags);
        assert!(o.status.success(), "{flags:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(spoken), "{flags:?}: {}", stderr(&o));
        assert_eq!(r.overall().failures, 0, "{flags:?}: {:?}", r.failures);
        assert_eq!(counts(&r, "agent card"), (2, 0));
        let streams = r
            .requests
            .iter()
            .find(|s| s.name == "message/stream")
            .unwrap();
        assert!(streams.requests > 3, "{flags:?}");
        assert_eq!(
            streams.stream.chunks,
            CHUNKS * streams.stream.streams,
            "{flags:?}"
        );
    }
    // An agent that offers only 0.3, asked for 1.0: users do not start, and say why.
    let old = agent(|c| c.a2a_versions = vec![Dialect::V03]);
    let (o, r) = run_chat(&old.url, 2, &["--a2a-version", "1.0"]);
    let card = r
        .failures
        .iter()
        .find(|f| f.name == "agent card")
        .expect("card failures");
    assert_eq!(
        card.error,
        "the agent card offers no JSON-RPC interface for A2A 1.0"
    );
    assert!(
        stderr(&o).contains("AgentChatUser: 2 users never started"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_cut_stream_is_resubscribed_and_the_gap_measured() {
    // The server cuts every stream after 2 of its 6 chunks; the task keeps generating.
    for version in ["1.0", "0.3"] {
        let server = agent(|c| c.a2a_cut_after = Some(2));
        let (o, r) = run_chat(&server.url, 3, &["--a2a-version", version]);
        let stream = r
            .requests
            .iter()
            .find(|s| s.name == "message/stream")
            .unwrap();
        let resub = r.requests.iter().find(|s| s.name == "tasks/resubscribe");
        let resub = resub.unwrap_or_else(|| panic!("{version}: no resubscribe\n{}", stderr(&o)));
        // Every stream was cut (a failure), and every cut stream was completed by one
        // re-subscription (a success) delivering exactly the chunks the cut withheld.
        assert_eq!(stream.failures, stream.requests, "{version}");
        assert!(stream.requests >= 3, "{version}");
        assert_eq!(
            (resub.requests, resub.failures),
            (stream.requests, 0),
            "{version}: {:?}",
            r.failures
        );
        assert_eq!(stream.stream.chunks, 2 * stream.requests, "{version}");
        assert_eq!(
            resub.stream.chunks,
            (CHUNKS - 2) * resub.requests,
            "{version}"
        );
        // The first re-subscribed chunk is due one modelled gap after the last one before
        // the cut; its time to first chunk is counted from the cut.
        let gap = resub.stream.ttfc.value_at_quantile(0.5);
        assert!(
            (GAP_MS - 12.0..GAP_MS + 15.0).contains(&gap),
            "{version}: gap after the cut {gap} ms"
        );
        let cut = r
            .failures
            .iter()
            .find(|f| f.name == "message/stream")
            .unwrap();
        assert!(
            cut.error.starts_with("reading the stream failed"),
            "{}",
            cut.error
        );
    }
}

#[test]
fn agent_chat_users_speak_to_an_agent_built_with_the_official_sdk() {
    let sdk = PythonServer::start(
        "a2a_sdk_server.py",
        &["--chunks", "5", "--gap-ms", "20"],
        "/.well-known/agent-card.json",
    );
    let (o, r) = run_chat(&sdk.url(), 3, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("speaks A2A 1.0"), "{}", stderr(&o));
    let failures: Vec<_> = r.failures.iter().map(|f| (&f.name, &f.error)).collect();
    assert_eq!(r.overall().failures, 0, "{failures:?}");
    let stream = r
        .requests
        .iter()
        .find(|s| s.name == "message/stream")
        .unwrap();
    assert!(stream.requests > 3);
    assert_eq!(stream.stream.chunks, 5 * stream.stream.streams);
    let gap = stream.stream.gap.value_at_quantile(0.5);
    assert!(
        (15.0..40.0).contains(&gap),
        "gap p50 {gap} ms against the SDK's 20 ms"
    );
    for name in ["message/send", "tasks/get"] {
        assert!(counts(&r, name).0 > 0, "{name} never sent");
    }
}
