//! A class declared in the scenario file (`[[user_classes]]` with `name`), validated into a
//! [`DeclaredClass`]: its requests (each read by [`super::request`]), its `mode`, its `data`
//! file, and what holds between its requests: every capture a request uses is made before it
//! can be sent.
use toml::Spanned;

use super::data_file::{self, DataFile, DataSource};
use super::error::{Locator, ScenarioError};
use super::request::{leak, request, RawRequest};
use crate::users::declared::{CaptureSource, DeclaredRequest, RequestOrder, HEADER_CAPTURE};
use crate::users::template::{is_identifier, TemplateNames};
use crate::users::{DeclaredClass, ThinkTime};

/// The think time of a declared class that gives none.
pub const DEFAULT_THINK_TIME: ThinkTime = ThinkTime::ms(1_000, 3_000);

/// A `[[user_classes]]` entry with `name`: what it says besides its requests' own keys.
pub(super) struct DeclaredSpec<'a> {
    pub name: &'a Spanned<String>,
    pub think_time: ThinkTime,
    pub mode: Option<&'a Spanned<String>>,
    pub data: Option<&'a Spanned<String>>,
    pub requests: &'a Spanned<Vec<RawRequest>>,
    /// `[[user_classes.on_start]]`: sent once per user, in file order, before its requests.
    pub on_start: Option<&'a Spanned<Vec<RawRequest>>>,
    /// `[[user_classes.on_stop]]`: sent when a started user stops, in file order.
    pub on_stop: Option<&'a Spanned<Vec<RawRequest>>>,
}

/// Validates a declared class and builds it (leaked: see `users::declared`), with the files it
/// read (from `source`): its data file and its requests' datasets, each path once.
pub(super) fn class(
    spec: DeclaredSpec<'_>,
    source: DataSource<'_>,
    at: &Locator<'_>,
) -> Result<(&'static DeclaredClass, Vec<DataFile>), ScenarioError> {
    let DeclaredSpec {
        name,
        think_time,
        mode,
        data,
        requests,
        on_start,
        on_stop,
    } = spec;
    let raw = requests.get_ref();
    let empty = Vec::new();
    let raw_start = on_start.map_or(&empty, |s| s.get_ref());
    let raw_stop = on_stop.map_or(&empty, |s| s.get_ref());
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
    let every: Vec<&RawRequest> = raw_start.iter().chain(raw).chain(raw_stop).collect();
    let captures = capture_names(&every, at)?;
    let mut files = Vec::new();
    let table = match data {
        Some(path) => {
            let (table, file) = data_file::load(path, source, at)?;
            files.push(file);
            Some(table)
        }
        None => None,
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
    unique_names(&every, at)?;
    let mut build = |list: &[RawRequest], order: RequestOrder| {
        list.iter()
            .map(|r| request(r, order, names, sample_row, source, &mut files, at))
            .collect::<Result<Vec<_>, _>>()
    };
    let built = build(raw, order)?;
    // A start and a stop are sequences: their requests have no weight.
    let built_start = build(raw_start, RequestOrder::Sequence)?;
    let built_stop = build(raw_stop, RequestOrder::Sequence)?;
    // What a user has captured once started: its start's captures, in file order.
    let started = made_earlier(
        &built_start,
        &captures,
        raw_start,
        vec![false; captures.len()],
        at,
    )?;
    match order {
        RequestOrder::Weighted => {
            if built.iter().all(|r| r.weight == 0) {
                return Err(at.at(
                    requests.span(),
                    "the request weights of this class sum to 0: its users would send nothing",
                    "give at least one request a positive weight, e.g. `weight = 1`",
                ));
            }
            never_sent(&built, &captures, raw, started.clone(), at)?;
        }
        RequestOrder::Sequence => {
            made_earlier(&built, &captures, raw, started.clone(), at)?;
        }
    }
    stop_uses_only_the_start(&built_stop, &captures, raw_stop, &started, at)?;
    // A dataset enters the hash by its contents, so a worker given `--scenario` with another
    // file of the same name is refused.
    let definitions = |raw: &[RawRequest], built: &[DeclaredRequest]| -> serde_json::Value {
        raw.iter()
            .zip(built)
            .map(|(r, b)| {
                let mut definition = r.definition(b.think_time);
                let read = r
                    .dataset
                    .as_ref()
                    .and_then(|d| files.iter().find(|f| f.path == *d.get_ref()));
                if let Some(file) = read {
                    definition["llm"]["dataset_hash"] = super::fnv1a_hex(&file.text).into();
                }
                definition
            })
            .collect()
    };
    // A class without a start or stop keeps the definition (and hash) it always had.
    let definition = if raw_start.is_empty() && raw_stop.is_empty() {
        definitions(raw, &built)
    } else {
        serde_json::json!({
            "on_start": definitions(raw_start, &built_start),
            "requests": definitions(raw, &built),
            "on_stop": definitions(raw_stop, &built_stop),
        })
    };
    let class = DeclaredClass {
        name: leak(name.get_ref()),
        think_time,
        order,
        requests: built,
        on_start: built_start,
        on_stop: built_stop,
        captures: captures.into_iter().map(leak).collect(),
        data: table,
        definition,
    };
    Ok((Box::leak(Box::new(class)), files))
}

/// The names the class's requests capture, in order of first appearance; each capture is a
/// JSON pointer into the answer or `header:<Name>`.
fn capture_names<'r>(
    raw: &[&'r RawRequest],
    at: &Locator<'_>,
) -> Result<Vec<&'r str>, ScenarioError> {
    let mut captures: Vec<&str> = Vec::new();
    for r in raw {
        for (capture, source) in &r.capture {
            if !is_identifier(capture) {
                return Err(at.at(
                    source.span(),
                    format!("capture name `{capture}` is not a plain word"),
                    "use letters, digits and `_`, e.g. `capture = { session_id = \"/result/session_id\" }`",
                ));
            }
            let p = source.get_ref();
            if p.starts_with(HEADER_CAPTURE) && CaptureSource::parse(p).is_none() {
                return Err(at.at(
                    source.span(),
                    format!("`{p}` does not name an HTTP header"),
                    "write the header after `header:`, e.g. `\"header:Mcp-Session-Id\"`",
                ));
            }
            if CaptureSource::parse(p).is_none() {
                return Err(at.at(
                    source.span(),
                    format!("`{p}` is neither a JSON pointer nor a header"),
                    format!("start a pointer with `/`, e.g. `\"/result/{capture}\"`, or read a header with `\"header:Name\"`"),
                ));
            }
            if !captures.contains(&capture.as_str()) {
                captures.push(capture);
            }
        }
    }
    Ok(captures)
}

