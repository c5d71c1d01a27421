//! The training API's methods (`training.*`): parameter types, validation and store calls.
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ServerError;
use crate::rpc_error::*;
use crate::state::AppState;
use crate::store::{self, JobRow, NewJob, RowCounts};

/// What one generated trajectory costs, in USD. Every written trajectory stands for
/// `batch_size` generated ones (the trainers store a sample, not every rollout).
pub const COST_PER_GENERATED_TRAJECTORY_USD: f64 = 0.0001;
pub const EXPORT_DEFAULT_LIMIT: i64 = 1000;
pub const EXPORT_MAX_LIMIT: i64 = 10_000;
pub const MIN_TRAINING_EXAMPLES: usize = 100;

const METHOD_NAMES: [&str; 5] = [
    "training.start_grpo",
    "training.get_status",
    "training.export_trajectories",
    "training.cancel",
    "training.evaluate",
];

pub fn is_method(name: &str) -> bool {
    METHOD_NAMES.contains(&name)
}

fn internal(e: ServerError) -> RpcError {
    RpcError::new(INTERNAL_ERROR, format!("internal error: {e}"))
}

fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = if params.is_null() { json!({}) } else { params };
    serde_json::from_value(params)
        .map_err(|e| RpcError::new(INVALID_PARAMS, format!("invalid params: {e}")))
}

pub async fn call(state: &AppState, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        "training.start_grpo" => start_grpo(state, parse(params)?).await,
        "training.get_status" => get_status(state, parse(params)?).await,
        "training.export_trajectories" => export(state, parse(params)?).await,
        "training.cancel" => cancel(state, parse(params)?).await,
        "training.evaluate" => evaluate(state, parse(params)?).await,
        other => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("method not found: `{other}`"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrpoConfig {
    n_iterations: i64,
    batch_size: i64,
    n_trajectories_per_query: i64,
    #[serde(default = "default_learning_rate")]
    learning_rate: f64,
    #[serde(default = "default_budget")]
    max_budget_usd: f64,
    #[serde(default = "default_checkpoint")]
    checkpoint_interval: i64,
    #[serde(default = "default_max_steps")]
    max_steps_per_trajectory: i64,
    #[serde(default = "default_gamma")]
    gamma: f64,
}

fn default_learning_rate() -> f64 {
    1e-5
}
fn default_budget() -> f64 {
    100.0
}
fn default_checkpoint() -> i64 {
    10
}
fn default_max_steps() -> i64 {
    20
}
fn default_gamma() -> f64 {
    0.99
}

#[derive(Deserialize, serde::Serialize)]
struct Example {
    query: String,
    expected_outcome: Value,
}

#[derive(Deserialize)]
struct StartGrpo {
    agent_id: String,
    config: GrpoConfig,
    /// The real platform's server requires `training_queries` while its docs send
    /// `training_data`; accept both.
    #[serde(alias = "training_queries")]
    training_data: Vec<Example>,
    #[serde(default)]
    evaluation_data: Option<Vec<Example>>,
}

fn check_range(field: &str, value: i64, lo: i64, hi: i64) -> Result<(), RpcError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(RpcError::validation(
            field,
            format!("{value} is outside {lo}..{hi}"),
        ))
    }
}

