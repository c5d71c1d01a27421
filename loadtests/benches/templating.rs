//! What a declared request's templating costs on the request path, against a reference
//! measured in the same run.
//!
//! The declared request is a JSON-RPC call whose path reads a capture and whose params use
//! `uuid()`, `int(a, b)`, `pick(...)`, a capture and two data columns; it is loaded through
//! the scenario parser, as `skein run` loads it, and rendered with the same
//! `DeclaredRequest::render` that users call before each send. Three ways of making the same
//! URL and body are timed over the same number of requests:
//! - reference: `format!` by hand, as the built-in classes build their bodies
//!   (`users/training.rs`: a random UUID, `format!` of the params, `rpc_body`);
//! - compiled: the declared request rendered from its templates compiled at load;
//! - parsed per request: the templates compiled again for every request, what Skein does
//!   not do, to show what compiling once saves.
//!
//! Each is timed in 5 alternating rounds and its best round kept (the machine is shared); the
//! ratios to the reference are printed.
//!
//! Run: `cargo bench -p skein --bench templating [-- REQUESTS_PER_ROUND]`
use std::hint::black_box;
use std::time::Instant;

use rand::Rng;
use skein::scenario::data_file::{DataFile, DataSource};
use skein::scenario::file::parse_with_data;
use skein::users::http::rpc_body;
use skein::users::template::{Template, TemplateNames, UserValues};
use skein::users::{random_uuid, UserClass};

const ROUNDS: usize = 5;
const BASE_URL: &str = "http://127.0.0.1:8080";
const KINDS: [&str; 3] = ["summary", "remediation", "postmortem"];

const SCENARIO: &str = r#"
users = 1
run_time = "1s"
[[user_classes]]
name = "ExportUser"
weight = 1
data = "users.csv"
[[user_classes.requests]]
name = "open"
path = "/api/v1/sessions"
body = '{"user": "{{user}}"}'
capture = { session_id = "/session_id" }
[[user_classes.requests]]
name = "export"
path = "/api/v1/sessions/{{session_id}}/jsonrpc"
jsonrpc = "training.export_trajectories"
params = '{"job_id":"{{uuid()}}","agent_id":"load-test-agent-{{int(1, 10)}}","kind":"{{pick(summary, remediation, postmortem)}}","session":"{{session_id}}","user":"{{user}}","tenant":"{{tenant}}","success_only":true,"limit":50,"offset":0}'
"#;

const PARAMS: &str = r#"{"job_id":"{{uuid()}}","agent_id":"load-test-agent-{{int(1, 10)}}","kind":"{{pick(summary, remediation, postmortem)}}","session":"{{session_id}}","user":"{{user}}","tenant":"{{tenant}}","success_only":true,"limit":50,"offset":0}"#;

/// The same URL and body written by hand, as a built-in class would.
fn by_hand(session: &str, user: &str, tenant: &str) -> (String, String) {
    let mut rng = rand::rng();
    let url = format!("{BASE_URL}/api/v1/sessions/{session}/jsonrpc");
    let params = format!(
        r#"{{"job_id":"{}","agent_id":"load-test-agent-{}","kind":"{}","session":"{session}","user":"{user}","tenant":"{tenant}","success_only":true,"limit":50,"offset":0}}"#,
        random_uuid(),
        rng.random_range(1..=10),
        KINDS[rng.random_range(0..KINDS.len())],
    );
    (url, rpc_body("training.export_trajectories", &params))
}

/// Nanoseconds per request of `make`, over `n` requests.
fn time_per_request(n: usize, mut make: impl FnMut() -> usize) -> f64 {
    let started = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        bytes += make();
    }
    black_box(bytes);
    started.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or(200_000, |a| a.parse().expect("requests per round"));
    let files = [DataFile {
        path: "users.csv".into(),
        text: "user,tenant\nada,t1\nbob,t2\n".into(),
    }];
    let scenario = parse_with_data("bench", "bench.toml", SCENARIO, DataSource::Shipped(&files))
        .expect("the benchmark's scenario loads");
    let UserClass::Declared(class) = scenario.classes[0].class else {
        panic!("a declared class");
    };
    let request = &class.requests[1];
    let data = class.data.as_ref().expect("a data file");
    let columns: Vec<&str> = data.columns.iter().map(String::as_str).collect();
    let captured = [Some("s-81".to_string())];
    let values = UserValues {
        captured: &captured,
        row: &data.rows[0],
    };

    // The three ways make the same request.
    let (url, body) = by_hand("s-81", "ada", "t1");
    let rendered = request.render(BASE_URL, values).expect("captured");
    assert_eq!(rendered.url, url);
    let shape = |b: &str| {
        let mut v: serde_json::Value = serde_json::from_str(b).unwrap();
        v["params"]["job_id"] = 0.into();
        v["params"]["agent_id"] = 0.into();
        v["params"]["kind"] = 0.into();
        v
    };
    assert_eq!(shape(rendered.body.as_deref().unwrap()), shape(&body));

    let reference = || {
        let (url, body) = by_hand("s-81", "ada", "t1");
        url.len() + body.len()
    };
    let compiled = || {
        let r = request.render(BASE_URL, values).expect("captured");
        r.url.len() + r.body.map_or(0, |b| b.len())
    };
    let names = TemplateNames {
        captures: &["session_id"],
        columns: &columns,
    };
    let parsed = || {
        let path = Template::compile("/api/v1/sessions/{{session_id}}/jsonrpc", names, &|_| None);
        let params = Template::compile(PARAMS, names, &|_| None);
        let (path, params) = (path.unwrap(), params.unwrap());
        let mut url = BASE_URL.to_string();
        path.render(values, &mut url).unwrap();
        let mut text = String::new();
        params.render(values, &mut text).unwrap();
        let body = rpc_body("training.export_trajectories", &text);
        url.len() + body.len()
    };

    let (mut by_hand_ns, mut compiled_ns, mut parsed_ns) =
        (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for _ in 0..ROUNDS {
        by_hand_ns = by_hand_ns.min(time_per_request(n, reference));
        compiled_ns = compiled_ns.min(time_per_request(n, compiled));
        parsed_ns = parsed_ns.min(time_per_request(n, parsed));
    }
    println!(
        "one declared JSON-RPC request (path + params: uuid, int, pick, capture x2, column x2), best of {ROUNDS} rounds of {n}:"
    );
    println!("  format! by hand (reference)  {by_hand_ns:>8.0} ns/request");
    println!(
        "  templates compiled at load   {compiled_ns:>8.0} ns/request  ratio {:.2}",
        compiled_ns / by_hand_ns
    );
    println!(
        "  templates parsed per request {parsed_ns:>8.0} ns/request  ratio {:.2}",
        parsed_ns / by_hand_ns
    );
    println!(
        "compiled / reference = {:.2} (aim <= 1.5: templating costs what hand-written code does)",
        compiled_ns / by_hand_ns
    );
}
