//! The agent API: an Agent2Agent (A2A) style JSON-RPC endpoint at [`PATH`] whose agent answers
//! each user message with a generated, chunked text, so a load generator can measure time to
//! first chunk, inter-chunk gaps and chunks per second against a known model.
//!
//! Methods: [`SEND`] (waits for the whole answer, returns the completed `Task`), [`STREAM`]
//! (the answer as Server-Sent Events, one per chunk), [`GET`] and [`CANCEL`] (`Task` by id).
//! Map: [`message`] reads the params, [`crate::generation`] draws when each chunk is due,
//! [`live`] runs a generation and lets a cancel reach it (through [`crate::live_tasks`]),
//! [`stream`] sends one as events, [`wire`] holds the JSON shapes; tasks persist in
//! [`crate::store`] (`agent_tasks`).
mod live;
mod message;
mod stream;
mod wire;

use serde::Deserialize;
use serde_json::{json, Value};

pub use stream::AnswerStream;

use crate::admission::Slot;
use crate::error::ServerError;
use crate::rpc_error::*;
use crate::state::AppState;
use crate::store::{self, AgentTaskRow, AgentTaskState};
use live::{Generation, Next};

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

pub fn is_method(name: &str) -> bool {
    [SEND, STREAM, GET, CANCEL].contains(&name)
}

fn internal(e: ServerError) -> RpcError {
    RpcError::new(INTERNAL_ERROR, format!("internal error: {e}"))
}

/// Answers one call of a JSON answer (every method but a lone `message/stream`).
pub async fn call(state: &AppState, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        SEND => send(state, params).await,
        GET => get(state, read_task_id(params)?).await,
        CANCEL => cancel(state, read_task_id(params)?).await,
        STREAM => Err(RpcError::new(
            INVALID_REQUEST,
            "invalid request: message/stream answers with an event stream; send it alone, not in a batch",
        )),
        other => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("method not found: `{other}`"),
        )),
    }
}

/// Starts a `message/stream` answer. Bad params and store failures are plain errors, as
/// nothing has been streamed yet; the stream takes `slot` and holds it to its end.
pub async fn open_stream(
    state: &AppState,
    rpc_id: Value,
    params: Value,
    slot: Slot,
    started: std::time::Instant,
) -> Result<AnswerStream, RpcError> {
    let message = message::read_send_params(&params)?;
    let generation = Generation::start(state, message).await.map_err(internal)?;
    Ok(AnswerStream::new(
        generation,
        rpc_id,
        slot,
        state.metrics.clone(),
        started,
    ))
}

/// `message/send`: the whole generation (time to first chunk, then every gap) before the
/// answer, which is the task as it ended.
async fn send(state: &AppState, params: Value) -> Result<Value, RpcError> {
    let message = message::read_send_params(&params)?;
    let mut generation = Generation::start(state, message).await.map_err(internal)?;
    let last = generation.answering.plan.chunks - 1;
    let end = match generation.until_due(last).await {
        Next::Due => generation.complete().await.map_err(internal)?,
        Next::Canceled(end) => end,
    };
    Ok(wire::task(&end))
}

/// A2A `TaskQueryParams` / `TaskIdParams`: only `id` is read (`historyLength` and `metadata`
/// are accepted and ignored: tasks keep no history).
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

async fn get(state: &AppState, id: String) -> Result<Value, RpcError> {
    Ok(wire::task(&load_task(state, &id).await?))
}

/// `tasks/cancel`: a task still generating stops and is returned canceled; one that already
/// ended cannot be (-32002, with its state in `error.data.state`).
async fn cancel(state: &AppState, id: String) -> Result<Value, RpcError> {
    if let Some(end) = live::cancel(state, &id).await.map_err(internal)? {
        return Ok(wire::task(&end));
    }
    let row = load_task(state, &id).await?;
    let why = match row.state {
        AgentTaskState::Working => "it has no running generation".to_string(),
        ended => format!("it is already {}", ended.as_str()),
    };
    Err(RpcError::new(
        TASK_NOT_CANCELABLE,
        format!("task cannot be canceled: task `{id}`: {why}"),
    )
    .with_data(json!({ "state": row.state.as_str() })))
}
