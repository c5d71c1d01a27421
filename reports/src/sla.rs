//! SLA thresholds, their verdicts, and how one threshold judges one [`Measurement`].
//!
//! This module knows nothing of the result model: a caller (see [`crate::evaluation`]) turns a
//! run, a request name or a stage into a `Measurement` first. That keeps the dependency one
//! way (model → sla), so the model can hold thresholds and verdicts without a cycle.
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::histogram::LatencyHistogram;
use crate::stream::StreamStats;
use crate::tokens::TokenStats;

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum SlaMetric {
    P50Ms,
    P90Ms,
    P95Ms,
    P99Ms,
    AvgMs,
    /// Failures / requests, a fraction 0..1.
    ErrorRate,
    /// Dropped arrivals / (requests + dropped arrivals), a fraction 0..1: how much of the
    /// offered load (open model) never got sent because `max_in_flight` was reached.
    DroppedRate,
    /// Requests per second must be at least the limit.
    MinRps,
    /// Time to first chunk of streamed answers, at a quantile.
    TtfcP50Ms,
    TtfcP90Ms,
    TtfcP95Ms,
    TtfcP99Ms,
    /// Gaps between the chunks of streamed answers, at a quantile.
    GapP50Ms,
    GapP90Ms,
    GapP95Ms,
    GapP99Ms,
    /// Items per second (events, trajectories, chunks: what the requests say they carried)
    /// must be at least the limit.
    MinItemsPerS,
    /// LLM answers' time to first token, at a quantile.
    TtftP50Ms,
    TtftP95Ms,
    TtftP99Ms,
    /// LLM answers' time per output token, at a quantile.
    TpotP50Ms,
    TpotP95Ms,
    TpotP99Ms,
    /// Gaps between LLM answers' content chunks, at a quantile.
    ItlP95Ms,
    ItlP99Ms,
    /// Output tokens per second, all answers together, must be at least the limit.
    MinOutputTokensPerS,
    /// The share of LLM answers that met their request's objectives must be at least the limit.
    MinGoodputRatio,
}

/// Every metric, in the order the docs list them.
pub const ALL_METRICS: [SlaMetric; 27] = [
    SlaMetric::P50Ms,
    SlaMetric::P90Ms,
    SlaMetric::P95Ms,
    SlaMetric::P99Ms,
    SlaMetric::AvgMs,
    SlaMetric::ErrorRate,
    SlaMetric::DroppedRate,
    SlaMetric::MinRps,
    SlaMetric::TtfcP50Ms,
    SlaMetric::TtfcP90Ms,
    SlaMetric::TtfcP95Ms,
    SlaMetric::TtfcP99Ms,
    SlaMetric::GapP50Ms,
    SlaMetric::GapP90Ms,
    SlaMetric::GapP95Ms,
    SlaMetric::GapP99Ms,
    SlaMetric::MinItemsPerS,
    SlaMetric::TtftP50Ms,
    SlaMetric::TtftP95Ms,
    SlaMetric::TtftP99Ms,
    SlaMetric::TpotP50Ms,
    SlaMetric::TpotP95Ms,
    SlaMetric::TpotP99Ms,
    SlaMetric::ItlP95Ms,
    SlaMetric::ItlP99Ms,
    SlaMetric::MinOutputTokensPerS,
    SlaMetric::MinGoodputRatio,
];

