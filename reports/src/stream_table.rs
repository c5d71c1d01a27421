//! The streaming and items table of a report: one line per request name that streamed or
//! counted the items it carried, the same figures in every renderer and on the console.
use crate::histogram::LatencyHistogram;
use crate::model::{RequestStats, RunResult};

/// One request name's line in a report's streaming and items table (every renderer and the
/// console show the same figures).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamLine {
    pub name: String,
    pub requests: u64,
    pub items: u64,
    pub items_per_s: f64,
    pub streams: u64,
    pub chunks_per_stream: f64,
    /// Time to first chunk at 50 / 95 / 99 %, ms.
    pub ttfc_ms: [f64; 3],
    /// Inter-chunk gap at 50 / 95 / 99 %, ms.
    pub gap_ms: [f64; 3],
    /// A stream's chunks per second at 50 %.
    pub chunks_per_s: f64,
}

impl StreamLine {
    /// A streaming figure of this line as a table shows it: `–` when nothing streamed.
    pub fn streamed(&self, value: f64) -> String {
        if self.streams == 0 {
            "–".to_string()
        } else {
            format!("{value:.1}")
        }
    }

    fn of(r: &RequestStats, duration: f64) -> StreamLine {
        let s = &r.stream;
        let at = |h: &LatencyHistogram| [0.5, 0.95, 0.99].map(|q| h.value_at_quantile(q));
        StreamLine {
            name: r.name.clone(),
            requests: r.requests,
            items: r.items,
            items_per_s: r.items as f64 / duration,
            streams: s.streams,
            chunks_per_stream: s.chunks_per_stream(),
            ttfc_ms: at(&s.ttfc),
            gap_ms: at(&s.gap),
            chunks_per_s: s.chunk_rate_at(0.5),
        }
    }
}

/// The lines of a run's streaming and items table: every request name that streamed or
/// counted items, then `Aggregated`; empty when none did.
pub fn stream_lines(result: &RunResult) -> Vec<StreamLine> {
    if !result.has_streams() && !result.has_items() {
        return Vec::new();
    }
    let duration = result.duration_secs();
    let overall = result.overall();
    result
        .requests
        .iter()
        .filter(|r| r.items > 0 || !r.stream.is_empty())
        .chain(std::iter::once(&overall))
        .map(|r| StreamLine::of(r, duration))
        .collect()
}
