//! One soak run, shared by the soak benchmark (`benches/soak/main.rs`: minutes to hours
//! against `skein reference-server --db FILE` with the default retention caps) and the test
//! suite's short soak (`tests/it/soak.rs`: seconds, tiny caps): the real `skein` binary runs a
//! scenario against a reference server while this samples both processes' RSS (from /proc)
//! and the server's store (its `/metrics`, its file and `-wal` file) at a fixed interval.
//!
//! The generator's RSS is sampled as its own series, so its growth (per-second samples:
//! recorder, per-second results, users) is reported apart from the server's.
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use skein::resources::rss_bytes_of;

/// The server under soak.
pub struct Target {
    /// Base URL, `http://HOST:PORT`.
    pub url: String,
    pub pid: u32,
    /// Its database file (its `-wal` file sits beside it).
    pub db: PathBuf,
}

/// Rows of each table, as the server's `target_server_store_rows` gauges report them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StoreRows {
    pub trajectories: f64,
    pub events: f64,
    pub jobs: f64,
    pub workflows: f64,
    pub executions: f64,
}

impl StoreRows {
    const TABLES: [&'static str; 5] = ["trajectories", "events", "jobs", "workflows", "executions"];

    fn get(&self, table: &str) -> f64 {
        match table {
            "trajectories" => self.trajectories,
            "events" => self.events,
            "jobs" => self.jobs,
            "workflows" => self.workflows,
            _ => self.executions,
        }
    }
}

/// Both processes and the store at one moment of the run.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Since the generator started.
    pub at: Duration,
    pub server_rss_bytes: u64,
    pub generator_rss_bytes: u64,
    pub file_bytes: u64,
    pub wal_bytes: u64,
    pub rows: StoreRows,
    /// Counters: what went on being written, and what job retention took.
    pub trajectories_written: f64,
    pub events_accepted: f64,
    pub jobs_evicted: f64,
}

impl Sample {
    /// One report line: both processes, the store, the rows of each table.
    pub fn line(&self) -> String {
        let r = &self.rows;
        format!(
            "{:>7.1} s  server rss {:>6.1} MiB  db file {:>6.1} MiB (+wal {:>5.1})  skein rss {:>6.1} MiB  \
             rows: trajectories {:>7} events {:>7} jobs {:>6} workflows {:>6} executions {:>6}  \
             written: trajectories {} events {}  jobs evicted {}",
            self.at.as_secs_f64(),
            mib(self.server_rss_bytes),
            mib(self.file_bytes),
            mib(self.wal_bytes),
            mib(self.generator_rss_bytes),
            r.trajectories,
            r.events,
            r.jobs,
            r.workflows,
            r.executions,
            self.trajectories_written,
            self.events_accepted,
            self.jobs_evicted,
        )
    }
}

/// What a soak run left: every sample, and how the generator ended.
pub struct Soak {
    pub samples: Vec<Sample>,
    pub generator: ExitStatus,
}

/// The generator, killed if the soak is abandoned (a panic) before it exits.
struct Generator(Child);

impl Drop for Generator {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The load of a soak: `skein run --scenario SCENARIO --host URL -t RUN_TIME --out OUT
/// EXTRA…`, its output in `OUT/skein.log`, sampled every `every`.
pub struct Load<'a> {
    pub skein: &'a Path,
    pub scenario: &'a str,
    pub run_time: Duration,
    pub extra: &'a [&'a str],
    pub out: &'a Path,
    pub every: Duration,
}

/// Runs `load` against `target` and samples until the generator exits; `report` sees each
/// sample as it is taken.
pub fn run(target: &Target, load: &Load<'_>, mut report: impl FnMut(&Sample)) -> Soak {
    let (out, every) = (load.out, load.every);
    std::fs::create_dir_all(out).expect("results directory");
    let log = File::create(out.join("skein.log")).expect("generator log");
    let started = Instant::now();
    let mut generator = Generator(
        Command::new(load.skein)
            .args(["run", "--scenario", load.scenario, "--host", &target.url])
            .arg("-t")
            .arg(format!("{}s", load.run_time.as_secs().max(1)))
            .arg("--out")
            .arg(out)
            .args(load.extra)
            .env_remove("SKEIN_HOST")
            .env_remove("SKEIN_TARGET_TOKEN")
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start skein"),
    );
    let pid = generator.0.id();
    let mut samples = Vec::new();
    let mut next = every;
    loop {
        while started.elapsed() < next {
            if let Some(status) = generator.0.try_wait().expect("generator status") {
                return Soak {
                    samples,
                    generator: status,
                };
            }
            std::thread::sleep(Duration::from_millis(20).min(every));
        }
        let sample = take_sample(target, pid, started.elapsed());
        report(&sample);
        samples.push(sample);
        next += every;
    }
}

