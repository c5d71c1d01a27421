//! The MCP API: a Model Context Protocol server (spec revision 2025-06-18, streamable HTTP
//! transport) at [`PATH`], so Skein can load-test the way agents call tools: a session
//! handshake, tool calls with modelled service times, and a streamed tool that reports
//! progress. It behaves as the official python SDK's server does (status codes, error
//! wording, SSE framing), so a client that works against one works against the other.
//!
//! Map: [`transport`] (Accept, headers, message shapes, HTTP refusals) → [`session`] (the
//! bounded session table with idle expiry) → [`methods`] (negotiation, dispatch, metric
//! labels) → [`tools`], [`catalog`] (resources, prompts) → [`answer`] (JSON or SSE framing)
//! with [`progress`] (progress notifications). This module holds the three HTTP handlers.
mod answer;
mod catalog;
mod methods;
pub mod modern;
mod progress;
mod tools;
mod transport;

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub use crate::mcp_sessions::{run_sweeper, Full, Mcp, Session, Sessions};
pub use catalog::RESOURCE_NOT_FOUND;
pub use tools::MAX_REPORT_STEPS;

use crate::admission::Slot;
use crate::gate;
use crate::metrics::UNKNOWN_METHOD;
use crate::rpc_error::{response, INVALID_REQUEST};
use crate::state::AppState;
use answer::Call;
use methods::{INITIALIZE, INITIALIZED};
use transport::{Framing, Message, Refusal};

/// Where the MCP API is served: `POST` (messages), `DELETE` (end a session), `GET` (405).
pub const PATH: &str = "/mcp";
/// The session header (HTTP headers are case-insensitive; the spec writes `Mcp-Session-Id`).
pub const SESSION_HEADER: &str = "mcp-session-id";
/// The protocol version header (the spec writes `MCP-Protocol-Version`).
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
/// The newest version spoken, offered when a client asks for one we do not speak.
pub const LATEST_PROTOCOL_VERSION: &str = "2025-06-18";
/// Versions `initialize` accepts and `MCP-Protocol-Version` may name.
pub const SUPPORTED_PROTOCOL_VERSIONS: [&str; 2] = [LATEST_PROTOCOL_VERSION, "2025-03-26"];
/// The names of the tools `tools/list` offers.
pub const TOOL_NAMES: [&str; 4] = ["search", "fetch_document", "summarize", "long_report"];
/// JSON-RPC code of the 503 answer to an `initialize` past `--mcp-max-sessions` (the
/// implementation-defined server-error range).
pub const SESSION_LIMIT: i64 = -32000;

fn with_session(mut response: Response, session: Option<&str>) -> Response {
    if let Some(value) = session.and_then(|s| HeaderValue::from_str(s).ok()) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}

/// `POST /mcp`: one JSON-RPC message. Token and capacity first (401, 429 as every API), then
/// the transport's checks, then the message.
pub async fn post_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let slot = match gate::admit_jsonrpc(&state, &headers).await {
        Ok(slot) => slot,
        Err(refused) => return refused,
    };
    let mut response = match post(&state, &headers, &body, slot, started).await {
        Ok(response) => response,
        Err(refused) => {
            let status = refused.status.as_u16();
            state
                .metrics
                .observe_label(UNKNOWN_METHOD, status, started.elapsed());
            refused.into_response()
        }
    };
    gate::add_rate_limit_headers(&state, &mut response);
    response
}

