//! Retention: what the store keeps so that long runs stay bounded.
//!
//! The simulated trainers write every running job's rollouts on every tick, and event batches
//! arrive as fast as clients send them; kept forever they grow the database by about 1 MB/s
//! under the heavy scenario. The policy:
//!
//! - **Trajectories**: the newest `max_trajectories_per_job` of each job, and the newest
//!   `max_trajectories` overall. The trainers make room *before* each tick's write, so the
//!   total never exceeds the cap at any commit.
//! - **Events**: the newest `max_events`. A background pass every `retention_interval_ms`
//!   evicts the excess, so between passes the table may exceed the cap by what arrived since.
//! - **Workflows**: the newest `max_workflows`, enforced by the same pass as events. The
//!   oldest workflows with no execution running go first, with all their executions; one with
//!   an execution running is skipped until it is idle, so a client polling it never sees it
//!   vanish mid-run (and the table may exceed the cap by the workflows that are running).
//! - **Executions**: `max_executions`, by the same pass, the oldest finished ones evicted
//!   first; running executions are never evicted (the table may exceed the cap by them).
//!   Without this cap one workflow executed over and over would grow the table for as long
//!   as it stays among the newest workflows.
//! - **Jobs**: the `max_finished_jobs` that finished last, by the same pass; the job that
//!   finished longest ago goes first, with whatever trajectories it still has. Queued and
//!   running jobs are never evicted: an acknowledged job stays until it ended and that many
//!   newer jobs ended after it. A job's training data is dropped when the job ends (only the
//!   trainers read it).
//! - **Agent tasks** (`/a2a`): the newest `max_agent_tasks`, by the same pass. The oldest
//!   finished tasks go first; a task still generating is never evicted, so its stream and a
//!   `tasks/cancel` always find it.
//!
//! Evictions delete the oldest rows first in transactions of at most `eviction_batch` rows,
//! each on a pooled connection taken and given back, so requests interleave with eviction
//! and no delete holds the write lock for long. SQLite reuses the freed pages, so the file
//! stops growing once the caps are reached (it does not shrink; see docs/target-server.md).
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::watch;

use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::metrics::Metrics;
use crate::store::{self, Evictable, Evicted, RowCounts, Store};

/// The caps, from [`ServerConfig`]; 0 means "no cap".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub max_trajectories: u64,
    pub max_trajectories_per_job: u64,
    pub max_events: u64,
    pub max_workflows: u64,
    pub max_executions: u64,
    pub max_finished_jobs: u64,
    pub max_agent_tasks: u64,
    pub eviction_batch: u64,
    pub interval: Duration,
}

impl RetentionPolicy {
    pub fn from_config(config: &ServerConfig) -> Self {
        RetentionPolicy {
            max_trajectories: config.max_trajectories,
            max_trajectories_per_job: config.max_trajectories_per_job,
            max_events: config.max_events,
            max_workflows: config.max_workflows,
            max_executions: config.max_executions,
            max_finished_jobs: config.max_finished_jobs,
            max_agent_tasks: config.max_agent_tasks,
            eviction_batch: config.eviction_batch.max(1),
            interval: Duration::from_millis(config.retention_interval_ms.max(1)),
        }
    }

    /// Rows to evict so that `rows` plus `incoming` stays within `cap` (0: no cap).
    pub fn excess(cap: u64, rows: u64, incoming: u64) -> u64 {
        if cap == 0 {
            0
        } else {
            (rows + incoming).saturating_sub(cap)
        }
    }
}

/// What a batched eviction deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// The oldest rows of a table.
    Oldest(Evictable),
    /// The oldest workflows with no execution running, each with all its executions.
    IdleWorkflows,
    /// The oldest executions that have finished.
    FinishedExecutions,
    /// The jobs that finished longest ago, each with its remaining trajectories.
    FinishedJobs,
}

