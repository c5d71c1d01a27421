//! The LLM table of a report: one line per request name that called an LLM, then
//! `Aggregated`, with the figures the LLM benchmarks report — the same in every renderer, the
//! console and `skein_llm_stats.csv`.
use crate::histogram::LatencyHistogram;
use crate::model::{RequestStats, RunResult};

/// One request name's LLM figures.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmLine {
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Output tokens per second over the run.
    pub output_tokens_per_s: f64,
    /// Time to first token at 50 / 95 / 99 %, ms (`None`: nothing streamed).
    pub ttft_ms: Option<[f64; 3]>,
    /// Open model: TTFT from the intended send at 50 / 95 / 99 %, ms (`None`: not recorded —
    /// the closed model, or nothing streamed).
    pub intended_ttft_ms: Option<[f64; 3]>,
    /// Time per output token at 50 / 95 / 99 %, ms.
    pub tpot_ms: Option<[f64; 3]>,
    /// Gaps between content chunks at 50 / 99 %, ms.
    pub itl_ms: Option<[f64; 2]>,
    /// Answers per second that met their request's objectives (`None`: no objectives).
    pub goodput_per_s: Option<f64>,
    pub goodput_ratio: Option<f64>,
    /// Whether the token counts are Skein's estimate (no usage from the server) for some.
    pub estimated: bool,
    /// Where the counts came from: `usage`, `tokenizer`, `estimated`, or those present
    /// joined by `+` ([`crate::TokenStats::source_label`]).
    pub counts: String,
    /// The `--tokenizer`'s (input, output) tokens of the answers that also had usage.
    pub tokenizer_tokens: Option<(u64, u64)>,
}

impl LlmLine {
    /// The counts' sources, and the tokenizer's counts beside the usage when both were there:
    /// `usage; tokenizer 120 in / 64 out`.
    pub fn counts_note(&self) -> String {
        match self.tokenizer_tokens {
            Some((input, output)) => {
                format!("{}; tokenizer {input} in / {output} out", self.counts)
            }
            None => self.counts.clone(),
        }
    }
}

fn at<const N: usize>(h: &LatencyHistogram, qs: [f64; N]) -> Option<[f64; N]> {
    (!h.is_empty()).then(|| qs.map(|q| h.value_at_quantile(q)))
}

impl LlmLine {
    fn of(r: &RequestStats, duration: f64) -> LlmLine {
        let t = &r.tokens;
        LlmLine {
            method: r.method.clone(),
            name: r.name.clone(),
            requests: r.requests,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            output_tokens_per_s: t.output_tokens as f64 / duration,
            ttft_ms: at(&t.ttft, [0.5, 0.95, 0.99]),
            intended_ttft_ms: at(&t.intended_ttft, [0.5, 0.95, 0.99]),
            tpot_ms: at(&t.tpot, [0.5, 0.95, 0.99]),
            itl_ms: at(&t.itl, [0.5, 0.99]),
            goodput_per_s: (t.judged > 0).then(|| t.good as f64 / duration),
            goodput_ratio: (t.judged > 0).then(|| t.goodput_ratio()),
            estimated: !t.exact(),
            counts: t.source_label(),
            tokenizer_tokens: (t.checked > 0)
                .then_some((t.checked_input_tokens, t.checked_output_tokens)),
        }
    }
}

/// Whether any request called an LLM.
pub fn has_llm(result: &RunResult) -> bool {
    result.requests.iter().any(|r| !r.tokens.is_empty())
}

/// The lines of a run's LLM table: every name that called an LLM, then `Aggregated`; empty
/// when none did.
pub fn llm_lines(result: &RunResult) -> Vec<LlmLine> {
    if !has_llm(result) {
        return Vec::new();
    }
    let duration = result.duration_secs();
    let overall = result.overall();
    result
        .requests
        .iter()
        .filter(|r| !r.tokens.is_empty())
        .chain(std::iter::once(&overall))
        .map(|r| LlmLine::of(r, duration))
        .collect()
}
