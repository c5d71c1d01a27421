//! User classes declared in a scenario file (`[[user_classes]]` with `name` and
//! `[[user_classes.requests]]`), so a team whose API differs describes its workload without
//! writing Rust.
//!
//! A declared class is built once, when its scenario is loaded, and leaked: the recorder keys
//! requests by `&'static str` and [`super::UserClass`] is `Copy`, so a `&'static
//! DeclaredClass` flows through plans and executors like a built-in class. The leak is bounded
//! by the scenario files a process loads (one or a few).
//!
//! A user picks its requests by weight, or (`mode = "sequence"`) sends them in file order,
//! looping. It keeps what it captured and, when the class has a data file, one row of it
//! ([`super::data_table`]). A request whose template uses a capture this user has not made
//! yet (e.g. it has not been answered a session id) is not sent and not recorded as a
//! request: the recorder counts it apart ([`crate::recorder::Recorder::skipped`]), the results
//! keep the count and the run prints it, so it never skews latencies or the error rate.
use std::fmt;

use reports::SkippedRequests;

use std::sync::Arc;
use std::time::Instant;

use reqwest::header::{HeaderMap, HeaderName, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;

use super::behaviour::ThinkTime;
use super::behaviour::{
    Call, ClassBehaviour, Lifecycle, LifecycleFn, LifecycleFuture, Request, Session, NOT_STARTED,
};
use super::data_table::DataTable;
use super::http::{
    http_error, read_body, record, record_carrying, transport_error, Carried, FullResponse, Timed,
};
use super::llm::{self, LlmRequest};
use super::stream::{is_event_stream, read_rpc_events, send_for_stream, ChunkRule};
use super::template::{Template, UserValues};
use crate::transport::jsonrpc::RpcError;

/// How a capture that reads a response header is written: `"header:Mcp-Session-Id"`.
pub const HEADER_CAPTURE: &str = "header:";

/// What JSON-RPC requests accept unless their file says otherwise: a JSON answer or an event
/// stream (MCP's streamable HTTP answers either, and refuses a request that does not accept
/// both).
const RPC_ACCEPT: &str = "application/json, text/event-stream";

/// Where a captured value is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureSource {
    /// A JSON pointer into the answer (`""` is the whole answer).
    Pointer(String),
    /// A response header (its first value).
    Header(HeaderName),
}

impl CaptureSource {
    /// `"/result/id"` or `"header:Name"`; `None` for anything else.
    pub fn parse(text: &str) -> Option<CaptureSource> {
        match text.strip_prefix(HEADER_CAPTURE) {
            Some(name) => HeaderName::from_bytes(name.trim().as_bytes())
                .ok()
                .map(CaptureSource::Header),
            None if text.is_empty() || text.starts_with('/') => {
                Some(CaptureSource::Pointer(text.to_string()))
            }
            None => None,
        }
    }
}

/// How a declared class's users choose their next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestOrder {
    /// By the requests' weights, interleaved (the default).
    Weighted,
    /// Every request once, in file order, then again from the first.
    Sequence,
}

/// A user class from a scenario file.
pub struct DeclaredClass {
    pub name: &'static str,
    pub think_time: ThinkTime,
    pub order: RequestOrder,
    pub requests: Vec<DeclaredRequest>,
    /// Sent once per user before its requests, in order (`[[user_classes.on_start]]`).
    pub on_start: Vec<DeclaredRequest>,
    /// Sent when a started user stops, in order (`[[user_classes.on_stop]]`).
    pub on_stop: Vec<DeclaredRequest>,
    /// The names of the values this class's requests capture; templates refer to them by index.
    pub captures: Vec<&'static str>,
    /// The class's data file, if it has one: a row per user.
    pub data: Option<DataTable>,
    /// The requests as written (templates as source text): part of the scenario's settings,
    /// so its hash differs when a request does and a worker with another file is refused.
    pub definition: Value,
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
    /// `(capture index, where in the answer)`.
    pub capture: Vec<(usize, CaptureSource)>,
    /// A JSON-RPC notification: no `id`; only its status is judged.
    pub notification: bool,
    /// The pause after this request, when it differs from the class's think time.
    pub think_time: Option<ThinkTime>,
    /// `stream = true`: the answer is read as server-sent events, these being its chunks.
    pub stream: Option<ChunkRule>,
    /// How many items the request carried.
    pub items: ItemCount,
}

