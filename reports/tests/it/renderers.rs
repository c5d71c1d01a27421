//! Every output file: Locust's CSV headers, self-contained HTML with SVG charts, valid JUnit.
use reports::synthetic::synthetic_run;
use reports::write_all;

fn header(path: &std::path::Path) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.headers().unwrap().iter().map(str::to_string).collect()
}

const PERCENTILES: [&str; 11] = [
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
];

#[test]
fn csv_files_carry_locusts_exact_headers() {
    let dir = tempfile::tempdir().unwrap();
    write_all(&synthetic_run(60, 5, 3), dir.path()).unwrap();
    let mut stats = vec![
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
    ];
    stats.extend(PERCENTILES);
    assert_eq!(header(&dir.path().join("skein_stats.csv")), stats);

    let mut history = vec![
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
    ];
    history.extend(PERCENTILES);
    history.extend([
        "Total Request Count",
        "Total Failure Count",
        "Total Median Response Time",
        "Total Average Response Time",
        "Total Min Response Time",
        "Total Max Response Time",
        "Total Average Content Size",
    ]);
    assert_eq!(header(&dir.path().join("skein_stats_history.csv")), history);
    assert_eq!(
        header(&dir.path().join("skein_failures.csv")),
        [
            "Method",
            "Name",
            "Error",
            "Occurrences",
            "First Seen",
            "Last Seen"
        ]
    );
    assert_eq!(
        header(&dir.path().join("skein_capacity.csv"))[..3],
        ["Stage", "User Count", "Requests/s"]
    );
}

#[test]
fn csv_values_keep_sub_millisecond_precision_and_match_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let run = synthetic_run(30, 3, 1);
    write_all(&run, dir.path()).unwrap();
    let mut r = csv::Reader::from_path(dir.path().join("skein_stats.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.len(),
        run.requests.len() + 1,
        "one row per name plus Aggregated"
    );
    let aggregated = rows.last().unwrap();
    assert_eq!(&aggregated[1], "Aggregated");
    assert_eq!(
        aggregated[2].parse::<u64>().unwrap(),
        run.overall().requests
    );
    let median = &aggregated[4];
    assert_eq!(median.split('.').nth(1).map(str::len), Some(3), "{median}");
    let history = csv::Reader::from_path(dir.path().join("skein_stats_history.csv"))
        .unwrap()
        .records()
        .count();
    assert_eq!(history, run.series.len());
}

#[test]
fn html_is_self_contained_with_svg_charts() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = synthetic_run(120, 6, 4);
    run.workers.push(reports::WorkerContribution {
        worker_id: "worker-1".into(),
        address: Some("10.0.0.2".into()),
        requests: 10,
        failures: 0,
        joined_at: run.metadata.started_at,
        lost_at: Some(run.metadata.ended_at),
        resources: Default::default(),
    });
    write_all(&run, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(
        html.matches("<svg").count() >= 6,
        "users/rps, latency, errors, spectrum, per-request, capacity"
    );
    for section in [
        "Service level objectives",
        "Capacity",
        "Over time",
        "Latency distribution",
        "Requests",
        "Failures",
        "Workers",
        "Run",
    ] {
        assert!(
            html.contains(&format!(">{section}</h2>")),
            "section {section} missing"
        );
    }
    assert!(!html.contains("<script"), "readable without JavaScript");
    // No resource is fetched: no http(s) URL in any src/href/url(), and no <link>/<img> at all.
    let lower = html.to_lowercase();
    for forbidden in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "<link",
        "<img",
        "@import",
    ] {
        assert!(!lower.contains(forbidden), "found {forbidden}");
    }
    assert!(html.contains("worker-1"));
    assert!(
        html.contains("<td class=\"l\">10.0.0.2</td>"),
        "the worker's address is shown"
    );
}

#[test]
fn junit_is_well_formed_with_one_case_per_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = synthetic_run(60, 3, 1);
    run.thresholds.push(reports::SlaThreshold::new(
        reports::SlaMetric::P99Ms,
        Some("training.get_status".into()),
        0.5, // Fails on purpose.
    ));
    run.slas = reports::evaluate_slas(&run, &run.thresholds);
    write_all(&run, dir.path()).unwrap();
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), run.thresholds.len());
    let failed = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .count();
    assert_eq!(failed, run.slas.iter().filter(|v| !v.passed).count());
    assert!(failed >= 1);
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("FAILED") && summary.contains("| SLA |"));
    // Link-free: no Markdown links or autolinks (the host appears only as inline code).
    assert!(
        !summary.contains("](") && !summary.contains("<http"),
        "{summary}"
    );
}

