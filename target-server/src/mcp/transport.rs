//! The streamable HTTP transport's HTTP side (spec 2025-06-18, basic/transports): which
//! framing an answer gets (from `Accept` and `--mcp-answers`), the header checks
//! (`Content-Type`, `MCP-Protocol-Version`, `Mcp-Session-Id`) and the shape of a message.
//!
//! Transport-level refusals are HTTP errors with a JSON-RPC error body whose `id` is null,
//! worded as the python SDK's `StreamableHTTPServerTransport` words them, so that a client
//! written against the SDK sees the same status codes here.
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{PROTOCOL_VERSION_HEADER, SESSION_HEADER, SUPPORTED_PROTOCOL_VERSIONS};
use crate::config::McpAnswers;
use crate::rpc_error::{INVALID_REQUEST, PARSE_ERROR};

/// A request refused before any method ran: an HTTP status and a JSON-RPC error.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, INVALID_REQUEST, message)
    }

    pub fn missing_session() -> Refusal {
        Refusal::bad_request("Bad Request: Missing session ID")
    }

    pub fn unknown_session() -> Refusal {
        Refusal::new(StatusCode::NOT_FOUND, INVALID_REQUEST, "Session not found")
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": self.code, "message": self.message },
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST, DELETE"));
        }
        response
    }
}

/// How one answer is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `text/event-stream`: one `event: message` per message, progress before the response.
    Sse,
    /// `application/json`: the response alone.
    Json,
}

/// The framing for a request's `Accept` under the server's answer mode. A missing or empty
/// `Accept`, `*/*` and the `type/*` ranges count as accepting what they cover. In SSE mode a
/// client that accepts only JSON still gets JSON (the SDK would refuse it with 406; a load
/// generator's plain JSON client is served instead); a client that accepts neither gets 406.
pub fn framing(headers: &HeaderMap, mode: McpAnswers) -> Result<Framing, Refusal> {
    let (json, sse) = accepts(headers);
    match mode {
        McpAnswers::Sse if sse => Ok(Framing::Sse),
        _ if json => Ok(Framing::Json),
        McpAnswers::Json => Err(Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "Not Acceptable: Client must accept application/json",
        )),
        McpAnswers::Sse => Err(Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "Not Acceptable: Client must accept application/json or text/event-stream",
        )),
    }
}

/// Whether `Accept` allows (`application/json`, `text/event-stream`).
fn accepts(headers: &HeaderMap) -> (bool, bool) {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|range| range.split(';').next().unwrap_or("").trim())
        .filter(|range| !range.is_empty())
        .collect();
    if values.is_empty() {
        return (true, true);
    }
    let any = |wanted: &[&str]| {
        values
            .iter()
            .any(|v| wanted.iter().any(|w| v.eq_ignore_ascii_case(w)))
    };
    (
        any(&["*/*", "application/*", "application/json"]),
        any(&["*/*", "text/*", "text/event-stream"]),
    )
}

/// A present `Content-Type` must be `application/json` (415 otherwise, as the SDK); a missing
/// one is read as JSON.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_REQUEST,
            "Unsupported Media Type: Content-Type must be application/json",
        ))
    }
}

/// A present `MCP-Protocol-Version` must name a supported version (400 otherwise); a missing
/// one means 2025-03-26, which is supported.
pub fn check_protocol_version(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(PROTOCOL_VERSION_HEADER) else {
        return Ok(());
    };
    let given = value.to_str().unwrap_or("");
    if SUPPORTED_PROTOCOL_VERSIONS.contains(&given) {
        return Ok(());
    }
    Err(Refusal::bad_request(format!(
        "Bad Request: Unsupported protocol version: {given}. Supported versions: {}",
        SUPPORTED_PROTOCOL_VERSIONS.join(", ")
    )))
}

/// The `Mcp-Session-Id` header, if the request has a readable one.
pub fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// One JSON-RPC message from the client, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Has an `id`: gets a response.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// No `id`: gets 202 and no response.
    Notification { method: String },
    /// A response to a server request (we send none, so it is only acknowledged with 202).
    Response,
}