/// What a request carries.
pub enum Payload {
    /// A REST request with an optional body.
    Rest(Option<Template>),
    /// A JSON-RPC 2.0 call: `envelope` is the envelope up to `"params":`.
    JsonRpc { envelope: String, params: Template },
    /// A call to an LLM endpoint (`protocol = "openai-chat"`, ...).
    Llm(Box<LlmRequest>),
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

    /// A JSON-RPC notification of `method` with `params`: the envelope has no `id`.
    pub fn json_rpc_notification(method: &str, params: Template) -> Payload {
        let method = Value::String(method.to_string());
        Payload::JsonRpc {
            envelope: format!(r#"{{"jsonrpc":"2.0","method":{method},"params":"#),
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
            Payload::Llm(llm) => used.extend(llm.templates().flat_map(|t| t.captures())),
        }
        for (_, t) in &self.headers {
            used.extend(t.captures());
        }
        used
    }
}

/// A request's templates rendered for one user: what goes on the wire.
pub struct RenderedRequest {
    pub url: String,
    pub body: Option<String>,
    /// The values of [`DeclaredRequest::headers`], in their order.
    pub headers: Vec<String>,
    /// An LLM request's prompt tokens as Skein counts them (words; the tokenizer's).
    pub prompt: llm::PromptTokens,
    /// An LLM request's turn is its dataset row's last (its conversation then ends).
    pub last_turn: bool,
}

impl DeclaredRequest {
    /// Renders this request for a user with `values` against `base_url`; `Err(index)` names
    /// a capture the user has not made yet (the request is then not sent). One buffer per
    /// part that goes on the wire, nothing else allocated (see `users::template`).
    pub fn render(&self, base_url: &str, values: UserValues<'_>) -> Result<RenderedRequest, usize> {
        self.render_llm(base_url, values, None, None)
    }

    /// [`Self::render`] with a token-shaped request's stream `state` and the run's tokenizer.
    pub fn render_llm(
        &self,
        base_url: &str,
        values: UserValues<'_>,
        state: Option<&mut llm::LlmUser>,
        tokenizer: Option<&llm::tokenizer::TokenCounter>,
    ) -> Result<RenderedRequest, usize> {
        let mut url = String::with_capacity(base_url.len() + 64);
        url.push_str(base_url);
        self.path.render(values, &mut url)?;
        let mut prompt = llm::PromptTokens::default();
        let mut last_turn = false;
        let body = match &self.payload {
            Payload::Llm(llm) => {
                let rendered = llm.render(values, state, tokenizer)?;
                prompt = rendered.prompt;
                last_turn = rendered.last_turn;
                Some(rendered.body)
            }
            Payload::Rest(None) => None,
            Payload::Rest(Some(template)) => {
                let mut text = String::with_capacity(256);
                template.render(values, &mut text)?;
                Some(text)
            }
            Payload::JsonRpc { envelope, params } => {
                let mut text = String::with_capacity(envelope.len() + 256);
                text.push_str(envelope);
                params.render(values, &mut text)?;
                text.push('}');
                Some(text)
            }
        };
        let mut headers = Vec::with_capacity(self.headers.len());
        for (_, template) in &self.headers {
            let mut value = String::new();
            template.render(values, &mut value)?;
            headers.push(value);
        }
        Ok(RenderedRequest {
            url,
            body,
            headers,
            prompt,
            last_turn,
        })
    }
}

/// One user's own values: what it captured so far (one slot per capture name of its class)
/// and its row of the class's data file, taken at its first request.
#[derive(Default)]
struct DeclaredUser {
    captured: Vec<Option<String>>,
    row: Option<usize>,
    /// LLM requests' streams and conversations, by the request's address.
    llm: Vec<(usize, llm::LlmUser)>,
}

impl DeclaredClass {
    /// What users of this class send. In sequence mode every request weighs 1: the smooth
    /// weighted picker then gives them in index (file) order, looping (a property its tests
    /// hold it to), so both modes run on the same picker in every executor.
    pub fn behaviour(&'static self) -> ClassBehaviour {
        let requests = self
            .requests
            .iter()
            .map(|request| {
                let weight = match self.order {
                    RequestOrder::Weighted => request.weight,
                    RequestOrder::Sequence => 1,
                };
                Request::new(request.name, weight, move |call, session| {
                    Box::pin(async move {
                        send(self, request, call, session).await;
                    })
                })
                .with_think_time(request.think_time)
            })
            .collect();
        let behaviour = ClassBehaviour::new(self.name, requests);
        if self.on_start.is_empty() && self.on_stop.is_empty() {
            return behaviour;
        }
        let start: Arc<LifecycleFn> =
            Arc::new(move |call, session| start_user(self, call, session));
        let stop: Arc<LifecycleFn> = Arc::new(move |call, session| stop_user(self, call, session));
        let names: Vec<&'static str> = self
            .on_start
            .iter()
            .chain(&self.on_stop)
            .map(|r| r.name)
            .collect();
        behaviour
            .with_lifecycle(Lifecycle { start, stop })
            .recording(names)
    }
}

/// A user's start: its `on_start` requests in order, stopping at the first that fails.
fn start_user<'a>(
    class: &'static DeclaredClass,
    call: Call,
    session: &'a mut Session,
) -> LifecycleFuture<'a> {
    Box::pin(async move {
        for request in &class.on_start {
            if !send(class, request, call.clone(), session).await {
                return false;
            }
        }
        true
    })
}