#[test]
fn capacity_names_the_highest_step_that_held_and_the_first_that_broke() {
    let run = synthetic_run(300, 4, 5);
    let cap = reports::capacity::capacity(&run);
    assert_eq!(cap.rows.len(), 5);
    let held: Vec<bool> = cap.rows.iter().map(|r| r.slas_held).collect();
    let recommended = cap.recommended.clone().expect("low steps hold");
    let broken = cap
        .first_broken
        .clone()
        .expect("the knee breaks the high steps");
    assert!(recommended.users < broken.users, "{held:?}");
    assert!(cap
        .verdict()
        .contains(&format!("{} users", recommended.users)));
}

#[test]
fn capacity_recommends_only_steps_before_the_first_break_and_skips_empty_ones() {
    let mut run = synthetic_run(300, 4, 5);
    // Step 3 (index 2) breaks the p95 SLA; step 4 happens to hold again; step 5 saw nothing.
    let slow = {
        let mut h = reports::LatencyHistogram::new();
        (0..100).for_each(|_| h.record(900_000));
        h
    };
    run.stages[2].latency = slow;
    run.stages[2].failures = 0;
    run.stages[3].latency = run.stages[0].latency.clone();
    run.stages[3].failures = 0;
    run.stages[4].requests = 0;
    run.stages[4].failures = 0;
    run.stages[4].latency = reports::LatencyHistogram::new();
    let cap = reports::capacity::capacity(&run);
    assert!(cap.rows[3].slas_held, "{:?}", cap.rows[3]);
    let broken = cap.first_broken.clone().unwrap();
    assert_eq!(broken.stage, 2);
    assert_eq!(broken.broken_by, ["p95_ms"]);
    assert!(cap.recommended.clone().unwrap().users < broken.users);
    assert_eq!(cap.rows[4].status(), "no data");
    assert!(
        cap.verdict().contains("(stage 3: p95_ms)"),
        "{}",
        cap.verdict()
    );
    let dir = tempfile::tempdir().unwrap();
    write_all(&run, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("broken (p95_ms)") && html.contains("no data"));
}

#[test]
fn a_run_without_thresholds_says_so_instead_of_zero_of_zero() {
    let mut run = synthetic_run(20, 2, 1);
    run.thresholds.clear();
    run.slas.clear();
    let dir = tempfile::tempdir().unwrap();
    write_all(&run, dir.path()).unwrap();
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        summary.contains("PASSED: no SLA thresholds were set"),
        "{summary}"
    );
    assert!(!summary.contains("| SLA |"), "{summary}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("No SLA thresholds were set"));
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count(),
        0
    );
}

#[test]
fn seconds_without_requests_get_locusts_na_percentiles() {
    let mut run = synthetic_run(10, 2, 1);
    run.series[0].requests = 0;
    run.series[0].failures = 0;
    run.series[0].latency = reports::LatencyHistogram::new();
    let dir = tempfile::tempdir().unwrap();
    write_all(&run, dir.path()).unwrap();
    let mut r = csv::Reader::from_path(dir.path().join("skein_stats_history.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let p50 = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "50%")
        .unwrap();
    assert_eq!(&rows[0][p50], "N/A");
    assert_eq!(&rows[0][p50 + 10], "N/A", "100%");
    assert!(rows[1][p50].parse::<f64>().unwrap() > 0.0);
}

#[test]
fn skipped_requests_round_trip_merge_and_show_where_failures_are() {
    use reports::{merge, RunResult, SkippedRequests};
    let skipped = |name: &str, count| SkippedRequests {
        class: "SearchUser".into(),
        name: name.into(),
        count,
    };
    let mut a = synthetic_run(10, 2, 1);
    a.skipped_requests = vec![skipped("item", 7)];
    let mut b = synthetic_run(10, 2, 1);
    b.skipped_requests = vec![skipped("item", 5), skipped("order", 1)];
    let merged = merge(&[a.clone(), b]).unwrap();
    assert_eq!(
        merged.skipped_requests,
        [skipped("item", 12), skipped("order", 1)]
    );
    assert_eq!(merged.skipped_total(), 13);

    let text = serde_json::to_string(&merged).unwrap();
    assert_eq!(RunResult::from_json(&text).unwrap(), merged);
    // A result without skips keeps its old shape, and a file without the field reads.
    let plain = synthetic_run(10, 2, 1);
    let text = serde_json::to_string(&plain).unwrap();
    assert!(!text.contains("skipped_requests"));
    assert_eq!(RunResult::from_json(&text).unwrap().skipped_total(), 0);

    let dir = tempfile::tempdir().unwrap();
    write_all(&merged, dir.path()).unwrap();
    let line = "13 requests not sent because a capture they use was not made yet (SearchUser item 12, SearchUser order 1)";
    let markdown = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(markdown.contains(line), "{markdown}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let failures = html.split("<h2>Failures</h2>").nth(1).unwrap();
    assert!(failures.contains(line), "{failures}");
    write_all(&a, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("7 requests not sent"));
    write_all(&plain, dir.path()).unwrap();
    let markdown = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(!markdown.contains("not sent because"));
}
