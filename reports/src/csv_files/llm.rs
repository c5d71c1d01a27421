//! `skein_llm_stats.csv`: what LLM answers measured, per request name and `Aggregated`, in
//! Locust's style (times in ms). Written only when some request called an LLM.
use std::path::{Path, PathBuf};

use super::{ms, write_csv};
use crate::error::ReportError;
use crate::llm_table::{llm_lines, LlmLine};
use crate::model::RunResult;

/// Skein's own columns come last (`Tokenizer …`: a `--tokenizer`'s counts beside the server's
/// usage; `Intended TTFT …`: the open model's TTFT from the intended send; `N/A` otherwise),
/// so the Locust-style ones keep their positions.
pub const LLM_HEADER: [&str; 23] = [
    "Type",
    "Name",
    "Request Count",
    "Input Tokens",
    "Output Tokens",
    "Output Tokens/s",
    "TTFT 50%",
    "TTFT 95%",
    "TTFT 99%",
    "TPOT 50%",
    "TPOT 95%",
    "TPOT 99%",
    "ITL 50%",
    "ITL 99%",
    "Goodput/s",
    "Goodput %",
    "Token Counts",
    "Answers",
    "Tokenizer Input Tokens",
    "Tokenizer Output Tokens",
    "Intended TTFT 50%",
    "Intended TTFT 95%",
    "Intended TTFT 99%",
];

fn cells<const N: usize>(values: Option<[f64; N]>) -> Vec<String> {
    match values {
        Some(v) => v.iter().map(|&x| ms(x)).collect(),
        None => vec!["N/A".to_string(); N],
    }
}

fn row(l: &LlmLine) -> Vec<String> {
    let mut row = vec![
        l.method.clone(),
        l.name.clone(),
        l.requests.to_string(),
        l.input_tokens.to_string(),
        l.output_tokens.to_string(),
        format!("{:.3}", l.output_tokens_per_s),
    ];
    row.extend(cells(l.ttft_ms));
    row.extend(cells(l.tpot_ms));
    row.extend(cells(l.itl_ms));
    row.push(l.goodput_per_s.map_or("N/A".into(), |g| format!("{g:.3}")));
    row.push(
        l.goodput_ratio
            .map_or("N/A".into(), |g| format!("{:.2}", g * 100.0)),
    );
    row.push(l.counts.clone());
    row.push(l.requests.to_string());
    // The tokenizer's count beside the server's usage, when both were there.
    let (input, output) = l
        .tokenizer_tokens
        .map_or(("N/A".into(), "N/A".into()), |(i, o)| {
            (i.to_string(), o.to_string())
        });
    row.push(input);
    row.push(output);
    row.extend(cells(l.intended_ttft_ms));
    row
}

/// Writes the file when the run called an LLM; `None` otherwise.
pub fn write_llm_stats(result: &RunResult, path: &Path) -> Result<Option<PathBuf>, ReportError> {
    let lines = llm_lines(result);
    if lines.is_empty() {
        return Ok(None);
    }
    write_csv(path, &LLM_HEADER, lines.iter().map(row)).map(Some)
}
