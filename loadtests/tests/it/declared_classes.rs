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

/// `app` on 127.0.0.1:0, on its own runtime (it serves until the runtime is dropped).
fn serve(app: Router) -> (String, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    (url, runtime)
}

/// The toy search API (`POST /search`, `GET /items/{id}`).
fn toy_api() -> (String, Shared, tokio::runtime::Runtime) {
    let seen = Shared::default();
    let app = Router::new()
        .route("/search", post(rpc))
        .route("/items/{id}", get(item))
        .with_state(seen.clone());
    let (url, runtime) = serve(app);
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
    // Each user's first pick is `item` (weight 2), before it has a session: not sent, counted,
    // and kept in the results beside (not among) the requests.
    assert!(
        stderr(&o).contains("SearchUser: ") && stderr(&o).contains("not sent because a capture"),
        "{}",
        stderr(&o)
    );
    assert_skipped_items(&out);
}

/// The results count the `item` requests skipped before a user had a session (each of the 3
/// users skips at least its first pick), and the summary says so.
fn assert_skipped_items(out: &std::path::Path) {
    let r = results(out);
    assert_eq!(r.skipped_requests.len(), 1, "{:?}", r.skipped_requests);
    let skipped = &r.skipped_requests[0];
    assert_eq!(
        (skipped.class.as_str(), skipped.name.as_str()),
        ("SearchUser", "item")
    );
    assert!(skipped.count >= 3, "{skipped:?}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("requests not sent because a capture"),
        "{summary}"
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
        ":23:18: `{{sesion_id}}` uses `sesion_id`, which is neither a capture a request of this class makes nor a column of its data file (this class has no data file)",
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
    // Skipped requests are printed where they happened, on the workers, and merged into
    // the manager's results.
    assert!(workers
        .iter()
        .any(|w| w.text().contains("SearchUser: ") && w.text().contains("not sent because")));
    check(&seen, &out);
    assert_skipped_items(&out);
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

/// What the toy shop saw: `(user, request, plan header, when)`, the user read from the login
/// body or from the token it was given.
type ShopEvents = Arc<Mutex<Vec<(String, &'static str, String, std::time::Instant)>>>;

async fn login(State(events): State<ShopEvents>, Json(body): Json<Value>) -> Json<Value> {
    let user = body["user"].as_str().unwrap_or("?").to_string();
    let plan = body["plan"].as_str().unwrap_or("?").to_string();
    let token = format!("tok-{user}");
    events
        .lock()
        .unwrap()
        .push((user, "login", plan, std::time::Instant::now()));
    Json(json!({ "token": token }))
}

async fn cart(
    State(events): State<ShopEvents>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> StatusCode {
    let plan = headers
        .get("x-plan")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let user = token.strip_prefix("tok-").unwrap_or("?").to_string();
    events
        .lock()
        .unwrap()
        .push((user, "cart", plan, std::time::Instant::now()));
    StatusCode::OK
}

/// A toy shop (`POST /login`, `GET /cart/{token}`).
fn toy_shop() -> (String, ShopEvents, tokio::runtime::Runtime) {
    let events = ShopEvents::default();
    let app = Router::new()
        .route("/login", post(login))
        .route("/cart/{token}", get(cart))
        .with_state(events.clone());
    let (url, runtime) = serve(app);
    (url, events, runtime)
}

/// Four shoppers, one per row of `shoppers.csv`, each logging in then viewing its cart, in
/// that order, looping: no pause after logging in, 200 ms after the cart.
const SHOPPER: &str = r#"
users = 4
spawn_rate = 4
run_time = "3s"

[[user_classes]]
name = "Shopper"
weight = 1
mode = "sequence"
data = "shoppers.csv"
think_time = ["200ms", "200ms"]

[[user_classes.requests]]
name = "login"
method = "POST"
path = "/login"
body = '{"user": "{{user}}", "plan": "{{plan}}"}'
capture = { token = "/token" }
think_time = ["0s", "0s"]

[[user_classes.requests]]
name = "cart"
path = "/cart/{{token}}"
headers = { "X-Plan" = "{{plan}}" }

[sla]
p95_ms = 60000
"#;

const SHOPPERS: &str = "user,plan\nada,pro\nbob,free\ncyd,pro\ndan,free\n";

/// A scenario directory with `shop.toml` (from `text`) and `shoppers.csv` beside it.
fn shop_files(text: &str, csv: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shoppers.csv"), csv).unwrap();
    let scenario = scenario_file(dir.path(), "shop", text);
    (dir, scenario)
}

/// Every row's user shopped, each as one user: its requests alternate login, cart from a
/// login on, and its cart carried its own row's plan. Returns the pauses after logins and
/// after carts.
fn check_shoppers(events: &ShopEvents, out: &std::path::Path) -> (Vec<u128>, Vec<u128>) {
    let events = events.lock().unwrap();
    let plans = [
        ("ada", "pro"),
        ("bob", "free"),
        ("cyd", "pro"),
        ("dan", "free"),
    ];
    let (mut after_login, mut after_cart) = (Vec::new(), Vec::new());
    for (user, plan) in plans {
        let mine: Vec<_> = events.iter().filter(|e| e.0 == user).collect();
        assert!(mine.len() >= 4, "{user}: {} requests", mine.len());
        for (i, e) in mine.iter().enumerate() {
            let expected = if i % 2 == 0 { "login" } else { "cart" };
            assert_eq!(
                e.1, expected,
                "{user}'s request {i}: two users share a row?"
            );
            assert_eq!(e.2, plan, "{user}'s request {i}");
        }
        for pair in mine.windows(2) {
            let gap = (pair[1].3 - pair[0].3).as_millis();
            match pair[0].1 {
                "login" => after_login.push(gap),
                _ => after_cart.push(gap),
            }
        }
    }
    assert!(events.iter().all(|e| plans.iter().any(|(u, _)| *u == e.0)));
    let r = results(out);
    let count = |name: &str| {
        r.requests
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.requests)
    };
    let logins = events.iter().filter(|e| e.1 == "login").count() as u64;
    assert_eq!(count("login"), Some(logins));
    assert_eq!(count("cart"), Some(events.len() as u64 - logins));
    assert_eq!(r.overall().failures, 0, "{:?}", r.failures);
    assert!(r.skipped_requests.is_empty(), "{:?}", r.skipped_requests);
    (after_login, after_cart)
}

fn median(mut v: Vec<u128>) -> u128 {
    v.sort_unstable();
    v[v.len() / 2]
}

#[test]
fn a_sequence_takes_one_data_row_per_user_and_its_own_think_times() {
    let (url, events, _runtime) = toy_shop();
    let (dir, scenario) = shop_files(SHOPPER, SHOPPERS);
    let out = dir.path().join("out");
    let o = run_file(&scenario, &url, &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (after_login, after_cart) = check_shoppers(&events, &out);
    // A login's own think time (none) replaces the class's 200 ms; the cart keeps it.
    let (login, cart) = (median(after_login), median(after_cart));
    assert!(cart >= 190, "{cart} ms after a cart");
    assert!(
        login * 3 < cart,
        "{login} ms after a login, {cart} ms after a cart"
    );
}

#[test]
fn workers_users_take_distinct_rows_of_a_data_file_the_manager_sent() {
    use crate::distributed_support::{manager_for, worker};
    use std::time::Duration;

    let (url, events, _runtime) = toy_shop();
    let (dir, scenario) = shop_files(SHOPPER, SHOPPERS);
    let out = dir.path().join("out");
    let (mut m, manager) = manager_for(&scenario, 2, &url, &out);
    // The manager read it: workers get it from the manager, not from a disk.
    std::fs::remove_file(dir.path().join("shoppers.csv")).unwrap();
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
    check_shoppers(&events, &out);
}

/// `(what to replace in SHOPPER, with what, the data file, the expected "line:col: message")`.
const BAD_DATA: [(&str, &str, &str, &str); 6] = [
    ("", "", "", ":10:8: data file `shoppers.csv` is empty"),
    ("", "", "user,plan\n", ":10:8: data file `shoppers.csv` has a header but no rows"),
    ("", "", "user,token\nada,t\n", ":10:8: column `token` of data file `shoppers.csv` has the name of a capture"),
    ("{{plan}}\"}", "{{tier}}\"}", SHOPPERS, ":17:41: `{{tier}}` uses `tier`, which is neither a capture a request of this class makes nor a column of its data file (its data columns are user, plan)"),
    ("name = \"cart\"", "name = \"cart\"\nweight = 2", SHOPPERS, ":23:10: a request of a sequence has no weight"),
    ("path = \"/login\"", "path = \"/login/{{token}}\"", SHOPPERS, ":14:8: request `login` uses capture `token`, which no earlier request of this sequence makes"),
];

#[test]
fn bad_data_files_and_sequences_are_refused_where_they_are_named() {
    for (i, (from, to, csv, expected)) in BAD_DATA.iter().enumerate() {
        assert!(SHOPPER.contains(from), "{from}");
        let (_dir, scenario) = shop_files(&SHOPPER.replacen(from, to, 1), csv);
        let path = scenario.to_str().unwrap();
        let o = run(&[
            "run",
            "--scenario",
            path,
            "--host",
            "http://127.0.0.1:9",
            "-t",
            "1s",
        ]);
        assert_eq!(o.status.code(), Some(2), "case {i}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(expected),
            "case {i}: {expected}:\n{}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("hint: "), "{}", stderr(&o));
    }
    // Missing, and too large to hold and send to every worker.
    let (dir, scenario) = shop_files(SHOPPER, SHOPPERS);
    let refused = |expected: &str| {
        let o = run(&[
            "run",
            "--scenario",
            scenario.to_str().unwrap(),
            "--host",
            "http://127.0.0.1:9",
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{expected}:\n{}", stderr(&o));
    };
    std::fs::remove_file(dir.path().join("shoppers.csv")).unwrap();
    refused(":10:8: cannot read data file `shoppers.csv`");
    let big = "user,plan\n".to_string() + &"someone,pro\n".repeat(400_000);
    std::fs::write(dir.path().join("shoppers.csv"), big).unwrap();
    refused(":10:8: data file `shoppers.csv` is 4.6 MiB: at most 4 MiB are read");
}
