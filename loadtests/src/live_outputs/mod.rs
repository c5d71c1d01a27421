//! What a run exposes while it runs: for machines, Prometheus `/metrics`
//! ([`metrics_server`]) and one JSON line per finished second ([`jsonl`]); for people, the
//! live dashboard of `--web` ([`web`]), which reads the same recorder on its own thread.
//!
//! Both read the run's [`Recorder`] through one [`Source`], attached when the run's recorder
//! exists (at once for `skein run`, when the manager's assignment arrives for a worker), and
//! render the same [`LiveSnapshot`] so the two never disagree. The metrics server binds when
//! the outputs start, before any user runs, so a bad address fails the command at once.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use reports::live::LiveSnapshot;
use reports::LoadModel;

use crate::recorder::Recorder;
use crate::scenario::Scenario;

pub mod jsonl;
pub mod metrics_server;
pub mod web;

/// Where the live outputs go; both optional.
#[derive(Clone, Debug, Default)]
pub struct LiveConfig {
    pub metrics_bind: Option<SocketAddr>,
    pub jsonl: Option<PathBuf>,
    pub web: Option<web::WebConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("--metrics-bind {addr}: cannot listen: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Web(#[from] web::WebError),
    #[error("--jsonl {path}: cannot write: {source}")]
    Jsonl {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The run the live outputs read.
#[derive(Clone)]
pub struct Source {
    pub recorder: Arc<Recorder>,
    pub scenario: String,
    pub load_model: LoadModel,
}

impl Source {
    /// The figures so far; `tail` finished seconds of the series come along in
    /// `last_second` (the newest) and are returned.
    pub fn snapshot(&self, tail: Option<usize>) -> (LiveSnapshot, Vec<reports::SecondSample>) {
        let (requests, _, series) = self.recorder.totals_with_tail(tail);
        let snapshot = LiveSnapshot {
            scenario: self.scenario.clone(),
            load_model: self.load_model,
            started_at: self.recorder.started_at(),
            active_users: self.recorder.active_users(),
            requests,
            dropped_arrivals: self.recorder.dropped_arrivals(),
            last_second: series.last().cloned(),
            cpu_seconds: Some(self.recorder.resources().cpu_seconds),
        };
        (snapshot, series)
    }
}

/// The slot both outputs read; empty until the run's recorder is attached.
pub type Slot = Arc<Mutex<Option<Source>>>;

/// The running live outputs of one process. Dropping it stops the metrics server.
pub struct LiveOutputs {
    slot: Slot,
    metrics: Option<metrics_server::MetricsServer>,
    jsonl: Option<jsonl::JsonlOutput>,
    web: Option<web::WebServer>,
}

impl LiveOutputs {
    /// Binds the metrics server and creates the JSON-lines file, if asked for.
    pub fn start(config: &LiveConfig) -> Result<LiveOutputs, LiveError> {
        let slot: Slot = Arc::default();
        let web = config.web.as_ref().map(web::WebServer::start).transpose()?;
        let metrics = config
            .metrics_bind
            .map(|addr| metrics_server::MetricsServer::start(addr, slot.clone()))
            .transpose()?;
        let jsonl = config
            .jsonl
            .as_ref()
            .map(|path| jsonl::JsonlOutput::create(path, slot.clone()))
            .transpose()?;
        Ok(LiveOutputs {
            slot,
            metrics,
            jsonl,
            web,
        })
    }

    /// Where `/metrics` is served, when it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.addr())
    }

    /// The dashboard, when `--web` asked for one.
    pub fn web(&self) -> Option<&web::WebServer> {
        self.web.as_ref()
    }

    /// From now on the outputs show `recorder`'s run of `scenario`. Call inside the
    /// runtime the run uses (the JSON-lines ticker is a task on it).
    pub fn attach(&self, recorder: Arc<Recorder>, scenario: &Scenario) {
        *self.slot.lock().expect("live slot poisoned") = Some(Source {
            recorder,
            scenario: scenario.name.clone(),
            load_model: scenario.load_model(),
        });
        if let Some(jsonl) = &self.jsonl {
            jsonl.spawn_ticker();
        }
    }

    /// The run ended and its recorder rolled every second: writes the last JSON lines.
    /// `/metrics` keeps serving the final figures until this is dropped.
    pub fn finish(&self) -> Result<(), LiveError> {
        match &self.jsonl {
            Some(jsonl) => jsonl.finish(),
            None => Ok(()),
        }
    }
}
