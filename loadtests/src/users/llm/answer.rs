//! Reading an LLM answer knowing its protocol, streamed or not: what is output (content
//! deltas; not a role-only first chunk, not the usage chunk), the token counts (`usage`, else
//! Skein's word count, labelled an estimate), the finish reason, and every way it can fail,
//! named: an error object or event, a cut stream, a chunk that is not JSON, a streamed request
//! answered without a stream.
use std::time::Instant;

use reports::{TokenSource, TokenTiming};
use serde_json::Value;

use super::tokenizer::TokenCounter;
use super::{words, PromptTokens, Protocol};
use crate::transport::OpenedResponse;
use crate::users::stream::event_data;

/// What an LLM answer said, as measured.
#[derive(Debug, Default)]
pub struct LlmRead {
    pub tokens: TokenTiming,
    /// The answer's text (what a multi-turn chat sends back as the assistant's turn).
    pub text: String,
    pub finish_reason: Option<String>,
    pub bytes: u64,
    pub error: Option<String>,
}

/// Folds one streamed answer's events, one at a time.
pub struct StreamFold {
    protocol: Protocol,
    sent_at: Instant,
    last_content: Option<Instant>,
    text: String,
    usage_in: Option<u64>,
    usage_out: Option<u64>,
    done: bool,
    pub read: LlmRead,
}

impl StreamFold {
    pub fn new(protocol: Protocol, sent_at: Instant) -> StreamFold {
        StreamFold {
            protocol,
            sent_at,
            last_content: None,
            text: String::new(),
            usage_in: None,
            usage_out: None,
            done: false,
            read: LlmRead::default(),
        }
    }

    /// Whether the answer said it is complete (`[DONE]`, `message_stop`) or failed.
    pub fn finished(&self) -> bool {
        self.done || self.read.error.is_some()
    }

    /// One event's data, received at `now`.
    pub fn event(&mut self, data: &str, now: Instant) {
        if self.finished() {
            return;
        }
        if data.trim() == "[DONE]" {
            self.done = true;
            return;
        }
        let event: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                self.read.error = Some(format!("malformed JSON in an LLM stream chunk: {e}"));
                return;
            }
        };
        if let Some(error) = error_of(&event) {
            self.read.error = Some(error);
            return;
        }
        let content = match self.protocol {
            Protocol::OpenAiChat | Protocol::OpenAiCompletions => self.openai(&event),
            Protocol::AnthropicMessages => self.anthropic(&event),
        };
        if let Some(content) = content.filter(|c| !c.is_empty()) {
            let micros = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
            match self.last_content {
                None => self.read.tokens.ttft_micros = Some(micros(now - self.sent_at)),
                Some(previous) => self.read.tokens.itl_micros.push(micros(now - previous)),
            }
            self.last_content = Some(now);
            self.text.push_str(&content);
        }
    }

    /// An OpenAI chunk: its content, and its usage or finish reason when it has them.
    fn openai(&mut self, event: &Value) -> Option<String> {
        if let Some(usage) = event.get("usage").filter(|u| u.is_object()) {
            self.usage_in = usage.get("prompt_tokens").and_then(Value::as_u64);
            self.usage_out = usage.get("completion_tokens").and_then(Value::as_u64);
        }
        let choice = event.get("choices")?.get(0)?;
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.read.finish_reason = Some(reason.to_string());
        }
        let content = match self.protocol {
            Protocol::OpenAiCompletions => choice.get("text"),
            _ => choice.pointer("/delta/content"),
        };
        content.and_then(Value::as_str).map(str::to_string)
    }

    /// An Anthropic event: text deltas are content; usage comes at the start and the end.
    fn anthropic(&mut self, event: &Value) -> Option<String> {
        match event.get("type").and_then(Value::as_str)? {
            "message_start" => {
                self.usage_in = event
                    .pointer("/message/usage/input_tokens")
                    .and_then(Value::as_u64);
                None
            }
            "content_block_delta" => event
                .pointer("/delta/text")
                .and_then(Value::as_str)
                .map(str::to_string),
            "message_delta" => {
                if let Some(n) = event
                    .pointer("/usage/output_tokens")
                    .and_then(Value::as_u64)
                {
                    self.usage_out = Some(n);
                }
                if let Some(reason) = event.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.read.finish_reason = Some(reason.to_string());
                }
                None
            }
            "message_stop" => {
                self.done = true;
                None
            }
            _ => None,
        }
    }

    /// The answer once the stream ended (`broke`: why reading it failed, if it did).
    pub fn end(
        mut self,
        broke: Option<String>,
        prompt: PromptTokens,
        tokenizer: Option<&TokenCounter>,
    ) -> LlmRead {
        if self.read.error.is_none() {
            self.read.error = broke.or_else(|| {
                (!self.done).then(|| match self.protocol {
                    Protocol::AnthropicMessages => "the stream was cut before message_stop".into(),
                    _ => "the stream was cut before [DONE]".into(),
                })
            });
        }
        let end = self.last_content.unwrap_or(self.sent_at);
        self.read.tokens.end_micros =
            u64::try_from((end - self.sent_at).as_micros()).unwrap_or(u64::MAX);
        let usage = (self.usage_in, self.usage_out);
        counts(&mut self.read.tokens, usage, prompt, &self.text, tokenizer);
        self.read.text = self.text;
        self.read
    }
}

