//! A run in progress, as the live outputs show it: cumulative per-name stats, the latest
//! finished second, active users and dropped arrivals.
//!
//! A [`LiveSnapshot`] is what both live outputs render — the Prometheus exposition
//! ([`crate::prometheus`]) and the per-second JSON lines ([`SecondLine`]) — so the two show the
//! same figures. It is built from the generator's recorder during a run, or from a (merged)
//! [`RunResult`] with [`LiveSnapshot::from_result`], so a manager exposes its merged view the
//! same way a worker exposes its own.
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{LatencyHistogram, LoadModel, RequestStats, RunResult, SecondSample};

/// What a run has measured so far.
#[derive(Clone, Debug)]
pub struct LiveSnapshot {
    pub scenario: String,
    pub load_model: LoadModel,
    pub started_at: DateTime<Utc>,
    pub active_users: u64,
    /// Cumulative per request name, sorted by name.
    pub requests: Vec<RequestStats>,
    pub dropped_arrivals: u64,
    /// The most recent finished second: the source of the per-second rates.
    pub last_second: Option<SecondSample>,
    /// The generator's CPU seconds so far, when the snapshot is of this process.
    pub cpu_seconds: Option<f64>,
}

impl LiveSnapshot {
    /// The snapshot of a (possibly merged, possibly partial) result with `active_users`
    /// running now.
    pub fn from_result(result: &RunResult, active_users: u64) -> LiveSnapshot {
        LiveSnapshot {
            scenario: result.metadata.scenario_name.clone(),
            load_model: result.metadata.load_model,
            started_at: result.metadata.started_at,
            active_users,
            requests: result.requests.clone(),
            dropped_arrivals: result.dropped_arrivals,
            last_second: result.series.last().cloned(),
            cpu_seconds: None,
        }
    }
}

/// Milliseconds at quantile `q`, or `None` for an empty histogram (JSON `null`, not a 0 that
/// would read as "instant").
fn ms_at(h: &LatencyHistogram, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| round3(h.value_at_quantile(q)))
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Cumulative figures of one request name in a [`SecondLine`].
#[derive(Clone, Debug, Serialize)]
pub struct NameLine {
    pub name: String,
    pub method: String,
    pub requests_total: u64,
    pub failures_total: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub intended_p99_ms: Option<f64>,
    /// LLM answers (absent for names that call no LLM): tokens so far, TTFT and TPOT p95.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens_total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_p95_ms: Option<f64>,
    /// TTFT from when the arrival was due (open model only), as `intended_p99_ms` is for latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intended_ttft_p95_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpot_p95_ms: Option<f64>,
}

/// One line of `--jsonl`: one finished second's own figures, the run's totals through that
/// second (summed from the seconds, so the last line's totals are the run's), and each
/// request name's cumulative figures as of when the line was written.
#[derive(Clone, Debug, Serialize)]
pub struct SecondLine {
    pub time: DateTime<Utc>,
    pub unix_second: i64,
    pub elapsed_seconds: i64,
    pub load_model: &'static str,
    pub active_users: u64,
    /// Requests completed in this second (= requests per second).
    pub requests: u64,
    pub failures: u64,
    pub dropped_arrivals: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub intended_p95_ms: Option<f64>,
    pub intended_p99_ms: Option<f64>,
    /// Output tokens of the LLM answers completed in this second (absent without any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    pub requests_total: u64,
    pub failures_total: u64,
    pub dropped_arrivals_total: u64,
    pub by_name: Vec<NameLine>,
}

/// Running totals over the seconds written so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub failures: u64,
    pub dropped_arrivals: u64,
}

impl SecondLine {
    /// The line of `second`, adding it to `totals`; `snapshot` supplies the users, the load
    /// model and the per-name figures.
    pub fn new(second: &SecondSample, totals: &mut Totals, snapshot: &LiveSnapshot) -> SecondLine {
        totals.requests += second.requests;
        totals.failures += second.failures;
        totals.dropped_arrivals += second.dropped;
        let second_intended = second.intended();
        SecondLine {
            time: DateTime::from_timestamp(second.unix_second, 0).unwrap_or_default(),
            unix_second: second.unix_second,
            elapsed_seconds: second.unix_second - snapshot.started_at.timestamp(),
            load_model: snapshot.load_model.as_str(),
            active_users: second.users,
            requests: second.requests,
            failures: second.failures,
            dropped_arrivals: second.dropped,
            p50_ms: ms_at(&second.latency, 0.5),
            p95_ms: ms_at(&second.latency, 0.95),
            p99_ms: ms_at(&second.latency, 0.99),
            intended_p95_ms: ms_at(&second_intended, 0.95),
            intended_p99_ms: ms_at(&second_intended, 0.99),
            output_tokens: (!second.tokens.is_empty()).then_some(second.tokens.output_tokens),
            requests_total: totals.requests,
            failures_total: totals.failures,
            dropped_arrivals_total: totals.dropped_arrivals,
            by_name: snapshot
                .requests
                .iter()
                .map(|r| NameLine {
                    name: r.name.clone(),
                    method: r.method.clone(),
                    requests_total: r.requests,
                    failures_total: r.failures,
                    p50_ms: ms_at(&r.latency, 0.5),
                    p95_ms: ms_at(&r.latency, 0.95),
                    p99_ms: ms_at(&r.latency, 0.99),
                    intended_p99_ms: ms_at(&r.intended(), 0.99),
                    output_tokens_total: (!r.tokens.is_empty()).then_some(r.tokens.output_tokens),
                    ttft_p95_ms: ms_at(&r.tokens.ttft, 0.95),
                    intended_ttft_p95_ms: ms_at(&r.tokens.intended_ttft, 0.95),
                    tpot_p95_ms: ms_at(&r.tokens.tpot, 0.95),
                })
                .collect(),
        }
    }

    /// The line as one line of JSON (no newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a SecondLine always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> LiveSnapshot {
        LiveSnapshot {
            scenario: "s".into(),
            load_model: LoadModel::Open,
            started_at: DateTime::from_timestamp(1_000, 0).unwrap(),
            active_users: 3,
            requests: vec![RequestStats::new("GET", "a")],
            dropped_arrivals: 0,
            last_second: None,
            cpu_seconds: None,
        }
    }

    #[test]
    fn lines_carry_the_seconds_figures_and_running_totals() {
        let mut totals = Totals::default();
        let mut s = SecondSample::empty(1_004);
        s.requests = 2;
        s.failures = 1;
        s.dropped = 5;
        s.users = 3;
        s.latency.record(2_000);
        s.latency.record(4_000);
        let line = SecondLine::new(&s, &mut totals, &snapshot());
        let again = SecondLine::new(&s, &mut totals, &snapshot());
        assert_eq!(line.elapsed_seconds, 4);
        assert_eq!((line.requests_total, again.requests_total), (2, 4));
        assert_eq!(again.dropped_arrivals_total, 10);
        let json: serde_json::Value = serde_json::from_str(&line.to_json()).unwrap();
        assert_eq!(json["load_model"], "open");
        assert!((json["p99_ms"].as_f64().unwrap() - 4.0).abs() < 0.01);
        assert!(
            json["intended_p95_ms"].is_null(),
            "no intended latency: null, not 0"
        );
        assert!(!line.to_json().contains('\n'));
    }
}
