//! The agent API: an Agent2Agent (A2A) JSON-RPC endpoint at [`PATH`] whose agent answers
//! each user message with a generated, chunked text, so a load generator can measure time to
//! first chunk, inter-chunk gaps and chunks per second against a known model. It speaks A2A
//! 1.0 and 0.3 side by side (`--a2a-versions`), as the official SDK's server does, and serves
//! its agent card at [`card::CARD_PATH`].
//!
//! Methods (1.0 name / 0.3 name): `SendMessage` / [`SEND`] (waits for the whole answer),
//! `SendStreamingMessage` / [`STREAM`] (the answer as Server-Sent Events, one per chunk),
//! `GetTask` / [`GET`], `CancelTask` / [`CANCEL`], and `SubscribeToTask` / [`RESUBSCRIBE`]
//! (the rest of a task still generating, e.g. after a cut stream).
//! Map: [`version`] names the methods and checks `A2A-Version`, [`message`] and
//! [`message_v1`] read the params, [`crate::generation`] draws when each chunk is due,
//! [`live`] runs a generation apart from any request and lets streams follow it and a cancel
//! reach it (through [`crate::live_tasks`]), [`stream`] sends one as events, [`wire`] and
//! [`wire_v1`] hold the JSON shapes; tasks persist in [`crate::store`] (`agent_tasks`).
pub mod card;
mod live;
mod message;
mod message_v1;
mod stream;
pub mod version;
mod wire;
mod wire_v1;

use serde::Deserialize;
use serde_json::{json, Value};

pub use stream::AnswerStream;

use crate::admission::Slot;
use crate::error::ServerError;
use crate::rpc_error::*;
use crate::state::AppState;
use crate::store::{self, AgentTaskRow, AgentTaskState};
use live::Follower;
use message::UserMessage;
use stream::StreamPlan;
use version::{Dialect, Method, Op};

/// Where the agent API is served (`POST`, bearer token as the training API).
pub const PATH: &str = "/a2a";
/// Send a message and wait for the completed task.
pub const SEND: &str = "message/send";
/// Send a message and receive the answer as an event stream.
pub const STREAM: &str = "message/stream";
/// Read a task by id.
pub const GET: &str = "tasks/get";
/// Cancel a task that is still generating.
pub const CANCEL: &str = "tasks/cancel";
/// Receive the rest of a task still generating as an event stream.
pub const RESUBSCRIBE: &str = "tasks/resubscribe";
/// A2A's UnsupportedOperationError: the SDK's answer to subscribing to a task that ended.
pub const UNSUPPORTED_OPERATION: i64 = -32004;

pub fn is_method(name: &str) -> bool {
    version::resolve(name).is_some()
}

/// Whether `name` answers with an event stream (it must be sent alone, with an id).
pub fn is_streaming(name: &str) -> bool {
    version::resolve(name).is_some_and(|m| m.op.streams())
}

fn internal(e: ServerError) -> RpcError {
    RpcError::new(INTERNAL_ERROR, format!("internal error: {e}"))
}

/// The method `name`, if it is enabled and the `A2A-Version` header allows it.
fn checked(state: &AppState, name: &str, header: Option<&str>) -> Result<Method, RpcError> {
    let method = version::resolve(name)
        .ok_or_else(|| RpcError::new(METHOD_NOT_FOUND, format!("method not found: `{name}`")))?;
    version::check(method, &state.a2a_versions, header)?;
    Ok(method)
}

/// Answers one call of a JSON answer (every method but a lone streaming one).
pub async fn call(
    state: &AppState,
    header: Option<&str>,
    name: &str,
    params: Value,
) -> Result<Value, RpcError> {
    let method = checked(state, name, header)?;
    let d = method.dialect;
    match method.op {
        Op::Send => send(state, d, params).await,
        Op::Get => get(state, d, read_task_id(params)?).await,
        Op::Cancel => cancel(state, d, read_task_id(params)?).await,
        Op::Stream | Op::Subscribe => Err(RpcError::new(
            INVALID_REQUEST,
            format!("invalid request: {name} answers with an event stream; send it alone, not in a batch"),
        )),
    }
}

fn read_message(dialect: Dialect, params: &Value) -> Result<UserMessage, RpcError> {
    match dialect {
        Dialect::V03 => message::read_send_params(params),
        Dialect::V1 => message_v1::read_send_params(params),
    }
}

fn task_json(dialect: Dialect, row: &AgentTaskRow) -> Value {
    match dialect {
        Dialect::V03 => wire::task(row),
        Dialect::V1 => wire_v1::task(row),
    }
}