/// A user's stop: every `on_stop` request in order, whatever each one's outcome.
fn stop_user<'a>(
    class: &'static DeclaredClass,
    call: Call,
    session: &'a mut Session,
) -> LifecycleFuture<'a> {
    Box::pin(async move {
        let mut all = true;
        for request in &class.on_stop {
            all &= send(class, request, call.clone(), session).await;
        }
        all
    })
}

/// One line per class among `skipped` (a run's skipped requests), what a run prints after its
/// summary.
pub fn skipped_notes(skipped: &[SkippedRequests]) -> Vec<String> {
    let mut per_class: Vec<(&str, u64)> = Vec::new();
    let mut notes = Vec::new();
    for s in skipped {
        if s.name == NOT_STARTED {
            notes.push(format!(
                "{}: {} users never started: every try of their on_start failed (retried with backoff; see docs/custom-workloads.md)",
                s.class, s.count
            ));
            continue;
        }
        match per_class.iter_mut().find(|(c, _)| *c == s.class) {
            Some((_, n)) => *n += s.count,
            None => per_class.push((&s.class, s.count)),
        }
    }
    notes.extend(per_class.into_iter().map(|(class, skipped)| {
        format!(
            "{class}: {skipped} requests not sent because a capture they use was not made yet (not recorded as requests; see docs/custom-workloads.md)"
        )
    }));
    notes
}

impl fmt::Debug for DeclaredClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeclaredClass({})", self.name)
    }
}

