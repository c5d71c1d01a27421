//! The SQLite store: schema, a bounded connection pool, row counts and size, and the queries
//! of each API in its own submodule ([`training`], [`orchestration`], [`agent_tasks`]).
//!
//! Connections are blocking, so work runs on tokio's blocking pool; the pool's semaphore
//! bounds how many run at once, which is one of the resources that gives the server its
//! capacity knee. A write is acknowledged only after its transaction commits (WAL mode,
//! `synchronous=NORMAL`: survives a killed process).
mod agent_tasks;
mod orchestration;
mod training;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::ServerError;

pub use agent_tasks::*;
pub use orchestration::*;
pub use training::*;

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
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
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
    created_at TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL DEFAULT 0,
    finishes_at_ms INTEGER NOT NULL DEFAULT 0,
    task_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS executions_workflow ON executions(workflow_id);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    workflow_id TEXT,
    timestamp TEXT,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_tasks (
    task_id TEXT PRIMARY KEY,
    context_id TEXT NOT NULL,
    state TEXT NOT NULL,
    artifact_id TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
";

/// A bounded pool of SQLite connections.
#[derive(Clone)]
pub struct Store {
    connections: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    rows: Arc<RowCounts>,
}

/// Rows of the tables that retention bounds, kept in memory so that the trainers (every tick),
/// the retention pass and `/metrics` do not pay a `COUNT(*)` scan. Counted once at open, then
/// moved by the code that inserts, deletes or finishes, after its transaction commits; only
/// this server writes the file.
#[derive(Debug, Default)]
pub struct RowCounts {
    pub trajectories: AtomicU64,
    pub events: AtomicU64,
    pub workflows: AtomicU64,
    pub agent_tasks: AtomicU64,
    pub executions: AtomicU64,
    /// Jobs that ended (completed, failed or cancelled): the ones job retention may evict.
    pub finished_jobs: AtomicU64,
}

impl RowCounts {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Subtracts without wrapping below zero.
    pub fn sub(counter: &AtomicU64, n: u64) {
        let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
            Some(c.saturating_sub(n))
        });
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Takes what an eviction deleted off the counts (evicted jobs are finished ones).
    pub fn remove(&self, evicted: &Evicted) {
        Self::sub(&self.trajectories, evicted.trajectories);
        Self::sub(&self.events, evicted.events);
        Self::sub(&self.workflows, evicted.workflows);
        Self::sub(&self.executions, evicted.executions);
        Self::sub(&self.finished_jobs, evicted.jobs);
        Self::sub(&self.agent_tasks, evicted.agent_tasks);
    }
}

/// Rows one eviction deleted, by table: what the in-memory counts and the eviction counters
/// of `/metrics` move by, whichever table the eviction was for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evicted {
    pub trajectories: u64,
    pub events: u64,
    pub workflows: u64,
    pub executions: u64,
    pub jobs: u64,
    pub agent_tasks: u64,
}

/// A table whose oldest rows retention may delete. A closed set, so table names never come
/// from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evictable {
    Trajectories,
    Events,
    /// Only finished tasks: a task still generating is never evicted.
    AgentTasks,
}

impl Evictable {
    pub fn table(self) -> &'static str {
        match self {
            Evictable::Trajectories => "trajectories",
            Evictable::Events => "events",
            Evictable::AgentTasks => "agent_tasks",
        }
    }

    /// The SQL condition a row must meet to be evicted.
    fn evictable_rows(self) -> &'static str {
        match self {
            Evictable::Trajectories | Evictable::Events => "1",
            Evictable::AgentTasks => "state <> 'working'",
        }
    }
}

