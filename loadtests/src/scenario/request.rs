//! One `[[user_classes.requests]]` entry (or `on_start`/`on_stop` entry): read with its spans,
//! validated and compiled into a [`DeclaredRequest`]. What holds between the requests of a
//! class (captures made before they are used, names, weights) is [`super::declared`]'s.
//!
//! Every template is compiled here, once, and rendered once with sample values, so a bad
//! function, a name that is neither a capture nor a data column, or params that are not JSON
//! stop the run at load with `file:line:col` and a fix, before any user starts.
use std::collections::BTreeMap;

use reqwest::header::HeaderName;
use serde::Deserialize;
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use super::shape::think_time_of;
use super::MAX_WEIGHT;
use crate::users::declared::{
    CaptureSource, DeclaredRequest, Payload, RequestOrder, HEADER_CAPTURE,
};
use crate::users::template::{Template, TemplateError, TemplateNames};
use crate::users::ThinkTime;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequest {
    pub(super) name: Spanned<String>,
    pub(super) weight: Option<Spanned<i64>>,
    pub(super) method: Option<Spanned<String>>,
    pub(super) path: Spanned<String>,
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
            "path": self.path.get_ref(),
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
        })
    }
}

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// `source` compiled, its errors at their place in the file.
fn compile(
    source: &Spanned<String>,
    names: TemplateNames<'_>,
    at: &Locator<'_>,
) -> Result<Template, ScenarioError> {
    let env = |var: &str| std::env::var(var).ok();
    Template::compile(source.get_ref(), names, &env).map_err(|e| located(at, source, e))
}

/// One request, validated and compiled.
pub(super) fn request(
    r: &RawRequest,
    order: RequestOrder,
    names: TemplateNames<'_>,
    sample_row: &[Box<str>],
    at: &Locator<'_>,
) -> Result<DeclaredRequest, ScenarioError> {
    let request_name = r.name.get_ref();
    if request_name.trim().is_empty() {
        return Err(at.at(
            r.name.span(),
            "a request name is empty",
            "name it as reports should show it, e.g. `name = \"search\"`",
        ));
    }
    let weight = match (&r.weight, order) {
        (None, _) => 1,
        (Some(w), RequestOrder::Sequence) => {
            return Err(at.at(
                w.span(),
                "a request of a sequence has no weight: every request is sent once per round, in file order",
                "remove `weight`, or pick requests by weight with `mode = \"weighted\"`",
            ))
        }
        (Some(w), RequestOrder::Weighted) if (0..=MAX_WEIGHT).contains(w.get_ref()) => {
            *w.get_ref() as u32
        }
        (Some(w), RequestOrder::Weighted) => {
            return Err(at.at(
                w.span(),
                format!(
                    "request weight is {}: weights are 0 to {MAX_WEIGHT}",
                    w.get_ref()
                ),
                "write a small ratio, e.g. `weight = 5`",
            ))
        }
    };
    let default_method = if r.jsonrpc.is_some() { "POST" } else { "GET" };
    let method = match &r.method {
        None => default_method,
        Some(m) => {
            let given = m.get_ref().to_ascii_uppercase();
            METHODS.into_iter().find(|k| *k == given).ok_or_else(|| {
                at.at(
                    m.span(),
                    format!("unknown method `{}`", m.get_ref()),
                    format!("use one of: {}", METHODS.join(", ")),
                )
            })?
        }
    };
    if !r.path.get_ref().starts_with('/') {
        return Err(at.at(
            r.path.span(),
            format!("path `{}` does not start with `/`", r.path.get_ref()),
            "write the path after the host, e.g. `path = \"/api/v1/jsonrpc\"`",
        ));
    }
    let path = compile(&r.path, names, at)?;
    let notification = notification_of(r, at)?;
    let payload = match (&r.jsonrpc, &r.params, &r.body) {
        (Some(_), _, Some(body)) => {
            return Err(at.at(
                body.span(),
                "a JSON-RPC request has `params`, not `body`",
                "rename `body` to `params`: skein wraps it in the JSON-RPC 2.0 envelope",
            ))
        }
        (None, Some(params), _) => {
            return Err(at.at(
                params.span(),
                "`params` without `jsonrpc`",
                "add `jsonrpc = \"method.name\"`, or send a REST body with `body = '...'`",
            ))
        }
        (Some(rpc), params, None) => {
            let params = match params {
                Some(p) => json(compile(p, names, at)?, p, sample_row, at)?,
                None => Template::compile("{}", TemplateNames::default(), &|_| None)
                    .expect("plain text compiles"),
            };
            if notification {
                Payload::json_rpc_notification(rpc.get_ref(), params)
            } else {
                Payload::json_rpc(rpc.get_ref(), params)
            }
        }
        (None, None, body) => Payload::Rest(match body {
            Some(b) => Some(json(compile(b, names, at)?, b, sample_row, at)?),
            None => None,
        }),
    };
    let mut headers = Vec::new();
    for (header, value) in &r.headers {
        let name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
            at.at(
                value.span(),
                format!("`{header}` is not an HTTP header name"),
                "use letters, digits and `-`, e.g. `\"X-Tenant\" = \"t1\"`",
            )
        })?;
        headers.push((name, compile(value, names, at)?));
    }
    let expect_status = match &r.expect_status {
        // A notification has no answer to read: servers say they took it.
        None if notification => vec![200, 202, 204],
        None => vec![200],
        Some(list) => {
            let codes: Vec<u16> = list
                .get_ref()
                .iter()
                .filter_map(|&c| u16::try_from(c).ok().filter(|c| (100..=599).contains(c)))
                .collect();
            if codes.is_empty() || codes.len() != list.get_ref().len() {
                return Err(at.at(
                    list.span(),
                    "expect_status needs HTTP statuses between 100 and 599",
                    "write e.g. `expect_status = [200, 201]`",
                ));
            }
            codes
        }
    };
    let capture = r
        .capture
        .iter()
        .map(|(c, p)| {
            let index = names
                .captures
                .iter()
                .position(|k| *k == c.as_str())
                .expect("collected by capture_names");
            let source = CaptureSource::parse(p.get_ref()).expect("checked by capture_names");
            (index, source)
        })
        .collect();
    let think_time = r
        .think_time
        .as_ref()
        .map(|t| think_time_of(t, at))
        .transpose()?;
    Ok(DeclaredRequest {
        name: leak(request_name),
        weight,
        method,
        path,
        payload,
        headers,
        expect_status,
        tolerate: r.tolerate.clone(),
        capture,
        notification,
        think_time,
        stream: super::carried::stream_of(r.stream.as_ref(), r.chunk.as_ref(), at)?,
        items: super::carried::items_of(r.items.as_ref(), at)?,
    })
}

