//! The agent card at [`CARD_PATH`]: how an A2A client finds the agent, which protocol
//! versions and bindings it speaks, and what it can do. Cards are public, so it needs no token.
//!
//! It is a 1.0 `AgentCard` (proto3 JSON: `supportedInterfaces`, one per enabled version, all
//! JSON-RPC at `/a2a`) which, when 0.3 is enabled, also carries the fields a 0.3 client reads
//! (`url`, `protocolVersion: "0.3.0"`, `preferredTransport`), so one card serves both. The
//! 1.0 SDK's card parser drops those legacy fields when `supportedInterfaces` is present.
//! The card declares no security scheme: the bearer token of `/a2a` is this server's own
//! (see docs/a2a.md), and the 0.3 and 1.0 shapes of `securitySchemes` differ.
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::version::Dialect;
use super::PATH;
use crate::state::AppState;

/// Where the card is served (`GET`, no token).
pub const CARD_PATH: &str = "/.well-known/agent-card.json";

/// The card of the agent reached at `http://<host>`, listing the `enabled` versions.
pub fn card(host: &str, enabled: &[Dialect]) -> Value {
    let url = format!("http://{host}{PATH}");
    let interfaces: Vec<Value> = [Dialect::V1, Dialect::V03]
        .into_iter()
        .filter(|d| enabled.contains(d))
        .map(|d| json!({ "url": url, "protocolBinding": "JSONRPC", "protocolVersion": d.as_str() }))
        .collect();
    let mut card = json!({
        "name": "Skein target agent",
        "description": "The reference agent Skein load-tests: it answers every text message with a generated text, streamed in chunks on a modelled time to first chunk and inter-chunk gap.",
        "version": env!("CARGO_PKG_VERSION"),
        "supportedInterfaces": interfaces,
        "capabilities": { "streaming": true, "pushNotifications": false },
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{
            "id": "answer",
            "name": "Answer",
            "description": "Answers a text message with a chunked text of --agent-chunks chunks.",
            "tags": ["streaming", "load-testing"],
        }],
    });
    if enabled.contains(&Dialect::V03) {
        card["url"] = json!(url);
        card["protocolVersion"] = json!("0.3.0");
        card["preferredTransport"] = json!("JSONRPC");
    }
    card
}

/// `GET /.well-known/agent-card.json`: the card, its URLs on the request's `Host`.
pub async fn card_endpoint(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    Json(card(host, &state.a2a_versions)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_lists_one_interface_per_enabled_version() {
        let both = card("h:1", &[Dialect::V1, Dialect::V03]);
        let versions: Vec<&Value> = both["supportedInterfaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["protocolVersion"])
            .collect();
        assert_eq!(versions, [&json!("1.0"), &json!("0.3")]);
        assert_eq!(both["url"], "http://h:1/a2a");
        let v1 = card("h:1", &[Dialect::V1]);
        assert_eq!(v1["supportedInterfaces"].as_array().unwrap().len(), 1);
        assert!(v1.get("url").is_none() && v1.get("protocolVersion").is_none());
    }
}
