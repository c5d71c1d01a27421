//! Baseline comparison: per-request deltas of p50, p95, p99, rps and error rate, and the
//! regressions that exceed their thresholds (the CI regression gate).
//!
//! Latency is compared on intended-time latency when both runs recorded it (it is what users
//! saw, and it does not hide a stall), otherwise on service time; the comparison says which.
//!
//! The gate is noise-aware: a change over its threshold is a regression only when it also
//! exceeds [`Tolerances::noise_z`] standard errors of the difference, estimated from each
//! run's own variation ([`crate::noise`]). A run too short to estimate its noise is judged
//! on the thresholds alone, and the comparison says so.
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write;

use crate::markdown::cell;
use crate::model::{LatencyHistogram, RequestStats, RunResult};
use crate::noise::{Figure, RunNoise};
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
    /// Standard errors of the difference a change must also exceed to be a regression
    /// (`None`: the thresholds alone decide, the pre-noise gate).
    pub noise_z: Option<f64>,
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
            noise_z: Some(crate::noise::DEFAULT_Z),
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
    /// The change is worse than the threshold allows (whatever the noise says).
    pub over_threshold: bool,
    /// Standard error of the difference, relative to the baseline (0.02 = ±2 %), when both
    /// runs' noise is known.
    pub noise: Option<f64>,
    /// The worsening in standard errors of the difference (negative: an improvement).
    pub z: Option<f64>,
    /// Over the threshold and, when the gate is noise-aware and the noise known, beyond it.
    pub regression: bool,
}

impl MetricDelta {
    /// Over the threshold but within the runs' noise: shown, not failed.
    pub fn within_noise(&self) -> bool {
        self.over_threshold && !self.regression
    }
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
    /// How each run's noise was estimated.
    pub baseline_noise: RunNoise,
    pub current_noise: RunNoise,
    /// Standard errors a change had to exceed (`None`: noise ignored).
    pub noise_z: Option<f64>,
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
) -> (
    Cow<'a, LatencyHistogram>,
    Cow<'a, LatencyHistogram>,
    LatencyBasis,
) {
    if b.intended_samples.is_empty() || c.intended_samples.is_empty() {
        (
            Cow::Borrowed(&b.latency),
            Cow::Borrowed(&c.latency),
            LatencyBasis::Service,
        )
    } else {
        (
            Cow::Owned(b.intended()),
            Cow::Owned(c.intended()),
            LatencyBasis::Intended,
        )
    }
}

/// One side of a comparison: a request name's stats, the run's seconds and its noise.
struct Side<'a> {
    stats: &'a RequestStats,
    seconds: f64,
    noise: &'a RunNoise,
}

impl Side<'_> {
    fn error(&self, figure: Figure) -> Option<f64> {
        self.noise.standard_error(self.stats, self.seconds, figure)
    }
}

fn compare_stats(b: Side<'_>, c: Side<'_>, t: &Tolerances) -> RequestComparison {
    let judged = b.stats.requests >= t.min_requests && c.stats.requests >= t.min_requests;
    let mut deltas = Vec::new();
    let (b_latency, c_latency, latency) = latencies(b.stats, c.stats);
    let delta = |metric, figure, (bv, cv): (f64, f64), over: bool| {
        // Worse means higher, except for throughput.
        let worsening = if figure == Figure::Rps {
            bv - cv
        } else {
            cv - bv
        };
        let spread = match (b.error(figure), c.error(figure)) {
            (Some(x), Some(y)) => Some((x * x + y * y).sqrt()),
            _ => None,
        };
        let z = spread.map(|s| {
            if s > 0.0 {
                worsening / s
            } else {
                f64::INFINITY.copysign(worsening)
            }
        });
        let beyond_noise = match (t.noise_z, z) {
            (Some(limit), Some(z)) => z > limit,
            _ => true,
        };
        let over_threshold = judged && over;
        MetricDelta {
            metric,
            baseline: bv,
            current: cv,
            change: change(bv, cv),
            over_threshold,
            noise: spread.filter(|_| bv > 0.0).map(|s| s / bv),
            z,
            regression: over_threshold && beyond_noise,
        }
    };
    for (metric, figure, q, tol) in [
        ("p50", Figure::P50, 0.5, t.p50),
        ("p95", Figure::P95, 0.95, t.p95),
        ("p99", Figure::P99, 0.99, t.p99),
    ] {
        let values = (
            b_latency.value_at_quantile(q),
            c_latency.value_at_quantile(q),
        );
        deltas.push(delta(
            metric,
            figure,
            values,
            change(values.0, values.1) > tol,
        ));
    }
    let rps = (
        b.stats.requests as f64 / b.seconds,
        c.stats.requests as f64 / c.seconds,
    );
    deltas.push(delta(
        "rps",
        Figure::Rps,
        rps,
        -change(rps.0, rps.1) > t.rps,
    ));
    let errors = (b.stats.error_rate(), c.stats.error_rate());
    let over = change(errors.0, errors.1) > t.error_rate && errors.1 - errors.0 > ERROR_RATE_FLOOR;
    deltas.push(delta("error_rate", Figure::ErrorRate, errors, over));
    let name = c.stats.name.clone();
    deltas.extend(stream_and_token_deltas(b, c, t, judged));
    RequestComparison {
        name,
        judged,
        latency,
        deltas,
    }
}

