//! The fixed resources (`resources/list`, `resources/read`) and prompts (`prompts/list`,
//! `prompts/get`) the server offers. They are small and constant: what a load test needs
//! from them is a realistic shape and a cheap, known answer, not content.
use serde_json::{json, Value};

use crate::rpc_error::{RpcError, INVALID_PARAMS};

/// MCP's "resource not found" error code (spec 2025-06-18, server/resources).
pub const RESOURCE_NOT_FOUND: i64 = -32002;

struct Resource {
    uri: &'static str,
    name: &'static str,
    title: &'static str,
    description: &'static str,
    mime_type: &'static str,
    text: &'static str,
}

const RESOURCES: [Resource; 2] = [
    Resource {
        uri: "doc://guide/quickstart",
        name: "quickstart",
        title: "Platform quickstart",
        description: "How to start a training job and read its status.",
        mime_type: "text/markdown",
        text: "# Quickstart\n\n1. Call `training.start_grpo` with an agent id, a config and training data.\n2. Poll `training.get_status` until the job completes.\n3. Export trajectories with `training.export_trajectories`.\n",
    },
    Resource {
        uri: "doc://policies/rate-limits",
        name: "rate-limits",
        title: "Rate limits",
        description: "What the platform does past its capacity.",
        mime_type: "text/plain",
        text: "Requests past capacity wait in a bounded queue; past the queue they get HTTP 429 with Retry-After: 1.\n",
    },
];

pub fn list_resources() -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|r| {
            json!({
                "uri": r.uri, "name": r.name, "title": r.title,
                "description": r.description, "mimeType": r.mime_type,
            })
        })
        .collect();
    json!({ "resources": resources })
}

/// `resources/read {uri}`: the resource's text, or -32002 naming the uri.
pub fn read_resource(params: &Value) -> Result<Value, RpcError> {
    let uri = params
        .get("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::new(INVALID_PARAMS, "Invalid params: `uri` must be a string"))?;
    let resource = RESOURCES.iter().find(|r| r.uri == uri).ok_or_else(|| {
        RpcError::new(RESOURCE_NOT_FOUND, "Resource not found").with_data(json!({ "uri": uri }))
    })?;
    Ok(json!({ "contents": [{
        "uri": resource.uri, "mimeType": resource.mime_type, "text": resource.text,
    }] }))
}

struct Prompt {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    /// (name, description, required)
    arguments: &'static [(&'static str, &'static str, bool)],
}

const PROMPTS: [Prompt; 2] = [
    Prompt {
        name: "summarize_document",
        title: "Summarize a document",
        description: "Asks for a summary of one document found by `search`.",
        arguments: &[("id", "The document id, e.g. doc-0042.", true)],
    },
    Prompt {
        name: "triage_incident",
        title: "Triage an incident",
        description: "Asks for a first triage of an incident in a service.",
        arguments: &[
            ("service", "The affected service.", true),
            ("severity", "low, medium or high (default medium).", false),
        ],
    },
];

pub fn list_prompts() -> Value {
    let prompts: Vec<Value> = PROMPTS
        .iter()
        .map(|p| {
            let arguments: Vec<Value> = p
                .arguments
                .iter()
                .map(|(name, description, required)| {
                    json!({ "name": name, "description": description, "required": required })
                })
                .collect();
            json!({ "name": p.name, "title": p.title, "description": p.description, "arguments": arguments })
        })
        .collect();
    json!({ "prompts": prompts })
}

/// `prompts/get {name, arguments}`: the prompt's messages with the arguments filled in; an
/// unknown prompt or a missing required argument is -32602 (invalid params), as the spec says.
pub fn get_prompt(params: &Value) -> Result<Value, RpcError> {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::new(INVALID_PARAMS, "Invalid params: `name` must be a string"))?;
    let prompt = PROMPTS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| RpcError::new(INVALID_PARAMS, format!("Unknown prompt: {name}")))?;
    let given = params.get("arguments").cloned().unwrap_or(json!({}));
    let argument = |key: &str| given.get(key).and_then(Value::as_str);
    for (key, _, required) in prompt.arguments {
        if *required && argument(key).is_none() {
            return Err(RpcError::new(
                INVALID_PARAMS,
                format!("Missing required argument: {key}"),
            ));
        }
    }
    let text = match prompt.name {
        "summarize_document" => format!(
            "Fetch document {} with the fetch_document tool and summarize it in three sentences.",
            argument("id").unwrap_or_default()
        ),
        _ => format!(
            "An incident of {} severity affects {}. List the first three things to check.",
            argument("severity").unwrap_or("medium"),
            argument("service").unwrap_or_default()
        ),
    };
    Ok(json!({
        "description": prompt.description,
        "messages": [{ "role": "user", "content": { "type": "text", "text": text } }],
    }))
}
