//! The manager: waits for workers, shares the scenario among them, runs the scenario's stages
//! over them (or a capacity search's steps, [`super::search`]), and writes the merged result.
//! Its state and endpoints are in [`super::manager_state`].
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::manager_state::{
    build_result, enough_workers, rebalance, router, AppState, Phase, Shared, FINAL_REPORT_TIMEOUT,
    LOSS_TIMEOUT, START_DELAY,
};
pub use super::manager_state::{ManagerConfig, ManagerOutcome};
use super::registry::Registry;
use super::web_feed::ManagerFeed;
use crate::engine::StopHandle;
use crate::exit::Failure;
use crate::live_outputs::web::{WebRun, WebServer};
use crate::results::default_out_dir;
use crate::signals;

/// Runs the distributed run (or search) to its end; with `web`, its dashboard shows the
/// merged view and the workers, and its Stop ends the run as Ctrl-C does.
pub async fn run_manager(
    config: ManagerConfig,
    web: Option<&WebServer>,
) -> Result<ManagerOutcome, Failure> {
    let state = AppState::new(&config);
    let web_stop = web.map(|web| attach_dashboard(web, &state));
    let router = router(state.clone());
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

    let outcome = match &config.search {
        Some(settings) => super::search::drive_search(&state, &config, settings).await,
        None => drive(&state, &config).await,
    };
    signals.abort();
    if let Some(task) = web_stop {
        task.abort();
    }
    // Let the last Ack replies go out before the listener closes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.abort();
    outcome
}

/// Shows the manager's merged state on the dashboard; a Stop from the page marks the run
/// interrupted, which the drivers handle as they handle Ctrl-C.
fn attach_dashboard(web: &WebServer, state: &AppState) -> tokio::task::JoinHandle<()> {
    let stop = StopHandle::default();
    web.attach(WebRun {
        feed: Arc::new(ManagerFeed::new(state.shared.clone())),
        scenario: (*state.scenario).clone(),
        stages: state.scenario.stages.clone(),
        stop: stop.clone(),
        load_control: None,
        capacity: None,
        target_pid: None,
    });
    let shared = state.shared.clone();
    tokio::spawn(async move {
        stop.stopped().await;
        eprintln!("skein manager: stopped from the dashboard: stopping workers and collecting final reports");
        shared.lock().expect("manager state poisoned").interrupted = true;
    })
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
                if enough_workers(&shared, config, waiting_since)? {
                    let start = SystemTime::now() + START_DELAY;
                    shared.run_start = Some(start);
                    shared.phase = Phase::Running;
                    rebalance(state, &mut shared);
                    eprintln!(
                        "skein manager: {} worker(s) ready; the run starts in {}s",
                        shared.registry.active().count(),
                        START_DELAY.as_secs()
                    );
                }
            }
            Phase::Running | Phase::Stopping => {
                let lost = shared.registry.mark_lost(LOSS_TIMEOUT);
                for id in &lost {
                    eprintln!("skein manager: worker {id} lost (silent for {}s); its last report is kept and its users move to the others", LOSS_TIMEOUT.as_secs());
                }
                shared.registry.settle();
                let any_final = shared.registry.all().iter().any(|w| w.final_received);
                let none_active = shared.registry.active().next().is_none();
                if none_active && !any_final {
                    eprintln!("skein manager: the last worker was lost: ending the run");
                    all_lost = true;
                    shared.phase = Phase::Done;
                } else if none_active && shared.phase == Phase::Running {
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
                    let all_final = shared.registry.active().all(|w| w.final_received);
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
                    search: None,
                });
            }
        }
    }
}

fn live_line(registry: &Registry, start: Option<SystemTime>, run_time: Duration) {
    let total = registry.merged().overall();
    let elapsed = start
        .and_then(|s| SystemTime::now().duration_since(s).ok())
        .unwrap_or_default();
    eprintln!(
        "[{} / {}] workers {} (lost {}) | users {:>5} | requests {} | failures {} ({:.2} %) | p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms",
        crate::scenario::format_duration(elapsed),
        crate::scenario::format_duration(run_time),
        registry.active().count(),
        registry.lost(),
        registry.active_users(),
        total.requests,
        total.failures,
        total.error_rate() * 100.0,
        total.latency.value_at_quantile(0.5),
        total.latency.value_at_quantile(0.95),
        total.latency.value_at_quantile(0.99),
    );
}

/// Where the manager writes when not told: `reports/out/<scenario>-<UTC>-distributed/`.
pub fn default_out(scenario: &str) -> PathBuf {
    default_out_dir(&format!("{scenario}-distributed"))
}
