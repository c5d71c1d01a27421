//! Streaming metrics and items reach every output (CSV, HTML with its chart, Markdown,
//! results.json), merge exactly, and judge SLAs; a run without them shows none of it.
use reports::evaluation::evaluate_slas;
use reports::synthetic::synthetic_run;
use reports::{merge, write_all, RunResult, SlaMetric, SlaThreshold, StreamTiming};

/// A synthetic run whose first request streams (TTFC 300 ms + the second, gaps 25 ms and
/// 40 ms) and carries 10 items per request, on its seconds and in its totals alike.
fn streaming_run() -> RunResult {
    let mut run = synthetic_run(30, 2, 1);
    let name = run.requests[0].name.clone();
    for (i, second) in run.series.iter_mut().enumerate() {
        for _ in 0..4 {
            let timing = StreamTiming {
                ttfc_micros: Some(300_000 + i as u64 * 1_000),
                gaps_micros: vec![25_000, 25_000, 40_000],
            };
            second.stream.record(&timing);
            second.items += 10;
            let stats = &mut run.requests[0];
            stats.stream.record(&timing);
            stats.items += 10;
        }
    }
    assert_eq!(run.requests[0].name, name);
    run.thresholds = vec![
        SlaThreshold::new(SlaMetric::TtfcP95Ms, None, 400.0),
        SlaThreshold::new(SlaMetric::GapP99Ms, None, 30.0),
        SlaThreshold::new(SlaMetric::MinItemsPerS, None, 1.0),
    ];
    run.slas = evaluate_slas(&run, &run.thresholds);
    run
}

#[test]
fn streaming_figures_reach_every_output() {
    let run = streaming_run();
    let dir = tempfile::tempdir().unwrap();
    let written = write_all(&run, dir.path()).unwrap();
    let csv_path = dir.path().join("skein_stream_stats.csv");
    assert!(written.contains(&csv_path), "{written:?}");

    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header[..5],
        ["Type", "Name", "Request Count", "Item Count", "Items/s"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "the streaming request and Aggregated");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let first = &rows[0];
    assert_eq!(&first[col("Stream Count")], "120");
    assert_eq!(&first[col("Chunk Count")], "480");
    assert_eq!(&first[col("Item Count")], "1200");
    let ttfc_p50: f64 = first[col("TTFC 50%")].parse().unwrap();
    assert!((314.0..=316.0).contains(&ttfc_p50), "{ttfc_p50}");
    let gap_p99: f64 = first[col("Gap 99%")].parse().unwrap();
    assert!((gap_p99 - 40.0).abs() < 0.1, "{gap_p99}");
    // 3 gaps in 90 ms: 33.3 chunks/s.
    let rate: f64 = first[col("Chunks/s 50%")].parse().unwrap();
    assert!((rate - 33.33).abs() < 0.1, "{rate}");

    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<h2>Streaming and items</h2>"));
    assert!(html.contains("p95 time to first chunk") && html.contains("items/s"));
    assert!(html.contains("Streamed answers: time to first chunk and gaps per second"));
    assert!(
        html.contains("SLA TTFC p95 &lt; 400 ms"),
        "the SLA line is drawn"
    );
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(md.contains("## Streaming and items"), "{md}");
    assert!(md.contains("ttfc_p95_ms < 400.0 ms"), "{md}");

    let back = RunResult::read_from(&dir.path().join("results.json")).unwrap();
    assert_eq!(back.requests[0].stream, run.requests[0].stream);
    assert_eq!(back.series[3].stream, run.series[3].stream);
    assert_eq!(back.requests[0].items, 1200);
}

#[test]
fn streaming_slas_judge_their_own_histograms() {
    let run = streaming_run();
    let verdict = |m: SlaMetric| run.slas.iter().find(|v| v.threshold.metric == m).unwrap();
    assert!(verdict(SlaMetric::TtfcP95Ms).passed);
    let gap = verdict(SlaMetric::GapP99Ms);
    assert!(!gap.passed && (gap.measured - 40.0).abs() < 0.1, "{gap:?}");
    let items = verdict(SlaMetric::MinItemsPerS);
    assert!(items.passed && items.measured > 1.0, "{items:?}");
}

#[test]
fn merged_streams_are_the_sum_of_their_parts() {
    let (a, b) = (streaming_run(), streaming_run());
    let merged = merge(&[a.clone(), b]).unwrap();
    let stream = &merged.requests[0].stream;
    assert_eq!(stream.streams, 2 * a.requests[0].stream.streams);
    assert_eq!(stream.gap.count(), 2 * a.requests[0].stream.gap.count());
    assert_eq!(merged.requests[0].items, 2 * a.requests[0].items);
    let seconds: u64 = merged.series.iter().map(|s| s.stream.chunks).sum();
    assert_eq!(seconds, stream.chunks);
}

#[test]
fn a_run_that_did_not_stream_shows_no_streaming() {
    let dir = tempfile::tempdir().unwrap();
    write_all(&synthetic_run(20, 2, 1), dir.path()).unwrap();
    assert!(!dir.path().join("skein_stream_stats.csv").exists());
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(!html.contains("Streaming and items"));
    let json = std::fs::read_to_string(dir.path().join("results.json")).unwrap();
    assert!(
        !json.contains("\"stream\""),
        "empty stream stats are not written"
    );
}
