//! The generator's CPU with `--web` and one page connected, against the same run without it,
//! at the open-model benchmark's rate (10,000 arrivals/s, `benches/open_model.rs`).
//!
//! The reference server runs in this process on core 1; each generator runs in a child on
//! core 0 (see `children/mod.rs`). The `web` child serves the dashboard and connects one
//! reader to its `/api/events` stream from inside itself, so the page's side of the stream
//! counts against the dashboard too (a browser would spend its own CPU, not the generator's).
//! Runs alternate plain, web, plain, web… and the ratio of CPU per request is the result; aim
//! ≤ 1.03x.
//!
//! Run: `cargo bench -p skein --bench web_dashboard [-- SECONDS [PAIRS]]` (needs `taskset`).
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use skein::engine::StopHandle;
use skein::live_outputs::web::{WebConfig, WebRun, WebServer};
use skein::recorder::Recorder;
use skein::resources;
use skein::runner::run_plan;

#[path = "children/mod.rs"]
// Each benchmark that includes it uses part of it.
#[allow(dead_code)]
mod children;
use children::{bench_plan, child_output, field, generator_runtime, pin, Server};

const RATE: f64 = 10_000.0;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        child(&args[1], &args[2], &args[3]);
        return;
    }
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let seconds = numbers.first().copied().unwrap_or(8);
    let pairs = numbers.get(1).copied().unwrap_or(3);
    pin(1);
    let server = Server::start(|_| {});
    println!("== generator CPU per request at {RATE} arrivals/s, {seconds} s runs, {pairs} pairs");
    let (mut plain, mut web) = ((0.0, 0.0), (0.0, 0.0));
    for _ in 0..pairs {
        for (mode, sum) in [("plain", &mut plain), ("web", &mut web)] {
            let out = child_output(&[mode, &server.url, &seconds.to_string()]);
            let (cpu, requests) = (field(&out, "cpu"), field(&out, "requests"));
            if mode == "web" {
                assert!(
                    field(&out, "events") >= (seconds / 2) as f64,
                    "the page got its events: {out}"
                );
            }
            println!(
                "{mode:<6} {:.2} µs CPU/request ({requests:.0} requests)",
                cpu / requests * 1e6
            );
            sum.0 += cpu;
            sum.1 += requests;
        }
    }
    let (plain_per, web_per) = (plain.0 / plain.1, web.0 / web.1);
    println!(
        "with --web and one page connected: {:.2} µs vs {:.2} µs CPU/request without; ratio {:.3}x (aim ≤ 1.03x)",
        web_per * 1e6,
        plain_per * 1e6,
        web_per / plain_per
    );
}

fn child(mode: &str, host: &str, secs: &str) {
    let text = format!(
        "rate = {RATE}\nrun_time = \"{secs}s\"\nmax_in_flight = 10000\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\n"
    );
    let plan = bench_plan(host, &text);
    let runtime = generator_runtime();
    let recorder = Arc::new(Recorder::new());
    let stop = StopHandle::default();
    let web = (mode == "web").then(|| {
        let web = WebServer::start(&WebConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            token: None,
            linger: Some(Duration::ZERO),
        })
        .unwrap();
        web.attach(WebRun {
            feed: recorder.clone(),
            scenario: plan.scenario.clone(),
            stages: plan.launch.stages.clone(),
            stop: stop.clone(),
            load_control: None,
            capacity: None,
            target_pid: None,
        });
        web
    });
    let events = web.as_ref().map(|web| {
        let addr = web.addr();
        std::thread::spawn(move || {
            // One page: the event stream, read line by line as EventSource does.
            let mut stream = TcpStream::connect(addr).unwrap();
            write!(
                stream,
                "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
            )
            .unwrap();
            BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
                .filter(|l| l.starts_with("event: stats"))
                .count()
        })
    });
    let cpu = resources::cpu_seconds();
    let result = runtime
        .block_on(run_plan(&plan, recorder.clone(), &stop))
        .unwrap();
    let cpu = resources::cpu_seconds() - cpu;
    drop(web);
    let events = events.map_or(0, |t| t.join().unwrap());
    println!(
        "cpu={cpu} requests={} events={events}",
        result.overall().requests
    );
}