/// Streaming and LLM figures both runs measured: time to first chunk p95, gap p99, time to
/// first token p95, time per output token p95 (judged with the p95 tolerance) and output
/// tokens per second (the throughput tolerance). There is no per-second noise estimate for
/// them yet, so the threshold alone decides.
fn stream_and_token_deltas(
    b: Side<'_>,
    c: Side<'_>,
    t: &Tolerances,
    judged: bool,
) -> Vec<MetricDelta> {
    let mut out = Vec::new();
    let mut push = |metric, (bv, cv): (f64, f64), lower_is_worse: bool, tol: f64| {
        let worse = if lower_is_worse {
            -change(bv, cv)
        } else {
            change(bv, cv)
        };
        let over_threshold = judged && worse > tol;
        out.push(MetricDelta {
            metric,
            baseline: bv,
            current: cv,
            change: change(bv, cv),
            over_threshold,
            noise: None,
            z: None,
            regression: over_threshold,
        });
    };
    let quantile = |h: &LatencyHistogram, q| h.value_at_quantile(q);
    let (bs, cs) = (&b.stats.stream, &c.stats.stream);
    if !bs.ttfc.is_empty() && !cs.ttfc.is_empty() {
        push(
            "ttfc_p95",
            (quantile(&bs.ttfc, 0.95), quantile(&cs.ttfc, 0.95)),
            false,
            t.p95,
        );
    }
    if !bs.gap.is_empty() && !cs.gap.is_empty() {
        push(
            "gap_p99",
            (quantile(&bs.gap, 0.99), quantile(&cs.gap, 0.99)),
            false,
            t.p99,
        );
    }
    let (bt, ct) = (&b.stats.tokens, &c.stats.tokens);
    if !bt.ttft.is_empty() && !ct.ttft.is_empty() {
        push(
            "ttft_p95",
            (quantile(&bt.ttft, 0.95), quantile(&ct.ttft, 0.95)),
            false,
            t.p95,
        );
    }
    // The open model's TTFT from the intended send, when both runs recorded it.
    if !bt.intended_ttft.is_empty() && !ct.intended_ttft.is_empty() {
        push(
            "intended_ttft_p95",
            (
                quantile(&bt.intended_ttft, 0.95),
                quantile(&ct.intended_ttft, 0.95),
            ),
            false,
            t.p95,
        );
    }
    if !bt.tpot.is_empty() && !ct.tpot.is_empty() {
        push(
            "tpot_p95",
            (quantile(&bt.tpot, 0.95), quantile(&ct.tpot, 0.95)),
            false,
            t.p95,
        );
    }
    if !bt.is_empty() && !ct.is_empty() {
        let rate = (
            bt.output_tokens as f64 / b.seconds,
            ct.output_tokens as f64 / c.seconds,
        );
        push("output_tokens_per_s", rate, true, t.rps);
    }
    out
}

/// The latency basis the aggregate is compared on, for estimating both runs' noise.
fn basis_of(baseline: &RunResult, current: &RunResult) -> LatencyBasis {
    latencies(&baseline.overall(), &current.overall()).2
}

