//! The open-model benchmark's fixed-rate reference: a minimal client that sends one request
//! at each instant of an evenly spaced schedule over a fixed number of keep-alive
//! connections, and does nothing else: no users, no sessions, no per-name histograms, one
//! pre-built request, one current-thread runtime. Its CPU per request is what sending at that
//! rate costs at least on this machine, so the open executor is compared with it at an
//! equal rate (wrk and oha, saturated or not, do other work).
//!
//! It waits for each instant one of two ways ([`Pacing`]): as the open executor does (a
//! timerfd, and at least [`BATCH`] between two wake-ups, arrivals due by then sent together),
//! so both send at the same instants and differ only in the work per request; or with tokio's
//! 1-ms timer, which sends the arrivals of each millisecond in one burst up to ~2 ms late and
//! shows what the executor's precision costs.
//!
//! An arrival whose instant comes while every connection is busy is dropped and counted, as
//! the open model drops one past `max_in_flight`. The send lag is measured like the open
//! model's: from the intended instant to the moment the request is written.
use std::rc::Rc;
use std::time::{Duration, Instant};

use skein::engine::open::BATCH;
use skein::engine::precise_sleep::PreciseSleep;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How the minimal client waits for an arrival's instant.
#[derive(Clone, Copy)]
pub enum Pacing {
    /// The open executor's pacing: a timerfd, at least [`BATCH`] between wake-ups.
    Precise,
    /// tokio's timer (1 ms resolution).
    Timer,
}

/// What a run measured (CPU in seconds, lags in ms).
pub struct Measured {
    pub cpu: f64,
    pub requests: u64,
    pub dropped: u64,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
}

/// Sends at `rate` per second for `run_time` to `host` (`http://addr:port`) over
/// `connections` connections.
pub fn run(
    host: &str,
    rate: f64,
    run_time: Duration,
    connections: usize,
    pacing: Pacing,
) -> Measured {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let addr = host.trim_start_matches("http://").to_string();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"training.get_status","params":{"job_id":"7f6c4b4e-2b8e-4a51-9b0d-1d4f4a0e9b11"}}"#;
    let request: Rc<[u8]> = format!(
        "POST /api/v1/jsonrpc HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        target_server::DEFAULT_TOKEN,
        body.len()
    )
    .into_bytes()
    .into();
    local.block_on(&runtime, async move {
        let mut idle = Vec::with_capacity(connections);
        for _ in 0..connections {
            let stream = TcpStream::connect(&addr)
                .await
                .expect("connect to the server");
            stream.set_nodelay(true).unwrap();
            idle.push(Connection {
                stream,
                buffer: vec![0; 16 * 1024],
            });
        }
        let idle = Rc::new(std::cell::RefCell::new(idle));
        let lag = Rc::new(std::cell::RefCell::new(
            hdrhistogram::Histogram::<u64>::new(3).unwrap(),
        ));
        let answered = Rc::new(std::cell::Cell::new(0u64));
        let mut precise = PreciseSleep::new().expect("a timerfd");
        let cpu = skein::resources::cpu_seconds();
        let start = Instant::now();
        let mut woke = start;
        let arrivals = (rate * run_time.as_secs_f64()) as u64;
        let mut dropped = 0;
        let mut tasks = Vec::with_capacity(connections);
        for k in 0..arrivals {
            let due = start + Duration::from_secs_f64((k as f64 + 0.5) / rate);
            match pacing {
                Pacing::Precise if due > Instant::now() => {
                    precise.until(due.max(woke + BATCH)).await.expect("timerfd");
                    woke = Instant::now();
                }
                Pacing::Precise => {}
                Pacing::Timer => tokio::time::sleep_until(due.into()).await,
            }
            let Some(mut connection) = idle.borrow_mut().pop() else {
                dropped += 1;
                continue;
            };
            let (idle, lag, answered, request) =
                (idle.clone(), lag.clone(), answered.clone(), request.clone());
            tasks.push(tokio::task::spawn_local(async move {
                let late = Instant::now().saturating_duration_since(due);
                lag.borrow_mut().saturating_record(late.as_micros() as u64);
                connection.exchange(&request).await;
                answered.set(answered.get() + 1);
                idle.borrow_mut().push(connection);
            }));
            if tasks.len() >= 4 * connections {
                tasks.retain(|t| !t.is_finished());
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        let lag = lag.borrow();
        Measured {
            cpu: skein::resources::cpu_seconds() - cpu,
            requests: answered.get(),
            dropped,
            lag_p50_ms: lag.value_at_quantile(0.5) as f64 / 1000.0,
            lag_p99_ms: lag.value_at_quantile(0.99) as f64 / 1000.0,
        }
    })
}

/// One keep-alive connection and its read buffer.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    /// Reads what has come after the first `filled` bytes of the buffer; returns its length.
    async fn read_more(&mut self, filled: usize) -> usize {
        let n = self
            .stream
            .read(&mut self.buffer[filled..])
            .await
            .expect("read");
        assert!(n > 0, "the server closed the connection");
        n
    }

    /// Writes the request and reads one whole response (head, then `content-length` bytes).
    async fn exchange(&mut self, request: &[u8]) {
        self.stream.write_all(request).await.expect("write");
        let mut filled = 0;
        loop {
            filled += self.read_more(filled).await;
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) =
                response.parse(&self.buffer[..filled]).unwrap()
            {
                let length = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())
                    .expect("a response with content-length");
                while filled < head + length {
                    filled += self.read_more(filled).await;
                }
                return;
            }
        }
    }
}
