//! Progress notifications (spec 2025-06-18, basic/utilities/progress): a request that carries
//! `params._meta.progressToken` may receive `notifications/progress` messages before its
//! response. They can only travel on an SSE answer, so a [`Progress`] exists only then.
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;

/// An SSE answer's channel to its client, seen from the running request: where progress
/// goes when the client asked for it (a token), and whether the client is still there.
pub struct Progress {
    token: Option<Value>,
    events: UnboundedSender<Value>,
}

impl Progress {
    pub fn new(token: Option<Value>, events: UnboundedSender<Value>) -> Progress {
        Progress { token, events }
    }

    /// Whether the client has gone away (the stream was dropped): the work can stop early.
    pub fn client_gone(&self) -> bool {
        self.events.is_closed()
    }

    /// Sends one `notifications/progress` if the client asked for progress; false when the
    /// client has gone away.
    pub fn send(&self, progress: u64, total: u64, message: &str) -> bool {
        let Some(token) = &self.token else {
            return !self.client_gone();
        };
        let note = json!({
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {
                "progressToken": token,
                "progress": progress,
                "total": total,
                "message": message,
            },
        });
        self.events.send(note).is_ok()
    }
}

/// The request's progress token: `params._meta.progressToken`, a string or an integer.
pub fn token(params: &Value) -> Option<Value> {
    let token = params.get("_meta")?.get("progressToken")?;
    (token.is_string() || token.is_i64() || token.is_u64()).then(|| token.clone())
}
