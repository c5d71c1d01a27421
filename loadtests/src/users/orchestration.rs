//! `OrchestrationUser`: builds workflows, runs them, polls them, and publishes their events.
//!
//! Weights: create_workflow 3, execute_workflow 2, get_workflow_status 5,
//! publish_event_batch 1 (1,000 events).
use std::fmt::Write;

use rand::Rng;

use super::behaviour::{ClassBehaviour, Request, Session};
use super::http::{rest, RestCall};

/// Workflows this user created (bounded).
#[derive(Clone, Default)]
pub struct CreatedWorkflows(Vec<String>);

const MAX_REMEMBERED_WORKFLOWS: usize = 32;
pub const EVENTS_PER_BATCH: usize = 1_000;

/// One of this user's workflows, or an id nobody created (answered 404, not a failure).
fn pick_workflow(session: &mut Session) -> String {
    let known = &session.data::<CreatedWorkflows>().0;
    if known.is_empty() {
        format!("wf-unknown-{}", super::random_uuid())
    } else {
        known[rand::rng().random_range(0..known.len())].clone()
    }
}

/// A workflow of 10–100 tasks chained by `depends_on`, 30 % of them marked parallel.
pub fn workflow_body(workflow_id: &str) -> String {
    let mut rng = rand::rng();
    let n = rng.random_range(10..=100);
    let patterns = ["supervisor", "hierarchical", "handoff", "swarm"];
    let mut tasks = String::with_capacity(n * 96);
    for i in 0..n {
        let depends = if i == 0 {
            String::new()
        } else {
            format!(r#""task-{}""#, i - 1)
        };
        let parallel = rng.random_bool(0.3);
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(
            tasks,
            r#"{sep}{{"task_id":"task-{i}","agent_role":"worker-{}","depends_on":[{depends}],"parallel":{parallel}}}"#,
            i % 4
        );
    }
    format!(
        r#"{{"workflow_id":"{workflow_id}","name":"load test workflow","version":"1.0","orchestration_pattern":"{}","agents":{{"supervisor":{{"model":"planner"}},"worker":{{"model":"executor","replicas":4}}}},"tasks":[{tasks}]}}"#,
        patterns[rng.random_range(0..patterns.len())]
    )
}

/// `count` events for one workflow, serialized directly (10,000-event batches are hot).
pub fn events_body(count: usize) -> String {
    let batch = super::random_uuid();
    let now = chrono::Utc::now().to_rfc3339();
    let mut body = String::with_capacity(count * 160 + 16);
    body.push_str(r#"{"events":["#);
    for i in 0..count {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(
            body,
            r#"{sep}{{"event_id":"{batch}-{i}","event_type":"agent.step.completed","workflow_id":"wf-{batch}","timestamp":"{now}","data":{{"step":{i},"tokens":128}}}}"#
        );
    }
    body.push_str("]}");
    body
}

/// `publish_event_batch` with `count` events (shared with `HighThroughputUser`).
pub fn publish_events(weight: u32, count: usize) -> Request {
    Request::new("publish_event_batch", weight, move |call, _session| {
        Box::pin(async move {
            let body = events_body(count);
            let post = RestCall::post("publish_event_batch", "/api/v1/events/batch", body, 200);
            rest(&call, post.carrying(count as u64)).await;
        })
    })
}

pub fn behaviour() -> ClassBehaviour {
    let create = Request::new("create_workflow", 3, |call, session| {
        Box::pin(async move {
            let id = format!("wf-{}", super::random_uuid());
            let body = workflow_body(&id);
            let post = RestCall::post("create_workflow", "/api/v1/workflows", body, 201);
            if rest(&call, post).await.is_some() {
                let known = &mut session.data::<CreatedWorkflows>().0;
                if known.len() >= MAX_REMEMBERED_WORKFLOWS {
                    known.remove(0);
                }
                known.push(id);
            }
        })
    });
    let execute = Request::new("execute_workflow", 2, |call, session| {
        Box::pin(async move {
            let id = pick_workflow(session);
            let body = r#"{"input_data":{"topic":"quarterly capacity review"},"execution_options":{"timeout_s":300,"priority":"normal"}}"#;
            let path = format!("/api/v1/workflows/{id}/execute");
            let post = RestCall::post("execute_workflow", &path, body.to_string(), 200);
            rest(&call, post.tolerate(&[404])).await;
        })
    });
    let status = Request::new("get_workflow_status", 5, |call, session| {
        Box::pin(async move {
            let id = pick_workflow(session);
            let path = format!("/api/v1/workflows/{id}/status");
            let get = RestCall::get("get_workflow_status", &path).tolerate(&[404]);
            rest(&call, get).await;
        })
    });
    ClassBehaviour::new(
        "OrchestrationUser",
        vec![create, execute, status, publish_events(1, EVENTS_PER_BATCH)],
    )
}
