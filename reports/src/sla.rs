//! SLA thresholds and their evaluation on measured data.
use serde::{Deserialize, Serialize};

use crate::model::{RequestStats, RunResult, StageResult};

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum SlaMetric {
    P50Ms,
    P90Ms,
    P95Ms,
    P99Ms,
    AvgMs,
    /// Failures / requests, a fraction 0..1.
    ErrorRate,
    /// Requests per second must be at least the limit.
    MinRps,
}

impl SlaMetric {
    /// The name used in scenario files and reports (`p95_ms`, `error_rate`, ...).
    pub fn key(self) -> &'static str {
        match self {
            SlaMetric::P50Ms => "p50_ms",
            SlaMetric::P90Ms => "p90_ms",
            SlaMetric::P95Ms => "p95_ms",
            SlaMetric::P99Ms => "p99_ms",
            SlaMetric::AvgMs => "avg_ms",
            SlaMetric::ErrorRate => "error_rate",
            SlaMetric::MinRps => "min_rps",
        }
    }

    pub fn from_key(key: &str) -> Option<SlaMetric> {
        [
            SlaMetric::P50Ms,
            SlaMetric::P90Ms,
            SlaMetric::P95Ms,
            SlaMetric::P99Ms,
            SlaMetric::AvgMs,
            SlaMetric::ErrorRate,
            SlaMetric::MinRps,
        ]
        .into_iter()
        .find(|m| m.key() == key)
    }

    /// `MinRps` is a floor; every other metric is a ceiling.
    pub fn is_floor(self) -> bool {
        self == SlaMetric::MinRps
    }

    /// Human form of a value of this metric.
    pub fn format(self, value: f64) -> String {
        match self {
            SlaMetric::ErrorRate => format!("{:.2} %", value * 100.0),
            SlaMetric::MinRps => format!("{value:.1} req/s"),
            _ => format!("{value:.1} ms"),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SlaThreshold {
    pub metric: SlaMetric,
    /// One request name, or `None` for all requests together.
    pub request: Option<String>,
    pub limit: f64,
}

impl SlaThreshold {
    /// e.g. `p95_ms < 200 (all requests)`.
    pub fn describe(&self) -> String {
        let op = if self.metric.is_floor() { ">=" } else { "<" };
        let scope = self.request.as_deref().unwrap_or("all requests");
        format!(
            "{} {op} {} ({scope})",
            self.metric.key(),
            self.metric.format(self.limit)
        )
    }

    pub fn holds(&self, measured: f64) -> bool {
        if self.metric.is_floor() {
            measured >= self.limit
        } else {
            measured < self.limit
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SlaVerdict {
    pub threshold: SlaThreshold,
    pub measured: f64,
    pub passed: bool,
}

fn measure(stats: &RequestStats, metric: SlaMetric, duration_secs: f64) -> f64 {
    match metric {
        SlaMetric::P50Ms => stats.latency.value_at_quantile(0.50),
        SlaMetric::P90Ms => stats.latency.value_at_quantile(0.90),
        SlaMetric::P95Ms => stats.latency.value_at_quantile(0.95),
        SlaMetric::P99Ms => stats.latency.value_at_quantile(0.99),
        SlaMetric::AvgMs => stats.latency.mean(),
        SlaMetric::ErrorRate => stats.error_rate(),
        SlaMetric::MinRps => stats.requests as f64 / duration_secs.max(0.001),
    }
}

/// Evaluates every threshold on the run's totals. A threshold measured on no requests (an
/// empty run, or a request that never ran) fails: there is nothing that shows it held.
pub fn evaluate_slas(result: &RunResult, thresholds: &[SlaThreshold]) -> Vec<SlaVerdict> {
    let overall = result.overall();
    let duration = result.duration_secs();
    thresholds
        .iter()
        .map(|t| {
            let stats = match &t.request {
                None => overall.clone(),
                Some(name) => result
                    .requests
                    .iter()
                    .find(|r| &r.name == name)
                    .cloned()
                    .unwrap_or_else(|| RequestStats::new("", name)),
            };
            let measured = measure(&stats, t.metric, duration);
            SlaVerdict {
                threshold: t.clone(),
                measured,
                // No requests is no evidence: a gate must not pass on an empty run.
                passed: stats.requests > 0 && t.holds(measured),
            }
        })
        .collect()
}

/// The all-request latency and error thresholds that broke within one stage (per-request and
/// rps thresholds need per-name stage data and are judged on the whole run only).
pub fn stage_breaches<'t>(
    stage: &StageResult,
    thresholds: &'t [SlaThreshold],
) -> Vec<&'t SlaThreshold> {
    let stats = RequestStats {
        method: String::new(),
        name: String::new(),
        requests: stage.requests,
        failures: stage.failures,
        content_bytes: 0,
        latency: stage.latency.clone(),
    };
    thresholds
        .iter()
        .filter(|t| t.request.is_none() && t.metric != SlaMetric::MinRps)
        .filter(|t| !t.holds(measure(&stats, t.metric, stage.duration_secs())))
        .collect()
}

/// Whether the all-request latency and error thresholds held within one stage.
pub fn stage_holds(stage: &StageResult, thresholds: &[SlaThreshold]) -> bool {
    stage_breaches(stage, thresholds).is_empty()
}
