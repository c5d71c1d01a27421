//! Manager and workers as real processes on loopback: refusals, timeouts, signals, losses.
use std::time::{Duration, Instant};

use serde_json::json;
use skein::distributed::protocol::PROTOCOL_VERSION;

use crate::distributed_support::*;
use crate::support::*;

fn post(
    url: &str,
    token: Option<&str>,
    protocol: Option<&str>,
    body: serde_json::Value,
) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut r = reqwest::Client::new().post(url).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(p) = protocol {
            r = r.header("x-skein-protocol", p);
        }
        let response = r.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

#[test]
fn missing_token_other_protocol_and_other_scenario_are_refused_with_the_cause() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 5);
    let (_m, url) = manager(&[
        "--scenario",
        path.to_str().unwrap(),
        "--expect-workers",
        "5",
        "--host",
        &server.url,
        "--wait-timeout",
        "30s",
    ]);
    let register = json!({ "worker_id": "x", "scenario_hash": null });
    let (status, body) = post(
        &format!("{url}/v1/register"),
        None,
        Some(&PROTOCOL_VERSION.to_string()),
        register.clone(),
    );
    assert_eq!(status, 401);
    assert!(body.contains("token"), "{body}");
    let (status, _) = post(
        &format!("{url}/v1/register"),
        Some("wrong"),
        Some(&PROTOCOL_VERSION.to_string()),
        register.clone(),
    );
    assert_eq!(status, 401);
    let (status, body) = post(
        &format!("{url}/v1/register"),
        Some(TOKEN),
        Some("99"),
        register.clone(),
    );
    assert_eq!(status, 400);
    assert!(body.contains("protocol version mismatch"), "{body}");
    let (status, body) = post(
        &format!("{url}/v1/register"),
        Some(TOKEN),
        Some(&PROTOCOL_VERSION.to_string()),
        json!({ "worker_id": "x", "scenario_hash": "feedface" }),
    );
    assert_eq!(status, 409);
    assert!(body.contains("scenario mismatch"), "{body}");

    // A real worker pinned to another scenario is refused and exits 2 naming the cause.
    let mut w = worker(&url, "pinned", &["--scenario", "light"]);
    assert_eq!(w.exit_code(Duration::from_secs(20)), Some(2));
    assert!(w.text().contains("scenario mismatch"), "{}", w.text());
    // A worker with the wrong token is refused too.
    let mut c = skein();
    c.args([
        "worker",
        "--manager",
        &url,
        "--token",
        "nope",
        "--id",
        "bad",
    ]);
    let mut bad = crate::distributed_support::Proc::spawn(c);
    assert_eq!(bad.exit_code(Duration::from_secs(20)), Some(2));
    assert!(bad.text().contains("token"), "{}", bad.text());
}

#[test]
fn too_few_workers_before_the_timeout_exits_3() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 5);
    let (mut m, url) = manager(&[
        "--scenario",
        path.to_str().unwrap(),
        "--expect-workers",
        "2",
        "--host",
        &server.url,
        "--wait-timeout",
        "3s",
    ]);
    let _w = worker(&url, "only-one", &[]);
    assert_eq!(m.exit_code(Duration::from_secs(20)), Some(3));
    assert!(
        m.text()
            .contains("only 1 of 2 workers registered within 3s"),
        "{}",
        m.text()
    );
}

#[test]
fn sigterm_to_a_worker_delivers_its_final_report() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 30);
    let out = dir.path().join("out");
    let (mut m, url) = manager_for(&path, 1, &server.url, &out);
    let mut w = worker(&url, "w1", &[]);
    m.wait_for("users     6", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    w.signal("-TERM");
    assert_eq!(
        w.exit_code(Duration::from_secs(15)),
        Some(130),
        "{}",
        w.text()
    );
    assert!(!w.text().contains("did not acknowledge"), "{}", w.text());
    // The manager has the final report, so the worker left rather than was lost; with no
    // worker left the run ends, complete, with the SLA verdict.
    assert_eq!(
        m.exit_code(Duration::from_secs(20)),
        Some(0),
        "{}",
        m.text()
    );
    assert!(
        m.text().contains("worker w1 left with its final report"),
        "{}",
        m.text()
    );
    let r = results(&out);
    assert!(r.overall().requests > 0);
    assert_eq!(r.workers.len(), 1);
    assert!(r.workers[0].lost_at.is_none());
    assert!(!r.metadata.partial);
}

