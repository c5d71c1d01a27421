//! Exit codes: SLA failure 1, unreachable 3 (fast), interrupt 130 with results on disk.
use std::path::Path;
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
    assert_eq!(r.target_resources, None, "a remote target is not measured");
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
    let mut child = spawn_run(&scenario, &server.url, &out);
    std::thread::sleep(Duration::from_secs(3));
    let status = signal_and_wait(&mut child, signal, Duration::from_secs(20));
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

#[test]
fn the_embedded_server_runs_as_a_child_measured_apart_and_is_gone_after_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Outputs to files, not pipes: a leftover child holding a pipe would hang `output()`
    // instead of failing the test.
    let err_path = dir.path().join("stderr");
    let mut skein = skein()
        .args(["run", "-t", "3s", "--out", out.to_str().unwrap()])
        .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = skein.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = skein.kill();
            panic!("skein run -t 3s still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    let pid: u32 = err
        .split("embedded reference server at ")
        .nth(1)
        .and_then(|rest| rest.split("(pid ").nth(1))
        .and_then(|rest| rest.split(')').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no server pid in: {err}"));
    assert_ne!(pid, skein.id(), "the server runs in a process of its own");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the embedded server (pid {pid}) outlived the run"
    );

    let r = results(&out);
    let target = r.target_resources.clone().expect("target_resources");
    assert!(target.cpu_seconds > 0.0, "{target:?}");
    assert!(target.peak_rss_bytes > 0, "{target:?}");
    assert!(r.resources.cpu_seconds > 0.0 && r.resources.peak_rss_bytes > 0);
    let stdout = std::fs::read_to_string(dir.path().join("stdout")).unwrap();
    assert!(
        stdout.contains("Embedded target (a separate process):"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Embedded target peak RSS"));
}
