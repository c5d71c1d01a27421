//! The two generations of the Agent2Agent protocol a client meets today, and how a user learns
//! which one an agent speaks: its agent card (`/.well-known/agent-card.json`).
//!
//! A2A 0.3 names its JSON-RPC methods `message/stream`, `tasks/get`, ...; its events carry a
//! `kind` (`artifact-update`, `status-update` with `final`) and its states are lower-case
//! (`completed`). A2A 1.0 (the current SDKs) names them `SendStreamingMessage`, `GetTask`, ...,
//! wraps each event in a `StreamResponse` (`{"artifactUpdate": ...}`, `{"statusUpdate": ...}`,
//! `{"task": ...}`), spells states `TASK_STATE_COMPLETED`, ends a stream with a terminal
//! state rather than a `final` flag, and asks for an `A2A-Version: 1.0` header. Reports keep the
//! 0.3 names for both, so baselines and SLAs by name hold whichever an agent speaks.
use serde_json::Value;

/// Where the agent card is.
pub const CARD_PATH: &str = "/.well-known/agent-card.json";
/// Where the JSON-RPC endpoint is when there is no card.
pub const DEFAULT_PATH: &str = "/a2a";

/// A protocol generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V0_3,
    V1_0,
}

/// What the scenario asks for (`a2a_version`, or `--a2a-version`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Choice {
    /// The newest the card offers; 0.3 at `/a2a` without a card.
    #[default]
    Auto,
    Force(Version),
}

impl Choice {
    pub fn parse(text: &str) -> Option<Choice> {
        match text {
            "auto" => Some(Choice::Auto),
            "1.0" => Some(Choice::Force(Version::V1_0)),
            "0.3" => Some(Choice::Force(Version::V0_3)),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Auto => "auto",
            Choice::Force(Version::V1_0) => "1.0",
            Choice::Force(Version::V0_3) => "0.3",
        }
    }
}

/// The agent a user talks to: which generation, at which URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub version: Version,
    pub url: String,
}

