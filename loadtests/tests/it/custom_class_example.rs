//! The Rust example (`loadtests/examples/job_watcher.rs`): a class defined in Rust runs
//! through Skein's own command line and reports, against the reference server.
use std::path::PathBuf;
use std::process::Command;

use crate::support::{results, skein, stderr, Server};

/// The example program `cargo test` built beside the `skein` binary.
fn job_watcher() -> Command {
    let skein = PathBuf::from(env!("CARGO_BIN_EXE_skein"));
    let path = skein
        .parent()
        .expect("the binary's directory")
        .join("examples")
        .join(format!("job_watcher{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "the example was built: {}", path.display());
    let mut c = Command::new(path);
    c.env_remove("SKEIN_HOST").env_remove("SKEIN_TARGET_TOKEN");
    c
}

fn scenario() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/job_watcher.toml")
}

#[test]
fn a_rust_class_runs_through_the_cli_and_watches_jobs_to_their_end() {
    // Trainers tick every 250 ms: a 3-iteration job takes several polls to end.
    let server = Server::start(|c| c.trainer_tick_ms = 250);
    let dir = tempfile::tempdir().unwrap();
    let out = job_watcher()
        .args(["run", "--scenario"])
        .arg(scenario())
        .args([
            "--host",
            &server.url,
            "-u",
            "3",
            "-r",
            "10",
            "-t",
            "3s",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result = results(dir.path());
    let count = |name: &str| {
        result
            .requests
            .iter()
            .find(|r| r.name == name)
            .map_or(0, |r| r.requests)
    };
    // Each user starts a job, then polls it until it ends: several polls per start.
    let (starts, polls) = (count("training.start_grpo"), count("training.get_status"));
    assert!(starts >= 3, "every user started a job: {starts}");
    assert!(
        polls >= 2 * starts,
        "polls until each job ends: {polls} for {starts}"
    );
    assert_eq!(result.overall().failures, 0, "{:?}", result.failures);
    assert!(dir.path().join("report.html").exists());
}

#[test]
fn the_plain_binary_does_not_know_a_rust_class_and_says_so() {
    let out = skein()
        .args(["scenarios", "--check"])
        .arg(scenario())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("unknown user class `JobWatcherUser`") && err.contains("job_watcher.toml:"),
        "{err}"
    );
}
