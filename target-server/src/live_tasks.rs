//! The agent tasks being generated, by task id: how `tasks/cancel` reaches a generation, and
//! how any number of streams (the one that started the task, and re-subscriptions after a cut
//! one) follow it ([`crate::a2a`]).
//!
//! A task ends exactly once. Whoever claims it ([`LiveTasks::claim`]) owns its end: the
//! generation's driver (completed, at its last chunk's deadline) or `tasks/cancel` (canceled).
//! A client that goes away does not end it: generation continues so that a client can
//! re-subscribe and get the chunks it missed, as an A2A server keeps a task running when its
//! stream is lost. The owner writes the end to the store and then publishes it
//! ([`LiveTasks::publish_end`]), which takes the task out of the registry: so a follower that
//! finds no live task reads its end from the store.
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::watch;

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

    /// How many chunks are due by now.
    pub fn chunks_due_now(&self) -> u32 {
        self.plan.chunks_due(self.started.elapsed())
    }

    /// The task as it ends canceled now, with the chunks that were due by now.
    pub fn canceled_now(&self) -> AgentTaskRow {
        self.ended(AgentTaskState::Canceled, self.chunks_due_now())
    }
}

/// Where a task's end is published: `None` while it generates, then the ended task.
pub type EndReceiver = watch::Receiver<Option<AgentTaskRow>>;

/// A registered generation.
struct LiveTask {
    answering: Answering,
    end: watch::Sender<Option<AgentTaskRow>>,
    /// Someone owns the end and is writing it.
    claimed: bool,
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

    /// Registers a generation; the receiver learns its end.
    pub fn insert(&self, answering: Answering) -> EndReceiver {
        let (end, ended) = watch::channel(None);
        let id = answering.task_id.clone();
        self.tasks.lock().expect("live tasks poisoned").insert(
            id,
            LiveTask {
                answering,
                end,
                claimed: false,
            },
        );
        self.metrics
            .agent_generations
            .fetch_add(1, Ordering::Relaxed);
        ended
    }

    /// A live task's answer and a receiver of its end, to follow it; `None` once its end was
    /// published (or for an unknown id).
    pub fn follow(&self, task_id: &str) -> Option<(Answering, EndReceiver)> {
        let tasks = self.tasks.lock().expect("live tasks poisoned");
        tasks
            .get(task_id)
            .map(|t| (t.answering.clone(), t.end.subscribe()))
    }

    /// Makes the caller the owner of the task's end, if nobody is yet.
    pub fn claim(&self, task_id: &str) -> Option<Answering> {
        let mut tasks = self.tasks.lock().expect("live tasks poisoned");
        let task = tasks.get_mut(task_id)?;
        if task.claimed {
            return None;
        }
        task.claimed = true;
        Some(task.answering.clone())
    }

    /// Publishes a claimed task's end (already written to the store) to its followers and
    /// takes it out of the registry.
    pub fn publish_end(&self, row: AgentTaskRow) {
        let taken = self
            .tasks
            .lock()
            .expect("live tasks poisoned")
            .remove(&row.task_id);
        if let Some(task) = taken {
            self.metrics
                .agent_generations
                .fetch_sub(1, Ordering::Relaxed);
            task.end.send_replace(Some(row));
        }
    }
}
