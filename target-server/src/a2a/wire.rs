//! The A2A objects this agent sends, in the spec's JSON shapes: `Task`, `Artifact`,
//! `TaskArtifactUpdateEvent` and `TaskStatusUpdateEvent`. Kept apart from the handlers so the
//! wire format reads in one place (docs/target-server.md shows examples of each).
use serde_json::{json, Value};

use crate::generation::GenerationPlan;
use crate::store::{AgentTaskRow, AgentTaskState};

/// The name every answer artifact carries.
pub const ARTIFACT_NAME: &str = "answer";

/// An artifact with one text part.
fn artifact(artifact_id: &str, text: &str) -> Value {
    json!({
        "artifactId": artifact_id, "name": ARTIFACT_NAME,
        "parts": [{ "kind": "text", "text": text }],
    })
}

fn status(state: AgentTaskState, timestamp: &str) -> Value {
    json!({ "state": state.as_str(), "timestamp": timestamp })
}

/// A `Task`: its status, and its answer as one artifact once the task has ended with text
/// (a working task's `artifacts` is empty; the chunks so far are in its stream).
pub fn task(row: &AgentTaskRow) -> Value {
    let artifacts = if row.answer.is_empty() {
        json!([])
    } else {
        json!([artifact(&row.artifact_id, &row.answer)])
    };
    json!({
        "kind": "task", "id": row.task_id, "contextId": row.context_id,
        "status": status(row.state, &row.updated_at), "artifacts": artifacts,
    })
}

/// Who a streamed event belongs to.
pub struct TaskIds<'a> {
    pub task_id: &'a str,
    pub context_id: &'a str,
    pub artifact_id: &'a str,
}

/// The `TaskArtifactUpdateEvent` carrying chunk `i` of `chunks`: the first starts the
/// artifact, each later one is appended to it, and the last says so.
pub fn artifact_update(ids: &TaskIds<'_>, i: u32, chunks: u32) -> Value {
    json!({
        "kind": "artifact-update", "taskId": ids.task_id, "contextId": ids.context_id,
        "artifact": artifact(ids.artifact_id, &GenerationPlan::chunk_text(i)),
        "append": i > 0, "lastChunk": i + 1 == chunks,
    })
}

/// The `TaskStatusUpdateEvent` that ends a stream.
pub fn final_status_update(row: &AgentTaskRow) -> Value {
    json!({
        "kind": "status-update", "taskId": row.task_id, "contextId": row.context_id,
        "status": status(row.state, &row.updated_at), "final": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: AgentTaskState, answer: &str) -> AgentTaskRow {
        AgentTaskRow {
            task_id: "t".into(),
            context_id: "c".into(),
            state,
            artifact_id: "a".into(),
            answer: answer.into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_completed_task_carries_its_answer() {
        let t = task(&row(AgentTaskState::Completed, "The agent "));
        assert_eq!(t["kind"], "task");
        assert_eq!(t["status"]["state"], "completed");
        assert_eq!(
            t["artifacts"][0]["parts"][0],
            json!({ "kind": "text", "text": "The agent " })
        );
        assert_eq!(
            task(&row(AgentTaskState::Working, ""))["artifacts"],
            json!([])
        );
    }

    #[test]
    fn artifact_updates_append_after_the_first_and_mark_the_last() {
        let ids = TaskIds {
            task_id: "t",
            context_id: "c",
            artifact_id: "a",
        };
        let first = artifact_update(&ids, 0, 3);
        assert_eq!(
            (first["append"].clone(), first["lastChunk"].clone()),
            (json!(false), json!(false))
        );
        let last = artifact_update(&ids, 2, 3);
        assert_eq!(
            (last["append"].clone(), last["lastChunk"].clone()),
            (json!(true), json!(true))
        );
        assert_eq!(last["artifact"]["artifactId"], "a");
        let end = final_status_update(&row(AgentTaskState::Canceled, "x"));
        assert_eq!(
            (end["kind"].clone(), end["final"].clone()),
            (json!("status-update"), json!(true))
        );
    }
}
