//! The noise-aware gate on real runs: two runs against the same reference server pass
//! `skein compare`; a run against the server with 30 ms more injected latency per call
//! (about +25 % at p95) fails it, and `--html` writes the side-by-side page. The server's
//! latency (100–120 ms) dwarfs what a machine busy with other tests adds to a request, so
//! the rerun stays within the default 10 % thresholds.
use std::path::{Path, PathBuf};

use crate::support::*;

const STEADY: &str = r#"
users = 5
spawn_rate = 5
run_time = "10s"
[[user_classes]]
class = "BurstTrainingUser"
weight = 1
think_time = ["10ms", "30ms"]
"#;

/// A run of [`STEADY`] against a reference server answering every call in `latency`
/// (`BASE_MS+SPREAD_MS`, uniform); returns its results directory.
fn run_against(dir: &Path, latency: &str, name: &str) -> PathBuf {
    let server = Server::start(|c| c.latency_overrides = vec![latency.parse().unwrap()]);
    let scenario = scenario_file(dir, "steady", STEADY);
    let out = dir.join(name);
    let o = run_scenario(&scenario, &server.url, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    out
}

#[test]
fn a_rerun_passes_and_injected_latency_fails_the_gate_with_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = run_against(dir.path(), "*=100+20", "baseline");
    let rerun = run_against(dir.path(), "*=100+20", "rerun");
    let slower = run_against(dir.path(), "*=130+20", "slower");
    let compare = |current: &Path, extra: &[&str]| {
        let mut args = vec![
            "compare",
            "--baseline",
            baseline.to_str().unwrap(),
            current.to_str().unwrap(),
        ];
        args.extend(extra);
        run(&args)
    };
    let same = compare(&rerun, &[]);
    let text = String::from_utf8_lossy(&same.stdout).to_string();
    assert_eq!(same.status.code(), Some(0), "{text}");
    assert!(text.contains("Noise: baseline"), "{text}");

    let page = dir.path().join("compare.html");
    let worse = compare(&slower, &["--html", page.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&worse.stdout).to_string();
    assert_eq!(worse.status.code(), Some(1), "{text}");
    let p95 = text
        .lines()
        .find(|l| l.starts_with("Aggregated") && l.contains(" p95 "))
        .unwrap();
    assert!(p95.contains("REGRESSION"), "{text}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("regression(s) over the thresholds") && html.contains("<svg"));
    assert!(!html.contains("<script"));
}
