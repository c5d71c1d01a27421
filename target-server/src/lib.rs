//! The reference AI-agent platform server that Skein load-tests against.
//!
//! It speaks the platform's training API (JSON-RPC 2.0), orchestration API (REST), an
//! Agent2Agent-style agent API (JSON-RPC 2.0 with streamed answers) and an MCP server
//! ([`mcp`], streamable HTTP, tools with modelled service times), keeps
//! everything in SQLite, runs training jobs with simulated trainers, and behaves like a real
//! service under load: a latency model held on bounded capacity gives it a knee, and past its
//! bounds it sheds with 429. Fault injection (error rates, periodic stalls) lets tests check
//! what a load generator reports.
//!
//! Map, in the direction dependencies point: [`server`] (spawn, shutdown) → [`app`] (router,
//! admission and metrics wiring; the token check and admission in [`gate`]) → [`mcp`] and
//! [`jsonrpc`] (framing, error codes) → [`training`],
//! [`a2a`] (the agent API: streamed answers on a generation model) and [`orchestration`] (the
//! APIs; REST errors in [`rest_error`], execution plans in [`schedule`], event timestamps in
//! [`event_time`]) → [`state`] (what handlers share) →
//! [`store`] (SQLite and its pool). Beside them: [`config`] (flags), [`trainer`] (job
//! simulation), [`retention`] (what the store keeps), [`faults`] (latency model, fault
//! injection), [`precise_clock`] (the deadlines modelled waits sleep until, to within ~0.1 ms),
//! [`generation`] (when each chunk of an agent answer is due), [`live_tasks`]
//! (agent answers being generated), [`admission`] (capacity and shedding), [`metrics`]
//! (Prometheus). [`llm`] serves OpenAI and Anthropic LLM endpoints on a calibrated model
//! whose truth each answer states (docs/llm-server.md).
pub mod a2a;
pub mod a2a_dialect;
pub mod admission;
pub mod app;
pub mod chunk_count;
pub mod config;
pub mod error;
pub mod event_time;
pub mod faults;
pub mod gate;
pub mod generation;
pub mod jsonrpc;
pub mod live_tasks;
pub mod llm;
pub mod llm_config;
pub mod llm_metrics;
pub mod llm_routes;
pub mod mcp;
pub mod mcp_sessions;
pub mod metrics;
pub mod orchestration;
pub mod precise_clock;
pub mod rest_error;
pub mod retention;
pub mod rpc_error;
pub mod schedule;
pub mod server;
pub mod state;
pub mod store;
pub mod trainer;
pub mod training;

pub use app::app;
pub use config::ServerConfig;
pub use error::ServerError;
pub use server::{build_state, spawn, RunningServer};
pub use state::AppState;

/// The development token: servers bind to loopback by default, where this is enough.
pub const DEFAULT_TOKEN: &str = "skein-dev-token";
