//! Training jobs and the trajectories the trainers write.
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::Evicted;
use crate::error::ServerError;

/// One job row, as `training.get_status` and the trainers read it.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub job_id: String,
    pub agent_id: String,
    pub status: String,
    pub total_iterations: i64,
    pub current_iteration: i64,
    pub trajectories_per_iteration: i64,
    pub cost_per_trajectory: f64,
    pub budget_usd: f64,
    pub cost_usd: f64,
    pub reward_sum: f64,
    pub trajectories_generated: i64,
    pub successes: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub cancel_reason: Option<String>,
    pub queries: String,
}

/// A trajectory the trainers wrote.
#[derive(Debug, Clone, Serialize)]
pub struct TrajectoryRow {
    pub trajectory_id: String,
    pub query: String,
    pub steps: Value,
    pub reward: f64,
    pub success: bool,
    pub execution_time_ms: i64,
}

/// What a new job is created with.
pub struct NewJob<'a> {
    pub job_id: &'a str,
    pub agent_id: &'a str,
    pub config: &'a Value,
    pub queries: &'a Value,
    pub total_iterations: i64,
    pub trajectories_per_iteration: i64,
    pub cost_per_trajectory: f64,
    pub budget_usd: f64,
    pub created_at: &'a str,
}

const JOB_COLUMNS: &str = "job_id, agent_id, status, total_iterations, current_iteration,
    trajectories_per_iteration, cost_per_trajectory, budget_usd, cost_usd, reward_sum,
    trajectories_generated, successes, created_at, started_at, finished_at, cancel_reason, queries";

fn job_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        job_id: row.get(0)?,
        agent_id: row.get(1)?,
        status: row.get(2)?,
        total_iterations: row.get(3)?,
        current_iteration: row.get(4)?,
        trajectories_per_iteration: row.get(5)?,
        cost_per_trajectory: row.get(6)?,
        budget_usd: row.get(7)?,
        cost_usd: row.get(8)?,
        reward_sum: row.get(9)?,
        trajectories_generated: row.get(10)?,
        successes: row.get(11)?,
        created_at: row.get(12)?,
        started_at: row.get(13)?,
        finished_at: row.get(14)?,
        cancel_reason: row.get(15)?,
        queries: row.get(16)?,
    })
}

pub fn insert_job(conn: &mut Connection, job: &NewJob<'_>) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO jobs (job_id, agent_id, status, config, queries, total_iterations,
            trajectories_per_iteration, cost_per_trajectory, budget_usd, created_at)
         VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            job.job_id,
            job.agent_id,
            job.config.to_string(),
            job.queries.to_string(),
            job.total_iterations,
            job.trajectories_per_iteration,
            job.cost_per_trajectory,
            job.budget_usd,
            job.created_at
        ],
    )?;
    Ok(())
}

pub fn get_job(conn: &Connection, job_id: &str) -> Result<Option<JobRow>, ServerError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([job_id], job_from_row)
        .optional()?)
}

