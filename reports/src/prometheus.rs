//! Prometheus text exposition (format 0.0.4) of a [`LiveSnapshot`]: what `/metrics` serves.
//!
//! Names follow Prometheus' conventions: a `skein_` prefix, base units (seconds, bytes),
//! `_total` on counters, one metric family per meaning (service time and intended-time
//! latency are two histograms, not one with a label, so summing a family never mixes them).
//!
//! Latency is a classic histogram whose bucket bounds are the E12 series (1, 1.2, 1.5, 1.8,
//! 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2 per decade) from 100 µs to 82 s: neighbouring bounds
//! are at most 25 % apart, so `histogram_quantile(0.99, ...)` interpolates within the bucket
//! of the exact p99, at most 25 % from it (usually about half that) anywhere in that range (a
//! test checks it against the HDR value), and 73 buckets per name stay cheap to scrape. The bucket counts come from the exact HDR
//! histograms, so they never disagree with the final results.
use std::fmt::Write;

use crate::live::LiveSnapshot;
use crate::model::LatencyHistogram;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The E12 series: neighbouring values at most 25 % apart (1.2 → 1.5).
const E12: [f64; 12] = [1.0, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2];

/// Upper bucket bounds in seconds (the `le` labels), ascending, `+Inf` excluded.
pub fn bucket_bounds() -> Vec<f64> {
    (-4..=1)
        .flat_map(|decade| E12.map(|m| m * 10f64.powi(decade)))
        .collect()
}