impl SlaMetric {
    /// The name used in scenario files and reports (`p95_ms`, `error_rate`, ...).
    pub fn key(self) -> &'static str {
        match self {
            SlaMetric::P50Ms => "p50_ms",
            SlaMetric::P90Ms => "p90_ms",
            SlaMetric::P95Ms => "p95_ms",
            SlaMetric::P99Ms => "p99_ms",
            SlaMetric::AvgMs => "avg_ms",
            SlaMetric::ErrorRate => "error_rate",
            SlaMetric::DroppedRate => "dropped_rate",
            SlaMetric::MinRps => "min_rps",
            SlaMetric::TtfcP50Ms => "ttfc_p50_ms",
            SlaMetric::TtfcP90Ms => "ttfc_p90_ms",
            SlaMetric::TtfcP95Ms => "ttfc_p95_ms",
            SlaMetric::TtfcP99Ms => "ttfc_p99_ms",
            SlaMetric::GapP50Ms => "gap_p50_ms",
            SlaMetric::GapP90Ms => "gap_p90_ms",
            SlaMetric::GapP95Ms => "gap_p95_ms",
            SlaMetric::GapP99Ms => "gap_p99_ms",
            SlaMetric::MinItemsPerS => "min_items_per_s",
            SlaMetric::TtftP50Ms => "ttft_p50_ms",
            SlaMetric::TtftP95Ms => "ttft_p95_ms",
            SlaMetric::TtftP99Ms => "ttft_p99_ms",
            SlaMetric::TpotP50Ms => "tpot_p50_ms",
            SlaMetric::TpotP95Ms => "tpot_p95_ms",
            SlaMetric::TpotP99Ms => "tpot_p99_ms",
            SlaMetric::ItlP95Ms => "itl_p95_ms",
            SlaMetric::ItlP99Ms => "itl_p99_ms",
            SlaMetric::MinOutputTokensPerS => "min_output_tokens_per_s",
            SlaMetric::MinGoodputRatio => "min_goodput_ratio",
        }
    }

    /// The metric a scenario file or `--sla` names `key`.
    pub fn from_key(key: &str) -> Option<SlaMetric> {
        ALL_METRICS.into_iter().find(|m| m.key() == key)
    }

    /// `MinRps` and `MinItemsPerS` are floors; every other metric is a ceiling.
    pub fn is_floor(self) -> bool {
        matches!(
            self,
            SlaMetric::MinRps
                | SlaMetric::MinItemsPerS
                | SlaMetric::MinOutputTokensPerS
                | SlaMetric::MinGoodputRatio
        )
    }

    /// Which token histogram and quantile an LLM metric reads.
    fn token_quantile(self) -> Option<(TokenPart, f64)> {
        Some(match self {
            SlaMetric::TtftP50Ms => (TokenPart::Ttft, 0.50),
            SlaMetric::TtftP95Ms => (TokenPart::Ttft, 0.95),
            SlaMetric::TtftP99Ms => (TokenPart::Ttft, 0.99),
            SlaMetric::TpotP50Ms => (TokenPart::Tpot, 0.50),
            SlaMetric::TpotP95Ms => (TokenPart::Tpot, 0.95),
            SlaMetric::TpotP99Ms => (TokenPart::Tpot, 0.99),
            SlaMetric::ItlP95Ms => (TokenPart::Itl, 0.95),
            SlaMetric::ItlP99Ms => (TokenPart::Itl, 0.99),
            _ => return None,
        })
    }

    /// Whether the metric reads streamed answers (judged on streams, not requests).
    pub fn is_stream(self) -> bool {
        self.stream_quantile().is_some()
    }

    /// Which stream histogram and quantile a streaming metric reads.
    fn stream_quantile(self) -> Option<(StreamPart, f64)> {
        Some(match self {
            SlaMetric::TtfcP50Ms => (StreamPart::Ttfc, 0.50),
            SlaMetric::TtfcP90Ms => (StreamPart::Ttfc, 0.90),
            SlaMetric::TtfcP95Ms => (StreamPart::Ttfc, 0.95),
            SlaMetric::TtfcP99Ms => (StreamPart::Ttfc, 0.99),
            SlaMetric::GapP50Ms => (StreamPart::Gap, 0.50),
            SlaMetric::GapP90Ms => (StreamPart::Gap, 0.90),
            SlaMetric::GapP95Ms => (StreamPart::Gap, 0.95),
            SlaMetric::GapP99Ms => (StreamPart::Gap, 0.99),
            _ => return None,
        })
    }

    /// Whether the metric reads a latency histogram (and so has a [`LatencyBasis`]).
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            SlaMetric::P50Ms
                | SlaMetric::P90Ms
                | SlaMetric::P95Ms
                | SlaMetric::P99Ms
                | SlaMetric::AvgMs
        )
    }

    /// Whether a threshold on this metric judges on a [`LatencyBasis`]: latency, and TTFT,
    /// whose intended-time view (open model) counts from the arrival's scheduled instant.
    pub fn has_basis(self) -> bool {
        self.is_latency()
            || matches!(
                self,
                SlaMetric::TtftP50Ms | SlaMetric::TtftP95Ms | SlaMetric::TtftP99Ms
            )
    }

    /// Human form of a value of this metric.
    pub fn format(self, value: f64) -> String {
        match self {
            SlaMetric::ErrorRate | SlaMetric::DroppedRate => format!("{:.2} %", value * 100.0),
            SlaMetric::MinRps => format!("{value:.1} req/s"),
            SlaMetric::MinItemsPerS => format!("{value:.1} items/s"),
            SlaMetric::MinOutputTokensPerS => format!("{value:.1} tokens/s"),
            SlaMetric::MinGoodputRatio => format!("{:.2} %", value * 100.0),
            _ => format!("{value:.1} ms"),
        }
    }
}

