//! Skein's own keep-alive HTTP/1.1 connections to a plain-HTTP target: the path of every
//! built-in request when no proxy is set.
//!
//! Why not reqwest here: measured with `perf` at saturation (docs/open-model.md), reqwest on
//! hyper-util's pooled client spent about a third of the generator's CPU per request on its
//! own machinery: the URL parsed three times (`IntoUrl`, then twice in the redirect layer,
//! which is always present), the default header map, the hyper client and its connector
//! cloned, a keyed pool lookup, and hyper's connection task, which takes each request and
//! hands back each answer over channels, so a request is polled as three tasks. A load test
//! sends few kinds of request to one host, so here the request task itself writes the
//! request's bytes ([`super::http1`]) on an idle connection taken from a list and reads the
//! answer off the socket: one write and usually one read per request, as `wrk` does.
//!
//! What reqwest's pool does that a load test relies on is kept: keep-alive reuse (most
//! recently used first), at most `max_idle` idle connections, `TCP_NODELAY`, a connection
//! the server closed while idle is not used (it shows as readable: end of file) but replaced,
//! one idle longer than [`IDLE_TIMEOUT`] is closed, and an answer with `Connection: close` (or
//! an HTTP/1.0 answer without keep-alive) ends its connection.
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::body_stream::{Piece, StreamHead, StreamReader};
use super::http1::{ResponseError, ResponseReader};

/// Bytes asked of the socket per read when the answer's size is not known yet: most answers
/// (JSON-RPC results, statuses) fit in one read.
const READ_SIZE: usize = 16 * 1024;

/// Bytes asked of the socket per read of a streamed body: a token stream's events are a few
/// hundred bytes each, and every open stream holds one such buffer (hyper's adaptive one
/// starts at 8 KiB).
const STREAM_READ_SIZE: usize = 4 * 1024;

