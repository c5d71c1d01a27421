//! The manager's state and endpoints: workers register and report here, their reports are
//! applied to one merged state as they come (see [`super::registry`]), shares are rebalanced
//! when a worker is lost or joins, and the merged result is built. The drivers that move a run
//! through its phases read and change this state: [`super::manager`] (a scenario's stages) and
//! [`super::search`] (a capacity search's steps).
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use reports::{RunResult, SlaThreshold};

use super::protocol::*;
use super::registry::{Accepted, Registry};
use super::share::{launch_orders, split, worker_stages};
use crate::capacity::SearchSpec;
use crate::exit::Failure;
use crate::results::{self, judge, ResultInput};
use crate::scenario::Scenario;

/// A worker silent this long is lost.
pub const LOSS_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the manager waits for final reports after telling workers to stop.
pub const FINAL_REPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time between the start decision and the agreed start instant: every worker hears of it
/// in its next report (once a second) before it comes.
pub const START_DELAY: Duration = Duration::from_secs(2);

/// What the manager searches with.
#[derive(Clone, Debug)]
pub struct SearchSettings {
    pub spec: SearchSpec,
    pub warmup: Duration,
    pub step_time: Duration,
    pub budget: Duration,
    /// The SLAs each step is judged on (the scenario's, with `--sla` replacing).
    pub thresholds: Vec<SlaThreshold>,
}

pub struct ManagerConfig {
    pub scenario: Scenario,
    /// `skein capacity` over the workers: the manager runs the search's steps instead of the
    /// scenario's stages (see [`super::search`]).
    pub search: Option<SearchSettings>,
    pub spec: ScenarioSpec,
    pub host: String,
    pub target_token: String,
    pub token: String,
    pub expect_workers: usize,
    pub bind: SocketAddr,
    pub wait_timeout: Duration,
    pub live_every: Duration,
    pub command_line: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Phase {
    Waiting,
    Running,
    Stopping,
    Done,
}

pub struct Shared {
    pub(super) registry: Registry,
    pub(super) phase: Phase,
    pub(super) run_start: Option<SystemTime>,
    /// A capacity search's current step, replacing the scenario's stages in the shares.
    pub(super) stages: Option<Vec<crate::scenario::Stage>>,
    version: u64,
    assignments: std::collections::HashMap<String, Assignment>,
    pub(super) interrupted: bool,
}

#[derive(Clone)]
pub(super) struct AppState {
    pub(super) shared: Arc<Mutex<Shared>>,
    token: Arc<str>,
    run_id: Arc<str>,
    spec: Arc<ScenarioSpec>,
    pub(super) scenario: Arc<Scenario>,
    host: Arc<str>,
    target_token: Arc<str>,
}

/// How the distributed run ended.
pub struct ManagerOutcome {
    pub result: RunResult,
    pub interrupted: bool,
    pub all_lost: bool,
    /// The capacity search, when the manager ran one.
    pub search: Option<reports::CapacitySearch>,
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn refuse(status: StatusCode, error: impl Into<String>) -> Response {
    (
        status,
        Json(Refusal {
            error: error.into(),
        }),
    )
        .into_response()
}

/// Checks token and protocol version of a worker's request; `Err` is the refusal to send.
fn check_headers(state: &AppState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if !token_matches(auth, &state.token) {
        return Err(Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: start the worker with the manager's --token (or SKEIN_TOKEN)",
        )));
    }
    let version = headers
        .get(PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    if version != Some(PROTOCOL_VERSION) {
        return Err(Box::new(refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "protocol version mismatch: worker speaks {}, manager speaks {PROTOCOL_VERSION}; run the same skein version on both",
                version.map_or("none".to_string(), |v| v.to_string())
            ),
        )));
    }
    Ok(())
}

/// Every authenticated reply proves the manager knows the token too.
fn signed(state: &AppState, response: impl IntoResponse) -> Response {
    let mut r = response.into_response();
    if let Ok(v) = HeaderValue::from_str(&state.token) {
        r.headers_mut().insert(REPLY_TOKEN_HEADER, v);
    }
    r
}

pub(super) fn rebalance(state: &AppState, shared: &mut Shared) {
    let Some(start) = shared.run_start else {
        return;
    };
    shared.version += 1;
    let step;
    let scenario: &Scenario = match &shared.stages {
        None => &state.scenario,
        Some(stages) => {
            let mut s = (*state.scenario).clone();
            s.stages = stages.clone();
            step = s;
            &step
        }
    };
    let active: Vec<String> = shared.registry.active().map(|w| w.id.clone()).collect();
    let orders = launch_orders(scenario, active.len());
    shared.assignments.clear();
    for ((rank, id), launch_order) in active.iter().enumerate().zip(orders) {
        shared.assignments.insert(
            id.clone(),
            Assignment {
                version: shared.version,
                run_start_unix_ms: unix_ms(start),
                stages: worker_stages(&scenario.stages, active.len(), rank),
                launch_order,
                max_in_flight: split(scenario.max_in_flight as u64, active.len(), rank).max(1)
                    as usize,
                worker_rank: rank,
                worker_count: active.len(),
            },
        );
    }
    tracing::info!(
        workers = active.len(),
        version = shared.version,
        "users shared among workers"
    );
}