/// The token counts: the server's usage when it sent both (with the `--tokenizer`'s counts
/// kept beside them), else the tokenizer's, else Skein's estimate (words).
fn counts(
    t: &mut TokenTiming,
    (usage_in, usage_out): (Option<u64>, Option<u64>),
    prompt: PromptTokens,
    text: &str,
    tokenizer: Option<&TokenCounter>,
) {
    let tokenized = tokenizer.map(|k| (prompt.tokenized.unwrap_or(0), k.count(text)));
    match ((usage_in, usage_out), tokenized) {
        ((Some(input), Some(output)), _) => {
            t.input_tokens = input;
            t.output_tokens = output;
            t.source = TokenSource::Usage;
            t.tokenizer_counts = tokenized;
        }
        (_, Some((input, output))) => {
            t.input_tokens = usage_in.unwrap_or(input);
            t.output_tokens = usage_out.unwrap_or(output);
            t.source = TokenSource::Tokenizer;
        }
        (_, None) => {
            t.input_tokens = usage_in.unwrap_or(prompt.words);
            t.output_tokens = usage_out.unwrap_or_else(|| words(text));
            t.source = TokenSource::Estimate;
        }
    }
}

/// An API error in an answer or an event, in the words failures are grouped by.
fn error_of(value: &Value) -> Option<String> {
    let error = value.get("error").filter(|e| !e.is_null())?;
    if value.get("type").and_then(Value::as_str) == Some("error") || value.get("choices").is_none()
    {
        let kind = error.get("type").and_then(Value::as_str).unwrap_or("error");
        let message = error.get("message").and_then(Value::as_str).unwrap_or("");
        return Some(format!("LLM error ({kind}): {message}"));
    }
    None
}

/// A non-streamed answer's body: its content, usage and finish reason.
pub fn read_whole(
    protocol: Protocol,
    body: &[u8],
    elapsed_micros: u64,
    prompt: PromptTokens,
    tokenizer: Option<&TokenCounter>,
) -> LlmRead {
    let mut read = LlmRead {
        bytes: body.len() as u64,
        ..LlmRead::default()
    };
    let answer: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            read.error = Some(format!("malformed JSON answer: {e}"));
            return read;
        }
    };
    if let Some(error) = error_of(&answer) {
        read.error = Some(error);
        return read;
    }
    let (text, usage_in, usage_out, reason) = match protocol {
        Protocol::AnthropicMessages => (
            answer
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("text").and_then(Value::as_str))
                .collect::<String>(),
            answer
                .pointer("/usage/input_tokens")
                .and_then(Value::as_u64),
            answer
                .pointer("/usage/output_tokens")
                .and_then(Value::as_u64),
            answer.get("stop_reason").and_then(Value::as_str),
        ),
        _ => {
            let choice = answer.pointer("/choices/0");
            let text = match protocol {
                Protocol::OpenAiCompletions => choice.and_then(|c| c.get("text")),
                _ => choice.and_then(|c| c.pointer("/message/content")),
            };
            (
                text.and_then(Value::as_str).unwrap_or("").to_string(),
                answer
                    .pointer("/usage/prompt_tokens")
                    .and_then(Value::as_u64),
                answer
                    .pointer("/usage/completion_tokens")
                    .and_then(Value::as_u64),
                choice
                    .and_then(|c| c.get("finish_reason"))
                    .and_then(Value::as_str),
            )
        }
    };
    if answer.get("choices").is_none() && answer.get("content").is_none() {
        read.error = Some("malformed LLM answer: no choices or content".into());
        return read;
    }
    read.finish_reason = reason.map(str::to_string);
    read.tokens.end_micros = elapsed_micros;
    counts(
        &mut read.tokens,
        (usage_in, usage_out),
        prompt,
        &text,
        tokenizer,
    );
    read.text = text;
    read
}

