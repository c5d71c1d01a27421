//! The summary's streaming and items table (see `html::stream` for what the figures mean).
use std::fmt::Write;

use super::cell;
use crate::model::RunResult;
use crate::stream_table::stream_lines;

/// The section, or nothing when no request streamed or counted items.
pub(super) fn section(result: &RunResult) -> String {
    let lines = stream_lines(result);
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n## Streaming and items\n\n| Name | Items | Items/s | Streams | TTFC p50 ms | TTFC p95 ms | TTFC p99 ms | Gap p50 ms | Gap p99 ms | Chunks/s p50 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for l in &lines {
        let streamed = |v: f64| l.streamed(v);
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&l.name),
            l.items,
            l.items_per_s,
            l.streams,
            streamed(l.ttfc_ms[0]),
            streamed(l.ttfc_ms[1]),
            streamed(l.ttfc_ms[2]),
            streamed(l.gap_ms[0]),
            streamed(l.gap_ms[2]),
            streamed(l.chunks_per_s),
        );
    }
    out
}
