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
pub mod stream;
pub mod tokens;

pub(crate) const WIDTH: u32 = 960;
pub(crate) const HEIGHT: u32 = 300;

pub(crate) const BLUE: RGBColor = RGBColor(31, 119, 180);
pub(crate) const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub(crate) const GREEN: RGBColor = RGBColor(44, 160, 44);
pub(crate) const RED: RGBColor = RGBColor(214, 39, 40);
pub(crate) const GREY: RGBColor = RGBColor(120, 120, 120);
pub(crate) const PURPLE: RGBColor = RGBColor(148, 103, 189);

pub(crate) type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;
pub(crate) type Xy = Cartesian2d<RangedCoordf64, RangedCoordf64>;
pub(crate) type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Xy>;
pub(crate) type DualChart<'a, 'b> = DualCoordChartContext<'a, SVGBackend<'b>, Xy, Xy>;

fn chart_err(chart: &str) -> impl Fn(String) -> ReportError + '_ {
    move |problem| ReportError::Chart {
        chart: chart.to_string(),
        problem,
    }
}

/// Draws a chart on a fresh SVG canvas of `height` plus its head (title and legend rows),
/// and returns the SVG text. `draw` gets the plot's area only: the legend has its own rows
/// above it, so it can never cover data.
pub(crate) fn svg(
    name: &str,
    height: u32,
    head: &Head,
    draw: impl FnOnce(&Area<'_>) -> Result<(), String>,
) -> Result<String, ReportError> {
    let mut out = String::new();
    {
        let total = height + head.height();
        let root = SVGBackend::with_string(&mut out, (WIDTH, total)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| chart_err(name)(e.to_string()))?;
        let (top, body) = root.split_vertically(head.height());
        head.draw(&top).map_err(chart_err(name))?;
        draw(&body).map_err(chart_err(name))?;
        root.present().map_err(|e| chart_err(name)(e.to_string()))?;
    }
    Ok(out)
}

/// How a legend key is drawn: a line sample (solid or dashed) or a filled swatch.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum KeyStyle {
    Solid(u32),
    Dashed(u32),
    Swatch,
}

/// One legend entry.
pub(crate) struct Key {
    pub label: String,
    pub color: RGBColor,
    pub style: KeyStyle,
}

/// A chart's title and legend, drawn in rows above the plot.
pub(crate) struct Head {
    pub title: String,
    pub keys: Vec<Key>,
}

const TITLE_ROW: u32 = 30;
const KEY_ROW: u32 = 22;
const KEY_SAMPLE: i32 = 26;
const KEY_GAP: i32 = 26;
/// Where the legend rows start: in line with the plot's left edge.
const KEY_LEFT: i32 = 70;

impl Head {
    pub fn new(title: impl Into<String>, keys: Vec<Key>) -> Head {
        Head {
            title: title.into(),
            keys,
        }
    }

    /// Each key's text width, estimated from its characters (no font metrics in an SVG).
    fn key_width(key: &Key) -> i32 {
        KEY_SAMPLE + 6 + (key.label.chars().count() as f64 * 7.2) as i32 + KEY_GAP
    }

    /// The keys split into rows that fit the width.
    fn rows(&self) -> Vec<Vec<&Key>> {
        let mut rows: Vec<Vec<&Key>> = Vec::new();
        let mut x = KEY_LEFT;
        for key in &self.keys {
            let w = Self::key_width(key);
            if rows.is_empty() || x + w > WIDTH as i32 - 10 {
                rows.push(Vec::new());
                x = KEY_LEFT;
            }
            rows.last_mut().expect("a row was pushed").push(key);
            x += w;
        }
        rows
    }

    fn height(&self) -> u32 {
        TITLE_ROW + KEY_ROW * self.rows().len() as u32 + 6
    }

    fn draw(&self, area: &Area<'_>) -> Result<(), String> {
        let title = ("sans-serif", 18).into_font();
        area.draw(&Text::new(self.title.clone(), (12, 6), title))
            .map_err(e)?;
        for (r, row) in self.rows().into_iter().enumerate() {
            let y = TITLE_ROW as i32 + KEY_ROW as i32 * r as i32 + 10;
            let mut x = KEY_LEFT;
            for key in row {
                let sample = vec![(x, y), (x + KEY_SAMPLE, y)];
                match key.style {
                    KeyStyle::Solid(w) => {
                        area.draw(&PathElement::new(sample, key.color.stroke_width(w)))
                    }
                    KeyStyle::Dashed(w) => area.draw(&DashedPathElement::new(
                        sample,
                        5,
                        3,
                        key.color.stroke_width(w),
                    )),
                    KeyStyle::Swatch => area.draw(&Rectangle::new(
                        [(x, y - 6), (x + KEY_SAMPLE, y + 6)],
                        key.color.filled(),
                    )),
                }
                .map_err(e)?;
                area.draw(&Text::new(
                    key.label.clone(),
                    (x + KEY_SAMPLE + 6, y - 7),
                    TICK_FONT.into_font(),
                ))
                .map_err(e)?;
                x += Self::key_width(key);
            }
        }
        Ok(())
    }
}

