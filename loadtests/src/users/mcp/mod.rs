//! McpUser: an agent calling tools on an MCP server over streamable HTTP, as the official
//! SDKs' clients do ([`session`]): on start `initialize` (version negotiated, session id from
//! its header), `notifications/initialized` and `tools/list`; then `tools/call` weighted over
//! the tools the scenario names (arguments from its templates, or drawn from the tool's
//! `inputSchema`, [`arguments`]), each reported as `tools/call <tool>`, with optional
//! `resources/read` and `prompts/get`; at stop `DELETE` of the session.
//!
//! A session the server lost (404: expired, deleted, restarted) is opened again at the user's
//! next request and counted (`(session expired: initialized again)` among the skipped
//! requests). Session churn (`churn_every = N`) closes and reopens the session every N tool
//! calls: the production pattern that breaks servers, sessions opened faster than closed. A
//! stateless server (no session id) works the same, without ids or `DELETE`.
pub mod arguments;
pub mod session;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::behaviour::{
    Call, ClassBehaviour, Lifecycle, LifecycleFn, LifecycleFuture, Request, Session,
};
use super::template::{Template, UserValues};
use session::{McpSession, Refused, Rpc, MODERN_VERSION};

/// The class's name in scenario files and reports.
pub const NAME: &str = "McpUser";
/// Where the MCP endpoint is when the scenario does not say.
pub const DEFAULT_PATH: &str = "/mcp";

const INITIALIZE: &str = "initialize";
const DISCOVER: &str = "server/discover";
/// `protocol_version = "auto"`: probe with `server/discover`, fall back to the handshake.
pub const AUTO: &str = "auto";
const INITIALIZED: &str = "notifications/initialized";
const TOOLS_LIST: &str = "tools/list";
const TOOLS_CALL: &str = "tools/call";
const RESOURCES_READ: &str = "resources/read";
const DELETE: &str = "DELETE session";
/// Counted, per class, among the skipped requests each time a lost session is opened again.
pub const REINITIALIZED: &str = "(session expired: initialized again)";

/// One tool the scenario names.
pub struct ToolSpec {
    pub name: String,
    /// `tools/call <name>`, as recorded.
    pub recorded: &'static str,
    pub weight: u32,
    /// The `arguments` object; `None`: drawn from the tool's `inputSchema`.
    pub arguments: Option<Template>,
}

/// One resource to read, by weight.
pub struct ResourceSpec {
    pub uri: String,
    pub weight: u32,
}

/// One prompt to get, by weight.
pub struct PromptSpec {
    pub name: String,
    /// `prompts/get <name>`, as recorded.
    pub recorded: &'static str,
    pub weight: u32,
    pub arguments: Option<Template>,
}

/// What a scenario says of its McpUsers (`[user_classes.mcp]`); built at load and leaked, like
/// a declared class, so [`super::UserClass::Mcp`] stays `Copy`.
pub struct McpSettings {
    /// The endpoint's path (empty: [`DEFAULT_PATH`]).
    pub path: String,
    /// The revision offered in `initialize` (empty: the newest Skein speaks).
    pub protocol_version: String,
    /// Empty: every tool `tools/list` gives, equally.
    pub tools: Vec<ToolSpec>,
    pub resources: Vec<ResourceSpec>,
    pub prompts: Vec<PromptSpec>,
    /// A new session every this many tool calls (0: one session per user).
    pub churn_every: u64,
    /// The settings as written, for the scenario's hash.
    pub definition: Value,
}

/// An McpUser of a scenario that says nothing of it.
pub static DEFAULT_SETTINGS: McpSettings = McpSettings {
    path: String::new(),
    protocol_version: String::new(),
    tools: Vec::new(),
    resources: Vec::new(),
    prompts: Vec::new(),
    churn_every: 0,
    definition: Value::Null,
};

impl std::fmt::Debug for McpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "McpSettings({}, {} tools)",
            self.path(),
            self.tools.len()
        )
    }
}

impl McpSettings {
    pub fn path(&self) -> &str {
        if self.path.is_empty() {
            DEFAULT_PATH
        } else {
            &self.path
        }
    }

    pub fn protocol_version(&self) -> &str {
        if self.protocol_version.is_empty() {
            session::SUPPORTED_VERSIONS[0]
        } else {
            &self.protocol_version
        }
    }
}

