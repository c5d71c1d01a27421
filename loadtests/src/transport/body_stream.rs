//! A response read as it arrives (an LLM token stream, an event stream) rather than whole: its
//! head first, then its body piece by piece, each piece handed on as soon as it is decoded.
//!
//! The same framing rules as [`super::http1::ResponseReader`] (the head parsed by the same
//! code; chunked, `Content-Length` and until-close bodies; interim 1xx answers skipped), but
//! nothing is accumulated: a stream that stays open for minutes holds only the bytes of its
//! last read. No I/O here either; [`super::connection_pool::OpenResponse`] reads the socket.
use bytes::{Bytes, BytesMut};

use super::http1::{decode_chunks, take_head, ChunkState, Framing, ResponseError};

/// What a streamed response's head says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamHead {
    pub status: u16,
    /// `Content-Type: text/event-stream`.
    pub event_stream: bool,
}

/// The next thing a streamed body gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    /// Body bytes, decoded.
    Data(Bytes),
    /// Nothing until more bytes arrive.
    More,
    /// The body ended; whether the connection can carry another request.
    End { reusable: bool },
}

#[derive(Debug)]
enum State {
    Head,
    Body {
        framing: Framing,
        keep_alive: bool,
        chunk: ChunkState,
    },
    Ended {
        reusable: bool,
    },
}

/// Reads one response out of the bytes a connection received, handing its body on in pieces.
#[derive(Debug)]
pub struct StreamReader {
    state: State,
}

impl Default for StreamReader {
    fn default() -> Self {
        StreamReader { state: State::Head }
    }
}

impl StreamReader {
    /// Consumes the head from `buf` once it is all there (`closed`: the peer closed after
    /// these bytes).
    pub fn head(
        &mut self,
        buf: &mut BytesMut,
        closed: bool,
    ) -> Result<Option<StreamHead>, ResponseError> {
        let Some(head) = take_head(buf, closed)? else {
            return Ok(None);
        };
        self.state = State::Body {
            framing: head.framing,
            keep_alive: head.keep_alive,
            chunk: ChunkState::Size,
        };
        Ok(Some(StreamHead {
            status: head.status,
            event_stream: head.event_stream,
        }))
    }

