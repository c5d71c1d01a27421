//! User classes declared in a scenario file (`[[user_classes]]` with `name` and
//! `[[user_classes.requests]]`), so a team whose API differs describes its workload without
//! writing Rust.
//!
//! A declared class is built once, when its scenario is loaded, and leaked: the recorder keys
//! requests by `&'static str` and [`super::UserClass`] is `Copy`, so a `&'static
//! DeclaredClass` flows through plans and executors like a built-in class. The leak is bounded
//! by the scenario files a process loads (one or a few).
//!
//! A request whose template uses a capture this user has not made yet (e.g. it has not been
//! answered a session id) is not sent and not recorded: it is counted in the class's
//! [`DeclaredClass::take_skipped`], which the run prints after its summary, so it never skews
//! latencies or the error rate.
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::header::{HeaderName, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;

use super::behaviour::{Call, ClassBehaviour, Request, Session};
use super::class::ThinkTime;
use super::http::{exchange, http_error, record};
use super::template::Template;

/// A user class from a scenario file.
pub struct DeclaredClass {
    pub name: &'static str,
    pub think_time: ThinkTime,
    pub requests: Vec<DeclaredRequest>,
    /// The names of the values this class's requests capture; templates refer to them by index.
    pub captures: Vec<&'static str>,
    /// The requests as written (templates as source text): part of the scenario's settings,
    /// so its hash differs when a request does and a worker with another file is refused.
    pub definition: Value,
    skipped: AtomicU64,
}

/// One request of a declared class, its templates compiled.
pub struct DeclaredRequest {
    pub name: &'static str,
    pub weight: u32,
    /// The method as recorded (`GET`, `POST`, ...).
    pub method: &'static str,
    pub path: Template,
    pub payload: Payload,
    pub headers: Vec<(HeaderName, Template)>,
    /// HTTP statuses that are a success (default 200).
    pub expect_status: Vec<u16>,
    /// JSON-RPC error codes (JSON-RPC requests) or HTTP statuses (REST) that are not failures.
    pub tolerate: Vec<i64>,
    /// `(capture index, JSON pointer into the answer)`.
    pub capture: Vec<(usize, String)>,
}

/// What a request carries.
pub enum Payload {
    /// A REST request with an optional body.
    Rest(Option<Template>),
    /// A JSON-RPC 2.0 call: `envelope` is the envelope up to `"params":`.
    JsonRpc { envelope: String, params: Template },
}

impl Payload {
    /// A JSON-RPC call of `method` with `params`.
    pub fn json_rpc(method: &str, params: Template) -> Payload {
        let method = Value::String(method.to_string());
        Payload::JsonRpc {
            envelope: format!(r#"{{"jsonrpc":"2.0","id":1,"method":{method},"params":"#),
            params,
        }
    }
}

impl DeclaredRequest {
    /// The captures this request's templates use.
    pub fn uses(&self) -> Vec<usize> {
        let mut used: Vec<usize> = self.path.captures().collect();
        match &self.payload {
            Payload::Rest(None) => {}
            Payload::Rest(Some(t)) | Payload::JsonRpc { params: t, .. } => {
                used.extend(t.captures())
            }
        }
        for (_, t) in &self.headers {
            used.extend(t.captures());
        }
        used
    }
}

/// What one user has captured so far, one slot per capture name of its class.
#[derive(Default)]
struct Captured(Vec<Option<String>>);

impl DeclaredClass {
    pub fn new(
        name: &'static str,
        think_time: ThinkTime,
        requests: Vec<DeclaredRequest>,
        captures: Vec<&'static str>,
        definition: Value,
    ) -> DeclaredClass {
        DeclaredClass {
            name,
            think_time,
            requests,
            captures,
            definition,
            skipped: AtomicU64::new(0),
        }
    }

    /// What users of this class send.
    pub fn behaviour(&'static self) -> ClassBehaviour {
        let requests = self
            .requests
            .iter()
            .map(|request| {
                Request::new(request.name, request.weight, move |call, session| {
                    Box::pin(send(self, request, call, session))
                })
            })
            .collect();
        ClassBehaviour {
            name: self.name,
            requests,
        }
    }

    /// Requests not sent since the last call because a capture they need was not made yet.
    pub fn take_skipped(&self) -> u64 {
        self.skipped.swap(0, Ordering::Relaxed)
    }
}

/// One line per declared class among `classes` that skipped requests since the last call
/// (what a run prints after its summary).
pub fn skipped_notes(classes: impl IntoIterator<Item = super::UserClass>) -> Vec<String> {
    classes
        .into_iter()
        .filter_map(|class| match class {
            super::UserClass::Declared(declared) => Some(declared),
            _ => None,
        })
        .filter_map(|declared| {
            let skipped = declared.take_skipped();
            (skipped > 0).then(|| {
                format!(
                    "{}: {skipped} requests not sent because a capture they use was not made yet (not recorded; see docs/custom-workloads.md)",
                    declared.name
                )
            })
        })
        .collect()
}

impl fmt::Debug for DeclaredClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeclaredClass({})", self.name)
    }
}

