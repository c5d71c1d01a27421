//! The run-history page (`skein history`): one self-contained HTML file, inline CSS and SVG
//! like `report.html`, with a section per scenario: the latest run's figures, the trend
//! charts ([`crate::history_charts`]) and a table of every run, newest first, whose
//! regressed rows are red and say what regressed against the run before.
use std::fmt::Write;

use super::{chart_block, kpi, thousands, STYLE};
use crate::error::ReportError;
use crate::history::{History, HistoryRun, ScenarioHistory, SlaState};
use crate::history_charts::{errors_and_cpu_trend, latency_trend, rps_trend};
use crate::junit::xml_escape as esc;

const PAGE_STYLE: &str = "<style>.hist tr.reg td{background:#fdecea}.hist td{white-space:nowrap}.hist td.why{text-align:left;white-space:normal}.hist td.src{text-align:left;font-size:11px;color:#555;white-space:normal;word-break:break-all}</style>";

const CHART_CAPTION: &str = "Read: each dot is one run, placed at its start time. A red dashed line marks a run that regressed against the run before it, judged by the same noise-aware gate as `skein compare` (a change over its threshold that is also beyond the runs' own noise).";

fn sla_cell(state: SlaState) -> String {
    let class = match state {
        SlaState::Passed => "ok",
        SlaState::Failed => "bad",
        SlaState::None => "note",
    };
    format!("<td class=\"{class}\">{}</td>", state.label())
}

fn run_row(h: &mut String, s: &ScenarioHistory, run: &HistoryRun) {
    let class = if run.regressed() {
        " class=\"reg\""
    } else {
        ""
    };
    let verdict = match run.baseline {
        None => "<span class=\"note\">first run: nothing to compare with</span>".to_string(),
        Some(_) if run.regressed() => format!(
            "<b class=\"bad\">REGRESSION</b> {}",
            esc(&run
                .regressions
                .iter()
                .map(|r| r.describe())
                .collect::<Vec<_>>()
                .join("; "))
        ),
        Some(b) => format!(
            "<span class=\"ok\">no regression</span> <span class=\"note\">vs {}</span>",
            s.runs[b].started_at.format("%Y-%m-%d %H:%M")
        ),
    };
    let flags = match (run.partial, run.interrupted) {
        (true, _) => " (partial)",
        (false, true) => " (interrupted)",
        _ => "",
    };
    let _ = write!(
        h,
        "<tr{class}><td>{}{flags}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2} %</td>{}<td>{:.0} %</td><td class=\"why\">{verdict}</td><td class=\"src\">{}</td></tr>",
        run.started_at.format("%Y-%m-%d %H:%M:%S"),
        thousands(run.requests),
        run.rps,
        run.p50_ms,
        run.p95_ms,
        run.p99_ms,
        run.error_rate * 100.0,
        sla_cell(run.sla),
        run.cpu_percent,
        esc(&run.source.display().to_string()),
    );
}

fn scenario_section(h: &mut String, s: &ScenarioHistory) -> Result<(), ReportError> {
    let regressions = s.runs.iter().filter(|r| r.regressed()).count();
    let _ = write!(
        h,
        "<h2 id=\"{}\">Scenario: {}</h2><div class=\"sub\">{} runs from {} to {} UTC; {} regressed against the run before</div>",
        esc(&s.scenario),
        esc(&s.scenario),
        s.runs.len(),
        s.runs.first().map(|r| r.started_at.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default(),
        s.runs.last().map(|r| r.started_at.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default(),
        regressions,
    );
    if let Some(last) = s.runs.last() {
        let basis = last.latency.label();
        let kpis = [
            kpi(&format!("{:.1}", last.rps), "requests/s (latest)"),
            kpi(
                &format!("{:.1} ms", last.p95_ms),
                &format!("p95 {basis} (latest)"),
            ),
            kpi(
                &format!("{:.2} %", last.error_rate * 100.0),
                "failed (latest)",
            ),
            kpi(last.sla.label(), "SLA (latest)"),
            kpi(
                &format!("{:.0} %", last.cpu_percent),
                "generator CPU (latest)",
            ),
        ];
        let _ = write!(h, "<div class=\"kpis\">{}</div>", kpis.concat());
    }
    chart_block(h, &rps_trend(s)?, CHART_CAPTION);
    chart_block(h, &latency_trend(s)?, CHART_CAPTION);
    chart_block(h, &errors_and_cpu_trend(s)?, CHART_CAPTION);
    h.push_str("<table class=\"hist\"><tr><th>Run start (UTC)</th><th>Requests</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>Errors</th><th>SLA</th><th>CPU</th><th class=\"l\">Against the run before</th><th class=\"l\">results.json</th></tr>");
    for run in s.runs.iter().rev() {
        run_row(h, s, run);
    }
    h.push_str("</table>");
    Ok(())
}

pub fn render(history: &History) -> Result<String, ReportError> {
    let mut h = String::with_capacity(128 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Skein run history</title><style>{STYLE}</style>{PAGE_STYLE}</head><body><main><h1>Run history</h1>"
    );
    let t = &history.tolerances;
    let noise = match t.noise_z {
        Some(z) => format!("and beyond {z} standard errors of the runs' own noise"),
        None => "(noise ignored)".to_string(),
    };
    let _ = write!(
        h,
        "<div class=\"sub\">{} runs of {} scenarios. Each run is compared with the run of its scenario before it: a rise of p50/p95/p99 over {:.0}/{:.0}/{:.0} %, a drop of requests/s over {:.0} % or a rise of the error rate over {:.0} % {noise} is a regression (names with fewer than {} requests are not judged).</div>",
        history.run_count(),
        history.scenarios.len(),
        t.p50 * 100.0,
        t.p95 * 100.0,
        t.p99 * 100.0,
        t.rps * 100.0,
        t.error_rate * 100.0,
        t.min_requests,
    );
    let regressed = history.regression_count();
    let (class, verdict) = if regressed == 0 {
        (
            "pass",
            "No run regressed against the run before it".to_string(),
        )
    } else {
        (
            "fail",
            format!("{regressed} run(s) regressed against the run before"),
        )
    };
    let _ = write!(h, "<div class=\"verdict {class}\">{}</div>", esc(&verdict));
    if !history.skipped.is_empty() {
        h.push_str("<div class=\"verdict warn\">Skipped (not readable as results):<ul>");
        // Each message names its file.
        for (_, why) in &history.skipped {
            let _ = write!(h, "<li style=\"font-size:14px\">{}</li>", esc(why));
        }
        h.push_str("</ul></div>");
    }
    for s in &history.scenarios {
        scenario_section(&mut h, s)?;
    }
    h.push_str("</main></body></html>");
    Ok(h)
}