/// What McpUsers send.
pub fn behaviour(settings: &'static McpSettings) -> ClassBehaviour {
    let mut requests = Vec::new();
    if settings.tools.is_empty() {
        requests.push(Request::new(TOOLS_CALL, 1, move |call, session| {
            Box::pin(async move { call_tool(settings, None, call, session).await })
        }));
    }
    for (index, tool) in settings.tools.iter().enumerate() {
        requests.push(Request::new(
            tool.recorded,
            tool.weight,
            move |call, session| {
                Box::pin(async move { call_tool(settings, Some(index), call, session).await })
            },
        ));
    }
    for resource in &settings.resources {
        requests.push(Request::new(
            RESOURCES_READ,
            resource.weight,
            move |call, session| {
                let params = serde_json::json!({ "uri": resource.uri }).to_string();
                Box::pin(async move {
                    in_session(
                        settings,
                        call,
                        session,
                        RESOURCES_READ,
                        "resources/read",
                        params,
                    )
                    .await
                })
            },
        ));
    }
    for prompt in &settings.prompts {
        requests.push(Request::new(
            prompt.recorded,
            prompt.weight,
            move |call, session| {
                let arguments = rendered(prompt.arguments.as_ref()).unwrap_or_else(|| "{}".into());
                let params = format!(
                    r#"{{"name":{},"arguments":{arguments}}}"#,
                    Value::String(prompt.name.clone())
                );
                Box::pin(async move {
                    in_session(
                        settings,
                        call,
                        session,
                        prompt.recorded,
                        "prompts/get",
                        params,
                    )
                    .await
                })
            },
        ));
    }
    let start: Arc<LifecycleFn> =
        Arc::new(move |call, session| start_user(settings, call, session));
    let stop: Arc<LifecycleFn> = Arc::new(move |call, session| stop_user(settings, call, session));
    ClassBehaviour::new(NAME, requests)
        .with_lifecycle(Lifecycle { start, stop })
        .recording([DISCOVER, INITIALIZE, INITIALIZED, TOOLS_LIST, DELETE])
}

fn start_user<'a>(
    settings: &'static McpSettings,
    call: Call,
    session: &'a mut Session,
) -> LifecycleFuture<'a> {
    Box::pin(async move { open(settings, &call, session.data::<McpSession>()).await })
}

fn stop_user<'a>(
    settings: &'static McpSettings,
    call: Call,
    session: &'a mut Session,
) -> LifecycleFuture<'a> {
    Box::pin(async move {
        let mcp = session.data::<McpSession>();
        let closed = !mcp.open || mcp.modern || session::delete(&call, settings, mcp, DELETE).await;
        mcp.reset();
        closed
    })
}

/// The user's start: the stateless revision's `server/discover`, or the handshake
/// (`initialize`, `notifications/initialized`) — chosen by `protocol_version`, or by the probe
/// for `auto` — then `tools/list`.
async fn open(settings: &McpSettings, call: &Call, mcp: &mut McpSession) -> bool {
    let version = settings.protocol_version();
    let modern = match version {
        MODERN_VERSION => match session::discover(call, settings, mcp, DISCOVER, true).await {
            Ok(modern) => modern,
            Err(_) => return false,
        },
        AUTO => match mcp.probed {
            Some(false) => false,
            probed => {
                match session::discover(call, settings, mcp, DISCOVER, probed.is_some()).await {
                    Ok(modern) => {
                        mcp.probed = Some(modern);
                        modern
                    }
                    Err(_) => return false,
                }
            }
        },
        _ => false,
    };
    if !modern && !handshake(settings, call, mcp).await {
        return false;
    }
    let list = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{{"_meta":{{{}}}}}}}"#,
        mcp.meta().trim_end_matches(',')
    );
    let rpc = Rpc {
        method: "tools/list",
        target: None,
    };
    let Ok(result) = session::request(call, settings, mcp, (TOOLS_LIST, rpc), list).await else {
        return false;
    };
    mcp.tools = result
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let name = t.get("name")?.as_str()?.to_string();
            Some((name, t.get("inputSchema").cloned().unwrap_or(Value::Null)))
        })
        .collect();
    mcp.open = true;
    true
}

/// The handshake revisions' start: `initialize` and `notifications/initialized`.
async fn handshake(settings: &McpSettings, call: &Call, mcp: &mut McpSession) -> bool {
    if session::initialize(call, settings, mcp, INITIALIZE)
        .await
        .is_err()
    {
        return false;
    }
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_string();
    session::notify(call, settings, mcp, INITIALIZED, initialized).await
}

