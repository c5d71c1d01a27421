//! Latencies free of coordinated omission, checked against a server whose stalls we know.
//!
//! The reference server answers in 2 ms but stalls every request for the rest of a 1 s window
//! once every 5 s. A request meant to be sent at `t` therefore takes its remaining stall plus
//! 2 ms: that is the truth, computed here from the intended send times (spread evenly over the
//! run, as a steady cadence or rate spreads them). Closed users (100 ms, 10–50 ms and no think
//! time) send nothing while they wait, so their raw latencies miss the stall almost entirely;
//! the corrected (intended-time) percentiles must be within 10 % of the truth, for closed users
//! and for open-model arrivals alike, and never below the service time.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::*;

const STALL_EVERY: f64 = 5.0;
const STALL_FOR: f64 = 1.0;
const SERVICE_MS: f64 = 2.0;
const RUN_SECS: f64 = 10.0;

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// The `q` quantile (ms) of latencies of requests intended evenly over `[from, to)`, times in
/// seconds of the server's stall clock.
fn truth(from: f64, to: f64, q: f64) -> f64 {
    let steps = ((to - from) * 10_000.0) as usize;
    let mut latencies: Vec<f64> = (0..steps)
        .map(|i| {
            let t = from + i as f64 / 10_000.0;
            let phase = t.rem_euclid(STALL_EVERY);
            (STALL_FOR - phase).max(0.0) * 1000.0 + SERVICE_MS
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)]
}

/// When users began sending (seconds since the epoch): the first second with requests, less
/// the part of it before they started (from its count against the next second's).
fn sending_since(r: &reports::RunResult) -> f64 {
    let mut busy = r.series.iter().filter(|s| s.requests > 0);
    let first = busy.next().expect("some requests");
    let share = busy.next().map_or(1.0, |next| {
        (first.requests as f64 / next.requests as f64).min(1.0)
    });
    first.unix_second as f64 + 1.0 - share
}

