//! The LLM endpoints' routes and handlers (the API itself is [`crate::llm`]): apart from it so
//! that the server's state can hold the LLM engine without the engine depending on the state.
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::gate::{add_rate_limit_headers, authorized};
use crate::llm::errors::{Kind, LlmError};
use crate::llm::model::Plan;
use crate::llm::stream::{Usage, Wire};
use crate::llm::{anthropic, openai, request, stream};
use crate::llm::{Api, FaultKind, FAULT_HEADER, TRUTH_HEADER};
use crate::state::AppState;

/// The LLM routes, merged into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/messages", post(messages))
        .route("/v1/models", get(models))
}

async fn chat(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    answer(state, Api::Chat, headers, body).await
}

async fn completions(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    answer(state, Api::Completions, headers, body).await
}

async fn messages(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    answer(state, Api::Messages, headers, body).await
}

/// The server's token as `Authorization: Bearer` (every client) or `x-api-key` (what the
/// Anthropic SDKs send).
fn token_ok(state: &AppState, headers: &HeaderMap) -> bool {
    authorized(state, headers)
        || headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|k| k.trim() == &*state.token)
}

fn unauthorized() -> LlmError {
    LlmError::new(
        Kind::Unauthorized,
        "missing or wrong API key: send `Authorization: Bearer <token>`",
    )
}

async fn models(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !token_ok(&state, &headers) {
        return unauthorized().response(Api::Models);
    }
    let data: Vec<_> = state
        .llm
        .config
        .models
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 0, "owned_by": "skein" }))
        .collect();
    Json(json!({ "object": "list", "data": data })).into_response()
}

/// The fault the request asks for in `x-llm-fault`; an unknown name is a 400.
fn requested_fault(headers: &HeaderMap) -> Result<Option<FaultKind>, LlmError> {
    let Some(value) = headers.get(FAULT_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default();
    FaultKind::parse(text).map(Some).ok_or_else(|| {
        LlmError::invalid(
            "x-llm-fault",
            format!("unknown fault `{text}`; use error, stall, cut, malformed or no-usage"),
        )
    })
}

/// Every generating route: token, admission (as the JSON-RPC APIs: the slot is held until the
/// answer's end), request, plan, decode slot, answer.
async fn answer(state: AppState, api: Api, headers: HeaderMap, body: Bytes) -> Response {
    let arrived = Instant::now();
    if !token_ok(&state, &headers) {
        return unauthorized().response(api);
    }
    let Ok(admission) = state.admission.admit().await else {
        let mut refused = LlmError::new(
            Kind::Overloaded,
            "server at capacity; retry after the given seconds",
        )
        .response(api);
        add_rate_limit_headers(&state, &mut refused);
        return refused;
    };
    let llm = &state.llm;
    let ask = match request::parse(api, &body, &llm.config.models) {
        Ok(ask) => ask,
        Err(e) => return e.response(api),
    };
    let fault = match requested_fault(&headers) {
        Ok(requested) => llm.fault_for(requested, ask.stream),
        Err(e) => return e.response(api),
    };
    state.metrics.llm.add_request(api, ask.input_tokens);
    let plan = Plan::draw(&ask, &llm.config, &state.faults, fault);
    let usage = (fault != Some(FaultKind::NoUsage)).then_some(Usage {
        input: plan.input_tokens,
        output: plan.output_tokens,
    });
    let wire: Box<dyn Wire> = match api {
        Api::Messages => Box::new(anthropic::Anthropic::new(&ask.model, usage)),
        _ => Box::new(openai::OpenAi::new(
            api == Api::Chat,
            &ask.model,
            ask.include_usage,
            usage,
        )),
    };
    let decoding = llm.start(plan, state.clock.clone(), arrived).await;
    let truth = decoding.truth();
    let mut response = if ask.stream {
        let stall = Duration::from_millis(llm.config.llm_stall_ms);
        stream::streamed(decoding, wire, stall, admission)
    } else {
        let answer = stream::whole(decoding, wire, api).await;
        drop(admission);
        answer
    };
    if let Ok(value) = HeaderValue::from_str(&truth) {
        response.headers_mut().insert(TRUTH_HEADER, value);
    }
    add_rate_limit_headers(&state, &mut response);
    response
}
