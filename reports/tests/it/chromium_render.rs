//! `report.html` renders in headless Chromium (Debian's, installed by `.ci/run`) to a real PNG.
//!
//! The run is synthetic but realistic in shape: ten minutes, five ramp steps past the knee,
//! eight request names, failures, both latencies, dropped arrivals and two workers (one lost). A missing Chromium fails the
//! test: the report's rendering is part of what CI checks.
use std::path::Path;
use std::time::Duration;

use reports::screenshot::screenshot;
use reports::synthetic::synthetic_open_run;
use reports::{write_all, GeneratorResources, WorkerContribution};

/// Width and height from the PNG's IHDR chunk (which must come first).
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG header");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is not IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn report_html_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = synthetic_open_run(600, 8, 5);
    for (i, lost) in [(1, false), (2, true)] {
        run.workers.push(WorkerContribution {
            worker_id: format!("worker-{i}"),
            address: Some(format!("10.0.0.{}", i + 1)),
            requests: run.overall().requests / 2,
            failures: run.overall().failures / 2,
            joined_at: run.metadata.started_at,
            lost_at: lost.then_some(run.metadata.ended_at),
            resources: GeneratorResources {
                cpu_seconds: 30.0,
                peak_rss_bytes: 48 << 20,
            },
        });
    }
    write_all(&run, dir.path()).unwrap();
    render_checked(dir.path(), (1280, 4000), "SKEIN_KEEP_SCREENSHOT");
}

/// Renders `dir/report.html` to a PNG of `size` and checks it is one and not blank; copies it
/// to the path in the environment variable `keep`, when set, for a person to look at.
pub(crate) fn render_checked(dir: &Path, size: (u32, u32), keep: &str) {
    let png = dir.join("report.png");
    screenshot(
        &dir.join("report.html"),
        &png,
        size,
        Duration::from_secs(90),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(png_size(&bytes), size);
    // A blank page compresses to a few KB; text, tables and charts do not.
    assert!(
        bytes.len() > 50_000,
        "suspiciously small screenshot: {} bytes",
        bytes.len()
    );
    if let Some(keep) = std::env::var_os(keep) {
        std::fs::copy(&png, keep).unwrap();
    }
}

#[test]
fn a_hung_chromium_is_reported_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("page.html");
    std::fs::write(&html, "<p>x</p>").unwrap();
    let err = screenshot(&html, &dir.path().join("x.png"), (800, 600), Duration::ZERO)
        .expect_err("no browser starts within zero seconds");
    assert!(err.to_string().contains("killed"), "{err}");
}
