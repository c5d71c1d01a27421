//! The monitoring deployment (deploy/grafana, deploy/prometheus, compose profile
//! `monitoring`): the dashboard's PromQL names only families a real run exports (and shows
//! every one of them), and the real `prometheus` binary scraping a real run's
//! `--metrics-bind` answers `histogram_quantile(0.95, ...)` within a bucket of the run's own
//! p95 and evaluates every dashboard query to data.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An HTTP class and an LLM class, so every family (tokens included) is exported.
fn mixed_scenario(run_time: &str) -> String {
    format!(
        r#"
users = 4
spawn_rate = 4
run_time = "{run_time}"
[[user_classes]]
class = "BurstTrainingUser"
weight = 1
think_time = ["10ms", "30ms"]
[[user_classes]]
name = "Chat"
weight = 1
think_time = ["20ms", "40ms"]
[[user_classes.requests]]
name = "chat"
protocol = "openai-chat"
model = "skein-reference-llm"
prompt = "Summarise the run"
max_tokens = 16
# Not the default p95 < 200 ms: a busy machine broke it and the run exited 1; these tests judge
# what Prometheus sees, not an SLA.
[sla]
p95_ms = 10000
"#
    )
}

fn dashboard() -> Value {
    let path = root().join("deploy/grafana/dashboards/skein.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// Every panel's (title, PromQL) pairs; rows carry no queries.
fn queries(dashboard: &Value) -> Vec<(String, String)> {
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut out = Vec::new();
    for p in panels.iter().filter(|p| p["type"] != "row") {
        let title = p["title"].as_str().expect("a titled panel").to_string();
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {title} has no query");
        for t in targets {
            let expr = t["expr"].as_str().unwrap_or_default();
            assert!(!expr.is_empty(), "panel {title}: a target without expr");
            out.push((title.clone(), expr.to_string()));
        }
    }
    out
}

/// The identifiers in `expr` that name Skein's metrics (`skein_...`).
fn skein_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut word = String::new();
    for c in expr.chars().chain([' ']) {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            if word.starts_with("skein_") {
                names.insert(std::mem::take(&mut word));
            }
            word.clear();
        }
    }
    names
}

/// The families (`# TYPE name kind`) of an exposition.
fn families(exposition: &str) -> Vec<(String, String)> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, k)| (n.to_string(), k.to_string()))
        .collect()
}

/// The family a sample name belongs to: `x_bucket` of histogram `x` is `x`.
fn family_of<'a>(name: &'a str, families: &[(String, String)]) -> Option<&'a str> {
    if families.iter().any(|(n, _)| n == name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        families
            .iter()
            .any(|(n, k)| n == base && k == "histogram")
            .then_some(base)
    })
}

