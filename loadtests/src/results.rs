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
    result.skipped_requests = recorder.skipped_requests();
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
    result.stages = stages_from_series(&result.series, started_at, stages, ended_at);
    result.slas = evaluate_slas(result, &result.thresholds);
}

/// Splits the series into stages by their planned start offsets (seconds from `start`):
/// exact, since each second's histogram belongs to exactly one stage.
pub fn stages_from_series(
    series: &[SecondSample],
    start: DateTime<Utc>,
    plan: &[Stage],
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
    for (index, planned) in plan.iter().enumerate() {
        let from = at(offset);
        offset = offset.saturating_add(planned.duration);
        let to = at(offset).min(ended_at);
        if from >= ended_at {
            break;
        }
        let mut stage = StageResult::new(index, planned.users, from, to);
        stage.target_rate = planned.rate;
        let (lo, hi) = (from.timestamp(), to.timestamp());
        let last = index + 1 == plan.len();
        for s in series.iter().filter(|s| {
            s.unix_second >= lo && (s.unix_second < hi || (last && s.unix_second <= hi))
        }) {
            stage.add_second(s);
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn second(t: i64, requests: u64, intended_ms: u64, dropped: u64) -> SecondSample {
        let mut s = SecondSample::empty(t);
        s.requests = requests;
        s.dropped = dropped;
        for _ in 0..requests {
            s.latency.record(1_000);
            s.intended_samples.record(intended_ms * 1_000);
        }
        s
    }

    /// Every figure of a second lands in its stage: counts, both latencies, dropped.
    #[test]
    fn stages_get_every_figure_of_their_seconds() {
        let start = Utc.timestamp_opt(1_000, 0).unwrap();
        let series = [
            second(1_000, 2, 5, 1),
            second(1_001, 3, 900, 0),
            second(1_002, 4, 7, 2),
        ];
        let plan = [
            Stage::open(10.0, Duration::ZERO, Duration::from_secs(2)),
            Stage::open(20.0, Duration::ZERO, Duration::from_secs(1)),
        ];
        let stages =
            stages_from_series(&series, start, &plan, start + chrono::Duration::seconds(3));
        assert_eq!(stages.len(), 2);
        assert_eq!((stages[0].requests, stages[0].dropped), (5, 1));
        assert_eq!(stages[0].intended_samples.count(), 5);
        assert!(stages[0].intended().value_at_quantile(1.0) > 800.0);
        assert_eq!((stages[1].requests, stages[1].dropped), (4, 2));
        assert_eq!(stages[1].target_rate, Some(20.0));
    }
}
