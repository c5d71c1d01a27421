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

    /// Records one closed-model answer of `micros` and the sends it held back, by
    /// HdrHistogram's expected-interval method (`recordValueWithExpectedInterval`) with one
    /// change: a held-back send is recorded only while its latency is at least
    /// `least_micros`, the request's typical service time. A send the user would have made
    /// `k` intervals after this one waits for the same answer, `micros - k·interval`, and then
    /// is served itself, so it cannot have taken less than a service time; an answer merely a
    /// little slower than usual holds nothing back. (HdrHistogram records down to the last
    /// one of at least an interval, and with the fastest service time in the interval that
    /// made ordinary variation add samples below anything measured.) `interval_micros` 0
    /// means no cadence is known: nothing is added. The histogram may hold more samples than
    /// requests; [`at_least`](Self::at_least) keeps what is read from it above the service time.
    pub fn record_with_held_back(&mut self, micros: u64, interval_micros: u64, least_micros: u64) {
        self.record(micros);
        if interval_micros == 0 {
            return;
        }
        let least = least_micros.max(1);
        let mut held_back = micros.saturating_sub(interval_micros);
        while held_back >= least {
            self.record(held_back);
            held_back = held_back.saturating_sub(interval_micros);
        }
    }

    /// This distribution raised, quantile by quantile, to at least `floor`'s: the value at
    /// every quantile is the larger of the two, and the count stays this one's. Merging is
    /// exact on recorded histograms, not on raised ones, so a raised histogram is a view
    /// computed where a figure is read (see `RequestStats::intended`), never stored.
    ///
    /// The result's `i`-th smallest sample (of `n = self.count()`) is the larger of this
    /// one's and `floor`'s sample of rank `ceil(i·m/n)` (`m = floor.count()`): for any `q`,
    /// `value_at_quantile(q)` reads rank `ceil(q·n)`, whose floor rank is at least
    /// `ceil(q·m)`, so no quantile of the result is below `floor`'s. When this histogram
    /// already dominates `floor` with equal counts, the result is this histogram.
    pub fn at_least(&self, floor: &LatencyHistogram) -> LatencyHistogram {
        let (n, m) = (self.count(), floor.count());
        if n == 0 || m == 0 {
            return self.clone();
        }
        let (own, low) = (self.buckets(), floor.buckets());
        let mut raised = LatencyHistogram::new();
        let h = raised.dense_mut();
        // Walk both in rank space of the result: this one's bucket `a` ends at its
        // cumulative count; the floor's bucket `b` covers result ranks up to
        // floor(cumulative_b·n/m), which is n at its last bucket.
        let floor_end = |cumulative: u64| (cumulative as u128 * n as u128 / m as u128) as u64;
        let (mut a, mut b) = (0usize, 0usize);
        let (mut a_end, mut b_cumulative) = (own[0].1, low[0].1);
        let mut rank = 0u64;
        while rank < n {
            let upto = a_end.min(floor_end(b_cumulative));
            if upto > rank {
                h.record_n(own[a].0.max(low[b].0), upto - rank)
                    .expect("an auto-resizing histogram takes any value");
                rank = upto;
            }
            if rank >= a_end && a + 1 < own.len() {
                a += 1;
                a_end += own[a].1;
            }
            if rank >= floor_end(b_cumulative) && b + 1 < low.len() {
                b += 1;
                b_cumulative += low[b].1;
            }
        }
        raised
    }

    /// The first quantile at which this histogram reads a lower value than `other`, checked
    /// at every quantile where either has a bucket edge (and just past it) and on a grid:
    /// `None` when this one is at or above `other` everywhere. The check behind the promise
    /// that intended-time latency never reads below the service time.
    pub fn first_quantile_below(&self, other: &LatencyHistogram) -> Option<(f64, f64, f64)> {
        if self.is_empty() || other.is_empty() {
            return None;
        }
        let (own, theirs) = (self.buckets(), other.buckets());
        let mut quantiles: Vec<f64> = (0..=100).map(|k| k as f64 / 100.0).collect();
        for (buckets, count) in [(&own, self.count()), (&theirs, other.count())] {
            let mut seen = 0;
            for &(_, c) in buckets {
                seen += c;
                let q = seen as f64 / count as f64;
                quantiles.extend([q, (q + 1e-9).min(1.0)]);
            }
        }
        quantiles.into_iter().find_map(|q| {
            let (a, b) = (
                at_rank(own.iter().copied(), self.count(), q),
                at_rank(theirs.iter().copied(), other.count(), q),
            );
            (a < b).then(|| (q, a as f64 / 1000.0, b as f64 / 1000.0))
        })
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

    /// The latency at quantile `q` (0..=1) in milliseconds; 0 when empty. Read as
    /// hdrhistogram reads it (the value at rank ⌈q·count⌉), except that a rank within a
    /// relative 1e-12 of a whole number is that number: `q·count` computed in floating point
    /// lands just above an exact boundary (29/35 · 35 = 29.000000000000004), and reading one
    /// rank too far there could put a histogram built to dominate another one bucket below it.
    pub fn value_at_quantile(&self, q: f64) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        if q <= 0.0 {
            return self.dense().value_at_quantile(0.0) as f64 / 1000.0;
        }
        // Walk the recorded buckets in place: no list is built per read (the recorder reads
        // a median on its path).
        let value = match &self.0 {
            Repr::Dense(h) => at_rank(
                h.iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value())),
                self.count(),
                q,
            ),
            Repr::Compact { buckets, .. } => at_rank(buckets.iter().copied(), self.count(), q),
        };
        value as f64 / 1000.0
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

