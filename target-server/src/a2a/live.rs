//! A generation's life: [`start`] stores the task and spawns its driver, which ends it as
//! completed at its last chunk's deadline whoever is (or is not) listening; [`cancel`] ends it
//! early; a [`Follower`] waits for its chunks and its end, for a stream or `message/send`.
//!
//! The driver runs apart from the request that started the task so a dropped or cut stream
//! does not stop generation: a client can re-subscribe (`SubscribeToTask`,
//! `tasks/resubscribe`) and get the chunks still to come, each at its modelled deadline.
//! The owner of a task's end ([`crate::live_tasks`]) writes it to the store before publishing
//! it, so a client that saw a stream end and then calls `tasks/get` reads the final state.
use std::time::Instant;

use super::message::UserMessage;
use crate::error::ServerError;
use crate::generation::GenerationPlan;
use crate::live_tasks::{Answering, EndReceiver};
use crate::metrics::Metrics;
use crate::precise_clock::PreciseClock;
use crate::state::AppState;
use crate::store::{self, AgentTaskRow, AgentTaskState, NewAgentTask, RowCounts, Store};

/// Writes a task's end and counts it.
async fn persist_end(
    store: &Store,
    metrics: &Metrics,
    row: AgentTaskRow,
) -> Result<(), ServerError> {
    metrics.add_agent_task_ended(row.state == AgentTaskState::Completed);
    store
        .with(move |conn| {
            store::finish_agent_task(conn, &row.task_id, row.state, &row.answer, &row.updated_at)
        })
        .await
        .map(|_| ())
}

/// Writes a claimed task's end, then publishes it (even if the write failed, so followers
/// are not left waiting).
async fn finish(state: &AppState, row: AgentTaskRow) -> Result<(), ServerError> {
    let written = persist_end(&state.store, &state.metrics, row.clone()).await;
    state.live_tasks.publish_end(row);
    written
}

/// Cancels a task being generated and returns it as it ended; `None` when no generation has
/// it (unknown, already ended, or ending).
pub async fn cancel(state: &AppState, task_id: &str) -> Result<Option<AgentTaskRow>, ServerError> {
    let Some(answering) = state.live_tasks.claim(task_id) else {
        return Ok(None);
    };
    let row = answering.canceled_now();
    finish(state, row.clone()).await.map(|()| Some(row))
}

/// Starts answering `message`: draws the plan, stores the task as `working`, registers it and
/// spawns its driver. The clock of its chunk deadlines starts here.
pub async fn start(state: &AppState, message: UserMessage) -> Result<Follower, ServerError> {
    let answering = Answering {
        task_id: uuid::Uuid::new_v4().to_string(),
        context_id: message
            .context_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        artifact_id: uuid::Uuid::new_v4().to_string(),
        plan: GenerationPlan::draw(&state.faults, state.agent_chunks),
        started: Instant::now(),
    };
    let a = answering.clone();
    state
        .store
        .with(move |conn| {
            store::insert_agent_task(
                conn,
                &NewAgentTask {
                    task_id: &a.task_id,
                    context_id: &a.context_id,
                    artifact_id: &a.artifact_id,
                    created_at: &store::agent_task_timestamp(),
                },
            )
        })
        .await?;
    RowCounts::add(&state.store.rows().agent_tasks, 1);
    let end = state.live_tasks.insert(answering.clone());
    tokio::spawn(drive(state.clone(), answering.clone(), end.clone()));
    Ok(Follower {
        answering,
        end,
        clock: state.clock.clone(),
    })
}

/// Completes the task at its last chunk's deadline, unless it was canceled first.
async fn drive(state: AppState, answering: Answering, mut end: EndReceiver) {
    let deadline = answering.started + answering.plan.length();
    tokio::select! {
        biased;
        _ = end.wait_for(Option::is_some) => return,
        () = state.clock.sleep_until(deadline) => {}
    }
    if state.live_tasks.claim(&answering.task_id).is_none() {
        return;
    }
    let row = answering.ended(AgentTaskState::Completed, answering.plan.chunks);
    if let Err(e) = finish(&state, row).await {
        tracing::warn!("recording a completed agent task failed: {e}");
    }
}

/// Follows a live task `task_id` from now; `None` when it is not generating.
pub fn follow(state: &AppState, task_id: &str) -> Option<Follower> {
    let (answering, end) = state.live_tasks.follow(task_id)?;
    Some(Follower {
        answering,
        end,
        clock: state.clock.clone(),
    })
}

/// What a follower waiting for a chunk learns.
pub enum Next {
    /// The chunk is due: send it.
    Due,
    /// The task ended without it (canceled): end with this task.
    Ended(AgentTaskRow),
}

/// One listener of a generation: it sleeps until each chunk's absolute deadline itself, so
/// every follower (the first stream or a re-subscription) sees the modelled times.
pub struct Follower {
    pub answering: Answering,
    end: EndReceiver,
    clock: PreciseClock,
}

impl Follower {
    /// Waits until chunk `i` is due, unless the task is canceled first. A completed task has
    /// every chunk, so its end does not stop the chunks before it.
    pub async fn until_due(&mut self, i: u32) -> Next {
        let deadline = self.answering.started + self.answering.plan.due(i);
        let ended = tokio::select! {
            biased;
            ended = self.end.wait_for(|e| e.as_ref().is_some_and(|r| r.state != AgentTaskState::Completed)) => ended.map(|e| e.clone()),
            () = self.clock.sleep_until(deadline) => return Next::Due,
        };
        match ended {
            Ok(Some(row)) => Next::Ended(row),
            // The registry went away without an end (shutdown): the chunk is still due.
            _ => {
                self.clock.sleep_until(deadline).await;
                Next::Due
            }
        }
    }

    /// The task as it ended, once it has.
    pub async fn end(&mut self) -> AgentTaskRow {
        match self.end.wait_for(Option::is_some).await {
            Ok(row) => row.clone().expect("waited for an end"),
            Err(_) => self.answering.canceled_now(),
        }
    }
}
