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
