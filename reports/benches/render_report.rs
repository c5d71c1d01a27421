//! Renders every output of a synthetic 1-hour run with 20 request names and prints the time,
//! against a reference measured in the same run: serializing the same results.json alone.
//!
//! Run: `cargo bench -p reports --bench render_report`
use std::time::Instant;

use reports::synthetic::synthetic_run;

fn main() {
    let started = Instant::now();
    let mut run = synthetic_run(3600, 20, 6);
    // The per-second series as a run holds it: finished seconds compacted (the recorder and
    // results.json reading both do this), against the dense histograms it was built with.
    let series_bytes = |run: &reports::RunResult| -> usize {
        run.series.iter().map(|s| s.latency.memory_bytes()).sum()
    };
    let dense = series_bytes(&run);
    run.series.iter_mut().for_each(|s| s.latency.compact());
    let compact = series_bytes(&run);
    println!(
        "series memory for 3,600 s: dense {:.1} MiB, compact {:.2} MiB (ratio {:.3})",
        dense as f64 / 1048576.0,
        compact as f64 / 1048576.0,
        compact as f64 / dense as f64
    );
    println!(
        "synthetic run: {} s, {} request names, {} requests, built in {:.2} s",
        run.series.len(),
        run.requests.len(),
        run.overall().requests,
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let best = |f: &dyn Fn()| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let json = best(&|| {
        run.write_to(&dir.path().join("only.json"))
            .expect("write json");
    });
    let all = best(&|| {
        reports::write_all(&run, dir.path()).expect("write all");
    });
    let html = std::fs::metadata(dir.path().join("report.html")).map_or(0, |m| m.len());
    println!("results.json alone (reference): {json:.3} s");
    println!(
        "all outputs (json, 4 csv, html, md, junit): {all:.3} s  (report.html {:.0} KiB)",
        html as f64 / 1024.0
    );
    println!(
        "ratio all / results.json = {:.2}; aim: all < 2 s",
        all / json
    );
}
