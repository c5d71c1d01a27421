//! The result of `skein capacity`: every step of the search for the maximum sustainable load,
//! what each measured, where the knee is, and the sentence a stakeholder can quote.
//!
//! The search itself lives in the generator; this is only what it measured, so the renderers
//! (HTML, Markdown, JUnit, CSV) and a later `skein report` show the same thing.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::load_model::LoadModel;

/// Which part of the search a step belongs to.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SearchPhase {
    /// Geometric climb from a low load until a step breaks an SLA or the maximum is reached.
    Climb,
    /// Bisection between the last step that held and the first that broke.
    Bisect,
    /// The last held load run again before it is reported.
    Confirm,
}

/// One step: a load held for a warm-up (not judged) and a measurement window (judged alone).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SearchStep {
    pub phase: SearchPhase,
    /// Offered load: arrivals per second (open model) or users (closed model).
    pub offered: f64,
    /// The measurement window.
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub warmup_secs: f64,
    /// Times the window was extended because it held too few requests for its percentile.
    pub extensions: u32,
    pub requests: u64,
    pub failures: u64,
    /// Open model: arrivals dropped in the window (past `max_in_flight`).
    pub dropped: u64,
    /// Completed requests per second in the window.
    pub rps: f64,
    /// Latency percentiles of the window, on the SLA's basis (intended-time by default).
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub error_rate: f64,
    pub dropped_rate: f64,
    pub held: bool,
    /// What broke, e.g. `p95_ms 236.0 ms > 200.0 ms`; empty when the step held.
    pub broken_by: Vec<String>,
    /// LLM answers: the share of the window's judged answers that met their request's
    /// objectives (goodput), and goodput answers per second; `None` when none was judged
    /// (no objectives, no LLM request) and in results written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<StepGoodput>,
}

/// A search step's goodput (see [`SearchStep::goodput`]).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct StepGoodput {
    pub ratio: f64,
    pub per_s: f64,
}

/// How the search ended.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SearchOutcome {
    /// A boundary was found (and confirmed) to the resolution asked for.
    Found,
    /// Every step up to the maximum held: capacity is at least the maximum.
    MaxHeld,
    /// Even the lowest step broke an SLA.
    LowestBroke,
    /// The budget ran out: the answer is the bounds found so far.
    BudgetExhausted,
    /// Interrupted: the answer is the bounds found so far.
    Interrupted,
}

/// The whole search.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CapacitySearch {
    pub model: LoadModel,
    /// The resolution asked for: the search stops when the gap between the highest held and
    /// the lowest broken load is at most this fraction of the broken one.
    pub resolution: f64,
    pub steps: Vec<SearchStep>,
    pub outcome: SearchOutcome,
    /// Index into `steps` of the highest load that held (confirmed when `outcome` is `Found`).
    pub max_sustainable: Option<usize>,
    /// Index into `steps` of the lowest load that broke.
    pub first_break: Option<usize>,
    /// Index into `steps` of the knee: where latency starts to grow much faster than load.
    pub knee: Option<usize>,
}

impl CapacitySearch {
    /// `arrivals/s` or `users`.
    pub fn unit(&self) -> &'static str {
        match self.model {
            LoadModel::Open => "arrivals/s",
            LoadModel::Closed => "users",
        }
    }

    /// A step's offered load with its unit, `650 arrivals/s` or `40 users`, as the verdict
    /// writes it, so tables and charts name loads the same way.
    pub fn load(&self, step: &SearchStep) -> String {
        let v = step.offered;
        let text = if (v - v.round()).abs() < 1e-9 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        };
        format!("{text} {}", self.unit())
    }

    /// One sentence a stakeholder can quote, e.g. `max sustainable: 780 arrivals/s (780 req/s,
    /// p95 181 ms, errors 0.20 %); first break at 820 arrivals/s: p95_ms 236.0 ms > 200.0 ms`.
    pub fn verdict(&self) -> String {
        let held = self.max_sustainable.map(|i| &self.steps[i]);
        let broke = self.first_break.map(|i| &self.steps[i]);
        let held_text = |s: &SearchStep| {
            format!(
                "{} ({:.0} req/s, p95 {:.0} ms, errors {:.2} %)",
                self.load(s),
                s.rps,
                s.p95_ms,
                s.error_rate * 100.0
            )
        };
        let broke_text = |s: &SearchStep| format!("{}: {}", self.load(s), s.broken_by.join(", "));
        let mut text = match (self.outcome, held, broke) {
            (SearchOutcome::LowestBroke, _, Some(b)) => {
                format!(
                    "not found: even the lowest step broke its SLAs ({})",
                    broke_text(b)
                )
            }
            (SearchOutcome::MaxHeld, Some(h), _) => format!(
                "max sustainable: at least {}; every step held up to the maximum searched",
                held_text(h)
            ),
            (_, Some(h), Some(b)) => {
                format!(
                    "max sustainable: {}; first break at {}",
                    held_text(h),
                    broke_text(b)
                )
            }
            (_, Some(h), None) => format!("max sustainable: at least {}", held_text(h)),
            (_, None, Some(b)) => format!("not found: first break at {}", broke_text(b)),
            (_, None, None) => "not found: no step completed".to_string(),
        };
        match self.outcome {
            SearchOutcome::BudgetExhausted => {
                text.push_str(" (budget exhausted: these are the bounds found so far)")
            }
            SearchOutcome::Interrupted => {
                text.push_str(" (interrupted: these are the bounds found so far)")
            }
            _ => {}
        }
        text
    }

    /// Where latency starts to grow much faster than load, in words, if a knee was found.
    pub fn knee_text(&self) -> Option<String> {
        let k = &self.steps[self.knee?];
        Some(format!(
            "knee at {}: p95 {:.0} ms, latency grows faster than load from here ({})",
            self.load(k),
            k.p95_ms,
            KNEE_METHOD
        ))
    }

    /// Steps ordered by offered load (a repeated load keeps its last measurement).
    pub fn by_load(&self) -> Vec<(usize, &SearchStep)> {
        let mut steps: Vec<(usize, &SearchStep)> = self.steps.iter().enumerate().collect();
        steps.sort_by(|a, b| a.1.offered.total_cmp(&b.1.offered).then(a.0.cmp(&b.0)));
        steps.dedup_by(|later, earlier| {
            let same = later.1.offered == earlier.1.offered;
            if same {
                *earlier = *later;
            }
            same
        });
        steps
    }

    pub fn found(&self) -> bool {
        matches!(self.outcome, SearchOutcome::Found | SearchOutcome::MaxHeld)
    }
}

