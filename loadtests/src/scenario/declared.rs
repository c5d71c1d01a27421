//! `[[user_classes.requests]]`: the requests of a class declared in the scenario file, read
//! with their spans and validated into a [`DeclaredClass`], with the class's `mode` and its
//! `data` file.
//!
//! Every template is compiled here, once, and rendered once with sample values, so a bad
//! function, a name that is neither a capture nor a data column, or params that are not JSON
//! stop the run at load with `file:line:col` and a fix, before any user starts.
use std::collections::BTreeMap;

use reqwest::header::HeaderName;
use serde::Deserialize;
use toml::Spanned;

use super::data_file::{self, DataFile, DataSource};
use super::error::{Locator, ScenarioError};
use super::file::{think_time_of, MAX_WEIGHT};
use crate::users::declared::{DeclaredRequest, Payload, RequestOrder};
use crate::users::template::{is_identifier, Template, TemplateError, TemplateNames};
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
    think_time: Option<Spanned<Vec<toml::Value>>>,
    /// Read the answer as server-sent events, timing each chunk.
    stream: Option<Spanned<bool>>,
    /// With `stream`: which events are chunks (a JSON pointer they hold).
    chunk: Option<Spanned<String>>,
    /// Items the request carried: a count or a JSON pointer into the answer.
    items: Option<Spanned<toml::Value>>,
}

impl RawRequest {
    /// The request as written (its think time as read), for the scenario's settings and hash.
    fn definition(&self, think_time: Option<ThinkTime>) -> serde_json::Value {
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
        })
    }
}

/// The think time of a declared class that gives none.
pub const DEFAULT_THINK_TIME: ThinkTime = ThinkTime::ms(1_000, 3_000);

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// A `[[user_classes]]` entry with `name`: what it says besides its requests' own keys.
pub(super) struct DeclaredSpec<'a> {
    pub name: &'a Spanned<String>,
    pub think_time: ThinkTime,
    pub mode: Option<&'a Spanned<String>>,
    pub data: Option<&'a Spanned<String>>,
    pub requests: &'a Spanned<Vec<RawRequest>>,
}

/// Validates a declared class and builds it (leaked: see `users::declared`), with the data
/// file it read (from `source`), if any.
pub(super) fn class(
    spec: DeclaredSpec<'_>,
    source: DataSource<'_>,
    at: &Locator<'_>,
) -> Result<(&'static DeclaredClass, Option<DataFile>), ScenarioError> {
    let DeclaredSpec {
        name,
        think_time,
        mode,
        data,
        requests,
    } = spec;
    let raw = requests.get_ref();
    if raw.is_empty() {
        return Err(at.at(
            requests.span(),
            format!("user class `{}` has no requests", name.get_ref()),
            "add at least one `[[user_classes.requests]]` with `name`, `path` and `method` or `jsonrpc`",
        ));
    }
    let order = match mode {
        None => RequestOrder::Weighted,
        Some(m) => at.choice(
            m,
            "mode",
            &[("weighted", RequestOrder::Weighted), ("sequence", RequestOrder::Sequence)],
            "write `mode = \"weighted\"` (requests picked by weight, the default) or `\"sequence\"` (every request in file order, looping)",
        )?,
    };
    let captures = capture_names(raw, at)?;
    let (table, file) = match data {
        Some(path) => {
            let (table, file) = data_file::load(path, source, at)?;
            (Some(table), Some(file))
        }
        None => (None, None),
    };
    let columns: Vec<&str> = table
        .iter()
        .flat_map(|t| t.columns.iter().map(String::as_str))
        .collect();
    if let (Some(path), Some(column)) = (data, columns.iter().find(|c| captures.contains(c))) {
        return Err(at.at(
            path.span(),
            format!(
                "column `{column}` of data file `{}` has the name of a capture of this class",
                path.get_ref()
            ),
            format!("rename the column or the capture: `{{{{{column}}}}}` must name one value"),
        ));
    }
    let names = TemplateNames {
        captures: &captures,
        columns: &columns,
    };
    let sample_row: &[Box<str>] = table.as_ref().map_or(&[], |t| &t.rows[0]);
    let mut built = Vec::new();
    for r in raw {
        if raw
            .iter()
            .filter(|o| o.name.get_ref() == r.name.get_ref())
            .count()
            > 1
        {
            return Err(at.at(
                r.name.span(),
                format!(
                    "request `{}` is listed twice in this class",
                    r.name.get_ref()
                ),
                "give each request its own name",
            ));
        }
        built.push(request(r, order, names, sample_row, at)?);
    }
    match order {
        RequestOrder::Weighted => {
            if built.iter().all(|r| r.weight == 0) {
                return Err(at.at(
                    requests.span(),
                    "the request weights of this class sum to 0: its users would send nothing",
                    "give at least one request a positive weight, e.g. `weight = 1`",
                ));
            }
            never_sent(&built, &captures, raw, at)?;
        }
        RequestOrder::Sequence => made_earlier(&built, &captures, raw, at)?,
    }
    let definition = raw
        .iter()
        .zip(&built)
        .map(|(r, b)| r.definition(b.think_time))
        .collect();
    let class = DeclaredClass {
        name: leak(name.get_ref()),
        think_time,
        order,
        requests: built,
        captures: captures.into_iter().map(leak).collect(),
        data: table,
        definition,
    };
    Ok((Box::leak(Box::new(class)), file))
}

