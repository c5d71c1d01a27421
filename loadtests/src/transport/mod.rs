//! The HTTP client stack every protocol sends on: how a request reaches the target and is timed
//! to its last body byte.
//!
//! A plain-HTTP target without a proxy gets Skein's own connections ([`ConnectionPool`], the
//! wire format in [`http1`]): that is what the benchmarks and the reference server measure,
//! and where reqwest's per-request machinery cost a third of the generator's CPU. LLM requests
//! take them too ([`Transport::open`], the body read as it arrives by [`body_stream`]): an open
//! token stream costs a 4-KiB buffer there, against ~26 KiB of hyper's connection state. HTTPS, a
//! target with credentials in its URL, or a proxy set in the environment keep reqwest (TLS,
//! proxies). Both send the same header lines (`host`, `content-type` with a body,
//! `authorization` where the request is authorized, `accept: */*`, `content-length`), follow
//! no redirect (a 3xx is the answer that is judged), and stop the clock at the last body byte.
use std::borrow::Cow;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};

pub mod body_stream;
pub mod connection_pool;
pub mod http1;
pub mod jsonrpc;

use connection_pool::{ConnectionPool, OpenResponse};

/// Per-request timeout: long enough for a 10,000-row export under load, short enough that a
/// hung server shows as failures rather than a stuck run.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Idle keep-alive connections kept for reuse.
pub const MAX_IDLE_CONNECTIONS: usize = 64;

/// The reqwest client every request that does not take Skein's own connections goes through
/// (declared requests, HTTPS, proxies): one for all users, since one per user would cost
/// ~145 KiB each.
pub fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true)
        // Users that think keep no connection of their own: idle connections beyond this
        // are closed, so waiting users cost little memory.
        .pool_max_idle_per_host(MAX_IDLE_CONNECTIONS)
        // Closed before servers commonly close theirs (uvicorn after 5 s), so a request is
        // never written on a connection the server is closing.
        .pool_idle_timeout(connection_pool::IDLE_TIMEOUT)
        // A redirect is the answer measured and judged, as on the direct connections.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a plain HTTP client always builds")
}

pub(crate) fn http_error(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("HTTP {status} {reason}").trim_end().to_string()
}

/// Protocol header lines a request may carry beside the usual ones.
pub const MAX_EXTRA_HEADERS: usize = 2;

/// The JSON-RPC endpoint under the target's base URL.
pub const JSONRPC_PATH: &str = "/api/v1/jsonrpc";

/// A response read to its end.
pub struct FullResponse {
    pub status: u16,
    pub body: Bytes,
}

/// When a request went out and how long its whole response took.
#[derive(Clone, Copy, Debug)]
pub struct Timed {
    pub sent_at: Instant,
    pub elapsed: Duration,
}

/// Where under the target's base URL a request goes.
#[derive(Clone, Copy, Debug)]
pub enum Endpoint<'a> {
    /// [`JSONRPC_PATH`], prepared once.
    JsonRpc,
    /// A path such as `/api/v1/workflows/wf-1/status`.
    Path(&'a str),
}

/// One request of a built-in class: a JSON body or none, with or without the target token.
pub struct OutgoingRequest<'a> {
    pub method: Method,
    pub endpoint: Endpoint<'a>,
    pub body: Option<String>,
    pub authorized: bool,
    /// Header lines of the protocol beside the usual ones (e.g. `a2a-version: 1.0`).
    pub extra_headers: &'a [(&'static str, &'static str)],
}

/// The route every built-in request takes to one target.
pub struct Transport {
    route: Route,
    authorization: HeaderValue,
}

enum Route {
    Direct {
        pool: ConnectionPool,
        /// `host:port` the pool connects to, as a request's URL names it.
        address: String,
        /// The `host` header: the host, and the port unless it is the scheme's (as reqwest
        /// sends it).
        host: String,
        /// The base URL's own path (`""` or e.g. `/prefix`), before every request's path.
        base_path: String,
        jsonrpc_path: String,
    },
    Reqwest {
        client: reqwest::Client,
        base_url: String,
        /// Parsed once rather than per request; `None` leaves the error to reqwest.
        jsonrpc: Option<Url>,
    },
}

