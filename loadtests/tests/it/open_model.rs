//! The open model end to end: arrivals on schedule, the class mix, dropped arrivals and their
//! SLA, `--rate`, and a distributed run whose workers split the rate.
use std::time::Duration;

use crate::distributed_support::*;
use crate::support::*;

fn count(r: &reports::RunResult, name: &str) -> u64 {
    r.requests
        .iter()
        .find(|s| s.name == name)
        .map_or(0, |s| s.requests)
}

#[test]
fn arrivals_come_on_schedule_in_the_class_mix() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "steady",
        "rate = 200\nrun_time = \"3s\"\n\
         [[user_classes]]\nclass = \"OrchestrationUser\"\nweight = 1\n\
         [[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 3\n\
         [sla]\np95_ms = 5000\n",
    );
    let out = dir.path().join("out");
    let o = run_file(&path, &server.url, &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = results(&out);
    assert_eq!(r.metadata.load_model, reports::LoadModel::Open);
    // Constant arrivals: exactly rate × duration, none dropped, each timed from its schedule.
    assert_eq!(r.overall().requests + r.dropped_arrivals, 600);
    assert_eq!(r.dropped_arrivals, 0);
    assert_eq!(r.overall().intended_samples.count(), 600);
    // Classes by weight (1:3): 150 OrchestrationUser arrivals, 450 BurstTrainingUser ones.
    assert_eq!(count(&r, "training.get_status"), 450);
    let orchestration: u64 = [
        "create_workflow",
        "execute_workflow",
        "get_workflow_status",
        "publish_event_batch",
    ]
    .iter()
    .map(|n| count(&r, n))
    .sum();
    assert_eq!(orchestration, 150);
    // Within the class, its request weights (3/2/5/1 of 11) hold to a request or two per
    // pooled user: users keep their own pick order between arrivals.
    let created = count(&r, "create_workflow") as f64;
    assert!((created - 150.0 * 3.0 / 11.0).abs() <= 6.0, "{created}");
    assert_eq!(r.stages[0].target_rate, Some(200.0));
    let capacity = std::fs::read_to_string(out.join("skein_capacity.csv")).unwrap();
    assert!(capacity.contains("200.000"), "{capacity}");
}

#[test]
fn arrivals_past_max_in_flight_are_dropped_counted_and_judged() {
    // 300 ms per answer and at most 3 in flight: about 10 answers a second, of 60 offered.
    let server = Server::start(|c| {
        c.no_latency = true;
        c.latency_overrides = vec!["*=300".parse().unwrap()];
    });
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "saturated",
        "rate = 60\nrun_time = \"3s\"\nmax_in_flight = 3\n\
         [[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\n\
         [sla]\np95_ms = 5000\ndropped_rate = 0.01\n",
    );
    let out = dir.path().join("out");
    let o = run_file(&path, &server.url, &out);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = results(&out);
    let sent = r.overall().requests;
    assert_eq!(
        sent + r.dropped_arrivals,
        180,
        "every arrival is sent or counted"
    );
    assert!((20..=45).contains(&sent), "{sent} sent");
    let per_second: u64 = r.series.iter().map(|s| s.dropped).sum();
    assert_eq!(per_second, r.dropped_arrivals);
    let verdict = r
        .slas
        .iter()
        .find(|v| v.threshold.metric == reports::SlaMetric::DroppedRate)
        .unwrap();
    assert!(!verdict.passed);
    assert!(stdout(&o).contains("Dropped arrivals"), "{}", stdout(&o));
    assert!(stdout(&o).contains("[FAIL] dropped_rate"), "{}", stdout(&o));
}

#[test]
fn rate_overrides_like_users_and_does_not_mix_with_them() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A closed scenario at --rate becomes open, its mix kept.
    let o = run(&[
        "run",
        "--scenario",
        "light",
        "--rate",
        "40",
        "-t",
        "2s",
        "--host",
        &server.url,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = results(&out);
    assert_eq!(r.metadata.load_model, reports::LoadModel::Open);
    // 40/s for 2 s, less half a second's worth of light's 4 s user ramp scaled by -t to 27 ms.
    let offered = r.overall().requests + r.dropped_arrivals;
    assert!((79..=80).contains(&offered), "{offered}");
    let o = run(&["run", "--scenario", "open-steady", "-u", "10"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("use --rate"), "{}", stderr(&o));
}

#[test]
fn workers_split_the_rate_and_the_manager_merges_both_latencies() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "open",
        "rate = 100\nrun_time = \"4s\"\n\
         [[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\n\
         [sla]\np95_ms = 5000\n",
    );
    let out = dir.path().join("out");
    let (mut m, url) = manager_for(&path, 2, &server.url, &out);
    let workers = [worker(&url, "a", &[]), worker(&url, "b", &[])];
    for w in &workers {
        w.wait_for("arrivals/s", Duration::from_secs(20));
    }
    assert_eq!(
        m.exit_code(Duration::from_secs(40)),
        Some(0),
        "{}",
        m.text()
    );
    let r = results(&out);
    assert_eq!(r.metadata.load_model, reports::LoadModel::Open);
    // 50/s on each worker for 4 s.
    assert_eq!(r.overall().requests + r.dropped_arrivals, 400);
    assert_eq!(r.workers.len(), 2);
    assert!(
        r.workers.iter().all(|w| w.requests == 200),
        "{:?}",
        r.workers
    );
    assert_eq!(r.overall().intended_samples.count(), r.overall().requests);
    drop(workers);
}

/// A worker anchors its schedule to the run's agreed start: arrivals that fell due while it
/// was still getting ready are sent at once, late (their intended-time latency counts it),
/// instead of silently missing from the run (a worker slow to start used to send 199 of 200).
#[test]
fn arrivals_due_before_the_executor_started_are_sent_late_not_lost() {
    let server = Server::fast();
    let scenario = skein::scenario::load("open-steady").unwrap();
    let recorder = run_open_late(&scenario, &server.url, 100.0, Duration::from_millis(300));
    let (names, _, _) = recorder.totals();
    let requests: u64 = names.iter().map(|n| n.requests).sum();
    assert_eq!(requests, 100, "every arrival of the schedule was sent");
    let mut intended = reports::LatencyHistogram::new();
    names.iter().for_each(|n| intended.add(&n.intended_samples));
    // The first 30 arrivals were due before the executor started: ≥ 0 to 300 ms late.
    assert!(
        intended.max() >= 250.0,
        "the earliest arrival's lateness is measured: {} ms",
        intended.max()
    );
    assert!(
        intended.value_at_quantile(0.5) < 100.0,
        "the rest is on time"
    );
}
