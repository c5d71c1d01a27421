//! What the benchmarks that measure a generator in a child process share: pinning to a
//! core, running this benchmark's own binary as the child on core 0, and reading the
//! `name=value` fields the child prints. (Included with `#[path]` by each benchmark.)
use std::process::Command;

/// Pins this process (and what it starts later) to `core`.
pub fn pin(core: u32) {
    let pid = std::process::id().to_string();
    let ok = Command::new("taskset")
        .args(["-a", "-cp", &core.to_string(), &pid])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("taskset not available: running unpinned");
    }
}

/// A child of this benchmark on core 0; returns its stdout.
pub fn child_output(args: &[&str]) -> String {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("taskset")
        .args(["-c", "0"])
        .arg(exe)
        .arg("child")
        .args(args)
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "child {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `name=value` from a child's output.
pub fn field(out: &str, name: &str) -> f64 {
    out.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{out}"))
}

/// The reference server (no modelled latency unless `adjust` sets some) on its own runtime
/// thread in this process.
pub struct Server {
    pub url: String,
    pub runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(adjust: impl FnOnce(&mut target_server::ServerConfig)) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut config = target_server::ServerConfig::in_memory_on_loopback();
        config.no_latency = true;
        adjust(&mut config);
        let server = runtime.block_on(target_server::spawn(config)).unwrap();
        let url = server.base_url();
        std::mem::forget(server);
        Server { url, runtime }
    }
}

/// A benchmark's scenario text as a plan against `host` (the reference server's token).
pub fn bench_plan(host: &str, text: &str) -> skein::runner::RunPlan {
    let scenario = skein::scenario::file::parse("bench", "bench.toml", text).unwrap();
    skein::runner::RunPlan::new(
        scenario,
        host.to_string(),
        target_server::DEFAULT_TOKEN.into(),
    )
}

/// The multi-thread runtime a child runs its generator on.
pub fn generator_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}
