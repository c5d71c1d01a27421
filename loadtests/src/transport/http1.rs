//! The HTTP/1.1 wire format of Skein's own connections ([`super::connection_pool`]): writing a
//! request, and reading a response's head and body (RFC 9112) out of the bytes received so far.
//!
//! No I/O here: the pool reads from its socket into a buffer and asks [`ResponseReader`] what
//! it has, so every framing rule is unit-tested on bytes. The head is parsed by `httparse` (the
//! parser hyper uses); what a client must then decide is here: which answers have no body
//! (1xx, 204, 304), `Transfer-Encoding: chunked` (decoded incrementally, so a large body costs
//! linear time however it arrives), `Content-Length`, a body that runs until the server closes,
//! and whether the connection can carry another request.
use bytes::{Buf, Bytes, BytesMut};

/// Most header lines a response may have (hyper's default limit).
const MAX_HEADERS: usize = 100;

/// Largest response head accepted: a head this long without its end is an error.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("invalid HTTP response: {0}")]
    Head(String),
    #[error("the response head is larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("invalid chunked body: {0}")]
    Chunk(&'static str),
    #[error("connection closed before message completed")]
    ClosedBeforeHead,
    #[error("connection closed before the body was complete")]
    ClosedInBody,
}

/// Appends a request to `out`: the request line, `host`, the given header lines (each
/// `name: value`), `content-length` when there is a body, and the body.
pub fn write_request(
    out: &mut Vec<u8>,
    method: &str,
    path: &str,
    host: &[u8],
    headers: &[(&str, &[u8])],
    body: Option<&[u8]>,
) {
    let mut length = itoa_buffer();
    let length = body.map(|b| format_usize(b.len(), &mut length));
    let header_bytes: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    out.reserve(
        method.len() + path.len() + host.len() + header_bytes + 64 + body.map_or(0, <[u8]>::len),
    );
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host);
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(length) = length {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(length);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if let Some(body) = body {
        out.extend_from_slice(body);
    }
}

fn itoa_buffer() -> [u8; 20] {
    [0; 20]
}

/// `n` in decimal, written at the end of `buf`.
fn format_usize(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// Whether a request path can go on a request line as it is.
pub fn is_valid_path(path: &str) -> bool {
    path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic())
}

/// A whole response.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
    /// Whether the connection can carry another request.
    pub reusable: bool,
}

/// How the body of a response ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// This many bytes of chunk data still to come.
    Data(usize),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one.
    Trailers,
}

#[derive(Debug)]
enum State {
    Head,
    Body {
        status: u16,
        framing: Framing,
        keep_alive: bool,
        /// Chunked bodies: the data decoded so far and where the decoder is.
        decoded: BytesMut,
        chunk: ChunkState,
    },
}

/// Reads one response out of the bytes a connection received, as they arrive.
#[derive(Debug)]
pub struct ResponseReader {
    state: State,
}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader { state: State::Head }
    }
}

impl ResponseReader {
    /// Whether the head was read and the body is being read.
    pub fn reading_body(&self) -> bool {
        matches!(self.state, State::Body { .. })
    }

    /// How many more bytes the body needs when that is known (to size the next read).
    pub fn body_bytes_missing(&self, buffered: usize) -> Option<usize> {
        match self.state {
            State::Body {
                framing: Framing::Length(n),
                ..
            } => Some(n.saturating_sub(buffered)),
            _ => None,
        }
    }

