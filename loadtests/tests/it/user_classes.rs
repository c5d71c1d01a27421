//! The user classes send what they should, in the proportions they should.
use crate::support::*;

#[test]
fn training_api_user_follows_its_40_30_20_10_weights() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(
        dir.path(),
        "weights",
        r#"
users = 20
spawn_rate = 20
run_time = "8s"
[[user_classes]]
class = "TrainingAPIUser"
weight = 1
think_time = ["0s", "5ms"]
# The weights are the point here, not latency: a machine busy with other tests must not
# fail this test through the default p95 limit.
[sla]
p95_ms = 60000
"#,
    );
    let out = dir.path().join("out");
    let o = run_file(&scenario, &server.url, &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = results(&out);
    let total = r.overall().requests as f64;
    // Enough picks to judge shares to ±3 % (each user's picks follow the weights within one
    // pick per name: smooth weighted round-robin). How many the machine manages in 8 s is not
    // this test's business: a loaded machine made ~1,600 where an idle one makes ~4,000.
    assert!(total >= 400.0, "only {total} requests");
    for (name, expected) in [
        ("training.get_status", 40.0),
        ("training.start_grpo", 30.0),
        ("training.export_trajectories", 20.0),
        ("training.cancel", 10.0),
    ] {
        let n = r
            .requests
            .iter()
            .find(|s| s.name == name)
            .map_or(0, |s| s.requests) as f64;
        let share = 100.0 * n / total;
        assert!(
            (share - expected).abs() <= 3.0,
            "{name}: {share:.1} % of {total}, expected {expected} ± 3"
        );
    }
    assert_eq!(r.overall().failures, 0, "{:?}", r.failures);
}

#[test]
fn all_four_user_classes_run_without_failures() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(
        dir.path(),
        "all",
        r#"
users = 4
spawn_rate = 4
run_time = "6s"
[[user_classes]]
class = "TrainingAPIUser"
weight = 1
think_time = ["10ms", "50ms"]
[[user_classes]]
class = "BurstTrainingUser"
weight = 1
[[user_classes]]
class = "OrchestrationUser"
weight = 1
think_time = ["10ms", "50ms"]
[[user_classes]]
class = "HighThroughputUser"
weight = 1
think_time = ["200ms", "400ms"]
[sla]
p95_ms = 60000
"#,
    );
    let out = dir.path().join("out");
    let o = run_file(&scenario, &server.url, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = results(&out);
    for name in [
        "training.get_status",
        "training.start_grpo",
        "training.export_trajectories",
        "training.cancel",
        "create_workflow",
        "execute_workflow",
        "get_workflow_status",
        "publish_event_batch",
    ] {
        let n = r
            .requests
            .iter()
            .find(|s| s.name == name)
            .map_or(0, |s| s.requests);
        assert!(
            n > 0,
            "no {name} requests: {:?}",
            r.requests
                .iter()
                .map(|s| (&s.name, s.requests))
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(r.overall().failures, 0, "{:?}", r.failures);
    // Content is the answer's body, counted for every request and the same in the series.
    for s in &r.requests {
        assert!(
            s.content_bytes >= s.requests * 2,
            "{}: {} bytes for {} answers",
            s.name,
            s.content_bytes,
            s.requests
        );
    }
    let series_bytes: u64 = r.series.iter().map(|s| s.content_bytes).sum();
    assert_eq!(series_bytes, r.overall().content_bytes);
    let events = r
        .requests
        .iter()
        .find(|s| s.name == "publish_event_batch")
        .unwrap();
    assert_eq!(events.method, "POST");
    // Full-response timing: every request has a latency, every second of the run a sample.
    assert_eq!(r.overall().latency.count(), r.overall().requests);
    assert!(
        r.series.len() >= 6,
        "{} seconds in the series",
        r.series.len()
    );
    assert!(r.resources.cpu_seconds > 0.0 && r.resources.peak_rss_bytes > 0);
    for file in [
        "skein_stats.csv",
        "skein_stats_history.csv",
        "skein_failures.csv",
        "report.html",
        "summary.md",
        "junit.xml",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
}
