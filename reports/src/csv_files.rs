//! Locust-compatible CSV files, with Locust's exact column names so existing tooling reads
//! them. Times are milliseconds with sub-millisecond precision kept (three decimals).
//!
//! Locust's files keep Locust's meaning: response times are service time. Intended-time
//! latencies (corrected for coordinated omission) go to `skein_stats_corrected.csv`, with
//! exactly the columns of `skein_stats.csv`, so the same tooling reads both.
use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::capacity::capacity;
use crate::error::ReportError;
use crate::model::{LatencyHistogram, RequestStats, RunResult};

pub mod history;
pub mod llm;
pub mod search;
pub mod stream;

pub const PERCENTILES: [(f64, &str); 11] = [
    (0.50, "50%"),
    (0.66, "66%"),
    (0.75, "75%"),
    (0.80, "80%"),
    (0.90, "90%"),
    (0.95, "95%"),
    (0.98, "98%"),
    (0.99, "99%"),
    (0.999, "99.9%"),
    (0.9999, "99.99%"),
    (1.0, "100%"),
];

pub const STATS_HEADER: [&str; 11] = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
];

pub const HISTORY_HEADER_START: [&str; 6] = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
];

pub const HISTORY_HEADER_END: [&str; 7] = [
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
];

pub const FAILURES_HEADER: [&str; 6] = [
    "Method",
    "Name",
    "Error",
    "Occurrences",
    "First Seen",
    "Last Seen",
];

pub const CAPACITY_HEADER: [&str; 13] = [
    "Stage",
    "User Count",
    "Requests/s",
    "Average Response Time",
    "50%",
    "95%",
    "99%",
    "Success Rate",
    "SLAs Held",
    "Recommended",
    // Skein's own columns, after Locust-style ones so positions stay stable.
    "Dropped/s",
    "Intended 95%",
    // Open model: the arrivals per second the stage offered (N/A for users).
    "Offered Rate/s",
];

fn ms(v: f64) -> String {
    format!("{v:.3}")
}

/// The percentile columns of a histogram: "N/A" for each when it holds no request, as
/// Locust writes them (a 0 would read as an instant response).
fn percentile_fields(latency: &LatencyHistogram) -> impl Iterator<Item = String> + '_ {
    PERCENTILES.iter().map(move |(q, _)| {
        if latency.is_empty() {
            "N/A".to_string()
        } else {
            ms(latency.value_at_quantile(*q))
        }
    })
}

/// Writes `header` then `rows` to `path`: the one way every CSV file here is written.
fn write_csv(
    path: &Path,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<PathBuf, ReportError> {
    let csv_err = |source| ReportError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut w = csv::Writer::from_path(path).map_err(csv_err)?;
    w.write_record(header).map_err(csv_err)?;
    for row in rows {
        w.write_record(row).map_err(csv_err)?;
    }
    w.flush().map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(path.to_path_buf())
}

/// The latency a row of a stats file reports.
fn stats_row(r: &RequestStats, latency: &LatencyHistogram, duration: f64) -> Vec<String> {
    let mut row = vec![
        r.method.clone(),
        r.name.clone(),
        r.requests.to_string(),
        r.failures.to_string(),
        ms(latency.value_at_quantile(0.5)),
        ms(latency.mean()),
        ms(latency.min()),
        ms(latency.max()),
        format!("{:.2}", r.avg_content_bytes()),
        format!("{:.6}", r.requests as f64 / duration),
        format!("{:.6}", r.failures as f64 / duration),
    ];
    row.extend(percentile_fields(latency));
    row
}

fn stats_header() -> Vec<&'static str> {
    STATS_HEADER
        .iter()
        .copied()
        .chain(PERCENTILES.iter().map(|(_, h)| *h))
        .collect()
}

/// `skein_stats.csv`: per request name and `Aggregated`, service time (Locust's meaning).
pub fn write_stats(result: &RunResult, path: &Path) -> Result<PathBuf, ReportError> {
    write_stats_of(result, path, |r| Cow::Borrowed(&r.latency))
}

