//! Intended-time latency and dropped arrivals reach every output: the corrected CSV, the
//! capacity CSV, the HTML charts and tables, the Markdown summary, JUnit and the comparison.
use reports::compare::{compare, Tolerances};
use reports::synthetic::{scaled, synthetic_open_run, synthetic_run};
use reports::{write_all, LatencyBasis};

fn header(path: &std::path::Path) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.headers().unwrap().iter().map(str::to_string).collect()
}

fn rows(path: &std::path::Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records().map(Result::unwrap).collect()
}

#[test]
fn the_corrected_stats_csv_has_the_stats_columns_and_intended_time_values() {
    let dir = tempfile::tempdir().unwrap();
    let run = synthetic_open_run(60, 3, 3);
    let written = write_all(&run, dir.path()).unwrap();
    let corrected = dir.path().join("skein_stats_corrected.csv");
    assert!(written.contains(&corrected), "{written:?}");
    assert_eq!(
        header(&corrected),
        header(&dir.path().join("skein_stats.csv"))
    );

    let aggregated = rows(&corrected).pop().unwrap();
    let overall = run.overall();
    assert_eq!(&aggregated[1], "Aggregated");
    assert_eq!(aggregated[2].parse::<u64>().unwrap(), overall.requests);
    let median: f64 = aggregated[4].parse().unwrap();
    assert!((median - overall.intended().value_at_quantile(0.5)).abs() < 0.001);
    let service: f64 = rows(&dir.path().join("skein_stats.csv")).pop().unwrap()[4]
        .parse()
        .unwrap();
    assert!(
        median > service,
        "the wait to be sent is included: {median} vs {service}"
    );
}

#[test]
fn a_run_without_intended_latency_writes_no_corrected_csv() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_all(&synthetic_run(20, 2, 1), dir.path()).unwrap();
    assert!(!dir.path().join("skein_stats_corrected.csv").exists());
    assert_eq!(
        written.len(),
        8,
        "results.json, 4 CSV, html, md, junit: {written:?}"
    );
}

#[test]
fn capacity_csv_counts_dropped_arrivals_per_second_of_each_stage() {
    let dir = tempfile::tempdir().unwrap();
    let run = synthetic_open_run(90, 2, 3);
    write_all(&run, dir.path()).unwrap();
    let path = dir.path().join("skein_capacity.csv");
    let h = header(&path);
    let at = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (dropped, intended) = (at("Dropped/s"), at("Intended 95%"));
    let stages = rows(&path);
    assert_eq!(&stages[0][dropped], "0.000");
    let last: f64 = stages[2][dropped].parse().unwrap();
    let expected = run.stages[2].dropped as f64 / run.stages[2].duration_secs();
    assert!(
        last > 0.0 && (last - expected).abs() < 0.001,
        "{last} vs {expected}"
    );
    assert!(stages[2][intended].parse::<f64>().unwrap() > 0.0);
    write_all(&synthetic_run(30, 2, 1), dir.path()).unwrap();
    assert_eq!(&rows(&path)[0][intended], "N/A");
}

#[test]
fn html_shows_both_latencies_with_a_caption_and_dropped_arrivals_with_failures() {
    let dir = tempfile::tempdir().unwrap();
    let run = synthetic_open_run(120, 4, 4);
    write_all(&run, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for text in [
        "p95 service",
        "p99 service",
        "p95 intended-time",
        "p99 intended-time",
        "coordinated omission",
        "% of arrivals dropped",
        "arrivals dropped",
        "open load model",
        "p95 intended ms",
        "(intended-time, all requests)",
        "dropped_rate",
    ] {
        assert!(html.contains(text), "missing {text}");
    }
    assert_eq!(
        html.matches("coordinated omission").count(),
        2,
        "one caption under the over-time chart, one under the spectrum"
    );
    let failures = &html[html.find(">Failures</h2>").unwrap()..];
    assert!(failures.contains(&format!("{} arrivals dropped", run.dropped_arrivals)));

    let closed = tempfile::tempdir().unwrap();
    write_all(&synthetic_run(30, 2, 1), closed.path()).unwrap();
    let html = std::fs::read_to_string(closed.path().join("report.html")).unwrap();
    assert!(html.contains("closed load model"));
    for absent in ["intended-time", "arrivals dropped", "coordinated omission"] {
        assert!(
            !html.contains(absent),
            "{absent} shown for a run without it"
        );
    }
}

#[test]
fn summary_and_junit_give_both_latencies_and_dropped_arrivals() {
    let dir = tempfile::tempdir().unwrap();
    let run = synthetic_open_run(60, 3, 3);
    write_all(&run, dir.path()).unwrap();
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains("Service time: p50"), "{md}");
    assert!(md.contains("Intended-time latency"), "{md}");
    assert!(
        md.contains(&format!("{} arrivals dropped", run.dropped_arrivals)),
        "{md}"
    );
    assert!(md.contains("p95 intended ms"), "{md}");
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let property = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value"))
            .map(str::to_string)
    };
    assert_eq!(
        property("dropped_arrivals"),
        Some(run.dropped_arrivals.to_string())
    );
    assert!(property("p95_intended_ms").is_some());
    assert!(
        xml.contains("name=\"dropped_rate &lt; 5.00 % (all requests)\""),
        "{xml}"
    );
}

#[test]
fn compare_judges_intended_time_when_both_runs_have_it_and_says_so() {
    let base = synthetic_open_run(120, 4, 1);
    let t = Tolerances::default();
    // Service time unchanged, intended-time latency 30 % worse: a regression.
    let mut slow = base.clone();
    let worse = scaled(&base, 1.3);
    for (r, w) in slow.requests.iter_mut().zip(&worse.requests) {
        r.intended_samples = w.intended_samples.clone();
    }
    let c = compare(&base, &slow, &t);
    assert!(c.rows.iter().all(|r| r.latency == LatencyBasis::Intended));
    assert!(
        c.regressions().iter().any(|(_, d)| d.metric == "p95"),
        "{}",
        c.to_text()
    );
    assert!(c.to_text().contains("Latency compared: intended-time"));

    // Against a run without intended-time latency, service time is compared.
    let c = compare(&synthetic_run(120, 4, 1), &slow, &t);
    assert!(c.rows.iter().all(|r| r.latency == LatencyBasis::Service));
    assert!(c.to_markdown().contains("Latency compared: service time"));
}