/// Whether reqwest would send plain-HTTP requests through a proxy from the environment.
fn http_proxy_configured() -> bool {
    ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

impl Transport {
    /// The route to `base_url` (no trailing `/`); `client` serves targets the direct
    /// connections do not.
    pub fn new(base_url: &str, client: reqwest::Client, authorization: HeaderValue) -> Transport {
        let direct = Url::parse(base_url)
            .ok()
            .filter(|url| url.scheme() == "http" && !http_proxy_configured())
            .filter(|url| url.username().is_empty() && url.password().is_none())
            .and_then(|url| {
                let host = url.host_str()?.to_string();
                let port = url.port_or_known_default()?;
                let base_path = url.path().trim_end_matches('/').to_string();
                let address = format!("{host}:{port}");
                Some(Route::Direct {
                    pool: ConnectionPool::new(address.clone(), MAX_IDLE_CONNECTIONS),
                    address,
                    host: match url.port() {
                        Some(port) => format!("{host}:{port}"),
                        None => host,
                    },
                    jsonrpc_path: format!("{base_path}{JSONRPC_PATH}"),
                    base_path,
                })
            });
        let route = direct.unwrap_or_else(|| Route::Reqwest {
            client,
            base_url: base_url.to_string(),
            jsonrpc: Url::parse(&format!("{base_url}{JSONRPC_PATH}")).ok(),
        });
        Transport {
            route,
            authorization,
        }
    }

    /// Whether requests go on Skein's own connections rather than reqwest's.
    pub fn is_direct(&self) -> bool {
        matches!(self.route, Route::Direct { .. })
    }

    /// Sends `request`, reads the whole answer, and says when it went out and how long the
    /// answer took to its last byte (at most [`REQUEST_TIMEOUT`]).
    pub async fn exchange(
        &self,
        request: OutgoingRequest<'_>,
    ) -> (Result<FullResponse, String>, Timed) {
        match &self.route {
            Route::Direct {
                pool,
                host,
                base_path,
                jsonrpc_path,
                ..
            } => {
                let started = Instant::now();
                let path: Cow<'_, str> = match request.endpoint {
                    Endpoint::JsonRpc => Cow::Borrowed(jsonrpc_path),
                    Endpoint::Path(path) if base_path.is_empty() => Cow::Borrowed(path),
                    Endpoint::Path(path) => Cow::Owned(format!("{base_path}{path}")),
                };
                if !http1::is_valid_path(&path) {
                    let error = format!("transport error: invalid request path `{path}`");
                    return (Err(error), Timed::since(started));
                }
                let mut wire = Vec::new();
                let mut headers: [(&str, &[u8]); 3 + MAX_EXTRA_HEADERS] =
                    [("", b""); 3 + MAX_EXTRA_HEADERS];
                let mut count = 0;
                let mut header = |name, value| {
                    headers[count] = (name, value);
                    count += 1;
                };
                if request.body.is_some() {
                    header("content-type", b"application/json");
                }
                if request.authorized {
                    header("authorization", self.authorization.as_bytes());
                }
                header("accept", b"*/*");
                for (name, value) in request.extra_headers.iter().take(MAX_EXTRA_HEADERS) {
                    header(name, value.as_bytes());
                }
                http1::write_request(
                    &mut wire,
                    request.method.as_str(),
                    &path,
                    host.as_bytes(),
                    &headers[..count],
                    request.body.as_deref().map(str::as_bytes),
                );
                let deadline = tokio::time::Instant::from_std(started + REQUEST_TIMEOUT);
                let outcome = match tokio::time::timeout_at(deadline, pool.send(&wire)).await {
                    Ok(Ok(answer)) => Ok(FullResponse {
                        status: answer.status,
                        body: answer.body,
                    }),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("timed out".to_string()),
                };
                (outcome, Timed::since(started))
            }
            Route::Reqwest {
                client,
                base_url,
                jsonrpc,
            } => {
                let builder = match (request.endpoint, jsonrpc) {
                    (Endpoint::JsonRpc, Some(url)) => client.request(request.method, url.clone()),
                    (Endpoint::JsonRpc, None) => {
                        client.request(request.method, format!("{base_url}{JSONRPC_PATH}"))
                    }
                    (Endpoint::Path(path), _) => {
                        client.request(request.method, format!("{base_url}{path}"))
                    }
                };
                let builder = if request.authorized {
                    builder.header(AUTHORIZATION, self.authorization.clone())
                } else {
                    builder
                };
                let builder = request
                    .extra_headers
                    .iter()
                    .fold(builder, |b, (name, value)| b.header(*name, *value));
                let builder = match request.body {
                    Some(body) => builder
                        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                        .body(body),
                    None => builder,
                };
                exchange(builder).await
            }
        }
    }
}

