//! Declared requests to LLM endpoints (`protocol = "openai-chat"`, `"openai-completions"`,
//! `"anthropic-messages"`): the body built as each API expects (streamed with usage asked
//! for), the answer read knowing the protocol ([`answer`]): content deltas are output, a
//! role-only first chunk is not a token, `usage` gives the token counts, and the request is
//! measured as the LLM benchmarks measure it (`reports::TokenTiming`).
pub mod answer;
pub mod conversation;
pub mod dataset;
pub mod shape;
pub mod tokenizer;

use std::time::Instant;

use reqwest::header::{HeaderValue, ACCEPT};
use serde_json::{Map, Value};

use super::behaviour::Call;
use super::http::{http_error, record, record_carrying, Carried, Timed};
use super::template::{Template, UserValues};
pub use conversation::LlmUser;
use conversation::Said;
use dataset::{Dataset, Row};
pub use shape::{Drawn, ShapeState, TokenShape};
use tokenizer::TokenCounter;

/// Which API a request speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    OpenAiChat,
    OpenAiCompletions,
    AnthropicMessages,
}

impl Protocol {
    pub const ALL: [(&'static str, Protocol); 3] = [
        ("openai-chat", Protocol::OpenAiChat),
        ("openai-completions", Protocol::OpenAiCompletions),
        ("anthropic-messages", Protocol::AnthropicMessages),
    ];

    /// Where the API answers when the request gives no `path`.
    pub fn default_path(self) -> &'static str {
        match self {
            Protocol::OpenAiChat => "/v1/chat/completions",
            Protocol::OpenAiCompletions => "/v1/completions",
            Protocol::AnthropicMessages => "/v1/messages",
        }
    }
}

/// What the user sends: a prompt (the user message) or the whole messages array.
pub enum Input {
    Prompt(Template),
    /// A template that renders to a JSON array of messages.
    Messages(Template),
    /// A synthetic prompt of [`TokenShape::input`] tokens.
    Synthetic,
    /// A row of a dataset file per request (or per conversation).
    Dataset(Dataset),
}

/// A prompt's tokens as Skein can count them: its words (the estimate), and the
/// `--tokenizer`'s count when the run has one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PromptTokens {
    pub words: u64,
    pub tokenized: Option<u64>,
}

impl PromptTokens {
    pub fn words(words: u64) -> PromptTokens {
        PromptTokens {
            words,
            tokenized: None,
        }
    }
}

/// Per-request objectives: a request meets them when each one given holds (goodput).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Objectives {
    pub ttft_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
    pub e2e_ms: Option<f64>,
}

impl Objectives {
    pub fn any(&self) -> bool {
        self.ttft_ms.is_some() || self.tpot_ms.is_some() || self.e2e_ms.is_some()
    }

    /// Whether an answer with these figures (ms) met every objective given; a missing figure
    /// (no TTFT: nothing streamed; no TPOT: one token) fails the objective on it.
    pub fn met(&self, ttft: Option<f64>, tpot: Option<f64>, e2e: f64) -> bool {
        let within = |limit: Option<f64>, value: Option<f64>| match limit {
            None => true,
            Some(limit) => value.is_some_and(|v| v <= limit),
        };
        within(self.ttft_ms, ttft) && within(self.tpot_ms, tpot) && within(self.e2e_ms, Some(e2e))
    }
}

/// An LLM request of a declared class, its templates compiled.
pub struct LlmRequest {
    pub protocol: Protocol,
    pub model: Template,
    pub input: Input,
    pub max_tokens: Option<u64>,
    pub stream: bool,
    /// A JSON object merged into the body (`temperature`, `ignore_eos`, ...).
    pub extra: Option<Template>,
    pub objectives: Objectives,
    pub shape: Option<TokenShape>,
    /// Turns of a conversation (1: every request stands alone); each turn sends the earlier
    /// turns' messages and the assistant's answers.
    pub turns: u32,
}