/// How the knee is found (shown beside it).
pub const KNEE_METHOD: &str = "the first step whose p95 grew more than twice as fast as the load, relative to the step below, or whose throughput fell under 90 % of the offered rate";

/// The knee among steps ordered by load: the first step where p95 grew by more than twice
/// the relative growth of the load over the step below (elasticity > 2), or (open model)
/// where completed requests fell under 90 % of the offered rate.
pub fn find_knee(steps: &[SearchStep], model: LoadModel) -> Option<usize> {
    let mut order: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].requests > 0)
        .collect();
    // By load; a load run twice (a confirmation) counts with its last measurement.
    order.sort_by(|&a, &b| {
        steps[a]
            .offered
            .total_cmp(&steps[b].offered)
            .then(a.cmp(&b))
    });
    order.dedup_by(|later, earlier| {
        let same = steps[*later].offered == steps[*earlier].offered;
        if same {
            *earlier = *later;
        }
        same
    });
    for pair in order.windows(2) {
        let (lo, hi) = (&steps[pair[0]], &steps[pair[1]]);
        let load_growth = hi.offered / lo.offered - 1.0;
        let latency_growth = hi.p95_ms / lo.p95_ms.max(0.001) - 1.0;
        let falls_behind = model == LoadModel::Open && hi.rps < 0.9 * hi.offered;
        if (load_growth > 0.0 && latency_growth > 2.0 * load_growth) || falls_behind {
            return Some(pair[1]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(offered: f64, p95: f64, rps: f64, held: bool) -> SearchStep {
        SearchStep {
            phase: SearchPhase::Climb,
            offered,
            started_at: DateTime::<Utc>::UNIX_EPOCH,
            ended_at: DateTime::<Utc>::UNIX_EPOCH,
            warmup_secs: 1.0,
            extensions: 0,
            requests: 100,
            failures: 0,
            dropped: 0,
            rps,
            p50_ms: p95 / 2.0,
            p95_ms: p95,
            p99_ms: p95 * 1.2,
            error_rate: 0.002,
            dropped_rate: 0.0,
            held,
            broken_by: if held {
                vec![]
            } else {
                vec!["p95_ms 236.0 ms > 200.0 ms".into()]
            },
            goodput: None,
        }
    }

    #[test]
    fn the_knee_is_where_latency_outgrows_load() {
        // Load doubles each step; p95 grows 10 %, 10 %, then 3× (more than twice 100 %).
        let steps = [
            step(100.0, 10.0, 100.0, true),
            step(200.0, 11.0, 200.0, true),
            step(400.0, 12.0, 400.0, true),
            step(800.0, 40.0, 790.0, true),
        ];
        assert_eq!(find_knee(&steps, LoadModel::Open), Some(3));
        // An open step that completes under 90 % of its rate is past the knee too.
        let behind = [
            step(100.0, 10.0, 100.0, true),
            step(200.0, 11.0, 150.0, true),
        ];
        assert_eq!(find_knee(&behind, LoadModel::Open), Some(1));
        assert_eq!(find_knee(&steps[..3], LoadModel::Open), None);
        // A load run twice counts with its last measurement (the confirmation).
        let rerun = [
            step(100.0, 10.0, 100.0, true),
            step(150.0, 60.0, 150.0, true),
            step(150.0, 11.0, 150.0, true),
        ];
        assert_eq!(find_knee(&rerun, LoadModel::Open), None);
    }

    #[test]
    fn the_verdict_is_one_quotable_sentence() {
        let search = CapacitySearch {
            model: LoadModel::Open,
            resolution: 0.05,
            steps: vec![
                step(780.0, 181.0, 780.0, true),
                step(820.0, 236.0, 800.0, false),
            ],
            outcome: SearchOutcome::Found,
            max_sustainable: Some(0),
            first_break: Some(1),
            knee: None,
        };
        assert_eq!(
            search.verdict(),
            "max sustainable: 780 arrivals/s (780 req/s, p95 181 ms, errors 0.20 %); first break at 820 arrivals/s: p95_ms 236.0 ms > 200.0 ms"
        );
        let mut out_of_time = search.clone();
        out_of_time.outcome = SearchOutcome::BudgetExhausted;
        assert!(out_of_time.verdict().ends_with("bounds found so far)"));
    }
}
