//! Baseline comparison: per-request deltas of p50, p95, p99, rps and error rate, and the
//! regressions that exceed their thresholds (the CI regression gate).
//!
//! Latency is compared on intended-time latency when both runs recorded it (it is what users
//! saw, and it does not hide a stall), otherwise on service time; the comparison says which.
use std::collections::BTreeSet;
use std::fmt::Write;

use crate::markdown::cell;
use crate::model::{LatencyHistogram, RequestStats, RunResult};
use crate::sla::LatencyBasis;

/// Allowed relative change per metric, as fractions (0.10 = 10 %).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    /// Allowed relative drop of throughput.
    pub rps: f64,
    /// Allowed relative rise of the error rate; a rise under 0.1 percentage point is never a
    /// regression (going from 0.01 % to 0.02 % is noise, not a doubling that matters).
    pub error_rate: f64,
    /// Names with fewer requests than this on either side are shown but not judged.
    pub min_requests: u64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            p50: 0.10,
            p95: 0.10,
            p99: 0.10,
            rps: 0.10,
            error_rate: 0.10,
            min_requests: 20,
        }
    }
}

const ERROR_RATE_FLOOR: f64 = 0.001;

#[derive(Clone, Debug, PartialEq)]
pub struct MetricDelta {
    pub metric: &'static str,
    pub baseline: f64,
    pub current: f64,
    /// (current - baseline) / baseline; infinite when the baseline is 0 and current is not.
    pub change: f64,
    pub regression: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RequestComparison {
    pub name: String,
    pub judged: bool,
    /// The latency the p50/p95/p99 deltas compare.
    pub latency: LatencyBasis,
    pub deltas: Vec<MetricDelta>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub rows: Vec<RequestComparison>,
    /// Request names only one side ran: listed, since a renamed or dropped request would
    /// otherwise vanish from the gate silently.
    pub only_in_baseline: Vec<String>,
    pub only_in_current: Vec<String>,
}

fn change(baseline: f64, current: f64) -> f64 {
    if baseline == 0.0 {
        if current == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        (current - baseline) / baseline
    }
}

/// Intended-time latency when both sides have it, else service time.
fn latencies<'a>(
    b: &'a RequestStats,
    c: &'a RequestStats,
) -> (&'a LatencyHistogram, &'a LatencyHistogram, LatencyBasis) {
    if b.intended.is_empty() || c.intended.is_empty() {
        (&b.latency, &c.latency, LatencyBasis::Service)
    } else {
        (&b.intended, &c.intended, LatencyBasis::Intended)
    }
}

fn compare_stats(
    b: &RequestStats,
    b_secs: f64,
    c: &RequestStats,
    c_secs: f64,
    t: &Tolerances,
) -> RequestComparison {
    let judged = b.requests >= t.min_requests && c.requests >= t.min_requests;
    let mut deltas = Vec::new();
    let (b_latency, c_latency, latency) = latencies(b, c);
    for (metric, q, tol) in [
        ("p50", 0.5, t.p50),
        ("p95", 0.95, t.p95),
        ("p99", 0.99, t.p99),
    ] {
        let (bv, cv) = (
            b_latency.value_at_quantile(q),
            c_latency.value_at_quantile(q),
        );
        let ch = change(bv, cv);
        deltas.push(MetricDelta {
            metric,
            baseline: bv,
            current: cv,
            change: ch,
            regression: judged && ch > tol,
        });
    }
    let (br, cr) = (b.requests as f64 / b_secs, c.requests as f64 / c_secs);
    let ch = change(br, cr);
    deltas.push(MetricDelta {
        metric: "rps",
        baseline: br,
        current: cr,
        change: ch,
        regression: judged && -ch > t.rps,
    });
    let (be, ce) = (b.error_rate(), c.error_rate());
    let ch = change(be, ce);
    deltas.push(MetricDelta {
        metric: "error_rate",
        baseline: be,
        current: ce,
        change: ch,
        regression: judged && ch > t.error_rate && ce - be > ERROR_RATE_FLOOR,
    });
    RequestComparison {
        name: c.name.clone(),
        judged,
        latency,
        deltas,
    }
}

