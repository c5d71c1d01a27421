//! The manager under 100 workers reporting every second: its CPU as a fraction of one core,
//! against a reference measured in the same run (decoding the same reports, nothing else).
//!
//! The real `skein manager` runs as a child process; this process plays 100 workers that
//! register and then send a cumulative report (8 request names, a 10-second series tail)
//! every second for 10 s. The manager's CPU comes from /proc/<pid>/stat.
//!
//! Run: `cargo bench -p skein --bench manager_load`
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reports::synthetic::synthetic_run;
use skein::distributed::protocol::*;

const WORKERS: usize = 100;
const SECONDS: u64 = 10;
const TOKEN: &str = "bench-token";

fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bench.toml");
    std::fs::write(
        &scenario,
        "users = 100\nspawn_rate = 100\nrun_time = \"60s\"\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut manager = Command::new(env!("CARGO_BIN_EXE_skein"))
        .args([
            "manager",
            "--scenario",
            scenario.to_str().unwrap(),
            "--expect-workers",
            &WORKERS.to_string(),
        ])
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--host",
            "http://127.0.0.1:9",
            "--token",
            TOKEN,
        ])
        .args([
            "--out",
            dir.path().join("out").to_str().unwrap(),
            "--live-every",
            "5",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (cpu, decode) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let post = |path: &'static str, body: String| {
            client
                .post(format!("{url}{path}"))
                .bearer_auth(TOKEN)
                .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let mut registered = None;
        for i in 0..WORKERS {
            let body = serde_json::to_string(&Register {
                worker_id: format!("sim-{i}"),
                scenario_hash: None,
            })
            .unwrap();
            let started = Instant::now();
            let r = loop {
                match post(REGISTER_PATH, body.clone()).await {
                    Ok(r) => break r,
                    Err(_) if started.elapsed() < Duration::from_secs(20) => {
                        tokio::time::sleep(Duration::from_millis(100)).await
                    }
                    Err(e) => panic!("manager not reachable: {e}"),
                }
            };
            registered = Some(r.json::<Registered>().await.unwrap());
        }
        let registered = registered.unwrap();
        let mut result = synthetic_run(10, 8, 1);
        result.metadata.scenario_hash = registered.scenario.hash.clone();
        let reports: Vec<String> = (0..WORKERS)
            .map(|i| {
                serde_json::to_string(&Report {
                    worker_id: format!("sim-{i}"),
                    run_id: registered.run_id.clone(),
                    seq: 0,
                    scenario_hash: registered.scenario.hash.clone(),
                    active_users: 1,
                    result: result.clone(),
                    final_report: false,
                })
                .unwrap()
            })
            .collect();
        println!(
            "report size: {:.1} KiB each, {WORKERS} workers, one report per worker per second",
            reports[0].len() as f64 / 1024.0
        );
        // Warm up one round, then measure SECONDS rounds.
        let round = |seq: u64| {
            let tasks: Vec<_> = reports
                .iter()
                .map(|r| {
                    let body = r.replacen("\"seq\":0", &format!("\"seq\":{seq}"), 1);
                    let request = post(REPORT_PATH, body);
                    tokio::spawn(async move { request.await.map(|r| r.status().as_u16()) })
                })
                .collect();
            async move {
                for t in tasks {
                    assert_eq!(t.await.unwrap().unwrap(), 200);
                }
            }
        };
        round(1).await;
        let cpu_before = cpu_of(manager.id());
        let started = Instant::now();
        for s in 0..SECONDS {
            let tick = Instant::now();
            round(s + 2).await;
            tokio::time::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed())).await;
        }
        let cpu = (cpu_of(manager.id()) - cpu_before) / started.elapsed().as_secs_f64();
        // Reference: decoding one second's worth of the same reports (mean of 5 rounds).
        let t = Instant::now();
        for _ in 0..5 {
            for r in &reports {
                let _: Report = serde_json::from_str(r).unwrap();
            }
        }
        (cpu, t.elapsed().as_secs_f64() / 5.0)
    });
    let _ = manager.kill();
    let _ = manager.wait();
    println!("manager CPU: {:.3} of one core ({:.1} %) with {WORKERS} workers reporting every second (aim < 10 %)", cpu, cpu * 100.0);
    println!("reference, decoding {WORKERS} reports once: {:.3} s per second of reports ({:.1} % of a core)", decode, decode * 100.0);
    println!("ratio manager / decode-only = {:.2}", cpu / decode);
}