    /// Takes the body bytes `buf` holds (after [`StreamReader::head`]).
    pub fn piece(&mut self, buf: &mut BytesMut, closed: bool) -> Result<Piece, ResponseError> {
        let (framing, keep_alive, chunk) = match &mut self.state {
            State::Head => return Err(ResponseError::Head("body read before the head".into())),
            State::Ended { reusable } => {
                return Ok(Piece::End {
                    reusable: *reusable,
                })
            }
            State::Body {
                framing,
                keep_alive,
                chunk,
            } => (framing, *keep_alive, chunk),
        };
        // Bytes after a complete response (none were asked for) make the connection's state
        // unknowable: it is not reused.
        let reusable = |framing: Framing, buf: &BytesMut| {
            keep_alive && framing != Framing::UntilClose && buf.is_empty()
        };
        let (data, ended) = match *framing {
            Framing::Empty | Framing::Length(0) => (None, true),
            Framing::Length(n) if !buf.is_empty() => {
                let take = n.min(buf.len());
                *framing = Framing::Length(n - take);
                (Some(buf.split_to(take).freeze()), take == n)
            }
            Framing::Length(_) if closed => return Err(ResponseError::ClosedInBody),
            Framing::Length(_) => (None, false),
            Framing::UntilClose if !buf.is_empty() => (Some(buf.split().freeze()), false),
            Framing::UntilClose => (None, closed),
            Framing::Chunked => {
                let mut decoded = BytesMut::new();
                let ended = decode_chunks(buf, chunk, &mut decoded)?;
                if !ended && decoded.is_empty() && closed {
                    return Err(ResponseError::ClosedInBody);
                }
                ((!decoded.is_empty()).then(|| decoded.freeze()), ended)
            }
        };
        if ended {
            let reusable = reusable(*framing, buf);
            self.state = State::Ended { reusable };
            if data.is_none() {
                return Ok(Piece::End { reusable });
            }
        }
        Ok(data.map_or(Piece::More, Piece::Data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `wire` in pieces of `step` bytes (closing after the last when `close`); the head,
    /// the body pieces joined, how many pieces, and whether the connection is reusable.
    fn stream_in_steps(
        wire: &[u8],
        step: usize,
        close: bool,
    ) -> Result<(StreamHead, Vec<u8>, usize, bool), ResponseError> {
        let mut reader = StreamReader::default();
        let mut buf = BytesMut::new();
        let mut head = None;
        let mut body = Vec::new();
        let mut pieces = 0;
        let steps: Vec<&[u8]> = wire.chunks(step).collect();
        for (i, bytes) in steps.iter().enumerate() {
            buf.extend_from_slice(bytes);
            let closed = close && i + 1 == steps.len();
            if head.is_none() {
                head = reader.head(&mut buf, closed)?;
            }
            if head.is_none() {
                continue;
            }
            loop {
                match reader.piece(&mut buf, closed)? {
                    Piece::Data(d) => {
                        body.extend_from_slice(&d);
                        pieces += 1;
                    }
                    Piece::More => break,
                    Piece::End { reusable } => return Ok((head.unwrap(), body, pieces, reusable)),
                }
            }
        }
        if head.is_none() {
            head = reader.head(&mut buf, true)?;
        }
        match reader.piece(&mut buf, true)? {
            Piece::End { reusable } => Ok((head.unwrap(), body, pieces, reusable)),
            other => panic!("not ended after all bytes: {other:?}"),
        }
    }

    const EVENTS: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n\
        c\r\ndata: tok1\n\n\r\n\
        c;x=y\r\ndata: tok2\n\n\r\n\
        0\r\n\r\n";

    #[test]
    fn a_chunked_event_stream_comes_out_in_pieces_however_its_bytes_arrive() {
        for step in [1, 2, 5, 13, EVENTS.len()] {
            let (head, body, pieces, reusable) = stream_in_steps(EVENTS, step, false).unwrap();
            assert_eq!(
                head,
                StreamHead {
                    status: 200,
                    event_stream: true
                }
            );
            assert_eq!(body, b"data: tok1\n\ndata: tok2\n\n", "step {step}");
            assert!(reusable, "step {step}");
            // Each read's bytes are handed on at once, never held for the whole body.
            if step == 13 {
                assert!(pieces >= 2, "{pieces}");
            }
        }
    }

    #[test]
    fn length_and_until_close_bodies_end_where_the_whole_reader_says() {
        let sized =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5\r\n\r\nhello";
        for step in [1, 3, sized.len()] {
            let (head, body, _, reusable) = stream_in_steps(sized, step, false).unwrap();
            assert!(!head.event_stream);
            assert_eq!((body.as_slice(), reusable), (&b"hello"[..], true));
        }
        let until_close = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: x\n\n";
        let (_, body, _, reusable) = stream_in_steps(until_close, 4, true).unwrap();
        assert_eq!((body.as_slice(), reusable), (&b"data: x\n\n"[..], false));
        let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
        let (head, body, _, reusable) = stream_in_steps(empty, 3, false).unwrap();
        assert_eq!((head.status, body.len(), reusable), (204, 0, true));
    }

    #[test]
    fn a_body_cut_short_is_an_error_not_an_end() {
        let cut = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel";
        assert_eq!(
            stream_in_steps(cut, 4, true).unwrap_err(),
            ResponseError::ClosedInBody
        );
        let short = b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nhello";
        assert_eq!(
            stream_in_steps(short, 4, true).unwrap_err(),
            ResponseError::ClosedInBody
        );
        assert_eq!(
            stream_in_steps(b"HTTP/1.1 200", 4, true).unwrap_err(),
            ResponseError::ClosedBeforeHead
        );
        let bad = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n";
        assert!(matches!(
            stream_in_steps(bad, 64, false).unwrap_err(),
            ResponseError::Chunk(_)
        ));
    }

    #[test]
    fn bytes_after_the_body_make_the_connection_unusable() {
        let extra = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokGARBAGE";
        let (_, body, _, reusable) = stream_in_steps(extra, extra.len(), false).unwrap();
        assert_eq!((body.as_slice(), reusable), (&b"ok"[..], false));
    }
}
