//! The capacity search's chart: throughput and p95 against offered load, one point per load
//! searched, with the p95 SLA line and the knee and the maximum sustainable load marked.
//!
//! A child of [`charts`](super) so it draws with the same frame, lines and legend as every
//! other chart of the report.
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    by_load_frame, e, keys, max_or, sla_limit, svg, tick, Head, Key, KeyStyle, Line, BLUE, GREEN,
    GREY, HEADROOM, HEIGHT, ORANGE, PURPLE, RED,
};
use crate::error::ReportError;
use crate::model::{LoadModel, RunResult};
use crate::search::CapacitySearch;
use crate::sla::SlaMetric;

/// A vertical dashed marker at an offered load, labelled at the top of the plot.
struct Marker {
    x: f64,
    color: RGBColor,
    label: String,
    /// The label sits left of the line: the lower of two close markers, or a marker near
    /// the right edge, so labels never cross the other line or leave the plot.
    label_left: bool,
}

/// The knee and the maximum sustainable load as markers; one marker when they are the same
/// step, so two labels never sit on top of each other.
fn markers(search: &CapacitySearch, x_max: f64) -> Vec<Marker> {
    let at = |i: usize| search.steps[i].offered;
    let text = |i: usize| tick(&at(i));
    let mut marks: Vec<Marker> = match (search.knee, search.max_sustainable) {
        (Some(k), Some(m)) if at(k) == at(m) => vec![(m, GREEN, "knee = max sustainable")],
        (knee, max) => knee
            .map(|k| (k, PURPLE, "knee"))
            .into_iter()
            .chain(max.map(|m| (m, GREEN, "max sustainable")))
            .collect(),
    }
    .into_iter()
    .map(|(i, color, what)| Marker {
        x: at(i),
        color,
        label: format!("{what} ({})", text(i)),
        label_left: at(i) > 0.75 * x_max,
    })
    .collect();
    if let [a, b] = &mut marks[..] {
        a.label_left = a.x < b.x;
        b.label_left = b.x < a.x;
    }
    marks
}

/// Throughput (left axis) and p95 (right axis) against offered load, from
/// [`CapacitySearch::by_load`] (a load searched twice shows its last measurement). Held
/// steps are dots, broken ones crosses; in the open model a dashed grey line shows the
/// throughput that would keep up with the offered rate.
pub fn search_chart(result: &RunResult, search: &CapacitySearch) -> Result<String, ReportError> {
    let steps = search.by_load();
    let x_max = max_or(steps.iter().map(|(_, s)| s.offered), 1.0) * 1.1;
    let offered = match search.model {
        LoadModel::Open => "offered arrivals/s",
        LoadModel::Closed => "concurrent users",
    };
    let rps: Vec<(f64, f64)> = steps.iter().map(|(_, s)| (s.offered, s.rps)).collect();
    let p95: Vec<(f64, f64)> = steps.iter().map(|(_, s)| (s.offered, s.p95_ms)).collect();
    let rps_max = max_or(rps.iter().map(|p| p.1), 1.0) * HEADROOM;
    let mut left = vec![Line::solid(rps.clone(), BLUE, "requests/s (left axis)")];
    if search.model == LoadModel::Open {
        // Ends inside the plot: plotters clamps a point past the axis instead of clipping
        // the segment, which would bend the line.
        let end = x_max.min(rps_max);
        let ideal = vec![(0.0, 0.0), (end, end)];
        left.push(Line {
            width: 1,
            ..Line::dashed(ideal, GREY, "requests/s = offered (left axis)")
        });
    }
    let mut right = vec![Line::solid(p95.clone(), ORANGE, "p95 ms (right axis)")];
    if let Some(limit) = sla_limit(result, SlaMetric::P95Ms) {
        right.push(Line::limit(
            limit,
            x_max,
            RED,
            format!("SLA p95 < {} ms (right axis)", tick(&limit)),
        ));
    }
    let mut all_keys = keys(&left);
    all_keys.extend(keys(&right));
    all_keys.push(Key {
        label: "step broke an SLA (red cross)".into(),
        color: RED,
        style: KeyStyle::Swatch,
    });
    let head = Head::new(
        format!("Capacity search: throughput and p95 by {offered}"),
        all_keys,
    );
    svg("capacity search", HEIGHT + 60, &head, |root| {
        let top = right.iter().flat_map(|l| l.points.iter().map(|p| p.1));
        let p95_max = max_or(top, 1.0) * HEADROOM;
        let mut chart = by_load_frame(root, offered, (x_max, rps_max, p95_max))?;

        for marker in markers(search, x_max) {
            chart
                .draw_series(std::iter::once(DashedPathElement::new(
                    vec![(marker.x, 0.0), (marker.x, rps_max)],
                    6,
                    4,
                    marker.color.stroke_width(2),
                )))
                .map_err(e)?;
            let (side, text) = if marker.label_left {
                (HPos::Right, format!("{} ", marker.label))
            } else {
                (HPos::Left, format!(" {}", marker.label))
            };
            let style = ("sans-serif", 14)
                .into_font()
                .color(&marker.color)
                .pos(Pos::new(side, VPos::Top));
            chart
                .draw_series(std::iter::once(Text::new(
                    text,
                    (marker.x, rps_max * 0.99),
                    style,
                )))
                .map_err(e)?;
        }
        chart
            .draw_series(rps.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))
            .map_err(e)?;
        for line in left {
            line.draw(&mut chart)?;
        }
        for ((_, step), point) in steps.iter().zip(&p95) {
            let mark = if step.held {
                Circle::new(*point, 4, ORANGE.filled()).into_dyn()
            } else {
                Cross::new(*point, 5, RED.stroke_width(2)).into_dyn()
            };
            chart
                .draw_secondary_series(std::iter::once(mark))
                .map_err(e)?;
        }
        for line in right {
            line.draw_secondary(&mut chart)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::synthetic_capacity_search;

    #[test]
    fn the_knee_and_the_maximum_are_marked_once_each() {
        let mut search = synthetic_capacity_search();
        let labels = |s: &CapacitySearch| -> Vec<(String, bool)> {
            markers(s, 880.0)
                .into_iter()
                .map(|m| (m.label, m.label_left))
                .collect()
        };
        // The lower marker's label goes left of its line, the higher one's right.
        assert_eq!(
            labels(&search),
            [
                ("knee (600)".to_string(), true),
                ("max sustainable (650)".to_string(), false)
            ]
        );
        search.knee = search.max_sustainable;
        assert_eq!(
            labels(&search),
            [("knee = max sustainable (650)".to_string(), false)]
        );
        search.max_sustainable = Some(3);
        search.knee = None;
        assert_eq!(
            labels(&search),
            [("max sustainable (800)".to_string(), true)],
            "near the right edge the label turns left"
        );
        search.knee = None;
        search.max_sustainable = None;
        assert!(labels(&search).is_empty());
    }
}
