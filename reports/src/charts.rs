//! The report's charts, drawn with plotters into inline SVG strings (no scripts, no fetches).
//!
//! Every chart is built by [`frame`] (caption, margins, label areas) and most share
//! [`standard_mesh`] and [`Line`], so they look alike and a style change is made once.
//! Service time is drawn solid and intended-time latency dashed in the same colour, so the
//! two read as a pair.
use plotters::chart::DualCoordChartContext;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::capacity::Capacity;
use crate::error::ReportError;
use crate::model::{ratio, RunResult};
use crate::sla::SlaMetric;

pub mod search;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 300;

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(120, 120, 120);
const PURPLE: RGBColor = RGBColor(148, 103, 189);

type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;
type Xy = Cartesian2d<RangedCoordf64, RangedCoordf64>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Xy>;
type DualChart<'a, 'b> = DualCoordChartContext<'a, SVGBackend<'b>, Xy, Xy>;

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
    draw: impl FnOnce(&Area<'_>) -> Result<(), String>,
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

/// Which y label areas a chart needs.
#[derive(Clone, Copy, PartialEq)]
enum YLabels {
    Left,
    /// A secondary axis on the right.
    Both,
    /// Request names on the left.
    Names,
}

/// The chart every figure starts from: caption, margins and label areas, over
/// `0..x_max` × `0..y_max`.
fn frame<'a, 'b>(
    root: &'a Area<'b>,
    caption: &str,
    x_max: f64,
    y_max: f64,
    labels: YLabels,
) -> Result<Chart<'a, 'b>, String> {
    ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 18))
        .margin(10)
        .margin_right(if labels == YLabels::Both { 10 } else { 40 })
        .x_label_area_size(35)
        .y_label_area_size(if labels == YLabels::Names { 230 } else { 60 })
        .right_y_label_area_size(if labels == YLabels::Both { 60 } else { 0 })
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(e)
}

/// Ticks without needless decimals, axis names, no light grid.
fn standard_mesh(chart: &mut Chart<'_, '_>, x_desc: &str, y_desc: &str) -> Result<(), String> {
    chart
        .configure_mesh()
        .label_style(TICK_FONT)
        .x_desc(x_desc)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(e)
}

/// One labelled line of a chart: solid, or dashed (intended-time latency, SLA limits).
struct Line {
    points: Vec<(f64, f64)>,
    color: RGBColor,
    width: u32,
    dashed: bool,
    label: String,
}

impl Line {
    fn solid(points: Vec<(f64, f64)>, color: RGBColor, label: impl Into<String>) -> Line {
        Line {
            points,
            color,
            width: 2,
            dashed: false,
            label: label.into(),
        }
    }

    fn dashed(points: Vec<(f64, f64)>, color: RGBColor, label: impl Into<String>) -> Line {
        Line {
            dashed: true,
            ..Line::solid(points, color, label)
        }
    }

    /// A thin dashed horizontal line at an SLA `limit` across `0..x_max`.
    fn limit(limit: f64, x_max: f64, color: RGBColor, label: String) -> Line {
        Line {
            width: 1,
            ..Line::dashed(vec![(0.0, limit), (x_max, limit)], color, label)
        }
    }

