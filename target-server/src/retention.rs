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
//! - **Agent tasks** (`/a2a`): the newest `max_agent_tasks`, enforced by the same pass. The
//!   oldest finished tasks go first; a task still generating is never evicted, so its stream
//!   and a `tasks/cancel` always find it.
//! - **Jobs** are never evicted. A job's training data is dropped when the job ends (only the
//!   trainers read it); its row, status, metrics and cost stay.
//!
//! Evictions delete the oldest rows first in transactions of at most `eviction_batch` rows,
//! each on a pooled connection taken and given back, so requests interleave with eviction
//! and no delete holds the write lock for long. SQLite reuses the freed pages, so the file
//! stops growing once the caps are reached (it does not shrink; see docs/target-server.md).
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::metrics::Metrics;
use crate::store::{self, Evictable, RowCounts, Store};

/// The caps, from [`ServerConfig`]; 0 means "no cap".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub max_trajectories: u64,
    pub max_trajectories_per_job: u64,
    pub max_events: u64,
    pub max_workflows: u64,
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

/// The in-memory row count of `table`.
fn row_count(store: &Store, table: Evictable) -> &AtomicU64 {
    match table {
        Evictable::Trajectories => &store.rows().trajectories,
        Evictable::Events => &store.rows().events,
        Evictable::AgentTasks => &store.rows().agent_tasks,
    }
}

/// One pass of the background trim: evicts what `table` holds over `cap`, logging a failure
/// (the next pass tries again).
async fn trim_to_cap(
    store: &Store,
    metrics: &Metrics,
    table: Evictable,
    cap: u64,
    policy: &RetentionPolicy,
) {
    let excess = RetentionPolicy::excess(cap, RowCounts::get(row_count(store, table)), 0);
    if let Err(e) = evict(store, metrics, table, excess, policy.eviction_batch).await {
        tracing::warn!("{} retention pass failed: {e}", table.table());
    }
}

/// Evicts `count` of the oldest rows of `table` in batches; returns how many went.
pub async fn evict(
    store: &Store,
    metrics: &Metrics,
    table: Evictable,
    count: u64,
    batch: u64,
) -> Result<u64, ServerError> {
    in_batches(count, batch, |n| async move {
        let deleted = store
            .with(move |conn| store::evict_oldest(conn, table, n))
            .await?;
        RowCounts::sub(row_count(store, table), deleted);
        metrics.add_evictions(table, deleted);
        Ok(deleted)
    })
    .await
}

/// Evicts `count` of the oldest idle workflows and their executions in batches; returns how
/// many workflows went (fewer when the others have executions running).
pub async fn evict_workflows(
    store: &Store,
    metrics: &Metrics,
    count: u64,
    batch: u64,
) -> Result<u64, ServerError> {
    in_batches(count, batch, |n| async move {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let deleted = store
            .with(move |conn| store::evict_oldest_idle_workflows(conn, n, now_ms))
            .await?;
        RowCounts::sub(&store.rows().workflows, deleted.workflows);
        metrics.add_workflow_evictions(deleted);
        Ok(deleted.workflows)
    })
    .await
}

/// Runs `delete_batch(n)` for batches of at most `batch` rows until `count` went or a batch
/// came back short (nothing more to evict), yielding between batches so requests waiting for
/// the store go first; returns how many went.
async fn in_batches<F, Fut>(count: u64, batch: u64, mut delete_batch: F) -> Result<u64, ServerError>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<u64, ServerError>>,
{
    let mut evicted = 0;
    while evicted < count {
        let n = batch.min(count - evicted);
        let deleted = delete_batch(n).await?;
        evicted += deleted;
        if deleted < n {
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
    evict(
        store,
        metrics,
        Evictable::Trajectories,
        excess,
        policy.eviction_batch,
    )
    .await
}

/// Keeps the event, workflow and agent task tables within their caps until `stop` turns true.
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
        trim_to_cap(
            &store,
            &metrics,
            Evictable::Events,
            policy.max_events,
            &policy,
        )
        .await;
        let rows = RowCounts::get(&store.rows().workflows);
        let excess = RetentionPolicy::excess(policy.max_workflows, rows, 0);
        if let Err(e) = evict_workflows(&store, &metrics, excess, policy.eviction_batch).await {
            tracing::warn!("workflow retention pass failed: {e}");
        }
        let cap = policy.max_agent_tasks;
        trim_to_cap(&store, &metrics, Evictable::AgentTasks, cap, &policy).await;
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
