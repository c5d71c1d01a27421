//! JSON-RPC 2.0 framing: envelopes, batches, error codes. Method semantics live in
//! [`crate::training`] (`/api/v1/jsonrpc`) and [`crate::a2a`] (`/a2a`); this module only turns
//! bytes into calls and results into bytes, or, for a streaming A2A method, into an event
//! stream.
use std::time::Instant;

use serde_json::Value;

use crate::a2a::{self, AnswerStream};
use crate::admission::Slot;
pub use crate::rpc_error::*;
use crate::state::AppState;
use crate::training;

/// The API a JSON-RPC endpoint serves: each has its own method set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api<'a> {
    /// `training.*` at `/api/v1/jsonrpc`.
    Training,
    /// The A2A agent methods at [`a2a::PATH`], with the request's `A2A-Version` header.
    Agent(Option<&'a str>),
}

impl Api<'_> {
    fn knows(self, method: &str) -> bool {
        match self {
            Api::Training => training::is_method(method),
            Api::Agent(_) => a2a::is_method(method),
        }
    }

    async fn call(self, state: &AppState, method: &str, params: Value) -> Result<Value, RpcError> {
        match self {
            Api::Training => training::call(state, method, params).await,
            Api::Agent(version) => a2a::call(state, version, method, params).await,
        }
    }
}

/// One call read from its envelope.
struct Call {
    /// `None` for a notification.
    id: Option<Value>,
    method: String,
    params: Value,
}

/// Handles one request body; `None` means nothing to send back (only notifications).
pub async fn handle_body(state: &AppState, api: Api<'_>, body: &[u8]) -> Option<Value> {
    match parse_body(state, body) {
        Ok(parsed) => handle_value(state, api, parsed).await,
        Err(answer) => Some(answer),
    }
}

/// What `/a2a` sends back: a JSON answer (or nothing, for notifications) or an event stream.
pub enum AgentReply {
    Answer(Option<Value>),
    /// Boxed: a stream carries its whole generation state, answers only a `Value`.
    Stream(Box<AnswerStream>),
}

/// Handles one `/a2a` body with its `A2A-Version` header. A single streaming call
/// (`SendStreamingMessage`, `SubscribeToTask`, `message/stream`, `tasks/resubscribe`) gets
/// its event stream, which takes `slot` with it so the capacity slot is held until the stream
/// ends; anything else is answered like [`handle_body`] and the slot is freed when this returns.
pub async fn handle_agent_body(
    state: &AppState,
    version: Option<&str>,
    body: &[u8],
    slot: Slot,
) -> AgentReply {
    let parsed = match parse_body(state, body) {
        Ok(parsed) => parsed,
        Err(answer) => return AgentReply::Answer(Some(answer)),
    };
    if !parsed
        .get("method")
        .and_then(Value::as_str)
        .is_some_and(a2a::is_streaming)
    {
        return AgentReply::Answer(handle_value(state, Api::Agent(version), parsed).await);
    }
    let started = Instant::now();
    let call = match read_call(parsed) {
        Ok(call) => call,
        Err(answer) => return AgentReply::Answer(Some(answer)),
    };
    let Some(id) = call.id else {
        let e = RpcError::new(
            INVALID_REQUEST,
            format!(
                "invalid request: {} needs an `id` (every event of the stream carries it)",
                call.method
            ),
        );
        return AgentReply::Answer(Some(response(Value::Null, Err(e))));
    };
    let opened = match apply_faults(state, &call.method).await {
        Ok(()) => {
            a2a::open_stream(
                state,
                version,
                &call.method,
                id.clone(),
                call.params,
                slot,
                started,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match opened {
        Ok(stream) => AgentReply::Stream(Box::new(stream)),
        Err(e) => {
            state.metrics.observe(&call.method, 200, started.elapsed());
            AgentReply::Answer(Some(response(id, Err(e))))
        }
    }
}

fn parse_body(state: &AppState, body: &[u8]) -> Result<Value, Value> {
    serde_json::from_slice(body).map_err(|e| {
        state
            .metrics
            .observe("unknown", 200, std::time::Duration::ZERO);
        response(
            Value::Null,
            Err(RpcError::new(PARSE_ERROR, format!("parse error: {e}"))),
        )
    })
}

async fn handle_value(state: &AppState, api: Api<'_>, parsed: Value) -> Option<Value> {
    match parsed {
        Value::Array(calls) if calls.is_empty() => Some(response(
            Value::Null,
            Err(RpcError::new(
                INVALID_REQUEST,
                "invalid request: empty batch",
            )),
        )),
        Value::Array(calls) => {
            let mut answers = Vec::with_capacity(calls.len());
            for call in calls {
                if let Some(answer) = handle_call(state, api, call).await {
                    answers.push(answer);
                }
            }
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        call => handle_call(state, api, call).await,
    }
}

/// Reads the envelope of one call; an invalid one gets its error answer.
fn read_call(call: Value) -> Result<Call, Value> {
    let Value::Object(mut envelope) = call else {
        return Err(response(
            Value::Null,
            Err(RpcError::new(
                INVALID_REQUEST,
                "invalid request: a call must be an object",
            )),
        ));
    };
    let id = envelope.remove("id");
    let reply_id = id.clone().unwrap_or(Value::Null);
    if envelope.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(response(
            reply_id,
            Err(RpcError::new(
                INVALID_REQUEST,
                "invalid request: `jsonrpc` must be \"2.0\"",
            )),
        ));
    }
    let Some(method) = envelope
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Err(response(
            reply_id,
            Err(RpcError::new(
                INVALID_REQUEST,
                "invalid request: `method` must be a string",
            )),
        ));
    };
    let params = envelope.remove("params").unwrap_or(Value::Null);
    Ok(Call { id, method, params })
}

/// The fault model's share of a call: its simulated service time, then maybe an injected error.
async fn apply_faults(state: &AppState, method: &str) -> Result<(), RpcError> {
    let decision = state.faults.decide(method);
    if !decision.delay.is_zero() {
        state.clock.sleep(decision.delay).await;
    }
    if decision.inject_error {
        return Err(RpcError::new(
            INTERNAL_ERROR,
            format!("internal error: injected fault in {method}"),
        ));
    }
    Ok(())
}

async fn handle_call(state: &AppState, api: Api<'_>, call: Value) -> Option<Value> {
    let started = Instant::now();
    let call = match read_call(call) {
        Ok(call) => call,
        Err(answer) => return Some(answer),
    };
    let outcome = if api.knows(&call.method) {
        match apply_faults(state, &call.method).await {
            Ok(()) => api.call(state, &call.method, call.params).await,
            Err(e) => Err(e),
        }
    } else {
        Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("method not found: `{}`", call.method),
        ))
    };
    state.metrics.observe(&call.method, 200, started.elapsed());
    // A call without an id is a notification: it runs, but gets no answer.
    call.id.map(|id| response(id, outcome))
}
