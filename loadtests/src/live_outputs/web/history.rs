//! The dashboard's chart history: one point per finished second, halved in resolution each
//! time it fills, so a 24-hour run keeps at most [`MAX_POINTS`] points (the page keeps the
//! same bound with the same rule, see `assets/app.js`).
//!
//! A merged point is the average of the seconds it covers, weighted by how many each covers
//! (`n`); its `t` is the elapsed second of its first. Averaging a quantile over seconds is a
//! chart's approximation; the tables show the exact cumulative quantiles.
use serde::Serialize;

/// Points kept; merging pairs when full keeps between half and all of them.
pub const MAX_POINTS: usize = 720;

/// One chart point. Latencies are milliseconds, `None` when that stretch had no answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Point {
    /// Seconds from the run's start to the start of the first second covered.
    pub t: i64,
    /// Seconds covered.
    pub n: u32,
    pub rps: f64,
    pub fps: f64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub ip50: Option<f64>,
    pub ip95: Option<f64>,
    pub ip99: Option<f64>,
    pub users: f64,
    /// Open model: the planned arrival rate then.
    pub rate: Option<f64>,
    pub dropped: f64,
    /// Time to first chunk (streams) or token (LLM answers), p95.
    pub ttfc_p95: Option<f64>,
    /// Generator CPU, percent of one core.
    pub cpu_pct: f64,
    pub rss_mb: f64,
    /// The embedded reference server's CPU (percent of one core) and RSS, when it runs.
    pub tcpu_pct: Option<f64>,
    pub trss_mb: Option<f64>,
}

/// The whole run's points, bounded.
#[derive(Debug, Default)]
pub struct History {
    points: Vec<Point>,
}

impl History {
    pub fn push(&mut self, point: Point) {
        self.points.push(point);
        if self.points.len() >= MAX_POINTS {
            self.points = self.points.chunks(2).map(merge).collect();
        }
    }

    pub fn points(&self) -> &[Point] {
        &self.points
    }
}

fn merge(pair: &[Point]) -> Point {
    let [a, b] = pair else {
        return pair[0].clone();
    };
    let (wa, wb) = (f64::from(a.n), f64::from(b.n));
    let avg = |x: f64, y: f64| (x * wa + y * wb) / (wa + wb);
    let opt = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => Some(avg(x, y)),
        (x, y) => x.or(y),
    };
    Point {
        t: a.t,
        n: a.n + b.n,
        rps: avg(a.rps, b.rps),
        fps: avg(a.fps, b.fps),
        p50: opt(a.p50, b.p50),
        p95: opt(a.p95, b.p95),
        p99: opt(a.p99, b.p99),
        ip50: opt(a.ip50, b.ip50),
        ip95: opt(a.ip95, b.ip95),
        ip99: opt(a.ip99, b.ip99),
        users: avg(a.users, b.users),
        rate: opt(a.rate, b.rate),
        dropped: avg(a.dropped, b.dropped),
        ttfc_p95: opt(a.ttfc_p95, b.ttfc_p95),
        cpu_pct: avg(a.cpu_pct, b.cpu_pct),
        rss_mb: a.rss_mb.max(b.rss_mb),
        tcpu_pct: opt(a.tcpu_pct, b.tcpu_pct),
        trss_mb: match (a.trss_mb, b.trss_mb) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(t: i64, rps: f64) -> Point {
        Point {
            t,
            n: 1,
            rps,
            ..Point::default()
        }
    }

    #[test]
    fn a_day_of_seconds_stays_bounded_and_keeps_the_whole_run() {
        let mut history = History::default();
        for t in 0..86_400 {
            history.push(second(t, 10.0));
        }
        let points = history.points();
        assert!(points.len() < MAX_POINTS && points.len() >= MAX_POINTS / 4);
        assert_eq!(points[0].t, 0, "the start is kept");
        let covered: u32 = points.iter().map(|p| p.n).sum();
        assert_eq!(covered, 86_400, "every second is in one point");
        assert!(points.iter().all(|p| (p.rps - 10.0).abs() < 1e-9));
    }

    #[test]
    fn merging_weights_by_the_seconds_covered() {
        let mut a = second(0, 10.0);
        a.n = 3;
        let merged = merge(&[a, second(3, 30.0)]);
        assert_eq!((merged.t, merged.n), (0, 4));
        assert!((merged.rps - 15.0).abs() < 1e-9);
        assert_eq!(merged.p99, None, "no answer in either: still none");
    }
}
