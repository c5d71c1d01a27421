//! The noise-aware gate on real runs: two runs against the same reference server pass
//! `skein compare`; a run against the server with 30 ms more injected latency per call
//! (about +25 % at p95) fails it, and `--html` writes the side-by-side page.
//!
//! The three runs go at the same time, each against its own server: a machine busy with other
//! tests then slows all three alike. Run one after another, a burst of load during one run
//! (a build starting) made a rerun's p95 12 % worse than its baseline's and widened the
//! slower run's p95 noise past its +25 %: the gate was right about the runs, and the test was
//! wrong to compare runs made under different conditions.
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

/// Runs of [`STEADY`], at the same time, each against its own reference server answering
/// every call in its `latency` (`BASE_MS+SPREAD_MS`, uniform); returns their results
/// directories, in order.
fn runs_against(dir: &Path, runs: &[(&str, &str)]) -> Vec<PathBuf> {
    let scenario = scenario_file(dir, "steady", STEADY);
    let started: Vec<_> = runs
        .iter()
        .map(|(latency, name)| {
            let server = Server::start(|c| c.latency_overrides = vec![latency.parse().unwrap()]);
            let out = dir.join(name);
            let child = skein()
                .args(["run", "--scenario"])
                .arg(&scenario)
                .args(["--host", &server.url, "--out"])
                .arg(&out)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (server, out, child)
        })
        .collect();
    started
        .into_iter()
        .map(|(_server, out, child)| {
            let o = child.wait_with_output().unwrap();
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            out
        })
        .collect()
}

#[test]
fn a_rerun_passes_and_injected_latency_fails_the_gate_with_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let runs = runs_against(
        dir.path(),
        &[
            ("*=100+20", "baseline"),
            ("*=100+20", "rerun"),
            ("*=130+20", "slower"),
        ],
    );
    let (baseline, rerun, slower) = (&runs[0], &runs[1], &runs[2]);
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
    let same = compare(rerun, &[]);
    let text = String::from_utf8_lossy(&same.stdout).to_string();
    assert_eq!(same.status.code(), Some(0), "{text}");
    assert!(text.contains("Noise: baseline"), "{text}");

    let page = dir.path().join("compare.html");
    let worse = compare(slower, &["--html", page.to_str().unwrap()]);
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
