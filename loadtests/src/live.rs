//! What a person watching the run sees: a live line every few seconds on stderr, and the
//! summary table on stdout at the end.
use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reports::{LatencyHistogram, LoadModel, RequestStats, RunResult};

use crate::recorder::Recorder;
use crate::scenario::format_duration;

/// Prints a live line every `every` until aborted: elapsed/ETA, users (open model: arrivals
/// in flight), rps (last interval), failures, dropped arrivals, and cumulative p50/p95/p99 of
/// service time with the intended-time p99 beside it.
pub fn spawn_live_line(
    recorder: Arc<Recorder>,
    run_time: Duration,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        let mut last_requests = 0u64;
        loop {
            tick.tick().await;
            // No series needed: a tail of 0 seconds copies none of it.
            let (requests, _, _) = recorder.totals_with_tail(Some(0));
            let mut total = reports::RequestStats::new("", "");
            requests.iter().for_each(|r| total.add(r));
            let elapsed = started.elapsed();
            let rps = (total.requests - last_requests) as f64 / every.as_secs_f64();
            last_requests = total.requests;
            let dropped = recorder.dropped_arrivals();
            let dropped = if dropped > 0 {
                format!(" | dropped {dropped}")
            } else {
                String::new()
            };
            eprintln!(
                "[{} / {}, ETA {}] users {:>4} | {:>7.1} req/s | failures {} ({:.2} %){dropped} | p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms (intended {:.1} ms)",
                format_duration(elapsed),
                format_duration(run_time),
                format_duration(run_time.saturating_sub(elapsed)),
                recorder.active_users(),
                rps,
                total.failures,
                total.error_rate() * 100.0,
                total.latency.value_at_quantile(0.50),
                total.latency.value_at_quantile(0.95),
                total.latency.value_at_quantile(0.99),
                total.intended().value_at_quantile(0.99),
            );
        }
    })
}

