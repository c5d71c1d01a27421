//! Reading a request body of each API into one [`Ask`]: what the model needs to know (model,
//! input tokens, length limit, streaming) and nothing else. Fields the model does not use
//! (`temperature`, `top_p`, `stop`, `tools`, …) are accepted and ignored, as a benchmark
//! client sends them; a field the model does use is checked, and a bad one answers 400 in the
//! API's shape (see [`super::errors`]).
use serde_json::{Map, Value};

use super::errors::LlmError;
use super::tokens::{content_words, count_words};
use super::Api;
use crate::config::ChunkCount;

/// Largest `max_tokens` accepted, so that a typo cannot make one answer run for hours.
pub const MAX_TOKENS_LIMIT: u32 = ChunkCount::MAX;

/// Legacy completions' `max_tokens` when the request gives none (OpenAI's and vLLM's 16).
pub const COMPLETIONS_DEFAULT_MAX_TOKENS: u32 = 16;

/// One request, as the model sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub model: String,
    /// Whitespace-separated words of the prompt text ([`super::tokens`]).
    pub input_tokens: u32,
    /// The request's length limit; `None` when it sets none (chat completions only).
    pub max_tokens: Option<u32>,
    /// vLLM's `ignore_eos`: generate exactly `max_tokens`.
    pub ignore_eos: bool,
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`; always true for Anthropic, whose stream
    /// carries usage by design.
    pub include_usage: bool,
}

/// Parses `body` for `api`, checking `model` against `served`.
pub fn parse(api: Api, body: &[u8], served: &[String]) -> Result<Ask, LlmError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| LlmError::invalid("body", format!("the body is not valid JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(LlmError::invalid("body", "the body must be a JSON object"));
    };
    let model = match fields.get("model") {
        Some(Value::String(m)) => m.clone(),
        Some(_) => return Err(LlmError::invalid("model", "`model` must be a string")),
        None => return Err(LlmError::invalid("model", "`model` is required")),
    };
    let input_tokens = match api {
        Api::Chat => messages_words(&fields, false)?,
        Api::Messages => messages_words(&fields, true)?,
        Api::Completions => prompt_words(&fields)?,
        Api::Models => 0,
    };
    let max_tokens = match api {
        Api::Chat => max_tokens_field(&fields, "max_completion_tokens")?
            .or(max_tokens_field(&fields, "max_tokens")?),
        Api::Completions => {
            Some(max_tokens_field(&fields, "max_tokens")?.unwrap_or(COMPLETIONS_DEFAULT_MAX_TOKENS))
        }
        Api::Messages | Api::Models => Some(
            max_tokens_field(&fields, "max_tokens")?
                .ok_or_else(|| LlmError::invalid("max_tokens", "max_tokens: Field required"))?,
        ),
    };
    let stream = flag(&fields, "stream")?;
    let include_usage = match api {
        Api::Messages => true,
        _ => match fields.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(options)) => {
                if !stream {
                    return Err(LlmError::invalid(
                        "stream_options",
                        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    ));
                }
                flag(options, "include_usage")?
            }
            Some(_) => {
                return Err(LlmError::invalid(
                    "stream_options",
                    "`stream_options` must be an object",
                ))
            }
        },
    };
    if !served.contains(&model) {
        return Err(LlmError::model_not_found(&model));
    }
    Ok(Ask {
        model,
        input_tokens,
        max_tokens,
        ignore_eos: flag(&fields, "ignore_eos")?,
        stream,
        include_usage,
    })
}

/// A boolean field; absent or `null` is false.
fn flag(fields: &Map<String, Value>, name: &'static str) -> Result<bool, LlmError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(LlmError::invalid(
            name,
            format!("`{name}` must be a boolean"),
        )),
    }
}

/// A length limit: absent or `null` is `None`; otherwise a whole number in 1..=limit.
fn max_tokens_field(
    fields: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<u32>, LlmError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 && n <= i64::from(MAX_TOKENS_LIMIT) => Ok(Some(n as u32)),
            Some(n) if n >= 1 => Err(LlmError::invalid(
                name,
                format!(
                    "`{name}` is {n}; this model allows at most {MAX_TOKENS_LIMIT} output tokens"
                ),
            )),
            _ => Err(LlmError::invalid(
                name,
                format!("`{name}` must be an integer >= 1, got {v}"),
            )),
        },
    }
}

/// Input words of `messages` (and, for Anthropic, of `system`): every message's text
/// content, roles not counted.
fn messages_words(fields: &Map<String, Value>, anthropic: bool) -> Result<u32, LlmError> {
    let messages = match fields.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => {
            return Err(LlmError::invalid(
                "messages",
                "`messages` must not be empty",
            ))
        }
        Some(_) => return Err(LlmError::invalid("messages", "`messages` must be an array")),
        None => return Err(LlmError::invalid("messages", "`messages` is required")),
    };
    let mut words = 0u32;
    if anthropic {
        if let Some(system) = fields.get("system") {
            words = content_words(system).ok_or_else(|| {
                LlmError::invalid("system", "`system` must be a string or text blocks")
            })?;
        }
    }
    for (i, message) in messages.iter().enumerate() {
        let bad = |what: &str| LlmError::invalid("messages", format!("messages.{i}: {what}"));
        let message = message
            .as_object()
            .ok_or_else(|| bad("must be an object"))?;
        if !message.get("role").is_some_and(Value::is_string) {
            return Err(bad("`role` is required and must be a string"));
        }
        let content = message.get("content").unwrap_or(&Value::Null);
        if anthropic && content.is_null() {
            return Err(bad("`content` is required"));
        }
        let n = content_words(content)
            .ok_or_else(|| bad("`content` must be a string or an array of content parts"))?;
        words = words.saturating_add(n);
    }
    Ok(words)
}

/// Input words of a legacy `prompt`: a string, or an array of one string.
fn prompt_words(fields: &Map<String, Value>) -> Result<u32, LlmError> {
    match fields.get("prompt") {
        Some(Value::String(p)) => Ok(count_words(p)),
        Some(Value::Array(a)) if a.len() == 1 && a[0].is_string() => {
            Ok(count_words(a[0].as_str().unwrap_or_default()))
        }
        Some(_) => Err(LlmError::invalid(
            "prompt",
            "`prompt` must be a string (or an array of one string)",
        )),
        None => Err(LlmError::invalid("prompt", "`prompt` is required")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn served() -> Vec<String> {
        vec!["m".to_string()]
    }

    fn chat(body: Value) -> Result<Ask, LlmError> {
        parse(Api::Chat, body.to_string().as_bytes(), &served())
    }

    #[test]
    fn chat_counts_every_message_and_reads_the_limits() {
        let ask = chat(json!({
            "model": "m", "temperature": 0.7,
            "messages": [{"role": "system", "content": "be brief"},
                         {"role": "user", "content": [{"type": "text", "text": "hello there you"}]}],
            "max_completion_tokens": 5, "max_tokens": 99, "stream": true,
            "stream_options": {"include_usage": true}, "ignore_eos": true,
        }))
        .unwrap();
        assert_eq!(ask.input_tokens, 5);
        assert_eq!(ask.max_tokens, Some(5), "max_completion_tokens wins");
        assert!(ask.stream && ask.include_usage && ask.ignore_eos);
        let plain =
            chat(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})).unwrap();
        assert_eq!(
            (plain.max_tokens, plain.stream, plain.include_usage),
            (None, false, false)
        );
    }

    #[test]
    fn bad_requests_name_the_field() {
        let user = json!([{"role": "user", "content": "x"}]);
        let param = |body: Value| chat(body).unwrap_err().param;
        assert_eq!(param(json!({"model": "m"})), Some("messages"));
        assert_eq!(
            param(json!({"model": "m", "messages": []})),
            Some("messages")
        );
        assert_eq!(param(json!({"messages": user})), Some("model"));
        assert_eq!(
            param(json!({"model": "m", "messages": user, "max_tokens": 0})),
            Some("max_tokens")
        );
        assert_eq!(
            param(json!({"model": "m", "messages": user, "max_tokens": -3})),
            Some("max_tokens")
        );
        assert_eq!(
            param(
                json!({"model": "m", "messages": user, "stream_options": {"include_usage": true}})
            ),
            Some("stream_options")
        );
        let unknown = chat(json!({"model": "other", "messages": user})).unwrap_err();
        assert_eq!(unknown.kind, super::super::errors::Kind::ModelNotFound);
        assert!(parse(Api::Chat, b"not json", &served()).is_err());
    }

    #[test]
    fn completions_and_messages_have_their_own_rules() {
        let c = parse(
            Api::Completions,
            br#"{"model":"m","prompt":"a b c"}"#,
            &served(),
        )
        .unwrap();
        assert_eq!((c.input_tokens, c.max_tokens), (3, Some(16)));
        let missing = parse(Api::Completions, br#"{"model":"m"}"#, &served()).unwrap_err();
        assert_eq!(missing.param, Some("prompt"));
        let m = parse(
            Api::Messages,
            br#"{"model":"m","system":"be kind","max_tokens":9,"messages":[{"role":"user","content":"hi you"}]}"#,
            &served(),
        )
        .unwrap();
        assert_eq!(
            (m.input_tokens, m.max_tokens, m.include_usage),
            (4, Some(9), true)
        );
        let no_limit = parse(
            Api::Messages,
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
            &served(),
        )
        .unwrap_err();
        assert_eq!(no_limit.param, Some("max_tokens"));
    }
}