async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_headers(&state, &headers) {
        return *r;
    }
    let message: Register = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("invalid register message: {e}"),
            )
        }
    };
    if let Some(hash) = &message.scenario_hash {
        if hash != &state.spec.hash {
            return refuse(
                StatusCode::CONFLICT,
                format!(
                    "scenario mismatch: the worker was started for scenario hash {hash}, the manager runs `{}` (hash {})",
                    state.spec.name, state.spec.hash
                ),
            );
        }
    }
    let mut shared = state.shared.lock().expect("manager state poisoned");
    let new = shared
        .registry
        .register(&message.worker_id, Some(peer.to_string()));
    eprintln!(
        "skein manager: worker {} {} ({} active)",
        message.worker_id,
        if new {
            "registered"
        } else {
            "registered again"
        },
        shared.registry.active().count()
    );
    if shared.phase == Phase::Running {
        rebalance(&state, &mut shared);
    }
    drop(shared);
    signed(
        &state,
        Json(Registered {
            run_id: state.run_id.to_string(),
            scenario: (*state.spec).clone(),
            host: state.host.to_string(),
            target_token: state.target_token.to_string(),
        }),
    )
}

async fn report(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check_headers(&state, &headers) {
        return *r;
    }
    let message = match Report::decode(&body) {
        Ok(m) => m,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("invalid report: {e}")),
    };
    if message.run_id != *state.run_id {
        return refuse(
            StatusCode::CONFLICT,
            format!(
                "report for run {}, this manager runs {}: restart the worker",
                message.run_id, state.run_id
            ),
        );
    }
    if message.scenario_hash != state.spec.hash {
        return refuse(
            StatusCode::CONFLICT,
            format!(
                "scenario mismatch: report for scenario hash {}, the manager runs {}",
                message.scenario_hash, state.spec.hash
            ),
        );
    }
    let worker = message.worker_id.as_str();
    let mut shared = state.shared.lock().expect("manager state poisoned");
    let was_final = shared
        .registry
        .get(worker)
        .is_some_and(|w| w.final_received);
    let Some((accepted, applied)) = shared.registry.accept(&message) else {
        return refuse(
            StatusCode::CONFLICT,
            format!("unknown worker `{worker}`: register first"),
        );
    };
    // The final report is acknowledged only once it is applied: the worker exits on `ack`.
    let final_held = message.final_report && applied == Some(message.seq);
    if final_held && !was_final && shared.phase == Phase::Running {
        // The worker leaves early (SIGTERM, scale-down): its users move to the others.
        eprintln!("skein manager: worker {worker} left with its final report");
        rebalance(&state, &mut shared);
    }
    if accepted == Accepted::Returned {
        eprintln!("skein manager: worker {worker} is back; its cumulative totals count once");
        if shared.phase == Phase::Running {
            rebalance(&state, &mut shared);
        }
    }
    let command = match shared.phase {
        _ if final_held => Command::Ack,
        Phase::Waiting => Command::Wait,
        Phase::Running => match shared.assignments.get(worker) {
            Some(a) => Command::Run {
                assignment: a.clone(),
            },
            None => Command::Wait,
        },
        Phase::Stopping | Phase::Done => Command::Stop,
    };
    drop(shared);
    signed(&state, Json(ReportReply { applied, command }))
}

/// Requests in the newest second every active worker has reported (see
/// [`Registry::complete_second`]): a second some workers have not sent yet would read low.
fn complete_second_rps(registry: &Registry) -> u64 {
    registry
        .complete_second()
        .and_then(|t| registry.merged().second(t))
        .map_or(0, |s| s.requests)
}

/// Prometheus text, read from the merged state in place.
async fn metrics(State(state): State<AppState>) -> Response {
    use std::fmt::Write;
    let shared = state.shared.lock().expect("manager state poisoned");
    let registry = &shared.registry;
    let total = registry.merged().overall();
    let mut text = String::with_capacity(1024);
    let _ = write!(
        text,
        "# HELP skein_manager_workers Workers by state.\n# TYPE skein_manager_workers gauge\n\
         skein_manager_workers{{state=\"active\"}} {}\nskein_manager_workers{{state=\"lost\"}} {}\n\
         # HELP skein_manager_users Users active on all workers.\n# TYPE skein_manager_users gauge\nskein_manager_users {}\n\
         # HELP skein_manager_requests_total Requests of all workers (merged reports).\n# TYPE skein_manager_requests_total counter\nskein_manager_requests_total {}\n\
         # HELP skein_manager_failures_total Failed requests of all workers.\n# TYPE skein_manager_failures_total counter\nskein_manager_failures_total {}\n\
         # HELP skein_manager_rps Requests in the newest second every active worker has reported.\n# TYPE skein_manager_rps gauge\nskein_manager_rps {}\n\
         # HELP skein_manager_latency_ms Merged response time percentiles since the start.\n# TYPE skein_manager_latency_ms gauge\n",
        registry.active().count(),
        registry.lost(),
        registry.active_users(),
        total.requests,
        total.failures,
        complete_second_rps(registry),
    );
    for q in [0.5, 0.95, 0.99] {
        let _ = writeln!(
            text,
            "skein_manager_latency_ms{{quantile=\"{q}\"}} {}",
            total.latency.value_at_quantile(q)
        );
    }
    drop(shared);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
        .into_response()
}

