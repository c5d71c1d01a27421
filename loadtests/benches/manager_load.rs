//! The manager under many workers reporting every second: its CPU per second and per report,
//! its RSS, and the ratio to a reference measured in the same run (decoding the same
//! reports alone, in this otherwise idle process).
//!
//! Three processes: the real `skein manager`; a simulator (this bench re-run with
//! `SKEIN_BENCH_SIMULATE=1`) playing the workers, so their CPU is not the manager's nor the
//! reference's; and this process, which reads the manager's CPU from /proc/<pid>/stat while
//! the simulator sends a report per worker per second, spread over the second as real
//! workers' are. Each simulated worker makes 45 requests a second over 8 names (as
//! `reports::synthetic`) and builds its reports with the worker's own `Outbox`. The size of
//! the protocol-3 report (cumulative JSON with a 10-second series tail) for the same state
//! is printed beside protocol 4's.
//!
//! Whether the manager kept up is measured, not assumed: the simulator times every report
//! from the instant it was due to the manager's reply (which follows the report's apply to
//! the merged view), and counts the reports applied within the measured seconds. A
//! saturated manager shows as applied/s below sent/s and an apply lag of seconds, and its
//! row says `no` in the `kept up` column, whatever its CPU per report.
//!
//! Run: `cargo bench -p skein --bench manager_load -- --workers 100,1000 --seconds 10`
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::{Rng, SeedableRng};
use reports::synthetic::synthetic_run;
use reports::{FailureGroup, RequestStats, SecondSample};
use skein::distributed::outbox::Outbox;
use skein::distributed::protocol::*;
use skein::distributed::totals::Measurements;

const TOKEN: &str = "bench-token";
const SIMULATE_ENV: &str = "SKEIN_BENCH_SIMULATE";
const NAMES: usize = 8;
const REQUESTS_PER_SECOND: usize = 45;
/// Rounds before the measured ones: the manager starts its run and settles.
const WARM_UP: u64 = 2;

/// The manager's CPU seconds so far (utime + stime).
fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

