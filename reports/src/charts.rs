//! The report's charts, drawn with plotters into inline SVG strings (no scripts, no fetches).
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::capacity::Capacity;
use crate::error::ReportError;
use crate::model::RunResult;
use crate::sla::SlaMetric;

pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 300;

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(120, 120, 120);

fn chart_err(chart: &str) -> impl Fn(String) -> ReportError + '_ {
    move |problem| ReportError::Chart {
        chart: chart.to_string(),
        problem,
    }
}

/// Draws with `draw` on a fresh SVG canvas and returns the SVG text.
fn svg(
    name: &str,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<String, ReportError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| chart_err(name)(e.to_string()))?;
        draw(&root).map_err(chart_err(name))?;
        root.present().map_err(|e| chart_err(name)(e.to_string()))?;
    }
    Ok(out)
}

/// Axis tick text: "250" rather than "250.0", "0.25" rather than "0.25000000000000006".
fn tick(v: &f64) -> String {
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Tick-label font: readable when the SVG is scaled to the page width.
const TICK_FONT: (&str, u32) = ("sans-serif", 13);

/// The legend box every chart uses: upper left, translucent, grey border.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(GREY)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(e)
}

fn e<E: std::fmt::Debug>(err: E) -> String {
    format!("{err:?}")
}

/// Seconds since the run's first sample.
fn elapsed(result: &RunResult) -> Vec<f64> {
    let t0 = result.series.first().map_or(0, |s| s.unix_second);
    result
        .series
        .iter()
        .map(|s| (s.unix_second - t0) as f64)
        .collect()
}

fn max_or(values: impl Iterator<Item = f64>, floor: f64) -> f64 {
    values.fold(floor, f64::max)
}

pub fn users_and_rps(result: &RunResult) -> Result<String, ReportError> {
    svg("users and rps", HEIGHT, |root| {
        let t = elapsed(result);
        let x_max = t.last().copied().unwrap_or(1.0).max(1.0);
        let rps_max = max_or(result.series.iter().map(|s| s.requests as f64), 1.0) * 1.1;
        let users_max = max_or(result.series.iter().map(|s| s.users as f64), 1.0) * 1.1;
        let mut chart = ChartBuilder::on(root)
            .caption("Users and requests per second", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..rps_max)
            .map_err(e)?
            .set_secondary_coord(0.0..x_max, 0.0..users_max);
        chart
            .configure_mesh()
            .label_style(TICK_FONT)
            .x_desc("seconds since start")
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .y_desc("requests/s")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e)?;
        chart
            .configure_secondary_axes()
            .label_style(TICK_FONT)
            .y_label_formatter(&tick)
            .y_desc("users")
            .draw()
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                t.iter()
                    .zip(&result.series)
                    .map(|(x, s)| (*x, s.requests as f64)),
                BLUE.stroke_width(2),
            ))
            .map_err(e)?
            .label("requests/s")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        chart
            .draw_secondary_series(LineSeries::new(
                t.iter()
                    .zip(&result.series)
                    .map(|(x, s)| (*x, s.users as f64)),
                ORANGE.stroke_width(2),
            ))
            .map_err(e)?
            .label("users")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ORANGE.stroke_width(2)));
        draw_legend(&mut chart)?;
        Ok(())
    })
}

/// The limit of an all-requests threshold on `metric`, to draw as a dashed SLA line.
fn sla_limit(result: &RunResult, metric: SlaMetric) -> Option<f64> {
    result
        .thresholds
        .iter()
        .find(|t| t.metric == metric && t.request.is_none())
        .map(|t| t.limit)
}

pub fn latency_over_time(result: &RunResult) -> Result<String, ReportError> {
    svg("latency over time", HEIGHT, |root| {
        let t = elapsed(result);
        let x_max = t.last().copied().unwrap_or(1.0).max(1.0);
        let p = |q: f64| -> Vec<(f64, f64)> {
            t.iter()
                .zip(&result.series)
                .filter(|(_, s)| s.requests > 0)
                .map(|(x, s)| (*x, s.latency.value_at_quantile(q)))
                .collect()
        };
        let (p50, p95, p99) = (p(0.5), p(0.95), p(0.99));
        let sla = sla_limit(result, SlaMetric::P95Ms);
        let y_max = max_or(p99.iter().map(|v| v.1).chain(sla), 1.0) * 1.1;
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Response time percentiles per second (ms)",
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(e)?;
        chart
            .configure_mesh()
            .label_style(TICK_FONT)
            .x_desc("seconds since start")
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .y_desc("ms")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e)?;
        for (data, color, label) in [(p50, GREEN, "p50"), (p95, ORANGE, "p95"), (p99, RED, "p99")] {
            chart
                .draw_series(LineSeries::new(data, color.stroke_width(2)))
                .map_err(e)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        if let Some(limit) = sla {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, limit), (x_max, limit)],
                    6,
                    4,
                    GREY.stroke_width(1),
                ))
                .map_err(e)?
                .label(format!("SLA p95 < {} ms", tick(&limit)))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREY));
        }
        draw_legend(&mut chart)?;
        Ok(())
    })
}

