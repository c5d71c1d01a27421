//! Watching a run live: `/metrics` scraped during a real run against the reference server,
//! parsed with a Prometheus text-format parser, agrees with the final results; `--jsonl`
//! lines add up to them.
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};
use skein::engine::StopHandle;
use skein::live_outputs::{LiveConfig, LiveOutputs};
use skein::recorder::Recorder;
use skein::runner::{run_plan, RunPlan};

use crate::support::*;

const SHORT: &str = r#"
users = 5
spawn_rate = 5
run_time = "4s"
[[user_classes]]
class = "BurstTrainingUser"
weight = 1
think_time = ["10ms", "30ms"]
"#;

pub(crate) async fn scrape(client: &reqwest::Client, addr: std::net::SocketAddr) -> Scrape {
    let response = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("scrape");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid exposition")
}

/// `metric`'s value per request name (counters and gauges).
pub(crate) fn by_name(scrape: &Scrape, metric: &str) -> HashMap<String, f64> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter_map(|s| {
            let v = match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                _ => return None,
            };
            Some((s.labels.get("name").unwrap_or("").to_string(), v))
        })
        .collect()
}

fn single(scrape: &Scrape, metric: &str) -> f64 {
    by_name(scrape, metric)[""]
}

/// Prometheus' `histogram_quantile`: linear interpolation inside the bucket holding rank q·n.
fn histogram_quantile(q: f64, buckets: &[prometheus_parse::HistogramCount]) -> f64 {
    let mut buckets = buckets.to_vec();
    buckets.sort_by(|a, b| a.less_than.total_cmp(&b.less_than));
    let total = buckets.last().unwrap().count;
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for b in &buckets {
        if b.count >= rank {
            if b.less_than.is_infinite() {
                return lower;
            }
            return lower + (b.less_than - lower) * (rank - below) / (b.count - below).max(1.0);
        }
        lower = b.less_than;
        below = b.count;
    }
    lower
}

/// `/metrics` on a free port of 127.0.0.1 and `--jsonl` to `jsonl`, with the bound address.
pub(crate) fn live_outputs(jsonl: &std::path::Path) -> (LiveOutputs, std::net::SocketAddr) {
    let live = LiveOutputs::start(&LiveConfig {
        metrics_bind: Some("127.0.0.1:0".parse().unwrap()),
        jsonl: Some(jsonl.to_path_buf()),
        web: None,
    })
    .unwrap();
    let addr = live.metrics_addr().unwrap();
    (live, addr)
}

