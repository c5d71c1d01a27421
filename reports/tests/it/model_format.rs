//! The results file round-trips, and other format versions get a clear error.
use reports::synthetic::synthetic_run;
use reports::{RunResult, FORMAT_VERSION};

#[test]
fn results_json_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let run = synthetic_run(30, 4, 3);
    run.write_to(&path).unwrap();
    assert_eq!(RunResult::read_from(&path).unwrap(), run);
}

#[test]
fn another_format_version_is_refused_with_both_versions_named() {
    let mut json = serde_json::to_value(synthetic_run(2, 1, 1)).unwrap();
    json["format_version"] = serde_json::json!(FORMAT_VERSION + 1);
    let err = RunResult::from_json(&json.to_string()).unwrap_err();
    assert!(
        err.contains(&format!("version {}", FORMAT_VERSION + 1)),
        "{err}"
    );
    assert!(
        err.contains(&format!("reads versions 1 to {FORMAT_VERSION}")),
        "{err}"
    );
    let err = RunResult::from_json("{\"hello\": 1}").unwrap_err();
    assert!(err.contains("not a Skein results file"), "{err}");
}

#[test]
fn the_committed_fixture_of_the_current_version_still_loads() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results-v1.json");
    let run = RunResult::read_from(&path).unwrap();
    assert_eq!(run.format_version, 1);
    assert!(run.overall().requests > 0);
}

#[test]
fn thresholds_on_no_requests_fail_rather_than_pass_vacuously() {
    let mut run = synthetic_run(10, 2, 1);
    run.thresholds.push(reports::SlaThreshold::new(
        reports::SlaMetric::P95Ms,
        Some("never_sent".into()),
        200.0,
    ));
    let verdicts = reports::evaluate_slas(&run, &run.thresholds);
    assert!(!verdicts.last().unwrap().passed, "a request that never ran");
    run.requests.clear();
    let verdicts = reports::evaluate_slas(&run, &run.thresholds);
    assert!(
        verdicts.iter().all(|v| !v.passed),
        "an empty run passes nothing"
    );
}
