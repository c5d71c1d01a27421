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
