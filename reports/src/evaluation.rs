//! Judging SLA thresholds on a run and on its stages.
//!
//! This is the one place that knows both the result model and the thresholds: it turns a run,
//! a request name or a stage into an [`sla::Measurement`](crate::sla::Measurement) and lets
//! each threshold judge it.
use std::borrow::Cow;
use std::cell::OnceCell;

use crate::model::{RequestStats, RunResult, StageResult};
use crate::sla::{Measurement, SlaMetric, SlaThreshold, SlaVerdict};

/// Evaluates every threshold on the run's totals. A threshold measured on no requests (an
/// empty run, or a request that never ran) fails: there is nothing that shows it held.
///
/// Dropped arrivals have no request name (they were never sent), so `dropped_rate` is judged
/// on the run's totals whatever the threshold's request.
pub fn evaluate_slas(result: &RunResult, thresholds: &[SlaThreshold]) -> Vec<SlaVerdict> {
    let overall = result.overall();
    let duration = result.duration_secs();
    let dropped_rate = result.dropped_rate();
    // Most thresholds judge the totals: their intended-time view is computed once.
    let overall_intended = OnceCell::new();
    thresholds
        .iter()
        .map(|t| {
            let missing;
            let stats = match (&t.request, t.metric) {
                (None, _) | (_, SlaMetric::DroppedRate) => &overall,
                (Some(name), _) => match result.requests.iter().find(|r| &r.name == name) {
                    Some(stats) => stats,
                    None => {
                        missing = RequestStats::new("", name);
                        &missing
                    }
                },
            };
            let intended = if std::ptr::eq(stats, &overall) {
                Cow::Borrowed(overall_intended.get_or_init(|| overall.intended()))
            } else {
                Cow::Owned(stats.intended())
            };
            t.judge(&Measurement {
                requests: stats.requests,
                service: &stats.latency,
                intended,
                error_rate: stats.error_rate(),
                dropped_rate,
                rps: stats.requests as f64 / duration,
                stream: &stats.stream,
                items_per_s: stats.items as f64 / duration,
                tokens: &stats.tokens,
                output_tokens_per_s: stats.tokens.output_tokens as f64 / duration,
            })
        })
        .collect()
}

/// The all-request latency, streaming, error and drop thresholds that broke within one stage
/// (per-request thresholds need per-name stage data, and floors (rps, items/s) are judged on
/// the whole run only: a ramp stage is short of them by design).
pub fn stage_breaches<'t>(
    stage: &StageResult,
    thresholds: &'t [SlaThreshold],
) -> Vec<&'t SlaThreshold> {
    let m = stage_measurement(stage);
    thresholds
        .iter()
        .filter(|t| t.request.is_none() && !t.metric.is_floor())
        .filter(|t| !t.holds(t.judge(&m).measured))
        .collect()
}

/// What a stage measured, as the SLAs judge it.
pub fn stage_measurement(stage: &StageResult) -> Measurement<'_> {
    Measurement {
        requests: stage.requests,
        service: &stage.latency,
        intended: Cow::Owned(stage.intended()),
        error_rate: stage.error_rate(),
        dropped_rate: stage.dropped_rate(),
        rps: stage.rps(),
        stream: &stage.stream,
        items_per_s: stage.items_per_s(),
        tokens: &stage.tokens,
        output_tokens_per_s: stage.tokens.output_tokens as f64 / stage.duration_secs().max(1e-9),
    }
}
