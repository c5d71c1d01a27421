//! AgentChatUser: a user chatting with an agent over the Agent2Agent protocol (JSON-RPC):
//! mostly streamed messages, some blocking ones, and follow-ups on its own tasks (get,
//! cancel). On start it reads the agent's card and speaks the generation it offers, A2A 1.0
//! or 0.3 ([`super::a2a`]; `a2a_version` in the scenario forces one); requests are reported
//! under the 0.3 names (`message/stream`, `message/send`, `tasks/get`, `tasks/cancel`) either way.
//!
//! A streamed answer is a server-sent event per chunk (an artifact update), then a terminal
//! status. Its time to first chunk, gaps and chunk rate are recorded beside its total time,
//! and its chunks count as the items it carried. A stream cut before its terminal status is a
//! failure of that request; the user then re-subscribes to the task (`tasks/resubscribe`, 1.0
//! `SubscribeToTask`) for the rest of the answer, and that request's time to first chunk counts
//! from the moment the stream broke: the gap a person would see.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

use super::a2a::{self, stream_end_error, Peer};
use super::behaviour::{
    Call, ClassBehaviour, Lifecycle, LifecycleFn, LifecycleFuture, Request, Session,
};
use super::http::{
    http_error, read_body, record, rpc_body, rpc_counting_with_headers, transport_error,
    FullResponse, Timed,
};
use super::stream::{read_stream, send_for_stream, ChunkRule, StreamRead};
use crate::transport::jsonrpc::{self, Answer, Unread};

/// Where the agent API answers when the agent has no card.
pub const A2A_PATH: &str = a2a::DEFAULT_PATH;
/// A2A: no task with that id (e.g. evicted, or never this server's).
const TASK_NOT_FOUND: i64 = -32001;
/// A2A: the task already finished.
const TASK_NOT_CANCELABLE: i64 = -32002;
/// Tasks a user remembers for follow-ups (the newest ones).
const MAX_REMEMBERED_TASKS: usize = 16;
/// Re-subscriptions to one task after cuts, at most.
const MAX_RESUBSCRIBES: usize = 3;

const CARD: &str = "agent card";
const STREAM: &str = "message/stream";
const SEND: &str = "message/send";
const GET: &str = "tasks/get";
const CANCEL: &str = "tasks/cancel";
const RESUBSCRIBE: &str = "tasks/resubscribe";

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

fn prompt() -> &'static str {
    use rand::seq::IndexedRandom;
    PROMPTS.choose(&mut rand::rng()).expect("prompts exist")
}

/// The peer this user talks to (read from the card at its start).
fn peer(session: &mut Session) -> Peer {
    session.data::<Option<Peer>>().clone().unwrap_or(Peer {
        version: a2a::Version::V0_3,
        url: String::new(),
    })
}

/// The user's start: the agent card read, the peer chosen.
fn start_user<'a>(call: Call, session: &'a mut Session) -> LifecycleFuture<'a> {
    Box::pin(async move {
        let Some(peer) = discover(&call).await else {
            return false;
        };
        static SAID: AtomicBool = AtomicBool::new(false);
        if !SAID.swap(true, Ordering::Relaxed) {
            eprintln!(
                "skein: AgentChatUser speaks A2A {} at {}",
                peer.version.as_str(),
                peer.url
            );
        }
        *session.data::<Option<Peer>>() = Some(peer);
        true
    })
}

