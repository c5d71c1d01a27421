//! Dataset files for LLM requests (`dataset = "prompts.jsonl"`): a row per request (or per
//! conversation, with `turns`), read once at load, every bad line named `file:line`.
//!
//! - JSONL: one JSON object a line with `prompt` (the user message) or `messages` (the whole
//!   array), and optionally `output_tokens` (sent as `max_tokens`, with `ignore_eos` for OpenAI
//!   APIs). Blank lines are skipped.
//! - ShareGPT: a JSON array of `{"conversations": [{"from": "human"|"gpt"|"system", "value":
//!   ...}]}`; a row's user turns are its `human` values, and each turn's output length is the
//!   length of the `gpt` reply after it (as vLLM's benchmark takes the reply's length), so the
//!   server is asked for answers as long as the recorded ones: its tokens by the run's
//!   `--tokenizer` when there is one (the reply is kept for that), else its
//!   whitespace-separated words.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use serde_json::Value;

use super::tokenizer::TokenCounter;

/// One user turn of a row.
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    pub text: String,
    /// The length asked for: the row's `output_tokens`, or a ShareGPT reply's words.
    pub output_tokens: Option<u32>,
    /// The recorded reply (ShareGPT), so a `--tokenizer` known only when the run starts can
    /// count it in its own tokens.
    pub reply: Option<String>,
    /// The reply's length in the run's tokenizer (a run has one, and its own dataset), counted
    /// at its first send: tokenizing a long reply costs more than the request, so not at every
    /// send.
    pub reply_tokens: OnceLock<u32>,
}

impl Turn {
    /// The output length to ask for: the reply's tokens by `tokenizer` when both exist (at
    /// least 1), else [`Turn::output_tokens`].
    pub fn output_tokens_by(&self, tokenizer: Option<&TokenCounter>) -> Option<u32> {
        match (tokenizer, &self.reply) {
            (Some(t), Some(reply)) => Some(
                *self
                    .reply_tokens
                    .get_or_init(|| t.count(reply).clamp(1, u32::MAX as u64) as u32),
            ),
            _ => self.output_tokens,
        }
    }
}

/// One row: user turns in order, or a whole messages array.
#[derive(Clone, Debug, PartialEq)]
pub enum Row {
    Turns(Vec<Turn>),
    Messages {
        messages: Value,
        output_tokens: Option<u32>,
    },
}

/// A dataset's rows, handed out in order (looping) to every user of the process.
#[derive(Debug)]
pub struct Dataset {
    pub path: String,
    pub rows: Vec<Row>,
    next: AtomicUsize,
}

/// A bad line of a dataset: what and where (`line` from 1; 0 for the whole file).
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("{}: {message}", place(path, *line))]
pub struct DatasetError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

fn place(path: &str, line: usize) -> String {
    match line {
        0 => path.to_string(),
        n => format!("{path}:{n}"),
    }
}

/// Which format a dataset is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    ShareGpt,
}

impl Dataset {
    pub fn new(path: String, rows: Vec<Row>) -> Dataset {
        Dataset {
            path,
            rows,
            next: AtomicUsize::new(0),
        }
    }

    /// The index of the next row (rows go round in file order).
    pub fn next_index(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.rows.len()
    }

    /// Parses `text` (the file `path`) in `format`.
    pub fn parse(path: &str, text: &str, format: Format) -> Result<Dataset, DatasetError> {
        let rows = match format {
            Format::Jsonl => jsonl(path, text)?,
            Format::ShareGpt => sharegpt(path, text)?,
        };
        if rows.is_empty() {
            return Err(DatasetError {
                path: path.into(),
                line: 0,
                message: "the dataset has no rows".into(),
            });
        }
        Ok(Dataset::new(path.into(), rows))
    }
}

fn jsonl(path: &str, text: &str) -> Result<Vec<Row>, DatasetError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fail = |message: String| DatasetError {
            path: path.into(),
            line: i + 1,
            message,
        };
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .map_err(|e| fail(format!("not JSON ({e}); write one JSON object a line")))?;
        let Some(object) = value.as_object() else {
            return Err(fail(
                "not a JSON object; write e.g. {\"prompt\": \"...\"}".into(),
            ));
        };
        let output_tokens = match object.get("output_tokens") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| (1..=1_000_000).contains(&n)) => {
                n.as_u64().map(|n| n as u32)
            }
            Some(other) => {
                return Err(fail(format!(
                    "`output_tokens` is {other}: give a whole number of tokens from 1"
                )))
            }
        };
        let row = match (object.get("prompt"), object.get("messages")) {
            (Some(Value::String(p)), None) => Row::Turns(vec![Turn {
                text: p.clone(),
                output_tokens,
                reply: None,
                reply_tokens: OnceLock::new(),
            }]),
            (None, Some(m @ Value::Array(_))) => Row::Messages {
                messages: m.clone(),
                output_tokens,
            },
            (Some(_), Some(_)) => {
                return Err(fail("a row has `prompt` or `messages`, not both".into()))
            }
            (Some(_), None) => return Err(fail("`prompt` is not a string".into())),
            (None, Some(_)) => return Err(fail("`messages` is not an array".into())),
            (None, None) => {
                return Err(fail(
                    "the row has no `prompt` or `messages`; write e.g. {\"prompt\": \"...\", \"output_tokens\": 128}".into(),
                ))
            }
        };
        rows.push(row);
    }
    Ok(rows)
}

