//! `skein history`: weeks of results (synthetic weekly runs from `reports::synthetic`, with a
//! slowdown in one week, plus a real run) become a trend page and CSV with the slowdown
//! marked; on two real runs, the regression it marks is exactly what `skein compare` reports;
//! bad input is named and exits 2.
use std::path::{Path, PathBuf};
use std::time::Duration;

use reports::synthetic::{scaled, synthetic_run};
use reports::RunResult;

use crate::support::*;

const SHORT: &str = r#"
users = 3
spawn_rate = 3
run_time = "3s"
[[user_classes]]
class = "BurstTrainingUser"
weight = 1
think_time = ["10ms", "30ms"]
"#;

/// Writes `result` as `dir/results.json`.
fn write_run(dir: &Path, result: &RunResult) {
    std::fs::create_dir_all(dir).unwrap();
    result.write_to(&dir.join("results.json")).unwrap();
}

/// A synthetic nightly run of scenario `nightly`, `week` weeks after the first, its
/// latencies scaled by `factor`.
fn weekly(base: &RunResult, week: i64, factor: f64) -> RunResult {
    let mut r = scaled(base, factor);
    r.metadata.scenario_name = "nightly".into();
    let shift = chrono::Duration::weeks(week);
    r.metadata.started_at += shift;
    r.metadata.ended_at += shift;
    r
}

