//! One user's MCP session over streamable HTTP, as the official SDKs' clients hold it: the
//! `initialize` handshake (version negotiated, `Mcp-Session-Id` taken from its answer's
//! header), `notifications/initialized`, then every request with the session id and
//! `MCP-Protocol-Version` headers, answers read as JSON or as an event stream (progress
//! notifications timed as chunks), and `DELETE` of the session at the end.
use std::time::Instant;

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;

use super::McpSettings;
use crate::transport::jsonrpc::RpcError;
use crate::users::behaviour::Call;
use crate::users::http::{
    http_error, read_body, record, record_carrying, transport_error, Carried, Timed,
};
use crate::users::stream::{is_event_stream, read_rpc_events};

/// The session header (case-insensitive on the wire).
pub const SESSION_HEADER: &str = "mcp-session-id";
/// The negotiated version, sent on every request after `initialize`.
pub const VERSION_HEADER: &str = "mcp-protocol-version";
/// The handshake revisions this client speaks, newest first: a server that answers another is
/// refused.
pub const SUPPORTED_VERSIONS: [&str; 2] = ["2025-06-18", "2025-03-26"];
/// The stateless revision: no handshake or session; every request carries its version and
/// the client's identity in `_meta`, and `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`
/// headers.
pub const MODERN_VERSION: &str = "2026-07-28";

/// What a request is, for the modern revision's headers: its method, and the tool, prompt or
/// resource it names.
#[derive(Clone, Copy)]
pub struct Rpc<'a> {
    pub method: &'a str,
    pub target: Option<&'a str>,
}

/// What a user holds of its session.
#[derive(Default)]
pub struct McpSession {
    /// `None` before `initialize`, or with a stateless server (it sends no id).
    pub id: Option<HeaderValue>,
    /// The version the server answered; `None` before `initialize`.
    pub version: Option<HeaderValue>,
    /// Whether the handshake completed.
    pub open: bool,
    /// Tools the server listed: name and input schema.
    pub tools: Vec<(String, Value)>,
    /// Tool calls in this session (for session churn).
    pub calls: u64,
    /// Speaking the stateless revision ([`MODERN_VERSION`]).
    pub modern: bool,
    /// What `auto`'s probe found (`Some(true)`: the stateless revision). Kept across sessions
    /// of the user, so a retried start or a churned session does not probe again: a server's
    /// revision does not change within a run.
    pub probed: Option<bool>,
}

impl McpSession {
    /// Forgets the session (closed, lost or refused), keeping what the probe found.
    pub fn reset(&mut self) {
        *self = McpSession {
            probed: self.probed,
            ..McpSession::default()
        };
    }

    /// The `_meta` members every modern request carries (empty for the handshake revisions),
    /// each followed by a comma.
    pub fn meta(&self) -> &'static str {
        // The same for every request: built once, not per request.
        static MODERN_META: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                r#""io.modelcontextprotocol/protocolVersion":"{MODERN_VERSION}","io.modelcontextprotocol/clientInfo":{{"name":"skein","version":"{}"}},"io.modelcontextprotocol/clientCapabilities":{{}},"#,
                env!("CARGO_PKG_VERSION")
            )
        });
        if self.modern {
            &MODERN_META
        } else {
            ""
        }
    }
}

/// Why a request failed, as far as the session is concerned.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// 404: the server no longer knows the session (expired, deleted, restarted).
    SessionGone,
    /// Any other failure (already recorded).
    Failed,
}

/// One JSON-RPC exchange in the session: sent, read as JSON or SSE, judged, recorded under
/// `name`. `Ok(result)` on success.
pub async fn request(
    call: &Call,
    settings: &McpSettings,
    session: &McpSession,
    (name, rpc): (&'static str, Rpc<'_>),
    body: String,
) -> Result<Value, Refused> {
    let sent_at = Instant::now();
    let response = sent(
        call,
        name,
        sent_at,
        post(call, settings, session, body, Some(rpc)),
    )
    .await?;
    let status = response.status().as_u16();
    if status == 200 && is_event_stream(&response) {
        let (events, timed) = read_rpc_events(response, sent_at).await;
        let carried = Carried {
            items: 0,
            stream: (events.timing.chunks() > 0).then_some(&events.timing),
            tokens: None,
        };
        let judged = events.response().map_err(Some).and_then(judge);
        let error = judged.as_ref().err().map(|e| e.as_deref().unwrap_or(""));
        record_carrying(call, "POST", name, timed, events.bytes, carried, error);
        return judged.map_err(|_| Refused::Failed);
    }
    let outcome = read_body(response).await;
    let timed = Timed::since(sent_at);
    let body = match outcome {
        Ok(r) => r.body,
        Err(e) => {
            record(call, "POST", name, timed, 0, Some(&e));
            return Err(Refused::Failed);
        }
    };
    let bytes = body.len() as u64;
    if status != 200 {
        let error = http_error(status);
        record(call, "POST", name, timed, bytes, Some(&error));
        let gone = status == 404 && session.id.is_some();
        return Err(if gone {
            Refused::SessionGone
        } else {
            Refused::Failed
        });
    }
    let judged = match serde_json::from_slice::<Value>(&body) {
        Ok(answer) => judge(&answer).map_err(|e| e.unwrap_or_default()),
        Err(e) => Err(format!("malformed JSON answer: {e}")),
    };
    let error = judged.as_ref().err().map(String::as_str);
    record(call, "POST", name, timed, bytes, error);
    judged.map_err(|_| Refused::Failed)
}