/// Sends one request for a user and records it; `true` when it succeeded (a tolerated error
/// included), what a user's start goes by.
async fn send(
    class: &'static DeclaredClass,
    request: &'static DeclaredRequest,
    call: Call,
    session: &mut Session,
) -> bool {
    let user = session.data::<DeclaredUser>();
    user.captured.resize(class.captures.len(), None);
    let row: &[Box<str>] = match &class.data {
        Some(data) => &data.rows[*user.row.get_or_insert_with(|| data.next_row())],
        None => &[],
    };
    let ctx = &call.ctx;
    let tokenizer = ctx.tokenizer.as_deref();
    // An LLM request's own state for this user (its stream, its conversation).
    let state_at = match &request.payload {
        Payload::Llm(l) if l.keeps_state() => {
            let key = request as *const DeclaredRequest as usize;
            Some(match user.llm.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    user.llm.push((key, l.start(tokenizer)));
                    user.llm.len() - 1
                }
            })
        }
        _ => None,
    };
    let state = state_at.map(|at| &mut user.llm[at].1);
    let values = UserValues {
        captured: &user.captured,
        row,
    };
    let Ok(rendered) = request.render_llm(&ctx.base_url, values, state, tokenizer) else {
        ctx.recorder.skipped(class.name, request.name);
        return false;
    };
    let method = Method::from_bytes(request.method.as_bytes()).expect("validated at load");
    let mut builder = ctx.client.request(method, rendered.url);
    // The file's own headers replace these defaults (reqwest would send both).
    let own = |name: &HeaderName| request.headers.iter().any(|(h, _)| h == name);
    if !own(&AUTHORIZATION) {
        builder = builder.header(AUTHORIZATION, ctx.authorization.clone());
    }
    if rendered.body.is_some() && !own(&CONTENT_TYPE) {
        builder = builder.header(CONTENT_TYPE, "application/json");
    }
    if request.is_json_rpc() && request.stream.is_none() && !own(&ACCEPT) {
        builder = builder.header(ACCEPT, RPC_ACCEPT);
    }
    for ((header, _), value) in request.headers.iter().zip(rendered.headers) {
        builder = builder.header(header, value);
    }
    if let Some(body) = rendered.body {
        builder = builder.body(body);
    }
    if let Payload::Llm(llm) = &request.payload {
        let what = (request.method, request.name);
        let prompt = rendered.prompt;
        let answer = llm::send(&call, what, llm, builder, prompt, &request.expect_status).await;
        if let Some(at) = state_at {
            let last = rendered.last_turn;
            user.llm[at].1.answered(answer.as_deref(), llm.turns, last);
        }
        return answer.is_some();
    }
    if let Some(rule) = &request.stream {
        return send_streamed(request, rule, &call, builder, &mut user.captured).await;
    }
    let sent_at = Instant::now();
    let response = match builder.send().await {
        Ok(r) => r,
        Err(e) => {
            let error = transport_error(&e);
            let timed = Timed::since(sent_at);
            record(&call, request.method, request.name, timed, 0, Some(&error));
            return false;
        }
    };
    let headers = request.header_values(response.headers());
    let status = response.status().as_u16();
    if request.is_json_rpc()
        && !request.notification
        && request.expect_status.contains(&status)
        && is_event_stream(&response)
    {
        let (events, timed) = read_rpc_events(response, sent_at).await;
        let judged = match events.response() {
            Err(error) => Judged::Failed(error),
            Ok(answer) => request.judge(answer),
        };
        let carried = Carried {
            items: 0,
            stream: (events.timing.chunks() > 0).then_some(&events.timing),
            tokens: None,
        };
        let what = (request.method, request.name);
        return match judged {
            Judged::Failed(error) => {
                record_carrying(
                    &call,
                    what.0,
                    what.1,
                    timed,
                    events.bytes,
                    carried,
                    Some(&error),
                );
                false
            }
            Judged::Tolerated => {
                record_carrying(&call, what.0, what.1, timed, events.bytes, carried, None);
                true
            }
            Judged::Success => {
                let answer = events.response.as_ref();
                let carried = Carried {
                    items: request.items.count(answer, 0),
                    ..carried
                };
                record_carrying(&call, what.0, what.1, timed, events.bytes, carried, None);
                request.capture_from(answer, &headers, &mut user.captured);
                true
            }
        };
    }
    let outcome = read_body(response).await;
    let timed = Timed::since(sent_at);
    let response = match outcome {
        Ok(r) => r,
        Err(e) => {
            record(&call, request.method, request.name, timed, 0, Some(&e));
            return false;
        }
    };
    let bytes = response.body.len() as u64;
    let outcome = |carried: Carried<'_>, error: Option<&str>| {
        record_carrying(
            &call,
            request.method,
            request.name,
            timed,
            bytes,
            carried,
            error,
        );
        error.is_none()
    };
    let rpc = request.is_json_rpc();
    if !rpc && request.tolerate.contains(&i64::from(response.status)) {
        return outcome(Carried::NOTHING, None);
    }
    if !request.expect_status.contains(&response.status) {
        return outcome(Carried::NOTHING, Some(&http_error(response.status)));
    }
    let reads_body = request
        .capture
        .iter()
        .any(|(_, c)| matches!(c, CaptureSource::Pointer(_)));
    if request.notification || (!rpc && !reads_body && !request.items.reads_answer()) {
        let ok = outcome(Carried::items(request.items.count(None, 0)), None);
        request.capture_from(None, &headers, &mut user.captured);
        return ok;
    }
    let answer: Value = match serde_json::from_slice(&response.body) {
        Ok(v) => v,
        Err(e) => {
            return outcome(
                Carried::NOTHING,
                Some(&format!("malformed JSON answer: {e}")),
            );
        }
    };
    match request.judge(&answer) {
        Judged::Failed(error) => outcome(Carried::NOTHING, Some(&error)),
        Judged::Tolerated => outcome(Carried::NOTHING, None),
        Judged::Success => {
            let ok = outcome(Carried::items(request.items.count(Some(&answer), 0)), None);
            request.capture_from(Some(&answer), &headers, &mut user.captured);
            ok
        }
    }
}

