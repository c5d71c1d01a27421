//! The results file round-trips, and other format versions get a clear error.
use reports::synthetic::{synthetic_open_run, synthetic_run};
use reports::{LoadModel, RunResult, FORMAT_VERSION};

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
fn the_committed_version_1_fixture_still_loads_as_a_closed_run_without_intended_latency() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results-v1.json");
    let run = RunResult::read_from(&path).unwrap();
    assert_eq!(run.format_version, 1);
    assert!(run.overall().requests > 0);
    assert_eq!(run.metadata.load_model, LoadModel::Closed);
    assert_eq!(run.dropped_arrivals, 0);
    assert!(!run.has_intended());
    assert!(run
        .series
        .iter()
        .all(|s| s.dropped == 0 && s.intended_samples.is_empty()));
    // Its latency thresholds fall back to service time when judged again.
    let verdicts = reports::evaluate_slas(&run, &run.thresholds);
    assert!(
        verdicts
            .iter()
            .any(|v| v.describe().contains("service time")),
        "{verdicts:?}"
    );
    // And every renderer takes it.
    reports::write_all(&run, tempfile::tempdir().unwrap().path()).unwrap();
}

#[test]
fn a_version_2_open_model_result_round_trips_with_both_latencies_and_drops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let run = synthetic_open_run(45, 3, 3);
    assert_eq!(run.format_version, 2);
    assert!(run.has_intended() && run.dropped_arrivals > 0);
    run.write_to(&path).unwrap();
    let back = RunResult::read_from(&path).unwrap();
    assert_eq!(back, run);
    assert_eq!(back.metadata.load_model, LoadModel::Open);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"load_model\": \"open\""),
        "serialized as a string"
    );
}

#[test]
fn dropped_rate_is_judged_on_the_run_and_on_each_stage() {
    let mut run = synthetic_open_run(60, 2, 3);
    let t = reports::SlaThreshold::new(reports::SlaMetric::DroppedRate, None, 0.01);
    let v = &reports::evaluate_slas(&run, std::slice::from_ref(&t))[0];
    let offered = run.overall().requests + run.dropped_arrivals;
    assert_eq!(v.measured, run.dropped_arrivals as f64 / offered as f64);
    assert!(!v.passed);
    run.thresholds = vec![t];
    let cap = reports::capacity::capacity(&run);
    assert!(
        cap.rows[0].slas_held,
        "the first stage drops nothing: {:?}",
        cap.rows[0]
    );
    assert_eq!(cap.rows[2].broken_by, ["dropped_rate"]);
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
