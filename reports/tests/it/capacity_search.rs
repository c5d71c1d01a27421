//! A `skein capacity` result in every output: the verdict and knee, one row per step, the
//! search chart, and a JUnit case that fails when no capacity was found.
use std::path::Path;

use reports::csv_files::search::SEARCH_CAPACITY_HEADER;
use reports::synthetic::{synthetic_run, synthetic_search_run};
use reports::{write_all, RunResult, SearchOutcome};

fn written(run: &RunResult) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_all(run, dir.path()).unwrap();
    dir
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// The `capacity search` test case of junit.xml: whether it is there and whether it failed,
/// with the failure's message.
fn search_case(xml: &str) -> Option<Option<String>> {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("capacity search"))?;
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(suite.attribute("tests"), Some(cases.to_string().as_str()));
    Some(
        case.children()
            .find(|n| n.has_tag_name("failure"))
            .map(|f| f.attribute("message").unwrap().to_string()),
    )
}

#[test]
fn the_report_leads_with_the_search_its_steps_and_its_chart() {
    let run = synthetic_search_run();
    let search = run.capacity_search.clone().unwrap();
    let dir = written(&run);
    let html = read(dir.path(), "report.html");
    let verdict = search.verdict();
    assert!(
        html.contains(&verdict.replace('>', "&gt;")),
        "verdict missing"
    );
    assert!(html.contains("knee at 600 arrivals/s"), "knee missing");
    let section = html.find(">Capacity search</h2>").expect("the section");
    assert!(
        section < html.find(">Service level objectives</h2>").unwrap(),
        "the answer comes before the whole-run figures"
    );
    assert!(
        html.contains("CAPACITY FOUND: max sustainable 650 arrivals/s")
            && html.contains("verdict pass"),
        "the banner gives the answer"
    );
    let table = &html[html.find("<table class=\"search\">").expect("steps table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr").count(), search.steps.len() + 1);
    assert!(table.contains("confirmation") && table.contains("bisection"));
    // A search's stages are its steps: the per-stage capacity table would repeat them.
    assert!(!html.contains(">Capacity</h2>"));

    let plain = synthetic_run(120, 3, search.steps.len());
    let plain_html = read(written(&plain).path(), "report.html");
    assert_eq!(
        html.matches("<svg").count(),
        plain_html.matches("<svg").count(),
        "the search chart replaces the stage capacity chart"
    );
    assert!(!html.contains("Capacity: throughput and p95 by"));
    let svg = &html[html.find("Capacity search: throughput").expect("the chart")..];
    assert!(svg.contains("max sustainable (650)") && svg.contains("knee (600)"));
}

#[test]
fn the_summary_gives_the_verdict_and_a_row_per_step() {
    let run = synthetic_search_run();
    let search = run.capacity_search.clone().unwrap();
    let summary = read(written(&run).path(), "summary.md");
    assert!(summary.starts_with("# Skein run: capacity-search\n\n**CAPACITY FOUND"));
    assert!(summary.contains(&format!("**{}**", search.verdict())));
    assert!(summary.contains("knee at 600 arrivals/s"));
    let rows = summary
        .lines()
        .skip_while(|l| !l.starts_with("| Step | Phase"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .count();
    assert_eq!(rows, search.steps.len());
    assert!(!summary.contains("## Capacity\n"));
}

#[test]
fn junit_fails_the_search_case_only_when_nothing_was_found() {
    let run = synthetic_search_run();
    let xml = read(written(&run).path(), "junit.xml");
    assert_eq!(search_case(&xml), Some(None), "found: the case passes");

    let mut lost = run.clone();
    let search = lost.capacity_search.as_mut().unwrap();
    search.outcome = SearchOutcome::LowestBroke;
    search.max_sustainable = None;
    search.first_break = Some(0);
    let verdict = search.verdict();
    let xml = read(written(&lost).path(), "junit.xml");
    assert_eq!(search_case(&xml), Some(Some(verdict)));

    let plain = read(written(&synthetic_run(30, 2, 1)).path(), "junit.xml");
    assert_eq!(search_case(&plain), None, "no search, no case");
}

#[test]
fn the_capacity_csv_has_one_row_per_step() {
    let run = synthetic_search_run();
    let search = run.capacity_search.clone().unwrap();
    let dir = written(&run);
    let mut reader = csv::Reader::from_path(dir.path().join("skein_capacity.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(Into::into).collect();
    assert_eq!(header, SEARCH_CAPACITY_HEADER);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), search.steps.len());
    let column = |name: &str| {
        SEARCH_CAPACITY_HEADER
            .iter()
            .position(|h| *h == name)
            .unwrap()
    };
    let marked = |name: &str| -> Vec<usize> {
        (0..rows.len())
            .filter(|&i| &rows[i][column(name)] == "true")
            .collect()
    };
    assert_eq!(marked("Max Sustainable"), [search.max_sustainable.unwrap()]);
    assert_eq!(marked("Knee"), [search.knee.unwrap()]);
    assert_eq!(&rows[8][column("Phase")], "confirm");
    assert_eq!(&rows[8][column("Offered")], "650.000");
    assert_eq!(&rows[7][column("Broken By")], "p95_ms 215.0 ms > 200.0 ms");
}

#[test]
fn a_search_report_renders_in_headless_chromium() {
    let dir = written(&synthetic_search_run());
    crate::chromium_render::render_checked(
        dir.path(),
        (1100, 4000),
        "SKEIN_KEEP_SEARCH_SCREENSHOT",
    );
}
