//! What LLM answers measured, as the LLM benchmarks define it (vLLM's `bench serve`, AIPerf,
//! GuideLLM): time to first token, the gaps between token chunks, time per output token,
//! token counts and output tokens per second, and how many requests met their objectives
//! (goodput).
//!
//! Definitions (docs/llm.md):
//! - TTFT: send → the first chunk carrying output (a role-only first chunk is not a token).
//! - ITL: each gap between consecutive content chunks, one sample per gap, as vLLM records
//!   it: a chunk of several tokens is one sample (AIPerf calls these inter-chunk latencies).
//! - TPOT: per request, (last content chunk − TTFT) / (output tokens − 1), as vLLM and AIPerf
//!   compute their per-request TPOT / ITL; requests of one output token have none.
//! - Output tokens/s: per request, output tokens / (last content − send).
//!
//! Each distribution is an HDR histogram that adds exactly, like latency, so worker results
//! merge and stages judge them as they judge latency.
use serde::{Deserialize, Serialize};

use crate::histogram::LatencyHistogram;

/// Per-request token rates are kept in thousandths of a token per second (see
/// [`crate::stream::CHUNK_RATE_SCALE`]: read back divided by 1,000).
pub const TOKEN_RATE_SCALE: f64 = 1000.0;

/// Where a request's token counts came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenSource {
    /// The server's `usage`.
    #[default]
    Usage,
    /// Counted by Skein (whitespace-separated words of the text, or one per chunk): an
    /// estimate, and labelled as one wherever it is shown.
    Estimate,
    /// Counted by the run's `--tokenizer` (a Hugging Face `tokenizer.json`): the server sent
    /// no usage.
    Tokenizer,
}

/// One LLM answer as the client saw it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenTiming {
    /// Microseconds from the send to the first content chunk (`None`: no content came, or the
    /// answer was not streamed).
    pub ttft_micros: Option<u64>,
    /// Gaps between consecutive content chunks, in microseconds.
    pub itl_micros: Vec<u64>,
    /// Microseconds from the send to the last content chunk (or the whole answer, unstreamed).
    pub end_micros: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub source: TokenSource,
    /// The `--tokenizer`'s (input, output) counts of an answer whose counts are the server's
    /// usage: kept beside them, so a report shows both.
    pub tokenizer_counts: Option<(u64, u64)>,
    /// Whether the request met every objective of its request (`None`: it has none).
    pub met_objectives: Option<bool>,
}

impl TokenTiming {
    /// (last content − TTFT) / (output tokens − 1), in microseconds.
    pub fn tpot_micros(&self) -> Option<u64> {
        let ttft = self.ttft_micros?;
        (self.output_tokens > 1)
            .then(|| self.end_micros.saturating_sub(ttft) / (self.output_tokens - 1))
    }

    /// Output tokens per second of this request, end to end.
    pub fn output_tokens_per_s(&self) -> Option<f64> {
        (self.end_micros > 0 && self.output_tokens > 0)
            .then(|| self.output_tokens as f64 / (self.end_micros as f64 / 1e6))
    }
}

/// Token measurements of one request name, one second or one stage.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TokenStats {
    /// Successful LLM answers recorded.
    pub answers: u64,
    /// Of which with token counts estimated by Skein (no `usage`).
    #[serde(default)]
    pub estimated: u64,
    /// Of which with token counts from the run's `--tokenizer` (no `usage`).
    #[serde(default)]
    pub tokenized: u64,
    /// Answers counted by the server's usage and by the `--tokenizer` both ...
    #[serde(default)]
    pub checked: u64,
    /// ... and the tokenizer's input and output tokens of those answers.
    #[serde(default)]
    pub checked_input_tokens: u64,
    #[serde(default)]
    pub checked_output_tokens: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Time to first token, µs.
    pub ttft: LatencyHistogram,
    /// Open model: time to first token from the arrival's intended (scheduled) send instant,
    /// µs — TTFT plus how late the request went out, as intended-time latency is to service
    /// time. Empty in the closed model and in results written before it existed; readers
    /// fall back to `ttft` then (`sla::Measurement::ttft`).
    #[serde(default)]
    pub intended_ttft: LatencyHistogram,
    /// Gaps between content chunks, µs.
    pub itl: LatencyHistogram,
    /// Time per output token, µs, one per request of two tokens or more.
    pub tpot: LatencyHistogram,
    /// Each request's output tokens per second, in thousandths ([`TOKEN_RATE_SCALE`]).
    pub output_rate: LatencyHistogram,
    /// Answers whose request has objectives (`ttft_ms`, `tpot_ms`, `e2e_ms`).
    #[serde(default)]
    pub judged: u64,
    /// Of those, the ones that met all of them: goodput.
    #[serde(default)]
    pub good: u64,
}

