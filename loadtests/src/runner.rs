//! Running a plan on goose: users, ramp, stop, and the recorder's clock.
//!
//! A [`RunPlan`] is everything one process needs to run (a standalone run, or a worker's
//! share of a distributed one): the user mix, the stages, the target, an optional start
//! instant. [`run_plan`] drives goose with it on the caller's tokio runtime and returns the
//! measured [`reports::RunResult`]. [`StopHandle`] ends a run early from anywhere (signal,
//! manager command); the results measured so far are kept.
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use goose::client::GooseClientBuilder;
use goose::config::GooseDefault;
use goose::prelude::{GooseAttack, GooseDefaultType, GooseScheduler};
use reports::{evaluate_slas, RunMetadata, RunResult, FORMAT_VERSION};

use crate::recorder::{stages_from_series, Recorder};
use crate::scenario::{Allocation, ClassMix, Scenario, Stage};
use crate::start_order::{registrations, total_users};
use crate::users::{goose_scenario, UserClass, UserContext, REQUEST_TIMEOUT};

#[derive(Clone, Debug)]
pub struct RunPlan {
    pub scenario: Scenario,
    /// The user mix this process runs (a worker's share may differ from the scenario's).
    pub classes: Vec<ClassMix>,
    pub allocation: Allocation,
    /// Each user's class in start order, when it is not the weights' own order (a
    /// distributed worker's dealt users, see [`crate::distributed::share`]).
    pub start_order: Option<Vec<UserClass>>,
    /// The stages this process runs, users being this process's own.
    pub stages: Vec<Stage>,
    pub host: String,
    pub token: String,
    /// Wait until this instant before starting users (distributed runs start together).
    pub start_at: Option<SystemTime>,
    pub command_line: Vec<String>,
}

impl RunPlan {
    pub fn new(scenario: Scenario, host: String, token: String) -> RunPlan {
        RunPlan {
            classes: scenario.classes.clone(),
            allocation: scenario.allocation,
            start_order: None,
            stages: scenario.stages.clone(),
            scenario,
            host,
            token,
            start_at: None,
            command_line: std::env::args().collect(),
        }
    }

    pub fn run_time(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// goose's `--test-plan`: per stage, a ramp at the stage's spawn rate, then a hold until
    /// the stage's end; finally all users stop.
    pub fn goose_test_plan(&self) -> String {
        let mut steps = Vec::new();
        let mut users_now = 0u64;
        for s in &self.stages {
            let total_ms = s.duration.as_millis() as u64;
            let delta = s.users.abs_diff(users_now) as f64;
            let ramp_ms = ((delta / s.spawn_rate) * 1000.0).round() as u64;
            let ramp_ms = ramp_ms.min(total_ms);
            // goose steps are whole seconds: round the ramp, keep each stage's total.
            let ramp_s = ramp_ms.div_ceil(1000);
            let total_s = (total_ms as f64 / 1000.0).round().max(1.0) as u64;
            let ramp_s = ramp_s.min(total_s);
            steps.push(format!("{},{}s", s.users, ramp_s));
            if total_s > ramp_s {
                steps.push(format!("{},{}s", s.users, total_s - ramp_s));
            }
            users_now = s.users;
        }
        steps.push("0,0s".into());
        steps.join(";")
    }
}

/// Why a run stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    Interrupted,
    Aborted,
    /// Stopped on a manager's command (end of run or a new assignment): not an interrupt.
    Commanded,
}

/// Stops a running plan. goose has one killswitch per process, so a process runs one plan at
/// a time; the handle also remembers why it was used.
#[derive(Clone, Default)]
pub struct StopHandle(Arc<AtomicU8>);