/// Every request of a class (its start, requests and stop) has a name of its own: reports
/// keep them apart.
fn unique_names(every: &[&RawRequest], at: &Locator<'_>) -> Result<(), ScenarioError> {
    for (i, r) in every.iter().enumerate() {
        if every[..i]
            .iter()
            .any(|o| o.name.get_ref() == r.name.get_ref())
        {
            return Err(at.at(
                r.name.span(),
                format!(
                    "request `{}` is listed twice in this class",
                    r.name.get_ref()
                ),
                "give each request (of `requests`, `on_start` and `on_stop`) its own name",
            ));
        }
    }
    Ok(())
}

/// A stop only has what the user's start captured (a request's captures may never have
/// been made when the user stops): every capture an `on_stop` request uses is made by an
/// `on_start` request, or by an `on_stop` request before it.
fn stop_uses_only_the_start(
    built: &[DeclaredRequest],
    captures: &[&str],
    raw: &[RawRequest],
    started: &[bool],
    at: &Locator<'_>,
) -> Result<(), ScenarioError> {
    let mut made = started.to_vec();
    for (i, r) in built.iter().enumerate() {
        if let Some(&c) = r.uses().iter().find(|&&c| !made[c]) {
            return Err(at.at(
                raw[i].name.span(),
                format!(
                    "on_stop request `{}` uses capture `{}`, which no on_start request makes",
                    r.name, captures[c]
                ),
                format!(
                    "capture `{}` in an `[[user_classes.on_start]]` request: a user's stop has only what its start captured",
                    captures[c]
                ),
            ));
        }
        for (c, _) in &r.capture {
            made[*c] = true;
        }
    }
    Ok(())
}

/// In sequence mode a request's captures must come from requests before it in the file (or
/// from the user's start, `made`): each round then has every value a request needs by the
/// time it is sent (unless the request that captures it failed, which is counted as a skip).
/// Returns what the sequence has captured by its end.
fn made_earlier(
    built: &[DeclaredRequest],
    captures: &[&str],
    raw: &[RawRequest],
    mut made: Vec<bool>,
    at: &Locator<'_>,
) -> Result<Vec<bool>, ScenarioError> {
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
    Ok(made)
}

