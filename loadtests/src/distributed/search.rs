//! `skein capacity` over workers: the manager drives the search, one step at a time.
//!
//! Each step is a new assignment (a new version, as after a rebalance) whose one stage holds
//! the step's load longer than needed; workers switch to it within a report interval, the
//! manager measures the step's window on the merged per-second series once every active
//! worker has reported its last second, judges it, and sends the next step. Workers keep
//! reporting cumulative totals throughout, so lost and repeated reports stay harmless, and a
//! lost worker's share moves to the others mid-step as in any distributed run.
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reports::SearchOutcome;

pub use super::manager_state::SearchSettings;
use super::manager_state::{
    build_result, enough_workers, rebalance, AppState, ManagerConfig, ManagerOutcome, Phase,
    FINAL_REPORT_TIMEOUT, LOSS_TIMEOUT, START_DELAY,
};
use crate::capacity::step::{judge, step_line, step_scenario, window_stage, Window};
use crate::capacity::{Next, Search};
use crate::exit::Failure;

/// How long a step's stage runs past its window: the manager replaces it with the next step
/// (or stops the workers) well before, once the window is reported and judged.
const STEP_SLACK: Duration = Duration::from_secs(60);
/// How long after a window's end the manager waits for every worker to report it.
const REPORT_GRACE: Duration = Duration::from_secs(10);

/// After a step that broke, no load until every request the workers still have in flight is
/// answered (at most [`DRAIN_LIMIT`]): the backlog an overloaded target queued must not spill
/// into the next step's window. (A standalone search gets this from the open executor, which
/// waits for its answers before a step ends.)
async fn drain(state: &AppState, settings: &SearchSettings) {
    {
        let mut shared = state.shared.lock().expect("manager state poisoned");
        let idle = step_scenario(&state.scenario, settings.spec.model, 0.0, STEP_SLACK);
        shared.stages = Some(idle.stages);
        shared.run_start = Some(SystemTime::now());
        rebalance(state, &mut shared);
    }
    let since = Instant::now();
    // Workers hear of the idle share within a report interval, then report their in-flight.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while since.elapsed() < DRAIN_LIMIT {
        let in_flight = state
            .shared
            .lock()
            .expect("manager state poisoned")
            .registry
            .active_users();
        if in_flight == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The longest wait for an overloaded target's backlog after a step that broke.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs the search over the registered workers; the outcome carries the search.
pub(super) async fn drive_search(
    state: &AppState,
    config: &ManagerConfig,
    settings: &SearchSettings,
) -> Result<ManagerOutcome, Failure> {
    let waiting_since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let shared = state.shared.lock().expect("manager state poisoned");
        if enough_workers(&shared, config, waiting_since)? {
            break;
        }
    }
    let model = settings.spec.model;
    let mut search = Search::new(settings.spec.clone());
    let began = Instant::now();
    let mut all_lost = false;
    'steps: while let Next::Run { offered, phase } = search.next() {
        if began.elapsed() + START_DELAY + settings.warmup + settings.step_time > settings.budget {
            search.stop(SearchOutcome::BudgetExhausted);
            break;
        }
        // The step starts on a whole second, so its warm-up and window are whole seconds.
        let start_secs = unix_secs(SystemTime::now() + START_DELAY) + 1;
        let start = UNIX_EPOCH + Duration::from_secs(start_secs as u64);
        let warmup = settings.warmup.as_secs() as i64;
        let window: Window = (
            start_secs + warmup,
            start_secs + warmup + settings.step_time.as_secs() as i64,
        );
        {
            let mut shared = state.shared.lock().expect("manager state poisoned");
            let duration = settings.warmup + settings.step_time + STEP_SLACK;
            shared.stages = Some(step_scenario(&state.scenario, model, offered, duration).stages);
            shared.run_start = Some(start);
            shared.phase = Phase::Running;
            rebalance(state, &mut shared);
        }
        let deadline = start + settings.warmup + settings.step_time + REPORT_GRACE;
        let stage = loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut shared = state.shared.lock().expect("manager state poisoned");
            let lost = shared.registry.mark_lost(LOSS_TIMEOUT);
            for id in &lost {
                eprintln!("skein capacity: worker {id} lost (silent for {}s); its share moves to the others", LOSS_TIMEOUT.as_secs());
            }
            shared.registry.settle();
            if shared.registry.active().next().is_none() {
                eprintln!("skein capacity: every worker was lost: ending the search");
                all_lost = true;
                search.stop(SearchOutcome::Interrupted);
                break 'steps;
            }
            if !lost.is_empty() {
                rebalance(state, &mut shared);
            }
            if shared.interrupted {
                search.stop(SearchOutcome::Interrupted);
                break 'steps;
            }
            let reported = shared
                .registry
                .complete_second()
                .is_some_and(|s| s >= window.1 - 1);
            if reported || SystemTime::now() > deadline {
                break window_stage(&shared.registry.merged().series(), &[window]);
            }
        };
        let step = judge(
            offered,
            phase,
            &stage,
            settings.warmup,
            0,
            &settings.thresholds,
        );
        eprintln!("{}", step_line(search.steps().len() + 1, model, &step));
        let broke = !step.held;
        search.record(step);
        if broke {
            drain(state, settings).await;
        }
    }

    // Stop the workers and collect their final reports.
    {
        let mut shared = state.shared.lock().expect("manager state poisoned");
        shared.phase = Phase::Stopping;
    }
    let stopping = Instant::now();
    while stopping.elapsed() < FINAL_REPORT_TIMEOUT {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut shared = state.shared.lock().expect("manager state poisoned");
        shared.registry.mark_lost(LOSS_TIMEOUT);
        shared.registry.settle();
        if shared.registry.active().all(|w| w.final_received) {
            break;
        }
    }
    let mut shared = state.shared.lock().expect("manager state poisoned");
    shared.phase = Phase::Done;
    let interrupted = shared.interrupted;
    let result = build_result(state, config, &shared)?;
    Ok(ManagerOutcome {
        result,
        interrupted,
        all_lost,
        search: Some(search.result()),
    })
}