impl LlmRequest {
    /// Whether a user keeps an [`LlmUser`] for this request between sends.
    pub fn keeps_state(&self) -> bool {
        self.shape.is_some() || self.turns > 1 || matches!(self.input, Input::Dataset(_))
    }

    /// A user's state for this request.
    pub fn start(&self, tokenizer: Option<&TokenCounter>) -> LlmUser {
        LlmUser::new(self.shape.as_ref(), tokenizer)
    }
}

/// The body for one request, and the prompt's tokens as Skein counts them (what the counts
/// are when the server sends no usage).
pub struct RenderedBody {
    pub body: String,
    pub prompt: PromptTokens,
    /// The lengths drawn for it (token-shaped load): (input incl. prefix, output).
    pub drawn: (Option<u32>, Option<u32>),
    /// Whether this turn is its dataset row's last user turn (the conversation then ends).
    pub last_turn: bool,
}

impl LlmRequest {
    /// The templates this request renders.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        let input = match &self.input {
            Input::Prompt(t) | Input::Messages(t) => Some(t),
            Input::Synthetic | Input::Dataset(_) => None,
        };
        [Some(&self.model), input, self.extra.as_ref()]
            .into_iter()
            .flatten()
    }

    /// Renders the body for a user with `values` (and, for token-shaped load, its stream
    /// `state`); `Err(index)` names a capture not made yet. Parts that are not the JSON they
    /// must be (validated at load with sample values) fall back to text, so the server judges
    /// them.
    pub fn render(
        &self,
        values: UserValues<'_>,
        mut state: Option<&mut LlmUser>,
        tokenizer: Option<&TokenCounter>,
    ) -> Result<RenderedBody, usize> {
        let text = |t: &Template| -> Result<String, usize> {
            let mut out = String::new();
            t.render(values, &mut out)?;
            Ok(out)
        };
        let mut body = Map::new();
        body.insert("model".into(), Value::String(text(&self.model)?));
        let mut drawn = (None, None);
        let mut output = None;
        let mut last_turn = true;
        // What the user says this turn.
        let said = match &self.input {
            Input::Prompt(t) => Said::Text(text(t)?),
            Input::Messages(t) => {
                let input = text(t)?;
                Said::Messages(serde_json::from_str(&input).unwrap_or(Value::String(input)))
            }
            Input::Synthetic => Said::Text(String::new()),
            Input::Dataset(dataset) => {
                let user = state
                    .as_deref_mut()
                    .expect("a dataset request keeps a state");
                let (row, turn) = user.dataset_turn(dataset);
                match row {
                    Row::Messages {
                        messages,
                        output_tokens,
                    } => {
                        output = *output_tokens;
                        Said::Messages(messages.clone())
                    }
                    Row::Turns(turns) => {
                        let turn = &turns[turn.min(turns.len() - 1)];
                        last_turn = std::ptr::eq(turn, turns.last().expect("rows have a turn"));
                        output = turn.output_tokens_by(tokenizer);
                        Said::Text(turn.text.clone())
                    }
                }
            }
        };
        if !matches!(self.input, Input::Dataset(_)) {
            last_turn = false;
        }
        let said = match (self.shape.as_ref(), state.as_deref_mut()) {
            (Some(shape), Some(LlmUser { shape: Some(s), .. })) => {
                let next = shape.next(s, tokenizer);
                drawn = (next.input, next.output);
                output = output.or(next.output);
                match next.prompt {
                    Some(prompt) => Said::Text(prompt),
                    None => said,
                }
            }
            _ => said,
        };
        let messages = match (said, state) {
            (Said::Text(t), _) if self.protocol == Protocol::OpenAiCompletions => Value::String(t),
            (said, Some(user)) => user.messages(said, self.turns),
            (Said::Text(t), None) => serde_json::json!([{ "role": "user", "content": t }]),
            (Said::Messages(m), None) => m,
        };
        let prompt = PromptTokens {
            words: message_words(&messages),
            tokenized: tokenizer.map(|t| message_texts(&messages, |s| t.count(s))),
        };
        let key = match self.protocol {
            Protocol::OpenAiCompletions => "prompt",
            _ => "messages",
        };
        body.insert(key.into(), messages);
        let max_tokens = match (output.map(u64::from).or(self.max_tokens), self.protocol) {
            (Some(n), _) => Some(n),
            // Anthropic requires one.
            (None, Protocol::AnthropicMessages) => Some(DEFAULT_ANTHROPIC_MAX_TOKENS),
            (None, _) => None,
        };
        if let Some(n) = max_tokens {
            body.insert("max_tokens".into(), Value::from(n));
        }
        // vLLM's (and SGLang's) `ignore_eos`: generate exactly the drawn length, as vLLM bench,
        // AIPerf and GuideLLM ask; Anthropic's API has no such key.
        if output.is_some() && self.protocol != Protocol::AnthropicMessages {
            body.insert("ignore_eos".into(), Value::Bool(true));
        }
        body.insert("stream".into(), Value::Bool(self.stream));
        if self.stream && self.protocol != Protocol::AnthropicMessages {
            body.insert(
                "stream_options".into(),
                serde_json::json!({ "include_usage": true }),
            );
        }
        if let Some(extra) = &self.extra {
            if let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(&text(extra)?) {
                body.extend(extra);
            }
        }
        Ok(RenderedBody {
            body: Value::Object(body).to_string(),
            prompt,
            drawn,
            last_turn,
        })
    }
}

