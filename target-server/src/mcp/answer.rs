//! Framing a request's answer: `application/json` (the response alone, once the work is
//! done) or `text/event-stream` (headers at once, then `event: message` events: progress
//! notifications as they happen, the response last, then the stream ends), as the python
//! SDK's transport sends them.
//!
//! An SSE answer's work runs in its own task that sends into the stream, so progress can be
//! sent while the work goes on; the task holds the request's capacity slot to its end, and
//! counts the request in the metrics with its whole duration.
use std::convert::Infallible;
use std::time::Instant;

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use tokio::sync::mpsc;

use super::methods;
use super::progress::{self, Progress};
use super::transport::Framing;
use crate::admission::Slot;
use crate::rpc_error::response;
use crate::state::AppState;

/// A request to answer.
pub struct Call {
    pub id: Value,
    pub method: String,
    pub params: Value,
    /// Its label in the latency histogram ([`methods::latency_label`]).
    pub label: &'static str,
    /// The session it belongs to (stateful mode), marked used again when it ends.
    pub session: Option<String>,
}

fn event(message: &Value) -> Event {
    Event::default().event("message").data(message.to_string())
}

/// An answer already computed, framed.
pub fn ready(framing: Framing, message: Value) -> Response {
    match framing {
        Framing::Json => Json(message).into_response(),
        Framing::Sse => {
            let events = futures::stream::iter([Ok::<_, Infallible>(event(&message))]);
            Sse::new(events).into_response()
        }
    }
}

/// Runs `call` and answers it in `framing`.
pub async fn run(
    state: AppState,
    framing: Framing,
    slot: Slot,
    call: Call,
    started: Instant,
) -> Response {
    match framing {
        Framing::Json => {
            let outcome = methods::call(&state, &call.method, &call.params, None).await;
            finish(&state, &call, started);
            drop(slot);
            Json(response(call.id.clone(), outcome)).into_response()
        }
        Framing::Sse => {
            let (sender, mut receiver) = mpsc::unbounded_channel::<Value>();
            let progress = Progress::new(progress::token(&call.params), sender.clone());
            tokio::spawn(async move {
                let _slot = slot;
                let outcome =
                    methods::call(&state, &call.method, &call.params, Some(progress)).await;
                // A send fails only when the client went away; nothing is left to do then.
                let _ = sender.send(response(call.id.clone(), outcome));
                finish(&state, &call, started);
            });
            let events = futures::stream::poll_fn(move |cx| {
                receiver
                    .poll_recv(cx)
                    .map(|next| next.map(|message| Ok::<_, Infallible>(event(&message))))
            });
            Sse::new(events).into_response()
        }
    }
}

fn finish(state: &AppState, call: &Call, started: Instant) {
    state
        .metrics
        .observe_label(call.label, 200, started.elapsed());
    if let (Some(sessions), Some(id)) = (&state.mcp.sessions, &call.session) {
        sessions.touch(id);
    }
}