impl Transport {
    /// Sends a request built with reqwest and reads its answer's head; the body is read as it
    /// arrives ([`OpenedResponse::chunk`]). A request to the direct route's own `host:port`
    /// goes on Skein's own connections, whose streamed body holds one small read buffer per
    /// open stream (hyper's client holds ~26 KiB per connection, docs/llm.md "Cost"); any
    /// other (HTTPS, another host, a streamed request body) goes through reqwest. Both are cut
    /// at [`REQUEST_TIMEOUT`] after sending, as the reqwest client's own timeout.
    pub async fn open(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<OpenedResponse<'_>, String> {
        let (client, request) = builder.build_split();
        let request = request.map_err(|e| transport_error(&e))?;
        let sent_at = Instant::now();
        let Some((pool, wire)) = self.direct_wire(&request)? else {
            let response = client
                .execute(request)
                .await
                .map_err(|e| transport_error(&e))?;
            return Ok(OpenedResponse::Reqwest(response));
        };
        let deadline = tokio::time::Instant::from_std(sent_at + REQUEST_TIMEOUT);
        match tokio::time::timeout_at(deadline, pool.open(&wire)).await {
            Ok(Ok(response)) => Ok(OpenedResponse::Direct { response, deadline }),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".to_string()),
        }
    }

    /// `request` as HTTP/1.1 bytes for the direct route, if it goes there.
    fn direct_wire(
        &self,
        request: &reqwest::Request,
    ) -> Result<Option<(&ConnectionPool, Vec<u8>)>, String> {
        let Route::Direct {
            pool,
            address,
            host,
            ..
        } = &self.route
        else {
            return Ok(None);
        };
        let url = request.url();
        let same_host = url.scheme() == "http"
            && url.username().is_empty()
            && url.password().is_none()
            && url
                .host_str()
                .zip(url.port_or_known_default())
                .zip(address.rsplit_once(':'))
                .is_some_and(|((host, port), (own_host, own_port))| {
                    host == own_host && own_port.parse() == Ok(port)
                });
        let body = match request.body() {
            None => None,
            Some(body) => match body.as_bytes() {
                Some(bytes) => Some(bytes),
                None => return Ok(None),
            },
        };
        if !same_host {
            return Ok(None);
        }
        let path: Cow<'_, str> = match url.query() {
            Some(query) => Cow::Owned(format!("{}?{query}", url.path())),
            None => Cow::Borrowed(url.path()),
        };
        if !http1::is_valid_path(&path) {
            return Err(format!("transport error: invalid request path `{path}`"));
        }
        // The same host and port as the route's, so the route's own `host` header.
        let headers: Vec<(&str, &[u8])> = request
            .headers()
            .iter()
            .filter(|(name, _)| {
                *name != reqwest::header::HOST && *name != reqwest::header::CONTENT_LENGTH
            })
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
            .collect();
        let mut wire = Vec::new();
        http1::write_request(
            &mut wire,
            request.method().as_str(),
            &path,
            host.as_bytes(),
            &headers,
            body,
        );
        Ok(Some((pool, wire)))
    }
}

/// Whether an answer is a stream (otherwise it is judged as a plain answer).
pub fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// An answer whose body is read as it arrives, on either route.
pub enum OpenedResponse<'a> {
    Direct {
        response: OpenResponse<'a>,
        deadline: tokio::time::Instant,
    },
    Reqwest(reqwest::Response),
}