fn take_sample(target: &Target, generator_pid: u32, at: Duration) -> Sample {
    let text = scrape(&target.url);
    let value = |series: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let rows = |table: &str| value(&format!("target_server_store_rows{{table=\"{table}\"}}"));
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = target.db.clone().into_os_string();
    wal.push("-wal");
    Sample {
        at,
        server_rss_bytes: rss_bytes_of(target.pid),
        generator_rss_bytes: rss_bytes_of(generator_pid),
        file_bytes: size(&target.db),
        wal_bytes: size(Path::new(&wal)),
        rows: StoreRows {
            trajectories: rows("trajectories"),
            events: rows("events"),
            jobs: rows("jobs"),
            workflows: rows("workflows"),
            executions: rows("executions"),
        },
        trajectories_written: value("target_server_trajectories_written_total"),
        events_accepted: value("target_server_events_accepted_total"),
        jobs_evicted: value("target_server_evictions_total{table=\"jobs\"}"),
    }
}

/// The server's `/metrics` text, over a plain HTTP/1.0 request (the sampler needs no client
/// runtime of its own).
fn scrape(url: &str) -> String {
    let addr = url.strip_prefix("http://").expect("an http:// URL");
    let mut stream = TcpStream::connect(addr).expect("connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("scrape request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("scrape answer");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    body.to_string()
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The first sample at which every table had reached its level at the end of the run (98 %
/// of it: tables trimmed by a periodic pass overshoot a little between passes), if that came
/// before the last sample; until then the store was filling up to its caps.
pub fn warm_up_end(samples: &[Sample]) -> Option<&Sample> {
    let last = samples.last()?;
    samples
        .iter()
        .find(|s| {
            StoreRows::TABLES
                .iter()
                .all(|t| s.rows.get(t) >= 0.98 * last.rows.get(t))
        })
        .filter(|s| s.at < last.at)
}

/// Growth per minute of `value` over `samples`: the least-squares slope, so that RSS noise
/// and the retention passes' saw-tooth do not decide the figure as two end points would.
pub fn per_minute(samples: &[Sample], value: impl Fn(&Sample) -> f64) -> f64 {
    let n = samples.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let minutes = |s: &Sample| s.at.as_secs_f64() / 60.0;
    let mean_t = samples.iter().map(minutes).sum::<f64>() / n;
    let mean_v = samples.iter().map(&value).sum::<f64>() / n;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for s in samples {
        let dt = minutes(s) - mean_t;
        covariance += dt * (value(s) - mean_v);
        variance += dt * dt;
    }
    if variance == 0.0 {
        0.0
    } else {
        covariance / variance
    }
}

/// The closing figures: the server and its store after warm-up, and the generator apart,
/// over `generator` (from when its users all run to the end of the run time: after it, the
/// generator writes its reports), each per minute and per hour.
pub fn summary(samples: &[Sample], generator: std::ops::Range<Duration>) -> Vec<String> {
    let mut lines = Vec::new();
    let Some(last) = samples.last() else {
        return lines;
    };
    let file = |s: &Sample| mib(s.file_bytes);
    let server_rss = |s: &Sample| mib(s.server_rss_bytes);
    let generator: Vec<Sample> = samples
        .iter()
        .filter(|s| generator.contains(&s.at) && s.generator_rss_bytes > 0)
        .copied()
        .collect();
    match warm_up_end(samples) {
        None => lines.push(format!(
            "server: the run ended while the store was still filling to its caps ({:.0} s, \
             db file {:.1} MiB): run longer to see growth after warm-up",
            last.at.as_secs_f64(),
            file(last)
        )),
        Some(capped) => {
            let during: Vec<Sample> = samples
                .iter()
                .take_while(|s| s.at <= capped.at)
                .copied()
                .collect();
            let after: Vec<Sample> = samples
                .iter()
                .filter(|s| s.at >= capped.at)
                .copied()
                .collect();
            let warm = per_minute(&during, file);
            let grown = per_minute(&after, file);
            let rss = per_minute(&after, server_rss);
            let rows: Vec<String> = StoreRows::TABLES
                .iter()
                .map(|t| format!("{t} {:+.0}", per_minute(&after, |s| s.rows.get(t))))
                .collect();
            lines.push(format!(
                "server: warm-up 0..{:.0} s (every table at its cap), db file {warm:+.1} MiB/min",
                capped.at.as_secs_f64()
            ));
            lines.push(format!(
                "server after warm-up ({:.0}..{:.0} s): db file {:.1} → {:.1} MiB, {grown:+.2} MiB/min \
                 ({:+.1} MiB/h); rss {:.1} → {:.1} MiB, {rss:+.2} MiB/min ({:+.1} MiB/h); rows/min: {}",
                capped.at.as_secs_f64(),
                last.at.as_secs_f64(),
                file(capped),
                file(last),
                grown * 60.0,
                server_rss(capped),
                server_rss(last),
                rss * 60.0,
                rows.join(", ")
            ));
            lines.push(format!(
                "ratio of db-file growth after / during warm-up = {:.3}",
                grown / warm.max(1e-9)
            ));
        }
    }
    if let (Some(from), Some(to)) = (generator.first(), generator.last()) {
        let rss = per_minute(&generator, |s| mib(s.generator_rss_bytes));
        lines.push(format!(
            "generator (skein) from {:.0} s to {:.0} s, {} samples: rss {:.1} → {:.1} MiB, \
             {rss:+.3} MiB/min ({:+.1} MiB/h)",
            from.at.as_secs_f64(),
            to.at.as_secs_f64(),
            generator.len(),
            mib(from.generator_rss_bytes),
            mib(to.generator_rss_bytes),
            rss * 60.0
        ));
    }
    lines
}
