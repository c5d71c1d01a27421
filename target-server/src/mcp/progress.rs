//! Progress notifications (spec 2025-06-18, basic/utilities/progress): a request that carries
//! `params._meta.progressToken` may receive `notifications/progress` messages before its
//! response. They can only travel on an SSE answer, so a [`Progress`] exists only then.
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;

/// Where a running request sends its progress: the token the client chose and the answer's
/// event stream.
pub struct Progress {
    token: Value,
    events: UnboundedSender<Value>,
}

impl Progress {
    pub fn new(token: Value, events: UnboundedSender<Value>) -> Progress {
        Progress { token, events }
    }

    /// Sends one `notifications/progress`; false when the client has gone away (the stream
    /// was dropped), so the work can stop early.
    pub fn send(&self, progress: u64, total: u64, message: &str) -> bool {
        let note = json!({
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {
                "progressToken": self.token,
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
