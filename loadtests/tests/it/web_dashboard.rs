//! The live dashboard of `skein run --web`, in a real browser: headless Chromium (Debian's,
//! installed by .ci/run) driven over the DevTools protocol watches a real run against the
//! reference server, and what it drew, listed and ended with is checked against
//! `/api/stats` and the results on disk. Also: the token, the same-origin rule, the bad
//! inputs that exit 2 before any load, and a closed run's users changed from the page.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;

use crate::support::*;

const TOKEN: &str = "dash-Token_42";

/// Open model, 30 arrivals/s for up to a minute (the test stops it from the page); one
/// arrival in five asks for an endpoint that does not exist: the injected failure.
const PROBED: &str = r#"
rate = 30
run_time = "60s"

[[user_classes]]
class = "TrainingAPIUser"
weight = 4

[[user_classes]]
name = "ProbeUser"
weight = 1

[[user_classes.requests]]
name = "missing"
method = "GET"
path = "/no-such-endpoint"

[sla]
error_rate = 0.01
"#;

/// A `skein run` in the background whose stderr is collected (the dashboard's address is
/// printed there).
struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    fn spawn(args: &[&str]) -> Running {
        let mut child = skein()
            .env_remove("SKEIN_WEB_TOKEN")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn skein");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Running { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The dashboard's address, once printed.
    fn dashboard(&self) -> SocketAddr {
        let text = wait_for("the dashboard's address", Duration::from_secs(30), || {
            let s = self.stderr();
            s.contains("live dashboard at").then_some(s)
        });
        let line = text
            .lines()
            .find(|l| l.contains("live dashboard at"))
            .unwrap();
        let url = line.split("http://").nth(1).unwrap();
        url.split('/').next().unwrap().parse().unwrap()
    }

    fn wait(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!("skein did not exit within {limit:?}:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            started.elapsed() < limit,
            "gave up waiting for {what} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP/1.1 exchange: the status and body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the dashboard");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

fn stats(addr: SocketAddr) -> Value {
    let bearer = format!("Bearer {TOKEN}");
    let (status, body) = http(addr, "GET", "/api/stats", &[("Authorization", &bearer)], "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A dashboard started without a token answers `path` with JSON.
fn json_without_token(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, &[], "");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn browser() -> Browser {
    let chromium = reports::screenshot::find_chromium()
        .expect("headless Chromium drives the dashboard (apt-get install chromium, see .ci/apt-packages.txt)");
    Browser::new(
        LaunchOptions::default_builder()
            .path(Some(which(chromium)))
            .sandbox(false)
            .window_size(Some((1400, 1700)))
            .idle_browser_timeout(Duration::from_secs(180))
            .build()
            .unwrap(),
    )
    .expect("launch headless Chromium")
}

/// A new tab showing `url`, once loaded.
fn open_page(browser: &Browser, url: &str) -> Arc<Tab> {
    let tab = browser.new_tab().unwrap();
    tab.navigate_to(url)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab
}

/// Clicks the field `selector` names and types `text` into it.
fn type_into(tab: &Tab, selector: &str, text: &str) {
    tab.find_element(selector).unwrap().click().unwrap();
    tab.type_str(text).unwrap();
}

/// The series `key` of chart `chart` as the page drew it, once it has `min_points` points.
fn drawn_series(tab: &Tab, chart: &str, key: &str, min_points: usize, limit: Duration) -> Value {
    let what = format!("chart {chart} to draw {min_points} points of {key}");
    wait_for(&what, limit, || {
        let drawn = eval(tab, &format!("(window.skein.drawn['{chart}'] || [])"));
        let series = drawn.as_array()?.iter().find(|s| s["key"] == key)?.clone();
        (series["points"].as_array()?.len() >= min_points).then_some(series)
    })
}

/// Every point the page drew of `key` is the point of `/api/stats` (`api`) at its second.
fn each_point_is_served(drawn: &Value, api: &Value, key: &str) {
    let served = api["points"].as_array().unwrap();
    for p in drawn["points"].as_array().unwrap() {
        let t = p["t"].as_i64().unwrap();
        let point = served
            .iter()
            .find(|a| a["t"].as_i64() == Some(t))
            .unwrap_or_else(|| panic!("the page drew t={t}, absent from /api/stats"));
        assert_eq!(p["v"].as_f64(), point[key].as_f64(), "{key} at t={t}");
    }
}

fn which(name: &str) -> std::path::PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| name.into())
}

/// Evaluates `expr` (an expression yielding a JSON-serialisable value) in the page.
fn eval(tab: &Tab, expr: &str) -> Value {
    let out = tab
        .evaluate(&format!("JSON.stringify({expr})"), false)
        .expect("evaluate in the page");
    match &out.value {
        Some(Value::String(json)) => serde_json::from_str(json).unwrap(),
        _ => panic!("{expr}: {out:?}"),
    }
}

#[test]
fn the_dashboard_in_chromium_draws_the_run_lists_its_failure_and_stops_it() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "probed", PROBED);
    let out = dir.path().join("out");
    let mut run = Running::spawn(&[
        "run",
        "--scenario",
        scenario.to_str().unwrap(),
        "--host",
        &server.url,
        "--out",
        out.to_str().unwrap(),
        "--web",
        "127.0.0.1:0",
        "--web-token",
        TOKEN,
        "--web-linger",
        "60s",
    ]);
    let addr = run.dashboard();

    // Without the token every route answers 401, the event stream included.
    for path in ["/", "/api/stats", "/api/events", "/files/results.json"] {
        assert_eq!(http(addr, "GET", path, &[], "").0, 401, "{path}");
    }
    assert_eq!(http(addr, "POST", "/api/stop", &[], "").0, 401);
    assert_eq!(http(addr, "GET", "/api/stats?token=wrong", &[], "").0, 401);
    // With it, a control request from another origin is still refused.
    let bearer = format!("Bearer {TOKEN}");
    let evil = [
        ("Authorization", bearer.as_str()),
        ("Origin", "http://evil.example"),
    ];
    assert_eq!(http(addr, "POST", "/api/stop", &evil, "").0, 403);

    let browser = browser();
    // A page opened without the token is refused.
    let refused = open_page(&browser, &format!("http://{addr}/"));
    let text = eval(&refused, "document.body.innerText");
    assert!(text.as_str().unwrap().contains("needs its token"), "{text}");

    let tab = open_page(&browser, &format!("http://{addr}/?token={TOKEN}"));

    // /api/stats grows while the run runs.
    let first = stats(addr)["requests"].as_u64().unwrap();
    let grown = wait_for("/api/stats to grow", Duration::from_secs(30), || {
        let now = stats(addr)["requests"].as_u64().unwrap();
        (now > first && now > 0).then_some(now)
    });
    assert!(grown > first);

    // The requests chart drew points, and each is a point of /api/stats.
    let drawn = drawn_series(&tab, "c-rps", "rps", 4, Duration::from_secs(30));
    let api = stats(addr);
    each_point_is_served(&drawn, &api, "rps");
    let drawn_points = drawn["points"].as_array().unwrap();
    for p in drawn_points {
        assert!(
            p["x"].as_f64().unwrap() > 0.0 && p["y"].as_f64().unwrap() > 0.0,
            "{p}"
        );
    }
    let total_drawn: f64 = drawn_points.iter().map(|p| p["v"].as_f64().unwrap()).sum();
    assert!(total_drawn > 0.0, "the chart drew only zeros: {drawn}");

    // The injected failure is in the failures table, and the error-rate SLA turned red.
    let failures = wait_for(
        "the failures table to list the 404",
        Duration::from_secs(20),
        || {
            let rows = eval(
                &tab,
                "[...document.querySelectorAll('#errors tbody tr')].map(r => r.innerText)",
            );
            let rows = rows.as_array()?.clone();
            rows.iter()
                .find(|r| {
                    r.as_str()
                        .is_some_and(|r| r.contains("missing") && r.contains("404"))
                })
                .cloned()
        },
    );
    assert!(failures.as_str().unwrap().contains("GET"), "{failures}");
    let sla = eval(&tab, "document.querySelector('#slas tbody').innerText");
    assert!(sla.as_str().unwrap().contains("broken (broke at"), "{sla}");

    // The open model's rate changes from the page's form: a stage of its own in the results.
    type_into(&tab, "#rate", "45");
    tab.find_element("#rate-form button")
        .unwrap()
        .click()
        .unwrap();
    wait_for(
        "the rate change to take effect",
        Duration::from_secs(10),
        || (stats(addr)["control"]["rate"].as_f64() == Some(45.0)).then_some(()),
    );
    std::thread::sleep(Duration::from_secs(2));

    // The Stop button ends the run as Ctrl-C does; the open page shows the end.
    tab.find_element("#stop").unwrap().click().unwrap();
    let verdict = wait_for(
        "the page to show the run's end",
        Duration::from_secs(60),
        || {
            let end = eval(&tab, "document.getElementById('end').hidden ? null : document.getElementById('verdict').innerText");
            end.as_str().map(str::to_string)
        },
    );
    assert!(verdict.starts_with("interrupted"), "{verdict}");
    assert!(out.join("results.json").is_file(), "results.json on disk");
    let links = eval(
        &tab,
        "[...document.querySelectorAll('#links a')].map(a => a.getAttribute('href'))",
    );
    let report = links
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|h| h.starts_with("files/report.html"))
        .unwrap_or_else(|| panic!("no link to report.html: {links}"))
        .to_string();
    let (status, html) = http(addr, "GET", &format!("/{report}"), &[], "");
    assert_eq!(status, 200);
    assert!(html.contains("<html") || html.contains("<!doctype") || html.contains("<!DOCTYPE"));
    let csv = links
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .any(|h| h.ends_with(".csv") || h.contains(".csv?"));
    assert!(csv, "the CSVs are linked: {links}");

    let result = results(&out);
    assert!(
        result.metadata.interrupted,
        "stopped from the page = interrupted"
    );
    let (requests, failures) = counts(&result, "missing");
    assert!(
        requests > 0 && failures == requests,
        "{requests} {failures}"
    );
    let last = result.stages.last().unwrap();
    assert_eq!(
        result.stages.len(),
        2,
        "planned stage + the edit: {:?}",
        result
            .stages
            .iter()
            .map(|s| s.target_rate)
            .collect::<Vec<_>>()
    );
    assert_eq!(last.target_rate, Some(45.0));
    assert!(last.requests > 0);

    // Ctrl-C ends the linger; the run's own exit code (interrupted) stands.
    let sent = std::process::Command::new("kill")
        .args(["-INT", &run.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_eq!(
        run.wait(Duration::from_secs(30)),
        Some(130),
        "{}",
        run.stderr()
    );
}

#[test]
fn bad_dashboard_addresses_exit_2_before_any_load() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (web, expected) in [
        (taken.as_str(), "cannot listen"),
        ("localhost:http", "invalid value"),
        ("0.0.0.0:0", "needs a token"),
    ] {
        let o = skein()
            .env_remove("SKEIN_WEB_TOKEN")
            .args([
                "run",
                "-t",
                "30s",
                "--out",
                out.to_str().unwrap(),
                "--web",
                web,
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "--web {web}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "--web {web}: {}", stderr(&o));
        assert!(
            !stderr(&o).contains("scenario `"),
            "no load started: {}",
            stderr(&o)
        );
        assert!(!out.exists(), "no results written");
    }
}

#[test]
fn a_closed_runs_users_change_from_the_page_each_a_stage_and_its_end_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut run = Running::spawn(&[
        "run",
        "--scenario",
        "light",
        "-u",
        "3",
        "-r",
        "3",
        "-t",
        "16s",
        "--out",
        out.to_str().unwrap(),
        "--web",
        "127.0.0.1:0",
        "--web-max-users",
        "8",
        "--web-linger",
        "6s",
    ]);
    let addr = run.dashboard();
    let get = |path: &str| json_without_token(addr, path);
    let post = |path: &str, body: &str| {
        http(
            addr,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body,
        )
    };
    // A closed run takes users, not a rate; and no more users than it started.
    let (status, body) = post("/api/rate", r#"{"rate": 10}"#);
    assert!(
        status == 409 && body.contains("/api/users"),
        "{status} {body}"
    );
    let (status, body) = post("/api/users", r#"{"users": 9}"#);
    assert!(
        status == 422 && body.contains("--web-max-users 9"),
        "{status} {body}"
    );
    let active = |n: u64| {
        move || {
            let s = json_without_token(addr, "/api/stats");
            (s["active_users"].as_u64() == Some(n)).then_some(s)
        }
    };
    wait_for("the planned 3 users", Duration::from_secs(20), active(3));

    // From the page's form: 7 users at 50/s, a stage of its own.
    let browser = browser();
    let tab = open_page(&browser, &format!("http://{addr}/"));
    wait_for("the users form", Duration::from_secs(10), || {
        (eval(&tab, "document.getElementById('users-form').hidden") == Value::Bool(false))
            .then_some(())
    });
    type_into(&tab, "#users", "7");
    type_into(&tab, "#spawn-rate", "50");
    tab.find_element("#users-form button")
        .unwrap()
        .click()
        .unwrap();
    let raised = wait_for("7 users running", Duration::from_secs(10), active(7));
    // The embedded target's RSS is a chart series too, each point one of /api/stats.
    let drawn = drawn_series(&tab, "c-res", "trss_mb", 1, Duration::from_secs(10));
    each_point_is_served(&drawn, &json_without_token(addr, "/api/stats"), "trss_mb");
    for p in drawn["points"].as_array().unwrap() {
        assert!(p["v"].as_f64().unwrap() > 1.0, "{p}");
    }
    assert_eq!(raised["control"]["users"], 7, "{}", raised["control"]);
    assert_eq!(raised["control"]["spawn_rate"], 50.0);
    let note = eval(&tab, "document.getElementById('message').innerText");
    assert!(note.as_str().unwrap().contains("Users set to 7"), "{note}");
    std::thread::sleep(Duration::from_secs(2));

    // From a script, down to 1 at the stage's spawn rate: the newest users end their sessions.
    let (status, body) = post("/api/users", r#"{"users": 1}"#);
    assert_eq!(status, 200, "{body}");
    wait_for("1 user running", Duration::from_secs(10), active(1));
    // No --host: the embedded reference server runs as a child, whose CPU and RSS the page
    // shows apart from the generator's.
    let running = wait_for(
        "the embedded target's figures",
        Duration::from_secs(30),
        || {
            let s = get("/api/stats");
            (s["target"]["rss_bytes"].as_u64() > Some(0)).then_some(s)
        },
    );
    let pid = running["target"]["pid"].as_u64().unwrap();
    assert!(
        run.stderr().contains(&format!("(pid {pid})")),
        "{}",
        run.stderr()
    );
    assert!(running["target"]["cpu_pct"].as_f64().unwrap() >= 0.0);
    let ended = wait_for("the run to end", Duration::from_secs(60), || {
        let s = get("/api/stats");
        (s["state"] == "ended").then_some(s)
    });
    assert!(ended["requests"].as_u64().unwrap() > 0, "{ended}");
    assert_eq!(ended["load_model"], "closed");
    assert!(ended["end"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "results.json"));
    let result = results(&out);
    assert_eq!(ended["requests"].as_u64(), Some(result.overall().requests));
    let stages: Vec<u64> = result.stages.iter().map(|s| s.target_users).collect();
    assert_eq!(
        stages,
        [3, 7, 1],
        "planned stage + the two edits: {}",
        run.stderr()
    );
    assert!(
        result.stages.iter().all(|s| s.requests > 0),
        "every stage sent requests"
    );
    let most = result.series.iter().map(|s| s.users).max().unwrap();
    assert_eq!(most, 7, "never more users than asked for");
    let run_time: Duration = result
        .stages
        .iter()
        .map(|s| (s.ended_at - s.started_at).to_std().unwrap())
        .sum();
    assert!(
        run_time.abs_diff(Duration::from_secs(16)) < Duration::from_secs(1),
        "the edits keep the run time: {run_time:?}"
    );
    // The linger ends by itself; the run's verdict is the exit code.
    let code = run.wait(Duration::from_secs(60));
    assert!(
        matches!(code, Some(0) | Some(1)),
        "{code:?}: {}",
        run.stderr()
    );
}

/// `skein manager --web`: two worker processes on 127.0.0.1; `/api/stats` lists both in its
/// `workers` array, the page's workers table shows them, and the page's Stop ends the
/// distributed run as Ctrl-C does (final reports collected, results written).
#[test]
fn a_managers_dashboard_lists_its_workers_and_its_stop_ends_the_run() {
    use crate::distributed_support::{scenario, worker, TOKEN as CHANNEL_TOKEN};
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), 60);
    let out = dir.path().join("out");
    let mut manager = Running::spawn(&[
        "manager",
        "--bind",
        "127.0.0.1:0",
        "--token",
        CHANNEL_TOKEN,
        "--scenario",
        path.to_str().unwrap(),
        "--expect-workers",
        "2",
        "--host",
        &server.url,
        "--out",
        out.to_str().unwrap(),
        "--web",
        "127.0.0.1:0",
        "--web-linger",
        "8s",
    ]);
    let addr = manager.dashboard();
    let channel = wait_for("the manager's address", Duration::from_secs(20), || {
        let s = manager.stderr();
        let rest = s.split("listening on ").nth(1)?;
        Some(rest.split(',').next()?.trim().to_string())
    });
    let _workers = [worker(&channel, "w1", &[]), worker(&channel, "w2", &[])];
    let get = || json_without_token(addr, "/api/stats");
    let running = wait_for(
        "both workers to report load",
        Duration::from_secs(40),
        || {
            let s = get();
            let workers = s["workers"].as_array()?.clone();
            let loaded = workers
                .iter()
                .filter(|w| w["state"] == "running" && w["requests"].as_u64() > Some(0))
                .count();
            (loaded == 2 && s["requests"].as_u64() > Some(0)).then_some(workers)
        },
    );
    let mut ids: Vec<&str> = running.iter().map(|w| w["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["w1", "w2"]);
    assert!(
        running.iter().all(|w| w["users"].as_u64() > Some(0)),
        "{running:?}"
    );

    let browser = browser();
    let tab = open_page(&browser, &format!("http://{addr}/"));
    let rows = wait_for(
        "the workers table to show both",
        Duration::from_secs(20),
        || {
            let rows = eval(
                &tab,
                "[...document.querySelectorAll('#workers tbody tr')].map(r => r.innerText)",
            );
            let rows: Vec<String> = rows
                .as_array()?
                .iter()
                .map(|r| r.as_str().unwrap_or_default().to_string())
                .collect();
            (rows.len() == 2 && rows.iter().all(|r| r.contains("running"))).then_some(rows)
        },
    );
    assert!(rows.iter().any(|r| r.starts_with("w1")), "{rows:?}");
    assert!(rows.iter().any(|r| r.starts_with("w2")), "{rows:?}");
    assert_eq!(
        eval(&tab, "document.getElementById('workers-panel').hidden"),
        false
    );

    tab.find_element("#stop").unwrap().click().unwrap();
    let ended = wait_for("the stopped run to end", Duration::from_secs(40), || {
        let s = get();
        (s["state"] == "ended").then_some(s)
    });
    assert!(
        ended["end"]["verdict"]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "{ended}"
    );
    let written = results(&out);
    assert_eq!(written.workers.len(), 2);
    assert!(written.metadata.interrupted);
    assert_eq!(ended["requests"].as_u64(), Some(written.overall().requests));
    let code = manager.wait(Duration::from_secs(60));
    assert!(code.is_some(), "{}", manager.stderr());
}

/// `skein capacity --web`: `/api/stats` shows the step in progress and each finished step's
/// verdict; the dashboard's stop ends the search as Ctrl-C does (the finished steps written).
#[test]
fn a_capacity_searchs_dashboard_shows_its_steps_and_its_stop_ends_the_search() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "cap",
        "rate = 10\nrun_time = \"1m\"\n[[user_classes]]\nclass = \"BurstTrainingUser\"\nweight = 1\n",
    );
    let out = dir.path().join("out");
    #[rustfmt::skip]
    let mut search = Running::spawn(&[
        "capacity", "--scenario", path.to_str().unwrap(), "--host", &server.url,
        "--out", out.to_str().unwrap(), "--start", "20", "--max-rate", "400",
        "--step-time", "2s", "--warmup", "1s", "--resolution", "20%", "--budget", "60s",
        "--web", "127.0.0.1:0", "--web-linger", "8s",
    ]);
    let addr = search.dashboard();
    let get = || json_without_token(addr, "/api/stats");
    let first = wait_for("step 1 in progress", Duration::from_secs(30), || {
        let s = get();
        (s["capacity"]["step"] == 1).then_some(s)
    });
    assert_eq!(first["capacity"]["offered"].as_f64(), Some(20.0), "{first}");
    assert_eq!(first["capacity"]["phase"], "climb");
    assert!(
        first.get("target").is_none(),
        "a --host target is not measured: {first}"
    );
    let later = wait_for(
        "a finished step and the next",
        Duration::from_secs(30),
        || {
            let s = get();
            (!s["capacity"]["finished"].as_array()?.is_empty()
                && s["capacity"]["step"].as_u64()? >= 2)
                .then_some(s)
        },
    );
    let finished = &later["capacity"]["finished"][0];
    assert_eq!(finished["offered"].as_f64(), Some(20.0), "{later}");
    assert_eq!(finished["held"], true, "{later}");
    assert!(
        later["capacity"]["offered"].as_f64() > Some(20.0),
        "{later}"
    );

    let (status, body) = http(addr, "POST", "/api/stop", &[], "");
    assert!(status < 300, "{status} {body}");
    let ended = wait_for("the stopped search to end", Duration::from_secs(30), || {
        let s = get();
        (s["state"] == "ended").then_some(s)
    });
    let written = results(&out);
    let found = written
        .capacity_search
        .expect("results.json holds the search");
    assert_eq!(found.outcome, reports::SearchOutcome::Interrupted);
    assert_eq!(
        ended["capacity"]["finished"].as_array().unwrap().len(),
        found.steps.len(),
        "{ended}"
    );
    assert!(search.wait(Duration::from_secs(60)).is_some());
}
