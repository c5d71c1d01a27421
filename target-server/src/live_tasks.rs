//! The agent tasks being generated, by task id: how `tasks/cancel` reaches a generation that
//! another request drives ([`crate::a2a`]).
//!
//! A task ends exactly once. Whoever takes it out of the registry ([`LiveTasks::take`]) owns
//! its end: the request generating it (completed, after its last chunk), `tasks/cancel`
//! (canceled), or the request's drop when its client went away mid-answer (canceled).
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::generation::GenerationPlan;
use crate::metrics::Metrics;
use crate::store::{self, AgentTaskRow, AgentTaskState};

/// What identifies a task's answer and fixes its timing.
#[derive(Debug, Clone)]
pub struct Answering {
    pub task_id: String,
    pub context_id: String,
    pub artifact_id: String,
    pub plan: GenerationPlan,
    /// The instant chunk deadlines count from.
    pub started: Instant,
}

impl Answering {
    /// The task as it ends in `state` with its first `chunks` chunks, now.
    pub fn ended(&self, state: AgentTaskState, chunks: u32) -> AgentTaskRow {
        AgentTaskRow {
            task_id: self.task_id.clone(),
            context_id: self.context_id.clone(),
            state,
            artifact_id: self.artifact_id.clone(),
            answer: GenerationPlan::answer(chunks),
            updated_at: store::agent_task_timestamp(),
        }
    }

    /// The task as it ends canceled now, with the chunks that were due by now.
    pub fn canceled_now(&self) -> AgentTaskRow {
        let chunks = self.plan.chunks_due(self.started.elapsed());
        self.ended(AgentTaskState::Canceled, chunks)
    }
}

/// A registered generation.
pub struct LiveTask {
    pub answering: Answering,
    /// Hands the final (canceled) task to the generation.
    pub cancel: oneshot::Sender<AgentTaskRow>,
}

/// The tasks being generated, by task id. At most one per capacity slot.
pub struct LiveTasks {
    tasks: Mutex<HashMap<String, LiveTask>>,
    metrics: Arc<Metrics>,
}

impl LiveTasks {
    pub fn new(metrics: Arc<Metrics>) -> LiveTasks {
        LiveTasks {
            tasks: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    pub fn insert(&self, task: LiveTask) {
        let id = task.answering.task_id.clone();
        self.tasks
            .lock()
            .expect("live tasks poisoned")
            .insert(id, task);
        self.metrics
            .agent_generations
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Takes a task out, making the caller the owner of its end.
    pub fn take(&self, task_id: &str) -> Option<LiveTask> {
        let taken = self
            .tasks
            .lock()
            .expect("live tasks poisoned")
            .remove(task_id);
        if taken.is_some() {
            self.metrics
                .agent_generations
                .fetch_sub(1, Ordering::Relaxed);
        }
        taken
    }
}
