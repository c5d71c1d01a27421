//! JSON-RPC 2.0 framing: envelopes, batches, error codes. Method semantics live in
//! [`crate::training`]; this module only turns bytes into calls and results into bytes.
use std::time::Instant;

use serde_json::{json, Value};

pub use crate::rpc_error::*;
use crate::state::AppState;
use crate::training;

fn response(id: Value, outcome: Result<Value, RpcError>) -> Value {
    match outcome {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(e) => json!({ "jsonrpc": "2.0", "id": id, "error": e.to_json() }),
    }
}

/// Handles one request body; `None` means nothing to send back (only notifications).
pub async fn handle_body(state: &AppState, body: &[u8]) -> Option<Value> {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            state
                .metrics
                .observe("unknown", 200, std::time::Duration::ZERO);
            return Some(response(
                Value::Null,
                Err(RpcError::new(PARSE_ERROR, format!("parse error: {e}"))),
            ));
        }
    };
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
                if let Some(answer) = handle_call(state, call).await {
                    answers.push(answer);
                }
            }
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        call => handle_call(state, call).await,
    }
}

async fn handle_call(state: &AppState, call: Value) -> Option<Value> {
    let started = Instant::now();
    let Value::Object(mut envelope) = call else {
        return Some(response(
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
        return Some(response(
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
        return Some(response(
            reply_id,
            Err(RpcError::new(
                INVALID_REQUEST,
                "invalid request: `method` must be a string",
            )),
        ));
    };
    let params = envelope.remove("params").unwrap_or(Value::Null);
    let outcome = if training::is_method(&method) {
        let decision = state.faults.decide(&method);
        if !decision.delay.is_zero() {
            tokio::time::sleep(decision.delay).await;
        }
        if decision.inject_error {
            Err(RpcError::new(
                INTERNAL_ERROR,
                format!("internal error: injected fault in {method}"),
            ))
        } else {
            training::call(state, &method, params).await
        }
    } else {
        Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("method not found: `{method}`"),
        ))
    };
    state.metrics.observe(&method, 200, started.elapsed());
    // A call without an id is a notification: it runs, but gets no answer.
    id.map(|id| response(id, outcome))
}
