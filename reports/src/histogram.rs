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
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyHistogram(Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        let mut h = Histogram::new(SIGNIFICANT_DIGITS).expect("3 significant digits is valid");
        h.auto(true);
        LatencyHistogram(h)
    }

    /// Records one latency. The histogram grows to fit (`saturating_record` would clamp
    /// instead of growing), so no value is ever rejected or distorted.
    pub fn record(&mut self, micros: u64) {
        if self.0.record(micros).is_err() {
            self.0.saturating_record(micros);
        }
    }

    /// Adds every sample of `other`: merge is exact because both share the same precision.
    pub fn add(&mut self, other: &LatencyHistogram) {
        self.0
            .add(&other.0)
            .expect("auto-resizing histograms of equal precision always add");
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The latency at quantile `q` (0..=1) in milliseconds; 0 when empty.
    pub fn value_at_quantile(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn min(&self) -> f64 {
        if self.0.is_empty() {
            0.0
        } else {
            self.0.min() as f64 / 1000.0
        }
    }

    pub fn max(&self) -> f64 {
        self.0.max() as f64 / 1000.0
    }

    pub fn mean(&self) -> f64 {
        self.0.mean() / 1000.0
    }

    pub fn inner(&self) -> &Histogram<u64> {
        &self.0
    }

    /// HDR V2+DEFLATE, base64 (standard alphabet).
    pub fn to_base64(&self) -> String {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.0, &mut bytes)
            .expect("serializing into memory cannot fail");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        let mut h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("histogram is not HDR V2 encoded: {e:?}"))?;
        h.auto(true);
        Ok(LatencyHistogram(h))
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
    fn empty_histogram_reports_zeros() {
        let h = LatencyHistogram::new();
        assert_eq!(h.value_at_quantile(0.95), 0.0);
        assert_eq!(h.min(), 0.0);
    }
}