/// The peer an agent card offers (`card` is `None` when there is none: 404), under `choice`;
/// `Err` says why none fits.
pub fn peer(card: Option<&Value>, base_url: &str, choice: Choice) -> Result<Peer, String> {
    let fallback = |version| Peer {
        version,
        url: format!("{base_url}{DEFAULT_PATH}"),
    };
    let Some(card) = card else {
        return Ok(match choice {
            Choice::Auto => fallback(Version::V0_3),
            Choice::Force(v) => fallback(v),
        });
    };
    let mut offered: Vec<Peer> = card
        .get("supportedInterfaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("protocolBinding").and_then(Value::as_str) == Some("JSONRPC"))
        .filter_map(|i| {
            let url = i.get("url")?.as_str()?.to_string();
            let version = version_of(i.get("protocolVersion")?.as_str()?)?;
            Some(Peer { version, url })
        })
        .collect();
    // A 0.3 card: its `url` and `protocolVersion` (JSON-RPC unless it prefers another).
    let transport = card.get("preferredTransport").and_then(Value::as_str);
    if let (Some(url), Some(Version::V0_3)) = (
        card.get("url").and_then(Value::as_str),
        card.get("protocolVersion")
            .and_then(Value::as_str)
            .and_then(version_of),
    ) {
        if transport.is_none_or(|t| t == "JSONRPC")
            && !offered.iter().any(|p| p.version == Version::V0_3)
        {
            offered.push(Peer {
                version: Version::V0_3,
                url: url.to_string(),
            });
        }
    }
    let wanted = match choice {
        Choice::Force(v) => offered.iter().find(|p| p.version == v),
        Choice::Auto => offered
            .iter()
            .find(|p| p.version == Version::V1_0)
            .or_else(|| offered.first()),
    };
    wanted.cloned().ok_or_else(|| match choice {
        Choice::Force(v) => format!(
            "the agent card offers no JSON-RPC interface for A2A {}",
            v.as_str()
        ),
        Choice::Auto => "the agent card offers no JSON-RPC interface of A2A 1.0 or 0.3".to_string(),
    })
}

/// `"1.0"`, `"1.0.0"` → 1.0; `"0.3"`, `"0.3.0"` → 0.3.
fn version_of(text: &str) -> Option<Version> {
    if text == "1" || text.starts_with("1.") {
        Some(Version::V1_0)
    } else if text == "0.3" || text.starts_with("0.3.") {
        Some(Version::V0_3)
    } else {
        None
    }
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V0_3 => "0.3",
            Version::V1_0 => "1.0",
        }
    }

    /// Header lines every request of this generation carries.
    pub fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Version::V0_3 => &[],
            Version::V1_0 => &[("a2a-version", "1.0")],
        }
    }

    pub fn send(self) -> &'static str {
        self.pick("message/send", "SendMessage")
    }

    pub fn stream(self) -> &'static str {
        self.pick("message/stream", "SendStreamingMessage")
    }

    pub fn get(self) -> &'static str {
        self.pick("tasks/get", "GetTask")
    }

    pub fn cancel(self) -> &'static str {
        self.pick("tasks/cancel", "CancelTask")
    }

    pub fn resubscribe(self) -> &'static str {
        self.pick("tasks/resubscribe", "SubscribeToTask")
    }

    fn pick(self, v0_3: &'static str, v1_0: &'static str) -> &'static str {
        match self {
            Version::V0_3 => v0_3,
            Version::V1_0 => v1_0,
        }
    }

    /// `params` of a user message with `text`.
    pub fn message_params(self, text: &str, message_id: &str) -> String {
        let text = Value::String(text.to_string());
        match self {
            Version::V0_3 => format!(
                r#"{{"message":{{"role":"user","parts":[{{"kind":"text","text":{text}}}],"messageId":"{message_id}"}}}}"#
            ),
            Version::V1_0 => format!(
                r#"{{"message":{{"role":"ROLE_USER","parts":[{{"text":{text}}}],"messageId":"{message_id}"}}}}"#
            ),
        }
    }

    /// The pointer an event's data holds when the event is a chunk of the answer.
    pub fn chunk_pointer(self) -> &'static str {
        self.pick("/result/artifact", "/result/artifactUpdate")
    }

    /// The task an event (or a send's result, as `{"result": ...}`) is about.
    pub fn task_id(self, event: &Value) -> Option<String> {
        let pointers: &[&str] = match self {
            Version::V0_3 => &["/result/taskId", "/result/id"],
            Version::V1_0 => &[
                "/result/artifactUpdate/taskId",
                "/result/statusUpdate/taskId",
                "/result/task/id",
            ],
        };
        pointers
            .iter()
            .find_map(|p| event.pointer(p).and_then(Value::as_str))
            .map(str::to_string)
    }

    /// The terminal state an event reports, if it reports one (0.3: a `final` status update;
    /// 1.0: a status update or task in a terminal state).
    pub fn terminal_state(self, event: &Value) -> Option<String> {
        match self {
            Version::V0_3 => {
                let result = event.get("result")?;
                if !result
                    .get("final")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                {
                    return None;
                }
                let state = result.pointer("/status/state").and_then(Value::as_str);
                Some(state.unwrap_or("").to_string())
            }
            Version::V1_0 => {
                let state = [
                    "/result/statusUpdate/status/state",
                    "/result/task/status/state",
                ]
                .iter()
                .find_map(|p| event.pointer(p).and_then(Value::as_str))?;
                const TERMINAL: [&str; 5] = [
                    "TASK_STATE_COMPLETED",
                    "TASK_STATE_FAILED",
                    "TASK_STATE_CANCELED",
                    "TASK_STATE_REJECTED",
                    "TASK_STATE_AUTH_REQUIRED",
                ];
                TERMINAL.contains(&state).then(|| state.to_string())
            }
        }
    }

    /// The state of a completed task in this generation.
    pub fn completed(self) -> &'static str {
        self.pick("completed", "TASK_STATE_COMPLETED")
    }
}