/// The value `value_at_quantile(q)` reads, from a bucket list, without its walk over every
/// counter: the sample of rank `ceil(q·n)`.
fn at_rank(buckets: impl IntoIterator<Item = (u64, u64)>, count: u64, q: f64) -> u64 {
    let exact = q.min(1.0) * count as f64;
    let rank = ((exact - exact * 1e-12).ceil() as u64).clamp(1, count.max(1));
    let mut seen = 0;
    buckets
        .into_iter()
        .find(|&(_, c)| {
            seen += c;
            seen >= rank
        })
        .map_or(0, |(v, _)| v)
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
    fn a_stall_records_the_sends_it_held_back_down_to_a_service_time() {
        // 10 ms with a send expected every 1 ms and a typical service of 0.5 ms: the sends
        // held back waited 9, 8, ..., 1 ms (then 0 ms is below a service time).
        let mut h = LatencyHistogram::new();
        h.record_with_held_back(10_000, 1_000, 500);
        assert_eq!(h.count(), 10);
        assert!((h.min() - 1.0).abs() < 0.01, "{}", h.min());
        // A typical service of 2 ms: the sends that would wait less than that are not added.
        let mut h = LatencyHistogram::new();
        h.record_with_held_back(10_000, 1_000, 2_000);
        assert_eq!(h.count(), 9, "10 ms and 9..=2 ms");
        assert!((h.min() - 2.0).abs() < 0.01, "{}", h.min());
        let mut plain = LatencyHistogram::new();
        plain.record_with_held_back(1_500, 1_000, 1_000);
        plain.record_with_held_back(500, 0, 0);
        assert_eq!(
            plain.count(),
            2,
            "nothing held back by an answer under interval + service, or without a cadence"
        );
    }

    fn of(values: &[u64]) -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        values.iter().for_each(|&v| h.record(v));
        h
    }

    #[test]
    fn raising_to_a_floor_takes_the_larger_value_at_every_quantile() {
        // Six samples raised to a floor of three: ranks 1..=6 read floor ranks 1,1,2,2,3,3.
        let raised = of(&[1, 1, 1, 50, 50, 500]).at_least(&of(&[10, 20, 30]));
        assert_eq!(raised, of(&[10, 10, 20, 50, 50, 500]));
        // Already above: unchanged; an empty floor or histogram: unchanged.
        let high = of(&[40, 50, 60]);
        assert_eq!(high.at_least(&of(&[10, 20, 30])), high);
        assert_eq!(high.at_least(&LatencyHistogram::new()), high);
        assert!(LatencyHistogram::new().at_least(&high).is_empty());
    }

    #[test]
    fn at_rank_reads_what_value_at_quantile_reads() {
        let h = of(&[1, 5, 5, 9, 1_000, 2_000, 2_001, 70_000]);
        for i in 0..=100 {
            let q = i as f64 / 100.0;
            let read = at_rank(h.buckets(), h.count(), q) as f64 / 1000.0;
            assert_eq!(read, h.value_at_quantile(q), "q {q}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// The promise the intended-time view rests on: whatever the two distributions, the
        /// raised one is at or above both at every quantile and in the mean, keeps its count,
        /// and leaves a histogram that already dominates with equal count as it is.
        #[test]
        fn raised_is_never_below_either(
            own in proptest::collection::vec(1u64..2_000_000, 1..120),
            extra in proptest::collection::vec(1u64..2_000_000, 0..120),
        ) {
            let floor = of(&own[..own.len().div_ceil(2)]);
            let mut values = own.clone();
            values.extend(&extra);
            let h = of(&values);
            let mut raised = h.at_least(&floor);
            proptest::prop_assert_eq!(raised.count(), h.count());
            // Compact: reading buckets is then a copy, not a walk over every counter.
            let (mut floor, mut h) = (floor, h);
            for x in [&mut raised, &mut floor, &mut h] {
                x.compact();
            }
            proptest::prop_assert_eq!(raised.first_quantile_below(&floor), None);
            proptest::prop_assert_eq!(raised.first_quantile_below(&h), None);
            for q in [0.0, 0.5, 0.9, 0.95, 0.99, 1.0] {
                proptest::prop_assert!(raised.value_at_quantile(q) >= floor.value_at_quantile(q));
            }
            proptest::prop_assert!(raised.mean() >= floor.mean() - 1e-9);
            proptest::prop_assert!(raised.mean() >= h.mean() - 1e-9);
            let shifted: Vec<u64> = own.iter().map(|v| v + 1_000).collect();
            let above = of(&shifted);
            proptest::prop_assert_eq!(above.at_least(&of(&own)), above);
        }
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
