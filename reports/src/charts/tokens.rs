//! The LLM charts, per second: time to first token (and, in the open model, from the intended
//! send), time per output token, and output tokens/s — so a reader sees when the model
//! server started queueing (TTFT rising), slowing its decode (TPOT rising) or saturating
//! (tokens/s flat while the load grows).
use super::{
    draw_lines, keys, per_second, seconds_max, sla_limit, svg, tick, Head, Line, BLUE, GREEN, GREY,
    HEIGHT, ORANGE, PURPLE, RED,
};
use crate::error::ReportError;
use crate::histogram::LatencyHistogram;
use crate::model::{RunResult, SecondSample};
use crate::sla::SlaMetric;

/// The `q` quantile of one histogram of each second that has any.
fn quantile_per_second(
    result: &RunResult,
    of: fn(&SecondSample) -> &LatencyHistogram,
    q: f64,
) -> Vec<(f64, f64)> {
    per_second(
        result,
        move |s| !of(s).is_empty(),
        move |s| of(s).value_at_quantile(q),
    )
}

/// A line for an all-requests SLA limit on `metric`, when the run has one.
fn limit_line(result: &RunResult, metric: SlaMetric, what: &str, unit: &str) -> Option<Line> {
    let op = if metric.is_floor() { ">=" } else { "<" };
    sla_limit(result, metric).map(|limit| {
        Line::limit(
            limit,
            seconds_max(result),
            GREY,
            format!("SLA {what} {op} {} {unit}", tick(&limit))
                .trim_end()
                .to_string(),
        )
    })
}

/// p50/p95/p99 of TTFT per second (solid) and, when recorded (open model), p95/p99 of TTFT
/// from the intended send (dashed, same colours), with the TTFT p95 SLA line.
pub fn ttft_over_time(result: &RunResult) -> Result<String, ReportError> {
    let ttft = |q| quantile_per_second(result, |s| &s.tokens.ttft, q);
    let intended = |q| quantile_per_second(result, |s| &s.tokens.intended_ttft, q);
    let mut lines = vec![
        Line::solid(ttft(0.5), GREEN, "p50 TTFT"),
        Line::solid(ttft(0.95), ORANGE, "p95 TTFT"),
        Line::solid(ttft(0.99), RED, "p99 TTFT"),
    ];
    if result
        .series
        .iter()
        .any(|s| !s.tokens.intended_ttft.is_empty())
    {
        lines.push(Line::dashed(
            intended(0.95),
            ORANGE,
            "p95 TTFT from the intended send",
        ));
        lines.push(Line::dashed(
            intended(0.99),
            RED,
            "p99 TTFT from the intended send",
        ));
    }
    lines.extend(limit_line(result, SlaMetric::TtftP95Ms, "TTFT p95", "ms"));
    let head = Head::new(
        "LLM answers: time to first token per second (ms)",
        keys(&lines),
    );
    svg("TTFT over time", HEIGHT, &head, |root| {
        draw_lines(
            root,
            lines,
            seconds_max(result),
            ("seconds since start", "ms"),
        )
    })
}

/// p50/p95/p99 of time per output token per second, with the TPOT p95 SLA line.
pub fn tpot_over_time(result: &RunResult) -> Result<String, ReportError> {
    let tpot = |q| quantile_per_second(result, |s| &s.tokens.tpot, q);
    let mut lines = vec![
        Line::solid(tpot(0.5), BLUE, "p50 TPOT"),
        Line::solid(tpot(0.95), PURPLE, "p95 TPOT"),
        Line::solid(tpot(0.99), RED, "p99 TPOT"),
    ];
    lines.extend(limit_line(result, SlaMetric::TpotP95Ms, "TPOT p95", "ms"));
    let head = Head::new(
        "LLM answers: time per output token per second (ms)",
        keys(&lines),
    );
    svg("TPOT over time", HEIGHT, &head, |root| {
        draw_lines(
            root,
            lines,
            seconds_max(result),
            ("seconds since start", "ms"),
        )
    })
}

/// Output tokens per second (of the answers that finished in that second), with the
/// `min_output_tokens_per_s` SLA line.
pub fn output_tokens_over_time(result: &RunResult) -> Result<String, ReportError> {
    let mut lines = vec![Line::solid(
        per_second(result, |_| true, |s| s.tokens.output_tokens as f64),
        GREEN,
        "output tokens/s",
    )];
    lines.extend(limit_line(
        result,
        SlaMetric::MinOutputTokensPerS,
        "output tokens/s",
        "",
    ));
    let head = Head::new("LLM answers: output tokens per second", keys(&lines));
    svg("output tokens over time", HEIGHT, &head, |root| {
        draw_lines(
            root,
            lines,
            seconds_max(result),
            ("seconds since start", "tokens/s"),
        )
    })
}