pub fn error_rate_over_time(result: &RunResult) -> Result<String, ReportError> {
    svg("error rate over time", HEIGHT, |root| {
        let t = elapsed(result);
        let x_max = t.last().copied().unwrap_or(1.0).max(1.0);
        let rate: Vec<(f64, f64)> = t
            .iter()
            .zip(&result.series)
            .map(|(x, s)| {
                let r = if s.requests == 0 {
                    0.0
                } else {
                    s.failures as f64 / s.requests as f64
                };
                (*x, r * 100.0)
            })
            .collect();
        let sla = sla_limit(result, SlaMetric::ErrorRate).map(|l| l * 100.0);
        let y_max = max_or(rate.iter().map(|v| v.1).chain(sla), 1.0) * 1.1;
        let mut chart = ChartBuilder::on(root)
            .caption("Error rate per second (%)", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(e)?;
        chart
            .configure_mesh()
            .label_style(TICK_FONT)
            .x_desc("seconds since start")
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .y_desc("% failed")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(
                AreaSeries::new(rate, 0.0, RED.mix(0.25)).border_style(RED.stroke_width(2)),
            )
            .map_err(e)?
            .label("% of requests failed")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        if let Some(limit) = sla {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, limit), (x_max, limit)],
                    6,
                    4,
                    GREY.stroke_width(1),
                ))
                .map_err(e)?
                .label(format!("SLA error rate < {} %", tick(&limit)))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREY));
        }
        draw_legend(&mut chart)?;
        Ok(())
    })
}

/// Latency against percentile on a "nines" axis: x = -log10(1 - q), so 90 %, 99 %, 99.9 %
/// are evenly spaced, the way HDR percentile plots are read.
pub fn percentile_spectrum(result: &RunResult) -> Result<String, ReportError> {
    svg("percentile spectrum", HEIGHT, |root| {
        let overall = result.overall();
        let points: Vec<(f64, f64)> = (0..=400)
            .map(|i| {
                let nines = i as f64 / 100.0; // 0 .. 4 nines
                let q = 1.0 - 10f64.powf(-nines);
                (nines, overall.latency.value_at_quantile(q))
            })
            .collect();
        let y_max = max_or(points.iter().map(|p| p.1), 1.0) * 1.1;
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Latency by percentile, all requests (ms)",
                ("sans-serif", 18),
            )
            .margin(10)
            .margin_right(40)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..4.0, 0.0..y_max)
            .map_err(e)?;
        chart
            .configure_mesh()
            .label_style(TICK_FONT)
            .x_desc("percentile")
            .y_label_formatter(&tick)
            .y_desc("ms")
            .x_labels(5)
            .x_label_formatter(&|n: &f64| match n.round() as i64 {
                0 => "0%".into(),
                1 => "90%".into(),
                2 => "99%".into(),
                3 => "99.9%".into(),
                _ => "99.99%".into(),
            })
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
            .map_err(e)?;
        Ok(())
    })
}

/// Longest request name that fits the label area of the per-request chart.
const MAX_LABEL_CHARS: usize = 34;

/// `name`, cut to fit the label area with an ellipsis (the tables keep the full name).
fn short_label(name: &str) -> String {
    if name.chars().count() <= MAX_LABEL_CHARS {
        name.to_string()
    } else {
        let head: String = name.chars().take(MAX_LABEL_CHARS - 1).collect();
        format!("{head}…")
    }
}