pub fn jobs_with_status(
    conn: &Connection,
    status: &str,
    limit: usize,
) -> Result<Vec<JobRow>, ServerError> {
    let sql =
        format!("SELECT {JOB_COLUMNS} FROM jobs WHERE status = ?1 ORDER BY created_at LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![status, limit as i64], job_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn count_jobs_by_status(conn: &Connection) -> Result<Vec<(String, i64)>, ServerError> {
    let mut stmt = conn.prepare_cached("SELECT status, COUNT(*) FROM jobs GROUP BY status")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Marks a job cancelled unless it already ended; returns the row after the change, or the
/// unchanged row when it could not be cancelled.
pub fn cancel_job(
    conn: &mut Connection,
    job_id: &str,
    reason: Option<&str>,
    now: &str,
) -> Result<Option<(bool, JobRow)>, ServerError> {
    let tx = super::write_transaction(conn)?;
    let changed = tx.execute(
        "UPDATE jobs SET status = 'cancelled', finished_at = ?2, cancel_reason = ?3, queries = '[]'
         WHERE job_id = ?1 AND status IN ('queued', 'running')",
        params![job_id, now, reason],
    )?;
    let row = get_job(&tx, job_id)?;
    tx.commit()?;
    Ok(row.map(|r| (changed == 1, r)))
}

/// One page of a job's kept trajectories and what retention did to the job.
#[derive(Debug, Clone)]
pub struct ExportPage {
    pub rows: Vec<TrajectoryRow>,
    /// Kept trajectories that match the filters.
    pub total_count: i64,
    /// Trajectories of this job that retention evicted (regardless of filters: an evicted row
    /// is not there to be filtered).
    pub evicted_count: i64,
}

/// Reads a page of a job's kept trajectories in one read transaction, so the page, its counts
/// and the job's written total come from the same snapshot. `None`: no such job.
pub fn export_trajectories(
    conn: &mut Connection,
    job_id: &str,
    success_only: bool,
    min_reward: Option<f64>,
    limit: i64,
    offset: i64,
) -> Result<Option<ExportPage>, ServerError> {
    let tx = conn.transaction()?;
    let written: Option<i64> = tx
        .prepare_cached("SELECT trajectories_generated FROM jobs WHERE job_id = ?1")?
        .query_row([job_id], |r| r.get(0))
        .optional()?;
    let Some(written) = written else {
        return Ok(None);
    };
    let kept: i64 = tx
        .prepare_cached("SELECT COUNT(*) FROM trajectories WHERE job_id = ?1")?
        .query_row([job_id], |r| r.get(0))?;
    let filter = "job_id = ?1 AND (?2 = 0 OR success = 1) AND (?3 IS NULL OR reward >= ?3)";
    let total: i64 = tx
        .prepare_cached(&format!("SELECT COUNT(*) FROM trajectories WHERE {filter}"))?
        .query_row(params![job_id, success_only as i64, min_reward], |r| {
            r.get(0)
        })?;
    let sql = format!(
        "SELECT trajectory_id, query, steps, reward, success, execution_time_ms FROM trajectories
         WHERE {filter} ORDER BY seq LIMIT ?4 OFFSET ?5"
    );
    let rows = {
        let mut stmt = tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![job_id, success_only as i64, min_reward, limit, offset],
            |r| {
                let steps: String = r.get(2)?;
                Ok(TrajectoryRow {
                    trajectory_id: r.get(0)?,
                    query: r.get(1)?,
                    steps: serde_json::from_str(&steps).unwrap_or(Value::Null),
                    reward: r.get(3)?,
                    success: r.get::<_, i64>(4)? == 1,
                    execution_time_ms: r.get(5)?,
                })
            },
        )?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    tx.commit()?;
    Ok(Some(ExportPage {
        rows,
        total_count: total,
        evicted_count: (written - kept).max(0),
    }))
}

/// Jobs that ended (completed, failed or cancelled: every ending sets `finished_at`).
pub fn count_finished_jobs(conn: &Connection) -> Result<u64, ServerError> {
    super::count(
        conn,
        "SELECT COUNT(*) FROM jobs WHERE finished_at IS NOT NULL",
    )
}

/// Deletes up to `max_jobs` of the jobs that finished longest ago, each with the trajectories
/// the trajectory caps left it, in one write transaction that deletes at most `max_rows` rows
/// in all. A job
/// whose trajectories use up the budget keeps its row (and what is left of its trajectories)
/// until the next call, which starts with it again: it is still the oldest. Queued and running
/// jobs have no `finished_at`, so they are never candidates.
pub fn evict_oldest_finished_jobs(
    conn: &mut Connection,
    max_jobs: u64,
    max_rows: u64,
) -> Result<Evicted, ServerError> {
    let tx = super::write_transaction(conn)?;
    let ids: Vec<String> = tx
        .prepare_cached(
            "SELECT job_id FROM jobs WHERE finished_at IS NOT NULL ORDER BY finished_at LIMIT ?1",
        )?
        .query_map([max_jobs as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut evicted = Evicted::default();
    let mut budget = max_rows;
    {
        let mut trajectories = tx.prepare_cached(
            "DELETE FROM trajectories WHERE rowid IN
                (SELECT rowid FROM trajectories WHERE job_id = ?1 LIMIT ?2)",
        )?;
        let mut jobs = tx.prepare_cached("DELETE FROM jobs WHERE job_id = ?1")?;
        for id in &ids {
            let deleted = trajectories.execute(params![id, budget as i64])? as u64;
            evicted.trajectories += deleted;
            budget -= deleted;
            if budget == 0 {
                break;
            }
            evicted.jobs += jobs.execute([id])? as u64;
            budget -= 1;
        }
    }
    tx.commit()?;
    Ok(evicted)
}
