//! The dashboard's routes: the page and its assets, the JSON snapshot, the event stream, the
//! controls, and the finished run's files.
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{self, Stream};
use serde::Deserialize;

use super::auth;
use super::state::WebState;
use crate::engine::StopReason;
use crate::load_control::{ControlError, LoadChange};

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

pub fn app(state: WebState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/stats", get(stats))
        .route("/api/events", get(events))
        .route("/api/stop", post(stop))
        .route("/api/rate", post(rate))
        .route("/api/users", post(users))
        .route("/files/{name}", get(file))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .with_state(state)
}

/// The page with its script and style inlined: one request, so a page opened with
/// `?token=` needs no token for sub-resources it could not attach one to.
fn page_html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        INDEX
            .replacen("/*STYLE*/", STYLE, 1)
            .replacen("/*APP*/", APP_JS, 1)
    })
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page_html(),
    )
        .into_response()
}

async fn stats(State(state): State<WebState>) -> Json<super::state::Stats> {
    Json(state.stats())
}

async fn events(
    State(state): State<WebState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // The newest message at once (a page opened after the run ended still gets it), then
    // each tick's.
    let mut rx = state.subscribe();
    rx.mark_changed();
    let stream = stream::unfold((rx, state.closing()), |(mut rx, mut closing)| async move {
        // A stream opened before the first tick waits for it (nothing to send yet).
        loop {
            tokio::select! {
                changed = rx.changed() => changed.ok()?,
                _ = closing.wait_for(|c| *c) => return None,
            }
            let Some(json) = rx.borrow_and_update().clone() else {
                continue;
            };
            let event = Event::default().event("stats").data(json.as_str());
            return Some((Ok(event), (rx, closing)));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// Ends the run as Ctrl-C does: users stop, results are written.
async fn stop(State(state): State<WebState>) -> Response {
    match state.stop_handle() {
        Some(stop) => {
            if stop.reason().is_none() {
                eprintln!("skein: stop requested from the dashboard: stopping users, results will be written");
            }
            stop.stop(StopReason::Interrupted);
            Json(serde_json::json!({ "stopping": true })).into_response()
        }
        None => refuse(StatusCode::CONFLICT, "the run has not started yet"),
    }
}

#[derive(Deserialize)]
struct RateChange {
    rate: f64,
}

/// The open model's new arrival rate, held to the end of the run (a stage in the results).
async fn rate(State(state): State<WebState>, Json(change): Json<RateChange>) -> Response {
    change_load(&state, LoadChange::Rate(change.rate))
}

#[derive(Deserialize)]
struct UsersChange {
    users: u64,
    /// Users started (or stopped) per second; the current stage's when absent.
    spawn_rate: Option<f64>,
}

/// The closed model's new user count, reached at the spawn rate and held to the end of the
/// run (a stage in the results), as Locust's swarm edit.
async fn users(State(state): State<WebState>, Json(change): Json<UsersChange>) -> Response {
    let spawn_rate = change
        .spawn_rate
        .or_else(|| state.current_spawn_rate())
        .unwrap_or(1.0);
    change_load(
        &state,
        LoadChange::Users {
            users: change.users,
            spawn_rate,
        },
    )
}

fn change_load(state: &WebState, change: LoadChange) -> Response {
    match state.load_control() {
        None => refuse(StatusCode::CONFLICT, "the run has not started yet"),
        Some(None) => refuse(
            StatusCode::CONFLICT,
            "this run's load cannot change mid-run (a distributed run or a capacity search sets its own, see docs/web-dashboard.md)",
        ),
        Some(Some(control)) => match control.set(change) {
            Ok(()) => {
                let (text, json) = match change {
                    LoadChange::Rate(rate) => (
                        format!("arrival rate set to {rate}/s"),
                        serde_json::json!({ "rate": rate }),
                    ),
                    LoadChange::Users { users, spawn_rate } => (
                        format!("users set to {users} at {spawn_rate}/s"),
                        serde_json::json!({ "users": users, "spawn_rate": spawn_rate }),
                    ),
                };
                eprintln!("skein: {text} from the dashboard");
                Json(json).into_response()
            }
            Err(e @ (ControlError::NotOpen | ControlError::NotClosed)) => {
                refuse(StatusCode::CONFLICT, e.to_string())
            }
            Err(e) => refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        },
    }
}

/// A file of the finished run's results directory (report.html, the CSVs, results.json).
async fn file(State(state): State<WebState>, Path(name): Path<String>) -> Response {
    let Some(dir) = state.out_dir() else {
        return refuse(
            StatusCode::NOT_FOUND,
            "the run's results are not written yet",
        );
    };
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return refuse(StatusCode::NOT_FOUND, "no such file");
    }
    let content_type = match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        Some("md") => "text/markdown; charset=utf-8",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    match tokio::fs::read(dir.join(&name)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(_) => refuse(StatusCode::NOT_FOUND, "no such file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_self_contained() {
        let html = page_html();
        assert!(html.contains("function drawChart") && html.contains("--bg:"));
        assert!(!html.contains("/*APP*/") && !html.contains("/*STYLE*/"));
        for external in ["src=\"http", "href=\"http", "@import", "cdn"] {
            assert!(!html.contains(external), "{external}");
        }
    }
}
