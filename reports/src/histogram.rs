//! Latency histograms: HDR histograms of microseconds that serialize compactly and add exactly.
//!
//! Results cross process boundaries (worker → manager) and outlive the run (baselines), so the
//! histogram is stored as HDR's V2+DEFLATE encoding in base64: a few hundred bytes to a few KB,
//! lossless, and readable by any HDR implementation.
use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Three significant digits: 0.1 % relative precision at any magnitude.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency distribution in microseconds; reported values are in milliseconds.
///
/// A finished histogram can be [`compact`](LatencyHistogram::compact)ed: a dense HDR
/// histogram holds a counter for every bucket up to its maximum (about 72 KiB for latencies
/// up to 130 ms at 3 digits), which for a per-second series would grow by that much every
/// second of a run. The compact form keeps only the recorded buckets (value, count) and is
/// inflated back, exactly, when read.
#[derive(Clone, Debug)]
pub struct LatencyHistogram(Repr);

#[derive(Clone, Debug)]
enum Repr {
    Dense(Histogram<u64>),
    /// Recorded buckets as (highest equivalent value, count), ascending.
    Compact {
        buckets: Vec<(u64, u64)>,
        total: u64,
    },
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for LatencyHistogram {
    /// Equal when they hold the same samples (in the same buckets), whatever the form.
    fn eq(&self, other: &Self) -> bool {
        self.count() == other.count() && self.buckets() == other.buckets()
    }
}

fn empty_dense() -> Histogram<u64> {
    let mut h = Histogram::new(SIGNIFICANT_DIGITS).expect("3 significant digits is valid");
    h.auto(true);
    h
}

impl LatencyHistogram {
    /// An empty histogram, compact until the first sample: an empty second of a series, or
    /// a name never requested, costs nothing, and recording inflates it once.
    pub fn new() -> Self {
        LatencyHistogram(Repr::Compact {
            buckets: Vec::new(),
            total: 0,
        })
    }

    /// The dense form, inflating the compact one (a temporary).
    pub fn dense(&self) -> std::borrow::Cow<'_, Histogram<u64>> {
        match &self.0 {
            Repr::Dense(h) => std::borrow::Cow::Borrowed(h),
            Repr::Compact { buckets, .. } => {
                let mut h = empty_dense();
                for &(value, count) in buckets {
                    h.record_n(value, count)
                        .expect("an auto-resizing histogram takes any value");
                }
                std::borrow::Cow::Owned(h)
            }
        }
    }

    fn dense_mut(&mut self) -> &mut Histogram<u64> {
        if let Repr::Compact { .. } = self.0 {
            self.0 = Repr::Dense(self.dense().into_owned());
        }
        match &mut self.0 {
            Repr::Dense(h) => h,
            Repr::Compact { .. } => unreachable!("just inflated"),
        }
    }

    /// The recorded buckets as (highest equivalent value, count), ascending: the histogram's
    /// whole content, which [`add_buckets`](Self::add_buckets) adds back exactly. A
    /// distributed worker sends the difference of two such lists instead of its histogram.
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        match &self.0 {
            Repr::Dense(h) => h
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
            Repr::Compact { buckets, .. } => buckets.clone(),
        }
    }

    /// Keeps only the recorded buckets (see the type's doc); reading or adding inflates it
    /// again. Call on histograms that are done growing, such as a finished second's.
    pub fn compact(&mut self) {
        if let Repr::Dense(h) = &self.0 {
            let total = h.len();
            let mut buckets = self.buckets();
            buckets.shrink_to_fit();
            self.0 = Repr::Compact { buckets, total };
        }
    }

    /// Records one latency. The histogram grows to fit (`saturating_record` would clamp
    /// instead of growing), so no value is ever rejected or distorted.
    pub fn record(&mut self, micros: u64) {
        let h = self.dense_mut();
        if h.record(micros).is_err() {
            h.saturating_record(micros);
        }
    }

    /// Records one latency corrected for coordinated omission, by HdrHistogram's
    /// expected-interval method (`recordValueWithExpectedInterval`): when `micros` exceeds
    /// the interval at which requests were expected (`expected_interval_micros`, 0 for none),
    /// the requests that a stalled closed-model user did not send in the meantime are
    /// recorded too, at `micros - interval`, `micros - 2·interval`, ... down to the last one
    /// above zero. (HdrHistogram stops at the last one of at least an interval; that drops the
    /// send held back in the final interval before the answer, which measured against a known
    /// stall biases every corrected percentile upward by up to one interval.) So the
    /// histogram may hold more samples than requests.
    pub fn record_corrected(&mut self, micros: u64, expected_interval_micros: u64) {
        self.record(micros);
        if expected_interval_micros == 0 {
            return;
        }
        let mut missing = micros.saturating_sub(expected_interval_micros);
        while missing > 0 {
            self.record(missing);
            missing = missing.saturating_sub(expected_interval_micros);
        }
    }

    /// Adds every sample of `other`: merge is exact because both share the same precision.
    pub fn add(&mut self, other: &LatencyHistogram) {
        if other.is_empty() {
            return;
        }
        let other = other.dense();
        self.dense_mut()
            .add(other.as_ref())
            .expect("auto-resizing histograms of equal precision always add");
    }

    /// Adds `count` samples at each bucket's value: exact for buckets read with
    /// [`buckets`](Self::buckets) from a histogram of the same precision, since a bucket's
    /// highest equivalent value falls in that same bucket.
    pub fn add_buckets(&mut self, buckets: &[(u64, u64)]) {
        if buckets.is_empty() {
            return;
        }
        let h = self.dense_mut();
        for &(value, count) in buckets {
            h.record_n(value, count)
                .expect("an auto-resizing histogram takes any value");
        }
    }

    pub fn count(&self) -> u64 {
        match &self.0 {
            Repr::Dense(h) => h.len(),
            Repr::Compact { total, .. } => *total,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The latency at quantile `q` (0..=1) in milliseconds; 0 when empty.
    pub fn value_at_quantile(&self, q: f64) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        self.dense().value_at_quantile(q) as f64 / 1000.0
    }

    pub fn min(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.dense().min() as f64 / 1000.0
        }
    }

    pub fn max(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.dense().max() as f64 / 1000.0
        }
    }

    pub fn mean(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.dense().mean() / 1000.0
        }
    }

    /// Bytes this histogram holds in memory (its counters or its compact buckets).
    pub fn memory_bytes(&self) -> usize {
        match &self.0 {
            Repr::Dense(h) => h.distinct_values() * std::mem::size_of::<u64>(),
            Repr::Compact { buckets, .. } => buckets.capacity() * std::mem::size_of::<(u64, u64)>(),
        }
    }

    /// HDR V2+DEFLATE, base64 (standard alphabet).
    pub fn to_base64(&self) -> String {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(self.dense().as_ref(), &mut bytes)
            .expect("serializing into memory cannot fail");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Decodes [`to_base64`](Self::to_base64)'s text into the compact form (read results
    /// are done growing; adding to one inflates it).
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        let mut h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("histogram is not HDR V2 encoded: {e:?}"))?;
        h.auto(true);
        let mut histogram = LatencyHistogram(Repr::Dense(h));
        histogram.compact();
        Ok(histogram)
    }
}