/// `le` label text: "0.0001", "0.0012", "82" — short, and the same on every scrape.
fn le_text(seconds: f64) -> String {
    let text = format!("{seconds:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A label value with `\`, `"` and newlines escaped as the format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Cumulative counts of `h` at each bound (microseconds), then the total for `+Inf`.
fn cumulative_counts(h: &LatencyHistogram, bounds_micros: &[u64]) -> Vec<u64> {
    let mut per_bucket = vec![0u64; bounds_micros.len() + 1];
    if !h.is_empty() {
        for v in h.dense().iter_recorded() {
            let micros = v.value_iterated_to();
            let i = bounds_micros.partition_point(|&b| b < micros);
            per_bucket[i] += v.count_at_value();
        }
    }
    let mut running = 0;
    per_bucket
        .into_iter()
        .map(|c| {
            running += c;
            running
        })
        .collect()
}

fn histogram(
    out: &mut String,
    name: &str,
    series: &[(String, &LatencyHistogram)],
    bounds: &[(f64, String)],
) {
    let micros: Vec<u64> = bounds
        .iter()
        .map(|(s, _)| (s * 1e6).round() as u64)
        .collect();
    for (labels, h) in series {
        let counts = cumulative_counts(h, &micros);
        for ((_, le), count) in bounds.iter().zip(&counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {count}");
        }
        let total = counts.last().copied().unwrap_or(0);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {total}");
        let sum = if total == 0 {
            0.0
        } else {
            h.mean() / 1000.0 * total as f64
        };
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {total}");
    }
}

/// How a per-name counter is read from a name's stats.
type Count = fn(&crate::model::RequestStats) -> u64;
/// Which of a name's two latency histograms a family shows.
type Latency = fn(&crate::model::RequestStats) -> &LatencyHistogram;

/// The whole exposition of `snapshot`.
pub fn render(snapshot: &LiveSnapshot) -> String {
    let mut out = String::with_capacity(8 * 1024 + snapshot.requests.len() * 12 * 1024);
    let bounds: Vec<(f64, String)> = bucket_bounds()
        .into_iter()
        .map(|b| (b, le_text(b)))
        .collect();
    let names: Vec<String> = snapshot
        .requests
        .iter()
        .map(|r| {
            format!(
                "method=\"{}\",name=\"{}\"",
                label(&r.method),
                label(&r.name)
            )
        })
        .collect();

    family(
        &mut out,
        "skein_run_info",
        "gauge",
        "The run being measured (always 1).",
    );
    let _ = writeln!(
        out,
        "skein_run_info{{scenario=\"{}\",load_model=\"{}\",version=\"{}\"}} 1",
        label(&snapshot.scenario),
        snapshot.load_model.as_str(),
        env!("CARGO_PKG_VERSION")
    );
    family(
        &mut out,
        "skein_run_start_time_seconds",
        "gauge",
        "When the run started, in seconds since the Unix epoch.",
    );
    let _ = writeln!(
        out,
        "skein_run_start_time_seconds {}",
        snapshot.started_at.timestamp()
    );
    family(
        &mut out,
        "skein_active_users",
        "gauge",
        "Users running now.",
    );
    let _ = writeln!(out, "skein_active_users {}", snapshot.active_users);

    let counters: [(&str, &str, Count); 3] = [
        (
            "skein_requests_total",
            "Requests completed, by request name.",
            |r| r.requests,
        ),
        (
            "skein_request_failures_total",
            "Requests that failed, by request name.",
            |r| r.failures,
        ),
        (
            "skein_response_bytes_total",
            "Response body bytes received, by request name.",
            |r| r.content_bytes,
        ),
    ];
    for (name, help, value) in counters {
        family(&mut out, name, "counter", help);
        for (labels, r) in names.iter().zip(&snapshot.requests) {
            let _ = writeln!(out, "{name}{{{labels}}} {}", value(r));
        }
    }
    family(
        &mut out,
        "skein_dropped_arrivals_total",
        "counter",
        "Open-model arrivals not sent because max_in_flight requests were outstanding (0 in the closed model).",
    );
    let _ = writeln!(
        out,
        "skein_dropped_arrivals_total {}",
        snapshot.dropped_arrivals
    );

    let last = snapshot.last_second.as_ref();
    for (name, help, value) in [
        (
            "skein_requests_per_second",
            "Requests completed in the last finished second.",
            last.map_or(0, |s| s.requests),
        ),
        (
            "skein_failures_per_second",
            "Requests failed in the last finished second.",
            last.map_or(0, |s| s.failures),
        ),
        (
            "skein_dropped_arrivals_per_second",
            "Arrivals dropped in the last finished second.",
            last.map_or(0, |s| s.dropped),
        ),
    ] {
        family(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }

    let latencies: [(&str, &str, Latency); 2] = [
        (
            "skein_request_duration_seconds",
            "Service time: from the actual send to the last byte of the response.",
            |r| &r.latency,
        ),
        (
            "skein_request_intended_duration_seconds",
            "Intended-time latency as recorded: from when the request should have been sent (in the closed model with the sends a stall held back, so it may count more samples than requests).",
            |r| &r.intended_samples,
        ),
    ];
    for (name, help, latency) in latencies {
        family(&mut out, name, "histogram", help);
        let series: Vec<(String, &LatencyHistogram)> = names
            .iter()
            .cloned()
            .zip(snapshot.requests.iter().map(latency))
            .collect();
        histogram(&mut out, name, &series, &bounds);
    }
    // LLM answers: only the names that called an LLM.
    let llm: Vec<(&String, &crate::model::RequestStats)> = names
        .iter()
        .zip(&snapshot.requests)
        .filter(|(_, r)| !r.tokens.is_empty())
        .collect();
    if !llm.is_empty() {
        let token_counters: [(&str, &str, Count); 2] = [
            (
                "skein_output_tokens_total",
                "Output tokens of successful LLM answers (the server's usage, else Skein's estimate), by request name.",
                |r| r.tokens.output_tokens,
            ),
            (
                "skein_input_tokens_total",
                "Input tokens of successful LLM answers, by request name.",
                |r| r.tokens.input_tokens,
            ),
        ];
        for (name, help, value) in token_counters {
            family(&mut out, name, "counter", help);
            for (labels, r) in &llm {
                let _ = writeln!(out, "{name}{{{labels}}} {}", value(r));
            }
        }
        let token_latencies: [(&str, &str, Latency); 3] = [
            (
                "skein_time_to_first_token_seconds",
                "LLM answers: from the send to the first content chunk.",
                |r| &r.tokens.ttft,
            ),
            (
                "skein_time_per_output_token_seconds",
                "LLM answers: (last content chunk - first) / (output tokens - 1), one per answer.",
                |r| &r.tokens.tpot,
            ),
            (
                "skein_inter_token_latency_seconds",
                "LLM answers: each gap between consecutive content chunks.",
                |r| &r.tokens.itl,
            ),
        ];
        // Only the open model records TTFT from the intended send; a closed run shows no
        // empty family for it.
        let intended: Option<(&str, &str, Latency)> =
            llm.iter().any(|(_, r)| !r.tokens.intended_ttft.is_empty()).then_some((
                "skein_intended_time_to_first_token_seconds",
                "LLM answers (open model): from when the arrival was due to the first content chunk, so it includes waiting to be sent.",
                |r| &r.tokens.intended_ttft,
            ));
        for (name, help, latency) in token_latencies.into_iter().chain(intended) {
            family(&mut out, name, "histogram", help);
            let series: Vec<(String, &LatencyHistogram)> = llm
                .iter()
                .map(|(l, r)| ((*l).clone(), latency(r)))
                .collect();
            histogram(&mut out, name, &series, &bounds);
        }
    }
    if let Some(cpu) = snapshot.cpu_seconds {
        family(
            &mut out,
            "skein_generator_cpu_seconds_total",
            "counter",
            "CPU seconds the generator process used since the run started.",
        );
        let _ = writeln!(out, "skein_generator_cpu_seconds_total {cpu}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LoadModel, RequestStats};

    #[test]
    fn bounds_are_ascending_and_at_most_25_percent_apart() {
        let b = bucket_bounds();
        assert_eq!(b.len(), 72);
        assert!((b[0] - 0.0001).abs() < 1e-12 && (b[71] - 82.0).abs() < 1e-9);
        for w in b.windows(2) {
            assert!(w[1] > w[0] && w[1] / w[0] <= 1.2501, "{w:?}");
        }
        assert_eq!(le_text(0.00012), "0.00012");
        assert_eq!(le_text(82.0), "82");
    }

    #[test]
    fn buckets_are_cumulative_and_labels_escaped() {
        let mut r = RequestStats::new("GET", "a\"b");
        for micros in [500, 1_000, 1_100, 250_000] {
            r.requests += 1;
            r.latency.record(micros);
        }
        let snapshot = LiveSnapshot {
            scenario: "s".into(),
            load_model: LoadModel::Closed,
            started_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            active_users: 2,
            requests: vec![r],
            dropped_arrivals: 7,
            last_second: None,
            cpu_seconds: Some(1.5),
        };
        let text = render(&snapshot);
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_string()
        };
        let labels = "method=\"GET\",name=\"a\\\"b\"";
        assert_eq!(
            line(&format!(
                "skein_request_duration_seconds_bucket{{{labels},le=\"0.00056\"}}"
            )),
            "1"
        );
        assert_eq!(
            line(&format!(
                "skein_request_duration_seconds_bucket{{{labels},le=\"0.001\"}}"
            )),
            "2"
        );
        assert_eq!(
            line(&format!(
                "skein_request_duration_seconds_bucket{{{labels},le=\"0.0012\"}}"
            )),
            "3"
        );
        assert_eq!(
            line(&format!(
                "skein_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}}"
            )),
            "4"
        );
        assert_eq!(line("skein_dropped_arrivals_total"), "7");
        assert_eq!(line("skein_active_users"), "2");
        assert_eq!(line(&format!("skein_requests_total{{{labels}}}")), "4");
    }
}
