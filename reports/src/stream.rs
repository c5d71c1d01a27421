//! What streamed answers measured: time to first chunk, the gaps between chunks and each
//! stream's chunk rate.
//!
//! An agent platform streams its answer (server-sent events, one chunk per token group); its
//! users feel the wait for the first chunk and the stalls between chunks, not the time to the
//! last byte. So a streamed request records, besides its total time (the request's latency),
//! three distributions, each an HDR histogram that adds exactly like the latency ones (so
//! worker results merge and stages and capacity windows judge them as they judge latency).
use serde::{Deserialize, Serialize};

use crate::histogram::LatencyHistogram;

/// A chunk rate is kept in thousandths of a chunk per second, so the histogram (whole
/// numbers, read back divided by 1,000 like microseconds are read as milliseconds) holds
/// fractional rates at 3 significant digits.
pub const CHUNK_RATE_SCALE: f64 = 1000.0;

/// Streaming measurements of one request name, one second or one stage.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StreamStats {
    /// Streamed answers that delivered at least one chunk.
    pub streams: u64,
    /// Chunks received, over all streams.
    pub chunks: u64,
    /// Time to first chunk, in microseconds from the send (not from the intended send: a
    /// stream's pacing is the server's, whatever the schedule).
    pub ttfc: LatencyHistogram,
    /// Gaps between consecutive chunks of a stream, in microseconds.
    pub gap: LatencyHistogram,
    /// Each stream's chunks per second from its first chunk to its last, in thousandths
    /// ([`CHUNK_RATE_SCALE`]); streams of one chunk have no rate.
    pub chunk_rate: LatencyHistogram,
}

/// One streamed answer as the client saw it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamTiming {
    /// Microseconds from the send to the first chunk; `None` when no chunk came.
    pub ttfc_micros: Option<u64>,
    /// Microseconds between consecutive chunks (chunks − 1 values).
    pub gaps_micros: Vec<u64>,
}

impl StreamTiming {
    pub fn chunks(&self) -> u64 {
        self.ttfc_micros
            .map_or(0, |_| 1 + self.gaps_micros.len() as u64)
    }
}

impl StreamStats {
    pub fn is_empty(&self) -> bool {
        self.streams == 0
    }

    /// Records one streamed answer; a stream that delivered no chunk counts nowhere (its
    /// request's outcome and latency still do).
    pub fn record(&mut self, timing: &StreamTiming) {
        self.record_chunks(timing.ttfc_micros, &timing.gaps_micros);
    }

    /// [`record`](Self::record) from the parts: the time to the first chunk and the gaps
    /// after it (what an LLM answer's token timing holds too, so it is not copied).
    pub fn record_chunks(&mut self, ttfc_micros: Option<u64>, gaps_micros: &[u64]) {
        let Some(ttfc) = ttfc_micros else {
            return;
        };
        self.streams += 1;
        self.chunks += 1 + gaps_micros.len() as u64;
        self.ttfc.record(ttfc);
        for &gap in gaps_micros {
            self.gap.record(gap);
        }
        let span: u64 = gaps_micros.iter().sum();
        if span > 0 {
            let per_second = gaps_micros.len() as f64 / (span as f64 / 1e6);
            self.chunk_rate
                .record((per_second * CHUNK_RATE_SCALE).round() as u64);
        }
    }

    pub fn add(&mut self, other: &StreamStats) {
        self.streams += other.streams;
        self.chunks += other.chunks;
        self.ttfc.add(&other.ttfc);
        self.gap.add(&other.gap);
        self.chunk_rate.add(&other.chunk_rate);
    }

    /// See [`LatencyHistogram::compact`].
    pub fn compact(&mut self) {
        self.ttfc.compact();
        self.gap.compact();
        self.chunk_rate.compact();
    }

    /// The `q` quantile of the streams' chunk rates, in chunks per second.
    pub fn chunk_rate_at(&self, q: f64) -> f64 {
        // value_at_quantile divides by 1,000 (µs → ms): thousandths → chunks per second.
        self.chunk_rate.value_at_quantile(q)
    }

    /// Average chunks per stream.
    pub fn chunks_per_stream(&self) -> f64 {
        if self.streams == 0 {
            0.0
        } else {
            self.chunks as f64 / self.streams as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(ttfc: u64, gaps: &[u64]) -> StreamTiming {
        StreamTiming {
            ttfc_micros: Some(ttfc),
            gaps_micros: gaps.to_vec(),
        }
    }

    #[test]
    fn a_stream_records_its_first_chunk_gaps_and_rate() {
        let mut s = StreamStats::default();
        s.record(&timing(50_000, &[10_000, 10_000, 10_000, 10_000]));
        assert_eq!((s.streams, s.chunks), (1, 5));
        assert!((s.ttfc.value_at_quantile(0.5) - 50.0).abs() < 0.1);
        assert_eq!(s.gap.count(), 4);
        assert!((s.gap.value_at_quantile(0.99) - 10.0).abs() < 0.02);
        // 4 gaps in 40 ms: 100 chunks/s.
        assert!(
            (s.chunk_rate_at(0.5) - 100.0).abs() < 0.1,
            "{}",
            s.chunk_rate_at(0.5)
        );
        assert!((s.chunks_per_stream() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn streams_without_chunks_count_nowhere_and_one_chunk_has_no_rate() {
        let mut s = StreamStats::default();
        s.record(&StreamTiming::default());
        assert!(s.is_empty());
        s.record(&timing(7_000, &[]));
        assert_eq!((s.streams, s.chunks, s.chunk_rate.count()), (1, 1, 0));
    }

    #[test]
    fn adding_is_exact() {
        let mut a = StreamStats::default();
        a.record(&timing(1_000, &[2_000]));
        let mut b = StreamStats::default();
        b.record(&timing(3_000, &[4_000, 5_000]));
        let mut both = StreamStats::default();
        both.record(&timing(1_000, &[2_000]));
        both.record(&timing(3_000, &[4_000, 5_000]));
        a.add(&b);
        assert_eq!(a, both);
    }
}
