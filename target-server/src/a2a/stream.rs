//! A streamed answer: Server-Sent Events, each `data: <JSON-RPC response>` with the request's
//! id. In 0.3 (`message/stream`) the results are one `TaskArtifactUpdateEvent` per chunk and,
//! last, a `TaskStatusUpdateEvent` with `final: true`; nothing comes before the first chunk,
//! so a client's time to first event is the modelled time to first chunk. In 1.0
//! (`SendStreamingMessage`) each result is a `StreamResponse`: `{task}` (working) at once,
//! then `{artifactUpdate}` per chunk, then `{statusUpdate}` with the terminal state. A
//! re-subscription (`SubscribeToTask`, `tasks/resubscribe`) starts with the task as it is now
//! (its answer so far), then the chunks not yet due, each at its deadline.
//!
//! A stream only follows its generation ([`super::live::Follower`]): when it is dropped (the
//! client left) or cut (`--a2a-cut-after`), generation goes on. The stream owns the request's
//! capacity slot for as long as it is sent.
use std::sync::Arc;
use std::time::Instant;

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::live::{Follower, Next};
use super::version::Dialect;
use super::wire::{self, TaskIds};
use super::wire_v1;
use crate::admission::Slot;
use crate::metrics::Metrics;
use crate::rpc_error::response;
use crate::store::AgentTaskRow;

/// How a stream starts and whether it is cut.
pub struct StreamPlan {
    pub dialect: Dialect,
    /// The method, for the request metrics.
    pub method: &'static str,
    /// The task to send first (1.0 streams and re-subscriptions), if any.
    pub opening: Option<AgentTaskRow>,
    /// The first chunk to send.
    pub first_chunk: u32,
    /// Close the connection after this many chunks, without the final status (the cut
    /// fault, `--a2a-cut-after`).
    pub cut_after: Option<u32>,
}

/// A started stream, ready to be sent.
pub struct AnswerStream {
    follower: Follower,
    rpc_id: Value,
    plan: StreamPlan,
    next_chunk: u32,
    sent_chunks: u32,
    done: bool,
    /// Counts the request when the stream ends (however it ends), with its whole duration.
    metrics: Arc<Metrics>,
    started: Instant,
    _slot: Slot,
}

/// How long a cut stream waits after its last chunk before aborting, so that chunk reaches
/// the client; far below any modelled gap.
const CUT_FLUSH: std::time::Duration = std::time::Duration::from_millis(1);

/// Why a stream's connection was closed before its end.
#[derive(Debug, thiserror::Error)]
#[error("stream cut after {0} chunks (--a2a-cut-after)")]
pub struct Cut(u32);

impl AnswerStream {
    pub(super) fn new(
        follower: Follower,
        rpc_id: Value,
        plan: StreamPlan,
        slot: Slot,
        metrics: Arc<Metrics>,
        started: Instant,
    ) -> AnswerStream {
        AnswerStream {
            follower,
            rpc_id,
            next_chunk: plan.first_chunk,
            plan,
            sent_chunks: 0,
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
        self.event(match self.plan.dialect {
            Dialect::V03 => wire::final_status_update(&end),
            Dialect::V1 => wire_v1::final_status_update(&end),
        })
    }

    /// The next event, at its time; `None` once the final status was sent, `Err` to cut.
    async fn next_event(&mut self) -> Option<Result<Event, Cut>> {
        if self.done {
            return None;
        }
        if let Some(task) = self.plan.opening.take() {
            return Some(Ok(self.event(match self.plan.dialect {
                Dialect::V03 => wire::task(&task),
                Dialect::V1 => wire_v1::task_response(&task),
            })));
        }
        let chunks = self.follower.answering.plan.chunks;
        if self.next_chunk < chunks {
            if self.plan.cut_after == Some(self.sent_chunks) {
                // Let the server flush the chunks sent so far (it does when the body is
                // pending), then abort: the client has every chunk it was sent, no more.
                tokio::time::sleep(CUT_FLUSH).await;
                self.done = true;
                return Some(Err(Cut(self.sent_chunks)));
            }
            let i = self.next_chunk;
            return Some(Ok(match self.follower.until_due(i).await {
                Next::Due => {
                    self.next_chunk += 1;
                    self.sent_chunks += 1;
                    self.metrics.add_agent_chunk_streamed();
                    let a = &self.follower.answering;
                    let ids = TaskIds {
                        task_id: &a.task_id,
                        context_id: &a.context_id,
                        artifact_id: &a.artifact_id,
                    };
                    self.event(match self.plan.dialect {
                        Dialect::V03 => wire::artifact_update(&ids, i, chunks),
                        Dialect::V1 => wire_v1::artifact_update(&ids, i, chunks),
                    })
                }
                Next::Ended(end) => self.last_event(end),
            }));
        }
        let end = self.follower.end().await;
        Some(Ok(self.last_event(end)))
    }
}

impl Drop for AnswerStream {
    fn drop(&mut self) {
        self.metrics
            .observe(self.plan.method, 200, self.started.elapsed());
    }
}

impl IntoResponse for AnswerStream {
    /// An `Err` item makes the server abort the response: the connection closes with the
    /// body unfinished, as a dropped network path would leave it.
    fn into_response(self) -> Response {
        let events = futures::stream::unfold(self, |mut stream| async move {
            let event = stream.next_event().await?;
            Some((event, stream))
        });
        Sse::new(events).into_response()
    }
}