/// A template's text for one request (templates of McpUsers use no captures or columns).
fn rendered(template: Option<&Template>) -> Option<String> {
    let mut out = String::new();
    let values = UserValues {
        captured: &[],
        row: &[],
    };
    template?.render(values, &mut out).ok()?;
    Some(out)
}

/// `tools/call` of the scenario's tool `index`, or of a tool the server listed.
async fn call_tool(
    settings: &'static McpSettings,
    index: Option<usize>,
    call: Call,
    session: &mut Session,
) {
    let mcp = session.data::<McpSession>();
    if !mcp.open && !reopen(settings, &call, mcp).await {
        return;
    }
    let (name, recorded, arguments) = match index.map(|i| &settings.tools[i]) {
        Some(tool) => {
            let schema = mcp
                .tools
                .iter()
                .find(|(n, _)| *n == tool.name)
                .map(|(_, s)| s);
            let arguments = rendered(tool.arguments.as_ref()).unwrap_or_else(|| {
                schema.map_or_else(|| "{}".into(), |s| arguments::value_for(s).to_string())
            });
            (tool.name.clone(), tool.recorded, arguments)
        }
        None => {
            use rand::seq::IndexedRandom;
            let Some((name, schema)) = mcp.tools.choose(&mut rand::rng()) else {
                // The server lists no tools: nothing to call.
                call.ctx.recorder.skipped(NAME, TOOLS_CALL);
                return;
            };
            (
                name.clone(),
                interned(&format!("{TOOLS_CALL} {name}")),
                arguments::value_for(schema).to_string(),
            )
        }
    };
    // A progress token asks the server for progress notifications (timed as chunks).
    let params = format!(
        r#"{{"name":{},"arguments":{arguments},"_meta":{{{}"progressToken":"{}"}}}}"#,
        Value::String(name.clone()),
        mcp.meta(),
        super::random_uuid()
    );
    let body = format!(r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{params}}}"#);
    let rpc = Rpc {
        method: "tools/call",
        target: Some(&name),
    };
    let outcome = session::request(&call, settings, mcp, (recorded, rpc), body).await;
    mcp.calls += 1;
    after(settings, &call, mcp, outcome).await;
}

/// Any other request in the session (`resources/read`, `prompts/get`).
async fn in_session(
    settings: &'static McpSettings,
    call: Call,
    session: &mut Session,
    recorded: &'static str,
    method: &str,
    params: String,
) {
    let mcp = session.data::<McpSession>();
    if !mcp.open && !reopen(settings, &call, mcp).await {
        return;
    }
    let target: Option<String> = serde_json::from_str::<Value>(&params).ok().and_then(|p| {
        p.get("name")
            .or(p.get("uri"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let params = match (mcp.modern, params.strip_prefix('{')) {
        (true, Some(rest)) => format!(
            r#"{{"_meta":{{{}}},{rest}"#,
            mcp.meta().trim_end_matches(',')
        ),
        _ => params,
    };
    let body = format!(r#"{{"jsonrpc":"2.0","id":4,"method":"{method}","params":{params}}}"#);
    let rpc = Rpc {
        method,
        target: target.as_deref(),
    };
    let outcome = session::request(&call, settings, mcp, (recorded, rpc), body).await;
    after(settings, &call, mcp, outcome).await;
}

/// After a request: a lost session is marked for reopening; a churned one is closed.
async fn after(
    settings: &McpSettings,
    call: &Call,
    mcp: &mut McpSession,
    outcome: Result<Value, Refused>,
) {
    if outcome == Err(Refused::SessionGone) && !mcp.modern {
        mcp.open = false;
        return;
    }
    if settings.churn_every > 0 && mcp.calls >= settings.churn_every && !mcp.modern {
        session::delete(call, settings, mcp, DELETE).await;
        mcp.reset();
    }
}

/// Opens the session again (it was lost, or churned); a lost one is counted.
async fn reopen(settings: &McpSettings, call: &Call, mcp: &mut McpSession) -> bool {
    if mcp.version.is_some() {
        call.ctx.recorder.skipped(NAME, REINITIALIZED);
    }
    open(settings, call, mcp).await
}

/// `tools/call <tool>` for a tool learned at run time: names are `&'static` in the recorder,
/// and a server lists few tools, so each is leaked once.
fn interned(name: &str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().expect("tool names poisoned");
    let names = names.get_or_insert_with(HashSet::new);
    match names.get(name) {
        Some(known) => known,
        None => {
            let leaked: &'static str = name.to_string().leak();
            names.insert(leaked);
            leaked
        }
    }
}
