//! A short soak (the soak benchmark's run, `benches/soak/driver.rs`, for seconds): the heavy
//! scenario's users against a reference server on a database file with tiny retention caps.
//! Once every cap is reached the tables stop growing while the trainers and publishers keep
//! writing, finished jobs keep being evicted, and the generator records no failure for it (a
//! job it remembers that was evicted answers "not found", which its users expect).
use std::path::Path;
use std::time::Duration;

use crate::soak_driver::{self, Load, Sample, Target};
use crate::support::{results, Server};

const USERS: f64 = 40.0;
const MAX_TRAJECTORIES: f64 = 500.0;
const MAX_EVENTS: f64 = 5_000.0;
const MAX_WORKFLOWS: f64 = 30.0;
const MAX_EXECUTIONS: f64 = 10.0;
const MAX_FINISHED_JOBS: f64 = 10.0;
/// Jobs that may be running besides the finished ones kept (the server's default slots).
const MAX_RUNNING_JOBS: f64 = 150.0;
const RUN_TIME: Duration = Duration::from_secs(20);

#[test]
fn a_short_heavy_soak_stops_growing_once_the_caps_are_reached() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("soak.db");
    let server = Server::start(|c| {
        c.db = db.clone();
        c.no_latency = true;
        // Jobs of 10–50 iterations finish within a second, so the job cap binds early.
        c.trainer_tick_ms = 20;
        c.max_trajectories = MAX_TRAJECTORIES as u64;
        c.max_trajectories_per_job = 100;
        c.max_events = MAX_EVENTS as u64;
        c.max_workflows = MAX_WORKFLOWS as u64;
        c.max_executions = MAX_EXECUTIONS as u64;
        c.max_finished_jobs = MAX_FINISHED_JOBS as u64;
        c.eviction_batch = 500;
        c.retention_interval_ms = 50;
    });
    let target = Target {
        url: server.url.clone(),
        // In this process: its RSS is the test binary's, not asserted on.
        pid: std::process::id(),
        db,
    };
    let out = dir.path().join("out");
    let users = USERS.to_string();
    let load = Load {
        skein: Path::new(env!("CARGO_BIN_EXE_skein")),
        scenario: "heavy",
        run_time: RUN_TIME,
        extra: &["-u", &users, "-r", &users],
        out: &out,
        every: Duration::from_millis(250),
    };
    let soak = soak_driver::run(&target, &load, |s| println!("{}", s.line()));
    for line in soak_driver::summary(&soak.samples, Duration::from_secs(5)..RUN_TIME) {
        println!("{line}");
    }
    assert!(soak.generator.code().is_some(), "{:?}", soak.generator);

    let capped = soak_driver::warm_up_end(&soak.samples)
        .unwrap_or_else(|| panic!("the caps were never all reached"));
    assert!(
        capped.at < RUN_TIME * 2 / 3,
        "caps reached only at {:?}",
        capped.at
    );
    let after: Vec<&Sample> = soak.samples.iter().filter(|s| s.at >= capped.at).collect();
    for s in &after {
        let r = &s.rows;
        // The trainers make room before they write: never over.
        assert!(r.trajectories <= MAX_TRAJECTORIES, "{}", s.line());
        // The periodic pass: over by what arrived since the last one at most (a few
        // 1,000-event batches), by running workflows and executions, by running jobs.
        assert!(r.events <= MAX_EVENTS + 10_000.0, "{}", s.line());
        assert!(r.workflows <= MAX_WORKFLOWS + USERS, "{}", s.line());
        assert!(r.executions <= MAX_EXECUTIONS + USERS, "{}", s.line());
        assert!(
            r.jobs <= MAX_FINISHED_JOBS + MAX_RUNNING_JOBS,
            "{}",
            s.line()
        );
    }
    let (first, last) = (after[0], after[after.len() - 1]);
    assert!(
        last.trajectories_written > first.trajectories_written
            && last.events_accepted > first.events_accepted,
        "writes went on after the caps were reached: {} / {}",
        first.line(),
        last.line()
    );
    assert!(
        last.jobs_evicted > first.jobs_evicted,
        "finished jobs went on being evicted"
    );
    // The file levels off: what the caps keep fits in the pages evictions freed. In as long
    // again as the tables took to fill, it grows by at most half as much as it did then (the
    // B-trees still settle a little; a table without its cap would double it).
    let mib = |s: &Sample| soak_driver::mib(s.file_bytes);
    let filling = mib(capped) - mib(&soak.samples[0]);
    let since = mib(last) - mib(capped);
    assert!(
        since <= 0.5 * filling,
        "db file +{since:.2} MiB after the caps were reached, +{filling:.2} MiB before"
    );

    let run = results(&out);
    let overall = run.overall();
    assert!(overall.requests > 200, "{}", overall.requests);
    assert_eq!(
        overall.failures, 0,
        "evicted jobs must not turn into failures: {:?}",
        run.failures
    );
}
