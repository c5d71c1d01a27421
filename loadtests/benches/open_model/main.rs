//! The open model's precision, CPU and memory, each against a reference measured in this run.
//!
//! The reference server runs in this process on core 1 (one runtime thread); every generator
//! runs in a child process pinned to core 0, so its CPU time is its own (`/proc/self/stat`'s
//! children times). The machine is shared and noisy: the ratios are the result.
//!
//! 1. Precision at 10,000 arrivals/s: how late requests went out after their intended
//!    instants (p50/p99), against the lateness of a bare OS-sleep loop on the same schedule
//!    (the floor any generator on this kernel has), and the arrival count against rate ×
//!    duration.
//! 2. CPU per request at saturation: `wrk -t1 -c64` with the same JSON-RPC request, then
//!    Skein's open model at 1.1× wrk's throughput with `max_in_flight = 64`, and Skein's
//!    closed users (64, no think time) for comparison.
//! 3. Memory: open-model arrivals against a server that never answers, at 1,000/s and at
//!    10,000/s with `max_in_flight = 500`: the generator's RSS growth should not follow the
//!    rate.
//! 4. At an equal fixed rate (12,000 arrivals/s, 64 connections): the open model's CPU per
//!    request against a minimal client in this bench ([`reference`]) that sends the same
//!    request at the same instants (paced as the open executor paces: a timerfd, wake-ups at
//!    least `BATCH` apart) over as many keep-alive connections and does nothing else (no user
//!    model, no histograms per name, one current-thread runtime): what an open-model
//!    generator with that precision costs at least. Aim ≤ 1.2×. The same client paced by
//!    tokio's 1-ms timer (bursts up to ~2 ms late) is shown beside it: the price of precision.
//! 5. The highest rate one core holds: the open model climbs 4,000/s, 8,000/s, … until
//!    its send lag p99 reaches 1 ms or arrivals are dropped, then halves the gap twice (within
//!    1,000/s, at most 10 steps); the minimal client's drops at the same rates beside it say
//!    when the server, not the generator, is the limit.
//!
//! Run: `cargo bench -p skein --bench open_model [-- SECONDS] [fixed]` (`fixed`: sections 4
//! and 5 only; needs `wrk` and `taskset`:
//! `apt-get install wrk util-linux`).
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use skein::engine::StopHandle;
use skein::recorder::Recorder;
use skein::resources;
use skein::runner::run_plan;

mod reference;

#[path = "../children/mod.rs"]
// Each benchmark that includes it uses part of it.
#[allow(dead_code)]
mod children;
use children::{bench_plan, child_output, field, generator_runtime, pin, Server};

const RATE: f64 = 10_000.0;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        child(&args[1..]);
        return;
    }
    let seconds: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(8);
    pin(1);
    let server = Server::start(|_| {});
    let stalled = Server::start(|c| {
        c.stall_every_s = 100_000;
        c.stall_for_ms = 100_000_000;
        c.capacity = 100_000;
        c.queue_limit = 100_000;
    });

    // `fixed`: only sections 4 and 5 (the fixed-rate comparison and the climb).
    let only_fixed = args.iter().any(|a| a == "fixed");
    if !only_fixed {
        precision_cpu_memory(&server, &stalled, seconds);
    }
    fixed_rate(&server, seconds);
}

