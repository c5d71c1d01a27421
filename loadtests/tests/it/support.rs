//! A reference server on its own runtime thread, and running the real `skein` binary.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

use target_server::ServerConfig;

/// The reference server, serving on a background runtime until dropped.
pub struct Server {
    pub url: String,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(adjust: impl FnOnce(&mut ServerConfig)) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut config = ServerConfig::in_memory_on_loopback();
        adjust(&mut config);
        let server = runtime.block_on(target_server::spawn(config)).unwrap();
        let url = server.base_url();
        // The runtime owns the serving task; dropping it stops the server.
        std::mem::forget(server);
        Server {
            url,
            _runtime: runtime,
        }
    }

    pub fn fast() -> Server {
        Server::start(|c| c.no_latency = true)
    }
}

pub fn skein() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skein"));
    c.env_remove("SKEIN_HOST").env_remove("SKEIN_TARGET_TOKEN");
    c
}

/// Writes a scenario file into `dir` and returns its path.
pub fn scenario_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

pub fn run(args: &[&str]) -> Output {
    skein().args(args).output().expect("run skein")
}

/// `skein run --scenario NAME --users USERS -t TIME --out OUT` plus `extra`: a shipped
/// scenario against the embedded reference server (no host).
pub fn run_shipped(name: &str, users: u32, time: &str, out: &Path, extra: &[&str]) -> Output {
    let users = users.to_string();
    let mut args = vec![
        "run",
        "--scenario",
        name,
        "--users",
        &users,
        "-t",
        time,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    run(&args)
}

/// `skein run --scenario SCENARIO --host HOST --out OUT` plus `extra`.
pub fn run_scenario(scenario: &Path, host: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--scenario",
        scenario.to_str().unwrap(),
        "--host",
        host,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    run(&args)
}

/// `skein run --scenario SCENARIO --host HOST --out OUT` in the background, its output
/// discarded (a run a test interrupts).
pub fn spawn_run(scenario: &Path, host: &str, out: &Path) -> Child {
    skein()
        .args([
            "run",
            "--scenario",
            scenario.to_str().unwrap(),
            "--host",
            host,
        ])
        .args(["--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// `skein run --scenario FILE --host HOST --out OUT`.
pub fn run_file(scenario: &Path, host: &str, out: &Path) -> Output {
    run_scenario(scenario, host, out, &[])
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn results(dir: &Path) -> reports::RunResult {
    reports::RunResult::read_from(&dir.join("results.json")).expect("results.json")
}

/// Sends `signal` (e.g. `-INT`) to `child` and waits for it to exit, at most `limit` (then it
/// is killed and the test fails).
pub fn signal_and_wait(child: &mut Child, signal: &str, limit: Duration) -> ExitStatus {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("skein did not stop within {limit:?} of {signal}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Requests and failures recorded under `name` (0, 0 when none were).
pub fn counts(r: &reports::RunResult, name: &str) -> (u64, u64) {
    r.requests
        .iter()
        .find(|s| s.name == name)
        .map_or((0, 0), |s| (s.requests, s.failures))
}

/// Runs `scenario` in the open model on the engine itself, `rate` arrivals/s for one second,
/// with its schedule anchored `late` before the executor started: the arrivals due in that
/// time go out at once, late (as a worker slow to start sends them). Returns the recorder,
/// rolled.
pub fn run_open_late(
    scenario: &skein::scenario::Scenario,
    url: &str,
    rate: f64,
    late: std::time::Duration,
) -> std::sync::Arc<skein::recorder::Recorder> {
    use skein::engine::StopHandle;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let recorder = std::sync::Arc::new(skein::recorder::Recorder::new());
    let mut plan = skein::plan::LaunchPlan::standalone(scenario);
    plan.stages = vec![skein::scenario::Stage::open(
        rate,
        std::time::Duration::ZERO,
        std::time::Duration::from_secs(1),
    )];
    plan.arrival = skein::scenario::Arrival::Constant;
    plan.schedule_start = Some(std::time::Instant::now() - late);
    let ctx = skein::users::UserContext::new(
        url,
        "skein-dev-token",
        recorder.clone(),
        skein::users::a2a::Choice::Auto,
    );
    runtime
        .block_on(skein::engine::open::run(&plan, ctx, &StopHandle::default()))
        .unwrap();
    recorder.roll(true);
    recorder
}