async fn post(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    slot: Slot,
    started: Instant,
) -> Result<Response, Refusal> {
    let framing = transport::framing(headers, state.mcp.answers)?;
    transport::check_content_type(headers)?;
    let message = transport::read_message(body)?;
    if let Message::Request { id, method, params } = &message {
        if let Some(version) = modern::requested_version(params) {
            modern::check(headers, method, params, version)?;
            state.metrics.add_mcp_request(methods::count_label(method));
            if method == modern::DISCOVER {
                let answer = response(id.clone(), Ok(modern::discover_result()));
                state
                    .metrics
                    .observe_label("mcp.server/discover", 200, started.elapsed());
                return Ok(answer::ready(framing, answer));
            }
            // Stateless: no session is read or made, whatever the headers say.
            let call = Call {
                label: methods::latency_label(method, params),
                id: id.clone(),
                method: method.clone(),
                params: params.clone(),
                session: None,
            };
            return Ok(answer::run(state.clone(), framing, slot, call, started).await);
        }
        if method == INITIALIZE {
            return initialize(state, headers, framing, id, params, started);
        }
    }
    let session = session_of(state, headers)?;
    transport::check_protocol_version(headers)?;
    match message {
        Message::Notification { method } => {
            state.metrics.add_mcp_request(methods::count_label(&method));
            if let (true, Some(sessions), Some(id)) =
                (method == INITIALIZED, &state.mcp.sessions, &session)
            {
                sessions.mark_initialized(id);
            }
            state
                .metrics
                .observe_label(methods::NOTIFICATION_LABEL, 202, started.elapsed());
            Ok(with_session(
                StatusCode::ACCEPTED.into_response(),
                session.as_deref(),
            ))
        }
        Message::Response => Ok(with_session(
            StatusCode::ACCEPTED.into_response(),
            session.as_deref(),
        )),
        Message::Request { id, method, params } => {
            state.metrics.add_mcp_request(methods::count_label(&method));
            let call = Call {
                label: methods::latency_label(&method, &params),
                id,
                method,
                params,
                session: session.clone(),
            };
            let answer = answer::run(state.clone(), framing, slot, call, started).await;
            Ok(with_session(answer, session.as_deref()))
        }
    }
}

/// The request's live session in stateful mode (400 without the header, 404 for an unknown,
/// deleted or expired id); `None` in stateless mode, whatever the request sent.
fn session_of(state: &AppState, headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let Some(sessions) = &state.mcp.sessions else {
        return Ok(None);
    };
    let id = transport::session_id(headers).ok_or_else(Refusal::missing_session)?;
    sessions.touch(id).ok_or_else(Refusal::unknown_session)?;
    Ok(Some(id.to_string()))
}

/// `initialize`: negotiates the version and, in stateful mode, opens a session (or, sent
/// with the id of a live session, initializes that one again, as the SDK routes it there).
/// Invalid params open nothing.
fn initialize(
    state: &AppState,
    headers: &HeaderMap,
    framing: Framing,
    id: &Value,
    params: &Value,
    started: Instant,
) -> Result<Response, Refusal> {
    state
        .metrics
        .add_mcp_request(methods::count_label(INITIALIZE));
    let outcome = methods::negotiate(params);
    let session = match (&outcome, &state.mcp.sessions) {
        (Ok(version), Some(sessions)) => Some(match transport::session_id(headers) {
            Some(existing) => {
                sessions
                    .touch(existing)
                    .ok_or_else(Refusal::unknown_session)?;
                sessions.reinitialize(existing, version);
                existing.to_string()
            }
            None => sessions.open(version).map_err(|Full { max }| {
                Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    SESSION_LIMIT,
                    format!("Service Unavailable: session limit reached ({max} open sessions, --mcp-max-sessions); delete a session or retry later"),
                )
            })?,
        }),
        _ => None,
    };
    let answer = response(id.clone(), outcome.map(methods::initialize_result));
    state
        .metrics
        .observe_label("mcp.initialize", 200, started.elapsed());
    Ok(with_session(
        answer::ready(framing, answer),
        session.as_deref(),
    ))
}

/// 405 for what this server does not offer, naming what it does.
fn not_allowed(state: &AppState, message: &str) -> Response {
    let mut response =
        Refusal::new(StatusCode::METHOD_NOT_ALLOWED, INVALID_REQUEST, message).into_response();
    if state.mcp.sessions.is_none() {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    response
}

/// `DELETE /mcp`: ends the session named by `Mcp-Session-Id` (200; 404 if unknown, deleted
/// or expired; 400 without the header). Stateless mode has no sessions to end: 405.
pub async fn delete_endpoint(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !gate::authorized(&state, &headers) {
        return gate::unauthorized();
    }
    let Some(sessions) = &state.mcp.sessions else {
        return not_allowed(
            &state,
            "Method Not Allowed: Session termination not supported",
        );
    };
    let Some(id) = transport::session_id(&headers) else {
        return Refusal::missing_session().into_response();
    };
    if let Err(refused) = transport::check_protocol_version(&headers) {
        return refused.into_response();
    }
    if sessions.close(id) {
        StatusCode::OK.into_response()
    } else {
        Refusal::unknown_session().into_response()
    }
}

/// `GET /mcp`: the spec lets a server decline the server-initiated stream with 405; this
/// server sends nothing unprompted, so it always declines.
pub async fn get_endpoint(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !gate::authorized(&state, &headers) {
        return gate::unauthorized();
    }
    not_allowed(
        &state,
        "Method Not Allowed: this server offers no server-initiated stream; POST messages instead",
    )
}