#[derive(Clone, Copy)]
enum StreamPart {
    Ttfc,
    Gap,
}

#[derive(Clone, Copy)]
enum TokenPart {
    Ttft,
    Tpot,
    Itl,
}

impl TokenPart {
    fn of(self, t: &TokenStats) -> &LatencyHistogram {
        match self {
            TokenPart::Ttft => &t.ttft,
            TokenPart::Tpot => &t.tpot,
            TokenPart::Itl => &t.itl,
        }
    }
}

/// Which latency a latency threshold judges.
///
/// Intended-time latency counts from when a request *should* have been sent (the arrival's
/// scheduled instant in the open model, the expected interval in the closed one), so it
/// includes the time a request waited to be sent: it is what a user of the system would see,
/// and it does not hide a stall the way service time does (coordinated omission). Hence it is
/// the default.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum LatencyBasis {
    #[default]
    Intended,
    /// From the actual send to the last byte of the response (Locust's response time).
    Service,
}

impl LatencyBasis {
    /// "intended-time" or "service time", as the reports write it.
    pub fn label(self) -> &'static str {
        match self {
            LatencyBasis::Intended => "intended-time",
            LatencyBasis::Service => "service time",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SlaThreshold {
    pub metric: SlaMetric,
    /// One request name, or `None` for all requests together.
    pub request: Option<String>,
    pub limit: f64,
    /// Only read for latency metrics; results written before it existed judge intended-time,
    /// which for them (no intended histogram) falls back to service time.
    #[serde(default)]
    pub latency: LatencyBasis,
}

/// The numbers one threshold is judged on: a run's, one request name's or one stage's.
#[derive(Clone, Debug)]
pub struct Measurement<'a> {
    /// Completed requests: with none, nothing shows that a threshold held.
    pub requests: u64,
    pub service: &'a LatencyHistogram,
    /// Empty when the generator recorded no intended-time latencies.
    /// Read through [`crate::RequestStats::intended`] (or a stage's or second's).
    pub intended: Cow<'a, LatencyHistogram>,
    pub error_rate: f64,
    pub dropped_rate: f64,
    pub rps: f64,
    /// Streamed answers' measurements (empty when nothing streamed).
    pub stream: &'a StreamStats,
    pub items_per_s: f64,
    /// LLM answers' token measurements (empty when there were none).
    pub tokens: &'a TokenStats,
    pub output_tokens_per_s: f64,
}

impl Measurement<'_> {
    /// The histogram a latency threshold on `basis` reads, and the basis it really is: the
    /// intended-time one when asked for and recorded, else service time.
    pub fn latency(&self, basis: LatencyBasis) -> (&LatencyHistogram, LatencyBasis) {
        if basis == LatencyBasis::Intended && !self.intended.is_empty() {
            (&self.intended, LatencyBasis::Intended)
        } else {
            (self.service, LatencyBasis::Service)
        }
    }

