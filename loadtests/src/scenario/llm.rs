//! The keys of a declared request to an LLM endpoint (`protocol`, `model`, `prompt` or
//! `messages`, `max_tokens`, `extra`, and the objectives `ttft_ms`, `tpot_ms`, `e2e_ms`),
//! validated into an [`LlmRequest`] with `file:line:col` errors.
use toml::Spanned;

use super::data_file::{DataFile, DataSource};
use super::error::{Locator, ScenarioError};
use super::raw_request::RawRequest;
use super::templates::{compile, json};
use crate::users::llm::{Input, LlmRequest, Objectives, Protocol};
use crate::users::template::TemplateNames;

/// The LLM request `r` makes, if it has a `protocol`; LLM keys without one are refused.
pub(super) fn request_of(
    r: &RawRequest,
    names: TemplateNames<'_>,
    sample_row: &[Box<str>],
    source: DataSource<'_>,
    read: &mut Vec<DataFile>,
    at: &Locator<'_>,
) -> Result<Option<LlmRequest>, ScenarioError> {
    let Some(protocol) = &r.protocol else {
        let stray = [&r.model, &r.prompt, &r.messages, &r.extra, &r.dataset]
            .into_iter()
            .flatten()
            .next();
        if let Some(key) = stray {
            return Err(at.at(
                key.span(),
                "an LLM key on a request without `protocol`",
                "add `protocol = \"openai-chat\"` (or \"openai-completions\", \"anthropic-messages\")",
            ));
        }
        return Ok(None);
    };
    let protocol = at.choice(
        protocol,
        "protocol",
        &Protocol::ALL,
        "write `protocol = \"openai-chat\"` (/v1/chat/completions), `\"openai-completions\"` (/v1/completions) or `\"anthropic-messages\"` (/v1/messages)",
    )?;
    let model = match &r.model {
        Some(m) => compile(m, names, at)?,
        None => {
            return Err(at.at(
                r.name.span(),
                format!("LLM request `{}` has no `model`", r.name.get_ref()),
                "name the served model, e.g. `model = \"meta-llama/Llama-3.1-8B-Instruct\"`",
            ))
        }
    };
    let dataset = super::llm_dataset::dataset_of(r, source, read, at)?;
    let turns = super::llm_dataset::turns_of(r, protocol, at)?;
    let shape = super::llm_shape::shape_of(r, at)?;
    let synthetic = shape.as_ref().is_some_and(|s| s.input.is_some());
    let input = match (&r.prompt, &r.messages, dataset) {
        (None, None, Some(dataset)) => Input::Dataset(dataset),
        (None, None, None) if synthetic => Input::Synthetic,
        (Some(p), None, _) => Input::Prompt(compile(p, names, at)?),
        (None, Some(m), _) => {
            let template = json(compile(m, names, at)?, m, sample_row, at)?;
            let sample: serde_json::Value =
                serde_json::from_str(&template.sample(sample_row)).expect("checked as JSON");
            if !sample.is_array() {
                return Err(at.at(
                    m.span(),
                    "`messages` must render to a JSON array of messages",
                    "write e.g. `messages = '[{\"role\": \"user\", \"content\": \"{{pick(a, b)}}\"}]'`",
                ));
            }
            Input::Messages(template)
        }
        (Some(_), Some(m), _) => {
            return Err(at.at(
                m.span(),
                "an LLM request has `prompt` or `messages`, not both",
                "keep `prompt` (the user message) or `messages` (the whole array)",
            ))
        }
        (None, None, _) => {
            return Err(at.at(
                r.name.span(),
                format!(
                    "LLM request `{}` has no `prompt` or `messages`",
                    r.name.get_ref()
                ),
                "write `prompt = \"...\"` (a template: the user message), or `input_tokens = 550` for a synthetic prompt of that many tokens",
            ))
        }
    };
    let max_tokens = match &r.max_tokens {
        None => None,
        Some(n) if *n.get_ref() > 0 => Some(*n.get_ref() as u64),
        Some(n) => {
            return Err(at.at(
                n.span(),
                format!("max_tokens is {}", n.get_ref()),
                "give a positive number of output tokens, e.g. `max_tokens = 256`",
            ))
        }
    };
    let extra = match &r.extra {
        None => None,
        Some(e) => {
            let template = json(compile(e, names, at)?, e, sample_row, at)?;
            let sample: serde_json::Value =
                serde_json::from_str(&template.sample(sample_row)).expect("checked as JSON");
            if !sample.is_object() {
                return Err(at.at(
                    e.span(),
                    "`extra` must render to a JSON object merged into the body",
                    "write e.g. `extra = '{\"temperature\": 0, \"ignore_eos\": true}'`",
                ));
            }
            Some(template)
        }
    };
    let objective = |v: &Option<Spanned<f64>>| -> Result<Option<f64>, ScenarioError> {
        match v {
            None => Ok(None),
            Some(ms) if ms.get_ref().is_finite() && *ms.get_ref() > 0.0 => Ok(Some(*ms.get_ref())),
            Some(ms) => Err(at.at(
                ms.span(),
                format!("objective {} ms is not a usable limit", ms.get_ref()),
                "give a positive number of milliseconds, e.g. `ttft_ms = 500`",
            )),
        }
    };
    let objectives = Objectives {
        ttft_ms: objective(&r.ttft_ms)?,
        tpot_ms: objective(&r.tpot_ms)?,
        e2e_ms: objective(&r.e2e_ms)?,
    };
    let stream = r.stream.as_ref().is_none_or(|s| *s.get_ref());
    Ok(Some(LlmRequest {
        protocol,
        model,
        input,
        max_tokens,
        stream,
        extra,
        objectives,
        shape,
        turns,
    }))
}

/// An LLM request carries its own body: no `jsonrpc`, `params`, `body` or `chunk`.
pub(super) fn no_other_payload(r: &RawRequest, at: &Locator<'_>) -> Result<(), ScenarioError> {
    let other = [&r.jsonrpc, &r.params, &r.body, &r.chunk]
        .into_iter()
        .flatten()
        .next();
    match other {
        Some(key) => Err(at.at(
            key.span(),
            "an LLM request builds its own body",
            "remove `jsonrpc`, `params`, `body` and `chunk`: `prompt`/`messages`, `max_tokens` and `extra` make the body",
        )),
        None => Ok(()),
    }
}
