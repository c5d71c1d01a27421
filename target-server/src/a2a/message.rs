//! The params of `message/send` and `message/stream` (A2A `MessageSendParams`), checked field
//! by field so that each refusal names the field, as `-32602` with `error.data.field`.
use serde_json::{json, Map, Value};

use crate::rpc_error::*;

/// A user message the agent will answer: all the generation needs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMessage {
    /// The conversation the client put the message in, if any; the task joins it.
    pub context_id: Option<String>,
}

pub(super) fn invalid(field: &str, problem: impl std::fmt::Display) -> RpcError {
    RpcError::new(
        INVALID_PARAMS,
        format!("invalid params: {field}: {problem}"),
    )
    .with_data(json!({ "field": field }))
}

/// The checks both generations make of a message: its `role` is the user's (`user` in 0.3,
/// `ROLE_USER` in 1.0) and it has a `messageId`.
pub(super) fn role_and_id(message: &Map<String, Value>, user: &str) -> Result<(), RpcError> {
    match message.get("role") {
        Some(role) if role == user => {}
        Some(role) => {
            return Err(invalid(
                "message.role",
                format!("must be \"{user}\", got {role}"),
            ))
        }
        None => {
            return Err(invalid(
                "message.role",
                format!("missing; must be \"{user}\""),
            ))
        }
    }
    if non_empty_string(message, "messageId", "message.messageId")?.is_none() {
        return Err(invalid(
            "message.messageId",
            "missing; give each message a unique id",
        ));
    }
    Ok(())
}

pub(super) fn non_empty_string<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<Option<&'a str>, RpcError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
        Some(_) => Err(invalid(field, "must be a non-empty string")),
    }
}

/// Reads `{message: {role: "user", parts: [{kind: "text", text}], messageId, contextId?}}`.
pub fn read_send_params(params: &Value) -> Result<UserMessage, RpcError> {
    let Some(message) = params.get("message") else {
        return Err(invalid("message", "missing; send `{\"message\": {\"role\": \"user\", \"parts\": [...], \"messageId\": ...}}`"));
    };
    let Value::Object(message) = message else {
        return Err(invalid("message", "must be an object"));
    };
    if let Some(kind) = message.get("kind") {
        if kind != "message" {
            return Err(invalid(
                "message.kind",
                format!("must be \"message\", got {kind}"),
            ));
        }
    }
    role_and_id(message, "user")?;
    if message.get("taskId").is_some_and(|t| !t.is_null()) {
        return Err(invalid(
            "message.taskId",
            "this agent answers in one turn and cannot continue a task; leave taskId out",
        ));
    }
    check_parts(message.get("parts"))?;
    let context_id = non_empty_string(message, "contextId", "message.contextId")?;
    Ok(UserMessage {
        context_id: context_id.map(str::to_string),
    })
}

/// Every part must be a text part; a file or data part is well formed A2A that this agent
/// does not read (`-32005`).
fn check_parts(parts: Option<&Value>) -> Result<(), RpcError> {
    let parts = match parts {
        Some(Value::Array(parts)) if !parts.is_empty() => parts,
        Some(Value::Array(_)) => return Err(invalid("message.parts", "must not be empty")),
        Some(_) => return Err(invalid("message.parts", "must be an array of parts")),
        None => {
            return Err(invalid(
                "message.parts",
                "missing; send at least one `{\"kind\": \"text\", \"text\": ...}`",
            ))
        }
    };
    for (i, part) in parts.iter().enumerate() {
        let field = format!("message.parts[{i}]");
        match part.get("kind").and_then(Value::as_str) {
            Some("text") => {
                if !part.get("text").is_some_and(Value::is_string) {
                    return Err(invalid(&format!("{field}.text"), "must be a string"));
                }
            }
            Some(kind @ ("file" | "data")) => {
                return Err(RpcError::new(
                    CONTENT_TYPE_NOT_SUPPORTED,
                    format!("content type not supported: {field} is a {kind} part; this agent reads text parts only"),
                )
                .with_data(json!({ "field": field })))
            }
            _ => return Err(invalid(&format!("{field}.kind"), "must be \"text\"")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(message: Value) -> Value {
        json!({ "message": message })
    }

    fn good() -> Value {
        json!({ "role": "user", "parts": [{ "kind": "text", "text": "hi" }], "messageId": "m1" })
    }

    fn refused_field(p: Value) -> (i64, String) {
        let e = read_send_params(&p).unwrap_err();
        (
            e.code,
            e.data.unwrap()["field"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn a_text_message_is_read_with_its_context() {
        assert_eq!(read_send_params(&params(good())).unwrap().context_id, None);
        let mut m = good();
        m["contextId"] = json!("ctx-1");
        m["kind"] = json!("message");
        assert_eq!(
            read_send_params(&params(m)).unwrap().context_id.as_deref(),
            Some("ctx-1")
        );
    }

    #[test]
    fn each_refusal_names_its_field() {
        let with = |key: &str, value: Value| {
            let mut m = good();
            m[key] = value;
            params(m)
        };
        let without = |key: &str| {
            let mut m = good();
            m.as_object_mut().unwrap().remove(key);
            params(m)
        };
        let cases = [
            (json!({}), "message"),
            (json!({ "message": 3 }), "message"),
            (with("role", json!("agent")), "message.role"),
            (without("role"), "message.role"),
            (without("messageId"), "message.messageId"),
            (with("messageId", json!("")), "message.messageId"),
            (without("parts"), "message.parts"),
            (with("parts", json!([])), "message.parts"),
            (
                with("parts", json!([{ "kind": "text" }])),
                "message.parts[0].text",
            ),
            (
                with(
                    "parts",
                    json!([{ "kind": "text", "text": "a" }, { "kind": "nope" }]),
                ),
                "message.parts[1].kind",
            ),
            (with("contextId", json!(7)), "message.contextId"),
            (with("taskId", json!("t")), "message.taskId"),
            (with("kind", json!("task")), "message.kind"),
        ];
        for (p, field) in cases {
            assert_eq!(
                refused_field(p.clone()),
                (INVALID_PARAMS, field.to_string()),
                "{p}"
            );
        }
        let file = with("parts", json!([{ "kind": "file", "file": { "uri": "x" } }]));
        assert_eq!(
            refused_field(file),
            (CONTENT_TYPE_NOT_SUPPORTED, "message.parts[0]".to_string())
        );
    }
}
