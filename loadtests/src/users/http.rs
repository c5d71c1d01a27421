//! Sending one request, timing it to the last body byte, judging and recording it.
//!
//! goose times a request until its response headers arrive; a slow export of a large
//! trajectory page would look fast. Here the clock stops when the whole body is read.
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

use super::behaviour::Call;
use crate::recorder::Sample;
use reports::StreamTiming;

/// A response read to its end.
pub struct FullResponse {
    pub status: u16,
    pub body: bytes::Bytes,
}

/// When a request went out and how long its whole response took.
#[derive(Clone, Copy, Debug)]
pub struct Timed {
    pub sent_at: Instant,
    pub elapsed: Duration,
}

/// Sends `request` and reads the whole body; returns the outcome and when and how long.
pub async fn exchange(request: reqwest::RequestBuilder) -> (Result<FullResponse, String>, Timed) {
    let started = Instant::now();
    let outcome = match request.send().await {
        Ok(response) => read_body(response).await,
        Err(e) => Err(transport_error(&e)),
    };
    (outcome, Timed::since(started))
}

impl Timed {
    /// Sent at `sent_at`, answered now.
    pub fn since(sent_at: Instant) -> Timed {
        Timed {
            sent_at,
            elapsed: sent_at.elapsed(),
        }
    }
}

/// Reads a response's whole body.
pub(crate) async fn read_body(response: reqwest::Response) -> Result<FullResponse, String> {
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(body) => Ok(FullResponse { status, body }),
        Err(e) => Err(format!("reading the body failed: {}", without_url(&e))),
    }
}

/// A failed send in the words every output groups failures by.
pub(crate) fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        format!("transport error: {}", without_url(e))
    }
}

/// reqwest's message without the URL, so failures of one kind group together.
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let text = e.to_string();
    match text.split_once(" for url (") {
        Some((head, _)) => head.to_string(),
        None => text,
    }
}

pub(crate) fn record(
    call: &Call,
    method: &'static str,
    name: &'static str,
    timed: Timed,
    bytes: u64,
    error: Option<&str>,
) {
    record_carrying(call, method, name, timed, bytes, Carried::NOTHING, error);
}

/// What a request carried besides its bytes: items it counted, a streamed answer's chunks.
#[derive(Clone, Copy, Default)]
pub struct Carried<'a> {
    pub items: u64,
    pub stream: Option<&'a StreamTiming>,
}

impl Carried<'_> {
    pub const NOTHING: Carried<'static> = Carried {
        items: 0,
        stream: None,
    };

    pub fn items(items: u64) -> Carried<'static> {
        Carried {
            items,
            stream: None,
        }
    }
}

/// [`record`] with the items and stream timings the request carried.
pub(crate) fn record_carrying(
    call: &Call,
    method: &'static str,
    name: &'static str,
    timed: Timed,
    bytes: u64,
    carried: Carried<'_>,
    error: Option<&str>,
) {
    call.ctx.recorder.record(Sample {
        method,
        name,
        latency: timed.elapsed,
        sent_at: timed.sent_at,
        timing: call.timing,
        content_bytes: bytes,
        items: carried.items,
        stream: carried.stream,
        error,
    });
}

pub(crate) fn http_error(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("HTTP {status} {reason}").trim_end().to_string()
}

/// One JSON-RPC call. Returns the `result` on success, `None` when the call failed (recorded
/// as a failure) or ended in one of the `tolerated` error codes (recorded as a success: e.g.
/// "not found" for a status query of a job this user never started).
pub async fn rpc(
    call: &Call,
    name: &'static str,
    body: String,
    tolerated: &[i64],
) -> Option<Value> {
    let url = &call.ctx.jsonrpc_url;
    rpc_counting(call, url, name, body, tolerated, |_| 0).await
}