/// `VmRSS` or `VmHWM` of a process, in MiB.
fn memory_of(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// One simulated worker's cumulative measurements, a second at a time.
struct SimWorker {
    rng: rand::rngs::StdRng,
    names: Vec<RequestStats>,
    failures: Vec<FailureGroup>,
    series: Vec<SecondSample>,
    outbox: Outbox,
}

impl SimWorker {
    fn new(index: usize) -> SimWorker {
        SimWorker {
            rng: rand::rngs::StdRng::seed_from_u64(index as u64),
            names: (0..NAMES)
                .map(|i| RequestStats::new("POST", &format!("request_{i}")))
                .collect(),
            failures: Vec::new(),
            series: Vec::new(),
            outbox: Outbox::new(),
        }
    }

    /// Records one more second of requests (latencies as `reports::synthetic` at 50 users).
    fn advance(&mut self, unix_second: i64) {
        let mut second = SecondSample::empty(unix_second);
        second.users = 1;
        for _ in 0..REQUESTS_PER_SECOND {
            let micros = (3_875.0 * (0.5 + self.rng.random::<f64>().powi(3) * 4.0)) as u64;
            let failed = self.rng.random::<f64>() < 0.004;
            let r = &mut self.names[self.rng.random_range(0..NAMES)];
            r.requests += 1;
            r.failures += failed as u64;
            r.content_bytes += 512;
            r.latency.record(micros);
            second.requests += 1;
            second.failures += failed as u64;
            second.content_bytes += 512;
            second.latency.record(micros);
            if failed {
                let at = chrono::DateTime::from_timestamp(unix_second, 0).unwrap();
                let group = FailureGroup::new("POST", &r.name, "HTTP 429", at);
                match self.failures.first_mut() {
                    Some(g) => g.add(&group),
                    None => self.failures.push(group),
                }
            }
        }
        second.compact();
        self.series.push(second);
    }

    fn tail(&self, seconds: usize) -> Vec<SecondSample> {
        self.series[self.series.len().saturating_sub(seconds)..].to_vec()
    }

    /// The next protocol-4 report, assuming the manager applied every earlier one.
    fn report(&mut self, id: usize, run: &Registered, now_unix: i64) -> Report {
        let tail = self.outbox.tail_seconds(now_unix).unwrap_or(usize::MAX);
        let measured = Measurements {
            requests: self.names.clone(),
            failures: self.failures.clone(),
            seconds: self.tail(tail),
            dropped_arrivals: 0,
            skipped: Vec::new(),
        };
        let out = self.outbox.next(&measured);
        self.outbox.replied(Some(out.seq)).unwrap();
        Report {
            worker_id: format!("sim-{id}"),
            run_id: run.run_id.clone(),
            scenario_hash: run.scenario.hash.clone(),
            session: id as u64,
            seq: out.seq,
            base: out.base,
            final_report: false,
            active_users: 1,
            requests: self.names.iter().map(|r| r.requests).sum(),
            failures: self.names.iter().map(|r| r.failures).sum(),
            resources: Default::default(),
            machine_cores: 2,
            change: out.change,
        }
    }

    /// The size of the protocol-3 report of the same state: the cumulative `RunResult` as
    /// JSON (base64 HDR histograms) with the last 10 seconds of the series.
    fn v3_json_len(&self, id: usize, run: &Registered, seq: u64) -> usize {
        let mut result = synthetic_run(1, 1, 1);
        result.metadata.scenario_hash = run.scenario.hash.clone();
        result.requests = self.names.clone();
        result.failures = self.failures.clone();
        result.series = self.tail(SERIES_TAIL_SECONDS);
        let report = serde_json::json!({
            "worker_id": format!("sim-{id}"), "run_id": run.run_id, "seq": seq,
            "scenario_hash": run.scenario.hash, "active_users": 1,
            "result": result, "final_report": false,
        });
        serde_json::to_vec(&report).unwrap().len()
    }
}

/// Every report of the run, by round then worker (deterministic: the simulator sends these
/// very bytes and the reference decodes them again), and the mean protocol-3 size.
fn reports(workers: usize, rounds: u64, run: &Registered, t0: i64) -> (Vec<Vec<Vec<u8>>>, f64) {
    let mut sims: Vec<SimWorker> = (0..workers).map(SimWorker::new).collect();
    let mut v3 = 0;
    let all = (0..rounds)
        .map(|round| {
            let now = t0 + round as i64;
            sims.iter_mut()
                .enumerate()
                .map(|(id, sim)| {
                    sim.advance(now - 1);
                    if id == 0 && round >= WARM_UP {
                        v3 += sim.v3_json_len(id, run, round);
                    }
                    sim.report(id, run, now).encode()
                })
                .collect()
        })
        .collect();
    (all, v3 as f64 / (rounds - WARM_UP) as f64)
}

fn run_of(line: &str) -> Registered {
    serde_json::from_str(line).expect("the simulator prints the registration")
}

/// The simulator process: registers all workers but the last (the manager waits), makes
/// every report, registers the last worker (the run starts), prints the registration and
/// the instant (unix ms) the first round goes out, then sends every round's reports, paced
/// over each second. Making the reports first keeps a busy machine from delaying the first
/// round past the manager's 3-s loss timeout.
fn simulate(url: String, workers: usize, rounds: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let client = reqwest::Client::new();
        let url: std::sync::Arc<str> = url.into();
        let post = move |path: &str, content_type: &'static str, body: Vec<u8>| {
            client
                .post(format!("{url}{path}"))
                .bearer_auth(TOKEN)
                .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        let register = |i: usize| {
            let body = serde_json::to_vec(&Register {
                worker_id: format!("sim-{i}"),
                scenario_hash: None,
            })
            .unwrap();
            let post = post.clone();
            async move {
                let started = Instant::now();
                let r = loop {
                    match post(REGISTER_PATH, "application/json", body.clone()).await {
                        Ok(r) => break r,
                        Err(_) if started.elapsed() < Duration::from_secs(20) => {
                            tokio::time::sleep(Duration::from_millis(100)).await
                        }
                        Err(e) => panic!("manager not reachable: {e}"),
                    }
                };
                String::from_utf8(r.bytes().await.unwrap().to_vec()).unwrap()
            }
        };
        // Worker 0 first, for the run's id and hash the reports are built on; the rest once
        // every report is made, 64 registrations at a time, so that no worker has been
        // silent for the manager's 3-s loss timeout when the run starts (real workers report
        // while they wait; these report only once the run is on).
        let run_line = register(0).await;
        let t0 = chrono::Utc::now().timestamp();
        let (all, v3) = reports(workers, rounds, &run_of(&run_line), t0);
        futures::stream::iter(1..workers)
            .map(register)
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await;
        let start_ms = chrono::Utc::now().timestamp_millis() + 500;
        println!("{run_line}");
        println!("{t0} {start_ms} {v3}");
        let start = tokio::time::Instant::now() + Duration::from_millis(500);
        let mut tasks = Vec::new();
        for id in 0..workers {
            let mine: Vec<Vec<u8>> = all.iter().map(|round| round[id].clone()).collect();
            let post = post.clone();
            let offset = Duration::from_secs(1) * id as u32 / workers as u32;
            tasks.push(tokio::spawn(async move {
                let mut replies = Vec::with_capacity(mine.len());
                for (round, body) in mine.into_iter().enumerate() {
                    let due = start + Duration::from_secs(round as u64) + offset;
                    tokio::time::sleep_until(due).await;
                    let reply = post(REPORT_PATH, REPORT_CONTENT_TYPE, body).await.unwrap();
                    let reply: ReportReply = reply.json().await.unwrap();
                    replies.push(Replied {
                        round: round as u64,
                        due: due - start,
                        at: start.elapsed(),
                        applied: reply.applied == Some(round as u64),
                    });
                }
                replies
            }));
        }
        let mut replies = Vec::new();
        for t in tasks {
            replies.extend(t.await.unwrap());
        }
        println!("{}", KeptUp::of(&replies, rounds).line());
    });
}