impl Serialize for LatencyHistogram {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for LatencyHistogram {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        LatencyHistogram::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_base64() {
        let mut h = LatencyHistogram::new();
        for v in [1, 250, 1_000, 12_345, 60_000_000] {
            h.record(v);
        }
        let back = LatencyHistogram::from_base64(&h.to_base64()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.count(), 5);
        assert!(
            (back.max() - 60_000.0).abs() / 60_000.0 < 0.001,
            "max {} vs {}",
            back.max(),
            h.max()
        );
    }

    #[test]
    fn the_compact_form_reads_and_adds_exactly_like_the_dense_one() {
        let mut dense = LatencyHistogram::new();
        let mut x: u64 = 12_345;
        for _ in 0..5_000 {
            // A spread of latencies over five orders of magnitude.
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            dense.record(1 + (x >> 33) % 10u64.pow(1 + (x % 5) as u32 + 2));
        }
        let mut compact = dense.clone();
        compact.compact();
        assert!(compact.memory_bytes() < dense.memory_bytes());
        assert_eq!(compact, dense);
        for q in [
            0.0, 0.001, 0.25, 0.5, 0.66, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0,
        ] {
            assert_eq!(
                compact.value_at_quantile(q),
                dense.value_at_quantile(q),
                "q {q}"
            );
        }
        assert_eq!(compact.min(), dense.min());
        assert_eq!(compact.max(), dense.max());
        assert_eq!(compact.mean(), dense.mean());
        assert_eq!(compact.to_base64(), dense.to_base64());
        let (mut a, mut b) = (compact.clone(), dense.clone());
        a.add(&dense);
        b.add(&dense);
        assert_eq!(a, b);
        assert_eq!(a.value_at_quantile(0.99), b.value_at_quantile(0.99));
        a.record(7);
        b.record(7);
        assert_eq!(a, b);
    }

    #[test]
    fn a_compact_second_of_300_requests_is_a_tenth_of_the_dense_one() {
        let mut h = LatencyHistogram::new();
        for i in 0..300u64 {
            h.record(1_000 + i * 433);
        }
        let dense = h.memory_bytes();
        h.compact();
        assert!(
            h.memory_bytes() * 10 < dense,
            "{} vs {dense}",
            h.memory_bytes()
        );
    }

    #[test]
    fn corrected_recording_fills_in_the_requests_a_stall_held_back() {
        let mut h = LatencyHistogram::new();
        h.record_corrected(10_000, 1_000);
        // 10 ms with one request expected every 1 ms: 10, 9, ..., 1 ms.
        assert_eq!(h.count(), 10);
        assert!((h.min() - 1.0).abs() < 0.01, "{}", h.min());
        // The send held back in the last interval before the answer counts too.
        let mut h = LatencyHistogram::new();
        h.record_corrected(10_500, 1_000);
        assert_eq!(h.count(), 11);
        assert!((h.min() - 0.5).abs() < 0.01, "{}", h.min());
        let mut plain = LatencyHistogram::new();
        plain.record_corrected(500, 1_000);
        plain.record_corrected(500, 0);
        assert_eq!(
            plain.count(),
            2,
            "no correction under the interval or without one"
        );
    }

    #[test]
    fn buckets_added_back_give_the_same_histogram() {
        let mut h = LatencyHistogram::new();
        for v in [3, 3, 1_999, 2_049, 2_051, 987_654, 60_000_000] {
            h.record(v);
        }
        let mut back = LatencyHistogram::new();
        back.add_buckets(&h.buckets());
        assert_eq!(back, h);
        assert_eq!(back.count(), 7);
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        back.add_buckets(&[]);
        assert_eq!(back.count(), 7);
    }

    #[test]
    fn empty_histogram_reports_zeros() {
        let h = LatencyHistogram::new();
        assert_eq!(h.value_at_quantile(0.95), 0.0);
        assert_eq!(h.min(), 0.0);
    }
}