impl TokenStats {
    pub fn is_empty(&self) -> bool {
        self.answers == 0
    }

    /// Records one successful answer; `send_lag_micros` is how late an open-model arrival
    /// went out after its intended instant (`None` in the closed model).
    pub fn record(&mut self, t: &TokenTiming, send_lag_micros: Option<u64>) {
        self.answers += 1;
        match t.source {
            TokenSource::Estimate => self.estimated += 1,
            TokenSource::Tokenizer => self.tokenized += 1,
            TokenSource::Usage => {}
        }
        if let Some((input, output)) = t.tokenizer_counts {
            self.checked += 1;
            self.checked_input_tokens += input;
            self.checked_output_tokens += output;
        }
        self.input_tokens += t.input_tokens;
        self.output_tokens += t.output_tokens;
        if let Some(ttft) = t.ttft_micros {
            self.ttft.record(ttft);
            if let Some(lag) = send_lag_micros {
                self.intended_ttft.record(ttft.saturating_add(lag));
            }
        }
        for &gap in &t.itl_micros {
            self.itl.record(gap);
        }
        if let Some(tpot) = t.tpot_micros() {
            self.tpot.record(tpot);
        }
        if let Some(rate) = t.output_tokens_per_s() {
            self.output_rate
                .record((rate * TOKEN_RATE_SCALE).round() as u64);
        }
        if let Some(met) = t.met_objectives {
            self.judged += 1;
            self.good += u64::from(met);
        }
    }

    pub fn add(&mut self, other: &TokenStats) {
        self.answers += other.answers;
        self.estimated += other.estimated;
        self.tokenized += other.tokenized;
        self.checked += other.checked;
        self.checked_input_tokens += other.checked_input_tokens;
        self.checked_output_tokens += other.checked_output_tokens;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.ttft.add(&other.ttft);
        self.intended_ttft.add(&other.intended_ttft);
        self.itl.add(&other.itl);
        self.tpot.add(&other.tpot);
        self.output_rate.add(&other.output_rate);
        self.judged += other.judged;
        self.good += other.good;
    }

    /// See [`LatencyHistogram::compact`].
    pub fn compact(&mut self) {
        self.ttft.compact();
        self.intended_ttft.compact();
        self.itl.compact();
        self.tpot.compact();
        self.output_rate.compact();
    }

    /// The `q` quantile of the requests' output tokens per second.
    pub fn output_rate_at(&self, q: f64) -> f64 {
        self.output_rate.value_at_quantile(q)
    }

    /// The share of judged answers that met their objectives (1 when none were judged).
    pub fn goodput_ratio(&self) -> f64 {
        if self.judged == 0 {
            1.0
        } else {
            self.good as f64 / self.judged as f64
        }
    }

    /// Whether no count is Skein's estimate (each is the server's usage or the tokenizer's).
    pub fn exact(&self) -> bool {
        self.estimated == 0
    }

