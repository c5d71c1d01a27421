//! The run-history page's charts: one scenario's runs over calendar time (x: each run's
//! start), with every run that regressed against the run before it marked by a red dashed
//! vertical line on every chart, so a step in any figure can be matched with the gate's
//! verdict at a glance.
//!
//! Beside [`charts`](crate::charts), like [`compare_charts`](crate::compare_charts), not inside
//! it: it reads [`crate::history`], which reads [`crate::compare`], which the charts module's
//! children already depend on through the markdown tables.
use chrono::{DateTime, Utc};
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::charts::{
    e, frame_over, keys, max_or, secondary_axis, svg, tick, Chart, Head, Key, KeyStyle, Line,
    YLabels, BLUE, GREEN, HEADROOM, HEIGHT, ORANGE, PURPLE, RED, TICK_FONT,
};
use crate::error::ReportError;
use crate::history::ScenarioHistory;

/// Seconds since the first run, the x of every point.
fn xs(history: &ScenarioHistory) -> Vec<f64> {
    let t0 = history.runs.first().map_or(0, |r| r.started_at.timestamp());
    history
        .runs
        .iter()
        .map(|r| (r.started_at.timestamp() - t0) as f64)
        .collect()
}

/// The x range: the span of the runs plus a margin either side, at least a minute, so the
/// first and last points are not on the frame.
fn x_range(xs: &[f64]) -> (f64, f64) {
    let span = xs.last().copied().unwrap_or(0.0).max(60.0);
    (-0.03 * span, span * 1.03)
}

/// An x tick as a date: `11-23 12:00` (UTC), with the year when the span crosses one.
fn date_tick(t0: i64, span: f64) -> impl Fn(&f64) -> String {
    move |x: &f64| {
        let at: DateTime<Utc> =
            DateTime::from_timestamp(t0 + x.round() as i64, 0).unwrap_or_default();
        if span > 300.0 * 86_400.0 {
            at.format("%Y-%m-%d").to_string()
        } else if span > 7.0 * 86_400.0 {
            at.format("%m-%d").to_string()
        } else if span > 2.0 * 86_400.0 {
            at.format("%m-%d %H:%M").to_string()
        } else {
            at.format("%m-%d %H:%M:%S").to_string()
        }
    }
}

fn points(xs: &[f64], ys: impl Iterator<Item = f64>) -> Vec<(f64, f64)> {
    xs.iter().copied().zip(ys).collect()
}

/// The legend entry of the regression marker.
fn regression_key() -> Key {
    Key {
        label: "regression vs the run before (red dashed)".into(),
        color: RED,
        style: KeyStyle::Dashed(2),
    }
}

/// Builds the frame (x: shifted so the dates line up), mesh with date ticks, and draws the
/// regression markers up to `y_max`.
fn history_frame<'a, 'b>(
    root: &'a crate::charts::Area<'b>,
    history: &ScenarioHistory,
    y_max: f64,
    labels: YLabels,
    y_desc: &str,
) -> Result<Chart<'a, 'b>, String> {
    let xs = xs(history);
    let (x_min, x_max) = x_range(&xs);
    let t0 = history.runs.first().map_or(0, |r| r.started_at.timestamp());
    let mut chart = frame_over(root, x_min..x_max, y_max, labels)?;
    let format = date_tick(t0, x_max);
    chart
        .configure_mesh()
        .label_style(TICK_FONT)
        .x_desc("run start (UTC)")
        .x_labels(6)
        .x_label_formatter(&format)
        .y_label_formatter(&tick)
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(e)?;
    for (x, run) in xs.iter().zip(&history.runs) {
        if run.regressed() {
            chart
                .draw_series(std::iter::once(DashedPathElement::new(
                    vec![(*x, 0.0), (*x, y_max)],
                    6,
                    4,
                    RED.stroke_width(2),
                )))
                .map_err(e)?;
        }
    }
    Ok(chart)
}

