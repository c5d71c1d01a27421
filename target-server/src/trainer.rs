//! Simulated trainers: a bounded pool of running jobs that advance one iteration per tick and
//! write trajectories, so statuses and exports read what was really written.
//!
//! A tick has three steps, each its own short use of the store: promote queued jobs into free
//! running slots; make room under the trajectory cap for what this tick will write
//! ([`crate::retention`]); then advance every running job in one transaction, which also drops
//! each job's trajectories beyond its per-job cap and the training data of jobs that end.
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rusqlite::params;
use tokio::sync::watch;

use crate::error::ServerError;
use crate::metrics::Metrics;
use crate::retention::{self, RetentionPolicy};
use crate::store::{self, RowCounts, Store};

/// Advances jobs until `stop` turns true.
pub async fn run(
    store: Store,
    metrics: Arc<Metrics>,
    max_running: usize,
    tick: Duration,
    policy: RetentionPolicy,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = run_tick(&store, &metrics, max_running, &policy).await {
            tracing::warn!("trainer tick failed: {e}");
        }
    }
}

async fn run_tick(
    store: &Store,
    metrics: &Arc<Metrics>,
    max_running: usize,
    policy: &RetentionPolicy,
) -> Result<(), ServerError> {
    let incoming = store
        .with(move |conn| promote_queued(conn, max_running))
        .await?;
    retention::make_room_for_trajectories(store, metrics, policy, incoming).await?;
    let per_job_cap = policy.max_trajectories_per_job;
    let written = store
        .with(move |conn| advance_all(conn, max_running, per_job_cap))
        .await?;
    RowCounts::add(&store.rows().trajectories, written.inserted);
    RowCounts::sub(&store.rows().trajectories, written.evicted);
    RowCounts::add(&store.rows().finished_jobs, written.finished);
    metrics.add_trajectories(written.inserted);
    metrics.add_evictions(&store::Evicted {
        trajectories: written.evicted,
        ..store::Evicted::default()
    });
    Ok(())
}

/// Promotes queued jobs into free running slots; returns how many trajectories the running
/// jobs will write on this tick (the room the trainers need).
pub fn promote_queued(
    conn: &mut rusqlite::Connection,
    max_running: usize,
) -> Result<u64, ServerError> {
    let now = chrono::Utc::now().to_rfc3339();
    let tx = store::write_transaction(conn)?;
    let running = store::jobs_with_status(&tx, "running", max_running)?.len();
    if running < max_running {
        for job in store::jobs_with_status(&tx, "queued", max_running - running)? {
            tx.execute(
                "UPDATE jobs SET status = 'running', started_at = ?2 WHERE job_id = ?1",
                params![job.job_id, now],
            )?;
        }
    }
    let incoming: i64 = store::jobs_with_status(&tx, "running", max_running)?
        .iter()
        .map(|j| j.trajectories_per_iteration)
        .sum();
    tx.commit()?;
    Ok(incoming.max(0) as u64)
}

/// What one tick wrote: trajectories inserted, and evicted under the per-job cap; jobs that
/// ended (completed, or failed over budget).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickWrites {
    pub inserted: u64,
    pub evicted: u64,
    pub finished: u64,
}

/// Advances every running job by one iteration in one transaction.
pub fn advance_all(
    conn: &mut rusqlite::Connection,
    max_running: usize,
    per_job_cap: u64,
) -> Result<TickWrites, ServerError> {
    let now = chrono::Utc::now().to_rfc3339();
    let tx = store::write_transaction(conn)?;
    let mut rng = rand::rng();
    let mut writes = TickWrites::default();
    for job in store::jobs_with_status(&tx, "running", max_running)? {
        let queries: Vec<serde_json::Value> =
            serde_json::from_str(&job.queries).unwrap_or_default();
        let iteration = job.current_iteration + 1;
        let mut reward_sum = 0.0;
        let mut successes = 0;
        let n = job.trajectories_per_iteration;
        for k in 0..n {
            let seq = job.trajectories_generated + k;
            let query = queries
                .get(seq as usize % queries.len().max(1))
                .and_then(|q| q.get("query"))
                .and_then(|q| q.as_str())
                .unwrap_or("")
                .to_string();
            // Rewards improve as training progresses, with noise: a plausible learning curve.
            let progress = iteration as f64 / job.total_iterations as f64;
            let reward: f64 =
                (0.3 + 0.5 * progress + rng.random_range(-0.25..0.25)).clamp(0.0, 1.0);
            let success = reward >= 0.5;
            let steps = serde_json::json!([
                {"step": 1, "action": "plan", "observation": "decomposed the query"},
                {"step": 2, "action": "tool_call", "observation": "retrieved context"},
                {"step": 3, "action": "answer", "observation": if success { "accepted" } else { "rejected" }},
            ]);
            tx.prepare_cached(
                "INSERT INTO trajectories (trajectory_id, job_id, seq, query, steps, reward, success, execution_time_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                uuid::Uuid::new_v4().to_string(),
                job.job_id,
                seq,
                query,
                steps.to_string(),
                reward,
                success as i64,
                rng.random_range(50..2000i64)
            ])?;
            reward_sum += reward;
            successes += success as i64;
        }
        writes.inserted += n as u64;
        if per_job_cap > 0 {
            // Seqs run 0.. in write order, so this is the job's oldest, bounded by `n`.
            let keep_from = job.trajectories_generated + n - per_job_cap as i64;
            if keep_from > 0 {
                writes.evicted +=
                    tx.prepare_cached("DELETE FROM trajectories WHERE job_id = ?1 AND seq < ?2")?
                        .execute(params![job.job_id, keep_from])? as u64;
            }
        }
        let cost = job.cost_usd + n as f64 * job.cost_per_trajectory;
        let status = if cost > job.budget_usd {
            "failed"
        } else if iteration >= job.total_iterations {
            "completed"
        } else {
            "running"
        };
        let finished = (status != "running").then(|| now.clone());
        let updated = tx.prepare_cached(
            "UPDATE jobs SET current_iteration = ?2, cost_usd = ?3, reward_sum = reward_sum + ?4,
                trajectories_generated = trajectories_generated + ?5, successes = successes + ?6,
                status = ?7, finished_at = COALESCE(?8, finished_at),
                queries = CASE WHEN ?7 = 'running' THEN queries ELSE '[]' END
             WHERE job_id = ?1 AND status = 'running'",
        )?
        .execute(params![
            job.job_id, iteration, cost, reward_sum, n, successes, status, finished
        ])?;
        if status != "running" {
            writes.finished += updated as u64;
        }
    }
    tx.commit()?;
    Ok(writes)
}
