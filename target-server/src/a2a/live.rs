//! The [`Generation`] a request drives from its first chunk to its end, and `tasks/cancel`'s
//! way to stop one another request drives.
//!
//! The owner of a task's end ([`crate::live_tasks`]) writes the final state to the store; a
//! canceler then hands the final task to the generation, which stops at once and ends its
//! stream with it. The hand-over comes after the write, so a client that saw the stream end
//! and then calls `tasks/get` reads the final state.
use std::time::Instant;

use tokio::sync::oneshot;

use super::message::UserMessage;
use crate::error::ServerError;
use crate::generation::GenerationPlan;
use crate::live_tasks::{Answering, LiveTask};
use crate::metrics::Metrics;
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

/// Cancels a task being generated and returns it as it ended; `None` when no generation has
/// it (unknown, or already ended).
pub async fn cancel(state: &AppState, task_id: &str) -> Result<Option<AgentTaskRow>, ServerError> {
    let Some(live) = state.live_tasks.take(task_id) else {
        return Ok(None);
    };
    let row = live.answering.canceled_now();
    let written = persist_end(&state.store, &state.metrics, row.clone()).await;
    let _ = live.cancel.send(row.clone());
    written.map(|()| Some(row))
}

/// What a generation waiting for its next chunk learns.
pub enum Next {
    /// The chunk is due: send it.
    Due,
    /// The task was canceled: stop, and end with this task.
    Canceled(AgentTaskRow),
}

/// One request's generation of an answer, from its start to its end. Dropped before its end
/// (the client went away), it ends the task as canceled.
pub struct Generation {
    pub answering: Answering,
    state: AppState,
    canceled: oneshot::Receiver<AgentTaskRow>,
    ended: bool,
}

impl Generation {
    /// Starts answering `message`: draws the plan, stores the task as `working` and registers
    /// it. The clock of its chunk deadlines starts here.
    pub async fn start(state: &AppState, message: UserMessage) -> Result<Generation, ServerError> {
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
        let (cancel, canceled) = oneshot::channel();
        state.live_tasks.insert(LiveTask {
            answering: answering.clone(),
            cancel,
        });
        Ok(Generation {
            answering,
            state: state.clone(),
            canceled,
            ended: false,
        })
    }

    /// Waits until chunk `i` is due, on its absolute deadline (on the server's precise clock),
    /// unless the task is canceled first. After [`Next::Canceled`] the generation has ended.
    pub async fn until_due(&mut self, i: u32) -> Next {
        let deadline = self.answering.started + self.answering.plan.due(i);
        tokio::select! {
            biased;
            canceled = &mut self.canceled => {
                self.ended = true;
                Next::Canceled(canceled.unwrap_or_else(|_| self.answering.canceled_now()))
            }
            () = self.state.clock.sleep_until(deadline) => Next::Due,
        }
    }

    /// Ends the generation after its last chunk: the task completes with the whole answer,
    /// unless a cancel took it first (then it ends as that cancel left it).
    pub async fn complete(&mut self) -> Result<AgentTaskRow, ServerError> {
        self.ended = true;
        if self
            .state
            .live_tasks
            .take(&self.answering.task_id)
            .is_none()
        {
            let canceled = (&mut self.canceled).await;
            return Ok(canceled.unwrap_or_else(|_| self.answering.canceled_now()));
        }
        let row = self
            .answering
            .ended(AgentTaskState::Completed, self.answering.plan.chunks);
        persist_end(&self.state.store, &self.state.metrics, row.clone()).await?;
        Ok(row)
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let Some(live) = self.state.live_tasks.take(&self.answering.task_id) else {
            return;
        };
        // Dropped mid-answer: the client went away, and its request with it.
        let row = live.answering.canceled_now();
        let (store, metrics) = (self.state.store.clone(), self.state.metrics.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = persist_end(&store, &metrics, row).await {
                    tracing::warn!("ending an abandoned agent task failed: {e}");
                }
            });
        }
    }
}
