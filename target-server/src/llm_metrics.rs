//! The LLM API's Prometheus series, kept apart from [`crate::metrics`] so that the shared
//! metrics file gains only one field and one render call.
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Which API a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Chat,
    Completions,
    Messages,
    Models,
}

impl Api {
    /// The `api` label of `target_llm_requests_total`.
    pub fn label(self) -> &'static str {
        match self {
            Api::Chat => "chat_completions",
            Api::Completions => "completions",
            Api::Messages => "messages",
            Api::Models => "models",
        }
    }
}

#[derive(Default)]
pub struct LlmMetrics {
    /// Accepted requests, by API ([`Api::label`]).
    requests: [AtomicU64; 3],
    pub input_tokens: AtomicU64,
    /// Output tokens handed out (streamed chunks as they are sent).
    pub output_tokens: AtomicU64,
    /// Generations holding a decode slot (streamed or not).
    pub streams_in_flight: AtomicUsize,
    /// Requests waiting for a decode slot.
    pub queued: AtomicUsize,
}

const APIS: [Api; 3] = [Api::Chat, Api::Completions, Api::Messages];

impl LlmMetrics {
    /// One accepted request of `api` with `input_tokens`.
    pub fn add_request(&self, api: Api, input_tokens: u32) {
        if let Some(i) = APIS.iter().position(|a| *a == api) {
            self.requests[i].fetch_add(1, Ordering::Relaxed);
        }
        self.input_tokens
            .fetch_add(u64::from(input_tokens), Ordering::Relaxed);
    }

    /// Appends the series to a Prometheus text exposition.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP target_llm_requests_total LLM requests accepted, by API.\n# TYPE target_llm_requests_total counter");
        for (api, n) in APIS.iter().zip(&self.requests) {
            let _ = writeln!(
                out,
                "target_llm_requests_total{{api=\"{}\"}} {}",
                api.label(),
                n.load(Ordering::Relaxed)
            );
        }
        let scalar = |out: &mut String, name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        scalar(
            out,
            "target_llm_input_tokens_total",
            "counter",
            "Input tokens (whitespace-separated prompt words) of accepted LLM requests.",
            self.input_tokens.load(Ordering::Relaxed),
        );
        scalar(
            out,
            "target_llm_output_tokens_total",
            "counter",
            "Output tokens generated (streamed ones counted as they are sent).",
            self.output_tokens.load(Ordering::Relaxed),
        );
        scalar(
            out,
            "target_llm_streams_in_flight",
            "gauge",
            "LLM generations holding a decode slot.",
            self.streams_in_flight.load(Ordering::Relaxed) as u64,
        );
        scalar(
            out,
            "target_llm_queued",
            "gauge",
            "LLM requests waiting for a decode slot.",
            self.queued.load(Ordering::Relaxed) as u64,
        );
    }
}