/// `skein run` of each (results directory, scenario, extra flags) against `host`, all at
/// the same time; their outputs in the same order.
fn at_once(
    host: &str,
    runs: Vec<(std::path::PathBuf, String, Vec<&'static str>)>,
) -> Vec<(std::path::PathBuf, std::process::Output)> {
    let handles: Vec<_> = runs
        .into_iter()
        .map(|(out, scenario, extra)| {
            let host = host.to_string();
            let dir = out.clone();
            let handle = std::thread::spawn(move || {
                let mut args = vec!["run", "--scenario", &scenario, "--host", &host];
                args.extend(["--out", dir.to_str().unwrap()]);
                args.extend(extra);
                run(&args)
            });
            (out, handle)
        })
        .collect();
    handles
        .into_iter()
        .map(|(out, handle)| (out, handle.join().unwrap()))
        .collect()
}

fn within_10_percent(measured: f64, truth: f64) -> bool {
    (measured - truth).abs() <= 0.10 * truth
}

#[test]
fn corrected_percentiles_match_the_truth_for_closed_users_and_open_arrivals() {
    let before = SystemTime::now();
    let server = Server::start(|c| {
        c.no_latency = true;
        c.latency_overrides = vec!["*=2".parse().unwrap()];
        c.stall_every_s = 5;
        c.stall_for_ms = 1_000;
    });
    let server_start = (unix_secs(before) + unix_secs(SystemTime::now())) / 2.0;
    // Start 2 s into a stall cycle: both runs then hold two whole stalls well inside them.
    let phase = (unix_secs(SystemTime::now()) - server_start).rem_euclid(STALL_EVERY);
    std::thread::sleep(Duration::from_secs_f64(
        (2.0 - phase).rem_euclid(STALL_EVERY),
    ));

    let dir = tempfile::tempdir().unwrap();
    // Closed users with a long, a short and no think time (a user with none sends at the end
    // of its previous answer), and open-model arrivals.
    let closed = |users: u32, think: &str| {
        format!(
            "users = {users}\nspawn_rate = 100\nrun_time = \"{RUN_SECS}s\"\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\nthink_time = {think}\n[sla]\np95_ms = 60000\n"
        )
    };
    let scenarios = [
        ("closed", closed(10, r#"["100ms", "100ms"]"#)),
        ("closed-10-50ms", closed(10, r#"["10ms", "50ms"]"#)),
        ("closed-no-think", closed(2, r#"["0ms", "0ms"]"#)),
        (
            "open",
            format!(
                "rate = 100\nrun_time = \"{RUN_SECS}s\"\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\n[sla]\np95_ms = 60000\n"
            ),
        ),
    ];
    let runs = at_once(
        &server.url,
        scenarios
            .iter()
            .map(|(name, text)| {
                let path = scenario_file(dir.path(), name, text);
                let scenario = path.to_str().unwrap().to_string();
                (dir.path().join(name), scenario, vec![])
            })
            .collect(),
    );
    for ((name, _), (out, o)) in scenarios.iter().zip(runs) {
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let r = results(&out);
        let started = r.metadata.started_at.timestamp_micros() as f64 / 1e6;
        let (from, to) = (
            sending_since(&r) - server_start,
            started + RUN_SECS - server_start,
        );
        let all = r.overall();
        let intended = all.intended();
        assert_eq!(
            intended.first_quantile_below(&all.latency),
            None,
            "{name}: intended-time below service time"
        );
        for q in [0.95, 0.99] {
            let expected = truth(from, to, q);
            let corrected = intended.value_at_quantile(q);
            let raw = all.latency.value_at_quantile(q);
            eprintln!(
                "{name} p{}: truth {expected:.0} ms, corrected {corrected:.0} ms, raw {raw:.0} ms",
                q * 100.0
            );
            assert!(
                within_10_percent(corrected, expected),
                "{name} p{}: corrected {corrected:.1} ms, truth {expected:.1} ms (raw {raw:.1} ms)",
                q * 100.0
            );
        }
        if name.starts_with("closed") {
            // What a closed-loop tool reports: the stall barely shows.
            let raw = all.latency.value_at_quantile(0.95);
            assert!(raw < 100.0, "closed raw p95 {raw} ms");
        }
    }
}

/// Each row of `file` (a Locust-style stats CSV) by name: the latency columns (response
/// times and percentiles) as numbers.
fn latency_rows(file: &std::path::Path) -> Vec<(String, Vec<(String, f64)>)> {
    let mut reader = csv::Reader::from_path(file).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|row| {
            let row = row.unwrap();
            let columns = header
                .iter()
                .zip(row.iter())
                .filter(|(h, _)| h.ends_with("Response Time") || h.ends_with('%'))
                .filter_map(|(h, v)| Some((h.to_string(), v.parse::<f64>().ok()?)))
                .collect();
            (row[1].to_string(), columns)
        })
        .collect()
}

/// The two stats CSVs of a run, row by row and column by column: intended-time never below
/// service time. Returns how many cells were compared.
fn corrected_never_below_service(out: &std::path::Path) -> usize {
    let service = latency_rows(&out.join("skein_stats.csv"));
    let corrected = latency_rows(&out.join("skein_stats_corrected.csv"));
    assert_eq!(
        service.iter().map(|r| &r.0).collect::<Vec<_>>(),
        corrected.iter().map(|r| &r.0).collect::<Vec<_>>(),
        "same rows"
    );
    let mut cells = 0;
    for ((name, s), (_, c)) in service.iter().zip(&corrected) {
        for ((column, raw), (_, intended)) in s.iter().zip(c) {
            assert!(
                intended >= raw,
                "{}: {name} {column}: intended-time {intended} ms < service {raw} ms",
                out.display()
            );
            cells += 1;
        }
    }
    cells
}

#[test]
fn intended_time_is_never_below_service_time_with_no_think_time_and_in_the_orchestration_scenario()
{
    let server = Server::start(|_| {});
    let dir = tempfile::tempdir().unwrap();
    let no_think = scenario_file(
        dir.path(),
        "no-think",
        "users = 16\nspawn_rate = 100\nrun_time = \"4s\"\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\nthink_time = [\"0ms\", \"0ms\"]\n[sla]\np95_ms = 60000\n",
    );
    let runs = at_once(
        &server.url,
        vec![
            (
                dir.path().join("no-think"),
                no_think.to_str().unwrap().to_string(),
                vec![],
            ),
            (
                dir.path().join("orchestration"),
                "orchestration".to_string(),
                vec!["-u", "20", "-r", "20", "-t", "6s"],
            ),
        ],
    );
    for (out, o) in runs {
        // The orchestration scenario's SLAs may break on a busy machine (exit 1); the
        // figures are written either way.
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{}: {}",
            out.display(),
            stderr(&o)
        );
        let cells = corrected_never_below_service(&out);
        assert!(cells >= 20, "{}: {cells} cells compared", out.display());
        let r = results(&out);
        for stats in r.requests.iter().chain([&r.overall()]) {
            assert_eq!(
                stats.intended().first_quantile_below(&stats.latency),
                None,
                "{}: {}",
                out.display(),
                stats.name
            );
        }
    }
}