/// Why a stream whose last event is `last` did not end well, if it did not: no terminal state
/// (the stream was cut), or one other than completed.
pub fn stream_end_error(version: Version, last: Option<&Value>) -> Option<String> {
    match last.and_then(|e| version.terminal_state(e)) {
        None => Some("stream ended without a final status update".to_string()),
        Some(state) if state == version.completed() => None,
        Some(state) => Some(format!("stream ended in state `{state}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_card_picks_the_newest_json_rpc_interface_or_the_one_forced() {
        let base = "http://h";
        let card = json!({
            "supportedInterfaces": [
                {"url": "http://h/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
                {"url": "http://h/grpc", "protocolBinding": "GRPC", "protocolVersion": "1.0"},
                {"url": "http://h/v1", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
            ]
        });
        let v1 = Peer {
            version: Version::V1_0,
            url: "http://h/v1".into(),
        };
        let v03 = Peer {
            version: Version::V0_3,
            url: "http://h/a2a".into(),
        };
        assert_eq!(peer(Some(&card), base, Choice::Auto), Ok(v1.clone()));
        assert_eq!(
            peer(Some(&card), base, Choice::Force(Version::V0_3)),
            Ok(v03)
        );
        let old = json!({"url": "http://h/old", "protocolVersion": "0.3.0", "preferredTransport": "JSONRPC"});
        assert_eq!(
            peer(Some(&old), base, Choice::Auto).unwrap(),
            Peer {
                version: Version::V0_3,
                url: "http://h/old".into()
            }
        );
        assert_eq!(
            peer(Some(&old), base, Choice::Force(Version::V1_0)).unwrap_err(),
            "the agent card offers no JSON-RPC interface for A2A 1.0"
        );
        assert_eq!(peer(None, base, Choice::Auto).unwrap().url, "http://h/a2a");
        let grpc_only = json!({"supportedInterfaces": [{"url": "x", "protocolBinding": "GRPC", "protocolVersion": "1.0"}]});
        assert!(peer(Some(&grpc_only), base, Choice::Auto).is_err());
    }

    #[test]
    fn each_generation_reads_its_own_events() {
        let v03_done = json!({"result": {"kind": "status-update", "taskId": "t", "final": true, "status": {"state": "completed"}}});
        let v03_chunk =
            json!({"result": {"kind": "artifact-update", "taskId": "t", "artifact": {}}});
        let v1_done = json!({"result": {"statusUpdate": {"taskId": "t", "status": {"state": "TASK_STATE_COMPLETED"}}}});
        let v1_working = json!({"result": {"statusUpdate": {"taskId": "t", "status": {"state": "TASK_STATE_WORKING"}}}});
        let v1_chunk = json!({"result": {"artifactUpdate": {"taskId": "t", "artifact": {}}}});
        let v1_canceled =
            json!({"result": {"task": {"id": "t", "status": {"state": "TASK_STATE_CANCELED"}}}});
        assert_eq!(stream_end_error(Version::V0_3, Some(&v03_done)), None);
        assert_eq!(stream_end_error(Version::V1_0, Some(&v1_done)), None);
        for (version, cut) in [
            (Version::V0_3, &v03_chunk),
            (Version::V1_0, &v1_chunk),
            (Version::V1_0, &v1_working),
        ] {
            assert_eq!(
                stream_end_error(version, Some(cut)).unwrap(),
                "stream ended without a final status update"
            );
        }
        assert_eq!(
            stream_end_error(Version::V1_0, Some(&v1_canceled)).unwrap(),
            "stream ended in state `TASK_STATE_CANCELED`"
        );
        for (version, event) in [
            (Version::V0_3, &v03_chunk),
            (Version::V1_0, &v1_chunk),
            (Version::V1_0, &v1_canceled),
        ] {
            assert_eq!(version.task_id(event).as_deref(), Some("t"));
        }
        let params: Value =
            serde_json::from_str(&Version::V1_0.message_params("hi \"you\"", "m")).unwrap();
        assert_eq!(
            params.pointer("/message/parts/0/text"),
            Some(&json!("hi \"you\""))
        );
        assert_eq!(params.pointer("/message/role"), Some(&json!("ROLE_USER")));
    }
}