/// The names the class's requests capture, in order of first appearance.
fn capture_names<'r>(
    raw: &'r [RawRequest],
    at: &Locator<'_>,
) -> Result<Vec<&'r str>, ScenarioError> {
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
    Ok(captures)
}

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
fn request(
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
            Payload::json_rpc(rpc.get_ref(), params)
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
            (index, p.get_ref().clone())
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
        think_time,
        stream: super::carried::stream_of(r.stream.as_ref(), r.chunk.as_ref(), at)?,
        items: super::carried::items_of(r.items.as_ref(), at)?,
    })
}

/// In sequence mode a request's captures must come from requests before it in the file: each
/// round then has every value a request needs by the time it is sent (unless the request
/// that captures it failed, which is counted as a skip).
fn made_earlier(
    built: &[DeclaredRequest],
    captures: &[&str],
    raw: &[RawRequest],
    at: &Locator<'_>,
) -> Result<(), ScenarioError> {
    let mut made = vec![false; captures.len()];
    for (i, r) in built.iter().enumerate() {
        if let Some(&c) = r.uses().iter().find(|&&c| !made[c]) {
            return Err(at.at(
                raw[i].name.span(),
                format!(
                    "request `{}` uses capture `{}`, which no earlier request of this sequence makes",
                    r.name, captures[c]
                ),
                format!(
                    "a sequence sends its requests in file order: move the request that captures `{}` before `{}`",
                    captures[c], r.name
                ),
            ));
        }
        for (c, _) in &r.capture {
            made[*c] = true;
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use crate::distributed::share::{expand, row_deals, worker_launch_order};
    use crate::scenario::data_file::{DataFile, DataSource};
    use crate::scenario::file::{parse, parse_with_data};
    use crate::scenario::Scenario;
    use crate::users::data_table::RowDeal;
    use crate::users::declared::RequestOrder;
    use crate::users::{ThinkTime, UserClass};

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

    const SEQUENCE: &str = r#"
users = 4
run_time = "10s"
[[user_classes]]
name = "Shopper"
weight = 1
mode = "sequence"
data = "users.csv"
[[user_classes.requests]]
name = "login"
path = "/login"
method = "POST"
body = '{"user": "{{user}}", "plan": "{{plan}}"}'
capture = { token = "/token" }
think_time = ["5ms", "5ms"]
[[user_classes.requests]]
name = "cart"
path = "/cart?t={{token}}"
"#;

    fn users_csv(text: &str) -> Vec<DataFile> {
        vec![DataFile {
            path: "users.csv".into(),
            text: text.into(),
        }]
    }

    fn shipped(text: &str, csv: &str) -> Result<Scenario, String> {
        let files = users_csv(csv);
        parse_with_data("s", "s.toml", text, DataSource::Shipped(&files)).map_err(|e| e.to_string())
    }

    fn declared(scenario: &Scenario) -> &'static crate::users::DeclaredClass {
        match scenario.classes[0].class {
            UserClass::Declared(class) => class,
            _ => panic!("not declared"),
        }
    }

    #[test]
    fn a_sequence_class_with_data_sends_in_file_order_with_its_columns() {
        let scenario = shipped(SEQUENCE, "user,plan\nada,pro\nbob,free\n").unwrap();
        let class = declared(&scenario);
        assert_eq!(class.order, RequestOrder::Sequence);
        let data = class.data.as_ref().unwrap();
        assert_eq!((data.columns.len(), data.rows.len()), (2, 2));
        assert_eq!(class.requests[0].think_time, Some(ThinkTime::ms(5, 5)));
        assert_eq!(class.requests[1].think_time, None);
        assert_eq!(
            scenario.data_files,
            users_csv("user,plan\nada,pro\nbob,free\n")
        );
        // Every request weighs 1, so the picker gives them in file order.
        let behaviour = scenario.classes[0].class.behaviour();
        let weights: Vec<u32> = behaviour.requests.iter().map(|r| r.weight).collect();
        assert_eq!(weights, [1, 1]);
        // The data's contents are part of the hash; its settings say what was read.
        let other = shipped(SEQUENCE, "user,plan\nada,pro\ncyd,free\n").unwrap();
        assert_ne!(other.hash(), scenario.hash());
        let settings = scenario.settings_json();
        assert_eq!(settings["user_classes"][0]["mode"], "sequence");
        assert_eq!(settings["user_classes"][0]["data"]["rows"], 2);
        assert_eq!(
            settings["user_classes"][0]["requests"][0]["think_time_ms"][0],
            5
        );
    }

    #[test]
    fn sequences_data_files_and_request_think_times_are_checked_at_load() {
        let csv = "user,plan\nada,pro\n";
        let cases: [(&str, &str, &str, &str); 8] = [
            ("name = \"cart\"\n", "name = \"cart\"\nweight = 2\n", csv, ":18:10: a request of a sequence has no weight"),
            ("path = \"/login\"", "path = \"/login?t={{token}}\"", csv, ":10:8: request `login` uses capture `token`, which no earlier request"),
            ("{{plan}}", "{{tier}}", csv, "neither a capture a request of this class makes nor a column of its data file (its data columns are user, plan)"),
            ("mode = \"sequence\"", "mode = \"random\"", csv, ":7:8: unknown mode `random`"),
            ("[\"5ms\", \"5ms\"]", "[\"5ms\"]", csv, ":15:14: think_time has 1 values"),
            ("token = ", "plan = ", csv, ":8:8: column `plan` of data file `users.csv` has the name of a capture"),
            ("x", "x", "", ":8:8: data file `users.csv` is empty"),
            ("x", "x", "user,plan\nada\n", ":8:8: data file `users.csv`, line 2"),
        ];
        for (from, to, csv, expected) in cases {
            let text = SEQUENCE.replacen(from, to, 1);
            let e = shipped(&text, csv).unwrap_err();
            assert!(e.contains(expected), "{expected}:\n{e}");
            assert!(e.contains("hint: "), "{e}");
        }
        let e = parse_with_data("s", "s.toml", SEQUENCE, DataSource::Shipped(&[])).unwrap_err();
        assert!(
            e.to_string().contains(
                ":8:8: data file `users.csv` did not come with the scenario from the manager"
            ),
            "{e}"
        );
        let builtin = "users = 1\nrun_time = \"1s\"\n[[user_classes]]\nclass = \"HighThroughputUser\"\nweight = 1\nmode = \"sequence\"\n";
        let e = parse("s", "s.toml", builtin).unwrap_err().to_string();
        assert!(
            e.contains(":6:8: built-in class `HighThroughputUser` takes no `data` or `mode`"),
            "{e}"
        );
    }

    #[test]
    fn workers_users_take_the_rows_a_standalone_run_would_between_them() {
        let csv = "user,plan\n0,a\n1,b\n2,c\n3,d\n4,e\n5,f\n6,g\n";
        let text = SEQUENCE.replace("users = 4", "users = 9")
            + "[[user_classes]]\nclass = \"HighThroughputUser\"\nweight = 2\n";
        let scenario = shipped(&text, csv).unwrap();
        // 9 users at weights 1:2 start `Shopper`s 2nd, 5th and 8th: the class's users 0, 1
        // and 2, dealt to workers 1, 0 and 1.
        let dealt = |rank| match &row_deals(&scenario, 2, rank)[..] {
            [(_, RowDeal::Dealt { users })] => users.clone(),
            other => panic!("a closed run deals users: {other:?}"),
        };
        assert_eq!(dealt(0), [1]);
        assert_eq!(dealt(1), [0, 2]);
        let open = shipped(&text.replace("users = 9\n", "rate = 5\n"), csv).unwrap();
        assert_eq!(
            row_deals(&open, 3, 2)[0].1,
            RowDeal::Strided {
                first: 2,
                stride: 3
            }
        );
    }
}
