//! The reference AI-agent platform server that Skein load-tests against.
//!
//! It speaks the platform's training API (JSON-RPC 2.0) and orchestration API (REST), keeps
//! everything in SQLite, runs training jobs with simulated trainers, and behaves like a real
//! service under load: a latency model held on bounded capacity gives it a knee, and past its
//! bounds it sheds with 429. Fault injection (error rates, periodic stalls) lets tests check
//! what a load generator reports.
//!
//! Map: [`config`] (flags), [`app`] (router, state, auth, admission, metrics wiring),
//! [`jsonrpc`] (framing and error codes), [`training`] and [`orchestration`] (the APIs),
//! [`store`] (SQLite and its pool), [`trainer`] (job simulation), [`faults`] (latency model
//! and fault injection), [`admission`] (capacity and shedding), [`metrics`] (Prometheus).
pub mod admission;
pub mod app;
pub mod config;
pub mod error;
pub mod faults;
pub mod jsonrpc;
pub mod metrics;
pub mod orchestration;
pub mod store;
pub mod trainer;
pub mod training;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use app::{app, AppState};
pub use config::ServerConfig;
pub use error::ServerError;

/// The development token: servers bind to loopback by default, where this is enough.
pub const DEFAULT_TOKEN: &str = "skein-dev-token";

/// A server started with [`spawn`]: its address, token, and a way to stop it.
pub struct RunningServer {
    addr: SocketAddr,
    token: String,
    state: AppState,
    stop: watch::Sender<bool>,
    serve: JoinHandle<std::io::Result<()>>,
    trainer: JoinHandle<()>,
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The server's shared state (metrics, faults), for in-process tests and embedding.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting connections, finishes in-flight requests, stops the trainers.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.stop.send(true);
        let served = self
            .serve
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))?;
        let _ = self.trainer.await;
        served.map_err(|e| ServerError::Serve(e.to_string()))
    }

    /// Waits until the server stops (after [`RunningServer::stop_handle`] was used or a
    /// signal handler fired), then stops the trainers.
    pub async fn wait(self) -> Result<(), ServerError> {
        let served = self
            .serve
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))?;
        let _ = self.stop.send(true);
        let _ = self.trainer.await;
        served.map_err(|e| ServerError::Serve(e.to_string()))
    }

    /// A handle that asks the server to shut down gracefully.
    pub fn stop_handle(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Builds the state (opening the store) without serving: for `oneshot` router tests.
pub fn build_state(config: &ServerConfig) -> Result<AppState, ServerError> {
    let metrics = Arc::new(metrics::Metrics::default());
    Ok(AppState {
        store: store::Store::open(&config.db, config.db_pool)?,
        faults: Arc::new(faults::Faults::new(config)),
        admission: Arc::new(admission::Admission::new(
            config.capacity,
            config.queue_limit,
            config.queue_timeout(),
            metrics.clone(),
        )),
        metrics,
        token: Arc::from(config.token.as_str()),
        max_body_bytes: config.max_body_bytes,
    })
}

/// Starts the server on the caller's tokio runtime at `config.bind` (port 0 allowed).
pub async fn spawn(config: ServerConfig) -> Result<RunningServer, ServerError> {
    let state = build_state(&config)?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.bind,
        source,
    })?;
    let (stop, stopped) = watch::channel(false);
    let trainer = tokio::spawn(trainer::run(
        state.store.clone(),
        state.metrics.clone(),
        config.max_running_jobs,
        Duration::from_millis(config.trainer_tick_ms.max(1)),
        stopped.clone(),
    ));
    let mut shutdown = stopped;
    let router = app(state.clone());
    let serve = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        token: config.token,
        state,
        stop,
        serve,
        trainer,
    })
}
