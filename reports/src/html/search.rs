//! The capacity search's section of `report.html`, shown right under the banner because it
//! is the answer the run was made for: the quotable verdict and knee, the chart of
//! throughput and p95 against offered load, and every step in the order run.
//!
//! The whole-run figures further down (key figures, SLA table) cover every step together,
//! deliberately overloaded ones included, so for a search the steps table is the verdict;
//! the per-stage capacity table is left out (a search's stages are its steps).
use std::fmt::Write;

use super::thousands;
use crate::charts::search::search_chart;
use crate::error::ReportError;
use crate::junit::xml_escape as esc;
use crate::markdown::search::{figures, phase_name, step_result};
use crate::model::RunResult;
use crate::search::{CapacitySearch, SearchPhase};

/// What to read from the chart, under it.
const CHART_CAPTION: &str = "Read it left to right: throughput (blue) follows the offered load until the system saturates; p95 (orange) stays under the SLA line (red) up to the maximum sustainable load (green) and, past the knee (purple), grows faster than the load. Crosses are steps that broke an SLA.";

/// Row colours of the steps table: the answer and the first break stand out.
const STYLE: &str = "<style>.search tr.max td{background:#e8f5e9}.search tr.first td{background:#fdecea}.search td{white-space:nowrap}.search td.why{text-align:left;white-space:normal}</style>";

/// Whether the banner shows a pass: for a search, whether a capacity was found; otherwise
/// whether every SLA held.
pub(crate) fn passed(result: &RunResult) -> bool {
    match &result.capacity_search {
        Some(search) => search.found(),
        None => result.passed(),
    }
}

/// `3 climb, 4 bisection and 1 confirmation steps`.
fn phase_counts(search: &CapacitySearch) -> String {
    let count = |p: SearchPhase| search.steps.iter().filter(|s| s.phase == p).count();
    format!(
        "{} climb, {} bisection and {} confirmation steps",
        count(SearchPhase::Climb),
        count(SearchPhase::Bisect),
        count(SearchPhase::Confirm)
    )
}

/// The section, or nothing for a run that is not a capacity search.
pub(crate) fn section(result: &RunResult) -> Result<String, ReportError> {
    let Some(search) = &result.capacity_search else {
        return Ok(String::new());
    };
    let mut h = format!("{STYLE}<h2>Capacity search</h2>");
    let _ = write!(h, "<p><b>{}</b></p>", esc(&search.verdict()));
    let knee = search.knee_text().unwrap_or_else(|| {
        "No knee: latency grew no faster than load over the loads searched.".to_string()
    });
    let _ = write!(h, "<p>{}</p>", esc(&knee));
    if !search.steps.is_empty() {
        let _ = write!(
            h,
            "<div class=\"chart\">{}</div><p class=\"note\">{CHART_CAPTION}</p>",
            search_chart(result, search)?
        );
    }
    let _ = write!(
        h,
        "<table class=\"search\"><tr><th>Step</th><th class=\"l\">Phase</th><th>Offered {}</th><th class=\"l\">Window (UTC)</th><th>Requests</th><th>Req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>Errors</th><th>Dropped</th><th class=\"l\">Result</th><th>Ext.</th></tr>",
        search.unit()
    );
    for (i, s) in search.steps.iter().enumerate() {
        let row = if search.max_sustainable == Some(i) {
            " class=\"max\""
        } else if search.first_break == Some(i) {
            " class=\"first\""
        } else {
            ""
        };
        let verdict = if s.held { "ok" } else { "bad" };
        let secs = (s.ended_at - s.started_at).num_seconds();
        let _ = write!(
            h,
            "<tr{row}><td>{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}, {secs} s</td><td>{}</td>{}<td class=\"{verdict} why\">{}</td><td>{}</td></tr>",
            i + 1,
            phase_name(s.phase),
            (s.offered * 10.0).round() / 10.0,
            s.started_at.format("%H:%M:%S"),
            thousands(s.requests),
            figures(s).map(|f| format!("<td>{f}</td>")).concat(),
            esc(&step_result(search, i, s)),
            s.extensions
        );
    }
    let warmup = search.steps.first().map_or(0.0, |s| s.warmup_secs);
    let _ = write!(
        h,
        "</table><p class=\"note\">{} in the order run, to a resolution of {:.0} %. Each step is judged alone on its window, after {warmup:.0} s of warm-up at the same load; Ext. counts the times a window was extended because it held too few requests for its percentile. Percentiles are on the SLA's basis (intended-time latency by default). The key figures and the SLA table below cover all steps together, overloaded ones included: for a search, this table is the verdict.</p>",
        phase_counts(search),
        search.resolution * 100.0
    );
    Ok(h)
}