    /// The line as one drawable element, dashed or solid.
    fn element<DB: DrawingBackend>(&self) -> DynElement<'static, DB, (f64, f64)> {
        let style = self.color.stroke_width(self.width);
        if self.dashed {
            DashedPathElement::new(self.points.clone(), 6, 4, style).into_dyn()
        } else {
            PathElement::new(self.points.clone(), style).into_dyn()
        }
    }

    /// Its legend sample: a short stretch of the same line.
    fn sample(&self) -> Line {
        Line {
            points: Vec::new(),
            label: String::new(),
            ..*self
        }
    }

    fn legend<DB: DrawingBackend>(
        self,
    ) -> impl Fn((i32, i32)) -> DynElement<'static, DB, (i32, i32)> {
        let style = self.color.stroke_width(self.width);
        move |(x, y)| {
            let points = vec![(x, y), (x + 20, y)];
            if self.dashed {
                DashedPathElement::new(points, 4, 3, style).into_dyn()
            } else {
                PathElement::new(points, style).into_dyn()
            }
        }
    }

    fn draw<'a, 'b: 'a>(self, chart: &mut Chart<'a, 'b>) -> Result<(), String> {
        chart
            .draw_series(std::iter::once(self.element()))
            .map_err(e)?
            .label(&self.label)
            .legend(self.sample().legend());
        Ok(())
    }

    fn draw_secondary<'a, 'b: 'a>(self, chart: &mut DualChart<'a, 'b>) -> Result<(), String> {
        chart
            .draw_secondary_series(std::iter::once(self.element()))
            .map_err(e)?
            .label(&self.label)
            .legend(self.sample().legend());
        Ok(())
    }
}

/// Points of `value` per second, x in seconds since the run's first sample.
fn per_second(
    result: &RunResult,
    keep: impl Fn(&crate::model::SecondSample) -> bool,
    value: impl Fn(&crate::model::SecondSample) -> f64,
) -> Vec<(f64, f64)> {
    let t0 = result.series.first().map_or(0, |s| s.unix_second);
    result
        .series
        .iter()
        .filter(|s| keep(s))
        .map(|s| ((s.unix_second - t0) as f64, value(s)))
        .collect()
}

/// The x range of the over-time charts: the run's seconds, at least one.
fn seconds_max(result: &RunResult) -> f64 {
    match (result.series.first(), result.series.last()) {
        (Some(a), Some(b)) => ((b.unix_second - a.unix_second) as f64).max(1.0),
        _ => 1.0,
    }
}

/// Head-room above the highest value for a legend of `entries` lines in the upper left, so
/// the legend sits over empty space rather than over the data.
fn headroom(entries: usize) -> f64 {
    1.1 + 0.09 * entries as f64
}

fn max_or(values: impl Iterator<Item = f64>, floor: f64) -> f64 {
    values.fold(floor, f64::max)
}

pub fn users_and_rps(result: &RunResult) -> Result<String, ReportError> {
    svg("users and rps", HEIGHT, |root| {
        let x_max = seconds_max(result);
        let rps = per_second(result, |_| true, |s| s.requests as f64);
        let users = per_second(result, |_| true, |s| s.users as f64);
        let rps_max = max_or(rps.iter().map(|p| p.1), 1.0) * headroom(2);
        let users_max = max_or(users.iter().map(|p| p.1), 1.0) * headroom(2);
        let mut chart = frame(
            root,
            "Users and requests per second",
            x_max,
            rps_max,
            YLabels::Both,
        )?
        .set_secondary_coord(0.0..x_max, 0.0..users_max);
        standard_mesh(&mut chart, "seconds since start", "requests/s")?;
        secondary_axis(&mut chart, "users")?;
        Line::solid(rps, BLUE, "requests/s").draw(&mut chart)?;
        Line::solid(users, ORANGE, "users").draw_secondary(&mut chart)?;
        draw_legend(&mut chart)
    })
}

fn secondary_axis(chart: &mut DualChart<'_, '_>, y_desc: &str) -> Result<(), String> {
    chart
        .configure_secondary_axes()
        .label_style(TICK_FONT)
        .y_label_formatter(&tick)
        .y_desc(y_desc)
        .draw()
        .map_err(e)
}

/// The limit of an all-requests threshold on `metric`, to draw as a dashed SLA line.
fn sla_limit(result: &RunResult, metric: SlaMetric) -> Option<f64> {
    result
        .thresholds
        .iter()
        .find(|t| t.metric == metric && t.request.is_none())
        .map(|t| t.limit)
}