/// Sends one LLM request (its body already on `builder`) and records it under
/// `(method, name)`: latency to the last byte, the content chunks as a stream, the tokens.
/// The answer's text when it succeeded (a multi-turn chat sends it back next turn).
pub async fn send(
    call: &Call,
    (method, name): (&'static str, &'static str),
    llm: &LlmRequest,
    builder: reqwest::RequestBuilder,
    prompt: PromptTokens,
    expect_status: &[u16],
) -> Option<String> {
    let tokenizer = call.ctx.tokenizer.as_deref();
    let accept = if llm.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    let builder = builder.header(ACCEPT, accept);
    let builder = if llm.protocol == Protocol::AnthropicMessages {
        builder.header(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        )
    } else {
        builder
    };
    let sent_at = Instant::now();
    // Plain HTTP goes on Skein's own connections: an open stream holds a few KiB there.
    let response = match call.ctx.transport.open(builder).await {
        Ok(r) => r,
        Err(error) => {
            record(call, method, name, Timed::since(sent_at), 0, Some(&error));
            return None;
        }
    };
    let status = response.status();
    let streamed = response.is_event_stream();
    let read = if expect_status.contains(&status) && llm.stream && streamed {
        answer::read_stream(llm.protocol, response, sent_at, prompt, tokenizer).await
    } else {
        let outcome = response.bytes().await;
        let elapsed = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX);
        match outcome {
            Err(e) => answer::LlmRead {
                error: Some(format!("reading the body failed: {e}")),
                ..answer::LlmRead::default()
            },
            Ok(body) if !expect_status.contains(&status) => {
                // The API's own error words when it gave them, else the status.
                let mut read = answer::read_whole(llm.protocol, &body, elapsed, prompt, tokenizer);
                read.error = Some(match read.error {
                    Some(e) if e.starts_with("LLM error") => format!("{}: {e}", http_error(status)),
                    _ => http_error(status),
                });
                read
            }
            Ok(body) => {
                let mut read = answer::read_whole(llm.protocol, &body, elapsed, prompt, tokenizer);
                if llm.stream && read.error.is_none() {
                    read.error = Some(
                        "expected a text/event-stream answer to a streamed LLM request".into(),
                    );
                }
                read
            }
        }
    };
    let timed = Timed::since(sent_at);
    let mut tokens = read.tokens;
    if llm.objectives.any() {
        let ms = |us: u64| us as f64 / 1000.0;
        let e2e = timed.elapsed.as_secs_f64() * 1000.0;
        let met = llm.objectives.met(
            tokens.ttft_micros.map(ms),
            tokens.tpot_micros().map(ms),
            e2e,
        );
        tokens.met_objectives = Some(met);
    }
    let carried = Carried {
        items: 0,
        // The content chunks' timing is the tokens' (the recorder reads it for both).
        stream: None,
        tokens: Some(&tokens),
    };
    record_carrying(
        call,
        method,
        name,
        timed,
        read.bytes,
        carried,
        read.error.as_deref(),
    );
    read.error.is_none().then_some(read.text)
}

