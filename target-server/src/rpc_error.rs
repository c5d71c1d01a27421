//! JSON-RPC 2.0 error codes and the error object, shared by the framing ([`crate::jsonrpc`])
//! and the method handlers ([`crate::training`]) so neither depends on the other for them.
use serde_json::{json, Value};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
pub const NOT_FOUND: i64 = -32001;
pub const BUDGET_EXCEEDED: i64 = -40001;
pub const VALIDATION_FAILED: i64 = -40002;
pub const CANNOT_CANCEL: i64 = -40003;
pub const EXPORT_LIMIT_EXCEEDED: i64 = -40005;

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
