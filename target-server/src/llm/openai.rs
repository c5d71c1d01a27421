//! OpenAI's wire formats: chat completions (`chat.completion`, `chat.completion.chunk`) and
//! legacy completions (`text_completion`), streamed as `data: <json>` events ending in
//! `data: [DONE]`.
//!
//! A streamed chat answer opens with a role-only chunk (`delta: {role, content: ""}`), sent
//! together with the first content chunk at the first token's time, as vLLM does: vLLM's
//! benchmark client takes the first event with `choices` as the first token, so a role chunk
//! sent earlier would make its time to first token wrong. `finish_reason` rides on the last
//! content chunk; with `stream_options.include_usage` every chunk carries `"usage": null` and
//! a last chunk with `choices: []` carries the usage.
use serde_json::{json, Value};

use super::errors::{Kind, LlmError};
use super::model::Finish;
use super::stream::{Usage, Wire};
use super::Api;

/// One OpenAI answer's fixed fields.
pub struct OpenAi {
    pub chat: bool,
    pub id: String,
    pub created: i64,
    pub model: String,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
    /// `None` under the `no-usage` fault.
    pub usage: Option<Usage>,
}

fn finish_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
    }
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.input,
        "completion_tokens": usage.output,
        "total_tokens": usage.input + usage.output,
    })
}

pub fn data(value: &Value) -> String {
    format!("data: {value}\n\n")
}

impl OpenAi {
    pub fn new(chat: bool, model: &str, include_usage: bool, usage: Option<Usage>) -> OpenAi {
        let prefix = if chat { "chatcmpl-" } else { "cmpl-" };
        OpenAi {
            chat,
            id: format!("{prefix}{}", uuid::Uuid::new_v4().simple()),
            created: chrono::Utc::now().timestamp(),
            model: model.to_string(),
            include_usage,
            usage,
        }
    }

    fn object(&self, streamed: bool) -> &'static str {
        match (self.chat, streamed) {
            (true, true) => "chat.completion.chunk",
            (true, false) => "chat.completion",
            (false, _) => "text_completion",
        }
    }

    /// A streamed chunk with `choices`.
    fn envelope(&self, choices: Value) -> Value {
        let mut chunk = json!({
            "id": self.id, "object": self.object(true), "created": self.created,
            "model": self.model, "choices": choices,
        });
        if self.include_usage && self.usage.is_some() {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    fn choice(&self, text: &str, finish: Option<Finish>) -> Value {
        let finish = finish.map(finish_reason);
        if self.chat {
            json!({ "index": 0, "delta": { "content": text }, "logprobs": null, "finish_reason": finish })
        } else {
            json!({ "index": 0, "text": text, "logprobs": null, "finish_reason": finish })
        }
    }
}

impl Wire for OpenAi {
    fn opening(&self) -> String {
        if !self.chat {
            return String::new();
        }
        let role = json!([{ "index": 0, "delta": { "role": "assistant", "content": "" }, "logprobs": null, "finish_reason": null }]);
        data(&self.envelope(role))
    }

    fn chunk(&self, text: &str, finish: Option<Finish>) -> String {
        data(&self.envelope(json!([self.choice(text, finish)])))
    }

    fn closing(&self, _finish: Finish) -> String {
        let mut out = String::new();
        if let (true, Some(usage)) = (self.include_usage, self.usage) {
            let mut last = self.envelope(json!([]));
            last["usage"] = usage_json(usage);
            out.push_str(&data(&last));
        }
        out.push_str("data: [DONE]\n\n");
        out
    }

    /// An error chunk, then `[DONE]`, as vLLM ends a stream that failed.
    fn error(&self, message: &str) -> String {
        let error = LlmError::new(Kind::Server, message).body(Api::Chat);
        format!("{}data: [DONE]\n\n", data(&error))
    }

    fn malformed(&self) -> String {
        format!(
            "data: {{\"id\": \"{}\", \"choices\": [{{\"index\": 0, \"delta\": \n\n",
            self.id
        )
    }

    fn whole(&self, text: &str, finish: Finish) -> Value {
        let choice = if self.chat {
            json!({ "index": 0, "message": { "role": "assistant", "content": text }, "logprobs": null, "finish_reason": finish_reason(finish) })
        } else {
            json!({ "index": 0, "text": text, "logprobs": null, "finish_reason": finish_reason(finish) })
        };
        let mut answer = json!({
            "id": self.id, "object": self.object(false), "created": self.created,
            "model": self.model, "choices": [choice],
        });
        if let Some(usage) = self.usage {
            answer["usage"] = usage_json(usage);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(events: &str) -> Vec<Value> {
        events
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    #[test]
    fn a_chat_stream_opens_with_the_role_and_closes_with_usage() {
        let usage = Some(Usage {
            input: 3,
            output: 2,
        });
        let w = OpenAi::new(true, "m", true, usage);
        let open = parse(&w.opening());
        assert_eq!(
            open[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert_eq!(open[0]["usage"], Value::Null);
        let last = parse(&w.chunk("tok2 ", Some(Finish::Length)));
        assert_eq!(last[0]["choices"][0]["finish_reason"], "length");
        let close = w.closing(Finish::Length);
        assert!(close.ends_with("data: [DONE]\n\n"));
        let close = parse(&close);
        assert_eq!(close[0]["choices"], json!([]));
        assert_eq!(close[0]["usage"]["total_tokens"], 5);
        let plain = OpenAi::new(true, "m", false, usage);
        assert!(parse(&plain.chunk("x ", None))[0].get("usage").is_none());
        assert_eq!(plain.closing(Finish::Stop), "data: [DONE]\n\n");
    }

    #[test]
    fn completions_have_text_choices_and_no_role_chunk() {
        let w = OpenAi::new(
            false,
            "m",
            false,
            Some(Usage {
                input: 1,
                output: 1,
            }),
        );
        assert_eq!(w.opening(), "");
        assert_eq!(
            parse(&w.chunk("tok1 ", None))[0]["choices"][0]["text"],
            "tok1 "
        );
        let whole = w.whole("tok1 ", Finish::Stop);
        assert_eq!(whole["object"], "text_completion");
        assert_eq!(whole["usage"]["completion_tokens"], 1);
        assert!(serde_json::from_str::<Value>(w.malformed().trim_start_matches("data: ")).is_err());
    }
}