/// `skein_stats_corrected.csv`: the columns of `skein_stats.csv`, with the times taken from
/// intended-time latency. `None` (and no file) when the run recorded none: a file of `N/A`s
/// would only look like data.
pub fn write_stats_corrected(
    result: &RunResult,
    path: &Path,
) -> Result<Option<PathBuf>, ReportError> {
    if !result.has_intended() {
        return Ok(None);
    }
    write_stats_of(result, path, |r| Cow::Owned(r.intended())).map(Some)
}

fn write_stats_of(
    result: &RunResult,
    path: &Path,
    latency: impl Fn(&RequestStats) -> Cow<'_, LatencyHistogram>,
) -> Result<PathBuf, ReportError> {
    let duration = result.duration_secs();
    let overall = result.overall();
    let rows = result
        .requests
        .iter()
        .chain(std::iter::once(&overall))
        .map(|r| stats_row(r, &latency(r), duration));
    write_csv(path, &stats_header(), rows)
}

/// One row per second, as Locust's `Aggregated` rows: that second's rates and percentiles,
/// then the running totals since the start. (Locust's default history writes cumulative
/// percentiles; per-second ones show when latency moved, and the totals stay cumulative.)
pub fn write_history(result: &RunResult, path: &Path) -> Result<PathBuf, ReportError> {
    let header: Vec<&str> = HISTORY_HEADER_START
        .iter()
        .copied()
        .chain(PERCENTILES.iter().map(|(_, h)| *h))
        .chain(HISTORY_HEADER_END.iter().copied())
        .collect();
    let mut total = RequestStats::new("", "Aggregated");
    let rows = result.series.iter().map(|s| {
        total.requests += s.requests;
        total.failures += s.failures;
        total.content_bytes += s.content_bytes;
        total.latency.add(&s.latency);
        let mut row = vec![
            s.unix_second.to_string(),
            s.users.to_string(),
            String::new(),
            "Aggregated".to_string(),
            format!("{:.6}", s.requests as f64),
            format!("{:.6}", s.failures as f64),
        ];
        row.extend(percentile_fields(&s.latency));
        row.extend([
            total.requests.to_string(),
            total.failures.to_string(),
            ms(total.latency.value_at_quantile(0.5)),
            ms(total.latency.mean()),
            ms(total.latency.min()),
            ms(total.latency.max()),
            format!("{:.2}", total.avg_content_bytes()),
        ]);
        row
    });
    write_csv(path, &header, rows)
}

pub fn write_failures(result: &RunResult, path: &Path) -> Result<PathBuf, ReportError> {
    let rows = result.failures.iter().map(|f| {
        vec![
            f.method.clone(),
            f.name.clone(),
            f.error.clone(),
            f.occurrences.to_string(),
            f.first_seen.to_rfc3339(),
            f.last_seen.to_rfc3339(),
        ]
    });
    write_csv(path, &FAILURES_HEADER, rows)
}

/// Per stage: Locust-style columns (service time), then Skein's `Dropped/s` (open-model
/// arrivals not sent, per second of the stage), `Intended 95%` (`N/A` without intended-time
/// latency) and `Offered Rate/s` (open model; `N/A` for users). A capacity search writes one
/// row per step instead ([`search::SEARCH_CAPACITY_HEADER`]).
pub fn write_capacity(result: &RunResult, path: &Path) -> Result<PathBuf, ReportError> {
    if let Some(search) = &result.capacity_search {
        return search::write_search(search, path);
    }
    let cap = capacity(result);
    let durations: Vec<f64> = result.stages.iter().map(|s| s.duration_secs()).collect();
    let rows = cap.rows.iter().zip(durations).map(|(r, secs)| {
        let recommended = cap.recommended.as_ref().is_some_and(|x| x.stage == r.stage);
        vec![
            (r.stage + 1).to_string(),
            r.users.to_string(),
            format!("{:.3}", r.rps),
            ms(r.avg_ms),
            ms(r.p50_ms),
            ms(r.p95_ms),
            ms(r.p99_ms),
            format!("{:.5}", r.success_rate),
            r.slas_held.to_string(),
            recommended.to_string(),
            format!("{:.3}", r.dropped as f64 / secs),
            r.intended_p95_ms.map_or("N/A".to_string(), ms),
            r.rate
                .map_or("N/A".to_string(), |rate| format!("{rate:.3}")),
        ]
    });
    write_csv(path, &CAPACITY_HEADER, rows)
}
