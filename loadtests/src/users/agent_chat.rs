//! AgentChatUser: a user chatting with an agent over an Agent2Agent-style API (JSON-RPC at
//! `/a2a`): mostly streamed messages (`message/stream`), some blocking ones (`message/send`),
//! and follow-ups on its own tasks (`tasks/get`, `tasks/cancel`).
//!
//! A streamed answer is a server-sent event per chunk (an A2A `artifact-update`), then a final
//! `status-update`. Its time to first chunk, gaps and chunk rate are recorded beside its total
//! time, and its chunks count as the items it carried.
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

use super::behaviour::{Call, ClassBehaviour, Request, Session};
use super::http::{http_error, rpc_body, rpc_counting, FullResponse};
use super::stream::{send_for_stream, ChunkRule};
use crate::transport::jsonrpc::{self, Answer, Unread};

/// Where the agent API answers.
pub const A2A_PATH: &str = "/a2a";
/// A2A: no task with that id (e.g. evicted, or never this server's).
const TASK_NOT_FOUND: i64 = -32001;
/// A2A: the task already finished.
const TASK_NOT_CANCELABLE: i64 = -32002;
/// Tasks a user remembers for follow-ups (the newest ones).
const MAX_REMEMBERED_TASKS: usize = 16;

const PROMPTS: [&str; 4] = [
    "Summarise the last training run's reward curve.",
    "Plan a three-step evaluation of the new policy.",
    "Which workflow executions failed today, and why?",
    "Draft a rollout note for the capacity review.",
];

#[derive(Default)]
struct KnownTasks(Vec<String>);

impl KnownTasks {
    fn remember(&mut self, id: &str) {
        if self.0.len() >= MAX_REMEMBERED_TASKS {
            self.0.remove(0);
        }
        self.0.push(id.to_string());
    }

    /// One of this user's tasks, or an id no server knows (answered "not found", which is
    /// tolerated) before it has any.
    fn pick(&self) -> String {
        use rand::seq::IndexedRandom;
        self.0
            .choose(&mut rand::rng())
            .cloned()
            .unwrap_or_else(|| super::random_uuid().to_string())
    }
}

fn message_params() -> String {
    use rand::seq::IndexedRandom;
    let text = PROMPTS.choose(&mut rand::rng()).expect("prompts exist");
    format!(
        r#"{{"message":{{"role":"user","parts":[{{"kind":"text","text":"{text}"}}],"messageId":"{}"}}}}"#,
        super::random_uuid()
    )
}

fn a2a_url(call: &Call) -> String {
    format!("{}{A2A_PATH}", call.ctx.base_url)
}

/// How a stream must end: a final status update of a completed task.
fn final_state_error(last: Option<&Value>) -> Option<String> {
    let result = last.and_then(|v| v.get("result"));
    let is_final = result
        .and_then(|r| r.get("final"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !is_final {
        return Some("stream ended without a final status update".to_string());
    }
    let state = result
        .and_then(|r| r.pointer("/status/state"))
        .and_then(Value::as_str)
        .unwrap_or("");
    (state != "completed").then(|| format!("stream ended in state `{state}`"))
}

/// `message/stream`: the answer read chunk by chunk.
async fn stream_message(call: Call, session: &mut Session) {
    const NAME: &str = "message/stream";
    let ctx = &call.ctx;
    let request = ctx
        .client
        .post(a2a_url(&call))
        .header(AUTHORIZATION, ctx.authorization.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(rpc_body(NAME, &message_params()));
    let rule = ChunkRule {
        pointer: Some("/result/artifact".to_string()),
    };
    let plain = |r: &FullResponse| {
        Some(if r.status != 200 {
            http_error(r.status)
        } else {
            not_a_stream(&r.body)
        })
    };
    let sent = send_for_stream(
        &call,
        ("POST", NAME),
        request,
        &rule,
        |s| s == 200,
        plain,
        false,
    );
    let Some((read, timed)) = sent.await else {
        return;
    };
    if let Some(id) = read
        .last_event
        .as_ref()
        .and_then(|v| v.pointer("/result/taskId"))
        .and_then(Value::as_str)
    {
        session.data::<KnownTasks>().remember(id);
    }
    let error = read
        .failure(&[])
        .or_else(|| final_state_error(read.last_event.as_ref()));
    let chunks = read.timing.chunks();
    read.record(&call, ("POST", NAME), timed, chunks, error.as_deref());
}

/// What a 200 answer that is not an event stream means: a JSON-RPC error, or a server that
/// does not stream.
fn not_a_stream(body: &[u8]) -> String {
    match jsonrpc::read::<Unread>(body) {
        Ok(Answer::Error(error)) => error.to_string(),
        _ => "expected a text/event-stream answer".to_string(),
    }
}

pub fn behaviour() -> ClassBehaviour {
    let stream = Request::new("message/stream", 10, |call, session| {
        Box::pin(stream_message(call, session))
    });
    let send = Request::new("message/send", 2, |call, session| {
        Box::pin(async move {
            let body = rpc_body("message/send", &message_params());
            let url = a2a_url(&call);
            if let Some(task) = rpc_counting(&call, &url, "message/send", body, &[], |_| 0).await {
                if let Some(id) = task.get("id").and_then(Value::as_str) {
                    session.data::<KnownTasks>().remember(id);
                }
            }
        })
    });
    let get = Request::new("tasks/get", 3, |call, session| {
        Box::pin(async move {
            let id = session.data::<KnownTasks>().pick();
            let body = rpc_body("tasks/get", &format!(r#"{{"id":"{id}"}}"#));
            let url = a2a_url(&call);
            rpc_counting(&call, &url, "tasks/get", body, &[TASK_NOT_FOUND], |_| 0).await;
        })
    });
    let cancel = Request::new("tasks/cancel", 1, |call, session| {
        Box::pin(async move {
            let id = session.data::<KnownTasks>().pick();
            let body = rpc_body("tasks/cancel", &format!(r#"{{"id":"{id}"}}"#));
            let url = a2a_url(&call);
            let tolerated = [TASK_NOT_FOUND, TASK_NOT_CANCELABLE];
            rpc_counting(&call, &url, "tasks/cancel", body, &tolerated, |_| 0).await;
        })
    });
    ClassBehaviour {
        lifecycle: None,
        name: "AgentChatUser",
        requests: vec![stream, send, get, cancel],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_must_end_in_a_final_completed_status() {
        let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap();
        let done = parse(
            r#"{"result":{"kind":"status-update","final":true,"status":{"state":"completed"}}}"#,
        );
        assert_eq!(final_state_error(Some(&done)), None);
        let canceled = parse(
            r#"{"result":{"kind":"status-update","final":true,"status":{"state":"canceled"}}}"#,
        );
        assert_eq!(
            final_state_error(Some(&canceled)).unwrap(),
            "stream ended in state `canceled`"
        );
        let chunk = parse(r#"{"result":{"kind":"artifact-update","artifact":{}}}"#);
        assert!(final_state_error(Some(&chunk)).is_some());
        assert!(final_state_error(None).is_some());
    }

    #[test]
    fn a_user_remembers_its_newest_tasks() {
        let mut known = KnownTasks::default();
        for i in 0..40 {
            known.remember(&i.to_string());
        }
        assert_eq!(known.0.len(), MAX_REMEMBERED_TASKS);
        assert_eq!(known.0[0], "24");
    }
}
