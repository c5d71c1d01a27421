//! How much a figure varies within one run, so the comparison gate can tell a real change
//! from noise.
//!
//! The method is **batch means** (the standard way to put an error bar on a figure measured
//! from one autocorrelated run): the per-second series is cut into consecutive batches of
//! `L` seconds — never across a stage boundary — each batch's own figure is computed from
//! its merged histogram (p50/p95/p99) or its counts (rps, error rate), and the spread of the
//! batch figures around their stage's mean (pooled within stages, so a planned ramp is not
//! counted as noise) gives the standard error of the run's figure: `sd / sqrt(batches)`.
//! Batches of `L` seconds absorb the second-to-second correlation that makes per-second
//! figures too optimistic; `L` is chosen so there are at most 30 batches and each holds
//! at least about 50 requests (enough for a p95; with fewer, a quieter run is judged on
//! fewer, longer batches).
//!
//! The series only holds all requests together, so a request name's error is its
//! order-statistic standard error (the quantile's binomial rank interval, as if requests were
//! independent) scaled by the run's **design effect**: how much larger the batch-means
//! variance of the all-requests figure is than that independent-sample variance (never less
//! than 1). A run whose latency swings from second to second has a large design effect, and
//! every name inherits it.
//!
//! Two runs differ beyond noise when the change exceeds [`DEFAULT_Z`] standard errors of the
//! difference (`sqrt(se_baseline² + se_current²)`), one-sided in the direction of a
//! regression: about one false alarm in 740 comparisons of a figure that did not change.
use std::borrow::Cow;

use crate::model::{LatencyHistogram, RequestStats, RunResult};
use crate::sla::LatencyBasis;

/// Standard errors a change must exceed to count as real.
pub const DEFAULT_Z: f64 = 3.0;

/// Most batches a run is cut into (more, shorter batches would be correlated).
const MAX_BATCHES: usize = 30;
/// Requests a batch should hold on average.
const REQUESTS_PER_BATCH: f64 = 50.0;
/// Fewer batch degrees of freedom than this: the noise is unknown.
const MIN_DEGREES: usize = 4;

/// A figure the comparison judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    P50,
    P95,
    P99,
    Rps,
    ErrorRate,
}

impl Figure {
    pub const ALL: [Figure; 5] = [
        Figure::P50,
        Figure::P95,
        Figure::P99,
        Figure::Rps,
        Figure::ErrorRate,
    ];