#[test]
fn the_dashboard_queries_exactly_the_families_a_real_run_exports() {
    let board = dashboard();
    assert_eq!(board["uid"], "skein-run");
    // The datasource the panels name is the one provisioning creates.
    let provisioned: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(
            root().join("deploy/grafana/provisioning/datasources/prometheus.yml"),
        )
        .unwrap(),
    )
    .unwrap();
    let uid = provisioned["datasources"][0]["uid"].as_str().unwrap();
    for p in board["panels"].as_array().unwrap() {
        if p["type"] != "row" {
            assert_eq!(p["datasource"]["uid"], uid, "panel {}", p["title"]);
        }
    }
    // No two panels share a grid cell (Grafana would push one aside, out of its row).
    let mut cells = std::collections::HashMap::new();
    for p in board["panels"].as_array().unwrap() {
        let g = &p["gridPos"];
        let (x, y, w, h) = (
            g["x"].as_u64().unwrap(),
            g["y"].as_u64().unwrap(),
            g["w"].as_u64().unwrap(),
            g["h"].as_u64().unwrap(),
        );
        assert!(x + w <= 24, "panel {} is wider than the grid", p["title"]);
        for cell in (x..x + w).flat_map(|cx| (y..y + h).map(move |cy| (cx, cy))) {
            if let Some(other) = cells.insert(cell, p["title"].clone()) {
                panic!("panels {} and {other} overlap at {cell:?}", p["title"]);
            }
        }
    }
    let provider: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(root().join("deploy/grafana/provisioning/dashboards/skein.yml"))
            .unwrap(),
    )
    .unwrap();
    let path = provider["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();

    // The compose profile mounts what provisioning reads, and scrapes the workers' port.
    let compose: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(root().join("docker-compose.yml")).unwrap(),
    )
    .unwrap();
    let services = &compose["services"];
    for name in ["prometheus", "grafana"] {
        assert_eq!(services[name]["profiles"][0], "monitoring", "{name}");
        for volume in services[name]["volumes"].as_sequence().unwrap() {
            let volume = volume.as_str().unwrap();
            if let Some(host) = volume.strip_prefix("./") {
                let host = host.split(':').next().unwrap();
                assert!(root().join(host).exists(), "{name} mounts missing {host}");
            }
        }
    }
    let grafana_mounts: Vec<&str> = services["grafana"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(grafana_mounts
        .iter()
        .any(|v| v.starts_with("./deploy/grafana/dashboards:") && v.contains(path)));
    let scrape: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(root().join("deploy/prometheus/prometheus.yml")).unwrap(),
    )
    .unwrap();
    let port = scrape["scrape_configs"][0]["dns_sd_configs"][0]["port"]
        .as_u64()
        .unwrap();
    let worker = serde_norway::to_string(&services["worker"]["command"]).unwrap();
    assert!(
        worker.contains(&format!("0.0.0.0:{port}")),
        "workers serve /metrics on {port}: {worker}"
    );

    // A real run's expositions, scraped until it ends: the union of their families.
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "mixed", &mixed_scenario("3s"));
    let out = dir.path().join("out");
    let mut child = skein()
        .args([
            "run",
            "--scenario",
            file.to_str().unwrap(),
            "--host",
            &server.url,
        ])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--metrics-bind",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            let rest = l.split_once("Prometheus metrics at http://")?.1;
            Some(rest.trim_end_matches("/metrics").to_string())
        })
        .expect("skein run prints where it serves /metrics");
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut exposition = String::new();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run did not end"
        );
        let scraped = runtime.block_on(async {
            reqwest::get(format!("http://{addr}/metrics"))
                .await
                .ok()?
                .text()
                .await
                .ok()
        });
        exposition.extend(scraped);
        std::thread::sleep(Duration::from_millis(300));
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{:?}", drain.join().unwrap());
    let mut exported = families(&exposition);
    exported.sort();
    exported.dedup();
    assert!(
        exported
            .iter()
            .any(|(n, _)| n == "skein_time_to_first_token_seconds"),
        "{exposition}"
    );

    let mut used = BTreeSet::new();
    for (title, expr) in queries(&board) {
        for name in skein_names(&expr) {
            let family = family_of(&name, &exported).unwrap_or_else(|| {
                panic!("panel {title}: {name} is not exported by Skein (families: {exported:?})")
            });
            used.insert(family.to_string());
        }
    }
    // Every family is on the dashboard, except the per-second gauges a rate() replaces and
    // the start time (in the run-info table's labels' stead).
    let shown_otherwise = [
        "skein_requests_per_second",
        "skein_failures_per_second",
        "skein_run_start_time_seconds",
    ];
    for (family, _) in &exported {
        assert!(
            used.contains(family) || shown_otherwise.contains(&family.as_str()),
            "{family} is exported but no panel shows it"
        );
    }
}