#[test]
fn when_the_manager_dies_workers_stop_within_10_s_with_partial_results() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 60);
    let (mut m, url) = manager(&[
        "--scenario",
        path.to_str().unwrap(),
        "--expect-workers",
        "1",
        "--host",
        &server.url,
    ]);
    let local = dir.path().join("worker-out");
    let mut w = worker(&url, "orphan", &["--out", local.to_str().unwrap()]);
    m.wait_for("users     6", Duration::from_secs(20));
    m.child.kill().unwrap(); // SIGKILL: no goodbye.
    let _ = m.child.wait();
    let killed = Instant::now();
    assert_eq!(
        w.exit_code(Duration::from_secs(20)),
        Some(3),
        "{}",
        w.text()
    );
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "worker took {:?}",
        killed.elapsed()
    );
    let r = results(&local);
    assert!(r.metadata.partial);
    assert!(r.overall().requests > 0);
    // `skein report` can merge such local results afterwards.
    let merged = dir.path().join("merged");
    let o = run(&[
        "report",
        local.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    let verdict = if results(&merged).passed() { 0 } else { 1 };
    assert_eq!(o.status.code(), Some(verdict), "{}", stderr(&o));
    assert_eq!(results(&merged).overall().requests, r.overall().requests);
}

#[test]
fn losing_the_last_worker_ends_the_run_with_exit_3_and_partial_results() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 60);
    let out = dir.path().join("out");
    let (mut m, url) = manager_for(&path, 1, &server.url, &out);
    let mut w = worker(&url, "doomed", &[]);
    m.wait_for("users     6", Duration::from_secs(20));
    w.child.kill().unwrap();
    assert_eq!(
        m.exit_code(Duration::from_secs(20)),
        Some(3),
        "{}",
        m.text()
    );
    assert!(m.text().contains("worker doomed lost"), "{}", m.text());
    let r = results(&out);
    assert!(r.metadata.partial);
    assert!(r.workers[0].lost_at.is_some());
    assert!(r.overall().requests > 0);
}

#[test]
fn a_worker_that_stalls_and_resumes_is_counted_once() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 14);
    let out = dir.path().join("out");
    let (mut m, url) = manager_for(&path, 2, &server.url, &out);
    let w1 = worker(&url, "steady", &[]);
    let w2 = worker(&url, "staller", &[]);
    m.wait_for("users     6", Duration::from_secs(20));
    w2.signal("-STOP");
    m.wait_for("worker staller lost", Duration::from_secs(10));
    w2.signal("-CONT");
    m.wait_for("worker staller is back", Duration::from_secs(10));
    assert_eq!(
        m.exit_code(Duration::from_secs(40)),
        Some(0),
        "{}",
        m.text()
    );
    let r = results(&out);
    let per_worker: u64 = r.workers.iter().map(|w| w.requests).sum();
    assert_eq!(
        r.overall().requests,
        per_worker,
        "merged total is the sum of each worker's latest"
    );
    assert_eq!(r.workers.len(), 2);
    assert!(
        r.workers.iter().all(|w| w.lost_at.is_none()),
        "it came back: {:?}",
        r.workers
    );
    drop((w1, w2));
}

