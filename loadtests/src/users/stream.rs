//! Reading a streamed answer (`text/event-stream`) event by event, timing each chunk.
//!
//! Agent platforms stream: the user reads the first words long before the last. So a
//! streamed request is timed three ways besides its total: to its first chunk, between its
//! chunks, and its chunks per second (see `reports::StreamStats`). An event is timed when
//! its blank-line terminator arrives, i.e. when a client could first act on it.
use std::time::Instant;

use reports::StreamTiming;
use serde_json::Value;

use super::behaviour::Call;
use super::http::{
    read_body, record, record_carrying, transport_error, without_url, Carried, FullResponse, Timed,
};
pub use crate::transport::is_event_stream;
use crate::transport::jsonrpc::RpcError;

/// Which events of a stream are chunks of the answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChunkRule {
    /// An event is a chunk when its data is JSON holding this pointer (e.g.
    /// `/result/artifact` for an A2A artifact update); `None`: every event is, except a
    /// `[DONE]` sentinel.
    pub pointer: Option<String>,
}

/// A stream read to its end.
#[derive(Debug, Default)]
pub struct StreamRead {
    pub timing: StreamTiming,
    pub bytes: u64,
    /// The data of the last event, as JSON (an A2A stream's final status update).
    pub last_event: Option<Value>,
    /// The stream broke (a connection reset, a timeout).
    pub error: Option<String>,
    /// The first JSON-RPC error an event carried.
    pub rpc_error: Option<RpcError<'static>>,
    /// The answer's headers, when the caller asked to keep them (a header capture).
    pub headers: Option<reqwest::header::HeaderMap>,
}

impl StreamRead {
    /// Why the stream failed, unless its JSON-RPC error code is `tolerated`.
    pub fn failure(&self, tolerated: &[i64]) -> Option<String> {
        self.error.clone().or_else(|| {
            self.rpc_error
                .as_ref()
                .filter(|e| !tolerated.contains(&e.code))
                .map(ToString::to_string)
        })
    }
}

/// Splits a byte stream into server-sent events and keeps each event's `data`.
#[derive(Default)]
struct EventParser {
    pending: Vec<u8>,
}

impl EventParser {
    /// Feeds received bytes; returns the data of every event they completed.
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        event_data(&mut self.pending)
    }
}

/// The data of every complete event at the start of `pending` (removed from it): events end
/// at a blank line (LF or CRLF); comments, `event:`/`id:`/`retry:` lines and events without
/// data are skipped.
pub fn event_data(pending: &mut Vec<u8>) -> Vec<String> {
    let mut events = Vec::new();
    while let Some((end, skip)) = event_end(pending) {
        let raw: Vec<u8> = pending.drain(..end + skip).take(end).collect();
        let text = String::from_utf8_lossy(&raw);
        let data: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if !data.is_empty() {
            events.push(data.join("\n"));
        }
    }
    events
}

/// Where the first event in `buf` ends (its blank line) and the terminator's length.
fn event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

impl ChunkRule {
    fn is_chunk(&self, data: &str, json: Option<&Value>) -> bool {
        match &self.pointer {
            None => data.trim() != "[DONE]",
            Some(pointer) => json.is_some_and(|v| v.pointer(pointer).is_some()),
        }
    }
}

/// Sends `request` for a streamed answer and reads the stream to its end, for the caller to
/// judge and [`StreamRead::record`]. What never became a stream is recorded here: a transport
/// failure, or an answer that is not an event stream or whose status `streams` refuses, judged
/// by `plain` (`None`: a success, e.g. a tolerated status); `None` is returned then.
pub async fn send_for_stream(
    call: &Call,
    (method, name): (&'static str, &'static str),
    request: reqwest::RequestBuilder,
    rule: &ChunkRule,
    streams: impl Fn(u16) -> bool,
    plain: impl FnOnce(&FullResponse) -> Option<String>,
    keep_headers: bool,
) -> Option<(StreamRead, Timed)> {
    let request = request.header(reqwest::header::ACCEPT, "text/event-stream");
    let sent_at = Instant::now();
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let error = transport_error(&e);
            record(call, method, name, Timed::since(sent_at), 0, Some(&error));
            return None;
        }
    };
    if !is_event_stream(&response) || !streams(response.status().as_u16()) {
        let (bytes, error) = match read_body(response).await {
            Err(e) => (0, Some(e)),
            Ok(r) => (r.body.len() as u64, plain(&r)),
        };
        let timed = Timed::since(sent_at);
        record(call, method, name, timed, bytes, error.as_deref());
        return None;
    }
    let headers = keep_headers.then(|| response.headers().clone());
    let (mut read, timed) = read_stream(response, sent_at, rule).await;
    read.headers = headers;
    Some((read, timed))
}

impl StreamRead {
    /// Records the streamed request: its total time, its chunks' timings, `items` carried,
    /// and `error` when it failed.
    pub fn record(
        &self,
        call: &Call,
        (method, name): (&'static str, &'static str),
        timed: Timed,
        items: u64,
        error: Option<&str>,
    ) {
        let carried = Carried {
            items,
            stream: Some(&self.timing),
            tokens: None,
        };
        record_carrying(call, method, name, timed, self.bytes, carried, error);
    }
}

/// The events of a streamed answer as its bytes arrive.
struct Events {
    response: reqwest::Response,
    parser: EventParser,
    bytes: u64,
    /// Why the stream broke, if it did.
    error: Option<String>,
}

impl Events {
    fn new(response: reqwest::Response) -> Events {
        Events {
            response,
            parser: EventParser::default(),
            bytes: 0,
            error: None,
        }
    }

