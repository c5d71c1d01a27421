//! One step of a capacity search: the scenario at one load, its measurement windows cut
//! from the per-second series, and the judgement of a window against the SLAs. Shared by the
//! standalone search (`commands::capacity`) and the manager's (`distributed::search`).
use std::time::Duration;

use chrono::{DateTime, Utc};
use reports::evaluation::stage_measurement;
use reports::{
    LatencyBasis, LoadModel, RunResult, SearchPhase, SearchStep, SecondSample, SlaMetric,
    SlaThreshold, StageResult, StepGoodput,
};

use crate::scenario::{Scenario, Stage};

/// The scenario's all-request SLAs with `--sla`s replacing those of the same metric.
pub fn thresholds(scenario: &Scenario, flags: &[SlaThreshold]) -> Vec<SlaThreshold> {
    let basis = scenario
        .thresholds
        .first()
        .map_or(LatencyBasis::Intended, |t| t.latency);
    let mut out: Vec<SlaThreshold> = scenario
        .thresholds
        .iter()
        .filter(|t| t.request.is_none() && !flags.iter().any(|f| f.metric == t.metric))
        .cloned()
        .collect();
    out.extend(flags.iter().cloned().map(|mut f| {
        f.latency = basis;
        f
    }));
    out
}

/// The scenario as one step: a single stage at `offered`, warm-up and window together.
pub fn step_scenario(
    base: &Scenario,
    model: LoadModel,
    offered: f64,
    duration: Duration,
) -> Scenario {
    let mut s = base.clone();
    s.staged = false;
    s.stages = vec![match model {
        LoadModel::Open => Stage::open(offered, Duration::ZERO, duration),
        LoadModel::Closed => Stage::closed(offered as u64, offered.max(1.0), duration),
    }];
    s
}

/// Requests a window needs before its highest latency percentile is more than noise: ten
/// samples beyond it (p95: 200, p99: 1,000).
pub fn needed_requests(thresholds: &[SlaThreshold]) -> u64 {
    thresholds
        .iter()
        .filter_map(|t| match t.metric {
            SlaMetric::P50Ms => Some(0.5),
            SlaMetric::P90Ms => Some(0.9),
            SlaMetric::P95Ms => Some(0.95),
            SlaMetric::P99Ms => Some(0.99),
            _ => None,
        })
        .map(|q: f64| (10.0 / (1.0 - q)).ceil() as u64)
        .max()
        .unwrap_or(20)
}

/// A measurement window: unix seconds `from..to` of the per-second series.
pub type Window = (i64, i64);

pub fn window_stage(series: &[SecondSample], windows: &[Window]) -> StageResult {
    let seconds: i64 = windows.iter().map(|(a, b)| b - a).sum();
    let start = DateTime::<Utc>::from_timestamp(windows[0].0, 0).unwrap_or_default();
    let end = start + chrono::Duration::seconds(seconds);
    let mut stage = StageResult::new(0, 0, start, end);
    for s in series {
        if windows
            .iter()
            .any(|(a, b)| s.unix_second >= *a && s.unix_second < *b)
        {
            stage.add_second(s);
        }
    }
    stage
}

/// Judges a step's windows against the thresholds; an open step that dropped arrivals broke.
pub fn judge(
    offered: f64,
    phase: SearchPhase,
    stage: &StageResult,
    warmup: Duration,
    extensions: u32,
    thresholds: &[SlaThreshold],
) -> SearchStep {
    let m = stage_measurement(stage);
    let verdicts: Vec<_> = thresholds.iter().map(|t| t.judge(&m)).collect();
    let mut broken_by: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.passed)
        .map(|v| {
            let op = if v.threshold.metric.is_floor() {
                "<"
            } else {
                ">"
            };
            format!(
                "{} {} {op} {}",
                v.threshold.metric.key(),
                v.measured_text(),
                v.threshold.metric.format(v.threshold.limit)
            )
        })
        .collect();
    if stage.dropped > 0
        && !verdicts
            .iter()
            .any(|v| v.threshold.metric == SlaMetric::DroppedRate)
    {
        broken_by.push(format!("{} arrivals dropped", stage.dropped));
    }
    let basis = thresholds
        .iter()
        .find(|t| t.metric.is_latency())
        .map_or(LatencyBasis::Intended, |t| t.latency);
    let latency = stage.latency_on(basis).0;
    SearchStep {
        phase,
        offered,
        started_at: stage.started_at,
        ended_at: stage.ended_at,
        warmup_secs: warmup.as_secs_f64(),
        extensions,
        requests: stage.requests,
        failures: stage.failures,
        dropped: stage.dropped,
        rps: stage.rps(),
        p50_ms: latency.value_at_quantile(0.50),
        p95_ms: latency.value_at_quantile(0.95),
        p99_ms: latency.value_at_quantile(0.99),
        error_rate: stage.error_rate(),
        dropped_rate: stage.dropped_rate(),
        held: stage.requests > 0 && broken_by.is_empty(),
        broken_by: if stage.requests == 0 {
            vec!["no request completed".into()]
        } else {
            broken_by
        },
        goodput: (stage.tokens.judged > 0).then(|| StepGoodput {
            ratio: stage.tokens.goodput_ratio(),
            per_s: stage.tokens.good as f64 / stage.duration_secs().max(1e-9),
        }),
    }
}

