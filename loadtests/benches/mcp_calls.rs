//! What an MCP tool call costs the generator, against a plain JSON-RPC request of the same
//! size measured in the same run.
//!
//! Measured: McpUser calling one tool (`search`, fixed arguments) on target-server's `/mcp`,
//! in sessions (every call carries `Mcp-Session-Id` and `MCP-Protocol-Version`) with
//! event-stream answers, as the official SDK's server answers by default.
//! Reference: a declared class sending a JSON-RPC call padded to the same body size to the
//! training API (a JSON answer), through the same HTTP client (reqwest: declared requests and
//! McpUser share it).
//!
//! The server runs in this process on core 1; each generator runs in a child process on core
//! 0 (closed users, no think time, saturating), so its CPU is its own. Rounds alternate and the
//! best CPU per request of each is kept (the machine is shared and noisy); the ratio is the
//! result. Aim: at most 1.2x.
//!
//! Run: `cargo bench -p skein --bench mcp_calls [-- SECONDS]` (needs `taskset`).
use std::sync::Arc;

use skein::engine::StopHandle;
use skein::recorder::Recorder;
use skein::resources;
use skein::runner::run_plan;

#[path = "children/mod.rs"]
// Each benchmark that includes it uses part of it.
#[allow(dead_code)]
mod children;
use children::{bench_plan, child_output, field, generator_runtime, pin, Server};

const ROUNDS: usize = 5;
const USERS: u32 = 32;
/// The tool call's arguments; the reference's params are padded to the same body size.
const ARGUMENTS: &str = r#"{"query": "gpu queue latency", "limit": 3}"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        child(&args[1..]);
        return;
    }
    let seconds: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(4);
    pin(1);
    let server = Server::start(|c| c.capacity = 100_000);
    let mut best = [f64::MAX; 2];
    let mut rates = [0.0f64; 2];
    for round in 0..ROUNDS {
        for (i, mode) in ["plain", "mcp"].into_iter().enumerate() {
            let out = child_output(&[mode, &server.url, &seconds.to_string()]);
            let (cpu, requests) = (field(&out, "cpu"), field(&out, "requests"));
            let per = cpu / requests;
            println!(
                "round {round} {mode:>5}: {requests:.0} requests, {:.1} µs CPU each, {:.0} req/s",
                per * 1e6,
                requests / seconds as f64
            );
            if per < best[i] {
                best[i] = per;
                rates[i] = requests / seconds as f64;
            }
        }
    }
    println!(
        "plain JSON-RPC (JSON answer):             {:.1} µs CPU per request ({:.0} req/s)",
        best[0] * 1e6,
        rates[0]
    );
    println!(
        "MCP tools/call (session headers, SSE):    {:.1} µs CPU per request ({:.0} req/s)",
        best[1] * 1e6,
        rates[1]
    );
    println!(
        "ratio MCP / plain: {:.2} (aim: at most 1.2)",
        best[1] / best[0]
    );
}

/// The MCP request body, as McpUser sends it (its progress token a UUID).
fn mcp_body_len() -> usize {
    let params = format!(
        r#"{{"name":"search","arguments":{ARGUMENTS},"_meta":{{"progressToken":"{}"}}}}"#,
        uuid::Uuid::nil()
    );
    format!(r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{params}}}"#).len()
}

fn child(args: &[String]) {
    let (mode, host, secs) = (args[0].as_str(), args[1].as_str(), args[2].as_str());
    let head = format!(
        "users = {USERS}\nspawn_rate = {USERS}\nrun_time = \"{secs}s\"\n[[user_classes]]\n"
    );
    let text = match mode {
        "mcp" => format!(
            "{head}class = \"McpUser\"\nweight = 1\nthink_time = [\"0s\", \"0s\"]\n[user_classes.mcp]\n[[user_classes.mcp.tools]]\nname = \"search\"\narguments = '{ARGUMENTS}'\n"
        ),
        "plain" => {
            // `{"job_id":"<uuid>","pad":"..."}` padded so the whole body is the MCP body's size.
            let envelope = r#"{"jsonrpc":"2.0","id":1,"method":"training.get_status","params":{"job_id":"00000000-0000-0000-0000-000000000000","pad":""}}"#;
            let pad = "x".repeat(mcp_body_len().saturating_sub(envelope.len()));
            format!(
                "{head}name = \"Plain\"\nweight = 1\nthink_time = [\"0s\", \"0s\"]\n[[user_classes.requests]]\nname = \"get_status\"\npath = \"/api/v1/jsonrpc\"\njsonrpc = \"training.get_status\"\nparams = '{{\"job_id\":\"{{{{uuid()}}}}\",\"pad\":\"{pad}\"}}'\ntolerate = [-32001]\n"
            )
        }
        other => panic!("unknown mode {other}"),
    };
    let plan = bench_plan(host, &text);
    let runtime = generator_runtime();
    let recorder = Arc::new(Recorder::new());
    let cpu = resources::cpu_seconds();
    let result = runtime.block_on(async {
        let stop = StopHandle::default();
        run_plan(&plan, recorder.clone(), &stop).await.unwrap()
    });
    let cpu = resources::cpu_seconds() - cpu;
    let measured = ["tools/call search", "get_status"];
    let requests: u64 = result
        .requests
        .iter()
        .filter(|r| measured.contains(&r.name.as_str()))
        .map(|r| r.requests)
        .sum();
    let failures: u64 = result.requests.iter().map(|r| r.failures).sum();
    assert_eq!(failures, 0, "{mode}: {:?}", result.failures);
    println!("cpu={cpu} requests={requests}");
}