/// `Err(())` when a capture is missing (counted as skipped).
fn render(
    class: &DeclaredClass,
    template: &Template,
    captured: &[Option<String>],
    out: &mut String,
) -> Result<(), ()> {
    template.render(captured, out).map_err(|_| {
        class.skipped.fetch_add(1, Ordering::Relaxed);
    })
}

async fn send(
    class: &'static DeclaredClass,
    request: &'static DeclaredRequest,
    call: Call,
    session: &mut Session,
) {
    let captured = &mut session.data::<Captured>().0;
    captured.resize(class.captures.len(), None);
    let ctx = &call.ctx;
    let mut url = ctx.base_url.clone();
    if render(class, &request.path, captured, &mut url).is_err() {
        return;
    }
    let mut body = None;
    match &request.payload {
        Payload::Rest(None) => {}
        Payload::Rest(Some(template)) => {
            let mut text = String::new();
            if render(class, template, captured, &mut text).is_err() {
                return;
            }
            body = Some(text);
        }
        Payload::JsonRpc { envelope, params } => {
            let mut text = envelope.clone();
            if render(class, params, captured, &mut text).is_err() {
                return;
            }
            text.push('}');
            body = Some(text);
        }
    }
    let method = Method::from_bytes(request.method.as_bytes()).expect("validated at load");
    let mut builder = ctx.client.request(method, url);
    // The file's own headers replace these defaults (reqwest would send both).
    let own = |name: &HeaderName| request.headers.iter().any(|(h, _)| h == name);
    if !own(&AUTHORIZATION) {
        builder = builder.header(AUTHORIZATION, ctx.authorization.clone());
    }
    if body.is_some() && !own(&CONTENT_TYPE) {
        builder = builder.header(CONTENT_TYPE, "application/json");
    }
    for (header, template) in &request.headers {
        let mut value = String::new();
        if render(class, template, captured, &mut value).is_err() {
            return;
        }
        builder = builder.header(header, value);
    }
    if let Some(body) = body {
        builder = builder.body(body);
    }
    let (outcome, timed) = exchange(builder).await;
    let response = match outcome {
        Ok(r) => r,
        Err(e) => {
            record(&call, request.method, request.name, timed, 0, Some(&e));
            return;
        }
    };
    let bytes = response.body.len() as u64;
    let failed = |error: &str| {
        record(
            &call,
            request.method,
            request.name,
            timed,
            bytes,
            Some(error),
        )
    };
    let rpc = matches!(request.payload, Payload::JsonRpc { .. });
    if !rpc && request.tolerate.contains(&i64::from(response.status)) {
        record(&call, request.method, request.name, timed, bytes, None);
        return;
    }
    if !request.expect_status.contains(&response.status) {
        failed(&http_error(response.status));
        return;
    }
    if !rpc && request.capture.is_empty() {
        record(&call, request.method, request.name, timed, bytes, None);
        return;
    }
    let answer: Value = match serde_json::from_slice(&response.body) {
        Ok(v) => v,
        Err(e) => {
            failed(&format!("malformed JSON answer: {e}"));
            return;
        }
    };
    if rpc {
        if let Some(error) = answer.get("error") {
            let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
            if request.tolerate.contains(&code) {
                record(&call, request.method, request.name, timed, bytes, None);
            } else {
                let message = error.get("message").and_then(Value::as_str).unwrap_or("");
                failed(&format!("JSON-RPC error {code}: {message}"));
            }
            return;
        }
        if answer.get("result").is_none() {
            failed("malformed JSON-RPC answer: neither `result` nor `error`");
            return;
        }
    }
    record(&call, request.method, request.name, timed, bytes, None);
    for (index, pointer) in &request.capture {
        // An answer without the value keeps what this user had: not a failure of this request.
        match answer.pointer(pointer) {
            Some(Value::String(s)) => captured[*index] = Some(s.clone()),
            Some(Value::Null) | None => {}
            Some(other) => captured[*index] = Some(other.to_string()),
        }
    }
}
