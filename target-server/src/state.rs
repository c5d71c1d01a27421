//! The state every handler shares: the store, metrics, faults, the clock modelled waits sleep
//! on, admission and auth settings.
//!
//! It sits in its own module so that dependencies point one way: the router ([`crate::app`])
//! uses the API handlers ([`crate::training`], [`crate::orchestration`], [`crate::a2a`],
//! [`crate::mcp`]), and
//! they use this state and the store, never the router.
use std::sync::Arc;

use crate::a2a_dialect::Dialect;
use crate::admission::Admission;
use crate::config::{ChunkCount, ServerConfig};
use crate::error::ServerError;
use crate::faults::Faults;
use crate::live_tasks::LiveTasks;
use crate::mcp_sessions::Mcp;
use crate::metrics::Metrics;
use crate::precise_clock::PreciseClock;
use crate::store::Store;

/// Everything a handler may touch; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub faults: Arc<Faults>,
    /// What every modelled wait (service time, stall, chunk deadline) sleeps on.
    pub clock: PreciseClock,
    pub admission: Arc<Admission>,
    pub token: Arc<str>,
    pub max_body_bytes: usize,
    /// Length of one workflow task ([`ServerConfig::workflow_task_ms`]).
    pub workflow_task_ms: u64,
    /// Length of an agent answer ([`ServerConfig::agent_chunks`]).
    pub agent_chunks: ChunkCount,
    /// Agent tasks being generated, so `tasks/cancel` can reach them.
    pub live_tasks: Arc<LiveTasks>,
    /// Finished jobs kept ([`ServerConfig::max_finished_jobs`]), named in "not found" answers.
    pub max_finished_jobs: u64,
    /// The A2A protocol versions `/a2a` speaks and its card lists ([`ServerConfig::a2a_versions`]).
    pub a2a_versions: Arc<[Dialect]>,
    /// The cut fault: streams close after this many chunks ([`ServerConfig::a2a_cut_after`]).
    pub a2a_cut_after: Option<u32>,
    /// The MCP API's answer mode and session table ([`crate::mcp`]).
    pub mcp: Arc<Mcp>,
    /// The LLM endpoints' flags and decode slots ([`crate::llm`]).
    pub llm: Arc<crate::llm::Llm>,
}

impl AppState {
    /// Opens the store, starts the clock thread and builds the state from `config`, without
    /// serving.
    pub fn build(config: &ServerConfig) -> Result<AppState, ServerError> {
        let metrics = Arc::new(Metrics::default());
        Ok(AppState {
            store: Store::open(&config.db, config.db_pool)?,
            faults: Arc::new(Faults::new(config)),
            clock: PreciseClock::start().map_err(ServerError::Clock)?,
            admission: Arc::new(Admission::new(
                config.capacity,
                config.queue_limit,
                config.queue_timeout(),
                metrics.clone(),
            )),
            live_tasks: Arc::new(LiveTasks::new(metrics.clone())),
            mcp: Arc::new(Mcp::new(config, metrics.clone())),
            llm: Arc::new(crate::llm::Llm::new(&config.llm, metrics.clone())),
            metrics,
            token: Arc::from(config.token.as_str()),
            max_body_bytes: config.max_body_bytes,
            workflow_task_ms: config.workflow_task_ms,
            agent_chunks: config.agent_chunks,
            a2a_versions: Arc::from(config.a2a_versions.as_slice()),
            a2a_cut_after: config.a2a_cut_after,
            max_finished_jobs: config.max_finished_jobs,
        })
    }
}