/// Starts a streamed answer (`SendStreamingMessage`, `message/stream`) or a re-subscription
/// (`SubscribeToTask`, `tasks/resubscribe`). Bad params, version and store failures are plain
/// errors, as nothing has been streamed yet; the stream takes `slot` and holds it to its end.
pub async fn open_stream(
    state: &AppState,
    header: Option<&str>,
    name: &str,
    rpc_id: Value,
    params: Value,
    slot: Slot,
    started: std::time::Instant,
) -> Result<AnswerStream, RpcError> {
    let method = checked(state, name, header)?;
    let (follower, plan) = match method.op {
        Op::Stream => {
            let message = read_message(method.dialect, &params)?;
            let follower = live::start(state, message).await.map_err(internal)?;
            let opening = (method.dialect == Dialect::V1)
                .then(|| follower.answering.ended(AgentTaskState::Working, 0));
            let plan = StreamPlan {
                dialect: method.dialect,
                method: method.name,
                opening,
                first_chunk: 0,
                cut_after: state.a2a_cut_after,
            };
            (follower, plan)
        }
        Op::Subscribe => subscribe(state, method, read_task_id(params)?).await?,
        Op::Send | Op::Get | Op::Cancel => {
            return Err(RpcError::new(
                INVALID_REQUEST,
                format!("invalid request: {name} does not stream"),
            ))
        }
    };
    Ok(AnswerStream::new(
        follower,
        rpc_id,
        plan,
        slot,
        state.metrics.clone(),
        started,
    ))
}

/// A re-subscription: the task as it is now (its answer so far), then its chunks not yet
/// due, then its end. A task that has ended has nothing more to stream: the SDK answers
/// UnsupportedOperationError (-32004, "Task <id> is in terminal state: TASK_STATE_…"), and so
/// does this server.
async fn subscribe(
    state: &AppState,
    method: Method,
    id: String,
) -> Result<(Follower, StreamPlan), RpcError> {
    let Some(follower) = live::follow(state, &id) else {
        let row = load_task(state, &id).await?;
        return Err(RpcError::new(
            UNSUPPORTED_OPERATION,
            format!(
                "Task {id} is in terminal state: {}",
                wire_v1::state_name(row.state)
            ),
        )
        .with_data(json!({ "state": wire_v1::state_name(row.state) })));
    };
    let due = follower.answering.chunks_due_now();
    let plan = StreamPlan {
        dialect: method.dialect,
        method: method.name,
        opening: Some(follower.answering.ended(AgentTaskState::Working, due)),
        first_chunk: due,
        cut_after: None,
    };
    Ok((follower, plan))
}

/// `SendMessage` / `message/send`: the whole generation (time to first chunk, then every
/// gap) before the answer, which is the task as it ended (1.0 wraps it: `{task}`).
async fn send(state: &AppState, dialect: Dialect, params: Value) -> Result<Value, RpcError> {
    let message = read_message(dialect, &params)?;
    let mut follower = live::start(state, message).await.map_err(internal)?;
    let end = follower.end().await;
    Ok(match dialect {
        Dialect::V03 => wire::task(&end),
        Dialect::V1 => wire_v1::task_response(&end),
    })
}

/// A2A `TaskQueryParams` / `GetTaskRequest` / `CancelTaskRequest` / `SubscribeToTaskRequest`:
/// only `id` is read (`historyLength`, `tenant` and `metadata` are accepted and ignored:
/// tasks keep no history).
#[derive(Deserialize)]
struct TaskIdParams {
    id: String,
}

fn read_task_id(params: Value) -> Result<String, RpcError> {
    let params: TaskIdParams = serde_json::from_value(params).map_err(|e| {
        RpcError::new(
            INVALID_PARAMS,
            format!("invalid params: {e}; send `{{\"id\": \"<task id>\"}}`"),
        )
        .with_data(json!({ "field": "id" }))
    })?;
    Ok(params.id)
}

/// The stored task `id`, or -32001.
async fn load_task(state: &AppState, id: &str) -> Result<AgentTaskRow, RpcError> {
    let task_id = id.to_string();
    state
        .store
        .with(move |conn| store::get_agent_task(conn, &task_id))
        .await
        .map_err(internal)?
        .ok_or_else(|| RpcError::new(TASK_NOT_FOUND, format!("task not found: no task `{id}`")))
}

async fn get(state: &AppState, dialect: Dialect, id: String) -> Result<Value, RpcError> {
    Ok(task_json(dialect, &load_task(state, &id).await?))
}

/// `CancelTask` / `tasks/cancel`: a task still generating stops and is returned canceled;
/// one that already ended cannot be (-32002, with its state in `error.data.state`).
async fn cancel(state: &AppState, dialect: Dialect, id: String) -> Result<Value, RpcError> {
    if let Some(end) = live::cancel(state, &id).await.map_err(internal)? {
        return Ok(task_json(dialect, &end));
    }
    let row = load_task(state, &id).await?;
    let why = match row.state {
        AgentTaskState::Working => "it has no running generation".to_string(),
        ended => format!("it is already {}", ended.as_str()),
    };
    let state_name = match dialect {
        Dialect::V03 => row.state.as_str(),
        Dialect::V1 => wire_v1::state_name(row.state),
    };
    Err(RpcError::new(
        TASK_NOT_CANCELABLE,
        format!("task cannot be canceled: task `{id}`: {why}"),
    )
    .with_data(json!({ "state": state_name })))
}