fn sharegpt(path: &str, text: &str) -> Result<Vec<Row>, DatasetError> {
    let fail = |line: usize, message: String| DatasetError {
        path: path.into(),
        line,
        message,
    };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        fail(
            e.line(),
            format!("not JSON ({e}); a ShareGPT file is one JSON array of conversations"),
        )
    })?;
    let Some(list) = value.as_array() else {
        return Err(fail(
            1,
            "not a JSON array; a ShareGPT file is [{\"conversations\": [{\"from\": \"human\", \"value\": \"...\"}, ...]}, ...]".into(),
        ));
    };
    let mut rows = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let where_ = |what: &str| format!("conversation {} ({what})", i + 1);
        let turns = entry
            .get("conversations")
            .and_then(Value::as_array)
            .ok_or_else(|| fail(0, where_("no `conversations` array")))?;
        let mut out: Vec<Turn> = Vec::new();
        for turn in turns {
            let from = turn.get("from").and_then(Value::as_str);
            let text = turn.get("value").and_then(Value::as_str);
            match (from, text) {
                (Some("human" | "user"), Some(t)) => out.push(Turn {
                    text: t.to_string(),
                    output_tokens: None,
                    reply: None,
                    reply_tokens: OnceLock::new(),
                }),
                (Some("gpt" | "assistant" | "chatgpt" | "bard" | "bing"), Some(t)) => {
                    if let Some(last) = out.last_mut().filter(|l| l.output_tokens.is_none()) {
                        let words = t.split_whitespace().count() as u32;
                        last.output_tokens = Some(words.max(1));
                        last.reply = Some(t.to_string());
                    }
                }
                (Some(_), Some(_)) => {}
                _ => return Err(fail(0, where_("a turn without `from` and `value` strings"))),
            }
        }
        // Conversations without a user turn (some ShareGPT dumps have them) send nothing.
        if !out.is_empty() {
            rows.push(Row::Turns(out));
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_rows_and_their_bad_lines() {
        let text = "{\"prompt\": \"a b\", \"output_tokens\": 5}\n\n{\"messages\": [{\"role\": \"user\", \"content\": \"c\"}]}\n";
        let d = Dataset::parse("p.jsonl", text, Format::Jsonl).unwrap();
        assert_eq!(d.rows.len(), 2);
        assert_eq!(
            d.rows[0],
            Row::Turns(vec![Turn {
                text: "a b".into(),
                output_tokens: Some(5),
                reply: None,
                reply_tokens: OnceLock::new(),
            }])
        );
        let bad = |text: &str| {
            Dataset::parse("p.jsonl", text, Format::Jsonl)
                .unwrap_err()
                .to_string()
        };
        assert!(bad("{\"prompt\": \"a\"}\n{oops\n").starts_with("p.jsonl:2: not JSON"));
        assert!(bad("{\"text\": \"a\"}").starts_with("p.jsonl:1: the row has no `prompt`"));
        assert!(bad("{\"prompt\": \"a\", \"output_tokens\": 0}").contains("`output_tokens` is 0"));
        assert!(bad("[1]").contains("not a JSON object"));
        assert!(bad("\n\n").contains("no rows"));
    }

    #[test]
    fn sharegpt_turns_take_the_reply_lengths() {
        let text = r#"[
          {"id": "a", "conversations": [
            {"from": "system", "value": "be brief"},
            {"from": "human", "value": "hi there"},
            {"from": "gpt", "value": "one two three"},
            {"from": "human", "value": "more"},
            {"from": "gpt", "value": "four five"}]},
          {"id": "b", "conversations": [{"from": "gpt", "value": "orphan"}]}
        ]"#;
        let d = Dataset::parse("s.json", text, Format::ShareGpt).unwrap();
        assert_eq!(
            d.rows.len(),
            1,
            "a conversation without a user turn sends nothing"
        );
        let Row::Turns(turns) = &d.rows[0] else {
            panic!()
        };
        let lengths: Vec<_> = turns.iter().map(|t| t.output_tokens).collect();
        assert_eq!(lengths, [Some(3), Some(2)]);
        assert_eq!(turns[1].reply.as_deref(), Some("four five"));
        assert_eq!(turns[1].output_tokens_by(None), Some(2));
        let err = Dataset::parse("s.json", "[\n{\"conversations\": 3}\n]", Format::ShareGpt)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("conversation 1 (no `conversations` array)"),
            "{err}"
        );
        let err = Dataset::parse("s.json", "[\n{oops", Format::ShareGpt)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("s.json:2: not JSON"), "{err}");
    }
}
