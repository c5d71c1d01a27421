//! Turning measurements into a [`RunResult`]: metadata, per-stage results, SLA verdicts.
//!
//! One place for a standalone run, a worker's snapshots and the manager's merged result, so
//! stages and verdicts are computed the same way everywhere.
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reports::{evaluate_slas, RunMetadata, RunResult, SecondSample, StageResult};

use crate::engine::StopReason;
use crate::recorder::Recorder;
use crate::scenario::{Scenario, Stage};

/// What a result says about the run besides its measurements.
pub struct ResultInput<'a> {
    pub scenario: &'a Scenario,
    /// The stages whose boundaries split the series (this process's, or the whole run's).
    pub stages: &'a [Stage],
    pub host: &'a str,
    pub command_line: &'a [String],
}

/// The recorder's cumulative result, with only the last `tail` finished seconds of the
/// series when given (a worker's regular report), stages split and SLAs judged.
pub fn build(
    input: &ResultInput<'_>,
    recorder: &Recorder,
    stopped: Option<StopReason>,
    tail: Option<usize>,
) -> RunResult {
    let (requests, failures, series) = recorder.totals_with_tail(tail);
    let started_at = recorder.started_at();
    let ended_at = Utc::now();
    let mut result = RunResult::new(RunMetadata {
        partial: stopped == Some(StopReason::Aborted),
        interrupted: stopped == Some(StopReason::Interrupted),
        ..metadata(input, started_at, ended_at)
    });
    result.requests = requests;
    result.failures = failures;
    result.series = series;
    result.thresholds = input.scenario.thresholds.clone();
    result.resources = recorder.resources();
    result.dropped_arrivals = recorder.dropped_arrivals();
    judge(&mut result, input.stages, started_at, ended_at);
    result
}

/// What a result says about the run it measured: this skein, the scenario, this machine.
/// A complete run's (neither partial nor interrupted); the caller marks what happened.
pub fn metadata(
    input: &ResultInput<'_>,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
) -> RunMetadata {
    RunMetadata {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        git_sha: option_env!("SKEIN_GIT_SHA").map(str::to_string),
        scenario_name: input.scenario.name.clone(),
        scenario_source: input.scenario.source.clone(),
        scenario_settings: input.scenario.settings_json(),
        scenario_hash: input.scenario.hash(),
        command_line: input.command_line.to_vec(),
        host: input.host.to_string(),
        started_at,
        ended_at,
        machine_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        partial: false,
        interrupted: false,
        load_model: input.scenario.load_model(),
    }
}

/// Splits `result`'s series into `stages` starting at `started_at` and judges its SLAs.
pub fn judge(
    result: &mut RunResult,
    stages: &[Stage],
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
) {
    let plan: Vec<(u64, Duration)> = stages.iter().map(|s| (s.users, s.duration)).collect();
    result.stages = stages_from_series(&result.series, started_at, &plan, ended_at);
    result.slas = evaluate_slas(result, &result.thresholds);
}

/// Splits the series into stages by their planned start offsets (seconds from `start`):
/// exact, since each second's histogram belongs to exactly one stage.
pub fn stages_from_series(
    series: &[SecondSample],
    start: DateTime<Utc>,
    plan: &[(u64, Duration)],
    ended_at: DateTime<Utc>,
) -> Vec<StageResult> {
    let mut offset = Duration::ZERO;
    let mut stages = Vec::with_capacity(plan.len());
    let at = |offset: Duration| {
        chrono::Duration::from_std(offset)
            .ok()
            .and_then(|d| start.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    };
    for (index, (users, duration)) in plan.iter().enumerate() {
        let from = at(offset);
        offset = offset.saturating_add(*duration);
        let to = at(offset).min(ended_at);
        if from >= ended_at {
            break;
        }
        let mut stage = StageResult::new(index, *users, from, to);
        let (lo, hi) = (from.timestamp(), to.timestamp());
        let last = index + 1 == plan.len();
        for s in series.iter().filter(|s| {
            s.unix_second >= lo && (s.unix_second < hi || (last && s.unix_second <= hi))
        }) {
            stage.requests += s.requests;
            stage.failures += s.failures;
            stage.latency.add(&s.latency);
        }
        stages.push(stage);
    }
    stages
}

/// `reports/out/<name>-<UTC timestamp>/` relative to the working directory.
pub fn default_out_dir(name: &str) -> PathBuf {
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    PathBuf::from("reports/out").join(format!("{name}-{stamp}"))
}
