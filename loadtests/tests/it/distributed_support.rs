//! Starting managers and workers as real processes for the distributed tests.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::skein;

pub const TOKEN: &str = "test-token";

/// A child process whose stderr is collected in the background.
pub struct Proc {
    pub child: Child,
    pub stderr: Arc<Mutex<String>>,
}

impl Proc {
    /// Spawns `command`, collecting its stderr and stdout lines into one buffer.
    pub fn spawn(mut command: Command) -> Proc {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = Arc::new(Mutex::new(String::new()));
        let collect = |pipe: Box<dyn std::io::Read + Send>, sink: Arc<Mutex<String>>| {
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            });
        };
        collect(Box::new(child.stderr.take().unwrap()), stderr.clone());
        collect(Box::new(child.stdout.take().unwrap()), stderr.clone());
        Proc { child, stderr }
    }

    pub fn text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle` (panics after `limit`).
    pub fn wait_for(&self, needle: &str, limit: Duration) -> String {
        let started = Instant::now();
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            assert!(
                started.elapsed() < limit,
                "`{needle}` not seen within {limit:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the exit code (kills and panics after `limit`).
    pub fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100)); // let stderr drain
                return status.code();
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!("process still running after {limit:?}:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A manager on an ephemeral loopback port; returns it and its URL.
pub fn manager(args: &[&str]) -> (Proc, String) {
    let p = manager_process(args);
    let url = listening_url(&p);
    (p, url)
}

/// A manager started on an ephemeral loopback port, without waiting for it to listen.
pub fn manager_process(args: &[&str]) -> Proc {
    let mut c = skein();
    c.args([
        "manager",
        "--bind",
        "127.0.0.1:0",
        "--token",
        TOKEN,
        "--live-every",
        "1",
    ])
    .args(args);
    Proc::spawn(c)
}

/// The URL a manager process says it listens on.
pub fn listening_url(p: &Proc) -> String {
    let text = p.wait_for("listening on http://", Duration::from_secs(20));
    text.split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .trim()
        .to_string()
}

/// A manager running the scenario at `path` on `workers` workers against `host`, writing to `out`.
pub fn manager_for(
    path: &std::path::Path,
    workers: u32,
    host: &str,
    out: &std::path::Path,
) -> (Proc, String) {
    manager(&[
        "--scenario",
        path.to_str().unwrap(),
        "--expect-workers",
        &workers.to_string(),
        "--host",
        host,
        "--out",
        out.to_str().unwrap(),
    ])
}

pub fn worker(manager: &str, id: &str, extra: &[&str]) -> Proc {
    let mut c = skein();
    c.args(["worker", "--manager", manager, "--token", TOKEN, "--id", id])
        .args(extra);
    Proc::spawn(c)
}

/// A short scenario file for distributed tests.
pub fn scenario(dir: &std::path::Path, seconds: u64) -> std::path::PathBuf {
    crate::support::scenario_file(
        dir,
        "dist",
        &format!(
            "users = 6\nspawn_rate = 6\nrun_time = \"{seconds}s\"\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\nthink_time = [\"20ms\", \"50ms\"]\n[sla]\np95_ms = 5000\n"
        ),
    )
}