/// A `stream = true` request: its answer read event by event, each chunk timed. An answer
/// that is not an event stream (an error before streaming started) is judged as a plain one.
async fn send_streamed(
    request: &DeclaredRequest,
    rule: &ChunkRule,
    call: &Call,
    builder: reqwest::RequestBuilder,
    captured: &mut [Option<String>],
) -> bool {
    let streams = |status| request.expect_status.contains(&status);
    let plain = |r: &FullResponse| request.judge_plain(r.status, &r.body);
    let what = (request.method, request.name);
    let keep_headers = request
        .capture
        .iter()
        .any(|(_, c)| matches!(c, CaptureSource::Header(_)));
    let sent = send_for_stream(call, what, builder, rule, streams, plain, keep_headers);
    let Some((read, timed)) = sent.await else {
        // Recorded there; a plain answer counts as a failure of a user's start.
        return false;
    };
    let error = read.failure(&request.tolerate);
    let items = request
        .items
        .count(read.last_event.as_ref(), read.timing.chunks());
    read.record(call, what, timed, items, error.as_deref());
    if error.is_none() {
        let headers = read
            .headers
            .as_ref()
            .map_or_else(Vec::new, |h| request.header_values(h));
        request.capture_from(read.last_event.as_ref(), &headers, captured);
    }
    error.is_none()
}

/// What a JSON answer says of its request.
enum Judged {
    Success,
    /// A tolerated JSON-RPC error: a success with nothing to capture.
    Tolerated,
    Failed(String),
}

impl DeclaredRequest {
    fn is_json_rpc(&self) -> bool {
        matches!(self.payload, Payload::JsonRpc { .. })
    }

    /// Judges a JSON answer: a JSON-RPC request needs `result`, or an `error` it tolerates.
    fn judge(&self, answer: &Value) -> Judged {
        if !self.is_json_rpc() {
            return Judged::Success;
        }
        if let Some(error) = RpcError::in_value(answer) {
            if self.tolerate.contains(&error.code) {
                return Judged::Tolerated;
            }
            return Judged::Failed(error.to_string());
        }
        if answer.get("result").is_none() {
            return Judged::Failed(
                "malformed JSON-RPC answer: neither `result` nor `error`".into(),
            );
        }
        Judged::Success
    }

    /// Why a streamed request's plain (not streamed) answer failed, if it did: a status it
    /// does not expect or tolerate, a JSON-RPC error, or no stream where one was expected.
    fn judge_plain(&self, status: u16, body: &[u8]) -> Option<String> {
        if !self.is_json_rpc() && self.tolerate.contains(&i64::from(status)) {
            return None;
        }
        if !self.expect_status.contains(&status) {
            return Some(http_error(status));
        }
        match serde_json::from_slice::<Value>(body).map(|answer| self.judge(&answer)) {
            Ok(Judged::Tolerated) => None,
            Ok(Judged::Failed(error)) => Some(error),
            Ok(Judged::Success) | Err(_) => Some("expected a text/event-stream answer".into()),
        }
    }

    /// The values of the headers this request captures, read before the body.
    fn header_values(&self, headers: &HeaderMap) -> Vec<(usize, String)> {
        self.capture
            .iter()
            .filter_map(|(index, source)| match source {
                CaptureSource::Header(name) => headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| (*index, v.to_string())),
                CaptureSource::Pointer(_) => None,
            })
            .collect()
    }

    /// Keeps the values this request captures from `answer` and its `headers` (from
    /// [`Self::header_values`]); a value absent from the answer keeps what the user had (not
    /// a failure of this request).
    fn capture_from(
        &self,
        answer: Option<&Value>,
        headers: &[(usize, String)],
        captured: &mut [Option<String>],
    ) {
        for (index, value) in headers {
            captured[*index] = Some(value.clone());
        }
        let Some(answer) = answer else {
            return;
        };
        for (index, source) in &self.capture {
            let CaptureSource::Pointer(pointer) = source else {
                continue;
            };
            match answer.pointer(pointer) {
                Some(Value::String(s)) => captured[*index] = Some(s.clone()),
                Some(Value::Null) | None => {}
                Some(other) => captured[*index] = Some(other.to_string()),
            }
        }
    }
}

/// How many items a declared request carried (its `items` key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemCount {
    /// No `items`: a stream's chunks, else nothing.
    Default,
    /// `items = 100`: that many per successful request.
    Fixed(u64),
    /// `items = "/result/count"`: the number there, or the length of the array there, in the
    /// answer (a stream's last event); 0 when absent.
    Pointer(String),
}

impl ItemCount {
    fn reads_answer(&self) -> bool {
        matches!(self, ItemCount::Pointer(_))
    }

    fn count(&self, answer: Option<&Value>, chunks: u64) -> u64 {
        match self {
            ItemCount::Default => chunks,
            ItemCount::Fixed(n) => *n,
            ItemCount::Pointer(p) => match answer.and_then(|a| a.pointer(p)) {
                Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
                Some(Value::Array(a)) => a.len() as u64,
                _ => 0,
            },
        }
    }
}
