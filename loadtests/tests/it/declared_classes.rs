//! A team describes its own API in the scenario file (`[[user_classes]]` with `name` and
//! requests) and skein sends exactly that: templated values, captures reused, names reported.
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::support::*;

/// What the toy search API saw.
#[derive(Default)]
struct Seen {
    queries: Vec<String>,
    ks: Vec<i64>,
    /// Session ids handed out by `tools.search`.
    issued: Vec<String>,
    /// `(item id, X-Tenant header)` of each `GET /items/{id}`.
    items: Vec<(String, String)>,
}

type Shared = Arc<Mutex<Seen>>;

async fn rpc(State(seen): State<Shared>, Json(call): Json<Value>) -> Json<Value> {
    let mut seen = seen.lock().unwrap();
    if call["jsonrpc"] != "2.0" || call["method"] != "tools.search" {
        return Json(
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no such method"}}),
        );
    }
    seen.queries
        .push(call["params"]["query"].as_str().unwrap_or("?").to_string());
    seen.ks.push(call["params"]["k"].as_i64().unwrap_or(-1));
    let session = format!("sess-{}", seen.issued.len());
    seen.issued.push(session.clone());
    Json(json!({"jsonrpc": "2.0", "id": 1, "result": {"session_id": session, "hits": []}}))
}

async fn item(
    State(seen): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    let tenant = headers
        .get("x-tenant")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    seen.lock().unwrap().items.push((id.clone(), tenant));
    (StatusCode::OK, Json(json!({"id": id})))
}

/// The toy API on 127.0.0.1:0, on its own runtime (dropped with the returned value).
fn toy_api() -> (String, Shared, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let seen = Shared::default();
    let app = Router::new()
        .route("/search", post(rpc))
        .route("/items/{id}", get(item))
        .with_state(seen.clone());
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    (url, seen, runtime)
}

const SEARCH_USER: &str = r#"
users = 3
spawn_rate = 3
run_time = "3s"

[[user_classes]]
name = "SearchUser"
weight = 1
think_time = ["10ms", "30ms"]

[[user_classes.requests]]
name = "search"
weight = 1
method = "POST"
path = "/search"
jsonrpc = "tools.search"
params = '{"query": "{{pick(alpha, beta, gamma)}}", "k": {{int(1, 10)}}}'
capture = { session_id = "/result/session_id" }

[[user_classes.requests]]
name = "item"
weight = 2
path = "/items/{{session_id}}"
headers = { "X-Tenant" = "{{env(SKEIN_TEST_TENANT)}}" }

[sla]
p95_ms = 60000
"#;

