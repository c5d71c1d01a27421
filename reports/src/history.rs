//! Run history: many runs' headline figures in time order, per scenario, with each run judged
//! against the run before it by the same noise-aware gate as `skein compare`
//! ([`crate::compare::compare`]), so a trend page and the CI gate never disagree about what
//! a regression is.
//!
//! The model holds figures only (one [`HistoryRun`] per results.json); the page
//! ([`crate::html::history`]), its charts ([`crate::history_charts`]) and the CSV
//! ([`crate::csv_files::history`]) read it. Where the results came from is the caller's
//! business: it hands over loaded runs with the path each was read from.
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::compare::{compare, Comparison, Tolerances};
use crate::model::RunResult;
use crate::sla::LatencyBasis;

/// The SLA verdict of one run, as the trend shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlaState {
    Passed,
    Failed,
    /// The run declared no thresholds.
    None,
}

impl SlaState {
    fn of(result: &RunResult) -> SlaState {
        match (result.slas.is_empty(), result.passed()) {
            (true, _) => SlaState::None,
            (false, true) => SlaState::Passed,
            (false, false) => SlaState::Failed,
        }
    }

    /// "pass", "FAIL" or "none", as the CSV and the page write it.
    pub fn label(self) -> &'static str {
        match self {
            SlaState::Passed => "pass",
            SlaState::Failed => "FAIL",
            SlaState::None => "none",
        }
    }
}

/// One metric of one request name that regressed against the previous run.
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    pub name: String,
    pub metric: &'static str,
    /// (current - baseline) / baseline; infinite when the baseline was 0.
    pub change: f64,
}

impl Regression {
    /// "GET /a p95 +35.2 %": what the table and the CSV list.
    pub fn describe(&self) -> String {
        let change = if self.change.is_finite() {
            format!("{:+.1} %", self.change * 100.0)
        } else {
            "from 0".to_string()
        };
        format!("{} {} {change}", self.name, self.metric)
    }
}

/// One run's headline figures.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRun {
    /// The results.json it was read from.
    pub source: PathBuf,
    pub started_at: DateTime<Utc>,
    pub duration_secs: f64,
    pub requests: u64,
    pub rps: f64,
    /// Whole-run percentiles in milliseconds, on [`HistoryRun::latency`].
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Intended-time latency when the run recorded it (what users saw, as `compare`
    /// prefers), else service time.
    pub latency: LatencyBasis,
    /// Failed requests / requests (0..1).
    pub error_rate: f64,
    pub sla: SlaState,
    /// Generator CPU seconds over the run's wall time, in percent of one core.
    pub cpu_percent: f64,
    pub partial: bool,
    pub interrupted: bool,
    /// Index (in the same scenario's runs) of the run this one was compared against: the
    /// one before it in time.
    pub baseline: Option<usize>,
    /// What regressed against the baseline, as `skein compare` would report it.
    pub regressions: Vec<Regression>,
    /// The comparison's own note on the noise estimate (e.g. a run too short to estimate).
    pub noise_note: Option<String>,
}

impl HistoryRun {
    fn of(source: PathBuf, result: &RunResult) -> HistoryRun {
        let overall = result.overall();
        let (latency, basis) = overall.latency_on(LatencyBasis::Intended);
        let duration = result.duration_secs();
        let q = |q: f64| {
            if latency.is_empty() {
                0.0
            } else {
                latency.value_at_quantile(q)
            }
        };
        HistoryRun {
            source,
            started_at: result.metadata.started_at,
            duration_secs: duration,
            requests: overall.requests,
            rps: result.rps(),
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            latency: basis,
            error_rate: overall.error_rate(),
            sla: SlaState::of(result),
            cpu_percent: if duration > 0.0 {
                result.resources.cpu_seconds / duration * 100.0
            } else {
                0.0
            },
            partial: result.metadata.partial,
            interrupted: result.metadata.interrupted,
            baseline: None,
            regressions: Vec::new(),
            noise_note: None,
        }
    }

    pub fn regressed(&self) -> bool {
        !self.regressions.is_empty()
    }
}

/// One scenario's runs, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioHistory {
    pub scenario: String,
    pub runs: Vec<HistoryRun>,
}

