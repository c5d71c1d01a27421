//! `[user_classes.mcp]` of a `class = "McpUser"` entry: the endpoint, the protocol revision
//! offered, the tools to call by weight with their argument templates, resources and prompts,
//! and session churn; validated into [`McpSettings`] with `file:line:col` errors.
use serde::Deserialize;
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use super::request::leak;
use super::MAX_WEIGHT;
use crate::users::mcp::session::{MODERN_VERSION, SUPPORTED_VERSIONS};
use crate::users::mcp::AUTO;
use crate::users::mcp::{McpSettings, PromptSpec, ResourceSpec, ToolSpec};
use crate::users::template::{Template, TemplateNames};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMcp {
    path: Option<Spanned<String>>,
    protocol_version: Option<Spanned<String>>,
    #[serde(default)]
    tools: Vec<RawTool>,
    #[serde(default)]
    resources: Vec<RawResource>,
    #[serde(default)]
    prompts: Vec<RawTool>,
    churn_every: Option<Spanned<i64>>,
}

/// A tool or a prompt: a name, a weight, arguments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    name: Spanned<String>,
    weight: Option<Spanned<i64>>,
    arguments: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    uri: Spanned<String>,
    weight: Option<Spanned<i64>>,
}

/// Validates the settings and builds them (leaked: see `users::mcp`).
pub(super) fn settings(
    raw: &RawMcp,
    at: &Locator<'_>,
) -> Result<&'static McpSettings, ScenarioError> {
    let path = match &raw.path {
        None => String::new(),
        Some(p) if p.get_ref().starts_with('/') => p.get_ref().clone(),
        Some(p) => {
            return Err(at.at(
                p.span(),
                format!("path `{}` does not start with `/`", p.get_ref()),
                "write the endpoint's path after the host, e.g. `path = \"/mcp\"`",
            ))
        }
    };
    let protocol_version = match &raw.protocol_version {
        None => String::new(),
        Some(v)
            if SUPPORTED_VERSIONS.contains(&v.get_ref().as_str())
                || [MODERN_VERSION, AUTO].contains(&v.get_ref().as_str()) =>
        {
            v.get_ref().clone()
        }
        Some(v) => {
            return Err(at.at(
                v.span(),
                format!("protocol version `{}` is not one Skein speaks", v.get_ref()),
                format!(
                    "use one of: {}, {MODERN_VERSION} (stateless), or {AUTO} (ask with server/discover, else the handshake)",
                    SUPPORTED_VERSIONS.join(", ")
                ),
            ))
        }
    };
    let mut tools = Vec::new();
    for t in &raw.tools {
        unique(&raw.tools, t, "tool", at)?;
        tools.push(ToolSpec {
            name: t.name.get_ref().clone(),
            recorded: leak(&format!("tools/call {}", t.name.get_ref())),
            weight: weight(t.weight.as_ref(), at)?,
            arguments: arguments(t.arguments.as_ref(), at)?,
        });
    }
    if !tools.is_empty() && tools.iter().all(|t| t.weight == 0) {
        return Err(at.at(
            raw.tools[0].name.span(),
            "the tool weights sum to 0: McpUsers would call no tool",
            "give at least one tool a positive weight, e.g. `weight = 1`",
        ));
    }
    let resources = raw
        .resources
        .iter()
        .map(|r| {
            Ok(ResourceSpec {
                uri: r.uri.get_ref().clone(),
                weight: weight(r.weight.as_ref(), at)?,
            })
        })
        .collect::<Result<Vec<_>, ScenarioError>>()?;
    let mut prompts = Vec::new();
    for p in &raw.prompts {
        unique(&raw.prompts, p, "prompt", at)?;
        prompts.push(PromptSpec {
            name: p.name.get_ref().clone(),
            recorded: leak(&format!("prompts/get {}", p.name.get_ref())),
            weight: weight(p.weight.as_ref(), at)?,
            arguments: arguments(p.arguments.as_ref(), at)?,
        });
    }
    let churn_every = match &raw.churn_every {
        None => 0,
        Some(n) if *n.get_ref() >= 0 => *n.get_ref() as u64,
        Some(n) => return Err(at.at(
            n.span(),
            format!("churn_every is {}", n.get_ref()),
            "a new session every N tool calls: `churn_every = 10`, or 0 for one session per user",
        )),
    };
    let text = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.get_ref().clone());
    let listed = |list: &[RawTool]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name.get_ref(),
                    "weight": t.weight.as_ref().map(|w| *w.get_ref()),
                    "arguments": text(&t.arguments),
                })
            })
            .collect()
    };
    let definition = serde_json::json!({
        "path": path,
        "protocol_version": protocol_version,
        "tools": listed(&raw.tools),
        "resources": raw.resources.iter().map(|r| serde_json::json!({
            "uri": r.uri.get_ref(), "weight": r.weight.as_ref().map(|w| *w.get_ref()),
        })).collect::<Vec<_>>(),
        "prompts": listed(&raw.prompts),
        "churn_every": churn_every,
    });
    Ok(Box::leak(Box::new(McpSettings {
        path,
        protocol_version,
        tools,
        resources,
        prompts,
        churn_every,
        definition,
    })))
}

fn unique(
    list: &[RawTool],
    item: &RawTool,
    what: &str,
    at: &Locator<'_>,
) -> Result<(), ScenarioError> {
    let same = list
        .iter()
        .filter(|o| o.name.get_ref() == item.name.get_ref())
        .count();
    if same > 1 {
        return Err(at.at(
            item.name.span(),
            format!("{what} `{}` is listed twice", item.name.get_ref()),
            format!("list each {what} once, with the weight it should have"),
        ));
    }
    Ok(())
}

fn weight(w: Option<&Spanned<i64>>, at: &Locator<'_>) -> Result<u32, ScenarioError> {
    match w {
        None => Ok(1),
        Some(w) if (0..=MAX_WEIGHT).contains(w.get_ref()) => Ok(*w.get_ref() as u32),
        Some(w) => Err(at.at(
            w.span(),
            format!("weight is {}: weights are 0 to {MAX_WEIGHT}", w.get_ref()),
            "write a small ratio, e.g. `weight = 5`",
        )),
    }
}

/// An `arguments` template, which must render to a JSON object (no captures or columns: an
/// McpUser has none).
fn arguments(
    source: Option<&Spanned<String>>,
    at: &Locator<'_>,
) -> Result<Option<Template>, ScenarioError> {
    let Some(source) = source else {
        return Ok(None);
    };
    let env = |var: &str| std::env::var(var).ok();
    let template = Template::compile(source.get_ref(), TemplateNames::default(), &env)
        .map_err(|e| at.at(source.span(), e.message, e.hint))?;
    let sample = template.sample(&[]);
    match serde_json::from_str::<serde_json::Value>(&sample) {
        Ok(serde_json::Value::Object(_)) => Ok(Some(template)),
        Ok(_) | Err(_) => Err(at.at(
            source.span(),
            format!("arguments are not a JSON object once templated; sample: {sample}"),
            "write the tool's arguments as an object, e.g. `arguments = '{\"query\": \"{{pick(a, b)}}\"}'`",
        )),
    }
}
