//! `GET /metrics`: the Prometheus text exposition of the run so far
//! ([`reports::prometheus`]), served from a thread and runtime of its own so a scrape is
//! answered even while the users saturate the generator's runtime.
use std::net::SocketAddr;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;

use super::{LiveError, Slot};

/// Served before the run's recorder exists (a worker waiting for its assignment).
const WAITING: &str =
    "# skein: the run has not started yet\n# TYPE skein_active_users gauge\nskein_active_users 0\n";

/// The `/metrics` route over `slot`.
pub fn app(slot: Slot) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(slot)
}

async fn metrics(State(slot): State<Slot>) -> impl IntoResponse {
    // The lock is held only to clone the source (an Arc and two small strings).
    let source = slot.lock().expect("live slot poisoned").clone();
    let body = match source {
        Some(source) => reports::prometheus::render(&source.snapshot(Some(1)).0),
        None => WAITING.to_string(),
    };
    ([(CONTENT_TYPE, reports::prometheus::CONTENT_TYPE)], body)
}

/// The server's thread; dropping this stops it.
pub struct MetricsServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` now (so a taken port fails before the run) and serves on a new thread.
    pub fn start(addr: SocketAddr, slot: Slot) -> Result<MetricsServer, LiveError> {
        let bind_error = |source| LiveError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let bound = listener.local_addr().map_err(bind_error)?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("skein-metrics".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime builds");
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, app(slot))
                        .with_graceful_shutdown(async {
                            let _ = stop.await;
                        })
                        .await;
                });
            })
            .map_err(bind_error)?;
        Ok(MetricsServer {
            addr: bound,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The bound address (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
