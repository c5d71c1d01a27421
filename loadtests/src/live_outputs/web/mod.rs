//! `--web ADDR`: a live dashboard served by the run's own process — one page whose assets
//! are compiled into the binary (no CDN, works offline), fed once a second by server-sent
//! events, with controls to stop the run or change its arrival rate.
//!
//! Like `/metrics` ([`super::metrics_server`]) it binds before any user runs (a taken port
//! fails the command with exit 2) and serves from a thread and runtime of its own, so the page
//! stays live while the users saturate the generator's runtime. The ticker on that thread
//! reads the run's recorder once a second ([`state::WebState::tick`]); a page costs the run
//! nothing beyond that one read, however many pages are open. See docs/web-dashboard.md.
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;

pub mod auth;
pub mod capacity;
pub mod feed;
pub mod history;
pub mod routes;
pub mod state;

pub use capacity::CapacityProgress;
pub use feed::{RunFeed, WorkerRow};
pub use state::{verdict_of, RunEnd, WebRun, WebState};

/// The dashboard's settings: where, with which token, and how long it outlives the run.
#[derive(Clone, Debug)]
pub struct WebConfig {
    pub addr: SocketAddr,
    pub token: Option<String>,
    /// `None`: until Ctrl-C.
    pub linger: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("--web {addr}: cannot listen: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("--web {0}: not a loopback address, so the dashboard needs a token: give --web-token TOKEN (or set SKEIN_WEB_TOKEN), or bind 127.0.0.1")]
    NeedsToken(SocketAddr),
}

/// The running dashboard. Dropping it stops the server.
pub struct WebServer {
    addr: SocketAddr,
    state: WebState,
    config: WebConfig,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WebServer {
    /// Checks the token rule, binds `config.addr` now and serves on a new thread.
    pub fn start(config: &WebConfig) -> Result<WebServer, WebError> {
        let addr = config.addr;
        if !addr.ip().is_loopback() && config.token.as_deref().is_none_or(str::is_empty) {
            return Err(WebError::NeedsToken(addr));
        }
        let bind_error = |source| WebError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let bound = listener.local_addr().map_err(bind_error)?;
        let state = WebState::new(config.token.clone().filter(|t| !t.is_empty()));
        let (shutdown, stop) = oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::Builder::new()
            .name("skein-web".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime builds");
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let ticking = served.clone();
                    let ticker = tokio::spawn(async move {
                        let mut tick = tokio::time::interval(state::TICK);
                        loop {
                            tick.tick().await;
                            ticking.tick();
                        }
                    });
                    let closing = served.clone();
                    let _ = axum::serve(listener, routes::app(served))
                        .with_graceful_shutdown(async move {
                            let _ = stop.await;
                            closing.close();
                        })
                        .await;
                    ticker.abort();
                });
            })
            .map_err(bind_error)?;
        Ok(WebServer {
            addr: bound,
            state,
            config: config.clone(),
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The bound address (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address to open, with the token when there is one.
    pub fn url(&self) -> String {
        match &self.config.token {
            Some(token) if !token.is_empty() => format!("http://{}/?token={token}", self.addr),
            _ => format!("http://{}/", self.addr),
        }
    }

    pub fn attach(&self, run: WebRun) {
        self.state.attach(run);
    }

    /// The run ended and its results are in `end.out_dir`: the page shows the verdict and
    /// links them.
    pub fn finish(&self, end: RunEnd) {
        self.state.finish(end);
    }

    /// [`Self::finish`], then [`Self::linger`]: how every command ends a run with a dashboard.
    pub async fn finish_and_linger(&self, end: RunEnd) {
        self.finish(end);
        self.linger().await;
    }

    /// Keeps serving the ended run until `--web-linger` passes or Ctrl-C comes.
    pub async fn linger(&self) {
        let linger = self.config.linger;
        eprintln!(
            "skein: the dashboard stays at {} {}",
            self.url(),
            match linger {
                Some(d) => format!("for {} (--web-linger)", crate::scenario::format_duration(d)),
                None => "until Ctrl-C".to_string(),
            }
        );
        let interrupt = crate::signals::next_interrupt();
        match linger {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = interrupt => {}
                }
            }
            None => interrupt.await,
        }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
