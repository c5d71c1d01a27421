//! `TrainingAPIUser`: the training API as an ML engineer's tooling uses it.
//!
//! Weights: get_status 40, start_grpo 30, export_trajectories 20, cancel 10, given to goose
//! reduced (4/3/2/1): goose does not reduce them itself (the weight-1 lifecycle transactions
//! make the divisor 1), and under `allocation = "serial"` it runs a user's transactions in
//! weighted blocks, so 40 would mean forty status calls before the first start. Each user keeps
//! the jobs it started and works on them; before it has any, it queries a random id, where
//! "not found" is the right answer rather than a failure.
use std::sync::{Arc, OnceLock};

use goose::goose::{GooseUser, Scenario};
use goose::GooseError;
use rand::Rng;

use super::http::{rpc, rpc_body};
use super::{transaction, UserContext};

/// Jobs one user started and has not cancelled (bounded: oldest dropped first).
#[derive(Clone, Default)]
pub struct StartedJobs(Vec<String>);

const MAX_REMEMBERED_JOBS: usize = 32;
const NOT_FOUND: i64 = -32001;
const CANNOT_CANCEL: i64 = -40003;

fn jobs(user: &mut GooseUser) -> &mut StartedJobs {
    if user.get_session_data::<StartedJobs>().is_none() {
        user.set_session_data(StartedJobs::default());
    }
    user.get_session_data_mut::<StartedJobs>()
        .expect("session data was just set")
}

/// One of this user's jobs at random, or a random id (answered "not found").
fn pick_job(user: &mut GooseUser) -> (String, bool) {
    let known = &jobs(user).0;
    if known.is_empty() {
        (uuid::Uuid::new_v4().to_string(), false)
    } else {
        let i = rand::rng().random_range(0..known.len());
        (known[i].clone(), true)
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

pub fn scenario(ctx: &Arc<UserContext>) -> Result<Scenario, GooseError> {
    let get_status = transaction(ctx, "training.get_status", |ctx, user| {
        Box::pin(async move {
            let (job, _) = pick_job(user);
            let body = rpc_body("training.get_status", &format!(r#"{{"job_id":"{job}"}}"#));
            rpc(&ctx, "training.get_status", body, &[NOT_FOUND]).await;
            Ok(())
        })
    })
    .set_weight(4)?;

    let start_grpo = transaction(ctx, "training.start_grpo", |ctx, user| {
        Box::pin(async move {
            let body = rpc_body("training.start_grpo", &start_grpo_params());
            if let Some(result) = rpc(&ctx, "training.start_grpo", body, &[]).await {
                if let Some(id) = result.get("job_id").and_then(|v| v.as_str()) {
                    let known = &mut jobs(user).0;
                    if known.len() >= MAX_REMEMBERED_JOBS {
                        known.remove(0);
                    }
                    known.push(id.to_string());
                }
            }
            Ok(())
        })
    })
    .set_weight(3)?;

    let export = transaction(ctx, "training.export_trajectories", |ctx, user| {
        Box::pin(async move {
            let (job, _) = pick_job(user);
            let params =
                format!(r#"{{"job_id":"{job}","success_only":true,"limit":50,"offset":0}}"#);
            let body = rpc_body("training.export_trajectories", &params);
            rpc(&ctx, "training.export_trajectories", body, &[NOT_FOUND]).await;
            Ok(())
        })
    })
    .set_weight(2)?;

    let cancel = transaction(ctx, "training.cancel", |ctx, user| {
        Box::pin(async move {
            let (job, _) = pick_job(user);
            let params = format!(
                r#"{{"job_id":"{job}","reason":"load test: cancelling to free a trainer"}}"#
            );
            let body = rpc_body("training.cancel", &params);
            // A job may have finished since it was started: "cannot cancel" is expected then.
            rpc(&ctx, "training.cancel", body, &[NOT_FOUND, CANNOT_CANCEL]).await;
            jobs(user).0.retain(|j| j != &job);
            Ok(())
        })
    })
    .set_weight(1)?;

    Ok(Scenario::new("TrainingAPIUser")
        .register_transaction(get_status)
        .register_transaction(start_grpo)
        .register_transaction(export)
        .register_transaction(cancel))
}