/// How long a connection may sit idle before it is closed rather than reused. Servers close
/// idle keep-alive connections on their own clock (uvicorn after 5 s, nginx after 75 s); one
/// closed at the moment a request is written loses that request. Closing ours first, below the
/// shortest common server timeout, means a request never races the server's close.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// Why an exchange failed; the messages are the ones failures are grouped by.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("connection failed")]
    Connect(#[source] std::io::Error),
    #[error("transport error: {0}")]
    Io(#[source] std::io::Error),
    #[error("transport error: {0}")]
    Response(#[source] ResponseError),
    #[error("reading the body failed: {0}")]
    Body(#[source] ResponseError),
}

/// The status and whole body of an answer.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// One keep-alive connection and the bytes it received but nobody read yet.
struct Connection {
    stream: TcpStream,
    received: BytesMut,
    /// When it was last checked in.
    idle_since: Instant,
}

impl ExchangeError {
    /// What broke, without the stage it broke in (a stream's reader names that itself).
    pub fn detail(&self) -> String {
        match self {
            ExchangeError::Connect(_) => "connection failed".into(),
            ExchangeError::Io(e) => e.to_string(),
            ExchangeError::Response(e) | ExchangeError::Body(e) => e.to_string(),
        }
    }
}

impl Connection {
    /// Whether the server closed (or wrote to) this idle connection: either makes the socket
    /// readable. No system call: tokio clears a socket's readiness after a read that did not
    /// fill the buffer, so an idle connection that nothing happened to reads as not ready.
    fn closed_while_idle(&self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        !matches!(self.stream.poll_read_ready(&mut cx), Poll::Pending)
    }

    /// Reads the whole answer to the request just written, and whether the connection can
    /// carry another request.
    async fn read_answer(&mut self) -> Result<(Answer, bool), ExchangeError> {
        let mut reader = ResponseReader::default();
        let mut closed = false;
        loop {
            match reader.advance(&mut self.received, closed) {
                Ok(Some(response)) => {
                    let answer = Answer {
                        status: response.status,
                        body: response.body,
                    };
                    return Ok((answer, response.reusable));
                }
                Ok(None) => {}
                Err(e) if reader.reading_body() => return Err(ExchangeError::Body(e)),
                Err(e) => return Err(ExchangeError::Response(e)),
            }
            // A known body length is read in as few reads as the socket allows, into a buffer
            // one byte longer: a read that fills its buffer leaves the socket marked readable,
            // which would make the idle connection look closed.
            let want = reader
                .body_bytes_missing(self.received.len())
                .map_or(READ_SIZE, |missing| missing + 1)
                .max(READ_SIZE);
            self.received.reserve(want);
            let n = self
                .stream
                .read_buf(&mut self.received)
                .await
                .map_err(ExchangeError::Io)?;
            closed = n == 0;
        }
    }
}

impl Connection {
    /// Reads what the socket has (at most [`STREAM_READ_SIZE`]); 0 when the peer closed.
    async fn read_some(&mut self) -> Result<usize, ExchangeError> {
        self.received.reserve(STREAM_READ_SIZE);
        self.stream
            .read_buf(&mut self.received)
            .await
            .map_err(ExchangeError::Io)
    }
}

/// An answer whose head was read and whose body is read as it arrives. Its connection goes
/// back to the pool when the body ended and can carry another request; dropped before, it is
/// closed (what was left unread would corrupt the next answer).
pub struct OpenResponse<'a> {
    pool: &'a ConnectionPool,
    /// `None` once the body ended.
    connection: Option<Connection>,
    reader: StreamReader,
    pub head: StreamHead,
}

impl OpenResponse<'_> {
    /// The next body bytes as they arrive; `None` at the body's end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ExchangeError> {
        let mut closed = false;
        loop {
            let Some(connection) = self.connection.as_mut() else {
                return Ok(None);
            };
            let piece = self
                .reader
                .piece(&mut connection.received, closed)
                .map_err(ExchangeError::Body)?;
            match piece {
                Piece::Data(bytes) => return Ok(Some(bytes)),
                Piece::More => closed = connection.read_some().await? == 0,
                Piece::End { reusable } => {
                    if let Some(connection) = self.connection.take().filter(|_| reusable) {
                        self.pool.checkin(connection);
                    }
                    return Ok(None);
                }
            }
        }
    }
}

impl Drop for OpenResponse<'_> {
    /// A reader that stopped at its protocol's last event (an LLM stream's `[DONE]`) leaves the
    /// body's end unread: if it is already in, the connection is still reused.
    fn drop(&mut self) {
        let Some(mut connection) = self.connection.take() else {
            return;
        };
        loop {
            match self.reader.piece(&mut connection.received, false) {
                Ok(Piece::Data(_)) => {}
                Ok(Piece::End { reusable: true }) => return self.pool.checkin(connection),
                Ok(Piece::More | Piece::End { reusable: false }) | Err(_) => return,
            }
        }
    }
}

/// Idle connections to one `host:port`, reused most recently used first.
pub struct ConnectionPool {
    /// `host:port` to connect to (an IPv6 host keeps its brackets).
    address: String,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    idle_timeout: Duration,
}

impl ConnectionPool {
    pub fn new(address: String, max_idle: usize) -> ConnectionPool {
        ConnectionPool {
            address,
            idle: Mutex::new(Vec::new()),
            max_idle,
            idle_timeout: IDLE_TIMEOUT,
        }
    }