/// `GET /.well-known/agent-card.json` (recorded as `agent card`; a 404 means no card, not a
/// failure) and the peer it offers under the scenario's choice.
async fn discover(call: &Call) -> Option<Peer> {
    let ctx = &call.ctx;
    let request = ctx
        .client
        .get(format!("{}{}", ctx.base_url, a2a::CARD_PATH))
        .header(AUTHORIZATION, ctx.authorization.clone())
        .header(ACCEPT, "application/json");
    let sent_at = Instant::now();
    let outcome = match request.send().await {
        Ok(response) => read_body(response).await,
        Err(e) => Err(transport_error(&e)),
    };
    let timed = Timed::since(sent_at);
    let card = match outcome {
        Ok(r) if r.status == 404 => Ok((None, r.body.len() as u64)),
        Ok(r) if r.status == 200 => serde_json::from_slice::<Value>(&r.body)
            .map(|card| (Some(card), r.body.len() as u64))
            .map_err(|e| (format!("malformed agent card: {e}"), r.body.len() as u64)),
        Ok(r) => Err((http_error(r.status), r.body.len() as u64)),
        Err(e) => Err((e, 0)),
    };
    let chosen = card.and_then(|(card, bytes)| {
        a2a::peer(card.as_ref(), &ctx.base_url, ctx.a2a)
            .map(|peer| (peer, bytes))
            .map_err(|e| (e, bytes))
    });
    match chosen {
        Ok((peer, bytes)) => {
            record(call, "GET", CARD, timed, bytes, None);
            Some(peer)
        }
        Err((error, bytes)) => {
            record(call, "GET", CARD, timed, bytes, Some(&error));
            None
        }
    }
}

