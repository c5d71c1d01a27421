//! MCP revision 2026-07-28 ("modern"), served beside 2025-06-18 on the same endpoint (a
//! dual-era server, basic/versioning): a request whose `params._meta` carries
//! `io.modelcontextprotocol/protocolVersion` is served statelessly — no `initialize`, no
//! session — after the Streamable HTTP request-metadata checks: `MCP-Protocol-Version` equal
//! to the body's version, `Mcp-Method` equal to the method, and `Mcp-Name` equal to the tool,
//! prompt or resource for `tools/call`, `prompts/get` and `resources/read` (400 with
//! `HeaderMismatch` otherwise). `server/discover` advertises the versions served.
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::transport::Refusal;
use super::{PROTOCOL_VERSION_HEADER, SUPPORTED_PROTOCOL_VERSIONS};
use crate::rpc_error::METHOD_NOT_FOUND;

/// The modern revision this server speaks.
pub const MODERN_VERSION: &str = "2026-07-28";
/// Where a modern request says its version.
pub const VERSION_META: &str = "io.modelcontextprotocol/protocolVersion";
/// The discovery method every modern server implements.
pub const DISCOVER: &str = "server/discover";
/// A request header that does not match its body (`HeaderMismatchError`).
pub const HEADER_MISMATCH: i64 = -32020;
/// A protocol version the server does not serve (`UnsupportedProtocolVersionError`).
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// The version a modern request declares, if it is one.
pub fn requested_version(params: &Value) -> Option<&str> {
    params.pointer("/_meta")?.get(VERSION_META)?.as_str()
}

/// The request-metadata checks of a modern request of `method` with `params`.
pub fn check(
    headers: &HeaderMap,
    method: &str,
    params: &Value,
    version: &str,
) -> Result<(), Refusal> {
    if version != MODERN_VERSION {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            UNSUPPORTED_PROTOCOL_VERSION,
            format!(
                "Unsupported protocol version {version}: supported are {MODERN_VERSION}, {}",
                SUPPORTED_PROTOCOL_VERSIONS.join(", ")
            ),
        ));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mismatch = |what: &str| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            HEADER_MISMATCH,
            format!("Header mismatch: {what} does not match the request body"),
        )
    };
    if header(PROTOCOL_VERSION_HEADER) != Some(version) {
        return Err(mismatch("MCP-Protocol-Version"));
    }
    if header("mcp-method") != Some(method) {
        return Err(mismatch("Mcp-Method"));
    }
    let named = match method {
        "tools/call" | "prompts/get" => params.get("name"),
        "resources/read" => params.get("uri"),
        _ => None,
    };
    if let Some(name) = named.and_then(Value::as_str) {
        if header("mcp-name") != Some(name) {
            return Err(mismatch("Mcp-Name"));
        }
    }
    if method == super::methods::INITIALIZE {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            METHOD_NOT_FOUND,
            format!("Method not found: {MODERN_VERSION} has no initialize; send requests with their version in _meta"),
        ));
    }
    Ok(())
}

/// `server/discover`'s result: the versions served, the capabilities, the server.
pub fn discover_result() -> Value {
    let mut versions = vec![MODERN_VERSION];
    versions.extend(SUPPORTED_PROTOCOL_VERSIONS);
    json!({
        "supportedVersions": versions,
        "capabilities": {"tools": {"listChanged": false}, "resources": {}, "prompts": {}},
        "serverInfo": {"name": "target-server", "version": env!("CARGO_PKG_VERSION")},
        "resultType": "complete",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn modern_requests_need_headers_that_match_their_body() {
        let params = json!({"name": "search", "_meta": {VERSION_META: MODERN_VERSION}});
        assert_eq!(requested_version(&params), Some(MODERN_VERSION));
        let good = headers(&[
            ("mcp-protocol-version", MODERN_VERSION),
            ("mcp-method", "tools/call"),
            ("mcp-name", "search"),
        ]);
        assert!(check(&good, "tools/call", &params, MODERN_VERSION).is_ok());
        let wrong_name = headers(&[
            ("mcp-protocol-version", MODERN_VERSION),
            ("mcp-method", "tools/call"),
            ("mcp-name", "fetch"),
        ]);
        let e = check(&wrong_name, "tools/call", &params, MODERN_VERSION)
            .err()
            .unwrap();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, HEADER_MISMATCH)
        );
        let no_method = headers(&[("mcp-protocol-version", MODERN_VERSION)]);
        assert_eq!(
            check(&no_method, "tools/list", &json!({}), MODERN_VERSION)
                .err()
                .unwrap()
                .code,
            HEADER_MISMATCH
        );
        assert_eq!(
            check(&good, "tools/call", &params, "1900-01-01")
                .err()
                .unwrap()
                .code,
            UNSUPPORTED_PROTOCOL_VERSION
        );
        assert_eq!(requested_version(&json!({"name": "x"})), None);
    }
}
