//! Capacity planning: per stage, what the system did at that many users, and the highest
//! step whose SLAs held.
use crate::model::RunResult;
use crate::sla::stage_holds;

/// One row of the capacity table.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityRow {
    pub stage: usize,
    pub users: u64,
    pub rps: f64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Successful requests / requests, 0..1 (1 when there were none).
    pub success_rate: f64,
    pub slas_held: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Capacity {
    pub rows: Vec<CapacityRow>,
    /// The highest step (most users) whose SLAs held, if any.
    pub recommended: Option<CapacityRow>,
    /// The first step whose SLAs broke, if any.
    pub first_broken: Option<CapacityRow>,
}

pub fn capacity(result: &RunResult) -> Capacity {
    let rows: Vec<CapacityRow> = result
        .stages
        .iter()
        .map(|s| CapacityRow {
            stage: s.index,
            users: s.target_users,
            rps: s.rps(),
            avg_ms: s.latency.mean(),
            p50_ms: s.latency.value_at_quantile(0.50),
            p95_ms: s.latency.value_at_quantile(0.95),
            p99_ms: s.latency.value_at_quantile(0.99),
            success_rate: 1.0 - s.error_rate(),
            slas_held: s.requests > 0 && stage_holds(s, &result.thresholds),
        })
        .collect();
    let first_broken = rows.iter().find(|r| !r.slas_held).cloned();
    let recommended = rows
        .iter()
        .filter(|r| r.slas_held)
        .max_by_key(|r| r.users)
        .cloned();
    Capacity {
        rows,
        recommended,
        first_broken,
    }
}

impl Capacity {
    /// One sentence a stakeholder can quote.
    pub fn verdict(&self) -> String {
        match (&self.recommended, &self.first_broken) {
            (Some(ok), Some(broken)) => format!(
                "Recommended maximum: {} users at {:.1} req/s (stage {}); SLAs first broke at {} users (stage {}).",
                ok.users, ok.rps, ok.stage + 1, broken.users, broken.stage + 1
            ),
            (Some(ok), None) => format!(
                "SLAs held at every step; the highest tested was {} users at {:.1} req/s. Capacity is at least this.",
                ok.users, ok.rps
            ),
            (None, Some(broken)) => format!(
                "SLAs broke already at the first step ({} users); no tested load is within SLA.",
                broken.users
            ),
            (None, None) => "No stage data.".to_string(),
        }
    }
}
