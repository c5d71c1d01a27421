//! The two generations of A2A method names `/a2a` answers, and the `A2A-Version` header rules,
//! modelled on the official Python SDK (a2a-sdk 1.3.0): its JSON-RPC dispatcher serves the 1.0
//! names (`SendMessage`, ...) and its v0.3 compat adapter the 0.3 names (`message/send`, ...),
//! each behind `validate_version`, which refuses a header of another major version with
//! `-32009` (VersionNotSupportedError) and the message checked below.
//!
//! One difference, on purpose: the SDK reads a missing header as 0.3, so it refuses a 1.0
//! method without `A2A-Version: 1.0`. This server accepts it (the method name already says
//! which generation the client speaks), so a hand-written `curl` call works.
use serde_json::json;

use crate::rpc_error::{RpcError, METHOD_NOT_FOUND};

/// The request header naming the protocol version a client speaks.
pub const VERSION_HEADER: &str = "A2A-Version";
/// A2A's VersionNotSupportedError.
pub const VERSION_NOT_SUPPORTED: i64 = -32009;

pub use crate::a2a_dialect::Dialect;

/// What a method does, whichever generation names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Send,
    Stream,
    Get,
    Cancel,
    Subscribe,
}

impl Op {
    /// Whether the answer is an event stream.
    pub fn streams(self) -> bool {
        matches!(self, Op::Stream | Op::Subscribe)
    }
}

/// Every method name, with its generation and operation.
pub const METHODS: [(&str, Dialect, Op); 10] = [
    ("message/send", Dialect::V03, Op::Send),
    ("message/stream", Dialect::V03, Op::Stream),
    ("tasks/get", Dialect::V03, Op::Get),
    ("tasks/cancel", Dialect::V03, Op::Cancel),
    ("tasks/resubscribe", Dialect::V03, Op::Subscribe),
    ("SendMessage", Dialect::V1, Op::Send),
    ("SendStreamingMessage", Dialect::V1, Op::Stream),
    ("GetTask", Dialect::V1, Op::Get),
    ("CancelTask", Dialect::V1, Op::Cancel),
    ("SubscribeToTask", Dialect::V1, Op::Subscribe),
];

/// A method's generation and operation, with its name as a `'static` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    pub name: &'static str,
    pub dialect: Dialect,
    pub op: Op,
}

/// The method called `name`, if `/a2a` has one.
pub fn resolve(name: &str) -> Option<Method> {
    METHODS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(name, dialect, op)| Method { name, dialect, op })
}

/// Refuses a call whose generation is not enabled (`--a2a-versions`: -32601, as if the
/// method did not exist) or whose `A2A-Version` header names another major version (-32009).
pub fn check(method: Method, enabled: &[Dialect], header: Option<&str>) -> Result<(), RpcError> {
    if !enabled.contains(&method.dialect) {
        return Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!(
                "method not found: `{}` (A2A {} is not enabled on this server)",
                method.name,
                method.dialect.as_str()
            ),
        ));
    }
    let Some(actual) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let major = actual.split('.').next().and_then(|m| m.parse::<u64>().ok());
    if major == Some(method.dialect.major()) {
        return Ok(());
    }
    Err(RpcError::new(
        VERSION_NOT_SUPPORTED,
        format!(
            "A2A version '{actual}' is not supported by this handler. Expected version '{}'.",
            method.dialect.as_str()
        ),
    )
    .with_data(json!({ "method": method.name })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: [Dialect; 2] = [Dialect::V1, Dialect::V03];

    #[test]
    fn the_header_must_name_the_methods_major_version() {
        let send = resolve("message/send").unwrap();
        let send_v1 = resolve("SendMessage").unwrap();
        assert!(check(send, &BOTH, None).is_ok());
        assert!(check(send, &BOTH, Some("0.3")).is_ok());
        assert!(
            check(send_v1, &BOTH, None).is_ok(),
            "accepted without the header"
        );
        assert!(check(send_v1, &BOTH, Some("1.0")).is_ok());
        assert!(
            check(send_v1, &BOTH, Some("1.1")).is_ok(),
            "minor is ignored"
        );
        let e = check(send, &BOTH, Some("1.0")).unwrap_err();
        assert_eq!(e.code, VERSION_NOT_SUPPORTED);
        assert_eq!(
            e.message,
            "A2A version '1.0' is not supported by this handler. Expected version '0.3'."
        );
        assert_eq!(
            check(send_v1, &BOTH, Some("0.3")).unwrap_err().code,
            VERSION_NOT_SUPPORTED
        );
        assert_eq!(
            check(send_v1, &BOTH, Some("x")).unwrap_err().code,
            VERSION_NOT_SUPPORTED
        );
    }

    #[test]
    fn a_generation_not_enabled_has_no_methods() {
        let send_v1 = resolve("SendMessage").unwrap();
        let e = check(send_v1, &[Dialect::V03], Some("1.0")).unwrap_err();
        assert_eq!(e.code, METHOD_NOT_FOUND);
        assert!(resolve("tasks/list").is_none());
    }
}