/// Reads a POST body as one message. Bodies that are not JSON get -32700, anything that is
/// not one valid message object (a batch included: 2025-06-18 removed batching) gets -32600;
/// both with HTTP 400, as the SDK answers them.
pub fn read_message(body: &[u8]) -> Result<Message, Refusal> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            PARSE_ERROR,
            format!("Parse error: {e}"),
        )
    })?;
    let mut envelope = match value {
        Value::Object(envelope) => envelope,
        Value::Array(_) => {
            return Err(Refusal::bad_request(
                "Invalid Request: batches are not supported (protocol 2025-06-18 removed JSON-RPC batching); send one message per POST",
            ))
        }
        _ => {
            return Err(Refusal::bad_request(
                "Invalid Request: a message must be a JSON-RPC object",
            ))
        }
    };
    if envelope.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(Refusal::bad_request(
            "Invalid Request: `jsonrpc` must be \"2.0\"",
        ));
    }
    let id = envelope.remove("id");
    if let Some(method) = envelope.get("method") {
        let Some(method) = method.as_str().map(str::to_string) else {
            return Err(Refusal::bad_request(
                "Invalid Request: `method` must be a string",
            ));
        };
        let params = envelope.remove("params").unwrap_or(Value::Null);
        if !(params.is_null() || params.is_object()) {
            return Err(Refusal::bad_request(
                "Invalid Request: `params` must be an object",
            ));
        }
        return match id {
            None => Ok(Message::Notification { method }),
            Some(id @ (Value::String(_) | Value::Number(_))) => {
                Ok(Message::Request { id, method, params })
            }
            Some(_) => Err(Refusal::bad_request(
                "Invalid Request: `id` must be a string or a number",
            )),
        };
    }
    let is_response =
        id.is_some() && (envelope.contains_key("result") || envelope.contains_key("error"));
    if is_response {
        Ok(Message::Response)
    } else {
        Err(Refusal::bad_request(
            "Invalid Request: a message needs a `method` (request, notification) or a `result`/`error` (response)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(v) = value {
            headers.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn accept_chooses_the_framing() {
        use McpAnswers::{Json, Sse};
        let both = Some("application/json, text/event-stream");
        assert_eq!(framing(&accept(both), Sse), Ok(Framing::Sse));
        assert_eq!(framing(&accept(both), Json), Ok(Framing::Json));
        assert_eq!(framing(&accept(None), Sse), Ok(Framing::Sse));
        assert_eq!(framing(&accept(Some("*/*")), Sse), Ok(Framing::Sse));
        assert_eq!(
            framing(&accept(Some("application/json;q=0.9")), Sse),
            Ok(Framing::Json)
        );
        assert_eq!(
            framing(&accept(Some("text/event-stream")), Sse),
            Ok(Framing::Sse)
        );
        let refused = framing(&accept(Some("text/event-stream")), Json).unwrap_err();
        assert_eq!(refused.status, StatusCode::NOT_ACCEPTABLE);
        let refused = framing(&accept(Some("text/html")), Sse).unwrap_err();
        assert_eq!(refused.status, StatusCode::NOT_ACCEPTABLE);
    }

    #[test]
    fn messages_are_told_apart() {
        let read = |s: &str| read_message(s.as_bytes());
        assert!(matches!(
            read(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Ok(Message::Request { .. })
        ));
        assert_eq!(
            read(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Message::Notification {
                method: "notifications/initialized".into()
            })
        );
        assert_eq!(
            read(r#"{"jsonrpc":"2.0","id":"s1","result":{}}"#),
            Ok(Message::Response)
        );
        assert_eq!(read("{nope").unwrap_err().code, PARSE_ERROR);
        for bad in [
            "[]",
            "7",
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
        ] {
            let refused = read(bad).unwrap_err();
            assert_eq!(
                (refused.status, refused.code),
                (StatusCode::BAD_REQUEST, INVALID_REQUEST),
                "{bad}"
            );
        }
    }
}
