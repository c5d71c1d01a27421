//! The tools (`tools/list`, `tools/call`): what an MCP load test mostly calls. Each tool's
//! service time is a latency-table entry (`mcp.search`, ...), drawn and slept on the precise
//! clock like every other method's, so a load generator can check what it measures against
//! a known model; `long_report` is the streamed one, one progress notification per step.
//!
//! Arguments are checked against the tool's `inputSchema` (required properties, types,
//! integer bounds). A violation is a tool result with `isError: true` and the problem in its
//! text, as the python SDK answers it (the model can read and correct it); an unknown tool
//! is a protocol error, -32602.
use serde_json::{json, Map, Value};

use super::progress::Progress;
use crate::config::{MCP_FETCH_DOCUMENT, MCP_LONG_REPORT_STEP, MCP_SEARCH, MCP_SUMMARIZE};
use crate::rpc_error::{RpcError, INTERNAL_ERROR, INVALID_PARAMS};
use crate::state::AppState;

/// One tool: its wire description and the latency-table name of its service time.
pub struct Tool {
    pub name: &'static str,
    description: &'static str,
    /// Latency-table name, also the tool's label in `target_server_request_duration_seconds`.
    pub latency: &'static str,
    schema: fn() -> Value,
}

/// Documents `search` finds and `fetch_document` reads: `doc-0000` to `doc-0999`.
const DOCUMENTS: u64 = 1_000;
/// Most steps one `long_report` may take, so that a typo cannot hold a slot for hours.
pub const MAX_REPORT_STEPS: u64 = 1_000;

pub const TOOLS: [Tool; 4] = [
    Tool {
        name: "search",
        description: "Searches the document store; returns up to `limit` matching document ids with titles.",
        latency: MCP_SEARCH,
        schema: || {
            json!({
                "type": "object",
                "properties": {
                    "query": { "type": "string", "description": "What to look for." },
                    "limit": { "type": "integer", "minimum": 1, "maximum": 20, "default": 5,
                               "description": "Most results to return." },
                },
                "required": ["query"],
            })
        },
    },
    Tool {
        name: "fetch_document",
        description: "Reads one document by the id `search` returned (doc-0000 to doc-0999).",
        latency: MCP_FETCH_DOCUMENT,
        schema: || {
            json!({
                "type": "object",
                "properties": { "id": { "type": "string", "description": "Document id, e.g. doc-0042." } },
                "required": ["id"],
            })
        },
    },
    Tool {
        name: "summarize",
        description: "Summarizes a text: its length and its opening words.",
        latency: MCP_SUMMARIZE,
        schema: || {
            json!({
                "type": "object",
                "properties": { "text": { "type": "string", "description": "The text to summarize." } },
                "required": ["text"],
            })
        },
    },
    Tool {
        name: "long_report",
        description: "Builds a report in `steps` steps; with a progressToken and an SSE answer it reports progress after each step.",
        latency: "mcp.long_report",
        schema: || {
            json!({
                "type": "object",
                "properties": {
                    "steps": { "type": "integer", "minimum": 1, "maximum": MAX_REPORT_STEPS,
                               "description": "Steps to run; each takes mcp.long_report.step." },
                },
                "required": ["steps"],
            })
        },
    },
];

pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name)
}

pub fn list() -> Value {
    let tools: Vec<Value> = TOOLS
        .iter()
        .map(|t| json!({ "name": t.name, "description": t.description, "inputSchema": (t.schema)() }))
        .collect();
    json!({ "tools": tools })
}

/// The tool a `tools/call` names, if it names a known one (for its metrics label).
pub fn named_in(params: &Value) -> Option<&'static Tool> {
    params.get("name").and_then(Value::as_str).and_then(find)
}

/// `tools/call {name, arguments}`.
pub async fn call(
    state: &AppState,
    params: &Value,
    progress: Option<Progress>,
) -> Result<Value, RpcError> {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::new(INVALID_PARAMS, "Invalid params: `name` must be a string"))?;
    let tool =
        find(name).ok_or_else(|| RpcError::new(INVALID_PARAMS, format!("Unknown tool: {name}")))?;
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(arguments)) => arguments.clone(),
        Some(_) => {
            return Err(RpcError::new(
                INVALID_PARAMS,
                "Invalid params: `arguments` must be an object",
            ))
        }
    };
    if let Err(problem) = validate(&(tool.schema)(), &arguments) {
        return Ok(error_result(&format!("Input validation error: {problem}")));
    }
    // The fault model: stall remainder and service time (zero for long_report, whose time is
    // in its steps), then maybe an injected error.
    let decision = state.faults.decide(tool.latency);
    if !decision.delay.is_zero() {
        state.clock.sleep(decision.delay).await;
    }
    if decision.inject_error {
        return Err(RpcError::new(
            INTERNAL_ERROR,
            format!("internal error: injected fault in {}", tool.latency),
        ));
    }
    let text = |key: &str| arguments.get(key).and_then(Value::as_str).unwrap_or("");
    let number = |key: &str| arguments.get(key).and_then(Value::as_u64);
    Ok(match tool.name {
        "search" => text_result(search(text("query"), number("limit").unwrap_or(5))),
        "fetch_document" => match document(text("id")) {
            Some(body) => text_result(body),
            None => error_result(&format!(
                "document `{}` not found (ids run doc-0000 to doc-{:04})",
                text("id"),
                DOCUMENTS - 1
            )),
        },
        "summarize" => text_result(summarize(text("text"))),
        _ => long_report(state, number("steps").unwrap_or(1), progress).await,
    })
}

