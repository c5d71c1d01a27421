//! The orchestration REST API: workflows (validated as a DAG), executions, event batches.
use std::collections::{HashMap, VecDeque};

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::rest_error::ApiError;
use crate::state::AppState;
use crate::store::{self, NewEvent};

#[derive(Deserialize)]
pub struct Task {
    pub task_id: String,
    #[serde(default)]
    pub agent_role: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub parallel: bool,
}

#[derive(Deserialize)]
pub struct Workflow {
    pub workflow_id: String,
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    pub orchestration_pattern: String,
    #[serde(default)]
    pub agents: Value,
    pub tasks: Vec<Task>,
}

const PATTERNS: [&str; 4] = ["supervisor", "hierarchical", "handoff", "swarm"];

/// Checks ids and dependencies; returns a cycle (task ids) when `depends_on` has one.
pub fn validate_tasks(tasks: &[Task]) -> Result<(), ApiError> {
    let mut index = HashMap::new();
    for (i, t) in tasks.iter().enumerate() {
        if index.insert(t.task_id.as_str(), i).is_some() {
            return Err(ApiError::unprocessable(
                &format!("tasks[{i}].task_id"),
                format!("duplicate task id `{}`", t.task_id),
            ));
        }
    }
    let mut indegree = vec![0usize; tasks.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (i, t) in tasks.iter().enumerate() {
        for dep in &t.depends_on {
            let Some(&d) = index.get(dep.as_str()) else {
                return Err(ApiError::unprocessable(
                    &format!("tasks[{i}].depends_on"),
                    format!("unknown task `{dep}`"),
                ));
            };
            indegree[i] += 1;
            dependents[d].push(i);
        }
    }
    // Kahn's algorithm: whatever cannot be ordered sits on a cycle or behind one.
    let mut ready: VecDeque<usize> = (0..tasks.len()).filter(|i| indegree[*i] == 0).collect();
    let mut ordered = 0;
    while let Some(i) = ready.pop_front() {
        ordered += 1;
        for &j in &dependents[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push_back(j);
            }
        }
    }
    if ordered < tasks.len() {
        let stuck: Vec<&str> = (0..tasks.len())
            .filter(|i| indegree[*i] > 0)
            .map(|i| tasks[i].task_id.as_str())
            .collect();
        return Err(ApiError::unprocessable(
            "tasks.depends_on",
            format!("dependencies form a cycle among tasks {}", stuck.join(", ")),
        )
        .with_detail(json!({ "cycle": stuck })));
    }
    Ok(())
}

pub async fn create(state: &AppState, body: Value) -> Result<(StatusCode, Value), ApiError> {
    let workflow: Workflow = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid workflow: {e}")))?;
    if workflow.workflow_id.trim().is_empty() {
        return Err(ApiError::unprocessable("workflow_id", "must not be empty"));
    }
    if !PATTERNS.contains(&workflow.orchestration_pattern.as_str()) {
        return Err(ApiError::unprocessable(
            "orchestration_pattern",
            format!(
                "`{}` is not one of {}",
                workflow.orchestration_pattern,
                PATTERNS.join(", ")
            ),
        ));
    }
    if workflow.tasks.is_empty() {
        return Err(ApiError::unprocessable(
            "tasks",
            "a workflow needs at least one task",
        ));
    }
    validate_tasks(&workflow.tasks)?;
    let now = chrono::Utc::now().to_rfc3339();
    let (id, at) = (workflow.workflow_id.clone(), now.clone());
    let created = state
        .store
        .with(move |conn| store::insert_workflow(conn, &id, &body, &at))
        .await?;
    if !created {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("workflow `{}` already exists", workflow.workflow_id),
        ));
    }
    let parallel = workflow.tasks.iter().filter(|t| t.parallel).count();
    let roles = workflow
        .tasks
        .iter()
        .filter(|t| t.agent_role.is_some())
        .count();
    Ok((
        StatusCode::CREATED,
        json!({
            "workflow_id": workflow.workflow_id, "name": workflow.name, "version": workflow.version,
            "orchestration_pattern": workflow.orchestration_pattern, "task_count": workflow.tasks.len(),
            "parallel_tasks": parallel, "tasks_with_roles": roles,
            "agent_count": workflow.agents.as_object().map_or(0, |a| a.len()), "created_at": now,
        }),
    ))
}