impl Eviction {
    /// Deletes one batch: at most `n` of what this eviction counts, and for finished jobs,
    /// whose trajectories go with them, at most `batch` rows in all.
    fn delete_batch(
        self,
        conn: &mut Connection,
        n: u64,
        batch: u64,
    ) -> Result<Evicted, ServerError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        match self {
            Eviction::Oldest(table) => store::evict_oldest(conn, table, n),
            Eviction::IdleWorkflows => store::evict_oldest_idle_workflows(conn, n, now_ms),
            Eviction::FinishedExecutions => {
                store::evict_oldest_finished_executions(conn, n, now_ms)
            }
            Eviction::FinishedJobs => store::evict_oldest_finished_jobs(conn, n, batch),
        }
    }

    /// How many of what this eviction counts (rows of its table, workflows, executions or
    /// jobs) a batch deleted.
    fn counted(self, evicted: &Evicted) -> u64 {
        match self {
            Eviction::Oldest(Evictable::Trajectories) => evicted.trajectories,
            Eviction::Oldest(Evictable::Events) => evicted.events,
            Eviction::Oldest(Evictable::AgentTasks) => evicted.agent_tasks,
            Eviction::IdleWorkflows => evicted.workflows,
            Eviction::FinishedExecutions => evicted.executions,
            Eviction::FinishedJobs => evicted.jobs,
        }
    }

    /// Whether a batch that asked for `n` found nothing more to evict. A batch of finished
    /// jobs may also have been ended by its row budget: only one short of both found nothing.
    fn exhausted(self, evicted: &Evicted, n: u64, batch: u64) -> bool {
        let short = self.counted(evicted) < n;
        match self {
            Eviction::FinishedJobs => short && evicted.jobs + evicted.trajectories < batch,
            _ => short,
        }
    }
}

/// Evicts `count` (in what `eviction` counts) in batches of at most `batch`, each on a pooled
/// connection taken and given back, yielding between batches so that requests waiting for the
/// store go first; stops early when a batch finds nothing more. Returns how many went.
pub async fn evict(
    store: &Store,
    metrics: &Metrics,
    eviction: Eviction,
    count: u64,
    batch: u64,
) -> Result<u64, ServerError> {
    let mut evicted = 0;
    while evicted < count {
        let n = batch.min(count - evicted);
        let deleted = store
            .with(move |conn| eviction.delete_batch(conn, n, batch))
            .await?;
        store.rows().remove(&deleted);
        metrics.add_evictions(&deleted);
        evicted += eviction.counted(&deleted);
        if eviction.exhausted(&deleted, n, batch) {
            break;
        }
        tokio::task::yield_now().await;
    }
    Ok(evicted)
}

/// Makes room for `incoming` trajectories under the total cap; the trainers call it before
/// each tick's write.
pub async fn make_room_for_trajectories(
    store: &Store,
    metrics: &Metrics,
    policy: &RetentionPolicy,
    incoming: u64,
) -> Result<u64, ServerError> {
    let rows = RowCounts::get(&store.rows().trajectories);
    let excess = RetentionPolicy::excess(policy.max_trajectories, rows, incoming);
    let oldest = Eviction::Oldest(Evictable::Trajectories);
    evict(store, metrics, oldest, excess, policy.eviction_batch).await
}

/// Keeps the event, workflow, execution, finished-job and agent-task tables within their caps
/// until `stop` turns true.
pub async fn run(
    store: Store,
    metrics: Arc<Metrics>,
    policy: RetentionPolicy,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(policy.interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => return,
        }
        trim_to_caps(&store, &metrics, &policy).await;
    }
}

/// One pass of [`run`]: each table in turn, its excess read just before its eviction (evicted
/// workflows take their executions with them), a failure on one table logged without
/// skipping the others.
async fn trim_to_caps(store: &Store, metrics: &Metrics, policy: &RetentionPolicy) {
    let rows = store.rows();
    for (eviction, cap, counter) in [
        (
            Eviction::Oldest(Evictable::Events),
            policy.max_events,
            &rows.events,
        ),
        (
            Eviction::IdleWorkflows,
            policy.max_workflows,
            &rows.workflows,
        ),
        (
            Eviction::FinishedExecutions,
            policy.max_executions,
            &rows.executions,
        ),
        (
            Eviction::FinishedJobs,
            policy.max_finished_jobs,
            &rows.finished_jobs,
        ),
        (
            Eviction::Oldest(Evictable::AgentTasks),
            policy.max_agent_tasks,
            &rows.agent_tasks,
        ),
    ] {
        let excess = RetentionPolicy::excess(cap, RowCounts::get(counter), 0);
        if let Err(e) = evict(store, metrics, eviction, excess, policy.eviction_batch).await {
            tracing::warn!("retention pass ({eviction:?}) failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excess_counts_what_would_pass_the_cap() {
        assert_eq!(RetentionPolicy::excess(100, 90, 5), 0);
        assert_eq!(RetentionPolicy::excess(100, 98, 5), 3);
        assert_eq!(RetentionPolicy::excess(100, 150, 0), 50);
        assert_eq!(
            RetentionPolicy::excess(0, 1_000_000, 10),
            0,
            "0 means no cap"
        );
    }
}
