//! A user's request end to end: sent on the [`crate::transport`], timed to the last body byte,
//! judged and recorded against the user's [`Call`].
//!
//! goose times a request until its response headers arrive; a slow export of a large
//! trajectory page would look fast. Here the clock stops when the whole body is read.
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::behaviour::Call;
use crate::recorder::Sample;
pub(crate) use crate::transport::http_error;
use crate::transport::jsonrpc::{self, Answer, RpcError, Unread};
pub use crate::transport::jsonrpc::{job_query_body, rpc_body};
pub use crate::transport::{exchange, FullResponse, Timed};
pub(crate) use crate::transport::{read_body, transport_error, without_url};
use crate::transport::{Endpoint, OutgoingRequest};
use reports::{StreamTiming, TokenTiming};

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
    /// An LLM answer's tokens.
    pub tokens: Option<&'a TokenTiming>,
}

impl Carried<'_> {
    pub const NOTHING: Carried<'static> = Carried {
        items: 0,
        stream: None,
        tokens: None,
    };

    pub fn items(items: u64) -> Carried<'static> {
        Carried {
            items,
            stream: None,
            tokens: None,
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
        tokens: carried.tokens,
        error,
    });
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
    rpc_counting_with_headers(call, url, name, body, tolerated, &[], items).await
}

/// [`rpc_counting`] with protocol header lines beside the usual ones (at most
/// [`crate::transport::MAX_EXTRA_HEADERS`], e.g. `a2a-version: 1.0`).
pub async fn rpc_counting_with_headers(
    call: &Call,
    url: &str,
    name: &'static str,
    body: String,
    tolerated: &[i64],
    headers: &[(&'static str, &'static str)],
    items: impl Fn(&Value) -> u64,
) -> Option<Value> {
    let request = RpcRequest {
        url,
        name,
        body,
        tolerated,
        headers,
    };
    rpc_reading::<Value>(call, request, items).await
}

/// [`rpc`] for a caller that does not use the `result`: the answer is judged and recorded
/// the same, and the result is skipped rather than built. `true` when the call succeeded
/// with a result.
pub async fn rpc_without_result(
    call: &Call,
    name: &'static str,
    body: String,
    tolerated: &[i64],
) -> bool {
    let request = RpcRequest {
        url: &call.ctx.jsonrpc_url,
        name,
        body,
        tolerated,
        headers: &[],
    };
    rpc_reading::<Unread>(call, request, |_| 0).await.is_some()
}

/// Sends a JSON-RPC body to `url`: through the context's [`crate::transport::Transport`] when `url` is
/// under the target's base URL, with reqwest otherwise.
async fn send_rpc(
    call: &Call,
    url: &str,
    body: String,
    headers: &[(&'static str, &'static str)],
) -> (Result<FullResponse, String>, Timed) {
    let ctx = &call.ctx;
    let endpoint = if url == ctx.jsonrpc_url {
        Some(Endpoint::JsonRpc)
    } else {
        url.strip_prefix(ctx.base_url.as_str())
            .filter(|path| path.starts_with('/'))
            .map(Endpoint::Path)
    };
    match endpoint {
        Some(endpoint) => {
            let request = OutgoingRequest {
                method: Method::POST,
                endpoint,
                body: Some(body),
                authorized: true,
                extra_headers: headers,
            };
            ctx.transport.exchange(request).await
        }
        None => {
            let request = ctx
                .client
                .post(url)
                .header(AUTHORIZATION, ctx.authorization.clone())
                .header(CONTENT_TYPE, "application/json");
            let request = headers
                .iter()
                .fold(request, |r, (name, value)| r.header(*name, *value));
            exchange(request.body(body)).await
        }
    }
}

/// What one JSON-RPC call sends and which error codes count as success.
struct RpcRequest<'a> {
    url: &'a str,
    name: &'static str,
    body: String,
    tolerated: &'a [i64],
    headers: &'a [(&'static str, &'static str)],
}

/// One JSON-RPC call whose `result` is read as an `R` ([`jsonrpc`]); `items` counts
/// what a successful result carried.
async fn rpc_reading<R: DeserializeOwned>(
    call: &Call,
    request: RpcRequest<'_>,
    items: impl Fn(&R) -> u64,
) -> Option<R> {
    let RpcRequest {
        url,
        name,
        body,
        tolerated,
        headers,
    } = request;
    let (outcome, timed) = send_rpc(call, url, body, headers).await;
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
    match jsonrpc::read::<R>(&response.body) {
        Ok(Answer::Result(result)) => {
            let carried = Carried::items(items(&result));
            record_carrying(call, "POST", name, timed, bytes, carried, None);
            Some(result)
        }
        Ok(Answer::Error(RpcError { code, .. })) if tolerated.contains(&code) => {
            record(call, "POST", name, timed, bytes, None);
            None
        }
        Ok(Answer::Error(error)) => {
            let error = error.to_string();
            record(call, "POST", name, timed, bytes, Some(&error));
            None
        }
        Ok(Answer::Neither) => {
            let error = "malformed JSON-RPC answer: neither `result` nor `error`";
            record(call, "POST", name, timed, bytes, Some(error));
            None
        }
        Err(e) => {
            let error = format!("malformed JSON-RPC answer: {e}");
            record(call, "POST", name, timed, bytes, Some(&error));
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
    let request = OutgoingRequest {
        method: if body.is_some() {
            Method::POST
        } else {
            Method::GET
        },
        endpoint: Endpoint::Path(path),
        body,
        authorized: false,
        extra_headers: &[],
    };
    let (outcome, timed) = call.ctx.transport.exchange(request).await;
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
