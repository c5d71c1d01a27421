//! The token-shaped keys of an LLM request (`input_tokens`, `output_tokens`, `prefix_tokens`,
//! `seed`), validated into a [`TokenShape`] with `file:line:col` errors.
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use super::raw_request::RawRequest;
use crate::users::llm::shape::Length;
use crate::users::llm::TokenShape;

/// Most tokens one drawn length may be: far beyond any context window is a typo.
const MAX_TOKENS: i64 = 1_000_000;

const HINT: &str = "write a count, e.g. `input_tokens = 550`, or a distribution: `{ distribution = \"fixed\", value = 550 }`, `{ distribution = \"uniform\", min = 100, max = 1000 }` or `{ distribution = \"normal\", mean = 550, stddev = 150, min = 1, max = 4096 }`";

/// The request's token shape, if it has any of the keys.
pub(super) fn shape_of(
    r: &RawRequest,
    at: &Locator<'_>,
) -> Result<Option<TokenShape>, ScenarioError> {
    if r.input_tokens.is_none() && r.output_tokens.is_none() && r.prefix_tokens.is_none() {
        if let Some(seed) = &r.seed {
            return Err(at.at(
                seed.span(),
                "`seed` without `input_tokens` or `output_tokens` seeds nothing",
                "add `input_tokens = ...` or `output_tokens = ...`, or remove `seed`",
            ));
        }
        return Ok(None);
    }
    if let (Some(_), Some(p)) = (&r.input_tokens, &r.prompt) {
        return Err(at.at(
            p.span(),
            "an LLM request has `prompt` or `input_tokens`, not both",
            "keep `input_tokens` (a synthetic prompt of that many tokens) or `prompt` (your text)",
        ));
    }
    if let (Some(_), Some(m)) = (&r.input_tokens, &r.messages) {
        return Err(at.at(
            m.span(),
            "an LLM request has `messages` or `input_tokens`, not both",
            "keep `input_tokens` (a synthetic prompt of that many tokens) or `messages`",
        ));
    }
    if let (Some(_), Some(m)) = (&r.output_tokens, &r.max_tokens) {
        return Err(at.at(
            m.span(),
            "an LLM request has `max_tokens` or `output_tokens`, not both",
            "keep `output_tokens` (drawn per request, sent as `max_tokens`) or a fixed `max_tokens`",
        ));
    }
    let prefix_tokens = match &r.prefix_tokens {
        None => 0,
        Some(p) if (0..=MAX_TOKENS).contains(p.get_ref()) => *p.get_ref() as u32,
        Some(p) => {
            return Err(at.at(
                p.span(),
                format!("prefix_tokens is {}", p.get_ref()),
                format!(
                    "give 0 to {MAX_TOKENS} tokens of shared prefix, e.g. `prefix_tokens = 256`"
                ),
            ))
        }
    };
    if prefix_tokens > 0 && r.input_tokens.is_none() {
        let p = r.prefix_tokens.as_ref().expect("given");
        return Err(at.at(
            p.span(),
            "`prefix_tokens` goes with `input_tokens`: the prefix is put before a synthetic prompt",
            "add `input_tokens = ...`",
        ));
    }
    let seed = r.seed.as_ref().map_or(0, |s| *s.get_ref() as u64);
    Ok(Some(TokenShape {
        input: r.input_tokens.as_ref().map(|v| length(v, at)).transpose()?,
        output: r
            .output_tokens
            .as_ref()
            .map(|v| length(v, at))
            .transpose()?,
        prefix_tokens,
        seed,
        streams: Default::default(),
    }))
}

/// A count, or a table `{ distribution = ..., ... }`.
fn length(v: &Spanned<toml::Value>, at: &Locator<'_>) -> Result<Length, ScenarioError> {
    let fail = |message: String| at.at(v.span(), message, HINT);
    let count = |value: Option<&toml::Value>, key: &str| -> Result<u32, ScenarioError> {
        match value {
            None => Err(fail(format!("the distribution has no `{key}`"))),
            Some(toml::Value::Integer(n)) if (1..=MAX_TOKENS).contains(n) => Ok(*n as u32),
            Some(other) => Err(fail(format!(
                "`{key}` is {other}: give a whole number of tokens from 1 to {MAX_TOKENS}"
            ))),
        }
    };
    let number = |value: Option<&toml::Value>, key: &str| -> Result<f64, ScenarioError> {
        match value {
            Some(toml::Value::Integer(n)) if *n >= 0 => Ok(*n as f64),
            Some(toml::Value::Float(x)) if x.is_finite() && *x >= 0.0 => Ok(*x),
            None => Err(fail(format!("the distribution has no `{key}`"))),
            Some(other) => Err(fail(format!(
                "`{key}` is {other}: give a number of tokens, 0 or more"
            ))),
        }
    };
    let table = match v.get_ref() {
        n @ toml::Value::Integer(_) => return count(Some(n), "value").map(Length::Fixed),
        toml::Value::Table(t) => t,
        other => return Err(fail(format!("a token length is {other}"))),
    };
    let allowed: &[&str] = match table.get("distribution").and_then(toml::Value::as_str) {
        Some("fixed") => &["distribution", "value"],
        Some("uniform") => &["distribution", "min", "max"],
        Some("normal") => &["distribution", "mean", "stddev", "min", "max"],
        Some(other) => return Err(fail(format!("unknown distribution `{other}`"))),
        None => return Err(fail("a token length table needs `distribution`".into())),
    };
    if let Some(stray) = table.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(fail(format!(
            "`{stray}` is not a key of this distribution (its keys: {})",
            allowed.join(", ")
        )));
    }
    let length = match allowed.len() {
        2 => Length::Fixed(count(table.get("value"), "value")?),
        3 => Length::Uniform {
            min: count(table.get("min"), "min")?,
            max: count(table.get("max"), "max")?,
        },
        _ => Length::Normal {
            mean: number(table.get("mean"), "mean")?,
            stddev: number(table.get("stddev"), "stddev")?,
            min: table.get("min").map_or(Ok(1), |m| count(Some(m), "min"))?,
            max: table
                .get("max")
                .map_or(Ok(MAX_TOKENS as u32), |m| count(Some(m), "max"))?,
        },
    };
    match length {
        Length::Uniform { min, max } | Length::Normal { min, max, .. } if min > max => {
            Err(fail(format!("min {min} is above max {max}")))
        }
        l => Ok(l),
    }
}