#[test]
fn sigint_on_the_manager_collects_final_reports_and_exits_130() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 60);
    let out = dir.path().join("out");
    let (mut m, url) = manager_for(&path, 2, &server.url, &out);
    let mut w1 = worker(&url, "a", &[]);
    let mut w2 = worker(&url, "b", &[]);
    m.wait_for("users     6", Duration::from_secs(20));
    m.signal("-INT");
    assert_eq!(
        m.exit_code(Duration::from_secs(20)),
        Some(130),
        "{}",
        m.text()
    );
    assert_eq!(
        w1.exit_code(Duration::from_secs(10)),
        Some(0),
        "{}",
        w1.text()
    );
    assert_eq!(
        w2.exit_code(Duration::from_secs(10)),
        Some(0),
        "{}",
        w2.text()
    );
    let r = results(&out);
    assert!(r.metadata.interrupted && !r.metadata.partial);
    assert_eq!(r.workers.len(), 2);
    assert_eq!(
        r.overall().requests,
        r.workers.iter().map(|w| w.requests).sum::<u64>()
    );
}

#[test]
fn a_worker_joining_mid_run_gets_a_share() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 14);
    let out = dir.path().join("out");
    let (mut m, url) = manager_for(&path, 1, &server.url, &out);
    let first = worker(&url, "first", &[]);
    m.wait_for("users     6", Duration::from_secs(20));
    let late = worker(&url, "late", &[]);
    m.wait_for("worker late registered (2 active)", Duration::from_secs(10));
    first.wait_for("new share from the manager", Duration::from_secs(10));
    assert_eq!(
        m.exit_code(Duration::from_secs(40)),
        Some(0),
        "{}",
        m.text()
    );
    let r = results(&out);
    assert_eq!(r.workers.len(), 2);
    let late_requests = r
        .workers
        .iter()
        .find(|w| w.worker_id == "late")
        .unwrap()
        .requests;
    assert!(
        late_requests > 0,
        "the late worker ran users: {:?}",
        r.workers
    );
    assert_eq!(
        r.overall().requests,
        r.workers.iter().map(|w| w.requests).sum::<u64>()
    );
    drop((first, late));
}

#[test]
fn workers_share_users_class_by_class_like_a_standalone_run() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    // Two users of a 1:1 mix: a standalone run starts one of each class. Were each worker to
    // apply the weights to its own single user, both would run the same class.
    let path = scenario_file(
        dir.path(),
        "mix",
        "users = 2\nspawn_rate = 2\nrun_time = \"5s\"\n\
         [[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\nthink_time = [\"20ms\", \"50ms\"]\n\
         [[user_classes]]\nclass = \"HighThroughputUser\"\nweight = 1\nthink_time = [\"200ms\", \"400ms\"]\n\
         [sla]\np95_ms = 5000\n",
    );
    let out = dir.path().join("out");
    let (mut m, url) = manager_for(&path, 2, &server.url, &out);
    let workers = [worker(&url, "a", &[]), worker(&url, "b", &[])];
    // Each worker is dealt one user, of a different class.
    let dealt: Vec<String> = workers
        .iter()
        .map(|w| w.wait_for("users dealt to this worker: ", Duration::from_secs(20)))
        .collect();
    let one_each = |class: &str| {
        dealt
            .iter()
            .filter(|t| t.contains(&format!("users dealt to this worker: {class} 1\n")))
            .count()
            == 1
    };
    assert!(
        one_each("BurstTrainingUser") && one_each("HighThroughputUser"),
        "{dealt:?}"
    );
    assert_eq!(
        m.exit_code(Duration::from_secs(40)),
        Some(0),
        "{}",
        m.text()
    );
    let r = results(&out);
    for name in ["training.get_status", "publish_event_batch"] {
        let n = r
            .requests
            .iter()
            .find(|s| s.name == name)
            .map_or(0, |s| s.requests);
        assert!(
            n > 0,
            "no {name}: {:?}",
            r.requests.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
    }
    assert!(
        r.workers.iter().all(|w| w.requests > 0),
        "each worker ran its user: {:?}",
        r.workers
    );
    drop(workers);
}