/// p50, p95, p99 of every request name as grouped horizontal bars.
pub fn per_request(result: &RunResult) -> Result<String, ReportError> {
    let rows = result.requests.len().max(1);
    let height = (80 + rows * 36) as u32;
    svg("per request", height, |root| {
        let x_max = max_or(
            result
                .requests
                .iter()
                .map(|r| r.latency.value_at_quantile(0.99)),
            1.0,
        ) * 1.15;
        let names: Vec<String> = result
            .requests
            .iter()
            .map(|r| short_label(&r.name))
            .collect();
        let mut chart = ChartBuilder::on(root)
            .caption(
                "p50 (green), p95 (orange), p99 (red) by request (ms)",
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(230)
            .build_cartesian_2d(0.0..x_max, 0.0..rows as f64)
            .map_err(e)?;
        chart
            .configure_mesh()
            .label_style(TICK_FONT)
            .disable_y_mesh()
            .y_labels(rows * 2 + 1)
            .y_label_formatter(&|y: &f64| {
                let i = y.floor() as usize;
                if (y - i as f64 - 0.5).abs() < 0.01 {
                    names.get(rows - 1 - i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("ms")
            .x_label_formatter(&tick)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e)?;
        for (i, r) in result.requests.iter().enumerate() {
            let row = (rows - 1 - i) as f64;
            for (k, (q, color)) in [(0.5, GREEN), (0.95, ORANGE), (0.99, RED)]
                .into_iter()
                .enumerate()
            {
                let top = row + 0.8 - k as f64 * 0.25;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(0.0, top - 0.22), (r.latency.value_at_quantile(q), top)],
                        color.filled(),
                    )))
                    .map_err(e)?;
            }
        }
        Ok(())
    })
}

/// Throughput and p95 against users, one point per stage, with the p95 SLA line.
pub fn capacity_chart(result: &RunResult, cap: &Capacity) -> Result<String, ReportError> {
    svg("capacity", HEIGHT, |root| {
        let x_max = max_or(cap.rows.iter().map(|r| r.users as f64), 1.0) * 1.1;
        let rps_max = max_or(cap.rows.iter().map(|r| r.rps), 1.0) * 1.15;
        let sla = sla_limit(result, SlaMetric::P95Ms);
        let p95_max = max_or(cap.rows.iter().map(|r| r.p95_ms).chain(sla), 1.0) * 1.15;
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Capacity: throughput and p95 by concurrent users",
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..rps_max)
            .map_err(e)?
            .set_secondary_coord(0.0..x_max, 0.0..p95_max);
        chart
            .configure_mesh()
            .label_style(TICK_FONT)
            .x_desc("concurrent users")
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .y_desc("requests/s")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e)?;
        chart
            .configure_secondary_axes()
            .label_style(TICK_FONT)
            .y_label_formatter(&tick)
            .y_desc("p95 ms")
            .draw()
            .map_err(e)?;
        let rps: Vec<(f64, f64)> = cap.rows.iter().map(|r| (r.users as f64, r.rps)).collect();
        let p95: Vec<(f64, f64)> = cap
            .rows
            .iter()
            .map(|r| (r.users as f64, r.p95_ms))
            .collect();
        chart
            .draw_series(LineSeries::new(rps.clone(), BLUE.stroke_width(2)))
            .map_err(e)?
            .label("requests/s (left)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        chart
            .draw_series(rps.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))
            .map_err(e)?;
        chart
            .draw_secondary_series(LineSeries::new(p95.clone(), ORANGE.stroke_width(2)))
            .map_err(e)?
            .label("p95 ms (right)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ORANGE.stroke_width(2)));
        chart
            .draw_secondary_series(p95.iter().map(|p| Circle::new(*p, 4, ORANGE.filled())))
            .map_err(e)?;
        if let Some(limit) = sla {
            chart
                .draw_secondary_series(DashedLineSeries::new(
                    vec![(0.0, limit), (x_max, limit)],
                    6,
                    4,
                    RED.stroke_width(1),
                ))
                .map_err(e)?
                .label(format!("SLA p95 < {} ms", tick(&limit)))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        }
        draw_legend(&mut chart)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_request_names_are_cut_to_fit_the_label_area() {
        assert_eq!(short_label("training.get_status"), "training.get_status");
        let long = "orchestration.workflows.steps.retry_with_backoff";
        let cut = short_label(long);
        assert_eq!(cut.chars().count(), MAX_LABEL_CHARS);
        assert!(cut.ends_with('…') && long.starts_with(cut.trim_end_matches('…')));
    }

    #[test]
    fn ticks_drop_needless_decimals() {
        assert_eq!(tick(&250.0), "250");
        assert_eq!(tick(&0.25), "0.25");
        assert_eq!(tick(&(0.1 + 0.2)), "0.3");
    }
}