#[test]
fn a_declared_class_sends_its_templates_and_reuses_what_it_captured() {
    let (url, seen, _runtime) = toy_api();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "search", SEARCH_USER);
    let out = dir.path().join("out");
    let o = skein()
        .env("SKEIN_TEST_TENANT", "t1")
        .args([
            "run",
            "--scenario",
            scenario.to_str().unwrap(),
            "--host",
            &url,
        ])
        .args(["-t", "3s", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    check(&seen, &out);
    let seen = seen.lock().unwrap();
    assert!(seen
        .queries
        .iter()
        .all(|q| ["alpha", "beta", "gamma"].contains(&q.as_str())));
    assert!(
        seen.ks.iter().all(|k| (1..=10).contains(k)),
        "{:?}",
        seen.ks
    );
    assert!(seen.items.iter().all(|(_, tenant)| tenant == "t1"));
    // Each user's first pick is `item` (weight 2), before it has a session: not sent, counted.
    assert!(
        stderr(&o).contains("SearchUser: ") && stderr(&o).contains("not sent because a capture"),
        "{}",
        stderr(&o)
    );
}

/// `(what to replace in SEARCH_USER, with what, the expected "line:col: message" part)`.
const BAD_FILES: [(&str, &str, &str); 7] = [
    (
        "{{pick(alpha",
        "{{choose(alpha",
        ":17:24: unknown template function `choose`",
    ),
    (
        "/items/{{session_id}}",
        "/items/{{sesion_id}}",
        ":23:18: `{{sesion_id}}` uses capture `sesion_id`",
    ),
    (
        r#""k": {{int(1, 10)}}}"#,
        r#""k": {{int(1, 10)}}"#,
        ":17:11: not JSON once templated",
    ),
    (
        r#"method = "POST""#,
        r#"method = "FETCH""#,
        ":14:10: unknown method `FETCH`",
    ),
    (
        "weight = 2\npath",
        "weight = -2\npath",
        ":22:10: request weight is -2",
    ),
    (
        r#"name = "SearchUser""#,
        r#"name = "TrainingAPIUser""#,
        ":7:8: `TrainingAPIUser` cannot name a declared class",
    ),
    (
        "weight = 1\nmethod",
        "weight = 0\nmethod",
        ":21:8: request `item` uses capture `session_id`",
    ),
];

#[test]
fn bad_declared_classes_are_refused_at_their_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (from, to, expected)) in BAD_FILES.iter().enumerate() {
        assert!(SEARCH_USER.contains(from), "{from}");
        let text = SEARCH_USER.replacen(from, to, 1);
        let scenario = scenario_file(dir.path(), &format!("bad{i}"), &text);
        let o = skein()
            .env("SKEIN_TEST_TENANT", "t1")
            .args(["run", "--scenario", scenario.to_str().unwrap()])
            .args(["--host", "http://127.0.0.1:9", "-t", "1s"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{expected}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{expected}:\n{}", stderr(&o));
        assert!(stderr(&o).contains("hint: "), "{}", stderr(&o));
    }
    // Without the environment variable the template reads, the file is refused too.
    let scenario = scenario_file(dir.path(), "noenv", SEARCH_USER);
    let o = skein()
        .env_remove("SKEIN_TEST_TENANT")
        .args(["run", "--scenario", scenario.to_str().unwrap()])
        .args(["--host", "http://127.0.0.1:9", "-t", "1s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains(":24:"), "{}", stderr(&o));
    assert!(stderr(&o).contains("`SKEIN_TEST_TENANT` is not set"));

    let empty =
        "users = 1\nrun_time = \"1s\"\n[[user_classes]]\nname = \"X\"\nweight = 1\nrequests = []\n";
    let scenario = scenario_file(dir.path(), "empty", empty);
    let o = run(&[
        "run",
        "--scenario",
        scenario.to_str().unwrap(),
        "--host",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(":6:12: user class `X` has no requests"),
        "{}",
        stderr(&o)
    );
}

/// The same class with a fixed tenant: workers are started without the test's environment.
fn without_env() -> String {
    SEARCH_USER.replace("{{env(SKEIN_TEST_TENANT)}}", "t1")
}

/// Checks the toy API saw only what the class may send, and the results name its requests.
fn check(seen: &Shared, out: &std::path::Path) {
    let seen = seen.lock().unwrap();
    assert!(seen.queries.len() >= 5, "{} searches", seen.queries.len());
    assert!(seen.items.len() >= 5, "{} item requests", seen.items.len());
    assert!(seen.items.iter().all(|(id, _)| seen.issued.contains(id)));
    let r = results(out);
    let count = |name: &str| {
        r.requests
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.requests)
    };
    assert_eq!(count("search"), Some(seen.queries.len() as u64));
    assert_eq!(count("item"), Some(seen.items.len() as u64));
    assert_eq!(r.overall().failures, 0, "{:?}", r.failures);
}

#[test]
fn workers_resolve_a_declared_class_from_the_scenario_text() {
    use crate::distributed_support::{manager_for, worker};
    use std::time::Duration;

    let (url, seen, _runtime) = toy_api();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "search", &without_env());
    let out = dir.path().join("out");
    let (mut m, manager) = manager_for(&scenario, 2, &url, &out);
    let mut workers = [worker(&manager, "w1", &[]), worker(&manager, "w2", &[])];
    assert_eq!(
        m.exit_code(Duration::from_secs(30)),
        Some(0),
        "{}",
        m.text()
    );
    for w in &mut workers {
        assert_eq!(
            w.exit_code(Duration::from_secs(10)),
            Some(0),
            "{}",
            w.text()
        );
    }
    // Skipped requests are reported where they happened: on the workers.
    assert!(workers
        .iter()
        .any(|w| w.text().contains("SearchUser: ") && w.text().contains("not sent because")));
    check(&seen, &out);
}

#[test]
fn an_open_model_run_sends_a_declared_class_too() {
    let (url, seen, _runtime) = toy_api();
    let dir = tempfile::tempdir().unwrap();
    let text = without_env().replace("users = 3\nspawn_rate = 3\n", "rate = 20\n");
    let scenario = scenario_file(dir.path(), "open", &text);
    let out = dir.path().join("out");
    let o = run_scenario(&scenario, &url, &out, &["-t", "3s"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    check(&seen, &out);
}

#[test]
fn the_walk_through_in_the_docs_is_a_valid_scenario() {
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/custom-workloads.md");
    let text = std::fs::read_to_string(docs).unwrap();
    let example = text
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block");
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "walk", example);
    // Loaded and validated, it gets as far as the (unreachable) target: exit 3, not 2.
    let o = skein()
        .env("TENANT", "t1")
        .args(["run", "--scenario", scenario.to_str().unwrap()])
        .args(["--host", "http://127.0.0.1:9", "-t", "1s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}
