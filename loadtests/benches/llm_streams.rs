//! What the generator spends per streamed LLM token with 1,000 streams open at once, against
//! a minimal reader of the same bytes measured in the same run, and what an open stream costs
//! in memory.
//!
//! Measured: 1,000 closed users (no think time) each streaming `openai-chat` answers of 100
//! tokens from target-server's LLM model, paced at one token per 20 ms (so ~50,000 tokens/s
//! arrive and the server, on its own core, is not the bottleneck), with every figure of
//! docs/llm.md recorded. Reference: a tokio client in this bench that opens the same 1,000
//! streams over raw TCP (`Connection: close`), sends the same request and only counts the
//! content deltas in the bytes. The server runs in this process on core 1; each client runs in
//! a child process on core 0, so its CPU is its own. Rounds alternate and the best CPU per
//! token of each is kept (the machine is shared and noisy); the ratio is the result. Memory
//! per stream: the child's RSS halfway through, with every stream open, minus its RSS before
//! the first was opened, / 1,000. Aims: at most 1.3x, at most 32 KiB per stream.
//!
//! Run: `cargo bench -p skein --bench llm_streams [-- SECONDS]` (needs `taskset`).
use std::sync::Arc;
use std::time::{Duration, Instant};

use skein::engine::StopHandle;
use skein::recorder::Recorder;
use skein::resources;
use skein::runner::run_plan;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "children/mod.rs"]
// Each benchmark that includes it uses part of it.
#[allow(dead_code)]
mod children;
use children::{bench_plan, child_output, field, pin, Server};

const ROUNDS: usize = 3;
const STREAMS: usize = 1000;
const TOKENS: u32 = 100;
const TPOT_MS: u32 = 20;
const PROMPT: &str = "Summarise the incident for the on-call team";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        child(&args[1..]);
        return;
    }
    let seconds: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(6);
    pin(1);
    let server = Server::start(|c| {
        c.capacity = 100_000;
        c.queue_limit = 100_000;
        c.latency_overrides = vec![
            "llm.ttft=0+0".parse().unwrap(),
            format!("llm.tpot={TPOT_MS}+0").parse().unwrap(),
        ];
        c.llm.llm_prefill_us = 0;
        c.llm.llm_slots = 2 * STREAMS;
    });
    let mut best = [f64::MAX; 2];
    let mut rates = [0.0f64; 2];
    let mut per_stream = [0.0f64; 2];
    for round in 0..ROUNDS {
        for (i, mode) in ["raw", "skein"].into_iter().enumerate() {
            let out = child_output(&[mode, &server.url, &seconds.to_string()]);
            let (cpu, tokens) = (field(&out, "cpu"), field(&out, "tokens"));
            let per = cpu / tokens;
            let memory = field(&out, "rss_open") - field(&out, "rss_before");
            println!(
                "round {round} {mode:>5}: {tokens:.0} tokens, {:.2} µs CPU each ({:.0} tokens per CPU second), {:.1} KiB per open stream",
                per * 1e6,
                1.0 / per,
                memory / STREAMS as f64 / 1024.0
            );
            if per < best[i] {
                best[i] = per;
                rates[i] = 1.0 / per;
            }
            per_stream[i] = memory / STREAMS as f64;
        }
    }
    for (i, what) in [
        "minimal reader (raw TCP, counts deltas)",
        "skein (every LLM figure recorded)",
    ]
    .iter()
    .enumerate()
    {
        println!(
            "{what:<42} {:.2} µs CPU per token, {:.0} tokens/s per core, {:.1} KiB per open stream",
            best[i] * 1e6,
            rates[i],
            per_stream[i] / 1024.0
        );
    }
    println!(
        "ratio skein / minimal reader: {:.2} (aim: at most 1.3); skein memory per open stream {:.1} KiB (aim: at most 32)",
        best[1] / best[0],
        per_stream[1] / 1024.0
    );
}