/// Compares every request name present in both runs, plus the aggregate.
pub fn compare<'a>(baseline: &'a RunResult, current: &'a RunResult, t: &Tolerances) -> Comparison {
    let names: BTreeSet<&str> = baseline
        .requests
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| current.requests.iter().any(|r| r.name == *n))
        .collect();
    let find = |run: &'a RunResult, n: &str| run.requests.iter().find(|r| r.name == n);
    let (bs, cs) = (baseline.duration_secs(), current.duration_secs());
    let basis = basis_of(baseline, current);
    let (b_noise, c_noise) = (
        RunNoise::estimate(baseline, basis),
        RunNoise::estimate(current, basis),
    );
    let side = |stats, seconds, noise| Side {
        stats,
        seconds,
        noise,
    };
    let mut rows: Vec<RequestComparison> = names
        .into_iter()
        .filter_map(|n| {
            Some(compare_stats(
                side(find(baseline, n)?, bs, &b_noise),
                side(find(current, n)?, cs, &c_noise),
                t,
            ))
        })
        .collect();
    let (b_all, c_all) = (baseline.overall(), current.overall());
    rows.push(compare_stats(
        side(&b_all, bs, &b_noise),
        side(&c_all, cs, &c_noise),
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
        baseline_noise: b_noise,
        current_noise: c_noise,
        noise_z: t.noise_z,
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

    pub fn fmt_value(metric: &str, v: f64) -> String {
        match metric {
            "rps" => format!("{v:.1}"),
            "error_rate" => format!("{:.2} %", v * 100.0),
            _ => format!("{v:.1} ms"),
        }
    }

    pub fn fmt_change(d: &MetricDelta) -> String {
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

    /// How noise was judged, e.g. "Noise: baseline 20 batches of 6 s, current 20 batches of
    /// 6 s; a change over its threshold is a regression only beyond 3 standard errors."
    pub fn noise_note(&self) -> String {
        let runs = format!(
            "baseline {}, current {}",
            self.baseline_noise.describe(),
            self.current_noise.describe()
        );
        match self.noise_z {
            None => format!("Noise ignored (--ignore-noise): the thresholds alone decide ({runs})."),
            Some(_) if !self.baseline_noise.is_known() || !self.current_noise.is_known() => format!(
                "Noise: {runs}; where it is unknown the thresholds alone decide."
            ),
            Some(z) => format!(
                "Noise: {runs}; a change over its threshold is a regression only beyond {} standard errors of the difference.",
                crate::charts::tick(&z)
            ),
        }
    }

    /// What a delta's verdict is, in words.
    pub fn verdict(r: &RequestComparison, d: &MetricDelta) -> &'static str {
        if d.regression {
            "REGRESSION"
        } else if d.within_noise() {
            "within noise"
        } else if r.judged {
            "ok"
        } else {
            "too few requests"
        }
    }

    /// "±2.1 %" (one standard error of the difference), or "–" when unknown.
    pub fn fmt_noise(d: &MetricDelta) -> String {
        d.noise
            .map_or("–".into(), |n| format!("±{:.1} %", n * 100.0))
    }

    /// The latency note and "Only in the baseline: a, b" lines.
    fn preamble(&self) -> String {
        let mut out = format!("{}\n{}\n", self.latency_note(), self.noise_note());
        for line in self.one_sided() {
            let _ = writeln!(out, "{line}");
        }
        out
    }

    /// "Only in the baseline (not compared): a, b", for each side that has such names.
    pub fn one_sided(&self) -> Vec<String> {
        [
            ("baseline", &self.only_in_baseline),
            ("current run", &self.only_in_current),
        ]
        .into_iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(side, names)| format!("Only in the {side} (not compared): {}", names.join(", ")))
        .collect()
    }

    /// A plain-text table for the terminal.
    pub fn to_text(&self) -> String {
        let mut out = self.preamble();
        let _ = writeln!(
            out,
            "{:<32} {:<10} {:>12} {:>12} {:>9} {:>9}  verdict",
            "Name", "Metric", "Baseline", "Current", "Change", "Noise"
        );
        for r in &self.rows {
            for d in &r.deltas {
                let _ = writeln!(
                    out,
                    "{:<32} {:<10} {:>12} {:>12} {:>9} {:>9}  {}",
                    r.name,
                    d.metric,
                    Self::fmt_value(d.metric, d.baseline),
                    Self::fmt_value(d.metric, d.current),
                    Self::fmt_change(d),
                    Self::fmt_noise(d),
                    Self::verdict(r, d)
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
        out.push_str("| Name | Metric | Baseline | Current | Change | Noise | Verdict |\n|---|---|---:|---:|---:|---:|:---:|\n");
        for r in &self.rows {
            for d in &r.deltas {
                let verdict = match Self::verdict(r, d) {
                    "REGRESSION" => "**REGRESSION**",
                    "too few requests" => "not judged",
                    other => other,
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {verdict} |",
                    cell(&r.name),
                    d.metric,
                    Self::fmt_value(d.metric, d.baseline),
                    Self::fmt_value(d.metric, d.current),
                    Self::fmt_change(d),
                    Self::fmt_noise(d)
                );
            }
        }
        out
    }
}
