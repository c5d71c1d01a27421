//! Real worker processes whose reports are dropped, repeated and sent late (the test-only
//! `SKEIN_TEST_REPORT_FAULTS` hook): the manager's totals still equal the sum of the
//! workers' own final results, name by name, bucket by bucket and second by second.
use std::time::Duration;

use skein::distributed::faults::FAULTS_ENV;

use crate::distributed_support::*;
use crate::support::*;

#[test]
fn dropped_repeated_and_late_reports_leave_totals_equal_to_the_workers_own_results() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 8);
    let out = dir.path().join("out");
    let (mut m, url) = manager_for(&path, 3, &server.url, &out);
    // Reports 0-1 go out while waiting for the start; the faults hit reports of the run.
    let faults = [
        ("dropper", "drop@4,drop@5,drop@8"),
        ("repeater", "repeat@4,repeat@6,repeat@9"),
        ("reorderer", "reorder@4,reorder@7"),
    ];
    let mut workers: Vec<_> = faults
        .iter()
        .map(|(id, fault)| {
            let own = dir.path().join(id);
            let mut c = skein();
            c.args(["worker", "--manager", &url, "--token", TOKEN, "--id", id])
                .args(["--out", own.to_str().unwrap()])
                .env(FAULTS_ENV, fault);
            Proc::spawn(c)
        })
        .collect();
    assert_eq!(
        m.exit_code(Duration::from_secs(40)),
        Some(0),
        "{}",
        m.text()
    );
    for w in &mut workers {
        assert_eq!(
            w.exit_code(Duration::from_secs(15)),
            Some(0),
            "{}",
            w.text()
        );
    }
    let merged = results(&out);
    let own: Vec<_> = faults
        .iter()
        .map(|(id, _)| results(&dir.path().join(id)))
        .collect();
    let expected = reports::merge(&own).unwrap();
    assert!(
        expected.overall().requests > 50,
        "{}",
        expected.overall().requests
    );
    assert_eq!(merged.overall().requests, expected.overall().requests);
    assert_eq!(
        merged.requests, expected.requests,
        "per name, histograms included"
    );
    assert_eq!(merged.failures, expected.failures);
    assert_eq!(merged.series, expected.series, "second by second");
    for (id, result) in faults.iter().map(|f| f.0).zip(&own) {
        let line = merged.workers.iter().find(|w| w.worker_id == id).unwrap();
        assert_eq!(line.requests, result.overall().requests, "{id}");
    }
}