/// The CSV's rows as header → value maps.
fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Eight weekly runs; week 5 is 60 % slower and stays so (weeks 6, 7 compare with week 5
/// and do not regress), small jitter elsewhere.
const WEEKS: [f64; 8] = [1.0, 1.02, 0.99, 1.01, 1.0, 1.6, 1.61, 1.59];

/// Writes the weekly runs (out of order, nested at different depths), one real run, and a
/// malformed results.json under `root`.
fn history_tree(root: &Path) -> PathBuf {
    let base = synthetic_run(120, 3, 3);
    for week in [3, 0, 7, 5, 1, 6, 2, 4] {
        let dir = root.join(format!("ci/week-{week}/nightly"));
        write_run(&dir, &weekly(&base, week as i64, WEEKS[week]));
    }
    let server = Server::fast();
    let scenario = scenario_file(root, "short", SHORT);
    let real = root.join("ci/real");
    let o = run_file(&scenario, &server.url, &real);
    assert!(o.status.code() == Some(0), "{}", stderr(&o));
    let broken = root.join("ci/broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("results.json"), "{\"format_version\": 3, ").unwrap();
    broken.join("results.json")
}

#[test]
fn weeks_of_runs_become_a_trend_page_and_csv_with_the_slow_week_marked() {
    let dir = tempfile::tempdir().unwrap();
    let broken = history_tree(dir.path());
    let page = dir.path().join("trend/history.html");
    std::fs::create_dir_all(page.parent().unwrap()).unwrap();
    let o = run(&[
        "history",
        dir.path().join("ci").to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The malformed file is skipped, by name.
    assert!(
        stderr(&o).contains(&format!("warning: skipped {}: ", broken.display())),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("9 runs of 2 scenarios, 1 regressed"),
        "{}",
        stdout(&o)
    );

    let rows = csv_rows(&dir.path().join("trend/history.csv"));
    assert_eq!(rows.len(), 9);
    let nightly: Vec<_> = rows.iter().filter(|r| r["Scenario"] == "nightly").collect();
    assert_eq!(nightly.len(), 8);
    // Oldest first, whatever order the directories were found in.
    for (week, row) in nightly.iter().enumerate() {
        assert!(
            row["Source"].contains(&format!("week-{week}/")),
            "row {week}: {}",
            row["Source"]
        );
        let expected = if week == 5 { "yes" } else { "no" };
        assert_eq!(row["Regression"], expected, "week {week}: {row:?}");
    }
    assert!(
        nightly[5]["Regressions"].contains("p95"),
        "{:?}",
        nightly[5]
    );
    assert!(nightly[4]["Source"] == nightly[5]["Baseline"]);
    let p95 = |row: &std::collections::HashMap<String, String>| row["95%"].parse::<f64>().unwrap();
    assert!(p95(nightly[5]) > 1.4 * p95(nightly[4]));
    // The real run's row carries its own figures.
    let real = rows.iter().find(|r| r["Scenario"] == "short").unwrap();
    let result = results(&dir.path().join("ci/real"));
    assert_eq!(real["Request Count"], result.overall().requests.to_string());
    assert_eq!(real["Baseline"], "");
    assert!(
        real["Requests/s"].parse::<f64>().unwrap() > 10.0,
        "{real:?}"
    );
    assert!(
        real["Generator CPU %"].parse::<f64>().unwrap() > 0.0,
        "{real:?}"
    );

    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("1 run(s) regressed against the run before"));
    assert!(html.contains(&broken.display().to_string()));
    assert_eq!(html.matches("<svg").count(), 6, "three charts per scenario");
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "self-contained"
    );

    let png = dir.path().join("history.png");
    reports::screenshot::screenshot(&page, &png, (1100, 3000), Duration::from_secs(60)).expect(
        "headless Chromium renders the history page (apt-get install chromium, see .ci/apt-packages.txt)",
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "suspiciously small screenshot: {} bytes",
        bytes.len()
    );

    // --strict fails on the malformed file, naming it.
    let strict = run(&[
        "history",
        dir.path().join("ci").to_str().unwrap(),
        "--strict",
        "--out",
        page.to_str().unwrap(),
    ]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(
        stderr(&strict).contains(&broken.display().to_string()),
        "{}",
        stderr(&strict)
    );
}

/// Two real runs of one scenario, the second against a server 30 ms slower per call
/// (started a second later, so the order is known; they overlap, so a busy machine slows
/// both alike, as in `compare_real_runs`).
#[test]
fn on_real_runs_history_marks_what_compare_reports() {
    const STEADY: &str = r#"
users = 5
spawn_rate = 5
run_time = "10s"
[[user_classes]]
class = "BurstTrainingUser"
weight = 1
think_time = ["10ms", "30ms"]
# Not the default p95 < 200 ms: with 130 ms from the server, a busy machine broke it and the run
# exited 1; what is judged here is the history's regression mark, not an SLA.
[sla]
p95_ms = 10000
"#;
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "steady", STEADY);
    let mut started = Vec::new();
    for (latency, name) in [
        ("*=100+20", "runs/1-baseline"),
        ("*=130+20", "runs/2-slower"),
    ] {
        let server = Server::start(|c| c.latency_overrides = vec![latency.parse().unwrap()]);
        let out = dir.path().join(name);
        let child = skein()
            .args(["run", "--scenario"])
            .arg(&scenario)
            .args(["--host", &server.url, "--out"])
            .arg(&out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        started.push((server, out, child));
        std::thread::sleep(Duration::from_millis(1200));
    }
    let outs: Vec<PathBuf> = started
        .into_iter()
        .map(|(_server, out, child)| {
            let o = child.wait_with_output().unwrap();
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            out
        })
        .collect();
    let page = dir.path().join("history.html");
    let o = run(&[
        "history",
        dir.path().join("runs").to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&dir.path().join("history.csv"));
    assert_eq!(rows.len(), 2);
    assert!(rows[0]["Source"].contains("1-baseline"));
    assert_eq!(rows[1]["Regression"], "yes", "{:?}", rows[1]);

    // `skein compare` on the same pair reports the same regressions.
    let compare = run(&[
        "compare",
        "--baseline",
        outs[0].to_str().unwrap(),
        outs[1].to_str().unwrap(),
    ]);
    assert_eq!(compare.status.code(), Some(1), "{}", stdout(&compare));
    // Both as sets of "name metric" (the BurstTrainingUser's names have no spaces).
    let name_metric = |line: &str| {
        line.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let text = stdout(&compare);
    let from_compare: std::collections::BTreeSet<String> = text
        .lines()
        .filter(|l| l.ends_with("REGRESSION"))
        .map(name_metric)
        .collect();
    let from_history: std::collections::BTreeSet<String> = rows[1]["Regressions"]
        .split("; ")
        .map(name_metric)
        .collect();
    assert!(!from_history.is_empty());
    assert_eq!(from_history, from_compare, "compare said\n{text}");
}

#[test]
fn bad_history_input_is_named_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("h.html");
    let history = |dirs: &[&Path], out: &Path| {
        let mut args = vec!["history".to_string()];
        args.extend(dirs.iter().map(|d| d.display().to_string()));
        args.extend(["--out".to_string(), out.display().to_string()]);
        skein().args(&args).output().unwrap()
    };
    let missing = dir.path().join("nope");
    let o = history(&[&missing], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("nope: no such directory"),
        "{}",
        stderr(&o)
    );

    let empty = dir.path().join("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    let o = history(&[&empty], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("empty: no results.json under it"),
        "{}",
        stderr(&o)
    );

    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("results.json"), "not json").unwrap();
    let o = history(&[&broken], &out);
    assert_eq!(o.status.code(), Some(2), "nothing readable: {}", stderr(&o));
    assert!(stderr(&o).contains("warning: skipped"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no readable results.json"),
        "{}",
        stderr(&o)
    );

    let good = dir.path().join("good/run");
    write_run(&good, &synthetic_run(30, 1, 1));
    let unwritable = dir.path().join("no/such/dir/h.html");
    let o = history(&[&good], &unwritable);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot write it"), "{}", stderr(&o));

    let o = history(&[&good], &dir.path().join("h.csv"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("give the page's name"),
        "{}",
        stderr(&o)
    );
}
