//! `report.html`: one self-contained page for stakeholders. Inline CSS, inline SVG charts,
//! no scripts and no external resources, so it opens anywhere, offline, and prints well.
use std::fmt::Write;

use crate::capacity::{capacity, CapacityRow};
use crate::charts;
use crate::error::ReportError;
use crate::junit::xml_escape as esc;
use crate::markdown::verdict_line;
use crate::model::{LoadModel, RunResult};

pub mod history;
mod llm;
mod search;
mod stream;

/// Under the charts that show both latencies: what the difference means.
const INTENDED_CAPTION: &str = "Solid: service time, from the actual send. Dashed: intended-time latency, from when the request should have been sent, so it includes the time a request waited to be sent; service time alone hides that wait (coordinated omission).";

/// What to read from each chart: one line under it.
pub(crate) mod captions {
    pub const CAPACITY: &str = "Read: throughput should rise with users while p95 stays under the SLA line; the knee is where requests/s flattens and p95 climbs.";
    pub const USERS_AND_RPS: &str = "Read: requests/s should follow the users; requests/s flat while users rise means the target is saturated.";
    pub const LATENCY_OVER_TIME: &str = "Read: the lines should stay flat and under the SLA line; a spike shows when latency broke.";
    pub const ERRORS_OVER_TIME: &str = "Read: any red area is requests failing at that moment; a purple line is load the generator could not even send.";
    pub const SPECTRUM: &str = "Read: the right end is the tail (the slowest 1 %, 0.1 %, 0.01 % of requests); a steep rise there means rare but severe slowness.";
    pub const TTFT: &str = "Read: how long users waited for the first token, counted from the send (solid) and, in the open model, from when the arrival was due (dashed: includes waiting to be sent). A rising TTFT with a flat TPOT means requests queue for the model.";
    pub const TPOT: &str = "Read: the time per output token while answers were written. A rising TPOT means the model's decode slows under load (more streams share it).";
    pub const OUTPUT_TOKENS: &str = "Read: output tokens of the answers that finished in each second. Flat while the load grows means the model server is saturated.";
    pub const STREAM: &str = "Read: the solid lines are how long users waited for answers to start; the dashed line is the longest stalls while answers were written. Rising lines mean the platform is queueing or slowing its generation.";
    pub const PER_REQUEST: &str = "Read: the longest red bars are the requests with the worst tail latency: look there first.";
}

/// A chart and its caption.
pub(crate) fn chart_block(h: &mut String, svg: &str, caption: &str) {
    let _ = write!(
        h,
        "<figure class=\"chart\">{svg}<figcaption class=\"note\">{}</figcaption></figure>",
        esc(caption)
    );
}

/// One sentence on dropped arrivals, for every place failures are shown.
fn dropped_sentence(result: &RunResult) -> String {
    format!(
        "{} arrivals dropped ({:.2} % of offered arrivals): the open model did not send them because max_in_flight requests were already outstanding.",
        thousands(result.dropped_arrivals),
        result.dropped_rate() * 100.0
    )
}

pub(crate) fn kpi(value: &str, label: &str) -> String {
    format!("<div class=\"kpi\"><b>{value}</b><span>{label}</span></div>")
}

