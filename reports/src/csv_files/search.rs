//! `skein_capacity.csv` for a capacity search: one row per step in the order run, instead of
//! one per stage, because a search's stages are its steps and a spreadsheet of the search
//! wants each step's load, window, percentiles and verdict, and where the answer is.
use std::path::{Path, PathBuf};

use super::{ms, write_csv};
use crate::error::ReportError;
use crate::search::{CapacitySearch, SearchPhase};

/// The columns of a search's `skein_capacity.csv`. Percentiles are milliseconds on the
/// SLA's basis, rates fractions (0..1), windows RFC 3339; `Broken By` joins what broke with
/// `; `; the last three say which step is the answer.
pub const SEARCH_CAPACITY_HEADER: [&str; 24] = [
    "Step",
    "Phase",
    "Offered",
    "Unit",
    "Window Start",
    "Window End",
    "Warm-up s",
    "Extensions",
    "Request Count",
    "Failure Count",
    "Dropped Count",
    "Requests/s",
    "50%",
    "95%",
    "99%",
    "Error Rate",
    "Dropped Rate",
    "Held",
    "Broken By",
    "Max Sustainable",
    "First Break",
    "Knee",
    "Goodput %",
    "Goodput/s",
];

fn phase_key(phase: SearchPhase) -> &'static str {
    match phase {
        SearchPhase::Climb => "climb",
        SearchPhase::Bisect => "bisect",
        SearchPhase::Confirm => "confirm",
    }
}

pub fn write_search(search: &CapacitySearch, path: &Path) -> Result<PathBuf, ReportError> {
    let rows = search.steps.iter().enumerate().map(|(i, s)| {
        vec![
            (i + 1).to_string(),
            phase_key(s.phase).to_string(),
            format!("{:.3}", s.offered),
            search.unit().to_string(),
            s.started_at.to_rfc3339(),
            s.ended_at.to_rfc3339(),
            format!("{:.3}", s.warmup_secs),
            s.extensions.to_string(),
            s.requests.to_string(),
            s.failures.to_string(),
            s.dropped.to_string(),
            format!("{:.3}", s.rps),
            ms(s.p50_ms),
            ms(s.p95_ms),
            ms(s.p99_ms),
            format!("{:.5}", s.error_rate),
            format!("{:.5}", s.dropped_rate),
            s.held.to_string(),
            s.broken_by.join("; "),
            (search.max_sustainable == Some(i)).to_string(),
            (search.first_break == Some(i)).to_string(),
            (search.knee == Some(i)).to_string(),
            s.goodput
                .map_or("N/A".into(), |g| format!("{:.2}", g.ratio * 100.0)),
            s.goodput
                .map_or("N/A".into(), |g| format!("{:.3}", g.per_s)),
        ]
    });
    write_csv(path, &SEARCH_CAPACITY_HEADER, rows)
}