/// The `anthropic-version` header every Anthropic request carries.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// `max_tokens` of an Anthropic request that gives none (the API requires the key).
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u64 = 256;

/// Whitespace-separated words: Skein's token estimate when the server sends no usage.
pub fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The words of every text content of a messages array.
fn message_words(messages: &Value) -> u64 {
    message_texts(messages, words)
}

/// `count` summed over every text content of a messages array (or a plain string).
fn message_texts(messages: &Value, count: impl Fn(&str) -> u64) -> u64 {
    let Some(list) = messages.as_array() else {
        return messages.as_str().map_or(0, &count);
    };
    list.iter()
        .map(|m| match m.get("content") {
            Some(Value::String(s)) => count(s),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .map(&count)
                .sum(),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::template::TemplateNames;

    fn template(text: &str) -> Template {
        Template::compile(text, TemplateNames::default(), &|_| None).unwrap()
    }

    fn request(protocol: Protocol, input: Input) -> LlmRequest {
        LlmRequest {
            protocol,
            model: template("m"),
            input,
            max_tokens: Some(32),
            stream: true,
            extra: Some(template(r#"{"temperature": 0, "ignore_eos": true}"#)),
            objectives: Objectives::default(),
            shape: None,
            turns: 1,
        }
    }

    fn body(r: &LlmRequest) -> Value {
        let values = UserValues {
            captured: &[],
            row: &[],
        };
        serde_json::from_str(&r.render(values, None, None).unwrap().body).unwrap()
    }

    #[test]
    fn each_protocol_gets_the_body_its_api_expects() {
        let chat = body(&request(
            Protocol::OpenAiChat,
            Input::Prompt(template("say \"hi\" now")),
        ));
        assert_eq!(chat["messages"][0]["content"], "say \"hi\" now");
        assert_eq!(chat["stream_options"]["include_usage"], true);
        assert_eq!(
            (chat["max_tokens"].as_u64(), chat["ignore_eos"].as_bool()),
            (Some(32), Some(true))
        );
        let completion = body(&request(
            Protocol::OpenAiCompletions,
            Input::Prompt(template("p q")),
        ));
        assert_eq!(completion["prompt"], "p q");
        let mut anthropic = request(
            Protocol::AnthropicMessages,
            Input::Messages(template(
                r#"[{"role": "user", "content": [{"type": "text", "text": "a b c"}]}]"#,
            )),
        );
        anthropic.max_tokens = None;
        let a = body(&anthropic);
        assert_eq!(a["max_tokens"], DEFAULT_ANTHROPIC_MAX_TOKENS);
        assert!(a.get("stream_options").is_none());
        assert_eq!(
            anthropic
                .render(
                    UserValues {
                        captured: &[],
                        row: &[]
                    },
                    None,
                    None
                )
                .unwrap()
                .prompt,
            PromptTokens::words(3)
        );
    }

    #[test]
    fn objectives_hold_only_when_every_one_given_does() {
        let o = Objectives {
            ttft_ms: Some(100.0),
            tpot_ms: Some(10.0),
            e2e_ms: None,
        };
        assert!(o.met(Some(90.0), Some(9.0), 5_000.0));
        assert!(!o.met(Some(110.0), Some(9.0), 1.0));
        assert!(!o.met(None, Some(9.0), 1.0), "no first token: not met");
        assert!(Objectives::default().met(None, None, 1.0));
    }
}
