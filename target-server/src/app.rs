//! The router: every route, and the admission and metrics wiring (the token check and
//! admission themselves are in [`crate::gate`]). Handlers of the APIs live in
//! [`crate::training`] and [`crate::a2a`] (both through [`crate::jsonrpc`]),
//! [`crate::orchestration`] and [`crate::mcp`]; this module only routes to them.
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::faults::FaultSettings;
use crate::gate::{add_rate_limit_headers, admit_jsonrpc, authorized, shed_response, unauthorized};
use crate::jsonrpc::{AgentReply, Api};
use crate::metrics::StoreScrape;
use crate::rest_error::ApiError;
use crate::state::AppState;
use crate::store::{self, RowCounts};
use crate::{a2a, jsonrpc, mcp, orchestration};

pub fn app(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route("/api/v1/jsonrpc", post(jsonrpc_endpoint))
        .route(a2a::PATH, post(a2a_endpoint))
        .route(a2a::card::CARD_PATH, get(a2a::card::card_endpoint))
        .route(
            mcp::PATH,
            post(mcp::post_endpoint)
                .delete(mcp::delete_endpoint)
                .get(mcp::get_endpoint),
        )
        .route("/api/v1/workflows", post(create_workflow))
        .route("/api/v1/workflows/{id}/execute", post(execute_workflow))
        .route("/api/v1/workflows/{id}/status", get(workflow_status))
        .route("/api/v1/executions/{id}", get(execution_status))
        .route("/api/v1/events/batch", post(publish_event_batch))
        .route("/admin/faults", get(get_faults).put(put_faults))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::llm_routes::routes())
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

fn json_answer(answer: Option<Value>) -> Response {
    match answer {
        Some(answer) => Json(answer).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn jsonrpc_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _slot = match admit_jsonrpc(&state, &headers).await {
        Ok(slot) => slot,
        Err(refused) => return refused,
    };
    let mut response = json_answer(jsonrpc::handle_body(&state, Api::Training, &body).await);
    add_rate_limit_headers(&state, &mut response);
    response
}

/// The A2A agent endpoint. A streamed answer takes the capacity slot into its event stream,
/// so a stream holds its slot until its last event (or until its client goes away).
async fn a2a_endpoint(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let slot = match admit_jsonrpc(&state, &headers).await {
        Ok(slot) => slot,
        Err(refused) => return refused,
    };
    let version = headers
        .get(a2a::version::VERSION_HEADER)
        .and_then(|v| v.to_str().ok());
    let mut response = match jsonrpc::handle_agent_body(&state, version, &body, slot).await {
        AgentReply::Answer(answer) => json_answer(answer),
        AgentReply::Stream(stream) => (*stream).into_response(),
    };
    add_rate_limit_headers(&state, &mut response);
    response
}

/// Common path of every REST route: admission, fault model, metrics.
async fn rest<F>(state: &AppState, method: &str, work: F) -> Response
where
    F: std::future::Future<Output = Result<(StatusCode, Value), ApiError>>,
{
    let started = Instant::now();
    let Ok(_slot) = state.admission.admit().await else {
        state.metrics.observe(method, 429, started.elapsed());
        return shed_response();
    };
    let decision = state.faults.decide(method);
    if !decision.delay.is_zero() {
        state.clock.sleep(decision.delay).await;
    }
    let response = if decision.inject_error {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "injected_fault",
            format!("injected fault in {method}"),
        )
        .into_response()
    } else {
        match work.await {
            Ok((status, body)) => (status, Json(body)).into_response(),
            Err(e) => e.into_response(),
        }
    };
    state
        .metrics
        .observe(method, response.status().as_u16(), started.elapsed());
    response
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))
}

async fn create_workflow(State(state): State<AppState>, body: Bytes) -> Response {
    let s = state.clone();
    rest(&state, "create_workflow", async move {
        orchestration::create(&s, json_body(&body)?).await
    })
    .await
}

async fn execute_workflow(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let s = state.clone();
    rest(&state, "execute_workflow", async move {
        let body = if body.is_empty() {
            json!({})
        } else {
            json_body(&body)?
        };
        orchestration::execute(&s, id, body).await
    })
    .await
}

async fn workflow_status(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let s = state.clone();
    rest(&state, "get_workflow_status", async move {
        orchestration::status(&s, id).await
    })
    .await
}

async fn execution_status(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let s = state.clone();
    rest(&state, "get_execution_status", async move {
        orchestration::execution(&s, id).await
    })
    .await
}

async fn publish_event_batch(State(state): State<AppState>, body: Bytes) -> Response {
    let s = state.clone();
    rest(&state, "publish_event_batch", async move {
        orchestration::publish_events(&s, json_body(&body)?).await
    })
    .await
}

async fn get_faults(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    Json(state.faults.current()).into_response()
}

async fn put_faults(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let change: FaultSettings = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return ApiError::bad_request(format!("invalid fault settings: {e}")).into_response()
        }
    };
    match state.faults.update(change) {
        Ok(now) => Json(now).into_response(),
        Err(problem) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            problem,
        )
        .into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state
        .store
        .with(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await
    {
        Ok(_) => "ready".into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not ready: {e}"),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    state.mcp.sweep();
    let (jobs_by_state, size) = state
        .store
        .with(|conn| Ok((store::count_jobs_by_status(conn)?, store::store_size(conn)?)))
        .await
        .unwrap_or_default();
    let scrape = StoreScrape {
        jobs_by_state,
        size,
        trajectories: RowCounts::get(&state.store.rows().trajectories),
        events: RowCounts::get(&state.store.rows().events),
        workflows: RowCounts::get(&state.store.rows().workflows),
        agent_tasks: RowCounts::get(&state.store.rows().agent_tasks),
        executions: RowCounts::get(&state.store.rows().executions),
    };
    let mut r = state.metrics.render(&scrape).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}