/// Reads a streamed answer's events to its end.
pub async fn read_stream(
    protocol: Protocol,
    mut response: OpenedResponse<'_>,
    sent_at: Instant,
    prompt: PromptTokens,
    tokenizer: Option<&TokenCounter>,
) -> LlmRead {
    let mut fold = StreamFold::new(protocol, sent_at);
    let mut pending = Vec::new();
    let mut bytes = 0u64;
    let mut broke = None;
    while !fold.finished() {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let now = Instant::now();
                bytes += chunk.len() as u64;
                pending.extend_from_slice(&chunk);
                for data in event_data(&mut pending) {
                    fold.event(&data, now);
                }
            }
            Ok(None) => break,
            Err(e) => {
                broke = Some(format!("reading the stream failed: {e}"));
                break;
            }
        }
    }
    let mut read = fold.end(broke, prompt, tokenizer);
    read.bytes = bytes;
    read
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fold(protocol: Protocol, events: &[(&str, u64)]) -> LlmRead {
        let t0 = Instant::now();
        let mut f = StreamFold::new(protocol, t0);
        for (data, ms) in events {
            f.event(data, t0 + Duration::from_millis(*ms));
        }
        f.end(None, PromptTokens::words(3), None)
    }

    #[test]
    fn an_openai_stream_times_content_not_the_role_chunk_and_takes_usage() {
        let r = fold(
            Protocol::OpenAiChat,
            &[
                (
                    r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
                    5,
                ),
                (
                    r#"{"choices":[{"index":0,"delta":{"content":"tok1 tok2 "}}]}"#,
                    80,
                ),
                (
                    r#"{"choices":[{"index":0,"delta":{"content":"tok3 "},"finish_reason":"length"}]}"#,
                    100,
                ),
                (
                    r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#,
                    101,
                ),
                ("[DONE]", 101),
            ],
        );
        assert_eq!(r.error, None);
        assert_eq!(r.tokens.ttft_micros, Some(80_000));
        assert_eq!(r.tokens.itl_micros, [20_000]);
        assert_eq!((r.tokens.input_tokens, r.tokens.output_tokens), (7, 3));
        assert_eq!(r.tokens.source, TokenSource::Usage);
        // Two content chunks carry 3 tokens: TPOT is the 20 ms over the 2 tokens after the first.
        assert_eq!(r.tokens.tpot_micros(), Some(10_000));
        assert_eq!(r.finish_reason.as_deref(), Some("length"));
        assert_eq!(1 + r.tokens.itl_micros.len(), 2, "two content chunks");
    }

    #[test]
    fn an_anthropic_stream_reads_its_events() {
        let r = fold(
            Protocol::AnthropicMessages,
            &[
                (
                    r#"{"type":"message_start","message":{"usage":{"input_tokens":5}}}"#,
                    1,
                ),
                (r#"{"type":"content_block_start","index":0}"#, 1),
                (r#"{"type":"ping"}"#, 2),
                (
                    r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"a "}}"#,
                    50,
                ),
                (
                    r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"b "}}"#,
                    60,
                ),
                (
                    r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}"#,
                    61,
                ),
                (r#"{"type":"message_stop"}"#, 61),
            ],
        );
        assert_eq!(r.error, None);
        assert_eq!(
            (
                r.tokens.input_tokens,
                r.tokens.output_tokens,
                r.tokens.ttft_micros
            ),
            (5, 2, Some(50_000))
        );
        assert_eq!(r.finish_reason.as_deref(), Some("end_turn"));
    }

    #[test]
    fn every_bad_stream_is_a_named_failure_or_a_labelled_estimate() {
        let content = r#"{"choices":[{"delta":{"content":"x y "}}]}"#;
        type Events<'a> = &'a [(&'a str, u64)];
        let cases: [(Events<'_>, Option<&str>); 4] = [
            (&[(content, 1)], Some("the stream was cut before [DONE]")),
            (
                &[(content, 1), ("{not json", 2)],
                Some("malformed JSON in an LLM stream chunk"),
            ),
            (
                &[
                    (content, 1),
                    (r#"{"error":{"message":"boom","type":"server_error"}}"#, 2),
                ],
                Some("LLM error (server_error): boom"),
            ),
            (&[(content, 1), ("[DONE]", 2)], None),
        ];
        for (events, expected) in cases {
            let r = fold(Protocol::OpenAiChat, events);
            match expected {
                Some(e) => assert!(
                    r.error.as_deref().is_some_and(|x| x.starts_with(e)),
                    "{e}: {:?}",
                    r.error
                ),
                None => {
                    assert_eq!(r.error, None);
                    // No usage: counted words, labelled.
                    assert_eq!((r.tokens.output_tokens, r.tokens.input_tokens), (2, 3));
                    assert_eq!(r.tokens.source, TokenSource::Estimate);
                }
            }
        }
        let anthropic = fold(
            Protocol::AnthropicMessages,
            &[(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#,
                1,
            )],
        );
        assert_eq!(
            anthropic.error.as_deref(),
            Some("LLM error (overloaded_error): busy")
        );
    }

    #[test]
    fn a_whole_answer_gives_its_usage() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":"a b c"},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":3}}"#;
        let r = read_whole(
            Protocol::OpenAiChat,
            body,
            9_000,
            PromptTokens::words(1),
            None,
        );
        assert_eq!(
            (
                r.tokens.input_tokens,
                r.tokens.output_tokens,
                r.tokens.ttft_micros
            ),
            (4, 3, None)
        );
        assert_eq!(
            read_whole(
                Protocol::OpenAiChat,
                b"<html>",
                1,
                PromptTokens::words(1),
                None
            )
            .error
            .unwrap()
            .split(':')
            .next(),
            Some("malformed JSON answer")
        );
    }
}