/// Sends `builder`; a transport failure is recorded under `name` (sent at `sent_at`).
async fn sent(
    call: &Call,
    name: &'static str,
    sent_at: Instant,
    builder: reqwest::RequestBuilder,
) -> Result<reqwest::Response, Refused> {
    builder.send().await.map_err(|e| {
        let error = transport_error(&e);
        record(call, "POST", name, Timed::since(sent_at), 0, Some(&error));
        Refused::Failed
    })
}

/// A JSON-RPC answer's `result`, or why it has none (`None`: already worded).
fn judge(answer: &Value) -> Result<Value, Option<String>> {
    if let Some(error) = RpcError::in_value(answer) {
        return Err(Some(error.to_string()));
    }
    match answer.get("result") {
        Some(result) => Ok(result.clone()),
        None => Err(Some(
            "malformed JSON-RPC answer: neither `result` nor `error`".into(),
        )),
    }
}

/// A notification in the session: only its status is judged (202, or 200/204).
pub async fn notify(
    call: &Call,
    settings: &McpSettings,
    session: &McpSession,
    name: &'static str,
    body: String,
) -> bool {
    let sent_at = Instant::now();
    let outcome = match post(call, settings, session, body, None).send().await {
        Ok(response) => read_body(response).await,
        Err(e) => Err(transport_error(&e)),
    };
    let timed = Timed::since(sent_at);
    let (bytes, error) = match &outcome {
        Ok(r) if matches!(r.status, 200 | 202 | 204) => (r.body.len() as u64, None),
        Ok(r) => (r.body.len() as u64, Some(http_error(r.status))),
        Err(e) => (0, Some(e.clone())),
    };
    record(call, "POST", name, timed, bytes, error.as_deref());
    error.is_none()
}

/// `DELETE` of the session (nothing to do for a stateless server).
pub async fn delete(
    call: &Call,
    settings: &McpSettings,
    session: &McpSession,
    name: &'static str,
) -> bool {
    let Some(id) = &session.id else {
        return true;
    };
    let mut builder = call
        .ctx
        .client
        .request(Method::DELETE, url(call, settings))
        .header(AUTHORIZATION, call.ctx.authorization.clone())
        .header(SESSION_HEADER, id.clone());
    if let Some(version) = &session.version {
        builder = builder.header(VERSION_HEADER, version.clone());
    }
    let sent_at = Instant::now();
    let outcome = match builder.send().await {
        Ok(response) => read_body(response).await,
        Err(e) => Err(transport_error(&e)),
    };
    let timed = Timed::since(sent_at);
    let (bytes, error) = match &outcome {
        // 404: already gone (expired): nothing left open.
        Ok(r) if matches!(r.status, 200 | 202 | 204 | 404) => (r.body.len() as u64, None),
        Ok(r) => (r.body.len() as u64, Some(http_error(r.status))),
        Err(e) => (0, Some(e.clone())),
    };
    record(call, "DELETE", name, timed, bytes, error.as_deref());
    error.is_none()
}

fn url(call: &Call, settings: &McpSettings) -> String {
    format!("{}{}", call.ctx.base_url, settings.path())
}

/// A POST in the session, with the headers a client sends (the modern revision's for `rpc`).
fn post(
    call: &Call,
    settings: &McpSettings,
    session: &McpSession,
    body: String,
    rpc: Option<Rpc<'_>>,
) -> reqwest::RequestBuilder {
    let mut builder = call
        .ctx
        .client
        .post(url(call, settings))
        .header(AUTHORIZATION, call.ctx.authorization.clone())
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "application/json, text/event-stream");
    if let Some(id) = &session.id {
        builder = builder.header(SESSION_HEADER, id.clone());
    }
    if let Some(version) = &session.version {
        builder = builder.header(VERSION_HEADER, version.clone());
    }
    if let (true, Some(rpc)) = (session.modern, rpc) {
        builder = builder.header("mcp-method", rpc.method);
        if let Some(target) = rpc.target.and_then(|t| HeaderValue::from_str(t).ok()) {
            builder = builder.header("mcp-name", target);
        }
    }
    builder.body(body)
}

