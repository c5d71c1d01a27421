//! The run history as CSV (`skein history`'s `<stem>.csv`): one row per run, grouped by
//! scenario, oldest first, for a spreadsheet or a script that tracks the trend itself.
use std::path::{Path, PathBuf};

use super::{ms, write_csv};
use crate::error::ReportError;
use crate::history::History;

/// The columns. Percentiles are milliseconds on `Latency Basis`, the error rate a fraction
/// (0..1), `Run Start` RFC 3339; `Baseline` is the results.json the run was compared with
/// (the scenario's run before it), `Regressions` joins what regressed with `; `.
pub const HISTORY_HEADER: [&str; 17] = [
    "Scenario",
    "Run Start",
    "Source",
    "Duration s",
    "Request Count",
    "Requests/s",
    "50%",
    "95%",
    "99%",
    "Latency Basis",
    "Error Rate",
    "SLA",
    "Generator CPU %",
    "Partial",
    "Baseline",
    "Regression",
    "Regressions",
];

pub fn write_history(history: &History, path: &Path) -> Result<PathBuf, ReportError> {
    let rows = history.scenarios.iter().flat_map(|s| {
        s.runs.iter().map(|r| {
            vec![
                s.scenario.clone(),
                r.started_at.to_rfc3339(),
                r.source.display().to_string(),
                format!("{:.3}", r.duration_secs),
                r.requests.to_string(),
                format!("{:.3}", r.rps),
                ms(r.p50_ms),
                ms(r.p95_ms),
                ms(r.p99_ms),
                r.latency.label().to_string(),
                format!("{:.6}", r.error_rate),
                r.sla.label().to_string(),
                format!("{:.1}", r.cpu_percent),
                (r.partial || r.interrupted).to_string(),
                r.baseline
                    .map(|b| s.runs[b].source.display().to_string())
                    .unwrap_or_default(),
                if r.regressed() { "yes" } else { "no" }.to_string(),
                r.regressions
                    .iter()
                    .map(|g| g.describe())
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
    });
    write_csv(path, &HISTORY_HEADER, rows)
}
