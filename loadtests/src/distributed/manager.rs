//! The manager: waits for workers, shares the scenario among them, keeps their latest
//! cumulative reports, rebalances when one is lost or joins, and merges the result.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use reports::{RequestStats, RunResult};

use super::protocol::*;
use super::registry::{Accepted, Registry};
use super::share::{split, worker_launch_order, worker_stages};
use crate::exit::Failure;
use crate::results::{default_out_dir, judge};
use crate::scenario::Scenario;
use crate::signals;

/// A worker silent this long is lost.
pub const LOSS_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the manager waits for final reports after telling workers to stop.
pub const FINAL_REPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time between the start decision and the agreed start instant: every worker hears of it
/// in its next report (once a second) before it comes.
pub const START_DELAY: Duration = Duration::from_secs(2);

pub struct ManagerConfig {
    pub scenario: Scenario,
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
enum Phase {
    Waiting,
    Running,
    Stopping,
    Done,
}

struct Shared {
    registry: Registry,
    phase: Phase,
    run_start: Option<SystemTime>,
    version: u64,
    assignments: std::collections::HashMap<String, Assignment>,
    interrupted: bool,
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Mutex<Shared>>,
    token: Arc<str>,
    run_id: Arc<str>,
    spec: Arc<ScenarioSpec>,
    scenario: Arc<Scenario>,
    host: Arc<str>,
    target_token: Arc<str>,
}

/// How the distributed run ended.
pub struct ManagerOutcome {
    pub result: RunResult,
    pub interrupted: bool,
    pub all_lost: bool,
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

fn rebalance(state: &AppState, shared: &mut Shared) {
    let Some(start) = shared.run_start else {
        return;
    };
    shared.version += 1;
    let active: Vec<String> = shared
        .registry
        .active()
        .iter()
        .map(|w| w.id.clone())
        .collect();
    shared.assignments.clear();
    for (rank, id) in active.iter().enumerate() {
        shared.assignments.insert(
            id.clone(),
            Assignment {
                version: shared.version,
                run_start_unix_ms: unix_ms(start),
                stages: worker_stages(&state.scenario.stages, active.len(), rank),
                launch_order: worker_launch_order(&state.scenario, active.len(), rank),
                max_in_flight: split(state.scenario.max_in_flight as u64, active.len(), rank).max(1)
                    as usize,
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
        shared.registry.active().len()
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
    let message: Report = match serde_json::from_slice(&body) {
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
    let worker = message.worker_id.clone();
    let is_final = message.final_report;
    let mut shared = state.shared.lock().expect("manager state poisoned");
    let was_final = shared
        .registry
        .get(&worker)
        .is_some_and(|w| w.final_received);
    let Some(accepted) = shared.registry.accept(message) else {
        return refuse(
            StatusCode::CONFLICT,
            format!("unknown worker `{worker}`: register first"),
        );
    };
    if is_final && !was_final && shared.phase == Phase::Running {
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
        _ if is_final => Command::Ack,
        Phase::Waiting => Command::Wait,
        Phase::Running => match shared.assignments.get(&worker) {
            Some(a) => Command::Run {
                assignment: a.clone(),
            },
            None => Command::Wait,
        },
        Phase::Stopping | Phase::Done => Command::Stop,
    };
    drop(shared);
    signed(&state, Json(command))
}

fn merged_totals(registry: &Registry) -> RequestStats {
    let mut total = RequestStats::new("", "Aggregated");
    for w in registry.all() {
        if let Some(r) = &w.latest {
            total.add(&r.overall());
        }
    }
    total
}

async fn metrics(State(state): State<AppState>) -> Response {
    let shared = state.shared.lock().expect("manager state poisoned");
    let total = merged_totals(&shared.registry);
    let active = shared.registry.active().len();
    let lost = shared.registry.all().iter().filter(|w| w.is_lost()).count();
    let last_second_rps: u64 = {
        let newest = shared
            .registry
            .all()
            .iter()
            .filter_map(|w| w.series.keys().next_back().copied())
            .max();
        newest.map_or(0, |t| {
            shared
                .registry
                .all()
                .iter()
                .filter_map(|w| w.series.get(&t))
                .map(|s| s.requests)
                .sum()
        })
    };
    let mut text = String::new();
    text.push_str(
        "# HELP skein_manager_workers Workers by state.\n# TYPE skein_manager_workers gauge\n",
    );
    text.push_str(&format!("skein_manager_workers{{state=\"active\"}} {active}\nskein_manager_workers{{state=\"lost\"}} {lost}\n"));
    text.push_str(&format!("# HELP skein_manager_users Users active on all workers.\n# TYPE skein_manager_users gauge\nskein_manager_users {}\n", shared.registry.active_users()));
    text.push_str(&format!("# HELP skein_manager_requests_total Requests of all workers (merged latest reports).\n# TYPE skein_manager_requests_total counter\nskein_manager_requests_total {}\n", total.requests));
    text.push_str(&format!("# HELP skein_manager_failures_total Failed requests of all workers.\n# TYPE skein_manager_failures_total counter\nskein_manager_failures_total {}\n", total.failures));
    text.push_str(&format!("# HELP skein_manager_rps Requests in the newest reported second.\n# TYPE skein_manager_rps gauge\nskein_manager_rps {last_second_rps}\n"));
    text.push_str("# HELP skein_manager_latency_ms Merged response time percentiles since the start.\n# TYPE skein_manager_latency_ms gauge\n");
    for q in [0.5, 0.95, 0.99] {
        text.push_str(&format!(
            "skein_manager_latency_ms{{quantile=\"{q}\"}} {}\n",
            total.latency.value_at_quantile(q)
        ));
    }
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
pub async fn run_manager(config: ManagerConfig) -> Result<ManagerOutcome, Failure> {
    let state = AppState {
        shared: Arc::new(Mutex::new(Shared {
            registry: Registry::default(),
            phase: Phase::Waiting,
            run_start: None,
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
    };
    let router = Router::new()
        .route(REGISTER_PATH, post(register))
        .route(REPORT_PATH, post(report))
        .route("/metrics", get(metrics))
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| {
            Failure::Usage(format!(
                "cannot listen on {}: {e}; choose another --bind",
                config.bind
            ))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Aborted(e.to_string()))?;
    eprintln!(
        "skein manager: listening on http://{addr}, scenario `{}` (hash {}), waiting for {} worker(s)",
        config.spec.name, config.spec.hash, config.expect_workers
    );
    let server = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    let signals = spawn_signal_handler(state.shared.clone());

    let outcome = drive(&state, &config).await;
    signals.abort();
    // Let the last Ack replies go out before the listener closes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.abort();
    outcome
}

/// First SIGINT/SIGTERM: stop gracefully (final reports, results); a second exits at once
/// (see [`signals`]).
fn spawn_signal_handler(shared: Arc<Mutex<Shared>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        signals::first_interrupt().await;
        eprintln!("skein manager: interrupted: stopping workers and collecting final reports (again to exit at once)");
        shared.lock().expect("manager state poisoned").interrupted = true;
    })
}

async fn drive(state: &AppState, config: &ManagerConfig) -> Result<ManagerOutcome, Failure> {
    let waiting_since = Instant::now();
    let mut stopping_since: Option<Instant> = None;
    let mut last_live = Instant::now();
    let run_time = config.scenario.run_time();
    let mut all_lost = false;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut shared = state.shared.lock().expect("manager state poisoned");
        match shared.phase {
            Phase::Waiting => {
                let active = shared.registry.active().len();
                if shared.interrupted {
                    return Err(Failure::Aborted(
                        "interrupted before the run started; nothing was measured".into(),
                    ));
                }
                if active >= config.expect_workers {
                    let start = SystemTime::now() + START_DELAY;
                    shared.run_start = Some(start);
                    shared.phase = Phase::Running;
                    rebalance(state, &mut shared);
                    eprintln!(
                        "skein manager: {active} worker(s) ready; the run starts in {}s",
                        START_DELAY.as_secs()
                    );
                } else if waiting_since.elapsed() > config.wait_timeout {
                    return Err(Failure::Aborted(format!(
                        "only {active} of {} workers registered within {}s; start more workers or lower --expect-workers (or raise --wait-timeout)",
                        config.expect_workers,
                        config.wait_timeout.as_secs()
                    )));
                }
            }
            Phase::Running | Phase::Stopping => {
                let lost = shared.registry.mark_lost(LOSS_TIMEOUT);
                for id in &lost {
                    eprintln!("skein manager: worker {id} lost (silent for {}s); its last report is kept and its users move to the others", LOSS_TIMEOUT.as_secs());
                }
                let any_final = shared.registry.all().iter().any(|w| w.final_received);
                if shared.registry.active().is_empty() && !any_final {
                    eprintln!("skein manager: the last worker was lost: ending the run");
                    all_lost = true;
                    shared.phase = Phase::Done;
                } else if shared.registry.active().is_empty() && shared.phase == Phase::Running {
                    eprintln!("skein manager: every worker has left: ending the run");
                    shared.phase = Phase::Done;
                } else if shared.phase == Phase::Running {
                    if !lost.is_empty() {
                        rebalance(state, &mut shared);
                    }
                    let ends = shared.run_start.map(|s| s + run_time);
                    if shared.interrupted || ends.is_some_and(|e| SystemTime::now() >= e) {
                        shared.phase = Phase::Stopping;
                        stopping_since = Some(Instant::now());
                        eprintln!("skein manager: stopping workers, collecting final reports");
                    }
                } else {
                    let all_final = shared.registry.active().iter().all(|w| w.final_received);
                    if all_final
                        || stopping_since.is_some_and(|s| s.elapsed() > FINAL_REPORT_TIMEOUT)
                    {
                        shared.phase = Phase::Done;
                    }
                }
                if last_live.elapsed() >= config.live_every && shared.phase != Phase::Done {
                    last_live = Instant::now();
                    live_line(&shared.registry, shared.run_start, run_time);
                }
            }
            Phase::Done => {
                let interrupted = shared.interrupted;
                let result = build_result(state, config, &shared)?;
                return Ok(ManagerOutcome {
                    result,
                    interrupted,
                    all_lost,
                });
            }
        }
    }
}

fn live_line(registry: &Registry, start: Option<SystemTime>, run_time: Duration) {
    let total = merged_totals(registry);
    let elapsed = start
        .and_then(|s| SystemTime::now().duration_since(s).ok())
        .unwrap_or_default();
    eprintln!(
        "[{} / {}] workers {} (lost {}) | users {:>5} | requests {} | failures {} ({:.2} %) | p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms",
        crate::scenario::format_duration(elapsed),
        crate::scenario::format_duration(run_time),
        registry.active().len(),
        registry.all().iter().filter(|w| w.is_lost()).count(),
        registry.active_users(),
        total.requests,
        total.failures,
        total.error_rate() * 100.0,
        total.latency.value_at_quantile(0.5),
        total.latency.value_at_quantile(0.95),
        total.latency.value_at_quantile(0.99),
    );
}

fn build_result(
    state: &AppState,
    config: &ManagerConfig,
    shared: &Shared,
) -> Result<RunResult, Failure> {
    let results = shared.registry.results();
    if results.is_empty() {
        return Err(Failure::Aborted(
            "no worker sent a report: nothing was measured".into(),
        ));
    }
    let mut merged = reports::merge(&results).map_err(|e| Failure::Aborted(e.to_string()))?;
    let start: chrono::DateTime<Utc> = shared.run_start.unwrap_or_else(SystemTime::now).into();
    let planned_end = chrono::Duration::from_std(config.scenario.run_time())
        .ok()
        .and_then(|d| start.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC);
    let ended = Utc::now().min(planned_end).max(start);
    merged.metadata.started_at = start;
    merged.metadata.ended_at = ended;
    merged.metadata.partial = shared.registry.all().iter().any(|w| w.is_lost());
    merged.metadata.interrupted = shared.interrupted;
    merged.metadata.command_line = config.command_line.clone();
    merged.metadata.host = config.host.clone();
    judge(&mut merged, &state.scenario.stages, start, Utc::now());
    Ok(merged)
}

/// Where the manager writes when not told: `reports/out/<scenario>-<UTC>-distributed/`.
pub fn default_out(scenario: &str) -> PathBuf {
    default_out_dir(&format!("{scenario}-distributed"))
}
