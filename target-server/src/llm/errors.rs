//! Error answers in each API's own shape, so that an OpenAI or Anthropic client library reads
//! them as it reads the real service's: OpenAI `{"error":{"message","type","param","code"}}`,
//! Anthropic `{"type":"error","error":{"type","message"}}`.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::Api;

/// What went wrong, independent of the API that reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 400: the request is malformed or a value is out of range.
    InvalidRequest,
    /// 404: the `model` is not served.
    ModelNotFound,
    /// 401: no or a wrong token.
    Unauthorized,
    /// 429: admission shed the request.
    Overloaded,
    /// 500: an injected fault.
    Server,
}

/// One error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmError {
    pub kind: Kind,
    pub message: String,
    /// The offending request field (OpenAI's `param`).
    pub param: Option<&'static str>,
}

impl LlmError {
    pub fn invalid(param: &'static str, message: impl Into<String>) -> LlmError {
        LlmError {
            kind: Kind::InvalidRequest,
            message: message.into(),
            param: Some(param),
        }
    }

    pub fn model_not_found(model: &str) -> LlmError {
        LlmError {
            kind: Kind::ModelNotFound,
            message: format!("The model `{model}` does not exist or you do not have access to it."),
            param: Some("model"),
        }
    }

    pub fn new(kind: Kind, message: impl Into<String>) -> LlmError {
        LlmError {
            kind,
            message: message.into(),
            param: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self.kind {
            Kind::InvalidRequest => StatusCode::BAD_REQUEST,
            Kind::ModelNotFound => StatusCode::NOT_FOUND,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            Kind::Server => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error object as `api` writes it (also the data of a streamed error event).
    pub fn body(&self, api: Api) -> Value {
        match api {
            Api::Messages => {
                let kind = match self.kind {
                    Kind::InvalidRequest => "invalid_request_error",
                    Kind::ModelNotFound => "not_found_error",
                    Kind::Unauthorized => "authentication_error",
                    Kind::Overloaded => "rate_limit_error",
                    Kind::Server => "api_error",
                };
                json!({ "type": "error", "error": { "type": kind, "message": self.message } })
            }
            Api::Chat | Api::Completions | Api::Models => {
                let (kind, code) = match self.kind {
                    Kind::InvalidRequest => ("invalid_request_error", Value::Null),
                    Kind::ModelNotFound => ("invalid_request_error", json!("model_not_found")),
                    Kind::Unauthorized => ("invalid_request_error", json!("invalid_api_key")),
                    Kind::Overloaded => ("requests", json!("rate_limit_exceeded")),
                    Kind::Server => ("server_error", Value::Null),
                };
                json!({ "error": {
                    "message": self.message, "type": kind, "param": self.param, "code": code,
                } })
            }
        }
    }

    /// The HTTP answer: status, body, and `WWW-Authenticate` or `Retry-After` where due.
    pub fn response(&self, api: Api) -> Response {
        let mut r = (self.status(), Json(self.body(api))).into_response();
        match self.kind {
            Kind::Unauthorized => {
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Kind::Overloaded => {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_has_its_own_shape() {
        let e = LlmError::model_not_found("gpt-x");
        let openai = e.body(Api::Chat);
        assert_eq!(openai["error"]["code"], "model_not_found");
        assert_eq!(openai["error"]["type"], "invalid_request_error");
        assert_eq!(openai["error"]["param"], "model");
        let anthropic = e.body(Api::Messages);
        assert_eq!(anthropic["type"], "error");
        assert_eq!(anthropic["error"]["type"], "not_found_error");
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
    }
}