    /// Where the counts came from, as every output labels them: `usage`, `tokenizer`,
    /// `estimated`, or those present joined by `+` when answers differ.
    pub fn source_label(&self) -> String {
        let usage = self.answers - self.estimated.min(self.answers) - self.tokenized;
        let parts: Vec<&str> = [
            (usage > 0, "usage"),
            (self.tokenized > 0, "tokenizer"),
            (self.estimated > 0, "estimated"),
        ]
        .into_iter()
        .filter_map(|(present, name)| present.then_some(name))
        .collect();
        if parts.is_empty() {
            "usage".into()
        } else {
            parts.join("+")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(ttft: u64, gaps: &[u64], tokens: u64) -> TokenTiming {
        TokenTiming {
            ttft_micros: Some(ttft),
            itl_micros: gaps.to_vec(),
            end_micros: ttft + gaps.iter().sum::<u64>(),
            input_tokens: 10,
            output_tokens: tokens,
            source: TokenSource::Usage,
            tokenizer_counts: None,
            met_objectives: None,
        }
    }

    #[test]
    fn an_answer_records_ttft_itl_tpot_and_its_rate() {
        let mut s = TokenStats::default();
        // 80 ms to the first token, then 4 chunks 10 ms apart: 5 tokens.
        s.record(&answer(80_000, &[10_000; 4], 5), None);
        assert_eq!((s.answers, s.input_tokens, s.output_tokens), (1, 10, 5));
        assert!((s.ttft.value_at_quantile(0.5) - 80.0).abs() < 0.1);
        assert_eq!(s.itl.count(), 4);
        assert!((s.tpot.value_at_quantile(0.5) - 10.0).abs() < 0.02);
        // 5 tokens in 120 ms.
        assert!(
            (s.output_rate_at(0.5) - 41.67).abs() < 0.1,
            "{}",
            s.output_rate_at(0.5)
        );
    }

    #[test]
    fn several_tokens_per_chunk_divide_the_decode_time_by_tokens_not_chunks() {
        // 2 chunks of 4 tokens: one gap of 40 ms for 7 more tokens after the first chunk.
        let t = answer(50_000, &[40_000], 8);
        assert_eq!(t.tpot_micros(), Some(40_000 / 7));
        assert_eq!(answer(50_000, &[], 1).tpot_micros(), None);
    }

    #[test]
    fn goodput_counts_the_judged_answers_that_met_everything() {
        let mut s = TokenStats::default();
        for met in [Some(true), Some(false), Some(true), None] {
            s.record(
                &TokenTiming {
                    met_objectives: met,
                    ..answer(1_000, &[1_000], 2)
                },
                None,
            );
        }
        assert_eq!((s.judged, s.good), (3, 2));
        assert!((s.goodput_ratio() - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn the_label_names_every_source_present() {
        let mut s = TokenStats::default();
        s.record(&answer(1_000, &[1_000], 2), None);
        assert_eq!(s.source_label(), "usage");
        s.record(
            &TokenTiming {
                source: TokenSource::Tokenizer,
                ..answer(1_000, &[1_000], 2)
            },
            None,
        );
        s.record(
            &TokenTiming {
                source: TokenSource::Estimate,
                ..answer(1_000, &[1_000], 2)
            },
            None,
        );
        assert_eq!(s.source_label(), "usage+tokenizer+estimated");
        let mut t = TokenStats::default();
        t.record(
            &TokenTiming {
                tokenizer_counts: Some((11, 3)),
                ..answer(1_000, &[1_000], 2)
            },
            None,
        );
        assert_eq!(
            (t.source_label().as_str(), t.checked, t.checked_input_tokens),
            ("usage", 1, 11)
        );
    }

    #[test]
    fn an_open_model_arrival_adds_its_lateness_to_intended_ttft_only() {
        let mut s = TokenStats::default();
        s.record(&answer(80_000, &[10_000], 2), Some(30_000));
        assert!((s.ttft.value_at_quantile(0.5) - 80.0).abs() < 0.1);
        assert!((s.intended_ttft.value_at_quantile(0.5) - 110.0).abs() < 0.1);
        // Closed model: nothing intended.
        let mut closed = TokenStats::default();
        closed.record(&answer(80_000, &[10_000], 2), None);
        assert!(closed.intended_ttft.is_empty());
    }

    #[test]
    fn adding_is_exact() {
        let (a, b) = (
            answer(1_000, &[2_000], 2),
            answer(3_000, &[4_000, 5_000], 3),
        );
        let mut x = TokenStats::default();
        x.record(&a, Some(500));
        let mut y = TokenStats::default();
        y.record(&b, None);
        let mut both = TokenStats::default();
        both.record(&a, Some(500));
        both.record(&b, None);
        x.add(&y);
        assert_eq!(x, both);
    }
}
