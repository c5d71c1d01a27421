//! JSON-RPC 2.0 error codes, the error object and the response envelope, shared by the framing
//! ([`crate::jsonrpc`]) and the method handlers ([`crate::training`], [`crate::a2a`]) so
//! neither depends on the other for them (an `/a2a` stream wraps each event in the envelope).
use serde_json::{json, Value};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
pub const NOT_FOUND: i64 = -32001;
/// A2A's TaskNotFoundError: the same code as [`NOT_FOUND`], named as the A2A spec names it.
pub const TASK_NOT_FOUND: i64 = NOT_FOUND;
/// A2A's TaskNotCancelableError: the task already ended.
pub const TASK_NOT_CANCELABLE: i64 = -32002;
/// A2A's ContentTypeNotSupportedError: a message part of a kind the agent does not read.
pub const CONTENT_TYPE_NOT_SUPPORTED: i64 = -32005;
pub const BUDGET_EXCEEDED: i64 = -40001;
pub const VALIDATION_FAILED: i64 = -40002;
pub const CANNOT_CANCEL: i64 = -40003;
pub const EXPORT_LIMIT_EXCEEDED: i64 = -40005;

/// The response to the call with `id`: `{"jsonrpc": "2.0", "id", "result" | "error"}`.
pub fn response(id: Value, outcome: Result<Value, RpcError>) -> Value {
    match outcome {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(e) => json!({ "jsonrpc": "2.0", "id": id, "error": e.to_json() }),
    }
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// A range or shape problem in one field: -40002 naming the field.
    pub fn validation(field: &str, problem: impl std::fmt::Display) -> Self {
        RpcError::new(
            VALIDATION_FAILED,
            format!("validation failed: {field}: {problem}"),
        )
        .with_data(json!({ "field": field }))
    }

    pub fn to_json(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}