/// Axis tick text: "250" rather than "250.0", "0.25" rather than "0.25000000000000006".
pub(crate) fn tick(v: &f64) -> String {
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Tick-label font: readable when the SVG is scaled to the page width.
pub(crate) const TICK_FONT: (&str, u32) = ("sans-serif", 13);

pub(crate) fn e<E: std::fmt::Debug>(err: E) -> String {
    format!("{err:?}")
}

/// Which y label areas a chart needs.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum YLabels {
    Left,
    /// A secondary axis on the right.
    Both,
    /// Request names on the left.
    Names,
}

/// The chart every figure starts from: margins and label areas, over `0..x_max` ×
/// `0..y_max` (the title is in the [`Head`]).
pub(crate) fn frame<'a, 'b>(
    root: &'a Area<'b>,
    x_max: f64,
    y_max: f64,
    labels: YLabels,
) -> Result<Chart<'a, 'b>, String> {
    frame_over(root, 0.0..x_max, y_max, labels)
}

/// [`frame`] over any x range (the history charts' x starts before their first run).
pub(crate) fn frame_over<'a, 'b>(
    root: &'a Area<'b>,
    x: std::ops::Range<f64>,
    y_max: f64,
    labels: YLabels,
) -> Result<Chart<'a, 'b>, String> {
    ChartBuilder::on(root)
        .margin(10)
        .margin_right(if labels == YLabels::Both { 10 } else { 40 })
        .x_label_area_size(35)
        .y_label_area_size(if labels == YLabels::Names { 230 } else { 60 })
        .right_y_label_area_size(if labels == YLabels::Both { 60 } else { 0 })
        .build_cartesian_2d(x, 0.0..y_max)
        .map_err(e)
}

/// Ticks without needless decimals, axis names, no light grid.
pub(crate) fn standard_mesh(
    chart: &mut Chart<'_, '_>,
    x_desc: &str,
    y_desc: &str,
) -> Result<(), String> {
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
#[derive(Clone)]
pub(crate) struct Line {
    pub(crate) points: Vec<(f64, f64)>,
    pub(crate) color: RGBColor,
    width: u32,
    dashed: bool,
    label: String,
}

impl Line {
    pub fn solid(points: Vec<(f64, f64)>, color: RGBColor, label: impl Into<String>) -> Line {
        Line {
            points,
            color,
            width: 2,
            dashed: false,
            label: label.into(),
        }
    }

    pub fn dashed(points: Vec<(f64, f64)>, color: RGBColor, label: impl Into<String>) -> Line {
        Line {
            dashed: true,
            ..Line::solid(points, color, label)
        }
    }

    /// A thin dashed horizontal line at an SLA `limit` across `0..x_max`.
    pub fn limit(limit: f64, x_max: f64, color: RGBColor, label: String) -> Line {
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

    /// Its legend entry: a short stretch of the same line.
    pub fn key(&self) -> Key {
        Key {
            label: self.label.clone(),
            color: self.color,
            style: if self.dashed {
                KeyStyle::Dashed(self.width)
            } else {
                KeyStyle::Solid(self.width)
            },
        }
    }

    pub fn draw<'a, 'b: 'a>(self, chart: &mut Chart<'a, 'b>) -> Result<(), String> {
        chart
            .draw_series(std::iter::once(self.element()))
            .map_err(e)?;
        Ok(())
    }

    pub(crate) fn draw_secondary<'a, 'b: 'a>(
        self,
        chart: &mut DualChart<'a, 'b>,
    ) -> Result<(), String> {
        chart
            .draw_secondary_series(std::iter::once(self.element()))
            .map_err(e)?;
        Ok(())
    }
}

/// The legend keys of `lines`.
pub(crate) fn keys(lines: &[Line]) -> Vec<Key> {
    lines.iter().map(Line::key).collect()
}

