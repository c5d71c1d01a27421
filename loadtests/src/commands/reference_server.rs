//! `skein reference-server` (hidden): the embedded reference server, run by `skein run` and
//! `skein demo` without a host as a child process of their own executable, so that the
//! generator's CPU and memory in the results are its own and the server's are measured apart
//! ([`super::target`]).
//!
//! It serves the in-memory store (or, with `--db FILE`, a file store: the soak benchmark's
//! target) with the default retention caps
//! ([`target_server::ServerConfig::in_memory_on_loopback`]), prints its base URL as the first
//! line of stdout, and stops gracefully when its stdin closes: the parent closes it to stop
//! the server, and a parent that dies closes it too, so no server outlives its run.
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::exit::{Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct ReferenceServerArgs {
    /// Address to bind (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub bind: SocketAddr,
    /// SQLite store: `:memory:`, or a database file (WAL mode) created if absent.
    #[arg(long, default_value = ":memory:")]
    pub db: PathBuf,
}

pub fn execute(args: ReferenceServerArgs) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let config = target_server::ServerConfig {
            bind: args.bind,
            db: args.db,
            ..target_server::ServerConfig::in_memory_on_loopback()
        };
        let server = target_server::spawn(config)
            .await
            .map_err(|e| Failure::Aborted(format!("cannot start the reference server: {e}")))?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", server.base_url()).context("writing the URL")?;
        stdout.flush().context("writing the URL")?;
        drop(stdout);
        let (closed, stdin_closed) = tokio::sync::oneshot::channel();
        // A plain thread: a read blocked on stdin must not hold the runtime's shutdown.
        std::thread::spawn(move || {
            let mut sink = [0u8; 256];
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            let _ = closed.send(());
        });
        let _ = stdin_closed.await;
        server
            .shutdown()
            .await
            .map_err(|e| Failure::Aborted(format!("reference server: {e}")))?;
        Ok(Outcome::Passed)
    })
}
