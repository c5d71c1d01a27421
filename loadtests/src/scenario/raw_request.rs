//! One `[[user_classes.requests]]` (or `on_start`/`on_stop`) entry as written, with its spans:
//! what [`super::request`] validates, and the definition that enters the scenario's hash.
use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::users::ThinkTime;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequest {
    pub(super) name: Spanned<String>,
    pub(super) weight: Option<Spanned<i64>>,
    pub(super) method: Option<Spanned<String>>,
    /// Required, except for an LLM request (its API's path by default).
    pub(super) path: Option<Spanned<String>>,
    pub(super) jsonrpc: Option<Spanned<String>>,
    pub(super) params: Option<Spanned<String>>,
    pub(super) body: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, Spanned<String>>,
    pub(super) expect_status: Option<Spanned<Vec<i64>>>,
    #[serde(default)]
    pub(super) tolerate: Vec<i64>,
    #[serde(default)]
    pub(super) capture: BTreeMap<String, Spanned<String>>,
    pub(super) think_time: Option<Spanned<Vec<toml::Value>>>,
    /// Read the answer as server-sent events, timing each chunk.
    pub(super) stream: Option<Spanned<bool>>,
    /// With `stream`: which events are chunks (a JSON pointer they hold).
    pub(super) chunk: Option<Spanned<String>>,
    /// An LLM request's keys (see `scenario::llm`): the API it speaks, ...
    pub(super) protocol: Option<Spanned<String>>,
    pub(super) model: Option<Spanned<String>>,
    /// ... the user message (a template) or the whole messages array (a template) ...
    pub(super) prompt: Option<Spanned<String>>,
    pub(super) messages: Option<Spanned<String>>,
    pub(super) max_tokens: Option<Spanned<i64>>,
    /// ... token-shaped load: synthetic prompts of `input_tokens` (a count or a distribution
    /// table), answers of `output_tokens`, a shared prefix, the seed of the draws ...
    pub(super) input_tokens: Option<Spanned<toml::Value>>,
    pub(super) output_tokens: Option<Spanned<toml::Value>>,
    pub(super) prefix_tokens: Option<Spanned<i64>>,
    pub(super) seed: Option<Spanned<i64>>,
    /// ... a dataset file of prompts (JSONL or ShareGPT), and turns per conversation ...
    pub(super) dataset: Option<Spanned<String>>,
    pub(super) dataset_format: Option<Spanned<String>>,
    pub(super) turns: Option<Spanned<i64>>,
    /// ... a JSON object merged into the body ...
    pub(super) extra: Option<Spanned<String>>,
    /// ... and the request's objectives (goodput).
    pub(super) ttft_ms: Option<Spanned<f64>>,
    pub(super) tpot_ms: Option<Spanned<f64>>,
    pub(super) e2e_ms: Option<Spanned<f64>>,
    /// A JSON-RPC notification: no `id`, an answer without a body (usually 202).
    pub(super) notification: Option<Spanned<bool>>,
    /// Items the request carried: a count or a JSON pointer into the answer.
    pub(super) items: Option<Spanned<toml::Value>>,
}

impl RawRequest {
    /// The request as written (its think time as read), for the scenario's settings and hash.
    pub(super) fn definition(&self, think_time: Option<ThinkTime>) -> serde_json::Value {
        let text = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.get_ref().clone());
        let map = |m: &BTreeMap<String, Spanned<String>>| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                .collect::<BTreeMap<_, _>>()
        };
        serde_json::json!({
            "name": self.name.get_ref(),
            "weight": self.weight.as_ref().map(|w| *w.get_ref()),
            "method": text(&self.method),
            "path": self.path.as_ref().map(|p| p.get_ref()),
            "jsonrpc": text(&self.jsonrpc),
            "params": text(&self.params),
            "body": text(&self.body),
            "headers": map(&self.headers),
            "expect_status": self.expect_status.as_ref().map(|e| e.get_ref().clone()),
            "tolerate": self.tolerate,
            "capture": map(&self.capture),
            "think_time_ms": think_time.map(|t| [t.min.as_millis() as u64, t.max.as_millis() as u64]),
            "stream": self.stream.as_ref().map(|s| *s.get_ref()),
            "chunk": text(&self.chunk),
            "items": self.items.as_ref().map(|i| i.get_ref().to_string()),
            "notification": self.notification.as_ref().map(|n| *n.get_ref()),
            "llm": llm_definition(self),
        })
    }
}

/// The request's LLM keys as written, for the scenario's hash (`null` for other requests).
fn llm_definition(r: &RawRequest) -> serde_json::Value {
    if r.protocol.is_none() {
        return serde_json::Value::Null;
    }
    let text = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.get_ref().clone());
    let number = |v: &Option<Spanned<f64>>| v.as_ref().map(|s| *s.get_ref());
    serde_json::json!({
        "protocol": text(&r.protocol),
        "model": text(&r.model),
        "prompt": text(&r.prompt),
        "messages": text(&r.messages),
        "max_tokens": r.max_tokens.as_ref().map(|m| *m.get_ref()),
        "extra": text(&r.extra),
        "input_tokens": r.input_tokens.as_ref().map(|v| v.get_ref().to_string()),
        "output_tokens": r.output_tokens.as_ref().map(|v| v.get_ref().to_string()),
        "prefix_tokens": r.prefix_tokens.as_ref().map(|v| *v.get_ref()),
        "seed": r.seed.as_ref().map(|v| *v.get_ref()),
        "dataset": text(&r.dataset),
        "dataset_format": text(&r.dataset_format),
        "turns": r.turns.as_ref().map(|v| *v.get_ref()),
        "ttft_ms": number(&r.ttft_ms),
        "tpot_ms": number(&r.tpot_ms),
        "e2e_ms": number(&r.e2e_ms),
    })
}