/// Points of `value` per second, x in seconds since the run's first sample.
pub(crate) fn per_second(
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
pub(crate) fn seconds_max(result: &RunResult) -> f64 {
    match (result.series.first(), result.series.last()) {
        (Some(a), Some(b)) => ((b.unix_second - a.unix_second) as f64).max(1.0),
        _ => 1.0,
    }
}

/// Head-room above the highest value, so the top of a line is not on the frame.
pub(crate) const HEADROOM: f64 = 1.08;

pub(crate) fn max_or(values: impl Iterator<Item = f64>, floor: f64) -> f64 {
    values.fold(floor, f64::max)
}

pub fn users_and_rps(result: &RunResult) -> Result<String, ReportError> {
    let x_max = seconds_max(result);
    let rps = Line::solid(
        per_second(result, |_| true, |s| s.requests as f64),
        BLUE,
        "requests/s (left axis)",
    );
    let users = Line::solid(
        per_second(result, |_| true, |s| s.users as f64),
        ORANGE,
        "users (right axis)",
    );
    let head = Head::new(
        "Users and requests per second",
        keys(&[rps.clone(), users.clone()]),
    );
    svg("users and rps", HEIGHT, &head, |root| {
        let rps_max = max_or(rps.points.iter().map(|p| p.1), 1.0) * HEADROOM;
        let users_max = max_or(users.points.iter().map(|p| p.1), 1.0) * HEADROOM;
        let mut chart = frame(root, x_max, rps_max, YLabels::Both)?
            .set_secondary_coord(0.0..x_max, 0.0..users_max);
        standard_mesh(&mut chart, "seconds since start", "requests/s")?;
        secondary_axis(&mut chart, "users")?;
        rps.draw(&mut chart)?;
        users.draw_secondary(&mut chart)
    })
}

pub(crate) fn secondary_axis(chart: &mut DualChart<'_, '_>, y_desc: &str) -> Result<(), String> {
    chart
        .configure_secondary_axes()
        .label_style(TICK_FONT)
        .y_label_formatter(&tick)
        .y_desc(y_desc)
        .draw()
        .map_err(e)
}

/// The limit of an all-requests threshold on `metric`, to draw as a dashed SLA line.
pub(crate) fn sla_limit(result: &RunResult, metric: SlaMetric) -> Option<f64> {
    result
        .thresholds
        .iter()
        .find(|t| t.metric == metric && t.request.is_none())
        .map(|t| t.limit)
}

/// Draws `lines` on a single-axis chart of `x_max` × their highest value.
pub(crate) fn draw_lines(
    root: &Area<'_>,
    lines: Vec<Line>,
    x_max: f64,
    (x_desc, y_desc): (&str, &str),
) -> Result<(), String> {
    let top = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let y_max = max_or(top, 1.0) * HEADROOM;
    let mut chart = frame(root, x_max, y_max, YLabels::Left)?;
    standard_mesh(&mut chart, x_desc, y_desc)?;
    for line in lines {
        line.draw(&mut chart)?;
    }
    Ok(())
}

/// p50/p95/p99 of service time per second and, when recorded, p95/p99 of intended-time
/// latency (dashed), with the p95 SLA line.
pub fn latency_over_time(result: &RunResult) -> Result<String, ReportError> {
    let x_max = seconds_max(result);
    let service = |q: f64| {
        per_second(
            result,
            |s| s.requests > 0,
            move |s| s.latency.value_at_quantile(q),
        )
    };
    // Each second's intended-time view once, read at both quantiles.
    let views: std::collections::BTreeMap<i64, crate::model::LatencyHistogram> = result
        .series
        .iter()
        .filter(|s| !s.intended_samples.is_empty())
        .map(|s| (s.unix_second, s.intended()))
        .collect();
    let intended = |q: f64| {
        per_second(
            result,
            |s| views.contains_key(&s.unix_second),
            |s| views[&s.unix_second].value_at_quantile(q),
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
    if let Some(limit) = sla_limit(result, SlaMetric::P95Ms) {
        lines.push(Line::limit(
            limit,
            x_max,
            GREY,
            format!("SLA p95 < {} ms", tick(&limit)),
        ));
    }
    let head = Head::new("Response time percentiles per second (ms)", keys(&lines));
    svg("latency over time", HEIGHT, &head, |root| {
        draw_lines(root, lines, x_max, ("seconds since start", "ms"))
    })
}

/// Failed requests per second as a share of requests and, when any arrival was dropped,
/// dropped arrivals as a share of offered arrivals (requests + dropped).
pub fn error_rate_over_time(result: &RunResult) -> Result<String, ReportError> {
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
    let mut all_keys = vec![Key {
        label: "% of requests failed".into(),
        color: RED,
        style: KeyStyle::Swatch,
    }];
    all_keys.extend(keys(&lines));
    let head = Head::new(
        "Failed requests and dropped arrivals per second (%)",
        all_keys,
    );
    svg("error rate over time", HEIGHT, &head, |root| {
        let top = rate
            .iter()
            .chain(lines.iter().flat_map(|l| l.points.iter()))
            .map(|p| p.1);
        let y_max = max_or(top, 1.0) * HEADROOM;
        let mut chart = frame(root, x_max, y_max, YLabels::Left)?;
        standard_mesh(&mut chart, "seconds since start", "%")?;
        chart
            .draw_series(
                AreaSeries::new(rate, 0.0, RED.mix(0.25)).border_style(RED.stroke_width(2)),
            )
            .map_err(e)?;
        for line in lines {
            line.draw(&mut chart)?;
        }
        Ok(())
    })
}

/// `h`'s latency at 0 to 4 nines: x = -log10(1 - q), so 90 %, 99 %, 99.9 % are evenly
/// spaced, the way HDR percentile plots are read.
pub(crate) fn spectrum_points(h: &crate::model::LatencyHistogram) -> Vec<(f64, f64)> {
    (0..=400)
        .map(|i| {
            let nines = i as f64 / 100.0; // 0 .. 4 nines
            (nines, h.value_at_quantile(1.0 - 10f64.powf(-nines)))
        })
        .collect()
}

/// Latency against percentile on the "nines" axis of `lines` ([`spectrum_points`]).
pub(crate) fn draw_spectrum(root: &Area<'_>, lines: Vec<Line>) -> Result<(), String> {
    let top = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let y_max = max_or(top, 1.0) * HEADROOM;
    let mut chart = frame(root, 4.0, y_max, YLabels::Left)?;
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
    Ok(())
}

/// Latency by percentile of all requests: service time solid and, when recorded,
/// intended-time latency dashed.
pub fn percentile_spectrum(result: &RunResult) -> Result<String, ReportError> {
    let overall = result.overall();
    let mut lines = vec![Line::solid(
        spectrum_points(&overall.latency),
        BLUE,
        "service time",
    )];
    if !overall.intended_samples.is_empty() {
        lines.push(Line::dashed(
            spectrum_points(&overall.intended()),
            PURPLE,
            "intended-time",
        ));
    }
    let head = Head::new("Latency by percentile, all requests (ms)", keys(&lines));
    svg("percentile spectrum", HEIGHT, &head, |root| {
        draw_spectrum(root, lines)
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
    let height = (50 + rows * 36) as u32;
    let swatch = |label: &str, color| Key {
        label: label.into(),
        color,
        style: KeyStyle::Swatch,
    };
    let head = Head::new(
        "Service time by request (ms)",
        vec![
            swatch("p50", GREEN),
            swatch("p95", ORANGE),
            swatch("p99", RED),
        ],
    );
    svg("per request", height, &head, |root| {
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
        let mut chart = frame(root, x_max, rows as f64, YLabels::Names)?;
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
    offered: &str,
    (x_max, rps_max, p95_max): (f64, f64, f64),
) -> Result<DualChart<'a, 'b>, String> {
    let mut chart =
        frame(root, x_max, rps_max, YLabels::Both)?.set_secondary_coord(0.0..x_max, 0.0..p95_max);
    standard_mesh(&mut chart, offered, "requests/s")?;
    secondary_axis(&mut chart, "p95 ms")?;
    Ok(chart)
}

/// Throughput and p95 against users, one point per stage, with the p95 SLA line; the p95 of
/// intended-time latency dashed when it was recorded.
pub fn capacity_chart(result: &RunResult, cap: &Capacity) -> Result<String, ReportError> {
    let x_max = max_or(cap.rows.iter().map(|r| r.offered()), 1.0) * 1.1;
    let at_load = |value: &dyn Fn(&crate::capacity::CapacityRow) -> Option<f64>| {
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
    let rps = Line::solid(at_load(&|r| Some(r.rps)), BLUE, "requests/s (left axis)");
    let mut latency = vec![Line::solid(
        at_load(&|r| Some(r.p95_ms)),
        ORANGE,
        "p95 ms (right axis)",
    )];
    let intended = at_load(&|r| r.intended_p95_ms);
    if !intended.is_empty() {
        latency.push(Line::dashed(
            intended,
            ORANGE,
            "p95 intended-time ms (right axis)",
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
    let mut all_keys = vec![rps.key()];
    all_keys.extend(keys(&latency));
    let head = Head::new(
        format!("Capacity: throughput and p95 by {offered}"),
        all_keys,
    );
    svg("capacity", HEIGHT, &head, |root| {
        let rps_max = max_or(rps.points.iter().map(|p| p.1), 1.0) * HEADROOM;
        let top = latency.iter().flat_map(|l| l.points.iter().map(|p| p.1));
        let p95_max = max_or(top, 1.0) * HEADROOM;
        let mut chart = by_load_frame(root, offered, (x_max, rps_max, p95_max))?;
        chart
            .draw_series(rps.points.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))
            .map_err(e)?;
        rps.draw(&mut chart)?;
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