/// One report's fate as the simulator saw it: when it was due and answered (from the first
/// round's instant), and whether the manager applied it.
struct Replied {
    round: u64,
    due: Duration,
    at: Duration,
    applied: bool,
}

/// Whether the manager kept up over the measured rounds: reports due per second, reports
/// applied per second (replies received within the measured seconds), the apply lag (due →
/// replied, so after the merged view holds the report) and reports refused.
struct KeptUp {
    sent_per_s: f64,
    applied_per_s: f64,
    lag_p50_ms: f64,
    lag_p99_ms: f64,
    lag_max_ms: f64,
    refused: usize,
}

impl KeptUp {
    fn of(replies: &[Replied], rounds: u64) -> KeptUp {
        let window = Duration::from_secs(WARM_UP)..Duration::from_secs(rounds);
        let seconds = (rounds - WARM_UP) as f64;
        let mut lag = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        let measured = replies.iter().filter(|r| r.round >= WARM_UP);
        for r in measured.clone() {
            lag.saturating_record(r.at.saturating_sub(r.due).as_micros() as u64);
        }
        KeptUp {
            sent_per_s: measured.clone().count() as f64 / seconds,
            applied_per_s: replies
                .iter()
                .filter(|r| r.applied && window.contains(&r.at))
                .count() as f64
                / seconds,
            lag_p50_ms: lag.value_at_quantile(0.5) as f64 / 1000.0,
            lag_p99_ms: lag.value_at_quantile(0.99) as f64 / 1000.0,
            lag_max_ms: lag.max() as f64 / 1000.0,
            refused: replies.iter().filter(|r| !r.applied).count(),
        }
    }

    fn line(&self) -> String {
        format!(
            "done {} {} {} {} {} {}",
            self.refused,
            self.sent_per_s,
            self.applied_per_s,
            self.lag_p50_ms,
            self.lag_p99_ms,
            self.lag_max_ms
        )
    }

    fn parse(line: &str) -> KeptUp {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f[0], "done", "the simulator's last line: {line}");
        let n = |i: usize| f[i].parse::<f64>().unwrap();
        KeptUp {
            refused: f[1].parse().unwrap(),
            sent_per_s: n(2),
            applied_per_s: n(3),
            lag_p50_ms: n(4),
            lag_p99_ms: n(5),
            lag_max_ms: n(6),
        }
    }

    /// Every due report applied within the measured seconds (2 % slack for the ones due
    /// at its end) and answered within 250 ms at p99.
    fn held(&self) -> bool {
        self.applied_per_s >= 0.98 * self.sent_per_s && self.lag_p99_ms < 250.0
    }
}

struct Figures {
    kept_up: KeptUp,
    report_bytes: f64,
    v3_bytes: f64,
    cpu_per_second: f64,
    cpu_per_report: f64,
    rss_mib: f64,
    peak_mib: f64,
    decode_per_report: f64,
}