/// Every scenario's history, by scenario name.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    pub scenarios: Vec<ScenarioHistory>,
    /// The tolerances every run was judged with.
    pub tolerances: Tolerances,
    /// Files the caller could not read, with why (a message that names the file): listed on
    /// the page so a gap in the trend is explained rather than silent.
    pub skipped: Vec<(PathBuf, String)>,
}

impl History {
    /// Groups `runs` by scenario, orders each group by start time (then path, so equal
    /// start times stay in a stable order), and compares each run with the one before it.
    pub fn build(
        runs: Vec<(PathBuf, RunResult)>,
        tolerances: &Tolerances,
        skipped: Vec<(PathBuf, String)>,
    ) -> History {
        let mut groups: std::collections::BTreeMap<String, Vec<(PathBuf, RunResult)>> =
            Default::default();
        for (path, result) in runs {
            groups
                .entry(result.metadata.scenario_name.clone())
                .or_default()
                .push((path, result));
        }
        let scenarios = groups
            .into_iter()
            .map(|(scenario, mut group)| {
                group.sort_by(|(pa, a), (pb, b)| {
                    (a.metadata.started_at, pa).cmp(&(b.metadata.started_at, pb))
                });
                let runs = group
                    .iter()
                    .enumerate()
                    .map(|(i, (path, result))| {
                        let mut run = HistoryRun::of(path.clone(), result);
                        if let Some(previous) = i.checked_sub(1) {
                            let comparison = compare(&group[previous].1, result, tolerances);
                            run.baseline = Some(previous);
                            run.regressions = regressions(&comparison);
                            run.noise_note = Some(comparison.noise_note());
                        }
                        run
                    })
                    .collect();
                ScenarioHistory { scenario, runs }
            })
            .collect();
        History {
            scenarios,
            tolerances: *tolerances,
            skipped,
        }
    }

    pub fn run_count(&self) -> usize {
        self.scenarios.iter().map(|s| s.runs.len()).sum()
    }

    pub fn regression_count(&self) -> usize {
        self.scenarios
            .iter()
            .flat_map(|s| &s.runs)
            .filter(|r| r.regressed())
            .count()
    }
}

fn regressions(comparison: &Comparison) -> Vec<Regression> {
    comparison
        .regressions()
        .into_iter()
        .map(|(name, d)| Regression {
            name: name.to_string(),
            metric: d.metric,
            change: d.change,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{scaled, synthetic_run};

    fn at_day(run: &RunResult, day: i64) -> RunResult {
        let mut r = run.clone();
        let shift = chrono::Duration::days(day);
        r.metadata.started_at += shift;
        r.metadata.ended_at += shift;
        r
    }

    #[test]
    fn runs_are_ordered_by_start_and_a_slowdown_is_a_regression_against_the_run_before() {
        let base = synthetic_run(120, 3, 3);
        // Given out of order: the slow run is the newest.
        let runs = vec![
            ("c/results.json".into(), at_day(&scaled(&base, 1.6), 2)),
            ("a/results.json".into(), at_day(&base, 0)),
            ("b/results.json".into(), at_day(&base, 1)),
        ];
        let history = History::build(runs, &Tolerances::default(), Vec::new());
        assert_eq!(history.scenarios.len(), 1);
        let runs = &history.scenarios[0].runs;
        let sources: Vec<_> = runs.iter().map(|r| r.source.to_str().unwrap()).collect();
        assert_eq!(
            sources,
            ["a/results.json", "b/results.json", "c/results.json"]
        );
        assert_eq!(runs[0].baseline, None);
        assert!(!runs[1].regressed(), "{:?}", runs[1].regressions);
        assert_eq!(runs[2].baseline, Some(1));
        assert!(
            runs[2].regressions.iter().any(|r| r.metric == "p95"),
            "{:?}",
            runs[2].regressions
        );
        assert!(runs[2].p95_ms > runs[1].p95_ms * 1.4);
        assert_eq!(history.regression_count(), 1);
    }

    #[test]
    fn scenarios_are_kept_apart() {
        let a = synthetic_run(30, 1, 1);
        let mut b = scaled(&a, 3.0);
        b.metadata.scenario_name = "other".into();
        let history = History::build(
            vec![("a".into(), a), ("b".into(), b)],
            &Tolerances::default(),
            Vec::new(),
        );
        let names: Vec<_> = history.scenarios.iter().map(|s| &s.scenario).collect();
        assert_eq!(names, ["other", "synthetic"]);
        assert_eq!(history.regression_count(), 0);
    }
}
