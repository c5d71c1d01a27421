//! The SQLite store: schema, a bounded connection pool, and every query the server runs.
//!
//! Connections are blocking, so work runs on tokio's blocking pool; the pool's semaphore
//! bounds how many run at once, which is one of the resources that gives the server its
//! capacity knee. A write is acknowledged only after its transaction commits (WAL mode,
//! `synchronous=NORMAL`: survives a killed process).
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::error::ServerError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    queries TEXT NOT NULL,
    total_iterations INTEGER NOT NULL,
    current_iteration INTEGER NOT NULL DEFAULT 0,
    trajectories_per_iteration INTEGER NOT NULL,
    cost_per_trajectory REAL NOT NULL,
    budget_usd REAL NOT NULL,
    cost_usd REAL NOT NULL DEFAULT 0,
    reward_sum REAL NOT NULL DEFAULT 0,
    trajectories_generated INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    cancel_reason TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE TABLE IF NOT EXISTS trajectories (
    trajectory_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    query TEXT NOT NULL,
    steps TEXT NOT NULL,
    reward REAL NOT NULL,
    success INTEGER NOT NULL,
    execution_time_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trajectories_job ON trajectories(job_id, seq);
CREATE TABLE IF NOT EXISTS workflows (
    workflow_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    execution_id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_workflow ON executions(workflow_id);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    workflow_id TEXT,
    timestamp TEXT,
    data TEXT NOT NULL
);
";

/// A bounded pool of SQLite connections.
#[derive(Clone)]
pub struct Store {
    connections: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

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

/// One event of a batch.
pub struct NewEvent {
    pub event_id: String,
    pub event_type: String,
    pub workflow_id: Option<String>,
    pub timestamp: Option<String>,
    pub data: String,
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

impl Store {
    /// Opens (creating if needed) the database and its schema with `pool_size` connections.
    pub fn open(path: &Path, pool_size: usize) -> Result<Store, ServerError> {
        let in_memory = path.as_os_str() == ":memory:";
        // Separate `:memory:` connections would be separate databases: keep exactly one.
        let size = if in_memory { 1 } else { pool_size.max(1) };
        let mut connections = Vec::with_capacity(size);
        for _ in 0..size {
            let conn = if in_memory {
                Connection::open_in_memory()
            } else {
                Connection::open(path)
            }
            .map_err(|e| ServerError::Store(format!("opening {}: {e}", path.display())))?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            if !in_memory {
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
            }
            connections.push(conn);
        }
        connections[0].execute_batch(SCHEMA)?;
        Ok(Store {
            connections: Arc::new(Mutex::new(connections)),
            permits: Arc::new(Semaphore::new(size)),
        })
    }

    /// Runs `work` on a pooled connection on the blocking pool.
    pub async fn with<T, F>(&self, work: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ServerError> + Send + 'static,
    {
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ServerError::Store("store closed".into()))?;
        let connections = self.connections.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = connections
                .lock()
                .expect("store pool poisoned")
                .pop()
                .expect("a permit guarantees a free connection");
            let result = work(&mut conn);
            connections.lock().expect("store pool poisoned").push(conn);
            result
        })
        .await
        .map_err(|e| ServerError::Store(format!("store task failed: {e}")))?
    }
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
    let tx = conn.transaction()?;
    let changed = tx.execute(
        "UPDATE jobs SET status = 'cancelled', finished_at = ?2, cancel_reason = ?3
         WHERE job_id = ?1 AND status IN ('queued', 'running')",
        params![job_id, now, reason],
    )?;
    let row = get_job(&tx, job_id)?;
    tx.commit()?;
    Ok(row.map(|r| (changed == 1, r)))
}

pub fn export_trajectories(
    conn: &Connection,
    job_id: &str,
    success_only: bool,
    min_reward: Option<f64>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<TrajectoryRow>, i64), ServerError> {
    let filter = "job_id = ?1 AND (?2 = 0 OR success = 1) AND (?3 IS NULL OR reward >= ?3)";
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM trajectories WHERE {filter}"))?
        .query_row(params![job_id, success_only as i64, min_reward], |r| {
            r.get(0)
        })?;
    let sql = format!(
        "SELECT trajectory_id, query, steps, reward, success, execution_time_ms FROM trajectories
         WHERE {filter} ORDER BY seq LIMIT ?4 OFFSET ?5"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
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
    Ok((rows.collect::<Result<_, _>>()?, total))
}

pub fn insert_workflow(
    conn: &mut Connection,
    workflow_id: &str,
    body: &Value,
    now: &str,
) -> Result<bool, ServerError> {
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO workflows (workflow_id, body, created_at) VALUES (?1, ?2, ?3)",
        params![workflow_id, body.to_string(), now],
    )?;
    Ok(inserted == 1)
}

pub fn workflow_exists(conn: &Connection, workflow_id: &str) -> Result<bool, ServerError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM workflows WHERE workflow_id = ?1")?
        .query_row([workflow_id], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn insert_execution(
    conn: &mut Connection,
    execution_id: &str,
    workflow_id: &str,
    input: &Value,
    now: &str,
) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO executions (execution_id, workflow_id, status, input, created_at) VALUES (?1, ?2, 'running', ?3, ?4)",
        params![execution_id, workflow_id, input.to_string(), now],
    )?;
    Ok(())
}

/// What `GET /workflows/{id}/status` reports about one workflow.
pub struct WorkflowStatus {
    pub created_at: String,
    /// Number of executions per execution status.
    pub executions: Vec<(String, i64)>,
}

pub fn workflow_status(
    conn: &Connection,
    workflow_id: &str,
) -> Result<Option<WorkflowStatus>, ServerError> {
    let created: Option<String> = conn
        .prepare_cached("SELECT created_at FROM workflows WHERE workflow_id = ?1")?
        .query_row([workflow_id], |r| r.get(0))
        .optional()?;
    let Some(created) = created else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT status, COUNT(*) FROM executions WHERE workflow_id = ?1 GROUP BY status",
    )?;
    let counts = stmt
        .query_map([workflow_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(Some(WorkflowStatus {
        created_at: created,
        executions: counts,
    }))
}

pub fn insert_events(conn: &mut Connection, events: &[NewEvent]) -> Result<usize, ServerError> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO events (event_id, event_type, workflow_id, timestamp, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for e in events {
            stmt.execute(params![
                e.event_id,
                e.event_type,
                e.workflow_id,
                e.timestamp,
                e.data
            ])?;
        }
    }
    tx.commit()?;
    Ok(events.len())
}

pub fn count_events(conn: &Connection) -> Result<i64, ServerError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?)
}
