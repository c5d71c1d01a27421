//! Retention: with tiny caps the trajectory table stops growing at its cap while the trainers
//! keep writing and the server keeps serving; exports say how much of a job was evicted; the
//! event table is trimmed to its cap, newest kept; workflows and finished executions are
//! trimmed but running ones kept; finished jobs go longest-finished first with their
//! trajectories, while queued and running jobs stay.
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

const MAX_TRAJECTORIES: f64 = 200.0;
const PER_JOB: i64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trajectories_stop_growing_at_the_cap_and_exports_count_what_is_kept() {
    let server = server_with(|c| {
        c.max_trajectories = MAX_TRAJECTORIES as u64;
        c.max_trajectories_per_job = PER_JOB as u64;
        c.eviction_batch = 25;
        c.max_events = 1_000;
        c.retention_interval_ms = 20;
    })
    .await;
    // 8 jobs × 2 trajectories per tick: 16 rows every 10 ms, far past both caps in a second.
    let mut jobs = Vec::new();
    for _ in 0..8 {
        let started = rpc_ok(&server, "training.start_grpo", start_params(5_000)).await;
        jobs.push(started["job_id"].as_str().unwrap().to_string());
    }
    let rows = "target_server_store_rows{table=\"trajectories\"}";
    let evicted = "target_server_evictions_total{table=\"trajectories\"}";
    let written = "target_server_trajectories_written_total";
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(Instant::now() < deadline, "the cap was never reached");
        let text = metrics_text(&server).await;
        if metric(&text, written) > 3.0 * MAX_TRAJECTORIES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // From here on, writes go on but the table stays within its cap.
    let first = metrics_text(&server).await;
    let mut last = first.clone();
    for _ in 0..20 {
        let text = metrics_text(&server).await;
        let kept = metric(&text, rows);
        assert!(kept <= MAX_TRAJECTORIES, "{kept} rows over the cap");
        assert!(kept > 0.0, "eviction must not empty the table");
        let status = rpc_ok(&server, "training.get_status", json!({ "job_id": jobs[0] })).await;
        assert_eq!(status["status"], "running");
        last = text;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(
        metric(&last, written) > metric(&first, written),
        "the trainers kept writing"
    );
    assert!(metric(&last, evicted) >= metric(&last, written) - MAX_TRAJECTORIES);
    // The in-memory row count is what the table holds.
    let kept_rows = metric(&last, rows);
    assert!(kept_rows > 0.0 && kept_rows <= MAX_TRAJECTORIES);

    // A cancelled job no longer writes: its export's counts add up to what it wrote.
    rpc_ok(&server, "training.cancel", json!({ "job_id": jobs[1] })).await;
    let status = rpc_ok(&server, "training.get_status", json!({ "job_id": jobs[1] })).await;
    let generated = status["metrics"]["trajectories_generated"]
        .as_i64()
        .unwrap();
    assert!(generated > PER_JOB, "{status}");
    let export = rpc_ok(
        &server,
        "training.export_trajectories",
        json!({ "job_id": jobs[1], "limit": 10_000 }),
    )
    .await;
    let kept = export["total_count"].as_i64().unwrap();
    assert!(kept <= PER_JOB, "{kept} kept over the per-job cap");
    assert_eq!(export["returned_count"].as_i64().unwrap(), kept);
    assert_eq!(
        export["trajectories"].as_array().unwrap().len() as i64,
        kept
    );
    assert_eq!(export["has_more"], false);
    assert_eq!(
        kept + export["evicted_count"].as_i64().unwrap(),
        generated,
        "{export}"
    );

    // With every job stopped, the gauge (counted in memory) equals the rows exports find.
    for job in &jobs {
        rpc(&server, "training.cancel", json!({ "job_id": job })).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut exported = 0;
    for job in &jobs {
        let export = rpc_ok(
            &server,
            "training.export_trajectories",
            json!({ "job_id": job, "limit": 10_000 }),
        )
        .await;
        exported += export["total_count"].as_i64().unwrap();
    }
    let text = metrics_text(&server).await;
    assert_eq!(metric(&text, rows), exported as f64);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_trimmed_to_their_cap() {
    let server = server_with(|c| {
        c.max_events = 1_000;
        c.eviction_batch = 100;
        c.retention_interval_ms = 20;
    })
    .await;
    for batch in 0..5 {
        let events: Vec<Value> = (0..500)
            .map(|i| json!({ "event_id": format!("b{batch}-{i}"), "event_type": "agent.step", "timestamp": 1_795_424_400 }))
            .collect();
        let r = client()
            .post(format!("{}/api/v1/events/batch", server.base_url()))
            .json(&json!({ "events": events }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let rows = "target_server_store_rows{table=\"events\"}";
    let text = trimmed_to(&server, rows, 1_000.0).await;
    assert_eq!(metric(&text, rows), 1_000.0);
    assert_eq!(
        metric(&text, "target_server_evictions_total{table=\"events\"}"),
        1_500.0
    );
    assert_eq!(
        metric(&text, "target_server_events_accepted_total"),
        2_500.0
    );
    server.shutdown().await.unwrap();
}

/// A fast server (see [`server_with`]) whose retention passes run every 10 ms and delete at
/// most `batch` rows per transaction, adjusted by `adjust`.
async fn retaining_server(
    batch: u64,
    adjust: impl FnOnce(&mut target_server::ServerConfig),
) -> target_server::RunningServer {
    server_with(|c| {
        c.eviction_batch = batch;
        c.retention_interval_ms = 10;
        adjust(c);
    })
    .await
}

/// Waits (up to 10 s) until the gauge `rows` is at most `cap`; returns that scrape.
async fn trimmed_to(server: &target_server::RunningServer, rows: &str, cap: f64) -> String {
    until_metric(server, rows, |v| v <= cap).await
}

/// Waits (up to 10 s) until `series` satisfies `ok`; returns that scrape.
async fn until_metric(
    server: &target_server::RunningServer,
    series: &str,
    ok: impl Fn(f64) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = metrics_text(server).await;
        if ok(metric(&text, series)) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{series} never reached the awaited value: {text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A workflow of `tasks` serial tasks: it runs for `tasks × workflow_task_ms`.
fn serial_workflow(id: &str, tasks: usize) -> Value {
    let tasks: Vec<Value> = (0..tasks)
        .map(|i| json!({ "task_id": format!("t{i}"), "depends_on": [] }))
        .collect();
    json!({ "workflow_id": id, "name": id, "orchestration_pattern": "supervisor", "tasks": tasks })
}

/// Creates workflow `id` of `tasks` serial tasks.
async fn create_workflow(server: &target_server::RunningServer, id: &str, tasks: usize) {
    let r = client()
        .post(format!("{}/api/v1/workflows", server.base_url()))
        .json(&serial_workflow(id, tasks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "creating {id}");
}

/// Starts an execution of workflow `id`; returns its execution id.
async fn execute_workflow(server: &target_server::RunningServer, id: &str) -> String {
    let r = client()
        .post(format!(
            "{}/api/v1/workflows/{id}/execute",
            server.base_url()
        ))
        .json(&json!({ "input_data": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let started: Value = r.json().await.unwrap();
    started["execution_id"].as_str().unwrap().to_string()
}

/// `GET /api/v1/{path}`.
async fn get(server: &target_server::RunningServer, path: String) -> reqwest::Response {
    let url = format!("{}/api/v1/{path}", server.base_url());
    client().get(url).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_are_trimmed_to_their_cap_but_never_while_an_execution_runs() {
    const CAP: f64 = 20.0;
    const BATCH: f64 = 5.0;
    let server = retaining_server(BATCH as u64, |c| {
        c.max_workflows = CAP as u64;
        c.workflow_task_ms = 200;
    })
    .await;
    let status = |id: &str| get(&server, format!("workflows/{id}/status"));
    // The oldest workflow runs for 30 s (150 tasks × 200 ms): it must outlive the trimming.
    create_workflow(&server, "busy", 150).await;
    execute_workflow(&server, "busy").await;
    // The next one has finished its one execution before the flood: it goes with it.
    create_workflow(&server, "done", 1).await;
    execute_workflow(&server, "done").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let rows = "target_server_store_rows{table=\"workflows\"}";
    for wave in 0..20 {
        for i in 0..BATCH as usize {
            create_workflow(&server, &format!("wf-{wave}-{i}"), 3).await;
        }
        // Ten passes' time: the cap holds between waves even on a loaded machine.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let kept = metric(&metrics_text(&server).await, rows);
        assert!(kept <= CAP + BATCH, "{kept} workflows after wave {wave}");
    }
    let text = trimmed_to(&server, rows, CAP).await;
    assert_eq!(metric(&text, rows), CAP);
    // 102 created, 20 kept.
    assert_eq!(
        metric(&text, "target_server_evictions_total{table=\"workflows\"}"),
        82.0
    );
    // The finished execution went with its workflow; the running one stays.
    assert_eq!(
        metric(&text, "target_server_evictions_total{table=\"executions\"}"),
        1.0
    );
    assert_eq!(
        metric(&text, "target_server_store_rows{table=\"executions\"}"),
        1.0
    );

    let busy = status("busy").await;
    assert_eq!(busy.status(), 200, "the running workflow was evicted");
    let busy: Value = busy.json().await.unwrap();
    assert_eq!(busy["status"], "active", "{busy}");
    assert_eq!(status("done").await.status(), 404);
    assert_eq!(status("wf-0-0").await.status(), 404);
    assert_eq!(status("wf-19-4").await.status(), 200, "the newest is kept");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_executions_are_trimmed_to_their_cap_but_never_a_running_one() {
    const CAP: f64 = 10.0;
    let server = retaining_server(3, |c| {
        c.max_executions = CAP as u64;
        c.workflow_task_ms = 10;
    })
    .await;
    create_workflow(&server, "long", 1_500).await;
    create_workflow(&server, "short", 1).await;
    // Runs for 15 s (1,500 tasks × 10 ms): older than every other execution, and running.
    let running = execute_workflow(&server, "long").await;
    let mut finished = Vec::new();
    for _ in 0..30 {
        finished.push(execute_workflow(&server, "short").await);
    }
    let rows = "target_server_store_rows{table=\"executions\"}";
    // The cap counts every execution; the running one is kept, 9 finished ones with it.
    let text = trimmed_to(&server, rows, CAP).await;
    assert_eq!(
        metric(&text, "target_server_evictions_total{table=\"executions\"}"),
        21.0
    );
    // Later passes find nothing more to evict.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let text = metrics_text(&server).await;
    assert_eq!(metric(&text, rows), CAP);
    assert_eq!(
        metric(&text, "target_server_evictions_total{table=\"workflows\"}"),
        0.0
    );

    let long = get(&server, format!("executions/{running}")).await;
    assert_eq!(long.status(), 200, "the running execution was evicted");
    let long: Value = long.json().await.unwrap();
    assert_eq!(long["status"], "running", "{long}");
    for evicted in &finished[..21] {
        let evicted = get(&server, format!("executions/{evicted}")).await;
        assert_eq!(evicted.status(), 404);
    }
    for kept in &finished[21..] {
        assert_eq!(
            get(&server, format!("executions/{kept}")).await.status(),
            200
        );
    }
    let short: Value = get(&server, "workflows/short/status".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        short["executions"]["completed"], 9,
        "counts what is kept: {short}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_go_longest_finished_first_with_their_trajectories_never_queued_or_running() {
    const CAP: usize = 5;
    let server = retaining_server(10, |c| {
        c.max_finished_jobs = CAP as u64;
        // One trainer slot: the first job runs, every later one waits in the queue.
        c.max_running_jobs = 1;
    })
    .await;
    let start = || async { rpc_ok(&server, "training.start_grpo", start_params(5_000)).await };
    let id = |started: Value| started["job_id"].as_str().unwrap().to_string();
    let running = id(start().await);
    wait_for_status(&server, &running, |s| s["status"] == "running").await;
    let queued = id(start().await);
    // Jobs cancelled while queued finish in the order of the cancels.
    let mut cancelled = Vec::new();
    for _ in 0..12 {
        let job = id(start().await);
        rpc_ok(&server, "training.cancel", json!({ "job_id": job })).await;
        cancelled.push(job);
    }
    let evicted = "target_server_evictions_total{table=\"jobs\"}";
    until_metric(&server, evicted, |v| v >= 7.0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let text = metrics_text(&server).await;
    assert_eq!(metric(&text, evicted), 7.0, "only the excess goes");
    assert_eq!(
        metric(&text, "target_server_store_rows{table=\"jobs\"}"),
        (CAP + 2) as f64
    );
    assert_eq!(metric(&text, "target_server_jobs{state=\"queued\"}"), 1.0);
    assert_eq!(metric(&text, "target_server_jobs{state=\"running\"}"), 1.0);
    for job in &cancelled[..7] {
        for method in [
            "training.get_status",
            "training.export_trajectories",
            "training.cancel",
        ] {
            let answer = rpc(&server, method, json!({ "job_id": job })).await;
            assert_eq!(answer["error"]["code"], -32001, "{method}: {answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("kept until 5 newer jobs have finished"),
                "{message}"
            );
        }
    }
    for job in &cancelled[7..] {
        let status = rpc_ok(&server, "training.get_status", json!({ "job_id": job })).await;
        assert_eq!(status["status"], "cancelled");
    }
    let status = rpc_ok(&server, "training.get_status", json!({ "job_id": queued })).await;
    assert_eq!(status["status"], "queued");

    // The running job writes 2 trajectories per tick; once it has many batches' worth, it
    // ends, and five later endings make it the oldest beyond the cap.
    let status = wait_for_status(&server, &running, |s| {
        s["metrics"]["trajectories_generated"].as_i64().unwrap() >= 60
    })
    .await;
    assert_eq!(status["status"], "running");
    rpc_ok(&server, "training.cancel", json!({ "job_id": running })).await;
    let written = rpc_ok(&server, "training.get_status", json!({ "job_id": running })).await
        ["metrics"]["trajectories_generated"]
        .as_f64()
        .unwrap();
    rpc_ok(&server, "training.cancel", json!({ "job_id": queued })).await;
    for _ in 0..4 {
        let job = id(start().await);
        rpc_ok(&server, "training.cancel", json!({ "job_id": job })).await;
    }
    // 7 + the 5 kept before + the running job: 13; its trajectories went with it, in
    // batches of at most 10 rows. The queued job got the trainer slot before its cancel, so
    // it wrote some too: it is among the 5 kept, and so are they.
    let text = until_metric(&server, evicted, |v| v >= 13.0).await;
    assert_eq!(metric(&text, evicted), 13.0);
    let evicted_trajectories = "target_server_evictions_total{table=\"trajectories\"}";
    let text = until_metric(&server, evicted_trajectories, |v| v >= written).await;
    assert_eq!(metric(&text, evicted_trajectories), written);
    assert_eq!(
        metric(&text, "target_server_store_rows{table=\"trajectories\"}"),
        metric(&text, "target_server_trajectories_written_total") - written
    );
    assert_eq!(
        metric(&text, "target_server_store_rows{table=\"jobs\"}"),
        CAP as f64
    );
    let answer = rpc(&server, "training.get_status", json!({ "job_id": running })).await;
    assert_eq!(answer["error"]["code"], -32001, "{answer}");
    server.shutdown().await.unwrap();
}
