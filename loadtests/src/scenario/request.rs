//! One `[[user_classes.requests]]` entry (or `on_start`/`on_stop` entry): read with its spans,
//! validated and compiled into a [`DeclaredRequest`]. What holds between the requests of a
//! class (captures made before they are used, names, weights) is [`super::declared`]'s.
//!
//! Every template is compiled here, once, and rendered once with sample values, so a bad
//! function, a name that is neither a capture nor a data column, or params that are not JSON
//! stop the run at load with `file:line:col` and a fix, before any user starts.

use reqwest::header::HeaderName;

use super::data_file::{DataFile, DataSource};
use super::error::{Locator, ScenarioError};
pub(super) use super::raw_request::RawRequest;
use super::shape::think_time_of;
use super::templates::{compile, json};
use super::MAX_WEIGHT;
use crate::users::declared::{
    CaptureSource, DeclaredRequest, Payload, RequestOrder, HEADER_CAPTURE,
};
use crate::users::template::{Template, TemplateNames};

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// One request, validated and compiled; a dataset it reads (from `source`) is added to `read`.
pub(super) fn request(
    r: &RawRequest,
    order: RequestOrder,
    names: TemplateNames<'_>,
    sample_row: &[Box<str>],
    source: DataSource<'_>,
    read: &mut Vec<DataFile>,
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
    let default_method = if r.jsonrpc.is_some() || r.protocol.is_some() {
        "POST"
    } else {
        "GET"
    };
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
    let llm = super::llm::request_of(r, names, sample_row, source, read, at)?;
    let path = match (&r.path, &llm) {
        (Some(p), _) => {
            if !p.get_ref().starts_with('/') {
                return Err(at.at(
                    p.span(),
                    format!("path `{}` does not start with `/`", p.get_ref()),
                    "write the path after the host, e.g. `path = \"/api/v1/jsonrpc\"`",
                ));
            }
            compile(p, names, at)?
        }
        (None, Some(llm)) => Template::compile(llm.protocol.default_path(), TemplateNames::default(), &|_| None)
            .expect("plain paths compile"),
        (None, None) => {
            return Err(at.at(
                r.name.span(),
                format!("request `{}` has no `path`", r.name.get_ref()),
                "write the path after the host, e.g. `path = \"/api/v1/jsonrpc\"` (only an LLM request with `protocol` has a default)",
            ))
        }
    };
    let notification = notification_of(r, at)?;
    let payload = match (&r.jsonrpc, &r.params, &r.body) {
        _ if llm.is_some() => {
            super::llm::no_other_payload(r, at)?;
            Payload::Llm(Box::new(llm.expect("checked")))
        }
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

/// Names live as long as the process: the recorder keys requests by `&'static str`.
pub(super) fn leak(s: &str) -> &'static str {
    s.to_string().leak()
}