/// Lines with a dot at every run (a trend of few runs reads as points, not as a curve).
fn draw_with_dots<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, lines: Vec<Line>) -> Result<(), String> {
    for line in lines {
        let (color, dots) = (line.color, line.points.clone());
        line.draw(chart)?;
        chart
            .draw_series(dots.into_iter().map(|p| Circle::new(p, 3, color.filled())))
            .map_err(e)?;
    }
    Ok(())
}

/// Requests per second of each run.
pub fn rps_trend(history: &ScenarioHistory) -> Result<String, ReportError> {
    let xs = xs(history);
    let lines = vec![Line::solid(
        points(&xs, history.runs.iter().map(|r| r.rps)),
        BLUE,
        "requests/s",
    )];
    let mut all = keys(&lines);
    all.push(regression_key());
    let head = Head::new("Throughput per run (requests/s)", all);
    svg("history rps", HEIGHT, &head, |root| {
        let y_max = max_or(history.runs.iter().map(|r| r.rps), 1.0) * HEADROOM;
        let mut chart = history_frame(root, history, y_max, YLabels::Left, "requests/s")?;
        draw_with_dots(&mut chart, lines)
    })
}

/// p50, p95 and p99 of each run (on the basis each run recorded, as `compare` judges).
pub fn latency_trend(history: &ScenarioHistory) -> Result<String, ReportError> {
    let xs = xs(history);
    let line = |f: fn(&crate::history::HistoryRun) -> f64, color, label: &str| {
        Line::solid(points(&xs, history.runs.iter().map(f)), color, label)
    };
    let lines = vec![
        line(|r| r.p50_ms, GREEN, "p50"),
        line(|r| r.p95_ms, ORANGE, "p95"),
        line(|r| r.p99_ms, RED, "p99"),
    ];
    let mut all = keys(&lines);
    all.push(regression_key());
    let head = Head::new("Response time percentiles per run (ms)", all);
    svg("history latency", HEIGHT, &head, |root| {
        let y_max = max_or(history.runs.iter().map(|r| r.p99_ms), 1.0) * HEADROOM;
        let mut chart = history_frame(root, history, y_max, YLabels::Left, "ms")?;
        draw_with_dots(&mut chart, lines)
    })
}

/// Error rate (left axis, percent) and generator CPU (right axis, percent of one core).
pub fn errors_and_cpu_trend(history: &ScenarioHistory) -> Result<String, ReportError> {
    let xs = xs(history);
    let errors = Line::solid(
        points(&xs, history.runs.iter().map(|r| r.error_rate * 100.0)),
        RED,
        "error rate % (left axis)",
    );
    let cpu = Line::solid(
        points(&xs, history.runs.iter().map(|r| r.cpu_percent)),
        PURPLE,
        "generator CPU % of one core (right axis)",
    );
    let mut all = keys(&[errors.clone(), cpu.clone()]);
    all.push(regression_key());
    let head = Head::new("Error rate and generator CPU per run", all);
    svg("history errors and cpu", HEIGHT, &head, |root| {
        let err_max = max_or(errors.points.iter().map(|p| p.1), 1.0) * HEADROOM;
        let cpu_max = max_or(cpu.points.iter().map(|p| p.1), 1.0) * HEADROOM;
        let (x_min, x_max) = x_range(&xs);
        let mut chart = history_frame(root, history, err_max, YLabels::Both, "error rate %")?
            .set_secondary_coord(x_min..x_max, 0.0..cpu_max);
        secondary_axis(&mut chart, "CPU %")?;
        let (err_dots, cpu_dots) = (errors.points.clone(), cpu.points.clone());
        errors.draw(&mut chart)?;
        chart
            .draw_series(
                err_dots
                    .into_iter()
                    .map(|p| Circle::new(p, 3, RED.filled())),
            )
            .map_err(e)?;
        cpu.draw_secondary(&mut chart)?;
        chart
            .draw_secondary_series(
                cpu_dots
                    .into_iter()
                    .map(|p| Circle::new(p, 3, PURPLE.filled())),
            )
            .map_err(e)?;
        Ok(())
    })
}