fn child(args: &[String]) {
    let (mode, host, secs) = (
        args[0].as_str(),
        args[1].as_str(),
        args[2].parse::<u64>().unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rss_before = resources::rss_bytes();
    // Halfway through, every stream is open (they open within the first second).
    let sampler = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs_f64(secs as f64 / 2.0));
        resources::rss_bytes()
    });
    let cpu = resources::cpu_seconds();
    let tokens = match mode {
        "skein" => runtime.block_on(skein_streams(host, secs)),
        "raw" => runtime.block_on(raw_streams(host, secs)),
        other => panic!("unknown mode {other}"),
    };
    let cpu = resources::cpu_seconds() - cpu;
    let rss_open = sampler.join().unwrap();
    println!("cpu={cpu} tokens={tokens} rss_before={rss_before} rss_open={rss_open}");
}

async fn skein_streams(host: &str, secs: u64) -> u64 {
    let text = format!(
        "users = {STREAMS}\nspawn_rate = {STREAMS}\nrun_time = \"{secs}s\"\n[[user_classes]]\nname = \"Chat\"\nweight = 1\nthink_time = [\"0s\", \"0s\"]\n[[user_classes.requests]]\nname = \"chat\"\nprotocol = \"openai-chat\"\nmodel = \"skein-reference-llm\"\nprompt = \"{PROMPT}\"\nmax_tokens = {TOKENS}\nextra = '{{\"ignore_eos\": true}}'\n[sla]\np95_ms = 600000\n"
    );
    let plan = bench_plan(host, &text);
    let recorder = Arc::new(Recorder::new());
    let stop = StopHandle::default();
    let result = run_plan(&plan, recorder, &stop).await.unwrap();
    let all = result.overall();
    assert!(all.requests > 0);
    // A run's end cuts the streams still open: those count as failures, their tokens not.
    all.tokens.output_tokens
}

/// The request Skein sends, as raw HTTP/1.1.
fn raw_request(addr: &str) -> Vec<u8> {
    let body = format!(
        r#"{{"model":"skein-reference-llm","messages":[{{"role":"user","content":"{PROMPT}"}}],"max_tokens":{TOKENS},"stream":true,"stream_options":{{"include_usage":true}},"ignore_eos":true}}"#
    );
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\naccept: text/event-stream\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        target_server::DEFAULT_TOKEN,
        body.len()
    )
    .into_bytes()
}

/// Counts the content deltas (`"content":"tok…`) in `bytes`, with the tail of the previous
/// read carried over so a marker split between reads is counted once.
const MARKER: &[u8] = br#""content":"tok"#;

async fn raw_streams(host: &str, secs: u64) -> u64 {
    let addr = host
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let request = Arc::new(raw_request(&addr));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..STREAMS)
        .map(|i| {
            let (addr, request) = (addr.clone(), request.clone());
            tokio::spawn(async move {
                // Opened over the first second, as Skein's users start (`spawn_rate`): 1,000
                // connects at once overflow the server's accept backlog into SYN retries.
                tokio::time::sleep(Duration::from_millis(i as u64)).await;
                let mut tokens = 0u64;
                let mut buf = vec![0u8; 8192];
                while Instant::now() < deadline {
                    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
                    socket.set_nodelay(true).unwrap();
                    socket.write_all(&request).await.unwrap();
                    let mut carry = 0usize;
                    let mut answer = 0u64;
                    loop {
                        let left = deadline.saturating_duration_since(Instant::now());
                        let read = tokio::time::timeout(left, socket.read(&mut buf[carry..])).await;
                        let n = match read {
                            Ok(Ok(0)) | Err(_) => break,
                            Ok(Ok(n)) => n,
                            Ok(Err(e)) => panic!("read: {e}"),
                        };
                        let data = &buf[..carry + n];
                        answer +=
                            data.windows(MARKER.len()).filter(|w| *w == MARKER).count() as u64;
                        carry = (MARKER.len() - 1).min(data.len());
                        let start = data.len() - carry;
                        buf.copy_within(start..start + carry, 0);
                    }
                    // As Skein counts: only answers that finished (a cut one is a failure).
                    if Instant::now() < deadline {
                        tokens += answer;
                    }
                }
                tokens
            })
        })
        .collect();
    let mut tokens = 0;
    for t in tasks {
        tokens += t.await.unwrap();
    }
    tokens
}
