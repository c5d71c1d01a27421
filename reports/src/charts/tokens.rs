//! The LLM chart: time to first token and time per output token per second, so a reader sees
//! when the model server started queueing (TTFT rising) or slowing its decode (TPOT rising).
use super::{
    draw_lines, keys, per_second, seconds_max, sla_limit, svg, tick, Head, Line, BLUE, GREEN, GREY,
    HEIGHT, ORANGE, RED,
};
use crate::error::ReportError;
use crate::model::RunResult;
use crate::sla::SlaMetric;

/// p50/p95 of TTFT (solid) and of TPOT (dashed) per second, with the TTFT p95 SLA line.
pub fn tokens_over_time(result: &RunResult) -> Result<String, ReportError> {
    let x_max = seconds_max(result);
    let ttft = |q: f64| {
        per_second(
            result,
            |s| !s.tokens.ttft.is_empty(),
            move |s| s.tokens.ttft.value_at_quantile(q),
        )
    };
    let tpot = |q: f64| {
        per_second(
            result,
            |s| !s.tokens.tpot.is_empty(),
            move |s| s.tokens.tpot.value_at_quantile(q),
        )
    };
    let mut lines = vec![
        Line::solid(ttft(0.5), GREEN, "p50 time to first token"),
        Line::solid(ttft(0.95), ORANGE, "p95 time to first token"),
        Line::dashed(tpot(0.5), BLUE, "p50 time per output token"),
        Line::dashed(tpot(0.95), RED, "p95 time per output token"),
    ];
    if let Some(limit) = sla_limit(result, SlaMetric::TtftP95Ms) {
        lines.push(Line::limit(
            limit,
            x_max,
            GREY,
            format!("SLA TTFT p95 < {} ms", tick(&limit)),
        ));
    }
    let head = Head::new(
        "LLM answers: time to first token and time per output token per second (ms)",
        keys(&lines),
    );
    svg("LLM over time", HEIGHT, &head, |root| {
        draw_lines(root, lines, x_max, ("seconds since start", "ms"))
    })
}
