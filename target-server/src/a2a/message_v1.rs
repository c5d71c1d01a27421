//! The params of A2A 1.0 `SendMessage` and `SendStreamingMessage` (`SendMessageRequest` in
//! the proto3 JSON mapping): `{message: {messageId, role: "ROLE_USER", parts: [{text}],
//! contextId?, taskId?}, configuration?, metadata?}`. Parts carry no `kind`: which of `text`,
//! `raw`, `url` or `data` is set says what a part is. Refusals name the field, as for 0.3.
use serde_json::{json, Value};

use super::message::{invalid, non_empty_string, role_and_id, UserMessage};
use crate::rpc_error::*;

/// Reads a 1.0 `SendMessageRequest`; `configuration` and `metadata` are accepted and ignored
/// (the agent always answers in one turn and keeps no history).
pub fn read_send_params(params: &Value) -> Result<UserMessage, RpcError> {
    let Some(message) = params.get("message") else {
        return Err(invalid(
            "message",
            "missing; send `{\"message\": {\"role\": \"ROLE_USER\", \"parts\": [{\"text\": ...}], \"messageId\": ...}}`",
        ));
    };
    let Value::Object(message) = message else {
        return Err(invalid("message", "must be an object"));
    };
    role_and_id(message, "ROLE_USER")?;
    if message
        .get("taskId")
        .is_some_and(|t| !t.is_null() && t != "")
    {
        return Err(invalid(
            "message.taskId",
            "this agent answers in one turn and cannot continue a task; leave taskId out",
        ));
    }
    let parts = match message.get("parts") {
        Some(Value::Array(parts)) if !parts.is_empty() => parts,
        Some(Value::Array(_)) => return Err(invalid("message.parts", "must not be empty")),
        Some(_) => return Err(invalid("message.parts", "must be an array of parts")),
        None => {
            return Err(invalid(
                "message.parts",
                "missing; send at least one `{\"text\": ...}`",
            ))
        }
    };
    for (i, part) in parts.iter().enumerate() {
        let field = format!("message.parts[{i}]");
        if part.get("text").is_some_and(Value::is_string) {
            continue;
        }
        if let Some(kind) = ["raw", "url", "data"]
            .into_iter()
            .find(|k| part.get(k).is_some())
        {
            return Err(RpcError::new(
                CONTENT_TYPE_NOT_SUPPORTED,
                format!("content type not supported: {field} is a {kind} part; this agent reads text parts only"),
            )
            .with_data(json!({ "field": field })));
        }
        return Err(invalid(&format!("{field}.text"), "must be a string"));
    }
    let context_id = non_empty_string(message, "contextId", "message.contextId")?;
    Ok(UserMessage {
        context_id: context_id.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(key: &str, value: Value) -> Value {
        let mut m = json!({ "role": "ROLE_USER", "parts": [{ "text": "hi" }], "messageId": "m1" });
        m[key] = value;
        json!({ "message": m, "configuration": { "historyLength": 0 } })
    }

    fn refused(p: Value) -> (i64, String) {
        let e = read_send_params(&p).unwrap_err();
        (
            e.code,
            e.data.unwrap()["field"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn a_1_0_text_message_is_read_with_its_context() {
        let m = read_send_params(&with("contextId", json!("ctx"))).unwrap();
        assert_eq!(m.context_id.as_deref(), Some("ctx"));
        assert!(read_send_params(&with("taskId", json!(""))).is_ok());
    }

    #[test]
    fn each_1_0_refusal_names_its_field() {
        let cases = [
            (with("role", json!("user")), INVALID_PARAMS, "message.role"),
            (
                with("messageId", json!("")),
                INVALID_PARAMS,
                "message.messageId",
            ),
            (with("parts", json!([])), INVALID_PARAMS, "message.parts"),
            (
                with("parts", json!([{}])),
                INVALID_PARAMS,
                "message.parts[0].text",
            ),
            (with("taskId", json!("t")), INVALID_PARAMS, "message.taskId"),
            (
                with("parts", json!([{ "text": "a" }, { "url": "http://x" }])),
                CONTENT_TYPE_NOT_SUPPORTED,
                "message.parts[1]",
            ),
        ];
        for (p, code, field) in cases {
            assert_eq!(refused(p.clone()), (code, field.to_string()), "{p}");
        }
        assert_eq!(refused(json!({})), (INVALID_PARAMS, "message".to_string()));
    }
}