/// Compares every request name present in both runs, plus the aggregate.
pub fn compare(baseline: &RunResult, current: &RunResult, t: &Tolerances) -> Comparison {
    let names: BTreeSet<&str> = baseline
        .requests
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| current.requests.iter().any(|r| r.name == *n))
        .collect();
    let find = |run: &RunResult, n: &str| run.requests.iter().find(|r| r.name == n).cloned();
    let (bs, cs) = (baseline.duration_secs(), current.duration_secs());
    let mut rows: Vec<RequestComparison> = names
        .into_iter()
        .filter_map(|n| {
            Some(compare_stats(
                &find(baseline, n)?,
                bs,
                &find(current, n)?,
                cs,
                t,
            ))
        })
        .collect();
    rows.push(compare_stats(
        &baseline.overall(),
        bs,
        &current.overall(),
        cs,
        t,
    ));
    let missing_from = |run: &RunResult, other: &RunResult| -> Vec<String> {
        run.requests
            .iter()
            .filter(|r| !other.requests.iter().any(|o| o.name == r.name))
            .map(|r| r.name.clone())
            .collect()
    };
    Comparison {
        rows,
        only_in_baseline: missing_from(baseline, current),
        only_in_current: missing_from(current, baseline),
    }
}

impl Comparison {
    pub fn regressions(&self) -> Vec<(&str, &MetricDelta)> {
        self.rows
            .iter()
            .flat_map(|r| {
                r.deltas
                    .iter()
                    .filter(|d| d.regression)
                    .map(move |d| (r.name.as_str(), d))
            })
            .collect()
    }

    fn fmt_value(metric: &str, v: f64) -> String {
        match metric {
            "rps" => format!("{v:.1}"),
            "error_rate" => format!("{:.2} %", v * 100.0),
            _ => format!("{v:.1} ms"),
        }
    }

    fn fmt_change(d: &MetricDelta) -> String {
        if d.change.is_infinite() {
            "new".into()
        } else {
            format!("{:+.1} %", d.change * 100.0)
        }
    }

    /// Which latency the percentiles compare, e.g. "Latency compared: intended-time (both
    /// runs recorded it)." (from the aggregate row, which every comparison has).
    pub fn latency_note(&self) -> String {
        match self.rows.last().map(|r| r.latency) {
            Some(LatencyBasis::Intended) => {
                "Latency compared: intended-time (both runs recorded it).".to_string()
            }
            _ => "Latency compared: service time (intended-time latency is not in both runs)."
                .to_string(),
        }
    }

    /// The latency note and "Only in the baseline: a, b" lines.
    fn preamble(&self) -> String {
        let mut out = format!("{}\n", self.latency_note());
        for (side, names) in [
            ("baseline", &self.only_in_baseline),
            ("current run", &self.only_in_current),
        ] {
            if !names.is_empty() {
                let _ = writeln!(
                    out,
                    "Only in the {side} (not compared): {}",
                    names.join(", ")
                );
            }
        }
        out
    }

    /// A plain-text table for the terminal.
    pub fn to_text(&self) -> String {
        let mut out = self.preamble();
        let _ = writeln!(
            out,
            "{:<32} {:<10} {:>12} {:>12} {:>9}  verdict",
            "Name", "Metric", "Baseline", "Current", "Change"
        );
        for r in &self.rows {
            for d in &r.deltas {
                let verdict = if d.regression {
                    "REGRESSION"
                } else if r.judged {
                    "ok"
                } else {
                    "too few requests"
                };
                let _ = writeln!(
                    out,
                    "{:<32} {:<10} {:>12} {:>12} {:>9}  {verdict}",
                    r.name,
                    d.metric,
                    Self::fmt_value(d.metric, d.baseline),
                    Self::fmt_value(d.metric, d.current),
                    Self::fmt_change(d)
                );
            }
        }
        out
    }

    /// The same table in Markdown.
    pub fn to_markdown(&self) -> String {
        let n = self.regressions().len();
        let verdict = if n == 0 {
            "No regression over the thresholds".to_string()
        } else {
            format!("{n} regression(s) over the thresholds")
        };
        let mut out = format!("# Skein comparison\n\n**{verdict}**\n\n");
        let preamble = self.preamble();
        if !preamble.is_empty() {
            // One paragraph per line: a blank line between them in Markdown.
            let _ = writeln!(out, "{}", preamble.replace('\n', "\n\n"));
        }
        out.push_str("| Name | Metric | Baseline | Current | Change | Verdict |\n|---|---|---:|---:|---:|:---:|\n");
        for r in &self.rows {
            for d in &r.deltas {
                let verdict = if d.regression {
                    "**REGRESSION**"
                } else if r.judged {
                    "ok"
                } else {
                    "not judged"
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {verdict} |",
                    cell(&r.name),
                    d.metric,
                    Self::fmt_value(d.metric, d.baseline),
                    Self::fmt_value(d.metric, d.current),
                    Self::fmt_change(d)
                );
            }
        }
        out
    }
}
