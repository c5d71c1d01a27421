//! Workflows, their executions, and orchestration events.
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::Evicted;
use crate::error::ServerError;

/// One event of a batch.
pub struct NewEvent {
    pub event_id: String,
    pub event_type: String,
    pub workflow_id: Option<String>,
    pub timestamp: Option<String>,
    pub data: String,
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

/// A workflow's stored definition (the body it was created with), or `None` when unknown.
pub fn workflow_body(conn: &Connection, workflow_id: &str) -> Result<Option<Value>, ServerError> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM workflows WHERE workflow_id = ?1")?
        .query_row([workflow_id], |r| r.get(0))
        .optional()?;
    body.map(|b| serde_json::from_str(&b).map_err(|e| ServerError::Store(e.to_string())))
        .transpose()
}

/// What an execution is created with: its plan is reduced to start, finish and task length,
/// from which [`crate::schedule`] recomputes every task's slot.
pub struct NewExecution<'a> {
    pub execution_id: &'a str,
    pub workflow_id: &'a str,
    pub input: &'a Value,
    pub created_at: &'a str,
    pub started_at_ms: i64,
    pub finishes_at_ms: i64,
    pub task_ms: i64,
}

pub fn insert_execution(conn: &Connection, e: &NewExecution<'_>) -> Result<(), ServerError> {
    // `status` is kept for files written by older servers; the live status is derived from
    // `finishes_at_ms` and the clock.
    conn.prepare_cached(
        "INSERT INTO executions (execution_id, workflow_id, status, input, created_at,
            started_at_ms, finishes_at_ms, task_ms)
         VALUES (?1, ?2, 'scheduled', ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        e.execution_id,
        e.workflow_id,
        e.input.to_string(),
        e.created_at,
        e.started_at_ms,
        e.finishes_at_ms,
        e.task_ms
    ])?;
    Ok(())
}

/// One execution as stored.
#[derive(Debug, Clone)]
pub struct ExecutionRow {
    pub execution_id: String,
    pub workflow_id: String,
    pub created_at: String,
    pub started_at_ms: i64,
    pub finishes_at_ms: i64,
    pub task_ms: i64,
}

pub fn get_execution(
    conn: &Connection,
    execution_id: &str,
) -> Result<Option<ExecutionRow>, ServerError> {
    Ok(conn
        .prepare_cached(
            "SELECT execution_id, workflow_id, created_at, started_at_ms, finishes_at_ms, task_ms
             FROM executions WHERE execution_id = ?1",
        )?
        .query_row([execution_id], |r| {
            Ok(ExecutionRow {
                execution_id: r.get(0)?,
                workflow_id: r.get(1)?,
                created_at: r.get(2)?,
                started_at_ms: r.get(3)?,
                finishes_at_ms: r.get(4)?,
                task_ms: r.get(5)?,
            })
        })
        .optional()?)
}

/// What `GET /workflows/{id}/status` reports about one workflow.
pub struct WorkflowStatus {
    pub created_at: String,
    /// Executions still running at `now_ms`.
    pub running: i64,
    /// Executions finished by `now_ms`.
    pub completed: i64,
}

pub fn workflow_status(
    conn: &Connection,
    workflow_id: &str,
    now_ms: i64,
) -> Result<Option<WorkflowStatus>, ServerError> {
    let created: Option<String> = conn
        .prepare_cached("SELECT created_at FROM workflows WHERE workflow_id = ?1")?
        .query_row([workflow_id], |r| r.get(0))
        .optional()?;
    let Some(created) = created else {
        return Ok(None);
    };
    let (running, completed) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(finishes_at_ms > ?2), 0), COALESCE(SUM(finishes_at_ms <= ?2), 0)
             FROM executions WHERE workflow_id = ?1",
        )?
        .query_row(params![workflow_id, now_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(Some(WorkflowStatus {
        created_at: created,
        running,
        completed,
    }))
}

/// Deletes up to `limit` of the oldest workflows (lowest rowid) that have no execution running
/// at `now_ms`, with all their executions, in one short write transaction. A workflow with a
/// running execution is skipped, not waited for: the next pass takes it once it is idle.
/// Executions are inserted under the write lock after their workflow is read
/// ([`insert_execution`] callers use [`super::write_transaction`]), so none can be added to a
/// workflow this deletes.
pub fn evict_oldest_idle_workflows(
    conn: &mut Connection,
    limit: u64,
    now_ms: i64,
) -> Result<Evicted, ServerError> {
    let tx = super::write_transaction(conn)?;
    let ids: Vec<String> = tx
        .prepare_cached(
            "SELECT workflow_id FROM workflows AS w
             WHERE NOT EXISTS (SELECT 1 FROM executions AS e
                               WHERE e.workflow_id = w.workflow_id AND e.finishes_at_ms > ?2)
             ORDER BY rowid LIMIT ?1",
        )?
        .query_map(params![limit as i64, now_ms], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut evicted = Evicted::default();
    {
        let mut executions = tx.prepare_cached("DELETE FROM executions WHERE workflow_id = ?1")?;
        let mut workflows = tx.prepare_cached("DELETE FROM workflows WHERE workflow_id = ?1")?;
        for id in &ids {
            evicted.executions += executions.execute([id])? as u64;
            evicted.workflows += workflows.execute([id])? as u64;
        }
    }
    tx.commit()?;
    Ok(evicted)
}

/// Deletes up to `limit` of the oldest executions (lowest rowid) that finished by `now_ms`, in
/// one statement (a write transaction of its own). Running executions are skipped (they are
/// among the newest, so the scan passes few of them).
pub fn evict_oldest_finished_executions(
    conn: &Connection,
    limit: u64,
    now_ms: i64,
) -> Result<Evicted, ServerError> {
    let sql = "DELETE FROM executions WHERE rowid IN
        (SELECT rowid FROM executions WHERE finishes_at_ms <= ?2 ORDER BY rowid LIMIT ?1)";
    let deleted = conn
        .prepare_cached(sql)?
        .execute(params![limit as i64, now_ms])?;
    Ok(Evicted {
        executions: deleted as u64,
        ..Evicted::default()
    })
}

pub fn insert_events(conn: &mut Connection, events: &[NewEvent]) -> Result<usize, ServerError> {
    let tx = super::write_transaction(conn)?;
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