/// Sections 1 to 3.
fn precision_cpu_memory(server: &Server, stalled: &Server, seconds: u64) {
    println!("== 1. precision at {RATE} arrivals/s for {seconds} s (generator on core 0)");
    let floor = child_output(&["floor", &RATE.to_string(), &seconds.to_string()]);
    let open = child_output(&[
        "open",
        &server.url,
        &RATE.to_string(),
        &seconds.to_string(),
        "10000",
    ]);
    let (floor_p50, floor_p99) = (field(&floor, "p50"), field(&floor, "p99"));
    let (lag_p50, lag_p99) = (field(&open, "lag_p50"), field(&open, "lag_p99"));
    let offered = field(&open, "requests") + field(&open, "dropped");
    let expected = RATE * seconds as f64;
    println!("OS-sleep floor on this schedule: p50 {floor_p50:.3} ms, p99 {floor_p99:.3} ms late");
    println!(
        "Skein open model:                 p50 {lag_p50:.3} ms, p99 {lag_p99:.3} ms late (aim: p99 < 1 ms); ratio to the floor's p99 {:.2}",
        lag_p99 / floor_p99.max(0.001)
    );
    println!(
        "arrivals {offered:.0} of {expected:.0} expected: {:+.3} % (aim: within 0.5 %); {} dropped",
        (offered - expected) / expected * 100.0,
        field(&open, "dropped")
    );

    println!("\n== 2. CPU per request at saturation (same request, 64 in flight)");
    let (wrk_cpu, wrk_requests) = wrk(server, seconds);
    let wrk_per = wrk_cpu / wrk_requests;
    let wrk_rps = wrk_requests / seconds as f64;
    let open = child_cpu(&[
        "open",
        &server.url,
        &(wrk_rps * 1.1).round().to_string(),
        &seconds.to_string(),
        "64",
    ]);
    let closed = child_cpu(&["closed", &server.url, "64", &seconds.to_string()]);
    println!(
        "wrk -t1 -c64:            {:.1} µs CPU/request ({wrk_rps:.0} req/s)",
        wrk_per * 1e6
    );
    for (name, (cpu, requests)) in [("Skein open model:", open), ("Skein closed users:", closed)] {
        println!(
            "{name:<24} {:.1} µs CPU/request ({:.0} req/s); ratio to wrk {:.2}",
            cpu / requests * 1e6,
            requests / seconds as f64,
            (cpu / requests) / wrk_per
        );
    }
    println!("(aim: open model ≤ 1.3× wrk)");

    println!("\n== 3. memory against a server that never answers, max_in_flight 500");
    let low = child_output(&["open", &stalled.url, "1000", "4", "500"]);
    let high = child_output(&["open", &stalled.url, "10000", "4", "500"]);
    let (low_rss, high_rss) = (
        field(&low, "rss_growth_mib"),
        field(&high, "rss_growth_mib"),
    );
    println!(
        "RSS growth at 1,000/s: {low_rss:.1} MiB ({:.0} dropped); at 10,000/s: {high_rss:.1} MiB ({:.0} dropped); ratio {:.2} for 10× the rate",
        field(&low, "dropped"),
        field(&high, "dropped"),
        high_rss / low_rss.max(0.1)
    );
}