    /// Consumes what it can of `buf`; `Some` once the response is complete. `closed` says the
    /// peer closed the connection after the bytes in `buf`.
    pub fn advance(
        &mut self,
        buf: &mut BytesMut,
        closed: bool,
    ) -> Result<Option<Response>, ResponseError> {
        loop {
            match &mut self.state {
                State::Head => {
                    let Some(head) = take_head(buf, closed)? else {
                        return Ok(None);
                    };
                    self.state = State::Body {
                        status: head.status,
                        framing: head.framing,
                        keep_alive: head.keep_alive,
                        decoded: BytesMut::new(),
                        chunk: ChunkState::Size,
                    };
                }
                State::Body {
                    status,
                    framing,
                    keep_alive,
                    decoded,
                    chunk,
                } => {
                    let body = match *framing {
                        Framing::Empty => Some(Bytes::new()),
                        Framing::Length(n) if buf.len() >= n => Some(buf.split_to(n).freeze()),
                        Framing::Length(_) if closed => return Err(ResponseError::ClosedInBody),
                        Framing::Length(_) => None,
                        Framing::UntilClose if closed => Some(buf.split().freeze()),
                        Framing::UntilClose => None,
                        Framing::Chunked => {
                            if decode_chunks(buf, chunk, decoded)? {
                                Some(std::mem::take(decoded).freeze())
                            } else if closed {
                                return Err(ResponseError::ClosedInBody);
                            } else {
                                None
                            }
                        }
                    };
                    let Some(body) = body else {
                        return Ok(None);
                    };
                    // Bytes after a complete response (none were asked for) make the
                    // connection's state unknowable: it is not reused.
                    let reusable = *keep_alive && *framing != Framing::UntilClose && buf.is_empty();
                    let response = Response {
                        status: *status,
                        body,
                        reusable,
                    };
                    self.state = State::Head;
                    return Ok(Some(response));
                }
            }
        }
    }
}

/// A parsed response head.
pub(super) struct Head {
    /// Its length in bytes, CRLF CRLF included.
    pub length: usize,
    pub status: u16,
    pub framing: Framing,
    pub keep_alive: bool,
    /// `Content-Type: text/event-stream`.
    pub event_stream: bool,
}