    /// The TTFT histogram a TTFT threshold on `basis` reads, and the basis it really is:
    /// the intended-time one when asked for and recorded (open model), else TTFT from the send.
    pub fn ttft(&self, basis: LatencyBasis) -> (&LatencyHistogram, LatencyBasis) {
        if basis == LatencyBasis::Intended && !self.tokens.intended_ttft.is_empty() {
            (&self.tokens.intended_ttft, LatencyBasis::Intended)
        } else {
            (&self.tokens.ttft, LatencyBasis::Service)
        }
    }
}

impl SlaThreshold {
    /// A threshold judging intended-time latency (the default basis).
    pub fn new(metric: SlaMetric, request: Option<String>, limit: f64) -> Self {
        SlaThreshold {
            metric,
            request,
            limit,
            latency: LatencyBasis::default(),
        }
    }

    /// e.g. `p95_ms < 200.0 ms (intended-time, all requests)`; the basis is named for
    /// latency metrics only.
    pub fn describe(&self) -> String {
        self.describe_on(self.metric.has_basis().then_some(self.latency))
    }

    fn describe_on(&self, basis: Option<LatencyBasis>) -> String {
        let op = if self.metric.is_floor() { ">=" } else { "<" };
        let scope = self.request.as_deref().unwrap_or("all requests");
        let basis = basis
            .map(|b| format!("{}, ", b.label()))
            .unwrap_or_default();
        format!(
            "{} {op} {} ({basis}{scope})",
            self.metric.key(),
            self.metric.format(self.limit)
        )
    }

    pub fn holds(&self, measured: f64) -> bool {
        if self.metric.is_floor() {
            measured >= self.limit
        } else {
            measured < self.limit
        }
    }

    /// The measured value and, for latency metrics, the basis it was measured on.
    fn measure(&self, m: &Measurement<'_>) -> (f64, Option<LatencyBasis>) {
        let (latency, basis) = m.latency(self.latency);
        let value = match self.metric {
            SlaMetric::P50Ms => latency.value_at_quantile(0.50),
            SlaMetric::P90Ms => latency.value_at_quantile(0.90),
            SlaMetric::P95Ms => latency.value_at_quantile(0.95),
            SlaMetric::P99Ms => latency.value_at_quantile(0.99),
            SlaMetric::AvgMs => latency.mean(),
            SlaMetric::ErrorRate => return (m.error_rate, None),
            SlaMetric::DroppedRate => return (m.dropped_rate, None),
            SlaMetric::MinRps => return (m.rps, None),
            SlaMetric::MinItemsPerS => return (m.items_per_s, None),
            SlaMetric::MinOutputTokensPerS => return (m.output_tokens_per_s, None),
            SlaMetric::MinGoodputRatio => return (m.tokens.goodput_ratio(), None),
            metric if metric.token_quantile().is_some() => {
                let (part, q) = metric.token_quantile().expect("checked");
                if let TokenPart::Ttft = part {
                    let (ttft, basis) = m.ttft(self.latency);
                    return (ttft.value_at_quantile(q), Some(basis));
                }
                return (part.of(m.tokens).value_at_quantile(q), None);
            }
            stream => {
                let (part, q) = stream.stream_quantile().expect("the rest stream");
                let histogram = match part {
                    StreamPart::Ttfc => &m.stream.ttfc,
                    StreamPart::Gap => &m.stream.gap,
                };
                return (histogram.value_at_quantile(q), None);
            }
        };
        (value, Some(basis))
    }

