//! A distributed run across network namespaces: target-server, manager and three workers each
//! on its own address behind a bridge, one worker SIGKILLed mid-run.
//!
//! Needs root and iproute2 (`ip netns`), as in CI. Everything it creates is named with this
//! process's id and removed by a guard, even when the test fails.
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::distributed_support::*;
use crate::support::results;

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2 `ip` is needed (apt-get install iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Namespaces on one bridge, plus a leg from the test's own namespace, removed on drop.
struct Network {
    tag: String,
    subnet: String,
    namespaces: Vec<String>,
}

impl Network {
    fn new(nodes: &[&str]) -> Network {
        let pid = std::process::id();
        let tag = format!("sk{}", pid % 100_000);
        let subnet = format!("10.{}.{}", 200 + (pid / 250) % 50, pid % 250);
        let mut net = Network {
            tag: tag.clone(),
            subnet: subnet.clone(),
            namespaces: Vec::new(),
        };
        let hub = format!("{tag}-hub");
        ip(&["netns", "add", &hub]);
        net.namespaces.push(hub.clone());
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &hub, "link", "set", "br0", "up"]);
        // The test process's leg, so it can reach every node directly.
        let (leg, leg_peer) = (format!("{tag}t"), format!("{tag}tb"));
        ip(&[
            "link", "add", &leg, "type", "veth", "peer", "name", &leg_peer,
        ]);
        ip(&["link", "set", &leg_peer, "netns", &hub]);
        ip(&["-n", &hub, "link", "set", &leg_peer, "master", "br0", "up"]);
        ip(&["addr", "add", &format!("{subnet}.254/24"), "dev", &leg]);
        ip(&["link", "set", &leg, "up"]);
        for (i, node) in nodes.iter().enumerate() {
            let ns = format!("{tag}-{node}");
            ip(&["netns", "add", &ns]);
            net.namespaces.push(ns.clone());
            let (v, vb) = (format!("{tag}{i}"), format!("{tag}{i}b"));
            ip(&["link", "add", &v, "type", "veth", "peer", "name", &vb]);
            ip(&["link", "set", &v, "netns", &ns]);
            ip(&["link", "set", &vb, "netns", &hub]);
            ip(&["-n", &hub, "link", "set", &vb, "master", "br0", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{subnet}.{}/24", i + 1),
                "dev",
                &v,
            ]);
            ip(&["-n", &ns, "link", "set", &v, "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        net
    }

    fn addr(&self, index: usize) -> String {
        format!("{}.{}", self.subnet, index + 1)
    }

    fn exec(&self, node: &str, program: &std::path::Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &format!("{}-{node}", self.tag)])
            .arg(program);
        c.env_remove("SKEIN_HOST").env_remove("SKEIN_TARGET_TOKEN");
        c
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        // The test's own veth leg goes with its peer in the hub namespace.
        let _ = Command::new("ip")
            .args(["link", "del", &format!("{}t", self.tag)])
            .status();
    }
}

/// The target-server binary, built next to skein's (built here if this is a `-p skein` run).
fn target_server_binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_skein")).with_file_name("target-server");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-p", "target-server"])
            .status()
            .unwrap();
        assert!(ok.success(), "building target-server");
    }
    path
}