/// Consumes the final response head from `buf` once it is all there, interim answers (100
/// Continue, 103 Early Hints) skipped; `closed`: the peer closed after these bytes. A 101's
/// connection is never reused.
pub(super) fn take_head(buf: &mut BytesMut, closed: bool) -> Result<Option<Head>, ResponseError> {
    loop {
        let Some(mut head) = parse_head(buf)? else {
            if closed {
                return Err(ResponseError::ClosedBeforeHead);
            }
            if buf.len() > MAX_HEAD_BYTES {
                return Err(ResponseError::HeadTooLarge);
            }
            return Ok(None);
        };
        buf.advance(head.length);
        if (100..200).contains(&head.status) && head.status != 101 {
            continue;
        }
        head.keep_alive &= head.status != 101;
        return Ok(Some(head));
    }
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, ResponseError> {
    // Every answer is first looked for in an empty buffer (what the previous one left), and
    // headers are parsed into room left uninitialised: filling 100 empty headers cost more
    // than parsing the few a head has.
    if buf.is_empty() {
        return Ok(None);
    }
    let mut headers = [const { std::mem::MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut headers,
    );
    let length = match parsed {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ResponseError::Head(e.to_string())),
    };
    let status = response.code.unwrap_or(0);
    let http11 = response.version == Some(1);
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut event_stream = false;
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| ResponseError::Head("invalid content-length".into()))?;
            if content_length.is_some_and(|n| n != value) {
                return Err(ResponseError::Head("conflicting content-length".into()));
            }
            content_length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            // Only the last coding decides whether the body is chunked.
            chunked = header
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("content-type") {
            event_stream = header.value.starts_with(b"text/event-stream");
        } else if name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if transfer_encoding {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else {
        match content_length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    Ok(Some(Head {
        length,
        status,
        framing,
        keep_alive: !close && (http11 || keep_alive_token),
        event_stream,
    }))
}

/// Decodes chunked data from `buf` into `decoded`; `true` once the last chunk and the
/// trailers are in.
pub(super) fn decode_chunks(
    buf: &mut BytesMut,
    state: &mut ChunkState,
    decoded: &mut BytesMut,
) -> Result<bool, ResponseError> {
    loop {
        match *state {
            ChunkState::Size => {
                let Some(line) = take_line(buf)? else {
                    return Ok(false);
                };
                let digits = line[..]
                    .split(|&b| b == b';')
                    .next()
                    .unwrap_or(&[])
                    .trim_ascii();
                let size = std::str::from_utf8(digits)
                    .ok()
                    .filter(|d| !d.is_empty())
                    .and_then(|d| usize::from_str_radix(d, 16).ok())
                    .ok_or(ResponseError::Chunk("bad chunk size"))?;
                *state = if size == 0 {
                    ChunkState::Trailers
                } else {
                    ChunkState::Data(size)
                };
            }
            ChunkState::Data(remaining) => {
                if buf.is_empty() {
                    return Ok(false);
                }
                let n = remaining.min(buf.len());
                decoded.extend_from_slice(&buf[..n]);
                buf.advance(n);
                *state = if n == remaining {
                    ChunkState::DataEnd
                } else {
                    ChunkState::Data(remaining - n)
                };
            }
            ChunkState::DataEnd => {
                if buf.len() < 2 {
                    return Ok(false);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(ResponseError::Chunk("chunk data not followed by CRLF"));
                }
                buf.advance(2);
                *state = ChunkState::Size;
            }
            ChunkState::Trailers => {
                let Some(line) = take_line(buf)? else {
                    return Ok(false);
                };
                if line.is_empty() {
                    *state = ChunkState::Size;
                    return Ok(true);
                }
            }
        }
    }
}

/// The next CRLF-terminated line of `buf` (without its CRLF), removed from `buf`.
fn take_line(buf: &mut BytesMut) -> Result<Option<BytesMut>, ResponseError> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(at) => {
            let mut line = buf.split_to(at + 2);
            line.truncate(at);
            Ok(Some(line))
        }
        None if buf.len() > MAX_HEAD_BYTES => Err(ResponseError::Chunk("line too long")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `wire` to a reader in pieces of `step` bytes; the response and the bytes left.
    fn read_in_steps(
        wire: &[u8],
        step: usize,
        closed_at_end: bool,
    ) -> Result<Response, ResponseError> {
        let mut reader = ResponseReader::default();
        let mut buf = BytesMut::new();
        for piece in wire.chunks(step) {
            buf.extend_from_slice(piece);
            if let Some(r) = reader.advance(&mut buf, false)? {
                return Ok(r);
            }
        }
        match reader.advance(&mut buf, closed_at_end)? {
            Some(r) => Ok(r),
            None => panic!("incomplete after all bytes"),
        }
    }

    fn read_every_way(wire: &[u8]) -> Response {
        let whole = read_in_steps(wire, wire.len(), false).unwrap();
        for step in [1, 2, 3, 7] {
            assert_eq!(
                read_in_steps(wire, step, false).unwrap(),
                whole,
                "in steps of {step}"
            );
        }
        whole
    }

    #[test]
    fn a_request_has_its_line_host_headers_length_and_body() {
        let mut out = Vec::new();
        let headers: &[(&str, &[u8])] =
            &[("content-type", b"application/json"), ("accept", b"*/*")];
        write_request(
            &mut out,
            "POST",
            "/api/v1/jsonrpc",
            b"127.0.0.1:8080",
            headers,
            Some(b"{}"),
        );
        assert_eq!(
            out,
            b"POST /api/v1/jsonrpc HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-type: application/json\r\naccept: */*\r\ncontent-length: 2\r\n\r\n{}"
        );
        out.clear();
        write_request(&mut out, "GET", "/x", b"h", &[], None);
        assert_eq!(out, b"GET /x HTTP/1.1\r\nhost: h\r\n\r\n");
        let mut digits = itoa_buffer();
        assert_eq!(format_usize(1_234_567, &mut digits), b"1234567");
    }

    #[test]
    fn paths_with_spaces_or_controls_cannot_go_on_the_request_line() {
        assert!(is_valid_path("/api/v1/workflows/wf-1/status?x=1"));
        assert!(!is_valid_path("/a b"));
        assert!(!is_valid_path("/a\r\nx: y"));
        assert!(!is_valid_path("relative"));
    }

    #[test]
    fn a_content_length_body_is_read_whatever_the_pieces() {
        let r =
            read_every_way(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-type: x\r\n\r\nhello");
        assert_eq!(
            (r.status, &r.body[..], r.reusable),
            (200, &b"hello"[..], true)
        );
    }

    #[test]
    fn a_chunked_body_is_decoded_with_extensions_and_trailers() {
        let wire = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n";
        let r = read_every_way(wire);
        assert_eq!(
            (r.status, &r.body[..], r.reusable),
            (201, &b"hello, world"[..], true)
        );
    }

    #[test]
    fn answers_without_a_body_end_at_their_head() {
        for status in ["204 No Content", "304 Not Modified"] {
            let wire = format!("HTTP/1.1 {status}\r\ncontent-length: 10\r\n\r\n");
            let r = read_every_way(wire.as_bytes());
            assert!(r.body.is_empty() && r.reusable, "{status}");
        }
        let r = read_every_way(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        assert!(r.body.is_empty());
    }

    #[test]
    fn interim_answers_are_skipped() {
        let r = read_every_way(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: x\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
    }

    #[test]
    fn a_body_without_length_runs_until_close_and_ends_the_connection() {
        let wire = b"HTTP/1.1 200 OK\r\n\r\nall of it";
        let mut reader = ResponseReader::default();
        let mut buf = BytesMut::from(&wire[..]);
        assert_eq!(reader.advance(&mut buf, false).unwrap(), None);
        let r = reader.advance(&mut buf, true).unwrap().unwrap();
        assert_eq!((&r.body[..], r.reusable), (&b"all of it"[..], false));
    }

    #[test]
    fn connection_close_and_http_1_0_decide_reuse() {
        let r =
            read_every_way(b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n");
        assert!(!r.reusable);
        let r = read_every_way(b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n");
        assert!(!r.reusable);
        let r = read_every_way(
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\ncontent-length: 0\r\n\r\n",
        );
        assert!(r.reusable);
        // Bytes after the answer: the connection's state is unknown.
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nxy"[..]);
        let r = ResponseReader::default()
            .advance(&mut buf, false)
            .unwrap()
            .unwrap();
        assert!(!r.reusable);
    }

    #[test]
    fn broken_answers_are_errors_that_say_what_broke() {
        let closed = |wire: &[u8]| {
            let mut buf = BytesMut::from(wire);
            ResponseReader::default().advance(&mut buf, true)
        };
        assert_eq!(closed(b""), Err(ResponseError::ClosedBeforeHead));
        assert_eq!(
            closed(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort"),
            Err(ResponseError::ClosedInBody)
        );
        assert_eq!(
            closed(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel"),
            Err(ResponseError::ClosedInBody)
        );
        assert!(matches!(
            closed(b"NOT HTTP\r\n\r\n"),
            Err(ResponseError::Head(_))
        ));
        assert!(matches!(
            closed(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"),
            Err(ResponseError::Head(_))
        ));
        assert_eq!(
            closed(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"),
            Err(ResponseError::Chunk("bad chunk size"))
        );
        let mut huge = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
        huge.extend_from_slice(&vec![b'a'; MAX_HEAD_BYTES + 1]);
        assert_eq!(
            ResponseReader::default().advance(&mut huge, false),
            Err(ResponseError::HeadTooLarge)
        );
    }

    #[test]
    fn the_missing_length_of_a_body_is_known_once_its_head_is_read() {
        let mut reader = ResponseReader::default();
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc"[..]);
        assert_eq!(reader.body_bytes_missing(buf.len()), None);
        assert_eq!(reader.advance(&mut buf, false).unwrap(), None);
        assert_eq!(reader.body_bytes_missing(buf.len()), Some(97));
    }
}
