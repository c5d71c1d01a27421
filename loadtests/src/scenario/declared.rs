//! `[[user_classes.requests]]`: the requests of a class declared in the scenario file, read
//! with their spans and validated into a [`DeclaredClass`].
//!
//! Every template is compiled here, once, and rendered once with sample values, so a bad
//! function, a capture no request makes, or params that are not JSON stop the run at load
//! with `file:line:col` and a fix, before any user starts.
use std::collections::BTreeMap;

use reqwest::header::HeaderName;
use serde::Deserialize;
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use super::file::MAX_WEIGHT;
use crate::users::declared::{DeclaredRequest, Payload};
use crate::users::template::{is_identifier, Template, TemplateError};
use crate::users::{DeclaredClass, ThinkTime};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequest {
    name: Spanned<String>,
    weight: Option<Spanned<i64>>,
    method: Option<Spanned<String>>,
    path: Spanned<String>,
    jsonrpc: Option<Spanned<String>>,
    params: Option<Spanned<String>>,
    body: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    expect_status: Option<Spanned<Vec<i64>>>,
    #[serde(default)]
    tolerate: Vec<i64>,
    #[serde(default)]
    capture: BTreeMap<String, Spanned<String>>,
}

impl RawRequest {
    /// The request as written, for the scenario's settings and hash.
    fn definition(&self) -> serde_json::Value {
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
        })
    }
}

/// The think time of a declared class that gives none.
pub const DEFAULT_THINK_TIME: ThinkTime = ThinkTime::ms(1_000, 3_000);

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// Validates the requests of class `name` and builds it (leaked: see `users::declared`).
pub(super) fn class(
    name: &Spanned<String>,
    think_time: ThinkTime,
    requests: &Spanned<Vec<RawRequest>>,
    at: &Locator<'_>,
) -> Result<&'static DeclaredClass, ScenarioError> {
    let raw = requests.get_ref();
    if raw.is_empty() {
        return Err(at.at(
            requests.span(),
            format!("user class `{}` has no requests", name.get_ref()),
            "add at least one `[[user_classes.requests]]` with `name`, `path` and `method` or `jsonrpc`",
        ));
    }
    let mut captures: Vec<&str> = Vec::new();
    for r in raw {
        for (capture, pointer) in &r.capture {
            if !is_identifier(capture) {
                return Err(at.at(
                    pointer.span(),
                    format!("capture name `{capture}` is not a plain word"),
                    "use letters, digits and `_`, e.g. `capture = { session_id = \"/result/session_id\" }`",
                ));
            }
            let p = pointer.get_ref();
            if !p.is_empty() && !p.starts_with('/') {
                return Err(at.at(
                    pointer.span(),
                    format!("`{p}` is not a JSON pointer"),
                    format!("start it with `/`, e.g. `\"/result/{capture}\"`"),
                ));
            }
            if !captures.contains(&capture.as_str()) {
                captures.push(capture);
            }
        }
    }
    let env = |var: &str| std::env::var(var).ok();
    let compile = |source: &Spanned<String>| {
        Template::compile(source.get_ref(), &captures, &env).map_err(|e| located(at, source, e))
    };
    let mut built = Vec::new();
    for r in raw {
        let request_name = r.name.get_ref();
        if request_name.trim().is_empty() {
            return Err(at.at(
                r.name.span(),
                "a request name is empty",
                "name it as reports should show it, e.g. `name = \"search\"`",
            ));
        }
        if raw
            .iter()
            .filter(|o| o.name.get_ref() == request_name)
            .count()
            > 1
        {
            return Err(at.at(
                r.name.span(),
                format!("request `{request_name}` is listed twice in this class"),
                "give each request its own name",
            ));
        }
        let weight = match &r.weight {
            None => 1,
            Some(w) if (0..=MAX_WEIGHT).contains(w.get_ref()) => *w.get_ref() as u32,
            Some(w) => {
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
        let path = compile(&r.path)?;
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
                    Some(p) => json(compile(p)?, p, at)?,
                    None => Template::compile("{}", &[], &env).expect("plain text compiles"),
                };
                Payload::json_rpc(rpc.get_ref(), params)
            }
            (None, None, body) => Payload::Rest(match body {
                Some(b) => Some(json(compile(b)?, b, at)?),
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
            headers.push((name, compile(value)?));
        }
        let expect_status = match &r.expect_status {
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
                let index = captures
                    .iter()
                    .position(|k| k == c)
                    .expect("collected above");
                (index, p.get_ref().clone())
            })
            .collect();
        built.push(DeclaredRequest {
            name: leak(request_name),
            weight,
            method,
            path,
            payload,
            headers,
            expect_status,
            tolerate: r.tolerate.clone(),
            capture,
        });
    }
    if built.iter().all(|r| r.weight == 0) {
        return Err(at.at(
            requests.span(),
            "the request weights of this class sum to 0: its users would send nothing",
            "give at least one request a positive weight, e.g. `weight = 1`",
        ));
    }
    never_sent(&built, &captures, raw, at)?;
    let captures = captures.into_iter().map(leak).collect();
    let definition = raw.iter().map(RawRequest::definition).collect();
    Ok(Box::leak(Box::new(DeclaredClass::new(
        leak(name.get_ref()),
        think_time,
        built,
        captures,
        definition,
    ))))
}