fn server_requests(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("target_server_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Network namespaces need root: say so plainly instead of failing on `ip`'s first refusal.
fn assert_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .unwrap_or("?");
    assert_eq!(
        euid, "0",
        "this test builds network namespaces and needs root, as in CI (sudo cargo test, or bash .ci/run)"
    );
}

#[test]
fn three_workers_on_three_hosts_one_killed_mid_run() {
    assert_root();
    let net = Network::new(&["target", "manager", "w1", "w2", "w3"]);
    let skein_bin = PathBuf::from(env!("CARGO_BIN_EXE_skein"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = crate::support::scenario_file(
        dir.path(),
        "netns",
        "users = 9\nspawn_rate = 9\nrun_time = \"14s\"\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\nthink_time = [\"20ms\", \"60ms\"]\n[sla]\np95_ms = 5000\n",
    );
    let (target, manager_addr) = (net.addr(0), net.addr(1));

    let mut server_cmd = net.exec("target", &target_server_binary());
    server_cmd.args([
        "--bind",
        &format!("{target}:8080"),
        "--db",
        ":memory:",
        "--no-latency",
    ]);
    let server = Proc::spawn(server_cmd);
    server.wait_for("listening on", Duration::from_secs(20));

    let mut m = net.exec("manager", &skein_bin);
    m.args([
        "manager",
        "--scenario",
        scenario.to_str().unwrap(),
        "--expect-workers",
        "3",
        "--bind",
        &format!("{manager_addr}:5557"),
    ])
    .args([
        "--host",
        &format!("http://{target}:8080"),
        "--token",
        TOKEN,
        "--out",
        out.to_str().unwrap(),
        "--live-every",
        "1",
    ]);
    let mut manager = Proc::spawn(m);
    manager.wait_for("listening on", Duration::from_secs(20));
    let mut workers: Vec<Proc> = ["w1", "w2", "w3"]
        .into_iter()
        .map(|w| {
            let mut c = net.exec(w, &skein_bin);
            c.args([
                "worker",
                "--manager",
                &format!("http://{manager_addr}:5557"),
                "--token",
                TOKEN,
                "--id",
                w,
            ]);
            Proc::spawn(c)
        })
        .collect();
    manager.wait_for("users     9", Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(3));
    let mut w3 = workers.pop().expect("w3"); // w1 and w2 keep running in `workers`
    w3.child.kill().unwrap(); // SIGKILL
    let killed = Instant::now();
    let _ = w3.child.wait();

    let code = manager.exit_code(Duration::from_secs(60));
    assert!(
        matches!(code, Some(0 | 1)),
        "manager exit {code:?}:\n{}",
        manager.text()
    );
    let log = manager.text();
    assert!(log.contains("worker w3 lost"), "{log}");

    let r = results(&out);
    assert!(r.metadata.partial, "a lost worker makes the result partial");
    let lost: Vec<_> = r.workers.iter().filter(|w| w.lost_at.is_some()).collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].worker_id, "w3");
    // Merged totals are the sum of each worker's last report.
    assert_eq!(r.workers.len(), 3);
    let sum: u64 = r.workers.iter().map(|w| w.requests).sum();
    assert_eq!(r.overall().requests, sum);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains(">Workers</h2>") && html.contains("w3"));

    // The server saw at least what the workers reported, and at most that plus what w3 sent
    // between its last report and the kill (reports go out every second).
    let metrics = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            reqwest::get(format!("http://{target}:8080/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
    let served = server_requests(&metrics);
    // w3's rate while it ran: it was killed about LOSS_TIMEOUT (3 s) before it was marked lost.
    let w3_secs =
        (lost[0].lost_at.unwrap() - r.metadata.started_at).num_milliseconds() as f64 / 1000.0 - 3.0;
    let w3_rate = lost[0].requests as f64 / w3_secs.max(1.0);
    // Up to 2 s of w3's requests after its last report, plus requests in flight when users
    // stopped (9 users, stopped at the rebalance and at the end).
    let slack = (w3_rate * 2.0).ceil() as u64 + 2 * 9;
    println!("netns run: workers reported {sum} requests, the server answered {served} (difference {}, allowed {slack}; w3 did {:.1}/s)", served.saturating_sub(sum), w3_rate);
    assert!(served >= sum, "server {served} < reported {sum}");
    assert!(
        served - sum <= slack,
        "server {served} vs reported {sum}: difference over {slack} (w3 {w3_rate:.1}/s)"
    );
    assert!(killed.elapsed() < Duration::from_secs(60));
    drop((server, workers));
}
