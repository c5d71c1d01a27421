//! The orchestration REST API: workflows (validated as a DAG), executions that progress
//! through their tasks on a plan ([`crate::schedule`]), and event batches.
use std::collections::{HashMap, VecDeque};

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ServerError;
use crate::event_time;
use crate::rest_error::ApiError;
use crate::schedule::{self, PlannedTask, TaskState};
use crate::state::AppState;
use crate::store::{self, NewEvent, RowCounts};

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
    if created {
        RowCounts::add(&state.store.rows().workflows, 1);
    } else {
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

/// The plan of a stored workflow body's tasks (indices into `tasks`), as [`schedule::plan`]
/// wants them. The body was validated as a DAG when the workflow was created.
fn planned_tasks(body: &Value) -> Result<Vec<(String, PlannedTask)>, ApiError> {
    let tasks: Vec<Task> =
        serde_json::from_value(body.get("tasks").cloned().unwrap_or_default())
            .map_err(|e| ApiError::from(ServerError::Store(format!("stored workflow: {e}"))))?;
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.task_id.as_str(), i))
        .collect();
    Ok(tasks
        .iter()
        .map(|t| {
            let depends_on = t
                .depends_on
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect();
            (
                t.task_id.clone(),
                PlannedTask {
                    depends_on,
                    parallel: t.parallel,
                },
            )
        })
        .collect())
}

fn millis_to_rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Starts an execution: plans its tasks now and stores when it finishes.
pub async fn execute(
    state: &AppState,
    workflow_id: String,
    body: Value,
) -> Result<(StatusCode, Value), ApiError> {
    let input = body.get("input_data").cloned().unwrap_or(Value::Null);
    let execution_id = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now();
    let started_at_ms = now.timestamp_millis();
    let task_ms = state.workflow_task_ms.max(1);
    let (wid, eid, at) = (workflow_id.clone(), execution_id.clone(), now.to_rfc3339());
    let finishes_at_ms = state
        .store
        .with(move |conn| {
            // Read and insert under the write lock, so retention cannot evict the workflow
            // between the two and leave an execution without its workflow.
            let tx = store::write_transaction(conn)?;
            let Some(body) = store::workflow_body(&tx, &wid)? else {
                return Ok(None);
            };
            let tasks = planned_tasks(&body).map_err(|e| ServerError::Store(e.message))?;
            let plan: Vec<PlannedTask> = tasks.into_iter().map(|(_, t)| t).collect();
            let finishes_at_ms = started_at_ms
                .saturating_add(schedule::makespan_ms(&schedule::plan(&plan, task_ms)) as i64);
            store::insert_execution(
                &tx,
                &store::NewExecution {
                    execution_id: &eid,
                    workflow_id: &wid,
                    input: &input,
                    created_at: &at,
                    started_at_ms,
                    finishes_at_ms,
                    task_ms: task_ms as i64,
                },
            )?;
            tx.commit()?;
            Ok(Some(finishes_at_ms))
        })
        .await?;
    let Some(finishes_at_ms) = finishes_at_ms else {
        return Err(ApiError::not_found(format!("no workflow `{workflow_id}`")));
    };
    RowCounts::add(&state.store.rows().executions, 1);
    Ok((
        StatusCode::OK,
        json!({
            "execution_id": execution_id, "workflow_id": workflow_id, "status": "running",
            "started_at": millis_to_rfc3339(started_at_ms),
            "estimated_completion_at": millis_to_rfc3339(finishes_at_ms),
        }),
    ))
}

/// A workflow's status, from its executions at this moment:
/// `idle` (never executed), `active` (at least one execution running), `completed` (executed,
/// none running).
pub async fn status(
    state: &AppState,
    workflow_id: String,
) -> Result<(StatusCode, Value), ApiError> {
    let wid = workflow_id.clone();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let found = state
        .store
        .with(move |conn| store::workflow_status(conn, &wid, now_ms))
        .await?;
    let Some(found) = found else {
        return Err(ApiError::not_found(format!("no workflow `{workflow_id}`")));
    };
    let status = if found.running > 0 {
        "active"
    } else if found.completed > 0 {
        "completed"
    } else {
        "idle"
    };
    Ok((
        StatusCode::OK,
        json!({
            "workflow_id": workflow_id, "status": status, "created_at": found.created_at,
            "executions": { "running": found.running, "completed": found.completed },
        }),
    ))
}

/// One execution and each of its tasks at this moment (`pending`, `running`, `completed`).
pub async fn execution(
    state: &AppState,
    execution_id: String,
) -> Result<(StatusCode, Value), ApiError> {
    let eid = execution_id.clone();
    let found = state
        .store
        .with(move |conn| {
            let Some(execution) = store::get_execution(conn, &eid)? else {
                return Ok(None);
            };
            let body = store::workflow_body(conn, &execution.workflow_id)?;
            Ok(Some((execution, body)))
        })
        .await?;
    let Some((execution, body)) = found else {
        return Err(ApiError::not_found(format!(
            "no execution `{execution_id}`"
        )));
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let elapsed = now_ms.saturating_sub(execution.started_at_ms).max(0) as u64;
    let tasks = match body {
        // Executions recorded by older servers have no plan (task_ms 0): they are completed.
        Some(body) if execution.task_ms > 0 => planned_tasks(&body)?,
        _ => Vec::new(),
    };
    let plan: Vec<PlannedTask> = tasks.iter().map(|(_, t)| t.clone()).collect();
    let slots = schedule::plan(&plan, execution.task_ms as u64);
    let at = |offset: u64| millis_to_rfc3339(execution.started_at_ms.saturating_add(offset as i64));
    let task_views: Vec<Value> = tasks
        .iter()
        .zip(&slots)
        .map(|((id, _), slot)| {
            let state = slot.state_at(elapsed);
            json!({
                "task_id": id, "status": state.as_str(),
                "started_at": (state != TaskState::Pending).then(|| at(slot.start_ms)),
                "finished_at": (state == TaskState::Completed).then(|| at(slot.finish_ms)),
            })
        })
        .collect();
    let done = now_ms >= execution.finishes_at_ms;
    Ok((
        StatusCode::OK,
        json!({
            "execution_id": execution.execution_id, "workflow_id": execution.workflow_id,
            "status": if done { "completed" } else { "running" },
            "created_at": execution.created_at,
            "started_at": millis_to_rfc3339(execution.started_at_ms),
            "finished_at": if done { millis_to_rfc3339(execution.finishes_at_ms) } else { None },
            "tasks": task_views,
        }),
    ))
}

#[derive(Deserialize)]
struct Event {
    event_id: String,
    event_type: String,
    #[serde(default)]
    workflow_id: Option<String>,
    /// An RFC 3339 string or Unix epoch seconds: checked by [`event_time::parse`].
    #[serde(default)]
    timestamp: Value,
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
    let mut events = Vec::with_capacity(batch.events.len());
    for (i, e) in batch.events.into_iter().enumerate() {
        let timestamp = event_time::parse(&e.timestamp).map_err(|problem| {
            ApiError::unprocessable(&format!("events[{i}].timestamp"), problem)
        })?;
        events.push(NewEvent {
            event_id: e.event_id,
            event_type: e.event_type,
            workflow_id: e.workflow_id,
            timestamp,
            data: e.data.to_string(),
        });
    }
    let accepted = state
        .store
        .with(move |conn| store::insert_events(conn, &events))
        .await?;
    RowCounts::add(&state.store.rows().events, accepted as u64);
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