/// `notification = true`, checked: only a JSON-RPC request is one, and it has no answer to
/// capture from or to stream.
fn notification_of(r: &RawRequest, at: &Locator<'_>) -> Result<bool, ScenarioError> {
    let Some(flag) = &r.notification else {
        return Ok(false);
    };
    if !*flag.get_ref() {
        return Ok(false);
    }
    if r.jsonrpc.is_none() {
        return Err(at.at(
            flag.span(),
            "`notification` without `jsonrpc`",
            "a notification is a JSON-RPC call without an id: add `jsonrpc = \"notifications/...\"`",
        ));
    }
    if let Some(stream) = r.stream.as_ref().filter(|s| *s.get_ref()) {
        return Err(at.at(
            stream.span(),
            "a notification has no answer to stream",
            "remove `stream`, or `notification` to send a call that is answered",
        ));
    }
    if let Some((name, pointer)) = r
        .capture
        .iter()
        .find(|(_, p)| !p.get_ref().starts_with(HEADER_CAPTURE))
    {
        return Err(at.at(
            pointer.span(),
            format!("capture `{name}` reads the answer of a notification, which has none"),
            "capture it from a request that is answered, or from a header (`\"header:Name\"`)",
        ));
    }
    Ok(true)
}

/// `template` if its sample rendering is JSON (what users will send has the same shape);
/// data columns take their values from `sample_row`, the data file's first row.
fn json(
    template: Template,
    source: &Spanned<String>,
    sample_row: &[Box<str>],
    at: &Locator<'_>,
) -> Result<Template, ScenarioError> {
    let sample = template.sample(sample_row);
    match serde_json::from_str::<serde_json::Value>(&sample) {
        Ok(_) => Ok(template),
        Err(e) => Err(located(
            at,
            source,
            TemplateError {
                offset: 0,
                message: format!("not JSON once templated ({e}); sample: {sample}"),
                hint: "quote text values, e.g. `\"query\": \"{{pick(a, b)}}\"`; numbers stay bare"
                    .to_string(),
            },
        )),
    }
}

/// A template error at its place in the file: exact when the TOML string is written without
/// escapes (quotes around the text as is), else at the string's start.
fn located(at: &Locator<'_>, source: &Spanned<String>, e: TemplateError) -> ScenarioError {
    let span = source.span();
    let written = at.text.get(span.clone()).unwrap_or("");
    let quote = match written.len().checked_sub(source.get_ref().len()) {
        Some(2) => 1,
        Some(6) => 3,
        _ => return at.at(span, e.message, e.hint),
    };
    let start = span.start + quote + e.offset;
    at.at(start..start, e.message, e.hint)
}

/// Names live as long as the process: the recorder keys requests by `&'static str`.
pub(super) fn leak(s: &str) -> &'static str {
    s.to_string().leak()
}
