//! Soak: does a long heavy run stay bounded, on both sides? The real `skein` binary runs the
//! heavy scenario (200 users) for MINUTES against the reference server on a database file
//! with its default retention caps (`skein reference-server --db FILE`, a process of its
//! own). Every second both processes' RSS and the store are sampled; every minute (every
//! 15 s for runs under 2 minutes) one line reports them. At the end: the server's RSS and
//! file growth per minute and per hour after warm-up (from the sample where every table
//! reached its cap) with the ratio to the warm-up growth (near 0 means bounded), and the
//! generator's own RSS growth per minute and per hour, from its per-second samples.
//!
//! Run: `cargo bench -p skein --bench soak [-- MINUTES [--keep]]` (default 1; fractions
//! allowed). The database, the generator's log and its results sit in a temporary directory
//! named at the start, removed at the end unless `--keep` is given.
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

mod driver;

use driver::{Load, Target};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let minutes: f64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1.0);
    let keep = args.iter().any(|a| a == "--keep");
    let run_time = Duration::from_secs_f64(minutes * 60.0).max(Duration::from_secs(10));
    let report_every = if minutes < 2.0 { 15 } else { 60 };
    let dir = tempfile::Builder::new()
        .prefix("skein-soak-")
        .tempdir()
        .expect("temp dir");
    let db = dir.path().join("soak.db");
    let skein = std::path::Path::new(env!("CARGO_BIN_EXE_skein"));
    // Stdin stays open as long as the server should: closing it stops the server gracefully.
    let mut server = Command::new(skein)
        .args(["reference-server", "--db"])
        .arg(&db)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start skein reference-server");
    let mut url = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut url)
        .expect("the server's URL");
    let target = Target {
        url: url.trim().to_string(),
        pid: server.id(),
        db,
    };
    let out = dir.path().join("skein");
    println!(
        "soak: {minutes} min of `skein run --scenario heavy` against `skein reference-server --db {}` \
         (default caps) at {}; generator log {}",
        target.db.display(),
        target.url,
        out.join("skein.log").display()
    );
    let load = Load {
        skein,
        scenario: "heavy",
        run_time,
        extra: &["--live-every", "60"],
        out: &out,
        every: Duration::from_secs(1),
    };
    let mut reported = 0;
    let soak = driver::run(&target, &load, |s| {
        if s.at.as_secs() / report_every > reported {
            reported = s.at.as_secs() / report_every;
            println!("{}", s.line());
        }
    });
    drop(server.stdin.take());
    let _ = server.wait();
    println!("generator exited with {}", soak.generator);
    // The heavy scenario spawns its 200 users at 20/s; from 60 s (or a quarter of a short
    // run) the generator's memory is what a steady run holds.
    let steady = Duration::from_secs(60).min(run_time / 4);
    for line in driver::summary(&soak.samples, steady..run_time) {
        println!("{line}");
    }
    if keep {
        println!("kept: {}", dir.keep().display());
    }
}
