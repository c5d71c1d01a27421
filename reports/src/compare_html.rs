//! The comparison page (`skein compare --html OUT`): baseline and current side by side on
//! one self-contained page like `report.html` — inline CSS and SVG, no scripts, no network.
//!
//! Top to bottom: the verdict; both runs' key figures side by side; every per-request delta
//! with its threshold, its noise and its verdict; the overlaid charts, each with what to read
//! from it; the settings that differ between the runs (a changed setting explains a change
//! in figures before any code does); and how noise was judged.
use std::fmt::Write;

use crate::compare::{Comparison, MetricDelta, Tolerances};
use crate::compare_charts;
use crate::error::ReportError;
use crate::html::{chart_block, kpi, thousands, STYLE};
use crate::junit::xml_escape as esc;
use crate::model::RunResult;
use crate::settings::differences;

const EXTRA_STYLE: &str = "
.sides{display:flex;gap:16px}.side{flex:1}.side h3{margin:6px 0;font-size:15px}
.side.base h3{color:#1f77b4}.side.cur h3{color:#d66a00}
td.within{color:#8d6e00;font-weight:bold}
";

/// The threshold of a delta's metric, as the gate applies it.
fn threshold(metric: &str, t: &Tolerances) -> String {
    let pct = |v: f64| format!("{:.0} %", v * 100.0);
    match metric {
        "p50" => format!("+{}", pct(t.p50)),
        "p95" => format!("+{}", pct(t.p95)),
        "p99" => format!("+{}", pct(t.p99)),
        "rps" => format!("−{}", pct(t.rps)),
        _ => format!("+{} and +0.1 pt", pct(t.error_rate)),
    }
}

fn verdict_cell(verdict: &str) -> String {
    let class = match verdict {
        "REGRESSION" => "bad",
        "within noise" => "within",
        "ok" => "ok",
        _ => "note",
    };
    format!("<td class=\"{class} l\">{verdict}</td>")
}

fn z_text(d: &MetricDelta) -> String {
    match d.z {
        Some(z) if z.is_finite() => format!("{z:+.1}"),
        Some(_) => "∞".into(),
        None => "–".into(),
    }
}

/// The key figures of one run, for its side of the page.
fn side(result: &RunResult, class: &str, label: &str) -> String {
    let all = result.overall();
    let ms = |q: f64| format!("{:.1} ms", all.latency.value_at_quantile(q));
    let mut k = vec![
        kpi(&thousands(all.requests), "requests"),
        kpi(&format!("{:.1}", result.rps()), "requests/s"),
        kpi(&format!("{:.2} %", all.error_rate() * 100.0), "failed"),
        kpi(&ms(0.95), "p95 service"),
        kpi(&ms(0.99), "p99 service"),
    ];
    if result.has_intended() {
        k.push(kpi(
            &format!("{:.1} ms", all.intended().value_at_quantile(0.95)),
            "p95 intended-time",
        ));
    }
    if result.dropped_arrivals > 0 {
        k.push(kpi(&thousands(result.dropped_arrivals), "arrivals dropped"));
    }
    let m = &result.metadata;
    format!(
        "<div class=\"side {class}\"><h3>{label}: {} UTC, {:.0} s</h3><div class=\"kpis\">{}</div></div>",
        m.started_at.format("%Y-%m-%d %H:%M:%S"),
        result.duration_secs(),
        k.concat()
    )
}

/// The whole page.
pub fn render(
    comparison: &Comparison,
    baseline: &RunResult,
    current: &RunResult,
    t: &Tolerances,
) -> Result<String, ReportError> {
    let mut h = String::with_capacity(128 * 1024);
    let name = &current.metadata.scenario_name;
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Skein comparison: {}</title><style>{STYLE}{EXTRA_STYLE}</style></head><body><main>",
        esc(name)
    );
    let _ = write!(
        h,
        "<h1>Comparison: {}</h1><div class=\"sub\">baseline {} → current {}, against <code>{}</code></div>",
        esc(name),
        baseline.metadata.started_at.format("%Y-%m-%d %H:%M"),
        current.metadata.started_at.format("%Y-%m-%d %H:%M"),
        esc(&current.metadata.host)
    );
    let regressions = comparison.regressions().len();
    let within: usize = comparison
        .rows
        .iter()
        .flat_map(|r| &r.deltas)
        .filter(|d| d.within_noise())
        .count();
    let (class, verdict) = if regressions > 0 {
        (
            "fail",
            format!("{regressions} regression(s) over the thresholds and beyond the runs' noise"),
        )
    } else if within > 0 {
        (
            "pass",
            format!(
                "No regression: {within} change(s) over a threshold stayed within the runs' noise"
            ),
        )
    } else {
        ("pass", "No regression over the thresholds".to_string())
    };
    let _ = write!(h, "<div class=\"verdict {class}\">{}</div>", esc(&verdict));
    let _ = write!(
        h,
        "<div class=\"sides\">{}{}</div>",
        side(baseline, "base", "Baseline"),
        side(current, "cur", "Current")
    );
    let _ = write!(
        h,
        "<p class=\"note\">{} {}</p>",
        esc(&comparison.latency_note()),
        esc(&comparison.noise_note())
    );

    h.push_str("<h2>Per-request deltas</h2><table><tr><th>Name</th><th class=\"l\">Metric</th><th>Baseline</th><th>Current</th><th>Change</th><th>Threshold</th><th>Noise (1 SE)</th><th>z</th><th class=\"l\">Verdict</th></tr>");
    for r in &comparison.rows {
        for d in &r.deltas {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
                esc(&r.name),
                d.metric,
                Comparison::fmt_value(d.metric, d.baseline),
                Comparison::fmt_value(d.metric, d.current),
                Comparison::fmt_change(d),
                threshold(d.metric, t),
                Comparison::fmt_noise(d),
                z_text(d),
                verdict_cell(Comparison::verdict(r, d))
            );
        }
    }
    h.push_str("</table><p class=\"note\">Change: (current − baseline) / baseline. Noise: one standard error of the difference, relative to the baseline. z: the worsening in standard errors (negative is an improvement). A change is a regression when it is over its threshold and, where the noise is known, beyond it.</p>");
    for line in comparison.one_sided() {
        let _ = write!(h, "<p><b>{}</b></p>", esc(&line));
    }

    let basis = comparison
        .rows
        .last()
        .map_or(crate::sla::LatencyBasis::Service, |r| r.latency);
    h.push_str("<h2>Charts</h2>");
    chart_block(
        &mut h,
        &compare_charts::spectra(baseline, current, basis)?,
        "Read: where the orange curve runs above the blue one, the current run is slower at that percentile; a gap only at the right end is a tail regression.",
    );
    chart_block(
        &mut h,
        &compare_charts::p95_over_time(baseline, current, basis)?,
        "Read: a gap held over the whole run is a real shift; lines that cross back and forth are the noise the gate allows for.",
    );
    chart_block(
        &mut h,
        &compare_charts::rps_over_time(baseline, current)?,
        "Read: with the same users, lower orange means the target served less; different shapes mean the load itself differed.",
    );

    h.push_str("<h2>Settings that differ</h2>");
    let diff = differences(baseline, current);
    if diff.is_empty() {
        h.push_str(
            "<p>None: both runs used the same settings, tool version, target and machine size.</p>",
        );
    } else {
        h.push_str("<table class=\"meta\"><tr><th>Setting</th><th class=\"l\">Baseline</th><th class=\"l\">Current</th></tr>");
        for (k, b, c) in diff {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                esc(&k),
                esc(&b),
                esc(&c)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<p class=\"note\">Noise is estimated by batch means: each run's per-second series is cut into up to 30 batches (never across a stage boundary) and the spread of the batches' figures gives the standard error of the run's figure; request names inherit the run's ratio of that spread to the independent-sample error. See docs/reports.md.</p>");
    h.push_str("</main></body></html>\n");
    Ok(h)
}
