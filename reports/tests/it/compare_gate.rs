//! The regression gate: a 20 % p95 regression fails, noise under the threshold passes.
use reports::compare::{compare, Tolerances};
use reports::synthetic::{scaled, synthetic_run};

#[test]
fn a_twenty_percent_p95_regression_is_caught_and_five_percent_noise_is_not() {
    let base = synthetic_run(120, 4, 1);
    let t = Tolerances::default();
    let slow = compare(&base, &scaled(&base, 1.20), &t);
    assert!(
        slow.regressions().iter().any(|(_, d)| d.metric == "p95"),
        "{}",
        slow.to_text()
    );
    let noisy = compare(&base, &scaled(&base, 1.05), &t);
    assert!(noisy.regressions().is_empty(), "{}", noisy.to_text());
    assert!(slow.to_markdown().contains("**REGRESSION**"));
}

#[test]
fn names_run_on_one_side_only_are_listed_not_dropped_silently() {
    let base = synthetic_run(60, 4, 1);
    let mut current = base.clone();
    current.requests[3].name = "training.renamed".into();
    let c = compare(&base, &current, &Tolerances::default());
    assert_eq!(c.only_in_baseline, ["training.cancel"]);
    assert_eq!(c.only_in_current, ["training.renamed"]);
    assert!(c
        .to_text()
        .contains("Only in the current run (not compared): training.renamed"));
    let md = c.to_markdown();
    assert!(
        md.contains("Only in the baseline (not compared): training.cancel"),
        "{md}"
    );
    assert!(md.contains("| Name | Metric |"), "{md}");
}