    /// The pool with idle connections closed after `idle_timeout` rather than [`IDLE_TIMEOUT`].
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> ConnectionPool {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Sends `request` (a whole HTTP/1.1 request, [`super::http1::write_request`]) and reads
    /// the whole answer.
    pub async fn send(&self, request: &[u8]) -> Result<Answer, ExchangeError> {
        let mut connection = self.write(request).await?;
        let (answer, reusable) = connection.read_answer().await?;
        if reusable {
            self.checkin(connection);
        }
        Ok(answer)
    }

    /// Sends `request` and reads the answer's head; its body is read as it arrives
    /// ([`OpenResponse::chunk`]).
    pub async fn open(&self, request: &[u8]) -> Result<OpenResponse<'_>, ExchangeError> {
        let mut connection = self.write(request).await?;
        let mut reader = StreamReader::default();
        let mut closed = false;
        loop {
            let head = reader
                .head(&mut connection.received, closed)
                .map_err(ExchangeError::Response)?;
            if let Some(head) = head {
                return Ok(OpenResponse {
                    pool: self,
                    connection: Some(connection),
                    reader,
                    head,
                });
            }
            closed = connection.read_some().await? == 0;
        }
    }

    /// An idle connection with `request` written on it, or a new one.
    async fn write(&self, request: &[u8]) -> Result<Connection, ExchangeError> {
        match self.checkout() {
            Some(mut reused) => match reused.stream.write_all(request).await {
                Ok(()) => Ok(reused),
                // Closed by the server since the check: the request did not go out, and a
                // fresh connection takes it (as hyper-util retries an unsent request).
                Err(_) => self.connect_and_write(request).await,
            },
            None => self.connect_and_write(request).await,
        }
    }

    /// An idle connection the server has not closed meanwhile.
    /// An idle connection the server has not closed meanwhile and that has not been idle
    /// for longer than the idle timeout.
    fn checkout(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().expect("connection pool poisoned");
        while let Some(connection) = idle.pop() {
            if connection.idle_since.elapsed() >= self.idle_timeout {
                // The most recently used is too old: so are all the others.
                idle.clear();
                return None;
            }
            if !connection.closed_while_idle() {
                return Some(connection);
            }
        }
        None
    }

    fn checkin(&self, mut connection: Connection) {
        let now = Instant::now();
        connection.idle_since = now;
        let mut idle = self.idle.lock().expect("connection pool poisoned");
        // The oldest are first: those idle too long are closed (dropped) here too, so a pool
        // that is still used keeps no connection the server is about to close.
        let stale = idle
            .iter()
            .take_while(|c| now.duration_since(c.idle_since) >= self.idle_timeout)
            .count();
        idle.drain(..stale);
        // Dropping a connection past the cap closes it.
        if idle.len() < self.max_idle {
            idle.push(connection);
        }
    }

    /// Idle connections held (for tests and the memory figures).
    pub fn idle_count(&self) -> usize {
        self.idle.lock().expect("connection pool poisoned").len()
    }