async fn start_grpo(state: &AppState, p: StartGrpo) -> Result<Value, RpcError> {
    let c = &p.config;
    if p.agent_id.trim().is_empty() {
        return Err(RpcError::validation("agent_id", "must not be empty"));
    }
    check_range("config.n_iterations", c.n_iterations, 1, 10_000)?;
    check_range("config.batch_size", c.batch_size, 1, 128)?;
    check_range(
        "config.n_trajectories_per_query",
        c.n_trajectories_per_query,
        1,
        16,
    )?;
    check_range(
        "config.checkpoint_interval",
        c.checkpoint_interval,
        1,
        10_000,
    )?;
    check_range(
        "config.max_steps_per_trajectory",
        c.max_steps_per_trajectory,
        1,
        1000,
    )?;
    if !(c.learning_rate > 0.0 && c.learning_rate <= 1.0) {
        return Err(RpcError::validation(
            "config.learning_rate",
            format!("{} is not in (0, 1]", c.learning_rate),
        ));
    }
    if !(0.0..=1.0).contains(&c.gamma) {
        return Err(RpcError::validation(
            "config.gamma",
            format!("{} is not in [0, 1]", c.gamma),
        ));
    }
    if !(c.max_budget_usd > 0.0 && c.max_budget_usd.is_finite()) {
        return Err(RpcError::validation(
            "config.max_budget_usd",
            "must be a positive amount",
        ));
    }
    if p.training_data.len() < MIN_TRAINING_EXAMPLES {
        return Err(RpcError::validation(
            "training_data",
            format!(
                "{} examples given, at least {MIN_TRAINING_EXAMPLES} are needed",
                p.training_data.len()
            ),
        ));
    }
    if let Some(i) = p
        .training_data
        .iter()
        .position(|e| e.query.trim().is_empty())
    {
        return Err(RpcError::validation(
            &format!("training_data[{i}].query"),
            "must not be empty",
        ));
    }
    let estimated = (c.n_iterations * c.batch_size * c.n_trajectories_per_query) as f64
        * COST_PER_GENERATED_TRAJECTORY_USD;
    if estimated > c.max_budget_usd {
        return Err(RpcError::new(
            BUDGET_EXCEEDED,
            format!("budget exceeded: the job would cost about ${estimated:.2}, over max_budget_usd ${:.2}", c.max_budget_usd),
        )
        .with_data(json!({ "estimated_cost_usd": estimated, "max_budget_usd": c.max_budget_usd })));
    }
    let job_id = uuid::Uuid::new_v4().to_string();
    let created_at = chrono::Utc::now().to_rfc3339();
    let config = json!({
        "n_iterations": c.n_iterations, "batch_size": c.batch_size,
        "n_trajectories_per_query": c.n_trajectories_per_query, "learning_rate": c.learning_rate,
        "max_budget_usd": c.max_budget_usd, "checkpoint_interval": c.checkpoint_interval,
        "max_steps_per_trajectory": c.max_steps_per_trajectory, "gamma": c.gamma,
        "evaluation_examples": p.evaluation_data.as_ref().map_or(0, Vec::len),
    });
    let queries = serde_json::to_value(&p.training_data)
        .map_err(|e| internal(ServerError::Store(e.to_string())))?;
    let (id, agent, created, total, per_iter, budget) = (
        job_id.clone(),
        p.agent_id.clone(),
        created_at.clone(),
        c.n_iterations,
        c.n_trajectories_per_query,
        c.max_budget_usd,
    );
    let cost = c.batch_size as f64 * COST_PER_GENERATED_TRAJECTORY_USD;
    state
        .store
        .with(move |conn| {
            store::insert_job(
                conn,
                &NewJob {
                    job_id: &id,
                    agent_id: &agent,
                    config: &config,
                    queries: &queries,
                    total_iterations: total,
                    trajectories_per_iteration: per_iter,
                    cost_per_trajectory: cost,
                    budget_usd: budget,
                    created_at: &created,
                },
            )
        })
        .await
        .map_err(internal)?;
    Ok(json!({
        "job_id": job_id, "status": "queued", "agent_id": p.agent_id,
        "total_iterations": c.n_iterations, "created_at": created_at,
    }))
}

#[derive(Deserialize)]
struct JobRef {
    job_id: String,
}

async fn load_job(state: &AppState, job_id: &str) -> Result<JobRow, RpcError> {
    let id = job_id.to_string();
    state
        .store
        .with(move |conn| store::get_job(conn, &id))
        .await
        .map_err(internal)?
        .ok_or_else(|| job_not_found(state, job_id))
}

/// -32001 for a job the store does not hold: never started, or finished and evicted by job
/// retention. The store keeps no trace of evicted jobs, so the answer cannot tell the two
/// apart; the message names the rule so that a client seeing it for a job it started knows why.
fn job_not_found(state: &AppState, job_id: &str) -> RpcError {
    let retention = match state.max_finished_jobs {
        0 => String::new(),
        cap => {
            format!(" (a finished job is kept until {cap} newer jobs have finished, then evicted)")
        }
    };
    RpcError::new(
        NOT_FOUND,
        format!("not found: no training job `{job_id}`{retention}"),
    )
}