fn text_result(text: String) -> Value {
    json!({ "content": [{ "type": "text", "text": text }], "isError": false })
}

fn error_result(text: &str) -> Value {
    json!({ "content": [{ "type": "text", "text": text }], "isError": true })
}

/// Checks `arguments` against the subset of JSON Schema the tools use: `required`, property
/// `type` (string, integer), integer `minimum`/`maximum`. Worded as python's `jsonschema`.
fn validate(schema: &Value, arguments: &Map<String, Value>) -> Result<(), String> {
    let required = schema["required"].as_array().cloned().unwrap_or_default();
    for key in required.iter().filter_map(Value::as_str) {
        if !arguments.contains_key(key) {
            return Err(format!("'{key}' is a required property"));
        }
    }
    let Some(properties) = schema["properties"].as_object() else {
        return Ok(());
    };
    for (key, value) in arguments {
        let Some(property) = properties.get(key) else {
            continue;
        };
        match property["type"].as_str() {
            Some("string") if !value.is_string() => {
                return Err(format!("{value} is not of type 'string' ('{key}')"))
            }
            Some("integer") => {
                let Some(n) = value.as_i64() else {
                    return Err(format!("{value} is not of type 'integer' ('{key}')"));
                };
                if let Some(min) = property["minimum"].as_i64().filter(|min| n < *min) {
                    return Err(format!("{n} is less than the minimum of {min} ('{key}')"));
                }
                if let Some(max) = property["maximum"].as_i64().filter(|max| n > *max) {
                    return Err(format!(
                        "{n} is greater than the maximum of {max} ('{key}')"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// FNV-1a: a stable hash, so the same query finds the same documents on every run.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn search(query: &str, limit: u64) -> String {
    let start = fnv(query);
    let lines: Vec<String> = (0..limit)
        .map(|i| {
            let doc = start.wrapping_add(i.wrapping_mul(7919)) % DOCUMENTS;
            format!(
                "{}. doc-{doc:04}: notes on \"{query}\" (part {})",
                i + 1,
                i + 1
            )
        })
        .collect();
    format!("{} results for \"{query}\":\n{}", limit, lines.join("\n"))
}

fn document(id: &str) -> Option<String> {
    let n: u64 = id.strip_prefix("doc-")?.parse().ok()?;
    if n >= DOCUMENTS || id.len() != 8 {
        return None;
    }
    let paragraph = "The platform trains agents with GRPO on user-supplied queries, runs \
        workflows of dependent tasks and answers agent messages as streamed chunks.";
    Some(format!(
        "# Document {id}\n\n{paragraph}\n\nSection {}: capacity, queues and shedding.\n\n{paragraph}\n",
        n % 17
    ))
}

fn summarize(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let opening = words.iter().take(12).copied().collect::<Vec<_>>().join(" ");
    let more = if words.len() > 12 { " …" } else { "" };
    format!("Summary ({} words): {opening}{more}", words.len())
}

/// `long_report`: `steps` waits of `mcp.long_report.step` each, a progress notification
/// after each when the client asked for progress. Each wait starts when the previous step
/// ended, so the gap between two notifications is never shorter than one step's time. An SSE
/// answer whose client went away stops at the next step (a JSON answer's work is dropped
/// with its request).
async fn long_report(state: &AppState, steps: u64, progress: Option<Progress>) -> Value {
    for step in 1..=steps {
        let wait = state
            .faults
            .latency(MCP_LONG_REPORT_STEP)
            .draw(&mut rand::rng());
        if !wait.is_zero() {
            state.clock.sleep(wait).await;
        }
        if let Some(progress) = &progress {
            let message = format!("step {step} of {steps}");
            if !progress.send(step, steps, &message) {
                // The client went away: nobody will read the rest.
                return error_result("client disconnected");
            }
        }
    }
    text_result(format!("Report complete: {steps} steps."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked_against_the_schema() {
        let schema = (find("search").unwrap().schema)();
        let args = |v: Value| v.as_object().unwrap().clone();
        assert!(validate(&schema, &args(json!({ "query": "x" }))).is_ok());
        assert!(validate(&schema, &args(json!({ "query": "x", "limit": 20 }))).is_ok());
        let missing = validate(&schema, &args(json!({ "limit": 2 }))).unwrap_err();
        assert!(
            missing.contains("'query' is a required property"),
            "{missing}"
        );
        assert!(validate(&schema, &args(json!({ "query": 1 }))).is_err());
        assert!(validate(&schema, &args(json!({ "query": "x", "limit": "2" }))).is_err());
        assert!(validate(&schema, &args(json!({ "query": "x", "limit": 0 }))).is_err());
        assert!(validate(&schema, &args(json!({ "query": "x", "limit": 21 }))).is_err());
    }

    #[test]
    fn every_tool_lists_a_typed_schema() {
        for tool in list()["tools"].as_array().unwrap() {
            let schema = &tool["inputSchema"];
            assert_eq!(schema["type"], "object", "{tool}");
            for key in schema["required"].as_array().unwrap() {
                let key = key.as_str().unwrap();
                assert!(schema["properties"][key]["type"].is_string(), "{tool}");
            }
        }
    }

    #[test]
    fn the_public_tool_names_are_the_tools() {
        let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        assert_eq!(names, super::super::TOOL_NAMES);
    }

    #[test]
    fn search_finds_documents_fetch_can_read() {
        let found = search("capacity", 3);
        let id = found.lines().nth(1).unwrap().split(' ').nth(1).unwrap();
        let id = id.trim_end_matches(':');
        assert!(document(id).is_some(), "{found}");
        assert!(document("doc-1000").is_none() && document("doc-12").is_none());
    }
}