/// An error for a request that could never be sent: every capture it uses must be made by a
/// request that can itself be sent first (a fixed point from the requests that use none).
fn never_sent(
    built: &[DeclaredRequest],
    captures: &[&str],
    raw: &[RawRequest],
    at: &Locator<'_>,
) -> Result<(), ScenarioError> {
    let mut made = vec![false; captures.len()];
    let mut sendable = vec![false; built.len()];
    loop {
        let mut grew = false;
        for (i, r) in built.iter().enumerate() {
            if !sendable[i] && r.weight > 0 && r.uses().iter().all(|&c| made[c]) {
                sendable[i] = true;
                grew = true;
                for (c, _) in &r.capture {
                    made[*c] = true;
                }
            }
        }
        if !grew {
            break;
        }
    }
    for (i, r) in built.iter().enumerate() {
        if let Some(&c) = r
            .uses()
            .iter()
            .find(|&&c| !made[c])
            .filter(|_| r.weight > 0 && !sendable[i])
        {
            return Err(at.at(
                raw[i].name.span(),
                format!(
                    "request `{}` uses capture `{}`, which only requests that need it themselves make: it would never be sent",
                    r.name, captures[c]
                ),
                format!("capture `{}` in a request that needs no capture (e.g. a first `login` or `create`)", captures[c]),
            ));
        }
    }
    Ok(())
}

/// Names live as long as the process: the recorder keys requests by `&'static str`.
fn leak(s: &str) -> &'static str {
    s.to_string().leak()
}

/// `template` if its sample rendering is JSON (what users will send has the same shape).
fn json(
    template: Template,
    source: &Spanned<String>,
    at: &Locator<'_>,
) -> Result<Template, ScenarioError> {
    let sample = template.sample();
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

#[cfg(test)]
mod tests {
    use crate::distributed::share::{expand, worker_launch_order};
    use crate::scenario::file::parse;
    use crate::users::UserClass;

    const FILE: &str = r#"
users = 4
run_time = "10s"
[[user_classes]]
name = "SearchUser"
weight = 3
[[user_classes.requests]]
name = "login"
path = "/login"
method = "post"
body = '{"user": "u{{int(1, 9)}}"}'
capture = { token = "/token", n = "/n" }
[[user_classes.requests]]
name = "items"
weight = 2
path = "/items?n={{n}}"
headers = { Authorization = "Bearer {{token}}" }
[[user_classes]]
class = "HighThroughputUser"
weight = 1
"#;

    #[test]
    fn a_declared_class_is_a_class_like_the_built_in_ones() {
        let scenario = parse("s", "s.toml", FILE).unwrap();
        let UserClass::Declared(class) = scenario.classes[0].class else {
            panic!("not declared");
        };
        assert_eq!(class.name, "SearchUser");
        assert_eq!(class.captures, ["n", "token"]);
        assert_eq!(class.think_time, super::DEFAULT_THINK_TIME);
        assert_eq!(class.requests[0].method, "POST");
        assert_eq!(class.requests[1].method, "GET");
        assert_eq!(class.requests[1].uses(), [0, 1]);
        let behaviour = scenario.classes[0].class.behaviour();
        let names: Vec<_> = behaviour
            .requests
            .iter()
            .map(|r| (r.name, r.weight))
            .collect();
        assert_eq!(names, [("login", 1), ("items", 2)]);
        // Identity is the name: a second parse (a worker's) gives an equal class.
        let again = parse("s", "s.toml", FILE).unwrap();
        assert_eq!(again.classes[0].class, scenario.classes[0].class);
        assert!(UserClass::HighThroughput < scenario.classes[0].class);
        assert_eq!(again.hash(), scenario.hash());
    }

    #[test]
    fn a_worker_resolves_declared_names_from_its_own_parse() {
        let manager = parse("s", "s.toml", FILE).unwrap();
        let worker = parse("s", "s.toml", FILE).unwrap();
        let runs = worker_launch_order(&manager, 2, 0);
        let order = expand(&runs, &worker).unwrap();
        assert_eq!(order.len(), 2);
        assert!(order.iter().any(|c| c.name() == "SearchUser"));
        let builtin_only = parse("b", "b.toml", &FILE.replace("weight = 3", "weight = 0")).unwrap();
        let other = crate::scenario::load("light").unwrap();
        assert!(expand(&worker_launch_order(&manager, 1, 0), &other).is_err());
        assert!(expand(&worker_launch_order(&builtin_only, 1, 0), &other).is_ok());
    }

    #[test]
    fn a_changed_request_changes_the_scenario_hash() {
        let a = parse("s", "s.toml", FILE).unwrap();
        let b = parse("s", "s.toml", &FILE.replace("/items?", "/things?")).unwrap();
        assert_ne!(a.hash(), b.hash());
    }
}