/// Sections 4 and 5.
fn fixed_rate(server: &Server, seconds: u64) {
    println!("\n== 4. CPU per request at a fixed {FIXED_RATE} arrivals/s over 64 connections");
    let at_rate = |kind: &str, rate: f64, secs: u64| {
        child_output(&[
            kind,
            &server.url,
            &rate.to_string(),
            &secs.to_string(),
            "64",
        ])
    };
    let minimal = at_rate("fixed", FIXED_RATE, seconds);
    let open = at_rate("open", FIXED_RATE, seconds);
    let coarse = at_rate("fixed-timer", FIXED_RATE, seconds);
    let per = |out: &str| field(out, "cpu") / field(out, "requests");
    for (name, out) in [
        ("minimal client:", &minimal),
        ("Skein open model:", &open),
        ("minimal, 1-ms timer:", &coarse),
    ] {
        println!(
            "{name:<24} {:.1} µs CPU/request ({:.0} req/s, {:.0} dropped), send lag p50 {:.3} ms, p99 {:.3} ms",
            per(out) * 1e6,
            field(out, "requests") / seconds as f64,
            field(out, "dropped"),
            field(out, "lag_p50"),
            field(out, "lag_p99"),
        );
    }
    println!(
        "ratio open model / minimal client {:.2} (aim: ≤ 1.2); / the same client paced by tokio's 1-ms timer {:.2}",
        per(&open) / per(&minimal),
        per(&open) / per(&coarse)
    );

    let climb_secs = seconds.min(4);
    println!(
        "\n== 5. the highest rate one core holds with send lag p99 < 1 ms ({climb_secs} s a rate)"
    );
    // One row per rate tried: the open model's lag and drops beside the minimal client's.
    let try_rate = |rate: f64| -> bool {
        let open = at_rate("open", rate, climb_secs);
        let minimal = at_rate("fixed", rate, climb_secs);
        let offered = rate * climb_secs as f64;
        let holds =
            |out: &str| field(out, "lag_p99") < 1.0 && field(out, "dropped") <= offered * 0.001;
        println!(
            "{rate:>7.0}/s: open model lag p99 {:.3} ms, {:.0} dropped, {:.1} µs/request | minimal client lag p99 {:.3} ms, {:.0} dropped, {:.1} µs/request{}",
            field(&open, "lag_p99"),
            field(&open, "dropped"),
            per(&open) * 1e6,
            field(&minimal, "lag_p99"),
            field(&minimal, "dropped"),
            per(&minimal) * 1e6,
            // The minimal client's dropped arrivals say whether the server (rather than the
            // generator) was the limit.
            if field(&minimal, "dropped") > offered * 0.001 {
                " (the minimal client drops too: the server is the limit)"
            } else {
                ""
            }
        );
        holds(&open)
    };
    // Climb by 4,000/s (at most 8 steps), then halve the gap to the first failing rate twice,
    // so the answer is within 1,000/s after at most 10 steps.
    let mut held = 0.0;
    let mut failed = None;
    for rate in (1..=8).map(|i| 4_000.0 * i as f64) {
        if !try_rate(rate) {
            failed = Some(rate);
            break;
        }
        held = rate;
    }
    if let Some(mut failed) = failed {
        for _ in 0..2 {
            let mid = (held + failed) / 2.0;
            if try_rate(mid) {
                held = mid;
            } else {
                failed = mid;
            }
        }
        println!(
            "the open model held send lag p99 < 1 ms up to {} (failed at {failed:.0}/s)",
            if held > 0.0 {
                format!("{held:.0}/s")
            } else {
                "no rate tried".to_string()
            }
        );
    } else {
        println!("the open model held every rate tried, up to {held:.0}/s");
    }
}

/// Section 4's rate (the rate of the issue's comparison with oha).
const FIXED_RATE: f64 = 12_000.0;

/// CPU seconds and requests of a generator child (its own accounting).
fn child_cpu(args: &[&str]) -> (f64, f64) {
    let out = child_output(args);
    (field(&out, "cpu"), field(&out, "requests"))
}

/// CPU seconds this process's waited-for children used so far (utime + stime of children).
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3; cutime and cstime are fields 16 and 17.
    let ticks: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    ticks / 100.0
}

/// wrk's CPU seconds and the requests the server answered, for `seconds` at 64 connections.
fn wrk(server: &Server, seconds: u64) -> (f64, f64) {
    let script = std::env::temp_dir().join(format!("skein-open-bench-{}.lua", std::process::id()));
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"training.get_status","params":{"job_id":"7f6c4b4e-2b8e-4a51-9b0d-1d4f4a0e9b11"}}"#;
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{body}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {}\"\n",
            target_server::DEFAULT_TOKEN
        ),
    )
    .unwrap();
    let before_cpu = children_cpu();
    let before = server.answered();
    let out = Command::new("taskset")
        .args(["-c", "0", "wrk", "-t1", "-c64"])
        .arg(format!("-d{seconds}s"))
        .arg("-s")
        .arg(&script)
        .arg(format!("{}/api/v1/jsonrpc", server.url))
        .output()
        .expect("run wrk (apt-get install wrk)");
    let _ = std::fs::remove_file(&script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        children_cpu() - before_cpu,
        (server.answered() - before) as f64,
    )
}

