//! A real run's report.html renders in headless Chromium (Debian's, installed by .ci/run).
use std::time::Duration;

use crate::support::*;

#[test]
fn a_real_runs_report_renders_in_headless_chromium() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run(&[
        "run",
        "--scenario",
        "gradual-ramp",
        "-u",
        "10",
        "-r",
        "10",
        "-t",
        "6s",
        "--host",
        &server.url,
        "--out",
        out.to_str().unwrap(),
    ]);
    // Exit 0 or 1 as the run's own SLA verdict says: the verdict and the exit code agree.
    let verdict = if results(&out).passed() { 0 } else { 1 };
    assert_eq!(o.status.code(), Some(verdict), "{}", stderr(&o));
    let png = dir.path().join("report.png");
    reports::screenshot::screenshot(
        &out.join("report.html"),
        &png,
        (1100, 4000),
        Duration::from_secs(60),
    )
    .expect(
        "headless Chromium renders the report (apt-get install chromium, see .ci/apt-packages.txt)",
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "suspiciously small screenshot: {} bytes",
        bytes.len()
    );
}