/// A step as a stage of the result: its measurement window, its offered load.
pub fn step_stage(
    index: usize,
    step: &SearchStep,
    model: LoadModel,
    series: &[SecondSample],
) -> StageResult {
    let mut stage = window_stage(
        series,
        &[(step.started_at.timestamp(), step.ended_at.timestamp())],
    );
    stage.index = index;
    match model {
        LoadModel::Open => stage.target_rate = Some(step.offered),
        LoadModel::Closed => stage.target_users = step.offered as u64,
    }
    stage
}

/// The SLA verdicts of the reported capacity: its step's window judged against every
/// threshold (or, without one, the lowest step's).
pub fn judged_capacity(
    found: &reports::CapacitySearch,
    result: &RunResult,
    thresholds: &[SlaThreshold],
) -> Vec<reports::SlaVerdict> {
    let Some(index) = found.max_sustainable.or(found.first_break) else {
        return Vec::new();
    };
    let stage = &result.stages[index];
    let m = stage_measurement(stage);
    thresholds.iter().map(|t| t.judge(&m)).collect()
}

/// The log line of a judged step: `skein capacity: step 3 (Climb): 200 arrivals/s -> 180.0
/// req/s, p95 418.6 ms, errors 0.00 %: broken (p95_ms 418.6 ms > 100.0 ms)`.
pub fn step_line(number: usize, model: LoadModel, step: &SearchStep) -> String {
    format!(
        "skein capacity: step {number} ({:?}): {} {} -> {:.1} req/s, p95 {:.1} ms, errors {:.2} %{}{}: {}",
        step.phase,
        step.offered,
        if model == LoadModel::Open { "arrivals/s" } else { "users" },
        step.rps,
        step.p95_ms,
        step.error_rate * 100.0,
        if step.dropped > 0 {
            format!(", {} dropped", step.dropped)
        } else {
            String::new()
        },
        step.goodput.map_or(String::new(), |g| format!(
            ", goodput {:.1} % ({:.2}/s)",
            g.ratio * 100.0,
            g.per_s
        )),
        if step.held {
            "held".to_string()
        } else {
            format!("broken ({})", step.broken_by.join(", "))
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_their_seconds_of_the_series() {
        let series: Vec<SecondSample> = (100..110)
            .map(|t| {
                let mut s = SecondSample::empty(t);
                s.requests = 10;
                s
            })
            .collect();
        let stage = window_stage(&series, &[(103, 108)]);
        assert_eq!(stage.requests, 50);
        assert_eq!(stage.rps(), 10.0, "requests per measured second");
        // Two windows (an extended step) add up.
        let stage = window_stage(&series, &[(100, 102), (105, 106)]);
        assert_eq!(stage.requests, 30);
        assert_eq!(stage.rps(), 10.0);
    }

    #[test]
    fn a_step_breaks_on_its_windows_time_to_first_chunk() {
        // Streams start in 40 ms until second 105, in 90 ms after: only a window reaching
        // past it breaks `ttfc_p95_ms < 60`.
        let series: Vec<SecondSample> = (100..110)
            .map(|t| {
                let mut s = SecondSample::empty(t);
                for _ in 0..20 {
                    s.requests += 1;
                    s.latency.record(100_000);
                    s.stream.record(&reports::StreamTiming {
                        ttfc_micros: Some(if t < 105 { 40_000 } else { 90_000 }),
                        gaps_micros: vec![5_000; 4],
                    });
                }
                s
            })
            .collect();
        let sla = [SlaThreshold::new(SlaMetric::TtfcP95Ms, None, 60.0)];
        let judged = |window| {
            let stage = window_stage(&series, &[window]);
            judge(2.0, SearchPhase::Climb, &stage, Duration::ZERO, 0, &sla)
        };
        let early = judged((100, 105));
        assert!(early.held, "{early:?}");
        let late = judged((103, 108));
        assert!(!late.held, "{late:?}");
        assert_eq!(late.broken_by, ["ttfc_p95_ms 90.0 ms > 60.0 ms"]);
    }
}
