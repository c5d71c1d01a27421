//! The streaming chart: time to first chunk and inter-chunk gaps per second, so a reader sees
//! when answers started late or stalled while being written.
use super::{
    draw_lines, keys, per_second, seconds_max, sla_limit, svg, tick, Head, Line, GREEN, GREY,
    HEIGHT, ORANGE, RED,
};
use crate::error::ReportError;
use crate::model::RunResult;
use crate::sla::SlaMetric;

/// p50/p95 of time to first chunk (solid) and p99 of the gaps (dashed) per second, with the
/// TTFC p95 SLA line.
pub fn stream_over_time(result: &RunResult) -> Result<String, ReportError> {
    let x_max = seconds_max(result);
    let ttfc = |q: f64| {
        per_second(
            result,
            |s| !s.stream.ttfc.is_empty(),
            move |s| s.stream.ttfc.value_at_quantile(q),
        )
    };
    let gap_p99 = per_second(
        result,
        |s| !s.stream.gap.is_empty(),
        |s| s.stream.gap.value_at_quantile(0.99),
    );
    let mut lines = vec![
        Line::solid(ttfc(0.5), GREEN, "p50 time to first chunk"),
        Line::solid(ttfc(0.95), ORANGE, "p95 time to first chunk"),
        Line::dashed(gap_p99, RED, "p99 gap between chunks"),
    ];
    if let Some(limit) = sla_limit(result, SlaMetric::TtfcP95Ms) {
        lines.push(Line::limit(
            limit,
            x_max,
            GREY,
            format!("SLA TTFC p95 < {} ms", tick(&limit)),
        ));
    }
    let head = Head::new(
        "Streamed answers: time to first chunk and gaps per second (ms)",
        keys(&lines),
    );
    svg("streaming over time", HEIGHT, &head, |root| {
        draw_lines(root, lines, x_max, ("seconds since start", "ms"))
    })
}
