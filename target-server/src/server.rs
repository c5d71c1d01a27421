//! Serving: [`spawn`] binds, starts the router and the trainers, and hands back a
//! [`RunningServer`] that knows its address and how to stop everything it started.
use axum::serve::ListenerExt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::app;
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::mcp;
use crate::retention::{self, RetentionPolicy};
use crate::state::AppState;
use crate::trainer;

/// A server started with [`spawn`]: its address, token, and a way to stop it.
pub struct RunningServer {
    addr: SocketAddr,
    token: String,
    state: AppState,
    stop: watch::Sender<bool>,
    serve: JoinHandle<std::io::Result<()>>,
    trainer: JoinHandle<()>,
    retention: JoinHandle<()>,
    /// Sweeps expired MCP sessions (none in stateless mode).
    mcp_sweeper: Option<JoinHandle<()>>,
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

    /// Stops accepting connections, finishes in-flight requests, stops the trainers and retention.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.stop.send(true);
        let served = self
            .serve
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))?;
        let _ = self.trainer.await;
        let _ = self.retention.await;
        if let Some(sweeper) = self.mcp_sweeper {
            let _ = sweeper.await;
        }
        served.map_err(|e| ServerError::Serve(e.to_string()))
    }

    /// Waits until the server stops (after [`RunningServer::stop_handle`] was used or a
    /// signal handler fired), then stops the trainers and retention.
    pub async fn wait(self) -> Result<(), ServerError> {
        let served = self
            .serve
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))?;
        let _ = self.stop.send(true);
        let _ = self.trainer.await;
        let _ = self.retention.await;
        if let Some(sweeper) = self.mcp_sweeper {
            let _ = sweeper.await;
        }
        served.map_err(|e| ServerError::Serve(e.to_string()))
    }

    /// A handle that asks the server to shut down gracefully.
    pub fn stop_handle(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Builds the state (opening the store) without serving: for `oneshot` router tests.
pub fn build_state(config: &ServerConfig) -> Result<AppState, ServerError> {
    AppState::build(config)
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
    let policy = RetentionPolicy::from_config(&config);
    let trainer = tokio::spawn(trainer::run(
        state.store.clone(),
        state.metrics.clone(),
        config.max_running_jobs,
        Duration::from_millis(config.trainer_tick_ms.max(1)),
        policy,
        stopped.clone(),
    ));
    let retention = tokio::spawn(retention::run(
        state.store.clone(),
        state.metrics.clone(),
        policy,
        stopped.clone(),
    ));
    let mcp_sweeper = state
        .mcp
        .sessions
        .clone()
        .map(|sessions| tokio::spawn(mcp::run_sweeper(sessions, stopped.clone())));
    let mut shutdown = stopped;
    let router = app(state.clone());
    // Small writes go out at once: a streamed answer's events are small, and Nagle's
    // algorithm would hold one until the client's delayed ACK (up to 40 ms), shifting every
    // time to first chunk a client measures.
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
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
        retention,
        mcp_sweeper,
    })
}
