//! Locust-compatible CSV files, with Locust's exact column names so existing tooling reads
//! them. Times are milliseconds with sub-millisecond precision kept (three decimals).
use std::path::{Path, PathBuf};

use crate::capacity::capacity;
use crate::error::ReportError;
use crate::model::{LatencyHistogram, RequestStats, RunResult};

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

pub const CAPACITY_HEADER: [&str; 10] = [
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

fn writer(path: &Path) -> Result<csv::Writer<std::fs::File>, ReportError> {
    csv::Writer::from_path(path).map_err(|source| ReportError::Csv {
        path: path.to_path_buf(),
        source,
    })
}

fn csv_err(path: &Path) -> impl Fn(csv::Error) -> ReportError + '_ {
    move |source| ReportError::Csv {
        path: path.to_path_buf(),
        source,
    }
}

fn stats_row(r: &RequestStats, duration: f64) -> Vec<String> {
    let mut row = vec![
        r.method.clone(),
        r.name.clone(),
        r.requests.to_string(),
        r.failures.to_string(),
        ms(r.latency.value_at_quantile(0.5)),
        ms(r.latency.mean()),
        ms(r.latency.min()),
        ms(r.latency.max()),
        format!("{:.2}", avg_size(r.content_bytes, r.requests)),
        format!("{:.6}", r.requests as f64 / duration),
        format!("{:.6}", r.failures as f64 / duration),
    ];
    row.extend(percentile_fields(&r.latency));
    row
}

fn avg_size(bytes: u64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        bytes as f64 / n as f64
    }
}

pub fn write_stats(result: &RunResult, path: &Path) -> Result<PathBuf, ReportError> {
    let mut w = writer(path)?;
    let header: Vec<&str> = STATS_HEADER
        .iter()
        .copied()
        .chain(PERCENTILES.iter().map(|(_, h)| *h))
        .collect();
    w.write_record(&header).map_err(csv_err(path))?;
    let duration = result.duration_secs();
    for r in &result.requests {
        w.write_record(stats_row(r, duration))
            .map_err(csv_err(path))?;
    }
    w.write_record(stats_row(&result.overall(), duration))
        .map_err(csv_err(path))?;
    w.flush().map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(path.to_path_buf())
}

/// One row per second, as Locust's `Aggregated` rows: that second's rates and percentiles,
/// then the running totals since the start. (Locust's default history writes cumulative
/// percentiles; per-second ones show when latency moved, and the totals stay cumulative.)
pub fn write_history(result: &RunResult, path: &Path) -> Result<PathBuf, ReportError> {
    let mut w = writer(path)?;
    let header: Vec<&str> = HISTORY_HEADER_START
        .iter()
        .copied()
        .chain(PERCENTILES.iter().map(|(_, h)| *h))
        .chain(HISTORY_HEADER_END.iter().copied())
        .collect();
    w.write_record(&header).map_err(csv_err(path))?;
    let mut total = RequestStats::new("", "Aggregated");
    for s in &result.series {
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
            format!("{:.2}", avg_size(total.content_bytes, total.requests)),
        ]);
        w.write_record(row).map_err(csv_err(path))?;
    }
    w.flush().map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(path.to_path_buf())
}

pub fn write_failures(result: &RunResult, path: &Path) -> Result<PathBuf, ReportError> {
    let mut w = writer(path)?;
    w.write_record(FAILURES_HEADER).map_err(csv_err(path))?;
    for f in &result.failures {
        w.write_record([
            f.method.clone(),
            f.name.clone(),
            f.error.clone(),
            f.occurrences.to_string(),
            f.first_seen.to_rfc3339(),
            f.last_seen.to_rfc3339(),
        ])
        .map_err(csv_err(path))?;
    }
    w.flush().map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(path.to_path_buf())
}

pub fn write_capacity(result: &RunResult, path: &Path) -> Result<PathBuf, ReportError> {
    let mut w = writer(path)?;
    w.write_record(CAPACITY_HEADER).map_err(csv_err(path))?;
    let cap = capacity(result);
    for r in &cap.rows {
        let recommended = cap.recommended.as_ref().is_some_and(|x| x.stage == r.stage);
        w.write_record([
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
        ])
        .map_err(csv_err(path))?;
    }
    w.flush().map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(path.to_path_buf())
}