impl OpenedResponse<'_> {
    pub fn status(&self) -> u16 {
        match self {
            OpenedResponse::Direct { response, .. } => response.head.status,
            OpenedResponse::Reqwest(response) => response.status().as_u16(),
        }
    }

    /// Whether the answer is an event stream (`Content-Type: text/event-stream`).
    pub fn is_event_stream(&self) -> bool {
        match self {
            OpenedResponse::Direct { response, .. } => response.head.event_stream,
            OpenedResponse::Reqwest(response) => is_event_stream(response),
        }
    }

    /// The next body bytes as they arrive, `None` at the end; an error says what broke.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        match self {
            OpenedResponse::Direct { response, deadline } => {
                match tokio::time::timeout_at(*deadline, response.chunk()).await {
                    Ok(Ok(chunk)) => Ok(chunk),
                    Ok(Err(e)) => Err(e.detail()),
                    Err(_) => Err("timed out".to_string()),
                }
            }
            OpenedResponse::Reqwest(response) => {
                response.chunk().await.map_err(|e| without_url(&e))
            }
        }
    }

    /// The whole body (a body that came in one piece, as most do, is not copied).
    pub async fn bytes(mut self) -> Result<Bytes, String> {
        let Some(first) = self.chunk().await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.chunk().await? else {
            return Ok(first);
        };
        let mut body = bytes::BytesMut::from(&first[..]);
        body.extend_from_slice(&second);
        while let Some(chunk) = self.chunk().await? {
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

impl Timed {
    /// Sent at `sent_at`, answered now.
    pub fn since(sent_at: Instant) -> Timed {
        Timed {
            sent_at,
            elapsed: sent_at.elapsed(),
        }
    }
}

/// Sends a reqwest request and reads the whole body; returns the outcome and when and how long.
pub async fn exchange(request: reqwest::RequestBuilder) -> (Result<FullResponse, String>, Timed) {
    let started = Instant::now();
    let outcome = match request.send().await {
        Ok(response) => read_body(response).await,
        Err(e) => Err(transport_error(&e)),
    };
    (outcome, Timed::since(started))
}

/// Reads a reqwest response's whole body.
pub(crate) async fn read_body(response: reqwest::Response) -> Result<FullResponse, String> {
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(body) => Ok(FullResponse { status, body }),
        Err(e) => Err(format!("reading the body failed: {}", without_url(&e))),
    }
}

/// A failed reqwest send in the words every output groups failures by.
pub(crate) fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        format!("transport error: {}", without_url(e))
    }
}

/// reqwest's message without the URL, so failures of one kind group together.
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let text = e.to_string();
    match text.split_once(" for url (") {
        Some((head, _)) => head.to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(base_url: &str) -> Transport {
        Transport::new(
            base_url,
            reqwest::Client::new(),
            HeaderValue::from_static("Bearer t"),
        )
    }

    #[test]
    fn plain_http_goes_direct_and_https_or_credentials_go_through_reqwest() {
        // The proxy variables are the process's own: this test only holds without them.
        if http_proxy_configured() {
            return;
        }
        assert!(transport("http://127.0.0.1:8080").is_direct());
        assert!(transport("http://localhost:8080/prefix").is_direct());
        assert!(!transport("https://127.0.0.1:8443").is_direct());
        assert!(!transport("http://user:secret@127.0.0.1:8080").is_direct());
    }

    #[test]
    fn the_host_header_names_the_port_unless_it_is_the_scheme_s() {
        let host = |url: &str| match transport(url).route {
            Route::Direct { host, .. } => host,
            Route::Reqwest { .. } => "reqwest".into(),
        };
        if http_proxy_configured() {
            return;
        }
        assert_eq!(host("http://example.test:8080/"), "example.test:8080");
        assert_eq!(host("http://example.test:80"), "example.test");
        assert_eq!(host("http://[::1]:9"), "[::1]:9");
    }

    #[tokio::test]
    async fn a_path_that_cannot_go_on_a_request_line_is_refused_before_sending() {
        let t = transport("http://127.0.0.1:9");
        if !t.is_direct() {
            return;
        }
        let request = OutgoingRequest {
            method: Method::GET,
            endpoint: Endpoint::Path("/a b"),
            body: None,
            authorized: false,
            extra_headers: &[],
        };
        let (outcome, _) = t.exchange(request).await;
        assert_eq!(
            outcome.err().unwrap(),
            "transport error: invalid request path `/a b`"
        );
    }
}