/// The final table: one row per request name plus the aggregate (service time, as Locust
/// shows it), then intended-time latency where it differs, dropped arrivals, failures and
/// the SLA verdicts.
pub fn summary_table(result: &RunResult) -> String {
    let mut out = String::new();
    let duration = result.duration_secs();
    let _ = writeln!(
        out,
        "{:<32} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "Name", "Requests", "Fails", "Req/s", "Avg ms", "p50 ms", "p95 ms", "p99 ms", "Max ms"
    );
    let _ = writeln!(out, "{}", "-".repeat(110));
    let overall = result.overall();
    let rows: Vec<&RequestStats> = result.requests.iter().chain([&overall]).collect();
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<32} {:>9} {:>8} {:>8.1} {}",
            r.name,
            r.requests,
            r.failures,
            r.requests as f64 / duration,
            latency_cells(&r.latency),
        );
    }
    if differs(&overall) {
        let _ = writeln!(
            out,
            "\nLatency from the intended send time (includes waiting to be sent: coordinated omission corrected):"
        );
        for r in &rows {
            let _ = writeln!(
                out,
                "{:<32} {:>9} {:>8} {:>8} {}",
                r.name,
                "",
                "",
                "",
                latency_cells(&r.intended()),
            );
        }
    }
    let streams = reports::stream_table::stream_lines(result);
    if !streams.is_empty() {
        let _ = writeln!(
            out,
            "\nStreaming and items (time to first chunk, gaps between chunks, ms):\n{:<32} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "Name", "Items", "Items/s", "Streams", "TTFC p50", "TTFC p95", "Gap p50", "Gap p99"
        );
        for l in &streams {
            let _ = writeln!(
                out,
                "{:<32} {:>9} {:>9.1} {:>8} {:>9} {:>9} {:>9} {:>9}",
                l.name,
                l.items,
                l.items_per_s,
                l.streams,
                l.streamed(l.ttfc_ms[0]),
                l.streamed(l.ttfc_ms[1]),
                l.streamed(l.gap_ms[0]),
                l.streamed(l.gap_ms[2])
            );
        }
    }
    let llm = reports::llm_table::llm_lines(result);
    if !llm.is_empty() {
        let _ = writeln!(
            out,
            "\nLLM (time to first token, time per output token, gaps between chunks, ms):\n{:<32} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "Name", "In tok", "Out tok", "Out tok/s", "TTFT p50", "TTFT p95", "TPOT p50", "TPOT p95", "ITL p99", "Goodput %"
        );
        let cell = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.1}"));
        for l in &llm {
            let _ = writeln!(
                out,
                "{:<32} {:>9} {:>9} {:>10.1} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
                l.name,
                l.input_tokens,
                l.output_tokens,
                l.output_tokens_per_s,
                cell(l.ttft_ms.map(|t| t[0])),
                cell(l.ttft_ms.map(|t| t[1])),
                cell(l.tpot_ms.map(|t| t[0])),
                cell(l.tpot_ms.map(|t| t[1])),
                cell(l.itl_ms.map(|t| t[1])),
                cell(l.goodput_ratio.map(|g| g * 100.0)),
            );
        }
        if let Some(intended) = llm.last().and_then(|l| l.intended_ttft_ms) {
            let _ = writeln!(
                out,
                "TTFT from the intended send (includes waiting to be sent): p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms",
                intended[0], intended[1], intended[2]
            );
        }
        if llm.iter().any(|l| l.estimated) {
            let _ = writeln!(
                out,
                "(token counts estimated by Skein, whitespace-separated words, where the server sent no usage)"
            );
        }
        for l in llm
            .iter()
            .filter(|l| l.counts != "usage" || l.tokenizer_tokens.is_some())
        {
            let _ = writeln!(out, "  {} token counts: {}", l.name, l.counts_note());
        }
    }
    if result.dropped_arrivals > 0 || result.metadata.load_model == LoadModel::Open {
        let _ = writeln!(
            out,
            "\nDropped arrivals (max_in_flight reached): {} ({:.2} % of offered)",
            result.dropped_arrivals,
            result.dropped_rate() * 100.0
        );
    }
    if !result.failures.is_empty() {
        let _ = writeln!(out, "\nFailures:");
        for f in result.failures.iter().take(10) {
            let _ = writeln!(
                out,
                "  {:>7}x {} {}: {}",
                f.occurrences, f.method, f.name, f.error
            );
        }
    }
    let _ = writeln!(out, "\nSLAs:");
    for v in &result.slas {
        let _ = writeln!(
            out,
            "  [{}] {}: {}",
            if v.passed { "PASS" } else { "FAIL" },
            v.describe(),
            v.measured_phrase()
        );
    }
    let _ = writeln!(
        out,
        "\nGenerator: {:.1} CPU s, peak RSS {:.1} MiB, {:.0} s run",
        result.resources.cpu_seconds,
        result.resources.peak_rss_bytes as f64 / (1024.0 * 1024.0),
        duration
    );
    if let Some(target) = &result.target_resources {
        let _ = writeln!(
            out,
            "Embedded target (a separate process): {:.1} CPU s, peak RSS {:.1} MiB",
            target.cpu_seconds,
            target.peak_rss_bytes as f64 / (1024.0 * 1024.0)
        );
    }
    out
}

fn latency_cells(h: &LatencyHistogram) -> String {
    format!(
        "{:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        h.mean(),
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.95),
        h.value_at_quantile(0.99),
        h.max(),
    )
}

/// Whether intended-time latency tells something the service time does not: its p50, p95 or
/// p99 is more than 5 % (and 1 ms) above the service time's.
fn differs(r: &RequestStats) -> bool {
    let intended = r.intended();
    !intended.is_empty()
        && [0.5, 0.95, 0.99].into_iter().any(|q| {
            let (service, intended) = (
                r.latency.value_at_quantile(q),
                intended.value_at_quantile(q),
            );
            intended > service * 1.05 && intended - service > 1.0
        })
}