pub async fn execute(
    state: &AppState,
    workflow_id: String,
    body: Value,
) -> Result<(StatusCode, Value), ApiError> {
    let input = body.get("input_data").cloned().unwrap_or(Value::Null);
    let execution_id = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now().to_rfc3339();
    let (wid, eid, at) = (workflow_id.clone(), execution_id.clone(), now.clone());
    let found = state
        .store
        .with(move |conn| {
            if !store::workflow_exists(conn, &wid)? {
                return Ok(false);
            }
            store::insert_execution(conn, &eid, &wid, &input, &at)?;
            Ok(true)
        })
        .await?;
    if !found {
        return Err(ApiError::not_found(format!("no workflow `{workflow_id}`")));
    }
    Ok((
        StatusCode::OK,
        json!({ "execution_id": execution_id, "workflow_id": workflow_id, "status": "running", "started_at": now }),
    ))
}

pub async fn status(
    state: &AppState,
    workflow_id: String,
) -> Result<(StatusCode, Value), ApiError> {
    let wid = workflow_id.clone();
    let found = state
        .store
        .with(move |conn| store::workflow_status(conn, &wid))
        .await?;
    let Some(found) = found else {
        return Err(ApiError::not_found(format!("no workflow `{workflow_id}`")));
    };
    let created_at = found.created_at;
    let executions: serde_json::Map<String, Value> = found
        .executions
        .into_iter()
        .map(|(s, n)| (s, json!(n)))
        .collect();
    Ok((
        StatusCode::OK,
        json!({ "workflow_id": workflow_id, "status": "active", "created_at": created_at, "executions": executions }),
    ))
}

#[derive(Deserialize)]
struct Event {
    event_id: String,
    event_type: String,
    #[serde(default)]
    workflow_id: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct EventBatch {
    events: Vec<Event>,
}

pub async fn publish_events(
    state: &AppState,
    body: Value,
) -> Result<(StatusCode, Value), ApiError> {
    let batch: EventBatch = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid event batch: {e}")))?;
    if batch.events.is_empty() {
        return Err(ApiError::unprocessable(
            "events",
            "a batch needs at least one event",
        ));
    }
    let events: Vec<NewEvent> = batch
        .events
        .into_iter()
        .map(|e| NewEvent {
            event_id: e.event_id,
            event_type: e.event_type,
            workflow_id: e.workflow_id,
            timestamp: e.timestamp,
            data: e.data.to_string(),
        })
        .collect();
    let accepted = state
        .store
        .with(move |conn| store::insert_events(conn, &events))
        .await?;
    state.metrics.add_events(accepted as u64);
    Ok((StatusCode::OK, json!({ "accepted": accepted })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, deps: &[&str]) -> Task {
        Task {
            task_id: id.into(),
            agent_role: None,
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            parallel: false,
        }
    }

    #[test]
    fn chain_is_a_dag() {
        assert!(
            validate_tasks(&[task("a", &[]), task("b", &["a"]), task("c", &["b", "a"])]).is_ok()
        );
    }

    #[test]
    fn cycle_is_named() {
        let err = validate_tasks(&[
            task("a", &["c"]),
            task("b", &["a"]),
            task("c", &["b"]),
            task("d", &[]),
        ])
        .unwrap_err();
        assert!(err.message.contains("a, b, c"), "{}", err.message);
    }

    #[test]
    fn unknown_dependency_names_the_field() {
        let err = validate_tasks(&[task("a", &["zz"])]).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("tasks[0].depends_on"));
    }
}