impl StopHandle {
    pub fn stop(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Interrupted => 1,
            StopReason::Aborted => 2,
            StopReason::Commanded => 3,
        };
        let _ = self
            .0
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        goose::trigger_killswitch(match reason {
            StopReason::Interrupted => "interrupted",
            StopReason::Aborted => "aborted",
            StopReason::Commanded => "stopped by the manager",
        });
    }

    pub fn reason(&self) -> Option<StopReason> {
        match self.0.load(Ordering::SeqCst) {
            1 => Some(StopReason::Interrupted),
            2 => Some(StopReason::Aborted),
            3 => Some(StopReason::Commanded),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the load engine refused the plan: {0}")]
    Engine(String),
}

impl From<goose::GooseError> for RunError {
    fn from(e: goose::GooseError) -> Self {
        RunError::Engine(e.to_string())
    }
}

/// Runs `plan` to completion (or until stopped) and returns what was measured.
pub async fn run_plan(
    plan: &RunPlan,
    recorder: Arc<Recorder>,
    stop: &StopHandle,
) -> Result<RunResult, RunError> {
    if let Some(at) = plan.start_at {
        if let Ok(wait) = at.duration_since(SystemTime::now()) {
            tokio::time::sleep(wait).await;
        }
    }
    let ctx = UserContext::new(&plan.host, &plan.token, recorder.clone());
    let mut config = goose::config::GooseConfiguration::default();
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_telnet = true;
    config.no_status_codes = true;
    // Skein records every request itself (full-response timing); goose's metrics would
    // only cost memory and CPU.
    config.no_metrics = true;
    let (registered, allocation) = registrations(
        &plan.classes,
        plan.allocation,
        plan.start_order.as_deref(),
        total_users(&plan.stages),
    );
    let mut attack = GooseAttack::initialize_with_config(config)?
        .set_client_builder_without_cookies(
            GooseClientBuilder::new()
                .without_cookies()
                .timeout(REQUEST_TIMEOUT),
        )?
        .set_scheduler(match allocation {
            Allocation::RoundRobin => GooseScheduler::RoundRobin,
            Allocation::Serial => GooseScheduler::Serial,
        })
        .set_default(GooseDefault::Host, plan.host.as_str())?
        .set_default(GooseDefault::TestPlan, plan.goose_test_plan().as_str())?;
    for mix in &registered {
        *attack = attack.register_scenario(goose_scenario(mix, &ctx)?);
    }

    let started_at = recorder.started_at();
    let ticker = {
        let recorder = recorder.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                recorder.roll(false);
            }
        })
    };
    let outcome = attack.execute().await;
    ticker.abort();
    recorder.roll(true);
    recorder.mark_stopped();
    if let Err(e) = outcome {
        // A goose error after users ran still leaves measurements; report them, marked partial.
        tracing::warn!("load engine ended with an error: {e}");
    }
    if goose::is_killswitch_triggered() && stop.reason().is_none() {
        // goose's own Ctrl-C handler fired.
        stop.stop(StopReason::Interrupted);
    }
    Ok(result_of(plan, &recorder, started_at, stop.reason()))
}

/// Builds the run's result from the recorder (also used for mid-run snapshots).
pub fn result_of(
    plan: &RunPlan,
    recorder: &Recorder,
    started_at: chrono::DateTime<Utc>,
    stopped: Option<StopReason>,
) -> RunResult {
    result_with_tail(plan, recorder, started_at, stopped, None)
}

/// [`result_of`] carrying only the last `tail` seconds of the series (see
/// [`Recorder::totals_with_tail`]).
pub fn result_with_tail(
    plan: &RunPlan,
    recorder: &Recorder,
    started_at: chrono::DateTime<Utc>,
    stopped: Option<StopReason>,
    tail: Option<usize>,
) -> RunResult {
    let (requests, failures, series) = recorder.totals_with_tail(tail);
    let ended_at = Utc::now();
    let stage_plan: Vec<(u64, Duration)> =
        plan.stages.iter().map(|s| (s.users, s.duration)).collect();
    let stages = stages_from_series(&series, started_at, &stage_plan, ended_at);
    let mut result = RunResult {
        format_version: FORMAT_VERSION,
        metadata: RunMetadata {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            git_sha: option_env!("SKEIN_GIT_SHA").map(str::to_string),
            scenario_name: plan.scenario.name.clone(),
            scenario_source: plan.scenario.source.clone(),
            scenario_settings: plan.scenario.settings_json(),
            scenario_hash: plan.scenario.hash(),
            command_line: plan.command_line.clone(),
            host: plan.host.clone(),
            started_at,
            ended_at,
            machine_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            partial: stopped == Some(StopReason::Aborted),
            interrupted: stopped == Some(StopReason::Interrupted),
        },
        requests,
        failures,
        series,
        stages,
        thresholds: plan.scenario.thresholds.clone(),
        slas: Vec::new(),
        resources: recorder.resources(),
        workers: Vec::new(),
    };
    result.slas = evaluate_slas(&result, &result.thresholds);
    result
}
