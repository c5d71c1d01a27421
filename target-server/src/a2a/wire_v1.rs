//! The A2A 1.0 objects this agent sends, in the proto3 JSON mapping the official SDK writes
//! (`MessageToDict`: lowerCamelCase names, enums by name, empty lists left out): `Task`,
//! `TaskArtifactUpdateEvent`, `TaskStatusUpdateEvent`, and the `StreamResponse` /
//! `SendMessageResponse` wrappers (`{task}`, `{artifactUpdate}`, `{statusUpdate}`). 1.0 has no
//! `kind` tags and no `final` flag: a stream ends after a terminal status.
use serde_json::{json, Value};

use super::wire::{TaskIds, ARTIFACT_NAME};
use crate::generation::GenerationPlan;
use crate::store::{AgentTaskRow, AgentTaskState};

/// The 1.0 `TaskState` name of a stored state.
pub fn state_name(state: AgentTaskState) -> &'static str {
    match state {
        AgentTaskState::Working => "TASK_STATE_WORKING",
        AgentTaskState::Completed => "TASK_STATE_COMPLETED",
        AgentTaskState::Canceled => "TASK_STATE_CANCELED",
        AgentTaskState::Failed => "TASK_STATE_FAILED",
    }
}

fn artifact(artifact_id: &str, text: &str) -> Value {
    json!({ "artifactId": artifact_id, "name": ARTIFACT_NAME, "parts": [{ "text": text }] })
}

fn status(row: &AgentTaskRow) -> Value {
    json!({ "state": state_name(row.state), "timestamp": row.updated_at })
}

/// A `Task`: its status, and its answer (so far) as one artifact when it has text.
pub fn task(row: &AgentTaskRow) -> Value {
    let mut task = json!({ "id": row.task_id, "contextId": row.context_id, "status": status(row) });
    if !row.answer.is_empty() {
        task["artifacts"] = json!([artifact(&row.artifact_id, &row.answer)]);
    }
    task
}

/// `SendMessageResponse` / the first `StreamResponse` of a stream: `{task}`.
pub fn task_response(row: &AgentTaskRow) -> Value {
    json!({ "task": task(row) })
}

/// The `StreamResponse` carrying chunk `i` of `chunks`.
pub fn artifact_update(ids: &TaskIds<'_>, i: u32, chunks: u32) -> Value {
    json!({ "artifactUpdate": {
        "taskId": ids.task_id, "contextId": ids.context_id,
        "artifact": artifact(ids.artifact_id, &GenerationPlan::chunk_text(i)),
        "append": i > 0, "lastChunk": i + 1 == chunks,
    } })
}

/// The `StreamResponse` that ends a stream: the task's terminal status.
pub fn final_status_update(row: &AgentTaskRow) -> Value {
    json!({ "statusUpdate": {
        "taskId": row.task_id, "contextId": row.context_id, "status": status(row),
    } })
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
    fn the_1_0_shapes_have_no_kind_and_name_states_in_full() {
        let t = task_response(&row(AgentTaskState::Completed, "The "));
        assert_eq!(t["task"]["status"]["state"], "TASK_STATE_COMPLETED");
        assert_eq!(
            t["task"]["artifacts"][0]["parts"][0],
            json!({ "text": "The " })
        );
        assert!(t["task"].get("kind").is_none());
        assert!(task(&row(AgentTaskState::Working, ""))
            .get("artifacts")
            .is_none());
        let ids = TaskIds {
            task_id: "t",
            context_id: "c",
            artifact_id: "a",
        };
        let u = &artifact_update(&ids, 1, 2)["artifactUpdate"];
        assert_eq!(
            (u["append"].clone(), u["lastChunk"].clone()),
            (json!(true), json!(true))
        );
        let end = final_status_update(&row(AgentTaskState::Canceled, ""));
        assert_eq!(
            end["statusUpdate"]["status"]["state"],
            "TASK_STATE_CANCELED"
        );
        assert!(end["statusUpdate"].get("final").is_none());
    }
}
