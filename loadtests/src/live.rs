//! What a person watching the run sees: a live line every few seconds on stderr, and the
//! summary table on stdout at the end.
use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reports::RunResult;

use crate::recorder::Recorder;
use crate::scenario::format_duration;

/// Prints a live line every `every` until aborted: elapsed/ETA, users, rps (last interval),
/// failures, and cumulative p50/p95/p99.
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
            eprintln!(
                "[{} / {}, ETA {}] users {:>4} | {:>7.1} req/s | failures {} ({:.2} %) | p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms",
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
            );
        }
    })
}

/// The final table: one row per request name plus the aggregate, then the SLA verdicts.
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
    for r in result.requests.iter().chain(std::iter::once(&overall)) {
        let _ = writeln!(
            out,
            "{:<32} {:>9} {:>8} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            r.name,
            r.requests,
            r.failures,
            r.requests as f64 / duration,
            r.latency.mean(),
            r.latency.value_at_quantile(0.50),
            r.latency.value_at_quantile(0.95),
            r.latency.value_at_quantile(0.99),
            r.latency.max(),
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
            "  [{}] {}: measured {}",
            if v.passed { "PASS" } else { "FAIL" },
            v.threshold.describe(),
            v.threshold.metric.format(v.measured)
        );
    }
    let _ = writeln!(
        out,
        "\nGenerator: {:.1} CPU s, peak RSS {:.1} MiB, {:.0} s run",
        result.resources.cpu_seconds,
        result.resources.peak_rss_bytes as f64 / (1024.0 * 1024.0),
        duration
    );
    out
}