    /// Judges this threshold on `m`. No requests is no evidence: a gate must not pass on an
    /// empty run, so a threshold measured on none fails; likewise a streaming threshold
    /// measured on no stream (a gap threshold on no gap).
    pub fn judge(&self, m: &Measurement<'_>) -> SlaVerdict {
        let (measured, judged_on) = self.measure(m);
        let evidence = match (self.metric.stream_quantile(), self.metric.token_quantile()) {
            (Some((StreamPart::Ttfc, _)), _) => m.stream.ttfc.count(),
            (Some((StreamPart::Gap, _)), _) => m.stream.gap.count(),
            (None, Some((part, _))) => part.of(m.tokens).count(),
            _ if self.metric == SlaMetric::MinGoodputRatio => m.tokens.judged,
            _ if self.metric == SlaMetric::MinOutputTokensPerS => m.tokens.answers,
            _ => m.requests,
        };
        SlaVerdict {
            threshold: self.clone(),
            measured,
            passed: evidence > 0 && self.holds(measured),
            judged_on,
            samples: Some(evidence),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SlaVerdict {
    pub threshold: SlaThreshold,
    pub measured: f64,
    pub passed: bool,
    /// The latency a latency threshold was really judged on (service time when no
    /// intended-time latency was recorded); `None` for other metrics and in older results.
    #[serde(default)]
    pub judged_on: Option<LatencyBasis>,
    /// How many samples the threshold was judged on (requests, streamed first chunks, token
    /// answers, ...); `Some(0)` fails it for want of evidence. `None` in older results.
    #[serde(default)]
    pub samples: Option<u64>,
}

impl SlaVerdict {
    /// The measured value as the reports write it, or `no samples` when nothing was
    /// measured: a figure of 0 there would read as a measurement.
    pub fn measured_text(&self) -> String {
        match self.samples {
            Some(0) => "no samples".to_string(),
            _ => self.threshold.metric.format(self.measured),
        }
    }

    /// `measured 69.6 ms`, or `no samples` (see [`SlaVerdict::measured_text`]), for sentences.
    pub fn measured_phrase(&self) -> String {
        match self.samples {
            Some(0) => "no samples".to_string(),
            _ => format!("measured {}", self.measured_text()),
        }
    }

    /// The threshold as [`SlaThreshold::describe`], naming the basis actually judged.
    pub fn describe(&self) -> String {
        self.threshold.describe_on(self.judged_on)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(micros: &[u64]) -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        micros.iter().for_each(|&v| h.record(v));
        h
    }

    static NO_STREAM: std::sync::LazyLock<StreamStats> =
        std::sync::LazyLock::new(StreamStats::default);
    static NO_TOKENS: std::sync::LazyLock<TokenStats> =
        std::sync::LazyLock::new(TokenStats::default);

    fn measurement<'a>(
        service: &'a LatencyHistogram,
        intended: &'a LatencyHistogram,
    ) -> Measurement<'a> {
        Measurement {
            requests: service.count(),
            service,
            intended: Cow::Borrowed(intended),
            error_rate: 0.0,
            dropped_rate: 0.25,
            rps: 10.0,
            stream: &NO_STREAM,
            items_per_s: 0.0,
            tokens: &NO_TOKENS,
            output_tokens_per_s: 0.0,
        }
    }

    #[test]
    fn latency_thresholds_judge_intended_time_when_recorded_and_say_so() {
        let service = histogram(&[100_000; 10]);
        let intended = histogram(&[300_000; 12]);
        let t = SlaThreshold::new(SlaMetric::P95Ms, None, 200.0);
        let v = t.judge(&measurement(&service, &intended));
        assert!(!v.passed && (v.measured - 300.0).abs() < 1.0, "{v:?}");
        assert_eq!(
            v.describe(),
            "p95_ms < 200.0 ms (intended-time, all requests)"
        );

        let service_basis = SlaThreshold {
            latency: LatencyBasis::Service,
            ..t.clone()
        };
        let v = service_basis.judge(&measurement(&service, &intended));
        assert!(v.passed && (v.measured - 100.0).abs() < 1.0, "{v:?}");

        let none = LatencyHistogram::new();
        let v = t.judge(&measurement(&service, &none));
        assert!(v.passed, "falls back to service time: {v:?}");
        assert_eq!(v.judged_on, Some(LatencyBasis::Service));
        assert_eq!(
            v.describe(),
            "p95_ms < 200.0 ms (service time, all requests)"
        );
    }

    #[test]
    fn streaming_thresholds_read_their_histogram_and_need_a_stream() {
        let service = histogram(&[100_000; 4]);
        let mut stream = StreamStats::default();
        stream.record(&crate::stream::StreamTiming {
            ttfc_micros: Some(40_000),
            gaps_micros: vec![9_000, 11_000],
        });
        let m = Measurement {
            stream: &stream,
            items_per_s: 120.0,
            ..measurement(&service, &service)
        };
        let ttfc = SlaThreshold::new(SlaMetric::TtfcP95Ms, None, 50.0);
        let v = ttfc.judge(&m);
        assert!(v.passed && (v.measured - 40.0).abs() < 0.1, "{v:?}");
        assert_eq!(v.judged_on, None);
        let gap = SlaThreshold::new(SlaMetric::GapP99Ms, None, 10.0);
        let v = gap.judge(&m);
        assert!(!v.passed && (v.measured - 11.0).abs() < 0.02, "{v:?}");
        let items = SlaThreshold::new(SlaMetric::MinItemsPerS, None, 100.0);
        assert!(items.judge(&m).passed);
        assert_eq!(
            items.describe(),
            "min_items_per_s >= 100.0 items/s (all requests)"
        );
        // Requests but no stream: no evidence that a streaming threshold held.
        let v = ttfc.judge(&measurement(&service, &service));
        assert!(!v.passed && v.samples == Some(0), "{v:?}");
        assert_eq!(v.measured_text(), "no samples");
        for metric in ALL_METRICS {
            assert_eq!(SlaMetric::from_key(metric.key()), Some(metric));
        }
    }

    #[test]
    fn ttft_thresholds_judge_intended_time_ttft_when_recorded_and_say_so() {
        let service = histogram(&[100_000; 4]);
        let mut tokens = TokenStats::default();
        let answer = crate::tokens::TokenTiming {
            ttft_micros: Some(40_000),
            end_micros: 50_000,
            output_tokens: 2,
            ..Default::default()
        };
        // Sent 30 ms after its intended instant.
        tokens.record(&answer, Some(30_000));
        let m = Measurement {
            tokens: &tokens,
            ..measurement(&service, &service)
        };
        let t = SlaThreshold::new(SlaMetric::TtftP95Ms, None, 50.0);
        let v = t.judge(&m);
        assert!(!v.passed && (v.measured - 70.0).abs() < 0.1, "{v:?}");
        assert_eq!(
            v.describe(),
            "ttft_p95_ms < 50.0 ms (intended-time, all requests)"
        );
        let from_send = SlaThreshold {
            latency: LatencyBasis::Service,
            ..t.clone()
        };
        let v = from_send.judge(&m);
        assert!(v.passed && (v.measured - 40.0).abs() < 0.1, "{v:?}");
        // Closed model: no intended TTFT, judged from the send and said so.
        let mut closed = TokenStats::default();
        closed.record(&answer, None);
        let v = t.judge(&Measurement {
            tokens: &closed,
            ..measurement(&service, &service)
        });
        assert!(
            v.passed && v.judged_on == Some(LatencyBasis::Service),
            "{v:?}"
        );
    }

    #[test]
    fn dropped_rate_is_a_ceiling_on_a_fraction_without_a_basis() {
        let service = histogram(&[1_000]);
        let t = SlaThreshold::new(SlaMetric::DroppedRate, None, 0.2);
        let v = t.judge(&measurement(&service, &service));
        assert!(!v.passed && v.measured == 0.25);
        assert_eq!(v.judged_on, None);
        assert_eq!(t.describe(), "dropped_rate < 20.00 % (all requests)");
    }

    #[test]
    fn thresholds_written_before_the_basis_existed_read_as_intended_time() {
        let t: SlaThreshold =
            serde_json::from_str(r#"{"metric":"p95_ms","request":null,"limit":200.0}"#).unwrap();
        assert_eq!(t.latency, LatencyBasis::Intended);
        let v: SlaVerdict = serde_json::from_str(
            r#"{"threshold":{"metric":"p95_ms","request":null,"limit":200.0},"measured":1.0,"passed":true}"#,
        )
        .unwrap();
        assert_eq!(
            v.describe(),
            "p95_ms < 200.0 ms (all requests)",
            "unknown basis"
        );
    }
}