    async fn connect_and_write(&self, request: &[u8]) -> Result<Connection, ExchangeError> {
        let mut stream = TcpStream::connect(self.address.as_str())
            .await
            .map_err(ExchangeError::Connect)?;
        stream.set_nodelay(true).map_err(ExchangeError::Connect)?;
        stream.write_all(request).await.map_err(ExchangeError::Io)?;
        Ok(Connection {
            stream,
            received: BytesMut::new(),
            idle_since: Instant::now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;

    /// A raw HTTP/1.1 server on 127.0.0.1:0: answers each request with `answer`, and closes a
    /// connection after `per_connection` answers. Returns its address and a count of the
    /// connections it accepted.
    async fn server(answer: &'static [u8], per_connection: usize) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    for _ in 0..per_connection {
                        // A request without a body ends at its empty line.
                        while let Ok(Some(line)) = lines.next_line().await {
                            if line.is_empty() {
                                break;
                            }
                        }
                        // The answer in two writes, so it arrives in pieces.
                        let (head, tail) = answer.split_at(answer.len() / 2);
                        write.write_all(head).await.unwrap();
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                        write.write_all(tail).await.unwrap();
                    }
                });
            }
        });
        (address, accepted)
    }

    const GET: &[u8] = b"GET /x HTTP/1.1\r\nhost: test\r\n\r\n";

    #[tokio::test]
    async fn connections_are_reused_and_one_the_server_closed_is_replaced() {
        let (address, accepted) =
            server(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", 2).await;
        let pool = ConnectionPool::new(address, 4);
        for _ in 0..5 {
            let answer = pool.send(GET).await.unwrap();
            assert_eq!((answer.status, &answer.body[..]), (200, &b"ok"[..]));
            // Time for the server's close to reach the idle connection.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Two answers per connection: five requests took three connections, none failed.
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    const EVENTS: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n7\r\ndata: a\r\n7\r\ndata: b\r\n0\r\n\r\n";

    #[tokio::test]
    async fn a_streamed_answer_comes_in_pieces_and_its_connection_is_reused_after_its_end() {
        let (address, accepted) = server(EVENTS, 3).await;
        let pool = ConnectionPool::new(address, 4);
        for _ in 0..3 {
            let mut response = pool.open(GET).await.unwrap();
            assert_eq!(
                (response.head.status, response.head.event_stream),
                (200, true)
            );
            let mut body = Vec::new();
            while let Some(piece) = response.chunk().await.unwrap() {
                body.extend_from_slice(&piece);
            }
            assert_eq!(body, b"data: adata: b");
            assert!(
                response.chunk().await.unwrap().is_none(),
                "ended stays ended"
            );
            drop(response);
            assert_eq!(pool.idle_count(), 1);
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one connection for all three"
        );
    }

    #[tokio::test]
    async fn a_stream_dropped_before_its_end_never_lends_its_connection_half_read() {
        let (address, _) = server(EVENTS, 10).await;
        let pool = ConnectionPool::new(address, 4);
        for _ in 0..5 {
            // Dropped right after the head: the rest of the body is unread.
            drop(pool.open(GET).await.unwrap());
            let mut next = pool.open(GET).await.unwrap();
            let mut body = Vec::new();
            while let Some(piece) = next.chunk().await.unwrap() {
                body.extend_from_slice(&piece);
            }
            assert_eq!(
                body, b"data: adata: b",
                "the next answer is whole and its own"
            );
        }
    }

    #[tokio::test]
    async fn a_chunked_answer_arriving_in_pieces_is_read_whole() {
        let (address, _) = server(
            b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
            1,
        )
        .await;
        let answer = ConnectionPool::new(address, 4).send(GET).await.unwrap();
        assert_eq!((answer.status, &answer.body[..]), (201, &b"abcdefg"[..]));
    }

    #[tokio::test]
    async fn a_refused_connection_and_a_truncated_answer_say_what_failed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let refused = listener.local_addr().unwrap().to_string();
        drop(listener);
        let error = ConnectionPool::new(refused, 4)
            .send(GET)
            .await
            .err()
            .unwrap();
        assert_eq!(error.to_string(), "connection failed");
        let (address, _) = server(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort", 1).await;
        let error = ConnectionPool::new(address, 4)
            .send(GET)
            .await
            .err()
            .unwrap();
        assert_eq!(
            error.to_string(),
            "reading the body failed: connection closed before the body was complete"
        );
    }

    #[tokio::test]
    async fn a_connection_idle_past_the_timeout_is_closed_not_reused() {
        let (address, accepted) =
            server(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", 100).await;
        let pool = ConnectionPool::new(address, 4).with_idle_timeout(Duration::from_millis(50));
        pool.send(GET).await.unwrap();
        pool.send(GET).await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "reused while fresh");
        tokio::time::sleep(Duration::from_millis(80)).await;
        pool.send(GET).await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "replaced once stale");
        assert_eq!(pool.idle_count(), 1);
    }

    #[tokio::test]
    async fn an_answer_saying_connection_close_ends_its_connection() {
        let (address, accepted) = server(
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
            100,
        )
        .await;
        let pool = ConnectionPool::new(address, 4);
        for _ in 0..3 {
            let answer = pool.send(GET).await.unwrap();
            assert_eq!(&answer.body[..], b"ok");
            assert_eq!(pool.idle_count(), 0);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }
}
