//! `skein_stream_stats.csv`: what streamed answers measured and the items requests carried,
//! per request name and `Aggregated`, in Locust's style (one row per name, times in ms).
//! Written only when some request streamed or counted items: Locust has no such file, so
//! nothing reads an empty one.
use std::path::{Path, PathBuf};

use super::{ms, write_csv};
use crate::error::ReportError;
use crate::model::{LatencyHistogram, RequestStats, RunResult};

/// Columns: the request, its items and items/s, then for streamed answers the streams,
/// chunks, time to first chunk and inter-chunk gap at 50/90/95/99 %, and each stream's
/// chunks per second at 50 %.
pub const STREAM_HEADER: [&str; 18] = [
    "Type",
    "Name",
    "Request Count",
    "Item Count",
    "Items/s",
    "Stream Count",
    "Chunk Count",
    "Chunks/Stream",
    "TTFC 50%",
    "TTFC 90%",
    "TTFC 95%",
    "TTFC 99%",
    "Gap 50%",
    "Gap 90%",
    "Gap 95%",
    "Gap 99%",
    "Gap Max",
    "Chunks/s 50%",
];

fn quantiles(h: &LatencyHistogram) -> impl Iterator<Item = String> + '_ {
    [0.5, 0.9, 0.95, 0.99].into_iter().map(move |q| {
        if h.is_empty() {
            "N/A".to_string()
        } else {
            ms(h.value_at_quantile(q))
        }
    })
}

fn row(r: &RequestStats, duration: f64) -> Vec<String> {
    let s = &r.stream;
    let mut row = vec![
        r.method.clone(),
        r.name.clone(),
        r.requests.to_string(),
        r.items.to_string(),
        format!("{:.6}", r.items as f64 / duration),
        s.streams.to_string(),
        s.chunks.to_string(),
        format!("{:.2}", s.chunks_per_stream()),
    ];
    row.extend(quantiles(&s.ttfc));
    row.extend(quantiles(&s.gap));
    row.push(if s.gap.is_empty() {
        "N/A".to_string()
    } else {
        ms(s.gap.max())
    });
    row.push(if s.chunk_rate.is_empty() {
        "N/A".to_string()
    } else {
        format!("{:.3}", s.chunk_rate_at(0.5))
    });
    row
}

/// Writes the file when the run streamed or counted items; `None` otherwise.
pub fn write_stream_stats(result: &RunResult, path: &Path) -> Result<Option<PathBuf>, ReportError> {
    if !result.has_streams() && !result.has_items() {
        return Ok(None);
    }
    let duration = result.duration_secs();
    let overall = result.overall();
    let rows = result
        .requests
        .iter()
        .filter(|r| r.items > 0 || !r.stream.is_empty())
        .chain(std::iter::once(&overall))
        .map(|r| row(r, duration));
    write_csv(path, &STREAM_HEADER, rows).map(Some)
}
