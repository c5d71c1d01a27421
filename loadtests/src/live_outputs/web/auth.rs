//! Who may use the dashboard: the token (when one is set) on every route, and same-origin
//! requests only for the routes that change the run.
//!
//! The token comes as `Authorization: Bearer TOKEN` (scripts) or `?token=TOKEN` (a browser
//! opening the printed link; the page then sends it on every call). A control request
//! (`POST`) from another origin is refused whatever the token: a page elsewhere must not be
//! able to stop a run through a browser that can reach the dashboard.
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::state::WebState;

pub async fn guard(State(state): State<WebState>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        if !presents(request.headers(), request.uri().query(), token) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "skein dashboard: this dashboard needs its token (Authorization: Bearer TOKEN, or ?token=TOKEN in the address)\n",
            )
                .into_response();
        }
    }
    if request.method() == Method::POST && !same_origin(request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "skein dashboard: control requests must come from the dashboard's own page\n",
        )
            .into_response();
    }
    next.run(request).await
}

/// Compares without stopping at the first differing byte.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn presents(headers: &HeaderMap, query: Option<&str>, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| equal(given.trim().as_bytes(), token.as_bytes()));
    let in_query = query.is_some_and(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .any(|(k, v)| k == "token" && equal(percent_decoded(v).as_bytes(), token.as_bytes()))
    });
    bearer || in_query
}

/// `%XX` and `+` decoded (tokens with such characters still work from a pasted link).
fn percent_decoded(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The browser says the request comes from this page (`Sec-Fetch-Site`), or its `Origin`
/// names this host. Clients that send neither (curl, scripts) are not browsers on another
/// site, so they pass.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://").map(|(_, rest)| rest));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_token_comes_as_a_bearer_header_or_a_query_parameter() {
        let none = HeaderMap::new();
        assert!(presents(
            &headers(&[("authorization", "Bearer s3cret")]),
            None,
            "s3cret"
        ));
        assert!(!presents(
            &headers(&[("authorization", "Bearer s3cre")]),
            None,
            "s3cret"
        ));
        assert!(presents(&none, Some("a=1&token=s3cret"), "s3cret"));
        assert!(presents(&none, Some("token=a%2Bb"), "a+b"));
        assert!(!presents(&none, Some("tokens=s3cret"), "s3cret"));
        assert!(!presents(&none, None, "s3cret"));
    }

    #[test]
    fn control_requests_from_another_origin_are_refused() {
        assert!(same_origin(&HeaderMap::new()), "curl sends neither");
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8089"),
            ("origin", "http://127.0.0.1:8089"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8089"),
            ("origin", "http://evil.example"),
        ])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
    }
}