/// An error for a request that could never be sent: every capture it uses must be made by the
/// user's start (`made`) or by a request that can itself be sent first (a fixed point from
/// the requests that use none).
fn never_sent(
    built: &[DeclaredRequest],
    captures: &[&str],
    raw: &[RawRequest],
    mut made: Vec<bool>,
    at: &Locator<'_>,
) -> Result<(), ScenarioError> {
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

#[cfg(test)]
mod tests {
    use crate::distributed::share::{expand, row_deals, worker_launch_order};
    use crate::scenario::data_file::{DataFile, DataSource};
    use crate::scenario::file::{parse, parse_with_data};
    use crate::scenario::Scenario;
    use crate::users::data_table::RowDeal;
    use crate::users::declared::{CaptureSource, DeclaredRequest, RequestOrder};
    use crate::users::{ThinkTime, UserClass};
    use reqwest::header::HeaderName;

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

    /// An MCP client as a declared class: the session id from a header, a notification, a
    /// DELETE at stop.
    const MCP: &str = r#"
users = 2
run_time = "2s"
[[user_classes]]
name = "McpClient"
weight = 1
[[user_classes.on_start]]
name = "initialize"
path = "/mcp"
jsonrpc = "initialize"
params = '{"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "skein", "version": "1"}}'
capture = { session = "header:Mcp-Session-Id", version = "/result/protocolVersion" }
[[user_classes.on_start]]
name = "notifications/initialized"
path = "/mcp"
jsonrpc = "notifications/initialized"
notification = true
headers = { "Mcp-Session-Id" = "{{session}}" }
[[user_classes.requests]]
name = "tools/call search"
path = "/mcp"
jsonrpc = "tools/call"
params = '{"name": "search", "arguments": {"query": "q"}}'
headers = { "Mcp-Session-Id" = "{{session}}", "MCP-Protocol-Version" = "{{version}}" }
capture = { last = "/result/content/0/text" }
[[user_classes.on_stop]]
name = "DELETE session"
path = "/mcp"
method = "DELETE"
headers = { "Mcp-Session-Id" = "{{session}}" }
"#;

    #[test]
    fn a_class_starts_and_stops_with_its_own_requests() {
        let scenario = parse("s", "s.toml", MCP).unwrap();
        let class = declared(&scenario);
        let names = |list: &[DeclaredRequest]| list.iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(
            names(&class.on_start),
            ["initialize", "notifications/initialized"]
        );
        assert_eq!(names(&class.requests), ["tools/call search"]);
        assert_eq!(names(&class.on_stop), ["DELETE session"]);
        assert_eq!(class.captures, ["session", "version", "last"]);
        assert_eq!(
            class.on_start[0].capture[0],
            (
                0,
                CaptureSource::Header(HeaderName::from_static("mcp-session-id"))
            )
        );
        let notification = &class.on_start[1];
        assert!(notification.notification);
        assert_eq!(notification.expect_status, [200, 202, 204]);
        let rendered = notification
            .render(
                "http://h",
                crate::users::template::UserValues {
                    captured: &[Some("s-1".into()), None, None],
                    row: &[],
                },
            )
            .unwrap();
        assert_eq!(
            rendered.body.as_deref(),
            Some(r#"{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}"#)
        );
        assert_eq!(rendered.headers, ["s-1"]);
        assert!(class.behaviour().lifecycle.is_some());
        // The start and stop are part of the scenario's hash.
        let without_stop = MCP.replacen("method = \"DELETE\"", "method = \"POST\"", 1);
        let other = parse("s", "s.toml", &without_stop).unwrap();
        assert_ne!(scenario.hash(), other.hash());
    }

    #[test]
    fn a_start_stop_or_header_capture_that_cannot_work_is_refused_at_load() {
        let cases: [(&str, &str, &str); 7] = [
            // The stop uses what only a request captures.
            (
                "method = \"DELETE\"\nheaders = { \"Mcp-Session-Id\" = \"{{session}}\" }",
                "method = \"DELETE\"\nheaders = { \"Mcp-Session-Id\" = \"{{last}}\" }",
                ":27:8: on_stop request `DELETE session` uses capture `last`, which no on_start request makes",
            ),
            ("header:Mcp-Session-Id", "header:", "does not name an HTTP header"),
            ("header:Mcp-Session-Id", "session", "`session` is neither a JSON pointer nor a header"),
            (
                "jsonrpc = \"notifications/initialized\"\n",
                "",
                ":16:16: `notification` without `jsonrpc`",
            ),
            (
                "notification = true\n",
                "notification = true\ncapture = { x = \"/result\" }\n",
                "capture `x` reads the answer of a notification, which has none",
            ),
            (
                "name = \"DELETE session\"",
                "name = \"initialize\"",
                ":27:8: request `initialize` is listed twice in this class",
            ),
            (
                "name = \"initialize\"\npath",
                "name = \"initialize\"\nweight = 2\npath",
                "a request of a sequence has no weight",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(MCP.contains(from), "{from}");
            let text = MCP.replacen(from, to, 1);
            let e = parse("s", "s.toml", &text).unwrap_err().to_string();
            assert!(e.contains(expected), "{expected}:\n{e}");
            assert!(e.contains("hint: "), "{e}");
        }
        let builtin = "users = 1\nrun_time = \"1s\"\n[[user_classes]]\nclass = \"HighThroughputUser\"\nweight = 1\n[[user_classes.on_start]]\nname = \"x\"\npath = \"/\"\n";
        let e = parse("s", "s.toml", builtin).unwrap_err().to_string();
        assert!(
            e.contains("built-in class `HighThroughputUser` takes no `on_start` or `on_stop`"),
            "{e}"
        );
    }
}
