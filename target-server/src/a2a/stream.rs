//! `message/stream`'s answer: Server-Sent Events, each `data: <JSON-RPC response>` with the
//! request's id, whose `result` is one `TaskArtifactUpdateEvent` per chunk and, last, one
//! `TaskStatusUpdateEvent` with `final: true`.
//!
//! Nothing is sent before the first chunk (no `submitted`/`working` event, no keep-alive), so
//! a client's time to first event is the modelled time to first chunk. The stream owns the
//! request's capacity slot: a slot is held for the whole answer, as a real model server holds
//! its batch place while it generates.
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::live::{Generation, Next};
use super::wire::{self, TaskIds};
use crate::admission::Slot;
use crate::metrics::Metrics;
use crate::rpc_error::response;
use crate::store::AgentTaskRow;

/// A started `message/stream` answer, ready to be sent.
pub struct AnswerStream {
    generation: Generation,
    rpc_id: Value,
    next_chunk: u32,
    done: bool,
    /// Counts the request when the stream ends (however it ends), with its whole duration.
    metrics: Arc<Metrics>,
    started: Instant,
    _slot: Slot,
}

impl AnswerStream {
    pub(super) fn new(
        generation: Generation,
        rpc_id: Value,
        slot: Slot,
        metrics: Arc<Metrics>,
        started: Instant,
    ) -> AnswerStream {
        AnswerStream {
            generation,
            rpc_id,
            next_chunk: 0,
            done: false,
            metrics,
            started,
            _slot: slot,
        }
    }

    fn event(&self, result: Value) -> Event {
        let envelope = response(self.rpc_id.clone(), Ok(result));
        Event::default().data(envelope.to_string())
    }

    fn last_event(&mut self, end: AgentTaskRow) -> Event {
        self.done = true;
        self.event(wire::final_status_update(&end))
    }

    /// The next event, at its time; `None` once the final status was sent.
    async fn next_event(&mut self) -> Option<Event> {
        if self.done {
            return None;
        }
        let chunks = self.generation.answering.plan.chunks;
        if self.next_chunk < chunks {
            let i = self.next_chunk;
            return Some(match self.generation.until_due(i).await {
                Next::Due => {
                    self.next_chunk += 1;
                    self.metrics.add_agent_chunk_streamed();
                    let a = &self.generation.answering;
                    let ids = TaskIds {
                        task_id: &a.task_id,
                        context_id: &a.context_id,
                        artifact_id: &a.artifact_id,
                    };
                    self.event(wire::artifact_update(&ids, i, chunks))
                }
                Next::Canceled(end) => self.last_event(end),
            });
        }
        let end = match self.generation.complete().await {
            Ok(end) => end,
            Err(e) => {
                // The answer was sent; only its record failed. End the stream rather than
                // leave the client waiting for a final event.
                tracing::warn!("recording a completed agent task failed: {e}");
                self.done = true;
                return None;
            }
        };
        Some(self.last_event(end))
    }
}

impl Drop for AnswerStream {
    fn drop(&mut self) {
        self.metrics
            .observe(super::STREAM, 200, self.started.elapsed());
    }
}

impl IntoResponse for AnswerStream {
    fn into_response(self) -> Response {
        let events = futures::stream::unfold(self, |mut stream| async move {
            let event = stream.next_event().await?;
            Some((Ok::<_, Infallible>(event), stream))
        });
        Sse::new(events).into_response()
    }
}
