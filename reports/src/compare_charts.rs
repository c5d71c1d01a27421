//! The comparison page's charts: baseline and current overlaid on one axis each (baseline
//! blue, current orange, on every chart), drawn with the report's chart frame.
use crate::charts::{
    draw_lines, draw_spectrum, keys, per_second, seconds_max, sla_limit, spectrum_points, svg,
    tick, Head, Line, BLUE, GREY, HEIGHT, ORANGE,
};
use crate::error::ReportError;
use crate::model::{LatencyHistogram, RequestStats, RunResult, SecondSample};
use crate::sla::{LatencyBasis, SlaMetric};

fn overall_histogram(stats: &RequestStats, basis: LatencyBasis) -> LatencyHistogram {
    stats.latency_on(basis).0.into_owned()
}

fn latency_word(basis: LatencyBasis) -> &'static str {
    match basis {
        LatencyBasis::Intended => "intended-time",
        LatencyBasis::Service => "service time",
    }
}

/// Latency by percentile of all requests, both runs on the "nines" axis.
pub fn spectra(
    baseline: &RunResult,
    current: &RunResult,
    basis: LatencyBasis,
) -> Result<String, ReportError> {
    let word = latency_word(basis);
    let lines = vec![
        Line::solid(
            spectrum_points(&overall_histogram(&baseline.overall(), basis)),
            BLUE,
            format!("baseline ({word})"),
        ),
        Line::solid(
            spectrum_points(&overall_histogram(&current.overall(), basis)),
            ORANGE,
            format!("current ({word})"),
        ),
    ];
    let head = Head::new("Latency by percentile, all requests (ms)", keys(&lines));
    svg("compared spectra", HEIGHT, &head, |root| {
        draw_spectrum(root, lines)
    })
}

/// `value` per second of both runs, each from its own start, and an optional SLA line.
fn over_time(
    name: &str,
    title: &str,
    y_desc: &str,
    (baseline, current): (&RunResult, &RunResult),
    value: impl Fn(&SecondSample) -> Option<f64>,
    sla: Option<(f64, String)>,
) -> Result<String, ReportError> {
    let x_max = seconds_max(baseline).max(seconds_max(current));
    let points = |r: &RunResult| -> Vec<(f64, f64)> {
        per_second(r, |s| value(s).is_some(), |s| value(s).unwrap_or_default())
    };
    let mut lines = vec![
        Line::solid(points(baseline), BLUE, "baseline"),
        Line::solid(points(current), ORANGE, "current"),
    ];
    if let Some((limit, label)) = sla {
        lines.push(Line::limit(limit, x_max, GREY, label));
    }
    let head = Head::new(title, keys(&lines));
    svg(name, HEIGHT, &head, |root| {
        draw_lines(
            root,
            lines,
            x_max,
            ("seconds since each run's start", y_desc),
        )
    })
}

/// p95 per second of both runs, with the current run's p95 SLA line.
pub fn p95_over_time(
    baseline: &RunResult,
    current: &RunResult,
    basis: LatencyBasis,
) -> Result<String, ReportError> {
    let sla = sla_limit(current, SlaMetric::P95Ms)
        .map(|limit| (limit, format!("SLA p95 < {} ms", tick(&limit))));
    over_time(
        "compared p95",
        &format!("p95 per second, {} (ms)", latency_word(basis)),
        "ms",
        (baseline, current),
        |s| {
            let h = s.latency_on(basis).0;
            (!h.is_empty()).then(|| h.value_at_quantile(0.95))
        },
        sla,
    )
}

/// Requests per second of both runs.
pub fn rps_over_time(baseline: &RunResult, current: &RunResult) -> Result<String, ReportError> {
    over_time(
        "compared rps",
        "Requests per second",
        "requests/s",
        (baseline, current),
        |s| Some(s.requests as f64),
        None,
    )
}