/// p50/p95/p99 of service time per second and, when recorded, p95/p99 of intended-time
/// latency (dashed), with the p95 SLA line.
pub fn latency_over_time(result: &RunResult) -> Result<String, ReportError> {
    svg("latency over time", HEIGHT, |root| {
        let x_max = seconds_max(result);
        let service = |q: f64| {
            per_second(
                result,
                |s| s.requests > 0,
                move |s| s.latency.value_at_quantile(q),
            )
        };
        let intended = |q: f64| {
            per_second(
                result,
                |s| !s.intended.is_empty(),
                move |s| s.intended.value_at_quantile(q),
            )
        };
        let mut lines = vec![
            Line::solid(service(0.5), GREEN, "p50 service"),
            Line::solid(service(0.95), ORANGE, "p95 service"),
            Line::solid(service(0.99), RED, "p99 service"),
        ];
        if result.has_intended() {
            lines.push(Line::dashed(intended(0.95), ORANGE, "p95 intended-time"));
            lines.push(Line::dashed(intended(0.99), RED, "p99 intended-time"));
        }
        let sla = sla_limit(result, SlaMetric::P95Ms);
        if let Some(limit) = sla {
            lines.push(Line::limit(
                limit,
                x_max,
                GREY,
                format!("SLA p95 < {} ms", tick(&limit)),
            ));
        }
        let top = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
        let y_max = max_or(top, 1.0) * headroom(lines.len());
        let mut chart = frame(
            root,
            "Response time percentiles per second (ms)",
            x_max,
            y_max,
            YLabels::Left,
        )?;
        standard_mesh(&mut chart, "seconds since start", "ms")?;
        for line in lines {
            line.draw(&mut chart)?;
        }
        draw_legend(&mut chart)
    })
}

/// Failed requests per second as a share of requests and, when any arrival was dropped,
/// dropped arrivals as a share of offered arrivals (requests + dropped).
pub fn error_rate_over_time(result: &RunResult) -> Result<String, ReportError> {
    svg("error rate over time", HEIGHT, |root| {
        let x_max = seconds_max(result);
        let rate = per_second(result, |_| true, |s| s.error_rate() * 100.0);
        let mut lines = Vec::new();
        if result.dropped_arrivals > 0 || result.series.iter().any(|s| s.dropped > 0) {
            let dropped = per_second(
                result,
                |_| true,
                |s| ratio(s.dropped, s.requests + s.dropped) * 100.0,
            );
            lines.push(Line::solid(dropped, PURPLE, "% of arrivals dropped"));
        }
        if let Some(limit) = sla_limit(result, SlaMetric::ErrorRate) {
            let limit = limit * 100.0;
            lines.push(Line::limit(
                limit,
                x_max,
                GREY,
                format!("SLA error rate < {} %", tick(&limit)),
            ));
        }
        let top = rate
            .iter()
            .chain(lines.iter().flat_map(|l| l.points.iter()))
            .map(|p| p.1);
        let y_max = max_or(top, 1.0) * headroom(lines.len() + 1);
        let mut chart = frame(
            root,
            "Failed requests and dropped arrivals per second (%)",
            x_max,
            y_max,
            YLabels::Left,
        )?;
        standard_mesh(&mut chart, "seconds since start", "%")?;
        chart
            .draw_series(
                AreaSeries::new(rate, 0.0, RED.mix(0.25)).border_style(RED.stroke_width(2)),
            )
            .map_err(e)?
            .label("% of requests failed")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        for line in lines {
            line.draw(&mut chart)?;
        }
        draw_legend(&mut chart)
    })
}

