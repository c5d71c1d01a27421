//! Turning a [`Decoding`] into an answer: a `text/event-stream` body written chunk by chunk
//! at the chunks' deadlines, or one JSON object once the whole answer is decoded. Each API's
//! framing is a [`Wire`]; the faults are applied here, the same way for every API.
//!
//! The body is written as raw bytes rather than through axum's `Sse` so that the `cut` fault
//! can end the body with an error (hyper then closes the connection mid-body) and the
//! `malformed` fault can send data that is not JSON.
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::config::FaultKind;
use super::engine::Decoding;
use super::errors::{Kind, LlmError};
use super::model::Finish;
use super::tokens::output_text;
use super::Api;
use crate::admission::Slot;

/// Exact token counts of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub input: u32,
    pub output: u32,
}

/// One API's framing of an answer. Streamed pieces are whole SSE events (`…\n\n`).
pub trait Wire: Send + 'static {
    /// What precedes the first chunk (sent with it).
    fn opening(&self) -> String;
    /// One chunk of text; `finish` is set on the last.
    fn chunk(&self, text: &str, finish: Option<Finish>) -> String;
    /// What follows the last chunk.
    fn closing(&self, finish: Finish) -> String;
    /// The `error` fault's events; the stream ends after them.
    fn error(&self, message: &str) -> String;
    /// The `malformed` fault's event: data that is not JSON.
    fn malformed(&self) -> String;
    /// The non-streamed answer.
    fn whole(&self, text: &str, finish: Finish) -> serde_json::Value;
}

/// Message of the injected `error` fault.
pub const INJECTED_ERROR: &str = "injected fault: the model failed mid-answer";

/// A streamed answer: it owns the request's admission slot and decode slot until its end.
struct Writer {
    decoding: Decoding,
    wire: Box<dyn Wire>,
    stall: Duration,
    fired: bool,
    done: bool,
    _admission: Slot,
}

impl Writer {
    /// The next piece of the body, at its time; `None` at the end, `Err` to cut the connection.
    async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.done {
            return None;
        }
        let plan = &self.decoding.plan;
        if !self.fired && self.decoding.sent() == plan.fault_point() {
            if let Some(fault) = plan.fault {
                self.fired = true;
                match fault {
                    FaultKind::Error => {
                        self.done = true;
                        return Some(Ok(self.wire.error(INJECTED_ERROR).into()));
                    }
                    FaultKind::Cut => {
                        self.done = true;
                        // Let hyper flush what was sent before it drops the connection.
                        tokio::task::yield_now().await;
                        return Some(Err(std::io::Error::other("injected fault: cut")));
                    }
                    FaultKind::Malformed => return Some(Ok(self.wire.malformed().into())),
                    FaultKind::Stall => self.decoding.delay(self.stall),
                    FaultKind::NoUsage => {}
                }
            }
        }
        let finish = self.decoding.plan.finish;
        match self.decoding.next_chunk().await {
            Some(chunk) => {
                let mut piece = if chunk.index == 0 {
                    self.wire.opening()
                } else {
                    String::new()
                };
                let text = output_text(chunk.first_token, chunk.tokens);
                piece.push_str(&self.wire.chunk(&text, chunk.last.then_some(finish)));
                Some(Ok(piece.into()))
            }
            None => {
                self.decoding.settle().await;
                self.done = true;
                Some(Ok(self.wire.closing(finish).into()))
            }
        }
    }
}

/// The streamed answer; headers (with `x-llm-truth`) go out at once, events at their times.
pub fn streamed(
    decoding: Decoding,
    wire: Box<dyn Wire>,
    stall: Duration,
    admission: Slot,
) -> Response {
    let writer = Writer {
        decoding,
        wire,
        stall,
        fired: false,
        done: false,
        _admission: admission,
    };
    let body = futures::stream::unfold(writer, |mut w| async move {
        let piece = w.next().await?;
        Some((piece, w))
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The non-streamed answer, after the whole modelled generation. Of the faults only `error`
/// (a 500 once half the answer is decoded) and `no-usage` apply.
pub async fn whole(mut decoding: Decoding, wire: Box<dyn Wire>, api: Api) -> Response {
    let fail_at = match decoding.plan.fault {
        Some(FaultKind::Error) => Some(decoding.plan.fault_point()),
        _ => None,
    };
    let mut text = String::new();
    loop {
        if fail_at == Some(decoding.sent()) {
            return LlmError::new(Kind::Server, INJECTED_ERROR).response(api);
        }
        match decoding.next_chunk().await {
            Some(chunk) => text.push_str(&output_text(chunk.first_token, chunk.tokens)),
            None => break,
        }
    }
    Json(wire.whole(&text, decoding.plan.finish)).into_response()
}