/// Runs the manager until the distributed run ends; returns the merged result.
impl AppState {
    /// The state of a manager about to wait for its workers.
    pub(super) fn new(config: &ManagerConfig) -> AppState {
        AppState {
            shared: Arc::new(Mutex::new(Shared {
                registry: Registry::new(),
                phase: Phase::Waiting,
                run_start: None,
                stages: None,
                version: 0,
                assignments: Default::default(),
                interrupted: false,
            })),
            token: Arc::from(config.token.as_str()),
            run_id: Arc::from(uuid::Uuid::new_v4().to_string().as_str()),
            spec: Arc::new(config.spec.clone()),
            scenario: Arc::new(config.scenario.clone()),
            host: Arc::from(config.host.as_str()),
            target_token: Arc::from(config.target_token.as_str()),
        }
    }
}

/// The manager's endpoints: registration, reports, its own metrics.
pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route(REGISTER_PATH, post(register))
        .route(REPORT_PATH, post(report))
        .route("/metrics", get(metrics))
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024))
        .with_state(state)
}

/// Whether `--expect-workers` have registered; an error when interrupted or out of time.
pub(super) fn enough_workers(
    shared: &Shared,
    config: &ManagerConfig,
    waiting_since: Instant,
) -> Result<bool, Failure> {
    let active = shared.registry.active().count();
    if shared.interrupted {
        return Err(Failure::Aborted(
            "interrupted before the run started; nothing was measured".into(),
        ));
    }
    if active >= config.expect_workers {
        return Ok(true);
    }
    if waiting_since.elapsed() > config.wait_timeout {
        return Err(Failure::Aborted(format!(
            "only {active} of {} workers registered within {}s; start more workers or lower --expect-workers (or raise --wait-timeout)",
            config.expect_workers,
            config.wait_timeout.as_secs()
        )));
    }
    Ok(false)
}

/// The merged result: the registry's merged totals with the manager's own metadata (its
/// scenario, host and command line; the first worker's core count), judged on the whole
/// run's stages.
pub(super) fn build_result(
    state: &AppState,
    config: &ManagerConfig,
    shared: &Shared,
) -> Result<RunResult, Failure> {
    let registry = &shared.registry;
    if !registry.has_reports() {
        return Err(Failure::Aborted(
            "no worker sent a report: nothing was measured".into(),
        ));
    }
    let start: chrono::DateTime<Utc> = shared.run_start.unwrap_or_else(SystemTime::now).into();
    let planned_end = chrono::Duration::from_std(config.scenario.run_time())
        .ok()
        .and_then(|d| start.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC);
    let ended = Utc::now().min(planned_end).max(start);
    let input = ResultInput {
        scenario: &state.scenario,
        stages: &state.scenario.stages,
        host: &config.host,
        command_line: &config.command_line,
    };
    Ok(merged_result(&input, shared, ended, None))
}

/// The workers' merged result so far, its SLAs judged: the final result, and what the
/// dashboard reads each second ([`super::web_feed`]) with only the last `tail` seconds of the
/// series, as a local run's dashboard does ([`results::build`]).
pub(super) fn merged_result(
    input: &ResultInput<'_>,
    shared: &Shared,
    ended: chrono::DateTime<Utc>,
    tail: Option<usize>,
) -> RunResult {
    let registry = &shared.registry;
    let start: chrono::DateTime<Utc> = shared.run_start.unwrap_or_else(SystemTime::now).into();
    let mut merged = RunResult::new(results::metadata(input, start, ended));
    let workers = registry.all().iter().filter(|w| w.has_reported());
    if let Some(first) = workers.clone().next() {
        merged.metadata.machine_cores = first.machine_cores as usize;
    }
    merged.metadata.partial = registry.lost() > 0;
    merged.metadata.interrupted = shared.interrupted;
    let totals = registry.merged();
    merged.requests = totals.requests();
    merged.failures = totals.failures();
    merged.series = totals.series_tail(tail);
    merged.dropped_arrivals = totals.dropped_arrivals();
    merged.skipped_requests = totals.skipped_requests();
    merged.thresholds = input.scenario.thresholds.clone();
    merged.workers = workers.map(|w| w.contribution()).collect();
    for w in &merged.workers {
        merged.resources.cpu_seconds += w.resources.cpu_seconds;
        merged.resources.peak_rss_bytes = merged
            .resources
            .peak_rss_bytes
            .max(w.resources.peak_rss_bytes);
    }
    judge(&mut merged, input.stages, start, Utc::now());
    merged
}