pub(crate) const STYLE: &str = "
body{font-family:'Liberation Sans','DejaVu Sans',Helvetica,Arial,sans-serif;margin:0;color:#222;background:#f6f7f9}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px} h2{font-size:19px;margin:32px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin-bottom:16px}
.verdict{font-size:20px;font-weight:bold;padding:14px 18px;border-radius:6px;margin:16px 0}
.pass{background:#e3f4e3;color:#1b5e20;border:1px solid #a5d6a7}.fail{background:#fdecea;color:#b71c1c;border:1px solid #ef9a9a}
.warn{background:#fff8e1;color:#8d6e00;border:1px solid #ffe082}
.kpis{display:flex;gap:10px;flex-wrap:wrap;margin:12px 0}.kpi{flex:1;background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:10px 12px;min-width:96px}
.kpi b{display:block;font-size:20px}.kpi span{color:#666;font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #e0e0e0;padding:5px 8px;text-align:right}th{background:#eef1f5}
td:first-child,th:first-child{text-align:left}td.l,th.l{text-align:left}
table.meta td:first-child{width:180px;color:#555}
.ok{color:#1b5e20;font-weight:bold}.bad{color:#b71c1c;font-weight:bold}
.chart{background:#fff;border:1px solid #e0e0e0;border-radius:6px;margin:10px 0;padding:4px}
figure.chart{margin:10px 0 18px}figcaption{padding:2px 8px 6px}
.chart svg{width:100%;height:auto;display:block}
.note{color:#555;font-size:13px}
";

fn status_cell(row: &CapacityRow) -> String {
    let class = match (row.has_data(), row.slas_held) {
        (false, _) => "note",
        (true, true) => "ok",
        (true, false) => "bad",
    };
    format!("<td class=\"{class} l\">{}</td>", esc(&row.status()))
}

/// 57000 → "57,000": counts a reader can take in at a glance.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let first = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = digits[..first].to_string();
    for group in digits.as_bytes()[first..].chunks(3) {
        out.push(',');
        out.push_str(std::str::from_utf8(group).expect("ASCII digits"));
    }
    out
}

fn pass_cell(passed: bool) -> &'static str {
    if passed {
        "<td class=\"ok\">pass</td>"
    } else {
        "<td class=\"bad\">FAIL</td>"
    }
}

pub fn render(result: &RunResult) -> Result<String, ReportError> {
    let m = &result.metadata;
    let overall = result.overall();
    let cap = capacity(result);
    let mut h = String::with_capacity(256 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Skein report: {}</title><style>{STYLE}</style></head><body><main>",
        esc(&m.scenario_name)
    );
    let _ = write!(
        h,
        "<h1>Load test report: {}</h1><div class=\"sub\">{} → {} UTC against <code>{}</code>, {} load model</div>",
        esc(&m.scenario_name),
        m.started_at.format("%Y-%m-%d %H:%M:%S"),
        m.ended_at.format("%H:%M:%S"),
        esc(&m.host),
        m.load_model.as_str()
    );
    let class = if m.interrupted || m.partial {
        "warn"
    } else if search::passed(result) {
        "pass"
    } else {
        "fail"
    };
    let _ = write!(
        h,
        "<div class=\"verdict {class}\">{}</div>",
        esc(&verdict_line(result))
    );
    h.push_str(&search::section(result)?);
    let has_intended = result.has_intended();
    let has_dropped = result.dropped_arrivals > 0 || m.load_model == LoadModel::Open;
    let ms = |v: f64| format!("{v:.1} ms");
    let mut kpis = vec![
        kpi(&thousands(overall.requests), "requests"),
        kpi(&format!("{:.1}", result.rps()), "requests/s"),
        kpi(&format!("{:.2} %", overall.error_rate() * 100.0), "failed"),
    ];
    if has_dropped {
        kpis.push(kpi(&thousands(result.dropped_arrivals), "arrivals dropped"));
    }
    kpis.extend([
        kpi(&ms(overall.latency.value_at_quantile(0.5)), "p50"),
        kpi(&ms(overall.latency.value_at_quantile(0.95)), "p95"),
        kpi(&ms(overall.latency.value_at_quantile(0.99)), "p99"),
    ]);
    if has_intended {
        let intended = overall.intended();
        kpis.push(kpi(
            &ms(intended.value_at_quantile(0.95)),
            "p95 intended-time",
        ));
        kpis.push(kpi(
            &ms(intended.value_at_quantile(0.99)),
            "p99 intended-time",
        ));
    }
    if result.has_streams() {
        kpis.push(kpi(
            &ms(overall.stream.ttfc.value_at_quantile(0.95)),
            "p95 time to first chunk",
        ));
    }
    if result.has_items() {
        kpis.push(kpi(
            &format!("{:.1}", overall.items as f64 / result.duration_secs()),
            "items/s",
        ));
    }
    kpis.push(kpi(&format!("{:.0} s", result.duration_secs()), "duration"));
    let _ = write!(h, "<div class=\"kpis\">{}</div>", kpis.concat());

    h.push_str("<h2>Service level objectives</h2><table><tr><th>Threshold</th><th>Limit</th><th>Measured</th><th>Result</th></tr>");
    for v in &result.slas {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            esc(&v.describe()),
            esc(&v.threshold.metric.format(v.threshold.limit)),
            esc(&v.measured_text()),
            pass_cell(v.passed)
        );
    }
    if result.slas.is_empty() {
        h.push_str("<tr><td colspan=\"4\" class=\"note\">No SLA thresholds were set for this scenario: nothing to pass or fail.</td></tr>");
    }
    h.push_str("</table>");

    if !cap.rows.is_empty() && result.capacity_search.is_none() {
        let _ = write!(h, "<h2>Capacity</h2><p><b>{}</b></p>", esc(&cap.verdict()));
        let intended_th = if has_intended {
            "<th>p95 intended ms</th>"
        } else {
            ""
        };
        let dropped_th = if has_dropped { "<th>Dropped</th>" } else { "" };
        let _ = write!(h, "<table><tr><th>Stage</th><th>Users</th><th>Req/s</th><th>Avg ms</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>{intended_th}<th>Success rate</th>{dropped_th}<th class=\"l\">SLAs</th></tr>");
        for r in &cap.rows {
            let intended = match (has_intended, r.intended_p95_ms) {
                (false, _) => String::new(),
                (true, Some(v)) => format!("<td>{v:.1}</td>"),
                (true, None) => "<td>–</td>".to_string(),
            };
            let dropped = if has_dropped {
                format!(
                    "<td>{} ({:.2} %)</td>",
                    thousands(r.dropped),
                    r.dropped_rate * 100.0
                )
            } else {
                String::new()
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td>{intended}<td>{:.2} %</td>{dropped}{}</tr>",
                r.stage + 1, r.offered_text(), r.rps, r.avg_ms, r.p50_ms, r.p95_ms, r.p99_ms, r.success_rate * 100.0,
                status_cell(r)
            );
        }
        h.push_str("</table><p class=\"note\">A stage's SLAs are the all-request latency and error-rate thresholds measured on that stage alone, ramp included.</p>");
        if cap.rows.len() > 1 {
            chart_block(
                &mut h,
                &charts::capacity_chart(result, &cap)?,
                captions::CAPACITY,
            );
        }
    }

    let with_intended = |caption: &str| {
        if has_intended {
            format!("{caption} {INTENDED_CAPTION}")
        } else {
            caption.to_string()
        }
    };
    h.push_str("<h2>Over time</h2>");
    for (chart, caption) in [
        (
            charts::users_and_rps(result)?,
            captions::USERS_AND_RPS.to_string(),
        ),
        (
            charts::latency_over_time(result)?,
            with_intended(captions::LATENCY_OVER_TIME),
        ),
        (
            charts::error_rate_over_time(result)?,
            captions::ERRORS_OVER_TIME.to_string(),
        ),
    ] {
        chart_block(&mut h, &chart, &caption);
    }
    h.push_str("<h2>Latency distribution</h2>");
    chart_block(
        &mut h,
        &charts::percentile_spectrum(result)?,
        &with_intended(captions::SPECTRUM),
    );
    if !result.requests.is_empty() {
        chart_block(&mut h, &charts::per_request(result)?, captions::PER_REQUEST);
    }

    let intended_th = if has_intended {
        "<th>p95 intended ms</th><th>p99 intended ms</th>"
    } else {
        ""
    };
    let _ = write!(h, "<h2>Requests</h2><table><tr><th>Name</th><th class=\"l\">Method</th><th>Requests</th><th>Failures</th><th>Req/s</th><th>Avg ms</th><th>Min ms</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>Max ms</th>{intended_th}<th>Avg bytes</th></tr>");
    let duration = result.duration_secs();
    for r in result.requests.iter().chain(std::iter::once(&overall)) {
        let intended = if has_intended {
            let view = r.intended();
            format!(
                "<td>{:.1}</td><td>{:.1}</td>",
                view.value_at_quantile(0.95),
                view.value_at_quantile(0.99)
            )
        } else {
            String::new()
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td>{intended}<td>{:.0}</td></tr>",
            esc(&r.name), esc(&r.method), thousands(r.requests), thousands(r.failures), r.requests as f64 / duration,
            r.latency.mean(), r.latency.min(), r.latency.value_at_quantile(0.5),
            r.latency.value_at_quantile(0.95), r.latency.value_at_quantile(0.99), r.latency.max(),
            r.avg_content_bytes()
        );
    }
    h.push_str("</table><p class=\"note\">Latencies are service time");
    if has_intended {
        h.push_str(
            "; the intended-time columns count from when each request should have been sent",
        );
    }
    h.push_str(".</p>");
    h.push_str(&stream::section(result)?);
    h.push_str(&llm::section(result)?);

    h.push_str("<h2>Failures</h2>");
    if has_dropped {
        let _ = write!(h, "<p><b>{}</b></p>", esc(&dropped_sentence(result)));
    }
    if let Some(skipped) = crate::markdown::skipped_sentence(result) {
        let _ = write!(h, "<p class=\"note\">{}</p>", esc(&skipped));
    }
    if result.failures.is_empty() {
        h.push_str("<p>No failures.</p>");
    } else {
        h.push_str("<table><tr><th>Method</th><th class=\"l\">Name</th><th class=\"l\">Error</th><th>Occurrences</th><th>First seen</th><th>Last seen</th></tr>");
        for f in &result.failures {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.method), esc(&f.name), esc(&f.error), thousands(f.occurrences),
                f.first_seen.format("%H:%M:%S"), f.last_seen.format("%H:%M:%S")
            );
        }
        h.push_str("</table>");
    }

    if !result.workers.is_empty() {
        h.push_str("<h2>Workers</h2><table><tr><th>Worker</th><th class=\"l\">Address</th><th>Requests</th><th>Failures</th><th>Joined</th><th>Lost</th><th>CPU s</th><th>Peak RSS MiB</th></tr>");
        for w in &result.workers {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td></tr>",
                esc(&w.worker_id),
                esc(w.address.as_deref().unwrap_or("")),
                thousands(w.requests),
                thousands(w.failures),
                w.joined_at.format("%H:%M:%S"),
                w.lost_at.map_or("".to_string(), |t| format!("<span class=\"bad\">{}</span>", t.format("%H:%M:%S"))),
                w.resources.cpu_seconds,
                w.resources.peak_rss_bytes as f64 / 1048576.0
            );
        }
        h.push_str("</table>");
    }

    h.push_str("<h2>Run</h2><table class=\"meta\">");
    let mut rows = crate::settings::run_rows(result);
    rows.extend([
        (
            "Generator CPU".to_string(),
            format!(
                "{:.1} s ({:.0} % of one core)",
                result.resources.cpu_seconds,
                100.0 * result.resources.cpu_seconds / duration
            ),
        ),
        (
            "Generator peak RSS".to_string(),
            format!(
                "{:.1} MiB",
                result.resources.peak_rss_bytes as f64 / 1048576.0
            ),
        ),
    ]);
    if let Some(target) = &result.target_resources {
        rows.extend([
            (
                "Embedded target CPU".to_string(),
                format!(
                    "{:.1} s ({:.0} % of one core)",
                    target.cpu_seconds,
                    100.0 * target.cpu_seconds / duration
                ),
            ),
            (
                "Embedded target peak RSS".to_string(),
                format!("{:.1} MiB", target.peak_rss_bytes as f64 / 1048576.0),
            ),
        ]);
    }
    rows.extend([
        ("Interrupted".to_string(), m.interrupted.to_string()),
        ("Partial".to_string(), m.partial.to_string()),
    ]);
    for (k, v) in rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}</td></tr>",
            esc(&k),
            esc(&v)
        );
    }
    h.push_str("</table></main></body></html>\n");
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(57_000), "57,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
