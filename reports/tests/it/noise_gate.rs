//! The noise-aware gate on synthetic runs whose second-to-second variation is known: a 3 %
//! move on a noisy run passes even under a 2 % threshold, a real 10 % regression on the
//! same noise fails, and the comparison page shows both side by side.
use rand::{Rng, SeedableRng};
use reports::compare::{compare, Tolerances};
use reports::synthetic::synthetic_run;
use reports::{RequestStats, RunResult, SecondSample};

/// A 300-second, 100 requests/s run over two request names: every request's service time is
/// `factor` × a skewed 4–20 ms base × that second's multiplier `exp(sd · N(0,1))`. `sd`
/// is how much the run's latency swings from second to second. The same seed gives the same
/// swings, so `run(s, sd, 1.03)` is exactly 3 % slower than `run(s, sd, 1.0)`.
fn run(seed: u64, sd: f64, factor: f64) -> RunResult {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut result = synthetic_run(300, 2, 1);
    let start = result.series[0].unix_second;
    let mut names = [
        RequestStats::new("POST", "training.get_status"),
        RequestStats::new("POST", "training.start_grpo"),
    ];
    result.series.clear();
    for t in 0..300 {
        // Box–Muller: one standard normal per second.
        let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
        let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let swing = (sd * normal).exp();
        let mut second = SecondSample::empty(start + t);
        second.users = 20;
        for i in 0..100 {
            let base = 4_000.0 + 16_000.0 * rng.random::<f64>().powi(3);
            let micros = (base * swing * factor) as u64;
            let r = &mut names[i % 2];
            r.requests += 1;
            r.latency.record(micros);
            second.requests += 1;
            second.latency.record(micros);
        }
        result.series.push(second);
    }
    result.requests = names.to_vec();
    result.failures.clear();
    result
}

fn strict(percent: f64) -> Tolerances {
    let f = percent / 100.0;
    Tolerances {
        p50: f,
        p95: f,
        p99: f,
        rps: f,
        error_rate: f,
        ..Tolerances::default()
    }
}

fn p95(c: &reports::compare::Comparison) -> &reports::compare::MetricDelta {
    let all = c.rows.last().unwrap();
    all.deltas.iter().find(|d| d.metric == "p95").unwrap()
}

#[test]
fn a_3_percent_move_on_a_noisy_run_passes_a_2_percent_threshold_but_a_10_percent_regression_fails()
{
    let baseline = run(1, 0.25, 1.0);
    // An independent rerun of the same system: its differences are all noise.
    let rerun = compare(&baseline, &run(2, 0.25, 1.0), &strict(2.0));
    assert!(rerun.regressions().is_empty(), "{}", rerun.to_text());

    let moved = compare(&baseline, &run(1, 0.25, 1.03), &strict(2.0));
    assert!(
        (p95(&moved).change - 0.03).abs() < 0.005,
        "{}",
        moved.to_text()
    );
    assert!(moved.regressions().is_empty(), "{}", moved.to_text());
    assert!(p95(&moved).within_noise(), "{}", moved.to_text());
    assert!(moved.to_text().contains("within noise"));

    let regressed = compare(&baseline, &run(1, 0.25, 1.10), &strict(2.0));
    assert!(
        regressed
            .regressions()
            .iter()
            .any(|(name, d)| *name == "All" || d.metric == "p95"),
        "{}",
        regressed.to_text()
    );
    assert!(p95(&regressed).regression, "{}", regressed.to_text());
}

#[test]
fn without_the_noise_gate_the_same_3_percent_move_fails_and_on_a_quiet_run_it_is_real() {
    let baseline = run(1, 0.25, 1.0);
    let ignoring = Tolerances {
        noise_z: None,
        ..strict(2.0)
    };
    let moved = compare(&baseline, &run(1, 0.25, 1.03), &ignoring);
    assert!(p95(&moved).regression, "{}", moved.to_text());
    assert!(moved.to_text().contains("Noise ignored"));

    // A quiet run measures the same 3 % far more precisely: beyond its noise.
    let quiet = compare(&run(1, 0.01, 1.0), &run(1, 0.01, 1.03), &strict(2.0));
    let d = p95(&quiet);
    assert!(
        d.noise.unwrap() < p95(&moved).noise.unwrap() / 3.0,
        "{}",
        quiet.to_text()
    );
    assert!(d.regression, "{}", quiet.to_text());
}

#[test]
fn the_comparison_page_is_self_contained_and_shows_verdict_thresholds_noise_and_differences() {
    let baseline = run(1, 0.25, 1.0);
    let mut current = run(3, 0.25, 1.10);
    current.metadata.host = "http://127.0.0.1:9999".into();
    let t = strict(5.0);
    let c = compare(&baseline, &current, &t);
    let page = reports::compare_html::render(&c, &baseline, &current, &t).unwrap();
    for needle in [
        "regression(s) over the thresholds",
        "Per-request deltas",
        "+5 %",
        "Noise (1 SE)",
        "Settings that differ",
        "http://127.0.0.1:9999",
        "Latency by percentile",
        "p95 per second",
        "Requests per second",
        "Read: ",
    ] {
        assert!(page.contains(needle), "no {needle:?}");
    }
    assert_eq!(page.matches("<svg").count(), 3);
    assert!(!page.contains("<script") && !page.contains("src=\"http"));
}