/// A free loopback port: bound on port 0 and released (a small window another process
/// could take it in; Prometheus' own flag takes no port 0).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `prometheus` process; killed when dropped, so a failing test leaves none behind.
struct Prometheus {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(dir: &Path, target: &str) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: skein-run\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = dir.join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `prometheus` ({e}): install it with `apt-get install prometheus` (Debian's package; listed in .ci/apt-packages.txt)")
            });
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn get(&self, path: &str, query: &[(&str, String)]) -> Option<(u16, String)> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let url =
                reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query).unwrap();
            let r = reqwest::Client::new()
                .get(url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .ok()?;
            Some((r.status().as_u16(), r.text().await.ok()?))
        })
    }

    fn wait_ready(&mut self, limit: Duration) {
        let started = Instant::now();
        while self.get("/-/ready", &[]).map(|(s, _)| s) != Some(200) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "prometheus exited ({status}):\n{}",
                    std::fs::read_to_string(&self.log).unwrap()
                );
            }
            assert!(
                started.elapsed() < limit,
                "prometheus not ready in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Until the target has been scraped once (down, as nothing serves it yet): Prometheus
    /// applies discovered targets in 5 s batches, which would eat most of a short run.
    fn wait_scraping(&self, limit: Duration) {
        let started = Instant::now();
        loop {
            if let Some((200, body)) = self.get("/api/v1/targets", &[]) {
                let v: Value = serde_json::from_str(&body).unwrap();
                let scraped = v["data"]["activeTargets"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["health"] != "unknown"));
                if scraped {
                    return;
                }
            }
            assert!(
                started.elapsed() < limit,
                "prometheus scraped nothing in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `/api/v1/query` at `time`: the result vector.
    fn query(&self, expr: &str, time: f64) -> Vec<Value> {
        let (status, body) = self
            .get(
                "/api/v1/query",
                &[("query", expr.to_string()), ("time", format!("{time:.3}"))],
            )
            .expect("prometheus answers");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(
            status == 200 && v["status"] == "success",
            "{expr}: {status} {body}"
        );
        v["data"]["result"].as_array().unwrap().clone()
    }

    /// The one value of an instant query.
    fn scalar(&self, expr: &str, time: f64) -> f64 {
        let result = self.query(expr, time);
        assert_eq!(result.len(), 1, "{expr}: {result:?}");
        result[0]["value"][1].as_str().unwrap().parse().unwrap()
    }
}

/// Which E12 bucket (index of its upper bound) holds `seconds`.
fn bucket(seconds: f64) -> i64 {
    reports::prometheus::bucket_bounds().partition_point(|b| *b < seconds) as i64
}

#[test]
fn real_prometheus_scraping_a_run_agrees_with_its_p95_within_a_bucket() {
    let dir = tempfile::tempdir().unwrap();
    // Every call 20–30 ms: a p95 set by the server, not by how busy this machine is.
    let server = Server::start(|c| {
        c.latency_overrides = vec![
            "*=20+10".parse().unwrap(),
            "llm.ttft=20+0".parse().unwrap(),
            "llm.tpot=2+0".parse().unwrap(),
        ];
        c.llm.llm_output_tokens = "16+0".parse().unwrap();
    });
    let metrics_port = free_port();
    let target = format!("127.0.0.1:{metrics_port}");
    let mut prometheus = Prometheus::start(dir.path(), &target);
    prometheus.wait_ready(Duration::from_secs(30));
    prometheus.wait_scraping(Duration::from_secs(30));

    let scenario = scenario_file(dir.path(), "mixed", &mixed_scenario("6s"));
    let out = dir.path().join("out");
    let started = Instant::now();
    let o = run_scenario(&scenario, &server.url, &out, &["--metrics-bind", &target]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(40));
    let result = results(&out);
    // The run's end: the last scrape is at most a second before it, and the series go
    // stale only at the first failed scrape after the process exited.
    let end = result.metadata.ended_at.timestamp_millis() as f64 / 1000.0;
    let scrapes = prometheus.scalar("count_over_time(skein_active_users[1m])", end);
    assert!(scrapes >= 4.0, "only {scrapes} scrapes of a 6 s run");

    let exact = result.overall().latency.value_at_quantile(0.95) / 1000.0;
    let cumulative = prometheus.scalar(
        "histogram_quantile(0.95, sum by (le) (skein_request_duration_seconds_bucket))",
        end,
    );
    assert!(
        (bucket(cumulative) - bucket(exact)).abs() <= 1,
        "cumulative: Prometheus p95 {cumulative} s vs the run's {exact} s"
    );
    // The dashboard's form (a rate over the last seconds): the load was steady, so the same.
    let windowed = prometheus.scalar(
        "histogram_quantile(0.95, sum by (le) (rate(skein_request_duration_seconds_bucket[5s])))",
        end,
    );
    assert!(
        (bucket(windowed) - bucket(exact)).abs() <= 1,
        "rate over 5 s: Prometheus p95 {windowed} s vs the run's {exact} s"
    );
    eprintln!("p95: run {exact} s, Prometheus cumulative {cumulative} s, rate[5s] {windowed} s over {scrapes} scrapes");
    // Per request name, for the names with enough requests to have a p95.
    for r in result.requests.iter().filter(|r| r.requests >= 100) {
        let exact = r.latency.value_at_quantile(0.95) / 1000.0;
        let name = r.name.replace('\\', "\\\\").replace('"', "\\\"");
        let p95 = prometheus.scalar(
            &format!("histogram_quantile(0.95, sum by (le) (skein_request_duration_seconds_bucket{{name=\"{name}\"}}))"),
            end,
        );
        assert!(
            (bucket(p95) - bucket(exact)).abs() <= 1,
            "{}: Prometheus p95 {p95} s vs the run's {exact} s",
            r.name
        );
    }

    // Every dashboard query evaluates on the scraped data and finds some.
    for (title, expr) in queries(&dashboard()) {
        let expr = expr
            .replace("$__rate_interval", "5s")
            .replace("$instance", ".*");
        let result = prometheus.query(&expr, end);
        assert!(!result.is_empty(), "panel {title}: `{expr}` found no data");
    }
}
