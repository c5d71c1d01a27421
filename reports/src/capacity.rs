//! Capacity planning: per stage, what the system did at that many users, and the highest
//! step whose SLAs held before they first broke.
use crate::evaluation::stage_breaches;
use crate::model::RunResult;

/// One row of the capacity table. Latency columns are service time (as Locust's); the SLA
/// verdict judges each threshold on its own basis (intended-time by default).
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityRow {
    pub stage: usize,
    pub users: u64,
    /// Open model: the arrivals per second the stage offered (then `users` is 0).
    pub rate: Option<f64>,
    /// Requests completed in this stage; a stage without any is neither held nor broken.
    pub requests: u64,
    pub rps: f64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// p95 of intended-time latency, when the stage recorded any.
    pub intended_p95_ms: Option<f64>,
    /// Arrivals dropped in this stage (open model).
    pub dropped: u64,
    /// Dropped / offered arrivals, 0..1.
    pub dropped_rate: f64,
    /// Successful requests / requests, 0..1 (1 when there were none).
    pub success_rate: f64,
    pub slas_held: bool,
    /// Metric keys of the thresholds this stage broke (`p95_ms`, `error_rate`), so the
    /// table says *why* a step failed.
    pub broken_by: Vec<&'static str>,
}

impl CapacityRow {
    pub fn has_data(&self) -> bool {
        self.requests > 0
    }

    /// The load the stage offered: arrivals per second (open) or users (closed).
    pub fn offered(&self) -> f64 {
        self.rate.unwrap_or(self.users as f64)
    }

    /// `200 users` or `50 arrivals/s`.
    pub fn offered_text(&self) -> String {
        match self.rate {
            Some(rate) => format!("{} arrivals/s", trim_float(rate)),
            None => format!("{} users", self.users),
        }
    }

    /// "held", "broken (p95_ms, error_rate)" or "no data".
    pub fn status(&self) -> String {
        if !self.has_data() {
            "no data".to_string()
        } else if self.slas_held {
            "held".to_string()
        } else {
            format!("broken ({})", self.broken_by.join(", "))
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Capacity {
    pub rows: Vec<CapacityRow>,
    /// The step with the most users whose SLAs held, among the steps before the first break:
    /// a step that holds again after an earlier, lighter step broke is luck, not capacity.
    pub recommended: Option<CapacityRow>,
    /// The first step (in run order) whose SLAs broke, if any.
    pub first_broken: Option<CapacityRow>,
}

pub fn capacity(result: &RunResult) -> Capacity {
    let rows: Vec<CapacityRow> = result
        .stages
        .iter()
        .map(|s| {
            let broken_by: Vec<&'static str> = stage_breaches(s, &result.thresholds)
                .iter()
                .map(|t| t.metric.key())
                .collect();
            CapacityRow {
                stage: s.index,
                users: s.target_users,
                rate: s.target_rate,
                requests: s.requests,
                rps: s.rps(),
                avg_ms: s.latency.mean(),
                p50_ms: s.latency.value_at_quantile(0.50),
                p95_ms: s.latency.value_at_quantile(0.95),
                p99_ms: s.latency.value_at_quantile(0.99),
                intended_p95_ms: (!s.intended_samples.is_empty())
                    .then(|| s.intended().value_at_quantile(0.95)),
                dropped: s.dropped,
                dropped_rate: s.dropped_rate(),
                success_rate: 1.0 - s.error_rate(),
                slas_held: s.requests > 0 && broken_by.is_empty(),
                broken_by,
            }
        })
        .collect();
    let first_broken_at = rows.iter().position(|r| r.has_data() && !r.slas_held);
    let first_broken = first_broken_at.map(|i| rows[i].clone());
    let recommended = rows[..first_broken_at.unwrap_or(rows.len())]
        .iter()
        .filter(|r| r.slas_held)
        .max_by(|a, b| a.offered().total_cmp(&b.offered()))
        .cloned();
    Capacity {
        rows,
        recommended,
        first_broken,
    }
}

/// `50`, `12.5`: a rate without a trailing `.0`.
fn trim_float(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl Capacity {
    /// Whether the stages offered arrival rates (open model) rather than users.
    pub fn is_open(&self) -> bool {
        self.rows.iter().any(|r| r.rate.is_some())
    }

    /// One sentence a stakeholder can quote.
    pub fn verdict(&self) -> String {
        match (&self.recommended, &self.first_broken) {
            (Some(ok), Some(broken)) => format!(
                "Recommended maximum: {} at {:.1} req/s (stage {}); SLAs first broke at {} (stage {}: {}).",
                ok.offered_text(), ok.rps, ok.stage + 1, broken.offered_text(), broken.stage + 1, broken.broken_by.join(", ")
            ),
            (Some(ok), None) => format!(
                "SLAs held at every step; the highest tested was {} at {:.1} req/s. Capacity is at least this.",
                ok.offered_text(), ok.rps
            ),
            (None, Some(broken)) => format!(
                "SLAs broke already at the first loaded step ({}: {}); no tested load is within SLA.",
                broken.offered_text(),
                broken.broken_by.join(", ")
            ),
            (None, None) => "No stage completed any request.".to_string(),
        }
    }
}
