//! When open-model arrivals are due: offsets from the run's start, from the stages' rates.
//!
//! The rate is piecewise linear in time (a stage's ramp, then its hold), so its integral
//! Λ(t) — the arrivals expected by `t` — is piecewise quadratic and has a closed-form inverse.
//! Constant arrivals come when Λ reaches ½, 1½, 2½, …: evenly spaced at a steady rate, exactly
//! `round(rate × duration)` of them, and denser along a ramp as the rate grows. Poisson
//! arrivals come when Λ reaches a running sum of Exp(1) draws: a Poisson process of the same
//! (changing) intensity. Nothing here allocates per arrival, so memory does not grow with the
//! rate.
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::scenario::{Arrival, Stage};

/// A stretch of time over which the rate moves linearly from `r0` to `r1`.
#[derive(Clone, Copy, Debug)]
struct Segment {
    start: f64,
    end: f64,
    r0: f64,
    r1: f64,
    /// Λ at `start`.
    before: f64,
}

impl Segment {
    fn arrivals(&self) -> f64 {
        (self.r0 + self.r1) / 2.0 * (self.end - self.start)
    }

    /// Seconds after `start` at which `delta` more arrivals are expected.
    fn time_for(&self, delta: f64) -> f64 {
        let slope = (self.r1 - self.r0) / (self.end - self.start);
        // r0·τ + slope·τ²/2 = delta, in the form that is stable for slope → 0 and < 0.
        let root = (self.r0 * self.r0 + 2.0 * slope * delta).max(0.0).sqrt();
        2.0 * delta / (self.r0 + root)
    }
}

/// The arrival rate over a run, as the stages give it.
#[derive(Clone, Debug)]
pub struct RateCurve {
    segments: Vec<Segment>,
    total: f64,
    end: f64,
}

impl RateCurve {
    /// The curve of `stages`, the first one ramping from `start_rate`.
    pub fn new(stages: &[Stage], start_rate: f64) -> RateCurve {
        let mut segments = Vec::new();
        let (mut t, mut rate, mut total) = (0.0, start_rate, 0.0);
        let mut push = |start: f64, end: f64, r0: f64, r1: f64, total: &mut f64| {
            if end > start {
                let s = Segment {
                    start,
                    end,
                    r0,
                    r1,
                    before: *total,
                };
                *total += s.arrivals();
                segments.push(s);
            }
        };
        for stage in stages {
            let target = stage.rate.unwrap_or(0.0);
            let duration = stage.duration.as_secs_f64();
            let ramp = stage.ramp.as_secs_f64().min(duration);
            push(t, t + ramp, rate, target, &mut total);
            push(t + ramp, t + duration, target, target, &mut total);
            t += duration;
            rate = target;
        }
        RateCurve {
            segments,
            total,
            end: t,
        }
    }

    /// Arrivals expected over the whole curve (Λ at its end).
    pub fn expected(&self) -> f64 {
        self.total
    }

    /// Seconds from the start when Λ reaches `lambda`, or `None` past the curve's end.
    pub fn time_of(&self, lambda: f64) -> Option<f64> {
        if !(0.0..self.total).contains(&lambda) {
            return None;
        }
        let i = self
            .segments
            .partition_point(|s| s.before + s.arrivals() <= lambda);
        let s = self.segments.get(i)?;
        Some((s.start + s.time_for(lambda - s.before)).min(self.end))
    }

    pub fn duration_secs(&self) -> f64 {
        self.end
    }
}

/// The offsets (seconds from the start) at which arrivals are due, in order.
pub struct Arrivals {
    curve: RateCurve,
    process: Arrival,
    next: f64,
    rng: SmallRng,
}

impl Arrivals {
    pub fn new(curve: RateCurve, process: Arrival) -> Arrivals {
        let mut rng = SmallRng::from_rng(&mut rand::rng());
        let next = match process {
            Arrival::Constant => 0.5,
            Arrival::Poisson => exp1(&mut rng),
        };
        Arrivals {
            curve,
            process,
            next,
            rng,
        }
    }
}

