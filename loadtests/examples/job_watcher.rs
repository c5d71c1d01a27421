//! A user class written in Rust, run by Skein's own command line: everything `skein` does
//! (run, capacity, manager and worker, every report) works with it unchanged.
//!
//! `JobWatcherUser` does what a scenario file cannot say: it starts a short training job and
//! polls its status until the job ends, however many polls that takes.
//!
//! ```sh
//! cargo run --release -p skein --example job_watcher -- run --scenario loadtests/examples/job_watcher.toml
//! ```
use std::time::Duration;

use serde_json::{json, Value};
use skein::users::http::{rpc, rpc_body};
use skein::users::{ClassBehaviour, CustomClass, Request, ThinkTime, UserClass};

/// Polls a job gets at most, so a job that never ends does not hold a user forever.
const MAX_POLLS: usize = 40;
const POLL_EVERY: Duration = Duration::from_millis(250);

/// A job of a few iterations (the reference server runs one per trainer tick, 250 ms).
fn short_job() -> String {
    let data: Vec<Value> = (0..100)
        .map(|i| json!({"query": format!("question {i}"), "expected_outcome": format!("answer {i}")}))
        .collect();
    json!({
        "agent_id": "job-watcher",
        "config": {"n_iterations": 3, "batch_size": 4, "n_trajectories_per_query": 2,
                   "learning_rate": 0.0001, "max_budget_usd": 10.0},
        "training_data": data,
    })
    .to_string()
}

fn behaviour() -> ClassBehaviour {
    let watch = Request::new("watch_job", 1, |call, _session| {
        Box::pin(async move {
            let body = rpc_body("training.start_grpo", &short_job());
            let Some(started) = rpc(&call, "training.start_grpo", body, &[]).await else {
                return;
            };
            let Some(job) = started["job_id"].as_str() else {
                return;
            };
            for _ in 0..MAX_POLLS {
                tokio::time::sleep(POLL_EVERY).await;
                let params = json!({ "job_id": job }).to_string();
                let body = rpc_body("training.get_status", &params);
                let Some(status) = rpc(&call, "training.get_status", body, &[]).await else {
                    return;
                };
                if matches!(
                    status["status"].as_str(),
                    Some("completed" | "failed" | "cancelled")
                ) {
                    return;
                }
            }
        })
    });
    ClassBehaviour::new("JobWatcherUser", vec![watch])
}

fn main() -> std::process::ExitCode {
    UserClass::register(CustomClass {
        name: "JobWatcherUser",
        think_time: ThinkTime::ms(200, 500),
        behaviour,
    })
    .expect("JobWatcherUser is not a built-in class's name");
    skein::main()
}