fn job_metrics(job: &JobRow) -> Value {
    let n = job.trajectories_generated.max(1) as f64;
    json!({
        "avg_reward": if job.trajectories_generated == 0 { 0.0 } else { job.reward_sum / n },
        "success_rate": if job.trajectories_generated == 0 { 0.0 } else { job.successes as f64 / n },
        "trajectories_generated": job.trajectories_generated,
        "iterations_completed": job.current_iteration,
    })
}

async fn get_status(state: &AppState, p: JobRef) -> Result<Value, RpcError> {
    let job = load_job(state, &p.job_id).await?;
    let progress = 100.0 * job.current_iteration as f64 / job.total_iterations.max(1) as f64;
    Ok(json!({
        "job_id": job.job_id, "agent_id": job.agent_id, "status": job.status,
        "current_iteration": job.current_iteration, "total_iterations": job.total_iterations,
        "progress_percent": (progress * 10.0).round() / 10.0, "metrics": job_metrics(&job),
        "cost_usd": job.cost_usd, "budget_usd": job.budget_usd, "created_at": job.created_at,
        "started_at": job.started_at, "finished_at": job.finished_at, "cancel_reason": job.cancel_reason,
    }))
}

#[derive(Deserialize)]
struct CancelParams {
    job_id: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn cancel(state: &AppState, p: CancelParams) -> Result<Value, RpcError> {
    let now = chrono::Utc::now().to_rfc3339();
    let (id, reason, at) = (p.job_id.clone(), p.reason.clone(), now.clone());
    let outcome = state
        .store
        .with(move |conn| store::cancel_job(conn, &id, reason.as_deref(), &at))
        .await
        .map_err(internal)?;
    if let Some((true, _)) = outcome {
        RowCounts::add(&state.store.rows().finished_jobs, 1);
    }
    match outcome {
        None => Err(job_not_found(state, &p.job_id)),
        Some((false, job)) => Err(RpcError::new(
            CANNOT_CANCEL,
            format!(
                "cannot cancel: job `{}` is already {}",
                job.job_id, job.status
            ),
        )
        .with_data(json!({ "status": job.status }))),
        Some((true, job)) => Ok(json!({
            "job_id": job.job_id, "status": "cancelled", "cancelled_at": now,
            "iterations_completed": job.current_iteration, "reason": p.reason,
        })),
    }
}

#[derive(Deserialize)]
struct ExportParams {
    job_id: String,
    #[serde(default)]
    success_only: bool,
    #[serde(default)]
    min_reward: Option<f64>,
    #[serde(default = "default_export_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_export_limit() -> i64 {
    EXPORT_DEFAULT_LIMIT
}

async fn export(state: &AppState, p: ExportParams) -> Result<Value, RpcError> {
    if p.limit > EXPORT_MAX_LIMIT {
        return Err(RpcError::new(
            EXPORT_LIMIT_EXCEEDED,
            format!("export limit exceeded: limit {} is over the maximum {EXPORT_MAX_LIMIT}; page with offset", p.limit),
        ));
    }
    if p.limit < 1 {
        return Err(RpcError::validation(
            "limit",
            format!("{} must be at least 1", p.limit),
        ));
    }
    if p.offset < 0 {
        return Err(RpcError::validation(
            "offset",
            format!("{} must not be negative", p.offset),
        ));
    }
    let (id, success_only, min_reward, limit, offset) = (
        p.job_id.clone(),
        p.success_only,
        p.min_reward,
        p.limit,
        p.offset,
    );
    let page = state
        .store
        .with(move |conn| {
            store::export_trajectories(conn, &id, success_only, min_reward, limit, offset)
        })
        .await
        .map_err(internal)?
        .ok_or_else(|| job_not_found(state, &p.job_id))?;
    let returned = page.rows.len() as i64;
    let total = page.total_count;
    Ok(json!({
        "job_id": p.job_id, "trajectories": page.rows, "total_count": total,
        "returned_count": returned, "has_more": offset + returned < total,
        "evicted_count": page.evicted_count,
    }))
}

async fn evaluate(state: &AppState, p: JobRef) -> Result<Value, RpcError> {
    let job = load_job(state, &p.job_id).await?;
    Ok(json!({
        "job_id": job.job_id, "status": job.status, "metrics": job_metrics(&job),
        "cost_usd": job.cost_usd, "evaluated_at": chrono::Utc::now().to_rfc3339(),
    }))
}