    fn quantile(self) -> Option<f64> {
        match self {
            Figure::P50 => Some(0.5),
            Figure::P95 => Some(0.95),
            Figure::P99 => Some(0.99),
            Figure::Rps | Figure::ErrorRate => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One run's noise: how it was cut and each figure's design effect.
#[derive(Clone, Debug, PartialEq)]
pub struct RunNoise {
    /// Batches the series was cut into (0 when it was too short to judge).
    pub batches: usize,
    pub batch_seconds: usize,
    basis: LatencyBasis,
    /// Per [`Figure`]: batch-means variance / independent-sample variance (≥ 1), or `None`
    /// when too few batches held that figure.
    design_effect: [Option<f64>; 5],
}

/// The latency histogram of `stats` that `basis` compares.
fn histogram(stats: &RequestStats, basis: LatencyBasis) -> Cow<'_, LatencyHistogram> {
    stats.latency_on(basis).0
}

/// Standard error of the `q` quantile of `h` if its samples were independent: half the
/// width of the values at ranks `q ± sqrt(q(1-q)/n)`, floored at the histogram's resolution.
fn quantile_error(h: &LatencyHistogram, q: f64) -> f64 {
    let n = h.count() as f64;
    if n == 0.0 {
        return 0.0;
    }
    let delta = (q * (1.0 - q) / n).sqrt();
    let (lo, hi) = (
        h.value_at_quantile((q - delta).max(0.0)),
        h.value_at_quantile((q + delta).min(1.0)),
    );
    ((hi - lo) / 2.0).max(h.value_at_quantile(q) * 0.001)
}

/// Standard error of `figure` on `stats` over `seconds` if requests were independent.
fn independent_error(
    stats: &RequestStats,
    seconds: f64,
    figure: Figure,
    basis: LatencyBasis,
) -> f64 {
    let n = stats.requests as f64;
    match figure.quantile() {
        Some(q) => quantile_error(&histogram(stats, basis), q),
        None if n == 0.0 => 0.0,
        None if figure == Figure::Rps => n.sqrt() / seconds.max(1.0),
        None => {
            let p = stats.error_rate();
            (p * (1.0 - p) / n).sqrt()
        }
    }
}

/// Consecutive seconds merged into one batch.
struct Batch {
    stage: usize,
    stats: RequestStats,
}

/// Pooled within-stage variance of `values` (stage, value) and its degrees of freedom.
fn pooled_variance(values: &[(usize, f64)]) -> (f64, usize) {
    let mut stages: Vec<usize> = values.iter().map(|v| v.0).collect();
    stages.dedup();
    let (mut squares, mut degrees) = (0.0, 0);
    for stage in stages {
        let group: Vec<f64> = values
            .iter()
            .filter(|v| v.0 == stage)
            .map(|v| v.1)
            .collect();
        if group.len() < 2 {
            continue;
        }
        let mean = group.iter().sum::<f64>() / group.len() as f64;
        squares += group.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
        degrees += group.len() - 1;
    }
    (squares / degrees.max(1) as f64, degrees)
}

impl RunNoise {
    /// Estimates the noise of `result`'s figures, latency on `basis`.
    pub fn estimate(result: &RunResult, basis: LatencyBasis) -> RunNoise {
        let seconds = result.series.len();
        let total: u64 = result.series.iter().map(|s| s.requests).sum();
        let unknown = RunNoise {
            batches: 0,
            batch_seconds: 0,
            basis,
            design_effect: [None; 5],
        };
        if seconds == 0 || total == 0 {
            return unknown;
        }
        let per_second = total as f64 / seconds as f64;
        let batch_seconds = seconds
            .div_ceil(MAX_BATCHES)
            .max((REQUESTS_PER_BATCH / per_second).ceil() as usize)
            .max(1);
        let batches = Self::batches(result, batch_seconds);
        let overall = result.overall();
        let mut design_effect = [None; 5];
        for figure in Figure::ALL {
            let values: Vec<(usize, f64)> = batches
                .iter()
                .filter(|b| b.stats.requests > 0)
                .map(|b| {
                    let v = match figure.quantile() {
                        Some(q) => histogram(&b.stats, basis).value_at_quantile(q),
                        None if figure == Figure::Rps => {
                            b.stats.requests as f64 / batch_seconds as f64
                        }
                        None => b.stats.error_rate(),
                    };
                    (b.stage, v)
                })
                .collect();
            let (variance, degrees) = pooled_variance(&values);
            if degrees < MIN_DEGREES {
                continue;
            }
            let batch_error = (variance / values.len() as f64).sqrt();
            let independent = independent_error(&overall, result.duration_secs(), figure, basis);
            design_effect[figure.index()] = Some(if independent > 0.0 {
                (batch_error / independent).powi(2).max(1.0)
            } else {
                1.0
            });
        }
        RunNoise {
            batches: batches.len(),
            batch_seconds,
            basis,
            design_effect,
        }
    }

    /// The series in batches of `batch_seconds` consecutive seconds within one stage; a
    /// stage's last, shorter batch is left out (its figure would be noisier than the rest).
    fn batches(result: &RunResult, batch_seconds: usize) -> Vec<Batch> {
        let stage_of = |t: i64| {
            result
                .stages
                .iter()
                .position(|s| t >= s.started_at.timestamp() && t < s.ended_at.timestamp())
                .unwrap_or(usize::MAX)
        };
        let mut out: Vec<Batch> = Vec::new();
        let mut open: Option<(Batch, usize)> = None;
        for s in &result.series {
            let stage = stage_of(s.unix_second);
            let (mut batch, filled) = match open.take() {
                Some((b, n)) if b.stage == stage => (b, n),
                _ => (
                    Batch {
                        stage,
                        stats: RequestStats::new("", ""),
                    },
                    0,
                ),
            };
            batch.stats.requests += s.requests;
            batch.stats.failures += s.failures;
            batch.stats.latency.add(&s.latency);
            batch.stats.intended_samples.add(&s.intended_samples);
            if filled + 1 == batch_seconds {
                out.push(batch);
            } else {
                open = Some((batch, filled + 1));
            }
        }
        out
    }

    /// Whether any figure's noise is known.
    pub fn is_known(&self) -> bool {
        self.design_effect.iter().any(Option::is_some)
    }

    /// Standard error of `figure` measured on `stats` (a request name or all requests) over
    /// `seconds`, or `None` when this run's noise is unknown.
    pub fn standard_error(
        &self,
        stats: &RequestStats,
        seconds: f64,
        figure: Figure,
    ) -> Option<f64> {
        let effect = self.design_effect[figure.index()]?;
        Some(independent_error(stats, seconds, figure, self.basis) * effect.sqrt())
    }

    /// One line for people: "20 batches of 6 s".
    pub fn describe(&self) -> String {
        if self.is_known() {
            format!("{} batches of {} s", self.batches, self.batch_seconds)
        } else {
            "too short to estimate".to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RunMetadata, SecondSample};

    /// A run of `seconds` seconds, 100 requests each, whose latency in second `t` is
    /// `scale(t)` ms for every request.
    fn run(seconds: i64, scale: impl Fn(i64) -> f64) -> RunResult {
        let start = chrono::DateTime::from_timestamp(1_000, 0).unwrap();
        let mut r = RunResult::new(RunMetadata {
            tool_version: "0".into(),
            git_sha: None,
            scenario_name: "s".into(),
            scenario_source: "s".into(),
            scenario_settings: serde_json::json!({}),
            scenario_hash: "0".into(),
            command_line: Vec::new(),
            host: "h".into(),
            started_at: start,
            ended_at: start,
            machine_cores: 1,
            partial: false,
            interrupted: false,
            load_model: crate::model::LoadModel::Closed,
        });
        let mut stats = RequestStats::new("GET", "a");
        for t in 0..seconds {
            let mut s = SecondSample::empty(1_000 + t);
            for i in 0..100u64 {
                let micros = (scale(t) * 1000.0 * (0.9 + 0.002 * i as f64)) as u64;
                s.latency.record(micros);
                stats.latency.record(micros);
            }
            s.requests = 100;
            stats.requests += 100;
            r.series.push(s);
        }
        r.requests = vec![stats];
        r.metadata.ended_at = r.metadata.started_at + chrono::Duration::seconds(seconds);
        r
    }

    #[test]
    fn a_run_that_swings_between_seconds_is_noisier_than_a_steady_one() {
        let steady = run(120, |_| 10.0);
        let swinging = run(120, |t| if (t / 5) % 2 == 0 { 8.0 } else { 12.0 });
        let se = |r: &RunResult| {
            RunNoise::estimate(r, LatencyBasis::Service)
                .standard_error(&r.overall(), r.duration_secs(), Figure::P95)
                .unwrap()
        };
        assert!(
            se(&swinging) > 10.0 * se(&steady),
            "{} vs {}",
            se(&swinging),
            se(&steady)
        );
    }

    #[test]
    fn a_run_too_short_has_unknown_noise() {
        let short = run(3, |_| 10.0);
        let noise = RunNoise::estimate(&short, LatencyBasis::Service);
        assert!(!noise.is_known());
        assert_eq!(
            noise.standard_error(&short.overall(), 3.0, Figure::P95),
            None
        );
    }
}
