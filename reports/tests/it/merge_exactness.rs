//! Merging split recordings gives exactly the single recording's percentiles.
use proptest::prelude::*;
use reports::synthetic::{synthetic_open_run, synthetic_run};
use reports::{merge, LatencyHistogram, RequestStats};

fn with_requests(name: &str, samples: &[u64]) -> reports::RunResult {
    let mut run = synthetic_run(2, 1, 1);
    let mut stats = RequestStats::new("POST", name);
    for &s in samples {
        stats.requests += 1;
        stats.latency.record(s);
        // A closed-model user expected every 50 ms, typically served in 2 ms: stalls add
        // the sends they held back.
        stats
            .intended_samples
            .record_with_held_back(s, 50_000, 2_000);
    }
    run.requests = vec![stats];
    run.workers.clear();
    run
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn merged_halves_equal_the_whole(samples in prop::collection::vec(1u64..120_000_000, 1..2_000), split in 0usize..2_000) {
        let split = split.min(samples.len());
        let (mut whole, mut whole_intended) = (LatencyHistogram::new(), LatencyHistogram::new());
        samples.iter().for_each(|&s| whole.record(s));
        samples.iter().for_each(|&s| whole_intended.record_with_held_back(s, 50_000, 2_000));
        let merged = merge(&[
            with_requests("x", &samples[..split]),
            with_requests("x", &samples[split..]),
        ]).unwrap();
        let got = &merged.requests[0];
        prop_assert_eq!(got.requests, samples.len() as u64);
        for q in [0.0, 0.5, 0.66, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0] {
            prop_assert_eq!(got.latency.value_at_quantile(q), whole.value_at_quantile(q));
        }
        prop_assert_eq!(got.latency.mean(), whole.mean());
        // What was recorded adds exactly, and so the view read from it is the whole's.
        prop_assert_eq!(&got.intended_samples, &whole_intended);
        let (view, whole_view) = (got.intended(), whole_intended.at_least(&whole));
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            prop_assert_eq!(view.value_at_quantile(q), whole_view.value_at_quantile(q));
            prop_assert!(view.value_at_quantile(q) >= got.latency.value_at_quantile(q));
        }
        prop_assert_eq!(view.count(), whole_intended.count());
        prop_assert_eq!(view.mean(), whole_view.mean());
        prop_assert_eq!(merged.workers.len(), 2);
    }
}

#[test]
fn series_align_on_wall_clock_seconds_and_counts_add() {
    let a = synthetic_run(10, 3, 2);
    let mut b = synthetic_run(10, 3, 2);
    for s in &mut b.series {
        s.unix_second += 5; // The second worker started 5 s later.
    }
    let merged = merge(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(merged.series.len(), 15);
    let at = |r: &reports::RunResult, t: i64| {
        r.series
            .iter()
            .find(|s| s.unix_second == t)
            .map_or(0, |s| s.requests)
    };
    let t = a.series[7].unix_second;
    assert_eq!(at(&merged, t), at(&a, t) + at(&b, t));
    assert_eq!(
        merged.overall().requests,
        a.overall().requests + b.overall().requests
    );
    assert_eq!(
        merged.stages[1].requests,
        a.stages[1].requests + b.stages[1].requests
    );
}

#[test]
fn dropped_arrivals_add_per_second_per_stage_and_in_total() {
    let a = synthetic_open_run(60, 3, 3);
    let mut b = a.clone();
    for s in &mut b.series {
        s.unix_second += 10;
    }
    assert!(a.dropped_arrivals > 0, "the open synthetic run drops");
    let merged = merge(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(merged.dropped_arrivals, 2 * a.dropped_arrivals);
    let series_total: u64 = merged.series.iter().map(|s| s.dropped).sum();
    assert_eq!(
        series_total,
        2 * a.series.iter().map(|s| s.dropped).sum::<u64>()
    );
    let t = a.series[45].unix_second;
    let at = |r: &reports::RunResult| {
        r.series
            .iter()
            .find(|s| s.unix_second == t)
            .unwrap()
            .clone()
    };
    assert_eq!(at(&merged).dropped, at(&a).dropped + at(&b).dropped);
    assert_eq!(
        at(&merged).intended_samples.count(),
        at(&a).intended_samples.count() + at(&b).intended_samples.count()
    );
    assert_eq!(merged.stages[2].dropped, 2 * a.stages[2].dropped);
    assert_eq!(merged.format_version, reports::FORMAT_VERSION);
}

#[test]
fn results_of_different_scenarios_do_not_merge() {
    let a = synthetic_run(2, 1, 1);
    let mut b = a.clone();
    b.metadata.scenario_hash = "ffff".into();
    let err = merge(&[a, b]).unwrap_err().to_string();
    assert!(err.contains("different scenarios"), "{err}");
}
