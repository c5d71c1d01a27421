//! The summary's LLM table (see `html::llm` for what the figures mean).
use std::fmt::Write;

use super::cell;
use crate::llm_table::llm_lines;
use crate::model::RunResult;

/// The section, or nothing when no request called an LLM.
pub(super) fn section(result: &RunResult) -> String {
    let lines = llm_lines(result);
    if lines.is_empty() {
        return String::new();
    }
    let v = |x: Option<f64>| x.map_or("–".to_string(), |x| format!("{x:.1}"));
    let mut out = String::from("\n## LLM\n\n| Name | In tokens | Out tokens | Out tokens/s | TTFT p50 ms | TTFT p95 ms | Intended TTFT p95 ms | TPOT p50 ms | TPOT p95 ms | ITL p99 ms | Goodput % | Counts |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for l in &lines {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&l.name),
            l.input_tokens,
            l.output_tokens,
            l.output_tokens_per_s,
            v(l.ttft_ms.map(|t| t[0])),
            v(l.ttft_ms.map(|t| t[1])),
            v(l.intended_ttft_ms.map(|t| t[1])),
            v(l.tpot_ms.map(|t| t[0])),
            v(l.tpot_ms.map(|t| t[1])),
            v(l.itl_ms.map(|t| t[1])),
            v(l.goodput_ratio.map(|g| g * 100.0)),
            l.counts_note(),
        );
    }
    out
}
