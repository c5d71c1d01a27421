//! Anthropic's Messages wire format: a `message` object, or, streamed, the events
//! `message_start`, `content_block_start`, `ping`, one `content_block_delta` (`text_delta`)
//! per chunk, `content_block_stop`, `message_delta` (stop reason and the total
//! `output_tokens`) and `message_stop`, each as `event: <type>\ndata: <json>`.
//!
//! The opening events go out together with the first text delta, at the first token's
//! time, so the first event a client sees marks the time to first token.
use serde_json::{json, Value};

use super::errors::{Kind, LlmError};
use super::model::Finish;
use super::stream::{Usage, Wire};
use super::Api;

/// One Anthropic answer's fixed fields.
pub struct Anthropic {
    pub id: String,
    pub model: String,
    /// `None` under the `no-usage` fault.
    pub usage: Option<Usage>,
}

fn stop_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
    }
}

/// One event: `event: <type>\ndata: <json>\n\n`.
pub fn event(data: &Value) -> String {
    let kind = data["type"].as_str().unwrap_or("unknown");
    format!("event: {kind}\ndata: {data}\n\n")
}

impl Anthropic {
    pub fn new(model: &str, usage: Option<Usage>) -> Anthropic {
        Anthropic {
            id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
            model: model.to_string(),
            usage,
        }
    }

    fn message(&self, content: Value, finish: Option<Finish>, output_tokens: u32) -> Value {
        let mut message = json!({
            "id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": finish.map(stop_reason), "stop_sequence": null,
        });
        if let Some(usage) = self.usage {
            message["usage"] =
                json!({ "input_tokens": usage.input, "output_tokens": output_tokens });
        }
        message
    }
}

impl Wire for Anthropic {
    fn opening(&self) -> String {
        [
            json!({ "type": "message_start", "message": self.message(json!([]), None, 0) }),
            json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
            json!({ "type": "ping" }),
        ]
        .iter()
        .map(event)
        .collect()
    }

    fn chunk(&self, text: &str, _finish: Option<Finish>) -> String {
        event(
            &json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": text } }),
        )
    }

    fn closing(&self, finish: Finish) -> String {
        let mut delta = json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason(finish), "stop_sequence": null },
        });
        if let Some(usage) = self.usage {
            delta["usage"] = json!({ "output_tokens": usage.output });
        }
        [
            json!({ "type": "content_block_stop", "index": 0 }),
            delta,
            json!({ "type": "message_stop" }),
        ]
        .iter()
        .map(event)
        .collect()
    }

    fn error(&self, message: &str) -> String {
        event(&LlmError::new(Kind::Server, message).body(Api::Messages))
    }

    fn malformed(&self) -> String {
        "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": \n\n".to_string()
    }

    fn whole(&self, text: &str, finish: Finish) -> Value {
        let output = self.usage.map_or(0, |u| u.output);
        self.message(
            json!([{ "type": "text", "text": text }]),
            Some(finish),
            output,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_named_by_their_type() {
        let w = Anthropic::new(
            "m",
            Some(Usage {
                input: 4,
                output: 2,
            }),
        );
        let open = w.opening();
        assert!(open.starts_with("event: message_start\ndata: {"));
        assert!(open.contains("event: content_block_start\n") && open.contains("event: ping\n"));
        let close = w.closing(Finish::Length);
        assert!(close.contains("\"stop_reason\":\"max_tokens\""));
        assert!(close.contains("\"usage\":{\"output_tokens\":2}"));
        assert!(close.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
        let whole = w.whole("tok1 tok2 ", Finish::Stop);
        assert_eq!(whole["stop_reason"], "end_turn");
        assert_eq!(
            whole["usage"],
            json!({"input_tokens": 4, "output_tokens": 2})
        );
        assert!(w.error("boom").starts_with("event: error\ndata: {"));
    }

    #[test]
    fn no_usage_leaves_usage_out() {
        let w = Anthropic::new("m", None);
        assert!(!w.opening().contains("usage") && !w.closing(Finish::Stop).contains("usage"));
    }
}
