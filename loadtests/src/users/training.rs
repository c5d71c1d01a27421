//! `TrainingAPIUser`: the training API as an ML engineer's tooling uses it.
//!
//! Weights: get_status 40, start_grpo 30, export_trajectories 20, cancel 10. Each user keeps
//! the jobs it started and works on them; before it has any, it queries a random id, where
//! "not found" is the right answer rather than a failure.
use std::sync::OnceLock;

use rand::Rng;

use super::behaviour::{ClassBehaviour, Request, Session};
use super::http::{job_query_body, rpc, rpc_body, rpc_counting, rpc_without_result};

/// Jobs one user started and has not cancelled (bounded: oldest dropped first).
#[derive(Clone, Default)]
pub struct StartedJobs(Vec<String>);

const MAX_REMEMBERED_JOBS: usize = 32;
const NOT_FOUND: i64 = -32001;
const CANNOT_CANCEL: i64 = -40003;

/// One of this user's jobs at random, or a random id (answered "not found").
fn pick_job(session: &mut Session) -> String {
    let known = &session.data::<StartedJobs>().0;
    if known.is_empty() {
        super::random_uuid().to_string()
    } else {
        known[rand::rng().random_range(0..known.len())].clone()
    }
}

/// The 100 training queries every start_grpo sends, serialized once per process.
fn training_data() -> &'static str {
    static DATA: OnceLock<String> = OnceLock::new();
    DATA.get_or_init(|| {
        let examples: Vec<serde_json::Value> = (0..100)
            .map(|i| {
                serde_json::json!({
                    "query": format!("Summarise incident report #{i} and propose a remediation plan"),
                    "expected_outcome": format!("A remediation plan for incident #{i} naming owner and deadline"),
                })
            })
            .collect();
        serde_json::to_string(&examples).expect("static data serializes")
    })
}

pub fn start_grpo_params() -> String {
    let mut rng = rand::rng();
    format!(
        r#"{{"agent_id":"load-test-agent-{}","config":{{"n_iterations":{},"batch_size":16,"n_trajectories_per_query":4,"learning_rate":0.00001,"max_budget_usd":100.0}},"training_data":{}}}"#,
        rng.random_range(1..=10),
        rng.random_range(10..=50),
        training_data()
    )
}

pub fn behaviour() -> ClassBehaviour {
    let get_status = Request::new("training.get_status", 40, |call, session| {
        Box::pin(async move {
            let job = pick_job(session);
            let body = job_query_body("training.get_status", &job);
            rpc_without_result(&call, "training.get_status", body, &[NOT_FOUND]).await;
        })
    });
    let start_grpo = Request::new("training.start_grpo", 30, |call, session| {
        Box::pin(async move {
            let body = rpc_body("training.start_grpo", &start_grpo_params());
            let Some(result) = rpc(&call, "training.start_grpo", body, &[]).await else {
                return;
            };
            if let Some(id) = result.get("job_id").and_then(|v| v.as_str()) {
                let known = &mut session.data::<StartedJobs>().0;
                if known.len() >= MAX_REMEMBERED_JOBS {
                    known.remove(0);
                }
                known.push(id.to_string());
            }
        })
    });
    let export = Request::new("training.export_trajectories", 20, |call, session| {
        Box::pin(async move {
            let job = pick_job(session);
            let params =
                format!(r#"{{"job_id":"{job}","success_only":true,"limit":50,"offset":0}}"#);
            let body = rpc_body("training.export_trajectories", &params);
            let returned = |result: &serde_json::Value| {
                result
                    .get("returned_count")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0)
            };
            let url = &call.ctx.jsonrpc_url;
            let name = "training.export_trajectories";
            rpc_counting(&call, url, name, body, &[NOT_FOUND], returned).await;
        })
    });
    let cancel = Request::new("training.cancel", 10, |call, session| {
        Box::pin(async move {
            let job = pick_job(session);
            let params = format!(
                r#"{{"job_id":"{job}","reason":"load test: cancelling to free a trainer"}}"#
            );
            let body = rpc_body("training.cancel", &params);
            // A job may have finished since it was started: "cannot cancel" is expected then.
            rpc_without_result(&call, "training.cancel", body, &[NOT_FOUND, CANNOT_CANCEL]).await;
            session.data::<StartedJobs>().0.retain(|j| j != &job);
        })
    });
    ClassBehaviour::new(
        "TrainingAPIUser",
        vec![get_status, start_grpo, export, cancel],
    )
}