/// Size of the database as SQLite sees it, for `/metrics` and the soak benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreSize {
    /// `page_count * page_size`: the main file's length (for `:memory:`, what it would be).
    pub bytes: u64,
    /// Pages on the free list (`freelist_count * page_size`): space deletes freed that new
    /// rows reuse before the file grows again.
    pub free_bytes: u64,
    pub jobs: u64,
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
                // Without a limit the -wal file keeps its high-water mark after a checkpoint.
                conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)?;
            }
            connections.push(conn);
        }
        connections[0].execute_batch(SCHEMA)?;
        migrate(&connections[0])?;
        fail_interrupted_agent_tasks(&connections[0], &agent_task_timestamp())?;
        let rows = RowCounts {
            trajectories: AtomicU64::new(count_rows(&connections[0], "trajectories")?),
            events: AtomicU64::new(count_rows(&connections[0], "events")?),
            workflows: AtomicU64::new(count_rows(&connections[0], "workflows")?),
            agent_tasks: AtomicU64::new(count_rows(&connections[0], "agent_tasks")?),
            executions: AtomicU64::new(count_rows(&connections[0], "executions")?),
            finished_jobs: AtomicU64::new(count_finished_jobs(&connections[0])?),
        };
        Ok(Store {
            connections: Arc::new(Mutex::new(connections)),
            permits: Arc::new(Semaphore::new(size)),
            rows: Arc::new(rows),
        })
    }

    /// Rows of the tables retention bounds.
    pub fn rows(&self) -> &RowCounts {
        &self.rows
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

/// Begins a transaction that will write, taking the write lock at once. A deferred one that
/// reads first and writes later fails with "database is locked" (SQLITE_BUSY_SNAPSHOT, which
/// the busy timeout cannot wait out) whenever another connection committed in between.
pub fn write_transaction(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>, ServerError> {
    Ok(conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
}

/// Largest size the -wal file is truncated back to after a checkpoint.
const WAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// Brings files written by older servers to the current schema: `CREATE TABLE IF NOT EXISTS`
/// does not add columns to a table that exists. Executions recorded before they had a
/// schedule get `finishes_at_ms = 0`, i.e. they count as completed.
fn migrate(conn: &Connection) -> Result<(), ServerError> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('executions')")?;
    let columns: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for column in ["started_at_ms", "finishes_at_ms", "task_ms"] {
        if !columns.iter().any(|c| c == column) {
            conn.execute_batch(&format!(
                "ALTER TABLE executions ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
            ))?;
        }
    }
    Ok(())
}

fn count_rows(conn: &Connection, table: &str) -> Result<u64, ServerError> {
    count(conn, &format!("SELECT COUNT(*) FROM {table}"))
}

fn count(conn: &Connection, sql: &str) -> Result<u64, ServerError> {
    let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Deletes up to `limit` of the oldest rows of `table` (lowest rowid: rows are appended, so
/// rowid order is insertion order) in one short transaction. Callers loop in small batches so
/// that no single delete holds the write lock for long.
pub fn evict_oldest(
    conn: &Connection,
    table: Evictable,
    limit: u64,
) -> Result<Evicted, ServerError> {
    let sql = format!(
        "DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t} WHERE {w} ORDER BY rowid LIMIT ?1)",
        t = table.table(),
        w = table.evictable_rows()
    );
    let deleted = conn.prepare_cached(&sql)?.execute([limit as i64])? as u64;
    Ok(match table {
        Evictable::Trajectories => Evicted {
            trajectories: deleted,
            ..Evicted::default()
        },
        Evictable::Events => Evicted {
            events: deleted,
            ..Evicted::default()
        },
        Evictable::AgentTasks => Evicted {
            agent_tasks: deleted,
            ..Evicted::default()
        },
    })
}

/// The database's size and the row counts that retention does not track in memory.
pub fn store_size(conn: &Connection) -> Result<StoreSize, ServerError> {
    let pragma = |name: &str| -> Result<u64, ServerError> {
        let v: i64 = conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
        Ok(v.max(0) as u64)
    };
    let page_size = pragma("page_size")?;
    Ok(StoreSize {
        bytes: pragma("page_count")? * page_size,
        free_bytes: pragma("freelist_count")? * page_size,
        jobs: count_rows(conn, "jobs")?,
    })
}
