//! `summary.md`: the verdict, SLA table, capacity and top requests, for CI job summaries and
//! PR comments (no links, so it reads the same anywhere it is pasted).
use std::fmt::Write;

use crate::capacity::capacity;
use crate::model::{LoadModel, RunResult};

mod llm;
pub mod search;
mod stream;

pub fn verdict_line(result: &RunResult) -> String {
    let failed = result.slas.iter().filter(|v| !v.passed).count();
    let status = if result.metadata.interrupted {
        "INTERRUPTED"
    } else if failed == 0 {
        "PASSED"
    } else {
        "FAILED"
    };
    let partial = if result.metadata.partial {
        " (partial: some data was lost)"
    } else {
        ""
    };
    if let Some(search) = &result.capacity_search {
        return format!("{}{partial}", search::headline(search));
    }
    if result.slas.is_empty() {
        return format!("{status}: no SLA thresholds were set{partial}");
    }
    format!(
        "{status}: {} of {} SLAs held{partial}",
        result.slas.len() - failed,
        result.slas.len()
    )
}

/// Escapes `|` so a value cannot break a Markdown table.
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// One sentence on the requests of declared classes not sent for want of a capture (`None`
/// when there were none), shown where failures are (here and in `report.html`): they are
/// neither.
pub(crate) fn skipped_sentence(result: &RunResult) -> Option<String> {
    let each: Vec<String> = result
        .skipped_requests
        .iter()
        .map(|s| format!("{} {} {}", s.class, s.name, s.count))
        .collect();
    let total = result.skipped_total();
    (total > 0).then(|| {
        format!(
            "{total} requests not sent because a capture they use was not made yet ({}): counted neither as requests nor as failures.",
            each.join(", ")
        )
    })
}

pub fn render(result: &RunResult) -> String {
    let m = &result.metadata;
    let overall = result.overall();
    let mut out = String::new();
    let _ = writeln!(out, "# Skein run: {}\n", cell(&m.scenario_name));
    let _ = writeln!(out, "**{}**\n", verdict_line(result));
    out.push_str(
        &result
            .capacity_search
            .as_ref()
            .map_or(String::new(), search::section),
    );
    let _ = writeln!(
        out,
        "{} requests, {} failures ({:.2} %), {:.1} req/s over {:.0} s against `{}` ({} load model).\n",
        overall.requests,
        overall.failures,
        overall.error_rate() * 100.0,
        result.rps(),
        result.duration_secs(),
        cell(&m.host),
        m.load_model.as_str()
    );
    let has_intended = result.has_intended();
    let has_dropped = result.dropped_arrivals > 0 || m.load_model == LoadModel::Open;
    if has_dropped {
        let _ = writeln!(
            out,
            "{} arrivals dropped ({:.2} % of offered arrivals): not sent because `max_in_flight` requests were outstanding.\n",
            result.dropped_arrivals,
            result.dropped_rate() * 100.0
        );
    }
    if let Some(skipped) = skipped_sentence(result) {
        let _ = writeln!(out, "{}\n", cell(&skipped));
    }
    let p = |h: &crate::LatencyHistogram| {
        format!(
            "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.95),
            h.value_at_quantile(0.99)
        )
    };
    let _ = writeln!(out, "Service time: {}.", p(&overall.latency));
    if has_intended {
        let _ = writeln!(
            out,
            "Intended-time latency (from when each request should have been sent, so including the wait to be sent): {}.",
            p(&overall.intended())
        );
    }
    out.push('\n');
    if !result.slas.is_empty() {
        let _ = writeln!(out, "| SLA | Measured | Result |\n|---|---:|:---:|");
    }
    for v in &result.slas {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            cell(&v.describe()),
            v.measured_text(),
            if v.passed { "pass" } else { "**FAIL**" }
        );
    }
    if result.stages.len() > 1 && result.capacity_search.is_none() {
        let cap = capacity(result);
        let _ = writeln!(out, "\n## Capacity\n\n{}\n", cap.verdict());
        let _ = writeln!(
            out,
            "| Stage | Offered | Req/s | Avg ms | p50 ms | p95 ms | p99 ms | p95 intended ms | Success | Dropped | SLAs |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"
        );
        for r in &cap.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.2} % | {} | {} |",
                r.stage + 1,
                r.offered_text(),
                r.rps,
                r.avg_ms,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                r.intended_p95_ms
                    .map_or("–".to_string(), |v| format!("{v:.1}")),
                r.success_rate * 100.0,
                r.dropped,
                r.status()
            );
        }
    }
    let mut top = result.requests.clone();
    top.sort_by_key(|r| std::cmp::Reverse(r.requests));
    let (intended_head, intended_rule) = if has_intended {
        (" p95 intended ms | p99 intended ms |", "---:|---:|")
    } else {
        ("", "")
    };
    let _ = writeln!(out, "\n## Top requests\n\n| Name | Requests | Failures | p50 ms | p95 ms | p99 ms |{intended_head}\n|---|---:|---:|---:|---:|---:|{intended_rule}");
    for r in top.iter().take(10) {
        let intended = if has_intended {
            let view = r.intended();
            format!(
                " {:.1} | {:.1} |",
                view.value_at_quantile(0.95),
                view.value_at_quantile(0.99)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} |{intended}",
            cell(&r.name),
            r.requests,
            r.failures,
            r.latency.value_at_quantile(0.5),
            r.latency.value_at_quantile(0.95),
            r.latency.value_at_quantile(0.99)
        );
    }
    out.push_str(&stream::section(result));
    out.push_str(&llm::section(result));
    if !result.failures.is_empty() {
        let _ = writeln!(
            out,
            "\n## Failures\n\n| Method | Name | Error | Occurrences |\n|---|---|---|---:|"
        );
        for f in result.failures.iter().take(10) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&f.method),
                cell(&f.name),
                cell(&f.error),
                f.occurrences
            );
        }
    }
    out
}
