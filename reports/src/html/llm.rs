//! The report's LLM section: tokens, time to first token, time per output token, gaps between
//! content chunks and goodput, per request name (see `tokens` for the definitions), with the
//! goodput as a headline figure.
use std::fmt::Write;

use super::{captions, chart_block, esc, kpi, thousands};
use crate::charts::tokens::{output_tokens_over_time, tpot_over_time, ttft_over_time};
use crate::error::ReportError;
use crate::llm_table::{llm_lines, LlmLine};
use crate::model::RunResult;

const NOTE: &str = "TTFT counts from the send to the first content chunk (a role-only first chunk is not a token); in the open model, intended TTFT counts from when the arrival was due, so it includes waiting to be sent. TPOT is each answer's (last content chunk − TTFT) / (output tokens − 1); ITL is every gap between consecutive content chunks (a chunk of several tokens is one gap, as vLLM records it). Goodput is the answers per second that met all of their request's objectives (ttft_ms, tpot_ms, e2e_ms). Counts says where the token counts came from: the server's usage, a --tokenizer, or an estimate (whitespace-separated words); with both usage and a tokenizer, the tokenizer's counts are shown beside.";

fn cell(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |x| format!("{x:.1}"))
}

/// The section, or nothing when no request called an LLM.
pub(super) fn section(result: &RunResult) -> Result<String, ReportError> {
    let lines = llm_lines(result);
    if lines.is_empty() {
        return Ok(String::new());
    }
    let mut h = String::from("<h2>LLM</h2>");
    if let Some(total) = lines.last() {
        let mut kpis = vec![
            kpi(
                &format!("{:.1}", total.output_tokens_per_s),
                "output tokens/s",
            ),
            kpi(&cell(total.ttft_ms.map(|t| t[1])), "TTFT p95 ms"),
        ];
        if let Some(intended) = total.intended_ttft_ms {
            kpis.push(kpi(
                &format!("{:.1}", intended[1]),
                "TTFT p95 ms from the intended send",
            ));
        }
        kpis.extend([kpi(&cell(total.tpot_ms.map(|t| t[1])), "TPOT p95 ms")]);
        if let (Some(per_s), Some(ratio)) = (total.goodput_per_s, total.goodput_ratio) {
            kpis.push(kpi(
                &format!("{per_s:.2}/s"),
                &format!("goodput ({:.1} % of judged answers)", ratio * 100.0),
            ));
        }
        let _ = write!(h, "<div class=\"kpis\">{}</div>", kpis.concat());
    }
    h.push_str("<table><tr><th>Name</th><th>Requests</th><th>Input tokens</th><th>Output tokens</th><th>Output tokens/s</th><th>TTFT p50 ms</th><th>TTFT p95 ms</th><th>TTFT p99 ms</th><th>Intended TTFT p95 ms</th><th>TPOT p50 ms</th><th>TPOT p95 ms</th><th>TPOT p99 ms</th><th>ITL p50 ms</th><th>ITL p99 ms</th><th>Goodput %</th><th>Counts</th></tr>");
    for l in &lines {
        row(&mut h, l);
    }
    let _ = write!(h, "</table><p class=\"note\">{}</p>", esc(NOTE));
    let any =
        |f: fn(&crate::tokens::TokenStats) -> bool| result.series.iter().any(|s| f(&s.tokens));
    if any(|t| !t.ttft.is_empty()) {
        chart_block(&mut h, &ttft_over_time(result)?, captions::TTFT);
    }
    if any(|t| !t.tpot.is_empty()) {
        chart_block(&mut h, &tpot_over_time(result)?, captions::TPOT);
    }
    if any(|t| t.output_tokens > 0) {
        chart_block(
            &mut h,
            &output_tokens_over_time(result)?,
            captions::OUTPUT_TOKENS,
        );
    }
    Ok(h)
}

fn row(h: &mut String, l: &LlmLine) {
    let q = |v: Option<[f64; 3]>, i: usize| cell(v.map(|v| v[i]));
    let _ = write!(
        h,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(&l.name),
        thousands(l.requests),
        thousands(l.input_tokens),
        thousands(l.output_tokens),
        l.output_tokens_per_s,
        q(l.ttft_ms, 0),
        q(l.ttft_ms, 1),
        q(l.ttft_ms, 2),
        q(l.intended_ttft_ms, 1),
        q(l.tpot_ms, 0),
        q(l.tpot_ms, 1),
        q(l.tpot_ms, 2),
        cell(l.itl_ms.map(|v| v[0])),
        cell(l.itl_ms.map(|v| v[1])),
        cell(l.goodput_ratio.map(|g| g * 100.0)),
        esc(&l.counts_note()),
    );
}