/// Request name `name`'s figures in the last line of the `--jsonl` file `jsonl`.
pub(crate) fn last_jsonl_line_of(jsonl: &std::path::Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(jsonl).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    last["by_name"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {last}"))
        .clone()
}

#[test]
fn metrics_scraped_during_a_run_agree_with_the_final_results() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let scenario =
        skein::scenario::load(scenario_file(dir.path(), "short", SHORT).to_str().unwrap()).unwrap();
    let jsonl = dir.path().join("live.jsonl");
    let (live, addr) = live_outputs(&jsonl);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let (result, during, after) = runtime.block_on(async {
        let client = reqwest::Client::new();
        // Before the recorder is attached: a valid exposition with no users.
        let waiting = scrape(&client, addr).await;
        assert_eq!(single(&waiting, "skein_active_users"), 0.0);

        let plan = RunPlan::new(
            scenario,
            server.url.clone(),
            target_server::DEFAULT_TOKEN.into(),
        );
        let recorder = Arc::new(Recorder::new());
        live.attach(recorder.clone(), &plan.scenario);
        let run =
            tokio::spawn(async move { run_plan(&plan, recorder, &StopHandle::default()).await });
        let mut during = Vec::new();
        while !run.is_finished() {
            tokio::time::sleep(Duration::from_millis(700)).await;
            during.push(scrape(&client, addr).await);
        }
        let result = run.await.unwrap().unwrap();
        live.finish().unwrap();
        let after = scrape(&client, addr).await;
        (result, during, after)
    });
    assert!(started.elapsed() < Duration::from_secs(30));

    // During the run: counters only grow, never past the final counts, and some users ran.
    let finals: HashMap<String, u64> = result
        .requests
        .iter()
        .map(|r| (r.name.clone(), r.requests))
        .collect();
    let mut previous: HashMap<String, f64> = HashMap::new();
    for s in &during {
        for (name, count) in by_name(s, "skein_requests_total") {
            assert!(count <= finals[&name] as f64, "{name}: {count} > final");
            assert!(
                count >= previous.get(&name).copied().unwrap_or(0.0),
                "{name} went down"
            );
            previous.insert(name, count);
        }
    }
    assert!(
        during.iter().any(|s| single(s, "skein_active_users") > 0.0
            && by_name(s, "skein_requests_total").values().sum::<f64>() > 0.0),
        "no scrape saw the run going"
    );

    // After the run: exactly the final results.
    let requests = by_name(&after, "skein_requests_total");
    let failures = by_name(&after, "skein_request_failures_total");
    let counts = by_name(&after, "skein_request_duration_seconds_count");
    assert_eq!(requests.len(), result.requests.len());
    for r in &result.requests {
        assert_eq!(requests[&r.name], r.requests as f64, "{}", r.name);
        assert_eq!(failures[&r.name], r.failures as f64, "{}", r.name);
        assert_eq!(counts[&r.name], r.latency.count() as f64, "{}", r.name);
        let buckets = after
            .samples
            .iter()
            .find_map(|s| match &s.value {
                Value::Histogram(b)
                    if s.metric == "skein_request_duration_seconds"
                        && s.labels.get("name") == Some(r.name.as_str()) =>
                {
                    Some(b.clone())
                }
                _ => None,
            })
            .expect("a histogram per name");
        assert_eq!(buckets.len(), 73, "72 bounds and +Inf");
        if r.requests >= 100 {
            let exact = r.latency.value_at_quantile(0.99) / 1000.0;
            let estimated = histogram_quantile(0.99, &buckets);
            // Interpolation stays within the bucket of the exact value; E12 bounds are at most
            // 25 % apart. (Half that is typical, not a bound: a p99 just above a bound with
            // its rank near the bucket's top reads up to a bucket width high.)
            assert!(
                (estimated - exact).abs() <= 0.25 * exact.min(estimated) * 1.0001,
                "{}: histogram_quantile p99 {estimated} s vs HDR {exact} s",
                r.name
            );
        }
    }
    assert_eq!(
        single(&after, "skein_dropped_arrivals_total"),
        result.dropped_arrivals as f64
    );
    assert!(single(&after, "skein_generator_cpu_seconds_total") > 0.0);

    // JSON lines: one per second, in order, adding up to the run's totals.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let total: u64 = result.requests.iter().map(|r| r.requests).sum();
    assert_eq!(lines.len(), result.series.len());
    assert_eq!(
        lines
            .iter()
            .map(|l| l["requests"].as_u64().unwrap())
            .sum::<u64>(),
        total
    );
    assert_eq!(lines.last().unwrap()["requests_total"], total);
    assert!(lines
        .windows(2)
        .all(|w| w[1]["unix_second"].as_i64() > w[0]["unix_second"].as_i64()));
    assert_eq!(lines[0]["load_model"], "closed");
}

#[test]
fn skein_run_prints_where_it_serves_metrics_and_writes_jsonl_matching_its_results() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "short", SHORT);
    let (out, jsonl) = (dir.path().join("out"), dir.path().join("live.jsonl"));
    let mut child = skein()
        .args([
            "run",
            "--scenario",
            scenario.to_str().unwrap(),
            "--host",
            &server.url,
        ])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--jsonl",
            jsonl.to_str().unwrap(),
        ])
        .args(["--metrics-bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut url = None;
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        if let Some(at) = line.trim().strip_prefix("skein: Prometheus metrics at ") {
            url = Some(at.to_string());
            break;
        }
        line.clear();
    }
    let url = url.expect("the metrics address is printed");
    std::thread::sleep(Duration::from_secs(2));
    let text = reqwest::blocking_get(&url);
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    // Drain stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let r = results(&out);
    let mid: f64 = by_name(&scrape, "skein_requests_total").values().sum();
    let total: u64 = r.requests.iter().map(|r| r.requests).sum();
    assert!(mid > 0.0 && mid <= total as f64, "{mid} of {total}");
    let summed: u64 = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["requests"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(summed, total);
}

/// A blocking GET without pulling in reqwest's blocking feature: a tiny runtime per call.
mod reqwest {
    pub use ::reqwest::*;

    pub fn blocking_get(url: &str) -> String {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}