fn measure(workers: usize, seconds: u64) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bench.toml");
    std::fs::write(
        &scenario,
        format!("users = {workers}\nspawn_rate = 100\nrun_time = \"10m\"\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\n"),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut manager = Command::new(env!("CARGO_BIN_EXE_skein"))
        .args(["manager", "--scenario", scenario.to_str().unwrap()])
        .args(["--expect-workers", &workers.to_string()])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--host", "http://127.0.0.1:9", "--token", TOKEN])
        .args(["--out", dir.path().join("out").to_str().unwrap()])
        .args(["--live-every", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rounds = WARM_UP + seconds;
    let mut simulator = Command::new(std::env::current_exe().unwrap())
        .env(SIMULATE_ENV, format!("{url} {workers} {rounds}"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(simulator.stdout.take().unwrap()).lines();
    let mut next = || lines.next().unwrap().unwrap();
    let run = run_of(&next());
    let timing = next();
    let timing: Vec<&str> = timing.split(' ').collect();
    let (t0, start_ms): (i64, i64) = (timing[0].parse().unwrap(), timing[1].parse().unwrap());
    let v3_bytes: f64 = timing[2].parse().unwrap();
    let wait_until = |unix_ms: i64| {
        let ms = unix_ms - chrono::Utc::now().timestamp_millis();
        std::thread::sleep(Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
    };
    wait_until(start_ms + WARM_UP as i64 * 1000);
    let cpu_before = cpu_of(manager.id());
    let started = Instant::now();
    wait_until(start_ms + rounds as i64 * 1000);
    let cpu = cpu_of(manager.id()) - cpu_before;
    let elapsed = started.elapsed().as_secs_f64();
    let (rss_mib, peak_mib) = (
        memory_of(manager.id(), "VmRSS:"),
        memory_of(manager.id(), "VmHWM:"),
    );
    let kept_up = KeptUp::parse(&next());
    assert_eq!(
        kept_up.refused, 0,
        "the manager refused reports: the merge would not be exact"
    );
    let _ = simulator.wait();
    let _ = manager.kill();
    let _ = manager.wait();

    // Reference: decoding the same reports again here, nothing else (mean of the rounds).
    let (all, _) = reports(workers, rounds, &run, t0);
    let measured = &all[WARM_UP as usize..];
    let bytes: usize = measured.iter().flatten().map(Vec::len).sum();
    let count = measured.iter().map(Vec::len).sum::<usize>() as f64;
    let t = Instant::now();
    for body in measured.iter().flatten() {
        std::hint::black_box(Report::decode(body).unwrap());
    }
    let decode = t.elapsed().as_secs_f64();
    Figures {
        kept_up,
        report_bytes: bytes as f64 / count,
        v3_bytes,
        cpu_per_second: cpu / elapsed,
        cpu_per_report: cpu / (workers as f64 * elapsed),
        rss_mib,
        peak_mib,
        decode_per_report: decode / count,
    }
}

fn main() {
    if let Ok(args) = std::env::var(SIMULATE_ENV) {
        let a: Vec<&str> = args.split(' ').collect();
        simulate(
            a[0].to_string(),
            a[1].parse().unwrap(),
            a[2].parse().unwrap(),
        );
        return;
    }
    let mut workers = vec![100, 1000];
    let mut seconds = 10;
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--workers" => {
                workers = pair[1].split(',').map(|w| w.parse().unwrap()).collect();
            }
            "--seconds" => seconds = pair[1].parse().unwrap(),
            _ => {}
        }
    }
    let open_files = open_files_limit();
    if let Some(w) = workers.iter().find(|&&w| w as u64 + 256 > open_files) {
        panic!("{w} workers need more open files than this process may hold ({open_files}): raise it with `ulimit -n`");
    }
    println!("manager_load: each simulated worker makes {REQUESTS_PER_SECOND} req/s over {NAMES} names and reports every second; {seconds} s measured");
    println!(
        "{:>8} {:>9} {:>9} {:>11} {:>13} {:>8} {:>8} {:>8} {:>15} {:>8} {:>8} {:>10} {:>8} {:>7}",
        "workers",
        "v3 B/rep",
        "v4 B/rep",
        "mgr % core",
        "mgr µs/report",
        "RSS MiB",
        "peak MiB",
        "sent/s",
        "applied/s",
        "lag p50",
        "lag p99",
        "lag max ms",
        "kept up",
        "ratio"
    );
    for w in workers {
        let f = measure(w, seconds);
        let k = &f.kept_up;
        println!(
            "{w:>8} {:>9.0} {:>9.0} {:>10.2}% {:>13.1} {:>8.1} {:>8.1} {:>8.0} {:>15.0} {:>8.1} {:>8.1} {:>10.1} {:>8} {:>7.1}",
            f.v3_bytes,
            f.report_bytes,
            f.cpu_per_second * 100.0,
            f.cpu_per_report * 1e6,
            f.rss_mib,
            f.peak_mib,
            k.sent_per_s,
            k.applied_per_s,
            k.lag_p50_ms,
            k.lag_p99_ms,
            k.lag_max_ms,
            if k.held() { "yes" } else { "NO" },
            f.cpu_per_report / f.decode_per_report,
        );
    }
    println!("ratio = the manager's CPU per report / decoding that report alone in this process (same run)");
    println!("lag = a report's due instant to the manager's reply (sent after the report is in the merged view), ms;");
    println!("kept up = applied/s within 2 % of sent/s and lag p99 under 250 ms: a saturated manager says NO");
}

/// This process's soft limit of open files (the simulator and the manager inherit it; each
/// simulated worker may hold a connection in both).
fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}
