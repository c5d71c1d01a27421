//! A declared request's `stream`, `chunk` and `items` keys: whether its answer is read as a
//! stream of server-sent events (timed per chunk), which events are chunks, and how many
//! items it carried (see docs/agent-metrics.md).
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use crate::users::declared::ItemCount;
use crate::users::stream::ChunkRule;

/// Items a request may say it carried, at most (a typo, not a workload, beyond it).
const MAX_ITEMS: i64 = 1_000_000_000;

/// The `stream` and `chunk` keys: `Some(rule)` when the answer is read as a stream.
pub(super) fn stream_of(
    stream: Option<&Spanned<bool>>,
    chunk: Option<&Spanned<String>>,
    at: &Locator<'_>,
) -> Result<Option<ChunkRule>, ScenarioError> {
    let streamed = stream.is_some_and(|s| *s.get_ref());
    match chunk {
        Some(c) if !streamed => Err(at.at(
            c.span(),
            "`chunk` without `stream = true`",
            "add `stream = true` to read the answer as server-sent events, or remove `chunk`",
        )),
        Some(c) if !c.get_ref().starts_with('/') => Err(at.at(
            c.span(),
            format!("chunk pointer `{}` does not start with `/`", c.get_ref()),
            "write a JSON pointer into each event's data, e.g. `chunk = \"/result/artifact\"`",
        )),
        Some(c) => Ok(Some(ChunkRule {
            pointer: Some(c.get_ref().clone()),
        })),
        None => Ok(streamed.then(ChunkRule::default)),
    }
}

/// The `items` key: a fixed count, or a JSON pointer to a number or an array in the answer
/// (a stream's last event). Without it a stream counts its chunks, anything else nothing.
pub(super) fn items_of(
    items: Option<&Spanned<toml::Value>>,
    at: &Locator<'_>,
) -> Result<ItemCount, ScenarioError> {
    let Some(items) = items else {
        return Ok(ItemCount::Default);
    };
    let hint = "write a count, e.g. `items = 100`, or a JSON pointer to a number or an array in the answer, e.g. `items = \"/result/returned_count\"`";
    match items.get_ref() {
        toml::Value::Integer(n) if (0..=MAX_ITEMS).contains(n) => Ok(ItemCount::Fixed(*n as u64)),
        toml::Value::String(p) if p.starts_with('/') => Ok(ItemCount::Pointer(p.clone())),
        toml::Value::Integer(n) => Err(at.at(
            items.span(),
            format!("items = {n}: a request carries 0 to {MAX_ITEMS} items"),
            hint,
        )),
        toml::Value::String(p) => Err(at.at(
            items.span(),
            format!("items pointer `{p}` does not start with `/`"),
            hint,
        )),
        other => Err(at.at(
            items.span(),
            format!("items is a {}, not a count or a pointer", other.type_str()),
            hint,
        )),
    }
}