/// Latency against percentile on a "nines" axis: x = -log10(1 - q), so 90 %, 99 %, 99.9 %
/// are evenly spaced, the way HDR percentile plots are read. Service time solid and, when
/// recorded, intended-time latency dashed.
pub fn percentile_spectrum(result: &RunResult) -> Result<String, ReportError> {
    svg("percentile spectrum", HEIGHT, |root| {
        let overall = result.overall();
        let curve = |h: &crate::model::LatencyHistogram| -> Vec<(f64, f64)> {
            (0..=400)
                .map(|i| {
                    let nines = i as f64 / 100.0; // 0 .. 4 nines
                    (nines, h.value_at_quantile(1.0 - 10f64.powf(-nines)))
                })
                .collect()
        };
        let mut lines = vec![Line::solid(curve(&overall.latency), BLUE, "service time")];
        if !overall.intended.is_empty() {
            lines.push(Line::dashed(
                curve(&overall.intended),
                PURPLE,
                "intended-time",
            ));
        }
        let top = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
        let y_max = max_or(top, 1.0) * 1.1;
        let mut chart = frame(
            root,
            "Latency by percentile, all requests (ms)",
            4.0,
            y_max,
            YLabels::Left,
        )?;
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
        for line in lines {
            line.draw(&mut chart)?;
        }
        // The curves rise to the right: the upper left is empty.
        draw_legend(&mut chart)
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
        let mut chart = frame(
            root,
            "Service time p50 (green), p95 (orange), p99 (red) by request (ms)",
            x_max,
            rows as f64,
            YLabels::Names,
        )?;
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

/// The frame of the charts against offered load (stages, search steps): requests/s on the
/// left axis and p95 ms on the right, over `0..x_max`, `0..rps_max` and `0..p95_max`.
fn by_load_frame<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    offered: &str,
    (x_max, rps_max, p95_max): (f64, f64, f64),
) -> Result<DualChart<'a, 'b>, String> {
    let mut chart = frame(root, title, x_max, rps_max, YLabels::Both)?
        .set_secondary_coord(0.0..x_max, 0.0..p95_max);
    standard_mesh(&mut chart, offered, "requests/s")?;
    secondary_axis(&mut chart, "p95 ms")?;
    Ok(chart)
}

/// Throughput and p95 against users, one point per stage, with the p95 SLA line; the p95 of
/// intended-time latency dashed when it was recorded.
pub fn capacity_chart(result: &RunResult, cap: &Capacity) -> Result<String, ReportError> {
    svg("capacity", HEIGHT, |root| {
        let x_max = max_or(cap.rows.iter().map(|r| r.offered()), 1.0) * 1.1;
        let at_users = |value: &dyn Fn(&crate::capacity::CapacityRow) -> Option<f64>| {
            cap.rows
                .iter()
                .filter_map(|r| Some((r.offered(), value(r)?)))
                .collect::<Vec<_>>()
        };
        let offered = if cap.is_open() {
            "offered arrivals/s"
        } else {
            "concurrent users"
        };
        let rps = at_users(&|r| Some(r.rps));
        let mut latency = vec![Line::solid(
            at_users(&|r| Some(r.p95_ms)),
            ORANGE,
            "p95 ms (right)",
        )];
        let intended = at_users(&|r| r.intended_p95_ms);
        if !intended.is_empty() {
            latency.push(Line::dashed(
                intended,
                ORANGE,
                "p95 intended-time ms (right)",
            ));
        }
        // Stages are marked with points; the SLA limit pushed next is a plain line.
        let marked = latency.len();
        if let Some(limit) = sla_limit(result, SlaMetric::P95Ms) {
            latency.push(Line::limit(
                limit,
                x_max,
                RED,
                format!("SLA p95 < {} ms", tick(&limit)),
            ));
        }
        let entries = latency.len() + 1;
        let rps_max = max_or(rps.iter().map(|p| p.1), 1.0) * headroom(entries);
        let top = latency.iter().flat_map(|l| l.points.iter().map(|p| p.1));
        let p95_max = max_or(top, 1.0) * headroom(entries);
        let title = format!("Capacity: throughput and p95 by {offered}");
        let mut chart = by_load_frame(root, &title, offered, (x_max, rps_max, p95_max))?;
        chart
            .draw_series(rps.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))
            .map_err(e)?;
        Line::solid(rps, BLUE, "requests/s (left)").draw(&mut chart)?;
        for (i, line) in latency.into_iter().enumerate() {
            if i < marked {
                chart
                    .draw_secondary_series(
                        line.points
                            .iter()
                            .map(|p| Circle::new(*p, 4, line.color.filled())),
                    )
                    .map_err(e)?;
            }
            line.draw_secondary(&mut chart)?;
        }
        draw_legend(&mut chart)
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
