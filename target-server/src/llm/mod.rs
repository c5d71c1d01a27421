//! LLM endpoints on a calibrated model whose truth is known: OpenAI chat completions
//! (`POST /v1/chat/completions`), OpenAI legacy completions (`POST /v1/completions`),
//! Anthropic Messages (`POST /v1/messages`) and the model list (`GET /v1/models`).
//!
//! They exist so Skein can check what it measures of an LLM service (time to first token,
//! time per output token, token counts, queueing, broken streams) against what the server
//! intended. Everything a client could measure is modelled and stated: the tokenizer
//! ([`tokens`]) is countable without a vocabulary, `usage` is exact, each answer's plan
//! ([`model`]) follows documented formulas (docs/llm-server.md) and comes back in the
//! `x-llm-truth` header, decode slots ([`engine`]) model a server's bounded batch, and the
//! `x-llm-fault` header (or `--llm-fault-every`) injects one fault ([`stream`]).
//!
//! Map: [`request`] reads a body into an `Ask` → [`model`] draws its `Plan` → [`engine`]
//! queues it for a slot and times its chunks → [`stream`] writes them in the API's framing
//! ([`openai`], [`anthropic`]); errors in each API's shape in [`errors`], flags in
//! [`config`], Prometheus series in [`metrics`].
pub mod anthropic;
pub use crate::llm_config as config;
pub mod engine;
pub mod errors;
pub use crate::llm_metrics as metrics;
pub mod model;
pub mod openai;
pub mod request;
pub mod stream;
pub mod tokens;

pub use crate::llm_metrics::Api;
pub use config::{FaultKind, LlmConfig};
pub use engine::Llm;

/// Response header with the modelled values of an answer ([`model::Plan::truth`]).
pub const TRUTH_HEADER: &str = "x-llm-truth";
/// Request header naming a fault to inject ([`FaultKind::name`]).
pub const FAULT_HEADER: &str = "x-llm-fault";
