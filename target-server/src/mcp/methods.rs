//! The MCP request methods: version negotiation for `initialize` (spec 2025-06-18,
//! basic/lifecycle), `ping`, and dispatch to the tools ([`super::tools`]) and the fixed
//! resources and prompts ([`super::catalog`]). Metric labels are chosen here too, from a
//! fixed set, so a client sending made-up method names cannot grow the metrics.
use serde_json::{json, Value};

use super::progress::Progress;
use super::{catalog, tools, LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS};
use crate::metrics::UNKNOWN_METHOD;
use crate::rpc_error::{RpcError, INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND};
use crate::state::AppState;

pub const INITIALIZE: &str = "initialize";
pub const INITIALIZED: &str = "notifications/initialized";

/// Requests the server answers, with their label in `target_server_request_duration_seconds`
/// (`tools/call` is labelled by its tool instead, e.g. `mcp.search`).
const REQUESTS: [(&str, &str); 8] = [
    (INITIALIZE, "mcp.initialize"),
    ("ping", "mcp.ping"),
    ("tools/list", "mcp.tools/list"),
    ("tools/call", "mcp.tools/call"),
    ("resources/list", "mcp.resources/list"),
    ("resources/read", "mcp.resources/read"),
    ("prompts/list", "mcp.prompts/list"),
    ("prompts/get", "mcp.prompts/get"),
];

/// Notifications the server knows (and acknowledges with 202 like any other).
const NOTIFICATIONS: [&str; 4] = [
    INITIALIZED,
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
];

/// The label of every notification in `target_server_request_duration_seconds`.
pub const NOTIFICATION_LABEL: &str = "mcp.notification";

/// `method` as a `target_mcp_requests_total` label: itself if known, else `unknown`.
pub fn count_label(method: &str) -> &'static str {
    REQUESTS
        .iter()
        .map(|(m, _)| *m)
        .chain(NOTIFICATIONS)
        .find(|m| *m == method)
        .unwrap_or(UNKNOWN_METHOD)
}

/// The request's label in the per-method latency histogram.
pub fn latency_label(method: &str, params: &Value) -> &'static str {
    if method == "tools/call" {
        if let Some(tool) = tools::named_in(params) {
            return tool.latency;
        }
    }
    REQUESTS
        .iter()
        .find(|(m, _)| *m == method)
        .map_or(UNKNOWN_METHOD, |(_, label)| label)
}

/// The version `initialize` settles on: the client's if supported, else the latest (the
/// client then decides whether it can speak it).
pub fn negotiate(params: &Value) -> Result<&'static str, RpcError> {
    let asked = params
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            RpcError::new(
                INVALID_PARAMS,
                "Invalid params: initialize needs `protocolVersion` (a string)",
            )
        })?;
    Ok(SUPPORTED_PROTOCOL_VERSIONS
        .iter()
        .find(|v| **v == asked)
        .copied()
        .unwrap_or(LATEST_PROTOCOL_VERSION))
}

/// `initialize`'s result for the negotiated `version`.
pub fn initialize_result(version: &'static str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": {
            "tools": { "listChanged": false },
            "resources": {},
            "prompts": {},
        },
        "serverInfo": { "name": "target-server", "version": env!("CARGO_PKG_VERSION") },
        "instructions": "Reference MCP server for load tests: tools search, fetch_document, summarize and long_report have modelled service times.",
    })
}

/// Answers one request (not `initialize`, which needs the session table and is answered by
/// the endpoint). Every method but `tools/call` goes through the fault model under its label
/// (no service time, but stalls and error rates apply); a tool applies it under its own name.
pub async fn call(
    state: &AppState,
    method: &str,
    params: &Value,
    progress: Option<Progress>,
) -> Result<Value, RpcError> {
    if method != "tools/call" {
        let decision = state.faults.decide(latency_label(method, params));
        if !decision.delay.is_zero() {
            state.clock.sleep(decision.delay).await;
        }
        if decision.inject_error {
            return Err(RpcError::new(
                INTERNAL_ERROR,
                format!("internal error: injected fault in {method}"),
            ));
        }
    }
    match method {
        INITIALIZE => negotiate(params).map(initialize_result),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(tools::list()),
        "tools/call" => tools::call(state, params, progress).await,
        "resources/list" => Ok(catalog::list_resources()),
        "resources/read" => catalog::read_resource(params),
        "prompts/list" => Ok(catalog::list_prompts()),
        "prompts/get" => catalog::get_prompt(params),
        other => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("Method not found: {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_keeps_a_supported_version_and_offers_the_latest_otherwise() {
        let asked = |v: &str| negotiate(&json!({ "protocolVersion": v })).unwrap();
        assert_eq!(asked("2025-03-26"), "2025-03-26");
        assert_eq!(asked("2025-06-18"), "2025-06-18");
        assert_eq!(asked("2024-01-01"), LATEST_PROTOCOL_VERSION);
        assert_eq!(negotiate(&json!({})).unwrap_err().code, INVALID_PARAMS);
    }

    #[test]
    fn labels_are_bounded() {
        assert_eq!(count_label("tools/call"), "tools/call");
        assert_eq!(count_label(INITIALIZED), INITIALIZED);
        assert_eq!(count_label("made/up"), UNKNOWN_METHOD);
        let search = json!({ "name": "search" });
        assert_eq!(latency_label("tools/call", &search), "mcp.search");
        assert_eq!(latency_label("tools/call", &json!({})), "mcp.tools/call");
        assert_eq!(latency_label("made/up", &json!({})), UNKNOWN_METHOD);
    }
}