/// A streamed request to the peer: `method` with `params`.
fn stream_request(call: &Call, peer: &Peer, method: &str, params: &str) -> reqwest::RequestBuilder {
    let ctx = &call.ctx;
    let request = ctx
        .client
        .post(&peer.url)
        .header(AUTHORIZATION, ctx.authorization.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(rpc_body(method, params));
    peer.version
        .headers()
        .iter()
        .fold(request, |r, (name, value)| r.header(*name, *value))
}

/// `message/stream`: the answer read chunk by chunk; after a cut, the rest by re-subscribing.
async fn stream_message(call: Call, session: &mut Session) {
    let peer = peer(session);
    let params = peer
        .version
        .message_params(prompt(), &super::random_uuid().to_string());
    let request = stream_request(&call, &peer, peer.version.stream(), &params);
    let rule = ChunkRule {
        pointer: Some(peer.version.chunk_pointer().to_string()),
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
        ("POST", STREAM),
        request,
        &rule,
        |s| s == 200,
        plain,
        false,
    );
    let Some((read, timed)) = sent.await else {
        return;
    };
    let task = read
        .last_event
        .as_ref()
        .and_then(|e| peer.version.task_id(e));
    if let Some(id) = &task {
        session.data::<KnownTasks>().remember(id);
    }
    let error = finished(&peer, &read);
    read.record(
        &call,
        ("POST", STREAM),
        timed,
        read.timing.chunks(),
        error.as_deref(),
    );
    let cut = read.rpc_error.is_none() && error.is_some();
    if let (true, Some(task)) = (cut, task) {
        resubscribe(&call, &peer, &rule, &task, timed.sent_at + timed.elapsed).await;
    }
}

/// Why a stream failed, if it did: it broke, carried an error, or ended without completing.
fn finished(peer: &Peer, read: &StreamRead) -> Option<String> {
    read.failure(&[])
        .or_else(|| stream_end_error(peer.version, read.last_event.as_ref()))
}

/// Re-subscribes to `task` after its stream broke at `cut`, until it completes (at most
/// [`MAX_RESUBSCRIBES`] times). Each re-subscription is timed from the moment the previous
/// stream broke.
async fn resubscribe(call: &Call, peer: &Peer, rule: &ChunkRule, task: &str, mut cut: Instant) {
    let params = format!(r#"{{"id":{}}}"#, Value::String(task.to_string()));
    for _ in 0..MAX_RESUBSCRIBES {
        let request = stream_request(call, peer, peer.version.resubscribe(), &params);
        let response = match request.header(ACCEPT, "text/event-stream").send().await {
            Ok(r) => r,
            Err(e) => {
                let error = transport_error(&e);
                record(
                    call,
                    "POST",
                    RESUBSCRIBE,
                    Timed::since(cut),
                    0,
                    Some(&error),
                );
                return;
            }
        };
        if response.status() != 200 || !super::stream::is_event_stream(&response) {
            let status = response.status().as_u16();
            let (bytes, error) = match read_body(response).await {
                Ok(r) if status == 200 => (r.body.len() as u64, not_a_stream(&r.body)),
                Ok(r) => (r.body.len() as u64, http_error(status)),
                Err(e) => (0, e),
            };
            record(
                call,
                "POST",
                RESUBSCRIBE,
                Timed::since(cut),
                bytes,
                Some(&error),
            );
            return;
        }
        let (read, timed) = read_stream(response, cut, rule).await;
        let error = finished(peer, &read);
        read.record(
            call,
            ("POST", RESUBSCRIBE),
            timed,
            read.timing.chunks(),
            error.as_deref(),
        );
        if error.is_none() || read.rpc_error.is_some() {
            return;
        }
        cut = timed.sent_at + timed.elapsed;
    }
}

/// What a 200 answer that is not an event stream means: a JSON-RPC error, or a server that
/// does not stream.
fn not_a_stream(body: &[u8]) -> String {
    match jsonrpc::read::<Unread>(body) {
        Ok(Answer::Error(error)) => error.to_string(),
        _ => "expected a text/event-stream answer".to_string(),
    }
}

/// A blocking call to the peer, recorded under `name`.
async fn call_peer(
    call: &Call,
    peer: &Peer,
    (name, method): (&'static str, &str),
    params: &str,
    tolerated: &[i64],
) -> Option<Value> {
    let body = rpc_body(method, params);
    let headers = peer.version.headers();
    rpc_counting_with_headers(call, &peer.url, name, body, tolerated, headers, |_| 0).await
}

async fn send_message(call: Call, session: &mut Session) {
    let peer = peer(session);
    let params = peer
        .version
        .message_params(prompt(), &super::random_uuid().to_string());
    let result = call_peer(&call, &peer, (SEND, peer.version.send()), &params, &[]).await;
    let wrapped = result.map(|r| serde_json::json!({ "result": r }));
    if let Some(id) = wrapped.as_ref().and_then(|r| peer.version.task_id(r)) {
        session.data::<KnownTasks>().remember(&id);
    }
}

async fn follow_up(call: Call, session: &mut Session, name: &'static str) {
    let peer = peer(session);
    let id = session.data::<KnownTasks>().pick();
    let params = format!(r#"{{"id":"{id}"}}"#);
    let (method, tolerated): (&str, &[i64]) = match name {
        GET => (peer.version.get(), &[TASK_NOT_FOUND]),
        _ => (
            peer.version.cancel(),
            &[TASK_NOT_FOUND, TASK_NOT_CANCELABLE],
        ),
    };
    call_peer(&call, &peer, (name, method), &params, tolerated).await;
}

pub fn behaviour() -> ClassBehaviour {
    let requests = vec![
        Request::new(STREAM, 10, |call, session| {
            Box::pin(stream_message(call, session))
        }),
        Request::new(SEND, 2, |call, session| {
            Box::pin(send_message(call, session))
        }),
        Request::new(GET, 3, |call, session| {
            Box::pin(follow_up(call, session, GET))
        }),
        Request::new(CANCEL, 1, |call, session| {
            Box::pin(follow_up(call, session, CANCEL))
        }),
    ];
    let start: Arc<LifecycleFn> = Arc::new(start_user);
    let stop: Arc<LifecycleFn> = Arc::new(|_call, _session| Box::pin(async { true }));
    ClassBehaviour::new("AgentChatUser", requests)
        .with_lifecycle(Lifecycle { start, stop })
        .recording([CARD, RESUBSCRIBE])
}

#[cfg(test)]
mod tests {
    use super::*;

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
