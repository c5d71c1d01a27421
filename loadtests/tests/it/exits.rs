//! Exit codes: SLA failure 1, unreachable 3 (fast), interrupt 130 with results on disk.
use std::time::{Duration, Instant};

use crate::support::*;

const SHORT: &str = r#"
users = 5
spawn_rate = 5
run_time = "4s"
[[user_classes]]
class = "BurstTrainingUser"
weight = 1
think_time = ["50ms", "100ms"]
[sla]
p95_ms = 200
error_rate = 0.01
"#;

#[test]
fn an_sla_failure_exits_1_and_says_which() {
    let server = Server::start(|c| c.latency_overrides = vec!["*=300".parse().unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "slow", SHORT);
    let out = dir.path().join("out");
    let o = run_scenario(&scenario, &server.url, &out, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("[FAIL] p95_ms < 200.0 ms"), "{stdout}");
    let r = results(&out);
    assert!(!r.passed());
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
}

#[test]
fn an_unreachable_host_exits_3_within_5_seconds() {
    // Bind then drop a listener: the port is free and nothing accepts on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let o = run(&[
        "run",
        "--scenario",
        "light",
        "--host",
        &format!("http://127.0.0.1:{port}"),
        "-t",
        "5s",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(stderr(&o).contains("unreachable"), "{}", stderr(&o));
}

fn interrupted_with(signal: &str) {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "long", &SHORT.replace("\"4s\"", "\"60s\""));
    let out = dir.path().join("out");
    let mut child = skein()
        .args([
            "run",
            "--scenario",
            scenario.to_str().unwrap(),
            "--host",
            &server.url,
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let sent = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("skein did not stop within 20 s of {signal}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130), "after {signal}");
    let r = results(&out);
    assert!(r.metadata.interrupted);
    assert!(r.overall().requests > 0);
    assert!(out.join("report.html").exists());
}

#[test]
fn sigint_exits_130_with_results_on_disk() {
    interrupted_with("-INT");
}

#[test]
fn sigterm_exits_130_with_results_on_disk() {
    interrupted_with("-TERM");
}

/// README's first command, shortened: `skein demo` and a `skein run` without a host both
/// start the reference server in-process and pass the light scenario's SLAs against it.
#[test]
fn demo_and_run_without_a_host_use_the_embedded_reference_server() {
    let dir = tempfile::tempdir().unwrap();
    for (args, name) in [
        (&["demo", "-t", "4s"][..], "demo"),
        (&["run", "-t", "4s"][..], "light"),
    ] {
        let out = dir.path().join(name);
        let mut all = args.to_vec();
        all.extend(["--out", out.to_str().unwrap()]);
        let o = run(&all);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("running against the embedded reference server"),
            "{}",
            stderr(&o)
        );
        let r = results(&out);
        assert_eq!(r.metadata.scenario_name, name);
        assert!(r.overall().requests > 0, "{args:?} sent no requests");
        assert!(out.join("report.html").exists());
    }
}
