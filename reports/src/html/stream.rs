//! The report's streaming and items section: time to first chunk, gaps and chunk rates of
//! streamed answers, and items per second beside requests per second.
use std::fmt::Write;

use super::{captions, chart_block, esc, thousands};
use crate::charts::stream::stream_over_time;
use crate::error::ReportError;
use crate::model::RunResult;
use crate::stream_table::stream_lines;

/// What the section's figures mean: one line under its table.
const NOTE: &str = "Time to first chunk counts from the send to the first streamed chunk (what a user of an agent feels as the wait before the answer starts); gaps are the pauses between consecutive chunks of one stream; chunks/s is each stream's rate from its first chunk to its last. Items are what a request says it carried (events in a batch, trajectories exported, chunks streamed).";

/// The section, or nothing when no request streamed or counted items.
pub(super) fn section(result: &RunResult) -> Result<String, ReportError> {
    let lines = stream_lines(result);
    if lines.is_empty() {
        return Ok(String::new());
    }
    let mut h = String::from("<h2>Streaming and items</h2><table><tr><th>Name</th><th>Requests</th><th>Items</th><th>Items/s</th><th>Streams</th><th>Chunks/stream</th><th>TTFC p50 ms</th><th>TTFC p95 ms</th><th>TTFC p99 ms</th><th>Gap p50 ms</th><th>Gap p95 ms</th><th>Gap p99 ms</th><th>Chunks/s p50</th></tr>");
    for l in &lines {
        let streamed = |v: f64| l.streamed(v);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.name),
            thousands(l.requests),
            thousands(l.items),
            l.items_per_s,
            thousands(l.streams),
            streamed(l.chunks_per_stream),
            streamed(l.ttfc_ms[0]),
            streamed(l.ttfc_ms[1]),
            streamed(l.ttfc_ms[2]),
            streamed(l.gap_ms[0]),
            streamed(l.gap_ms[1]),
            streamed(l.gap_ms[2]),
            streamed(l.chunks_per_s),
        );
    }
    let _ = write!(h, "</table><p class=\"note\">{}</p>", esc(NOTE));
    if result.has_streams() {
        chart_block(&mut h, &stream_over_time(result)?, captions::STREAM);
    }
    Ok(h)
}