/// [`rpc`] to the JSON-RPC endpoint at `url`, for a call whose successful `result` says how
/// many items it carried (e.g. the trajectories an export returned): `items` reads the count
/// from it.
pub async fn rpc_counting(
    call: &Call,
    url: &str,
    name: &'static str,
    body: String,
    tolerated: &[i64],
    items: impl Fn(&Value) -> u64,
) -> Option<Value> {
    let ctx = &call.ctx;
    let request = ctx
        .client
        .post(url)
        .header(AUTHORIZATION, ctx.authorization.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    let (outcome, timed) = exchange(request).await;
    let response = match outcome {
        Ok(r) => r,
        Err(e) => {
            record(call, "POST", name, timed, 0, Some(&e));
            return None;
        }
    };
    let bytes = response.body.len() as u64;
    if response.status != 200 {
        record(
            call,
            "POST",
            name,
            timed,
            bytes,
            Some(&http_error(response.status)),
        );
        return None;
    }
    let mut answer: Value = match serde_json::from_slice(&response.body) {
        Ok(v) => v,
        Err(e) => {
            let error = format!("malformed JSON-RPC answer: {e}");
            record(call, "POST", name, timed, bytes, Some(&error));
            return None;
        }
    };
    if let Some(error) = answer.get("error") {
        let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
        if tolerated.contains(&code) {
            record(call, "POST", name, timed, bytes, None);
        } else {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("");
            let error = format!("JSON-RPC error {code}: {message}");
            record(call, "POST", name, timed, bytes, Some(&error));
        }
        return None;
    }
    // The answer is ours: the result is moved out, not copied (this runs for every request).
    match answer.get_mut("result").map(Value::take) {
        Some(result) => {
            let carried = Carried::items(items(&result));
            record_carrying(call, "POST", name, timed, bytes, carried, None);
            Some(result)
        }
        None => {
            let error = "malformed JSON-RPC answer: neither `result` nor `error`";
            record(call, "POST", name, timed, bytes, Some(error));
            None
        }
    }
}

/// One REST request: what to send and which statuses count as success.
pub struct RestCall<'a> {
    pub method: &'static str,
    pub name: &'static str,
    pub path: &'a str,
    pub body: Option<String>,
    pub expected: u16,
    /// Successes that carry no usable body (e.g. 404 for a workflow this user never created).
    pub tolerated: &'a [u16],
    /// Items an expected answer counts as carried (e.g. the events of a batch).
    pub items: u64,
}

impl<'a> RestCall<'a> {
    pub fn post(name: &'static str, path: &'a str, body: String, expected: u16) -> Self {
        RestCall {
            method: "POST",
            name,
            path,
            body: Some(body),
            expected,
            tolerated: &[],
            items: 0,
        }
    }

    pub fn get(name: &'static str, path: &'a str) -> Self {
        RestCall {
            method: "GET",
            name,
            path,
            body: None,
            expected: 200,
            tolerated: &[],
            items: 0,
        }
    }

    pub fn tolerate(mut self, statuses: &'a [u16]) -> Self {
        self.tolerated = statuses;
        self
    }

    /// Counts `items` as carried when the answer is the expected one.
    pub fn carrying(mut self, items: u64) -> Self {
        self.items = items;
        self
    }
}

/// One REST call; returns the parsed body of an expected answer.
pub async fn rest(call: &Call, rest_call: RestCall<'_>) -> Option<Value> {
    let RestCall {
        method,
        name,
        path,
        body,
        expected,
        tolerated,
        items,
    } = rest_call;
    let ctx = &call.ctx;
    let url = format!("{}{path}", ctx.base_url);
    let request = match body {
        Some(body) => ctx
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body),
        None => ctx.client.get(url),
    };
    let (outcome, timed) = exchange(request).await;
    let response = match outcome {
        Ok(r) => r,
        Err(e) => {
            record(call, method, name, timed, 0, Some(&e));
            return None;
        }
    };
    let bytes = response.body.len() as u64;
    if tolerated.contains(&response.status) {
        record(call, method, name, timed, bytes, None);
        return None;
    }
    if response.status != expected {
        record(
            call,
            method,
            name,
            timed,
            bytes,
            Some(&http_error(response.status)),
        );
        return None;
    }
    match serde_json::from_slice(&response.body) {
        Ok(v) => {
            let carried = Carried::items(items);
            record_carrying(call, method, name, timed, bytes, carried, None);
            Some(v)
        }
        Err(e) => {
            let error = format!("malformed JSON answer: {e}");
            record(call, method, name, timed, bytes, Some(&error));
            None
        }
    }
}

/// A JSON-RPC request body with pre-serialized `params`.
pub fn rpc_body(method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#)
}