/// A draw of Exp(1).
fn exp1(rng: &mut SmallRng) -> f64 {
    -(1.0 - rng.random::<f64>()).ln()
}

impl Iterator for Arrivals {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        let at = self.curve.time_of(self.next)?;
        self.next += match self.process {
            Arrival::Constant => 1.0,
            Arrival::Poisson => exp1(&mut self.rng),
        };
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn open(rate: f64, ramp_s: u64, secs: u64) -> Stage {
        Stage::open(rate, Duration::from_secs(ramp_s), Duration::from_secs(secs))
    }

    #[test]
    fn a_steady_rate_gives_exactly_rate_times_duration_evenly_spaced() {
        let offsets: Vec<f64> = Arrivals::new(
            RateCurve::new(&[open(100.0, 0, 10)], 0.0),
            Arrival::Constant,
        )
        .collect();
        assert_eq!(offsets.len(), 1_000);
        assert!((offsets[0] - 0.005).abs() < 1e-9, "{}", offsets[0]);
        for pair in offsets.windows(2) {
            assert!((pair[1] - pair[0] - 0.01).abs() < 1e-9);
        }
    }

    #[test]
    fn a_ramp_integrates_the_rate_and_speeds_up() {
        // 0 → 200/s over 10 s, then 200/s for 10 s: 1,000 + 2,000 arrivals.
        let curve = RateCurve::new(&[open(200.0, 10, 20)], 0.0);
        assert!((curve.expected() - 3_000.0).abs() < 1e-6);
        let offsets: Vec<f64> = Arrivals::new(curve, Arrival::Constant).collect();
        assert_eq!(offsets.len(), 3_000);
        let in_ramp = offsets.iter().filter(|t| **t < 10.0).count();
        assert!((999..=1_001).contains(&in_ramp), "{in_ramp}");
        // At t the ramp's rate is 20·t: arrivals by t are 10·t².
        let by_5s = offsets.iter().filter(|t| **t < 5.0).count();
        assert!((249..=251).contains(&by_5s), "{by_5s}");
        assert!(offsets.windows(2).all(|p| p[1] >= p[0]));
    }

    #[test]
    fn stages_ramp_from_the_previous_rate_and_down_too() {
        let curve = RateCurve::new(&[open(100.0, 0, 2), open(0.0, 2, 2)], 0.0);
        // 200 in the first stage, then 100 → 0 over 2 s: 100 more.
        assert!((curve.expected() - 300.0).abs() < 1e-6);
        let offsets: Vec<f64> = Arrivals::new(curve, Arrival::Constant).collect();
        assert_eq!(offsets.len(), 300);
        assert!(offsets.iter().all(|t| *t < 4.0));
        let curve = RateCurve::new(&[open(50.0, 4, 4)], 50.0);
        assert!(
            (curve.expected() - 200.0).abs() < 1e-6,
            "a ramp from 50 to 50 is flat"
        );
    }

    #[test]
    fn poisson_arrivals_average_the_rate_with_exponential_gaps() {
        let curve = RateCurve::new(&[open(1_000.0, 0, 20)], 0.0);
        let offsets: Vec<f64> = Arrivals::new(curve, Arrival::Poisson).collect();
        // 20,000 expected; a Poisson count's standard deviation is √20,000 ≈ 141.
        let n = offsets.len() as f64;
        assert!((n - 20_000.0).abs() < 700.0, "{n}");
        let gaps: Vec<f64> = offsets.windows(2).map(|p| p[1] - p[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        // Exponential gaps: the standard deviation equals the mean (constant gaps: 0).
        assert!(
            (var.sqrt() / mean - 1.0).abs() < 0.05,
            "cv {}",
            var.sqrt() / mean
        );
    }

    #[test]
    fn a_zero_rate_gives_no_arrivals_but_keeps_its_time() {
        let curve = RateCurve::new(&[open(0.0, 0, 5)], 0.0);
        assert_eq!(Arrivals::new(curve.clone(), Arrival::Constant).count(), 0);
        assert_eq!(curve.duration_secs(), 5.0);
    }
}
