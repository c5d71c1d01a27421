//! `skein report` and `skein compare` as CI calls them.
use reports::synthetic::{scaled, synthetic_run};
use reports::RunResult;

use crate::support::*;

fn compare(
    dir: &std::path::Path,
    base: &RunResult,
    current: &RunResult,
    extra: &[&str],
) -> std::process::Output {
    let (b, c) = (dir.join("base.json"), dir.join("current.json"));
    base.write_to(&b).unwrap();
    current.write_to(&c).unwrap();
    let mut args = vec![
        "compare",
        "--baseline",
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    ];
    args.extend(extra);
    run(&args)
}

#[test]
fn compare_exits_1_on_a_20_percent_p95_regression_and_0_on_noise() {
    let dir = tempfile::tempdir().unwrap();
    let base = synthetic_run(120, 4, 1);
    let md = dir.path().join("cmp.md");
    let o = compare(
        dir.path(),
        &base,
        &scaled(&base, 1.20),
        &["--markdown", md.to_str().unwrap()],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("REGRESSION"));
    assert!(std::fs::read_to_string(&md).unwrap().contains("REGRESSION"));
    let o = compare(dir.path(), &base, &scaled(&base, 1.05), &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = compare(
        dir.path(),
        &base,
        &scaled(&base, 1.20),
        &["--p50", "30", "--p95", "30", "--p99", "30"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "per-metric thresholds: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn compare_and_report_exit_2_on_unreadable_or_mismatched_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"format_version\": 99}").unwrap();
    let good = dir.path().join("good.json");
    synthetic_run(10, 2, 1).write_to(&good).unwrap();
    let o = run(&[
        "compare",
        "--baseline",
        junk.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("version 99"), "{}", stderr(&o));
    let o = run(&["report", dir.path().join("missing.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    let mut other = synthetic_run(10, 2, 1);
    other.metadata.scenario_name = "other".into();
    other.metadata.scenario_hash = "1234".into();
    let other_path = dir.path().join("other.json");
    other.write_to(&other_path).unwrap();
    let o = run(&[
        "compare",
        "--baseline",
        good.to_str().unwrap(),
        other_path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run(&[
        "report",
        good.to_str().unwrap(),
        other_path.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("different scenarios"), "{}", stderr(&o));
}

#[test]
fn report_merges_several_results_into_one() {
    let dir = tempfile::tempdir().unwrap();
    let a = synthetic_run(20, 3, 2);
    let b = synthetic_run(20, 3, 2);
    let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&pa).unwrap();
    std::fs::create_dir_all(&pb).unwrap();
    a.write_to(&pa.join("results.json")).unwrap();
    b.write_to(&pb.join("results.json")).unwrap();
    let out = dir.path().join("merged");
    let o = run(&[
        "report",
        pa.to_str().unwrap(),
        pb.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{}",
        stderr(&o)
    );
    let merged = results(&out);
    assert_eq!(
        merged.overall().requests,
        a.overall().requests + b.overall().requests
    );
    assert_eq!(merged.workers.len(), 2);
    assert!(out.join("report.html").exists());
}
