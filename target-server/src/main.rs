//! `target-server`: run the reference agent server until SIGINT or SIGTERM.
use anyhow::Context;
use clap::Parser;

/// The reference AI-agent platform server Skein load-tests against (training JSON-RPC API,
/// orchestration REST API and A2A agent API with streamed answers, SQLite-backed, with a
/// latency model, shedding and fault injection).
#[derive(Parser)]
#[command(name = "target-server", version, about)]
struct Cli {
    #[command(flatten)]
    config: target_server::ServerConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let db = cli.config.db.display().to_string();
    let server = target_server::spawn(cli.config)
        .await
        .context("starting target-server")?;
    tracing::info!(addr = %server.local_addr(), db = %db, "target-server listening");
    println!("target-server listening on {}", server.base_url());
    let stop = server.stop_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop.send(true);
    });
    server.wait().await.context("serving")?;
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