    /// The data of the events the next bytes received completed, with when they came;
    /// `None` at the end of the stream, or when it broke (then [`Events::error`] says why).
    async fn next(&mut self) -> Option<(Instant, Vec<String>)> {
        match self.response.chunk().await {
            Ok(Some(bytes)) => {
                let now = Instant::now();
                self.bytes += bytes.len() as u64;
                Some((now, self.parser.feed(&bytes)))
            }
            Ok(None) => None,
            Err(e) => {
                self.error = Some(format!("reading the stream failed: {}", without_url(&e)));
                None
            }
        }
    }
}

/// Times a stream's chunks: the first from the request's send, each later one from the one
/// before.
struct ChunkClock {
    sent_at: Instant,
    last: Option<Instant>,
}

impl ChunkClock {
    fn new(sent_at: Instant) -> ChunkClock {
        ChunkClock {
            sent_at,
            last: None,
        }
    }

    fn chunk(&mut self, now: Instant, timing: &mut StreamTiming) {
        match self.last {
            None => timing.ttfc_micros = Some(micros(now - self.sent_at)),
            Some(previous) => timing.gaps_micros.push(micros(now - previous)),
        }
        self.last = Some(now);
    }
}

/// Reads `response`'s events to the end of the stream. `sent_at` is when the request went
/// out: time to first chunk counts from there.
pub async fn read_stream(
    response: reqwest::Response,
    sent_at: Instant,
    rule: &ChunkRule,
) -> (StreamRead, Timed) {
    let mut read = StreamRead::default();
    let mut events = Events::new(response);
    let mut clock = ChunkClock::new(sent_at);
    while let Some((now, completed)) = events.next().await {
        for data in completed {
            let json: Option<Value> = serde_json::from_str(&data).ok();
            if rule.is_chunk(&data, json.as_ref()) {
                clock.chunk(now, &mut read.timing);
            }
            if read.rpc_error.is_none() {
                read.rpc_error = json
                    .as_ref()
                    .and_then(RpcError::in_value)
                    .map(RpcError::into_owned);
            }
            if json.is_some() {
                read.last_event = json;
            }
        }
    }
    read.bytes = events.bytes;
    read.error = events.error;
    (read, Timed::since(sent_at))
}

/// A JSON-RPC call answered as an event stream (MCP's streamable HTTP): the messages before
/// the response (progress and other notifications) are its chunks, timed like a stream's;
/// the response is judged as a JSON answer would be.
#[derive(Debug, Default)]
pub struct RpcEvents {
    /// The first message with a `result` or an `error`.
    pub response: Option<Value>,
    /// Notifications before the response: time to the first, gaps between them.
    pub timing: StreamTiming,
    pub bytes: u64,
    /// Why the stream cannot be judged: it broke, or an event's data is not JSON.
    pub error: Option<String>,
}

impl RpcEvents {
    /// The response, or why there is none to judge.
    pub fn response(&self) -> Result<&Value, String> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        self.response
            .as_ref()
            .ok_or_else(|| "the event stream ended before the JSON-RPC response".to_string())
    }
}

/// Reads a JSON-RPC call's event-stream answer up to its response (a server may keep the
/// stream open after it; nothing after the response belongs to this call). `sent_at` is when
/// the request went out.
pub async fn read_rpc_events(response: reqwest::Response, sent_at: Instant) -> (RpcEvents, Timed) {
    let mut read = RpcEvents::default();
    let mut events = Events::new(response);
    let mut clock = ChunkClock::new(sent_at);
    'stream: while let Some((now, completed)) = events.next().await {
        for data in completed {
            let message: Value = match serde_json::from_str(&data) {
                Ok(message) => message,
                Err(e) => {
                    read.error = Some(format!(
                        "malformed JSON-RPC message in the event stream: {e}"
                    ));
                    break 'stream;
                }
            };
            if message.get("result").is_some() || message.get("error").is_some() {
                read.response = Some(message);
                break 'stream;
            }
            clock.chunk(now, &mut read.timing);
        }
    }
    read.bytes = events.bytes;
    read.error = read.error.or(events.error);
    (read, Timed::since(sent_at))
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_on_blank_lines_whatever_the_packet_boundaries() {
        let text = "data: {\"a\":1}\n\n: comment\ndata: x\ndata: y\n\nevent: end\r\ndata: [DONE]\r\n\r\nda";
        for cut in 0..text.len() {
            let mut p = EventParser::default();
            let mut events = p.feed(&text.as_bytes()[..cut]);
            events.extend(p.feed(&text.as_bytes()[cut..]));
            assert_eq!(events, ["{\"a\":1}", "x\ny", "[DONE]"], "cut at {cut}");
        }
    }

    #[test]
    fn the_parser_skips_comments_pings_and_events_without_data() {
        let text = ": ping\n\nevent: ping\n\nretry: 100\r\n\r\nid: 7\ndata:{\"a\":1}\n\n";
        let mut p = EventParser::default();
        assert_eq!(p.feed(text.as_bytes()), ["{\"a\":1}"]);
    }

    #[test]
    fn chunks_are_every_event_but_done_or_those_with_the_pointer() {
        let every = ChunkRule::default();
        assert!(every.is_chunk("hello", None));
        assert!(!every.is_chunk(" [DONE]", None));
        let a2a = ChunkRule {
            pointer: Some("/result/artifact".into()),
        };
        let update: Value =
            serde_json::from_str(r#"{"result":{"kind":"artifact-update","artifact":{}}}"#).unwrap();
        let status: Value =
            serde_json::from_str(r#"{"result":{"kind":"status-update","final":true}}"#).unwrap();
        assert!(a2a.is_chunk("", Some(&update)));
        assert!(!a2a.is_chunk("", Some(&status)));
        assert!(!a2a.is_chunk("not json", None));
    }
}