impl Server {
    /// `training.get_status` calls answered so far (the server's own counter).
    fn answered(&self) -> u64 {
        let url = format!("{}/metrics", self.url);
        let text = self
            .runtime
            .block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() });
        text.lines()
            .filter(|l| {
                l.starts_with("target_server_requests_total") && l.contains("training.get_status")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

fn child(args: &[String]) {
    let arg = |i: usize| args[i].as_str();
    match arg(0) {
        "floor" => floor(arg(1).parse().unwrap(), arg(2).parse().unwrap()),
        "open" => {
            let (host, rate, secs, max) = (arg(1), arg(2), arg(3), arg(4));
            let text = format!(
                "rate = {rate}\nrun_time = \"{secs}s\"\nmax_in_flight = {max}\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\n"
            );
            generate(host, &text);
        }
        "fixed" | "fixed-timer" => {
            let (host, rate, secs, connections) = (arg(1), arg(2), arg(3), arg(4));
            let pacing = if arg(0) == "fixed" {
                reference::Pacing::Precise
            } else {
                reference::Pacing::Timer
            };
            let out = reference::run(
                host,
                rate.parse().unwrap(),
                Duration::from_secs(secs.parse().unwrap()),
                connections.parse().unwrap(),
                pacing,
            );
            println!(
                "cpu={} requests={} dropped={} lag_p50={} lag_p99={}",
                out.cpu, out.requests, out.dropped, out.lag_p50_ms, out.lag_p99_ms
            );
        }
        "closed" => {
            let (host, users, secs) = (arg(1), arg(2), arg(3));
            let text = format!(
                "users = {users}\nspawn_rate = {users}\nrun_time = \"{secs}s\"\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\nthink_time = [\"0s\", \"0s\"]\n"
            );
            generate(host, &text);
        }
        other => panic!("unknown child mode {other}"),
    }
}

/// The lateness of a bare OS-sleep loop on an evenly spaced schedule.
fn floor(rate: f64, secs: u64) {
    let start = Instant::now();
    let mut late = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    let n = (rate * secs as f64) as u64;
    for k in 0..n {
        let at = start + Duration::from_secs_f64((k as f64 + 0.5) / rate);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        late.record(Instant::now().saturating_duration_since(at).as_micros() as u64)
            .unwrap();
    }
    println!(
        "p50={} p99={}",
        late.value_at_quantile(0.5) as f64 / 1000.0,
        late.value_at_quantile(0.99) as f64 / 1000.0
    );
}

/// Runs a scenario text against `host` and prints what the parent reads.
fn generate(host: &str, text: &str) {
    let plan = bench_plan(host, text);
    let runtime = generator_runtime();
    let recorder = Arc::new(Recorder::new());
    let rss = resources::rss_bytes();
    let cpu = resources::cpu_seconds();
    let result = runtime.block_on(async {
        let stop = StopHandle::default();
        let run = run_plan(&plan, recorder.clone(), &stop);
        // Against a server that never answers, stop at the end instead of waiting 30 s.
        tokio::select! {
            r = run => r.unwrap(),
            _ = tokio::time::sleep(plan.run_time() + Duration::from_secs(2)) => {
                let peak = resources::rss_bytes();
                println!("rss_growth_mib={}", peak.saturating_sub(rss) as f64 / (1 << 20) as f64);
                println!("requests={} dropped={}", recorder.totals().0.iter().map(|r| r.requests).sum::<u64>(), recorder.dropped_arrivals());
                std::process::exit(0);
            }
        }
    });
    let cpu = resources::cpu_seconds() - cpu;
    let lag = recorder.send_lag();
    println!(
        "cpu={cpu} requests={} dropped={} lag_p50={} lag_p99={} rss_growth_mib={}",
        result.overall().requests,
        result.dropped_arrivals,
        lag.value_at_quantile(0.5),
        lag.value_at_quantile(0.99),
        resources::peak_rss_bytes().saturating_sub(rss) as f64 / (1 << 20) as f64
    );
}