/// `server/discover` in the stateless revision. `Ok(true)`: the server speaks it (the session
/// is then modern); `Ok(false)`: it answered as a handshake-era server would (any error that
/// is not a modern one), recorded as a success, the probe having done its work; `Err`: it
/// could not be reached, failed with a modern error, or (`required`) does not offer it.
pub async fn discover(
    call: &Call,
    settings: &McpSettings,
    session: &mut McpSession,
    name: &'static str,
    required: bool,
) -> Result<bool, Refused> {
    *session = McpSession {
        modern: true,
        version: Some(HeaderValue::from_static(MODERN_VERSION)),
        probed: session.probed,
        ..McpSession::default()
    };
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{{"_meta":{{{}}}}}}}"#,
        session.meta().trim_end_matches(',')
    );
    let rpc = Rpc {
        method: "server/discover",
        target: None,
    };
    let sent_at = Instant::now();
    let response = sent(
        call,
        name,
        sent_at,
        post(call, settings, session, body, Some(rpc)),
    )
    .await?;
    let status = response.status().as_u16();
    let answer = if status == 200 && is_event_stream(&response) {
        let (events, _) = read_rpc_events(response, sent_at).await;
        events.response().cloned().ok()
    } else {
        read_body(response)
            .await
            .ok()
            .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
    };
    let timed = Timed::since(sent_at);
    let offered = answer
        .as_ref()
        .and_then(|a| a.pointer("/result/supportedVersions"))
        .and_then(Value::as_array)
        .is_some_and(|v| v.iter().any(|v| v == MODERN_VERSION));
    // A modern error (HeaderMismatch, UnsupportedProtocolVersion) is a modern server refusing.
    let modern_error = answer
        .as_ref()
        .and_then(|a| a.pointer("/error/code"))
        .and_then(Value::as_i64)
        .filter(|c| (-32099..=-32020).contains(c));
    if let Some(code) = modern_error {
        let error = format!("server/discover refused with modern error {code}");
        record(call, "POST", name, timed, 0, Some(&error));
        return Err(Refused::Failed);
    }
    if required && !offered {
        let error = format!(
            "the server does not speak MCP {MODERN_VERSION} (server/discover did not offer it)"
        );
        record(call, "POST", name, timed, 0, Some(&error));
        session.reset();
        return Err(Refused::Failed);
    }
    record(call, "POST", name, timed, 0, None);
    if !offered {
        session.reset();
    }
    Ok(offered)
}

/// `initialize`: sent, its session id taken from the answer's header. `Err` names a version
/// the server chose that this client does not speak (recorded as the request's failure).
pub async fn initialize(
    call: &Call,
    settings: &McpSettings,
    session: &mut McpSession,
    name: &'static str,
) -> Result<(), Refused> {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": settings.protocol_version(),
            "capabilities": {},
            "clientInfo": {"name": "skein", "version": env!("CARGO_PKG_VERSION")},
        },
    })
    .to_string();
    session.reset();
    let sent_at = Instant::now();
    let response = sent(
        call,
        name,
        sent_at,
        post(call, settings, session, body, None),
    )
    .await?;
    session.id = response.headers().get(SESSION_HEADER).cloned();
    let status = response.status().as_u16();
    let (answer, timed, bytes) = if status == 200 && is_event_stream(&response) {
        let (events, timed) = read_rpc_events(response, sent_at).await;
        (events.response().cloned(), timed, events.bytes)
    } else {
        let outcome = read_body(response).await;
        let timed = Timed::since(sent_at);
        match outcome {
            Ok(r) if r.status == 200 => {
                let parsed = serde_json::from_slice::<Value>(&r.body)
                    .map_err(|e| format!("malformed JSON answer to initialize: {e}"));
                (parsed, timed, r.body.len() as u64)
            }
            Ok(r) => (Err(http_error(r.status)), timed, r.body.len() as u64),
            Err(e) => (Err(e), timed, 0),
        }
    };
    let version = answer.and_then(|a| {
        let result = judge(&a).map_err(|e| e.unwrap_or_default())?;
        let chosen = result.get("protocolVersion").and_then(Value::as_str);
        match chosen {
            Some(v) if SUPPORTED_VERSIONS.contains(&v) => Ok(v.to_string()),
            Some(v) => Err(format!(
                "the server chose protocol version {v}, which Skein does not speak (it speaks {})",
                SUPPORTED_VERSIONS.join(", ")
            )),
            None => Err("initialize answered without a protocolVersion".to_string()),
        }
    });
    let error = version.as_ref().err().map(String::as_str);
    record(call, "POST", name, timed, bytes, error);
    let version = version.map_err(|_| Refused::Failed)?;
    session.version = HeaderValue::from_str(&version).ok();
    Ok(())
}
