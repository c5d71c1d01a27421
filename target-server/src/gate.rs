//! The front door every token-protected API shares: the bearer-token check and admission to
//! a capacity slot (with its 429 answer and rate-limit headers).
//!
//! It lives apart from the router ([`crate::app`]) so that APIs with their own HTTP handling
//! ([`crate::mcp`]) reuse exactly the same answers without depending on the router.
use std::time::Instant;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::admission::Slot;
use crate::state::AppState;

/// Label for HTTP-level answers of the JSON-RPC endpoints (401, 429) where no call was read.
pub const JSONRPC_LABEL: &str = "unknown";

/// Whether the request carries `Authorization: Bearer <the server's token>`.
pub fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == &*state.token)
}

/// 401 with `WWW-Authenticate: Bearer`.
pub fn unauthorized() -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": { "code": "unauthorized", "message": "missing or wrong `Authorization: Bearer <token>`" } })),
    )
        .into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// 429 with `Retry-After: 1`.
pub fn shed_response() -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({ "error": { "code": "overloaded", "message": "server at capacity; retry after the given seconds" } })),
    )
        .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

pub fn add_rate_limit_headers(state: &AppState, response: &mut Response) {
    let (limit, remaining) = state.admission.limit_and_remaining();
    let h = response.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from_static("1"));
}

/// Authentication and admission in front of a JSON-RPC endpoint: the held slot, or the 401 or
/// 429 answer to send instead.
pub async fn admit_jsonrpc(state: &AppState, headers: &HeaderMap) -> Result<Slot, Response> {
    let started = Instant::now();
    if !authorized(state, headers) {
        state.metrics.observe(JSONRPC_LABEL, 401, started.elapsed());
        return Err(unauthorized());
    }
    state.admission.admit().await.map_err(|_| {
        state.metrics.observe(JSONRPC_LABEL, 429, started.elapsed());
        let mut r = shed_response();
        add_rate_limit_headers(state, &mut r);
        r
    })
}
