//! The live-output flags `skein run` and `skein worker` share.
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::live_outputs::LiveConfig;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct LiveArgs {
    /// Serve Prometheus metrics at http://ADDR/metrics during the run, e.g. 127.0.0.1:9464
    /// (give 0.0.0.0:PORT to let another machine scrape; port 0 picks a free port and the
    /// address is printed).
    #[arg(long, value_name = "ADDR")]
    pub metrics_bind: Option<SocketAddr>,
    /// Write one JSON line per finished second to FILE (the /metrics figures, for CI and jq).
    #[arg(long, value_name = "FILE")]
    pub jsonl: Option<PathBuf>,
}

impl LiveArgs {
    pub fn config(&self) -> LiveConfig {
        LiveConfig {
            metrics_bind: self.metrics_bind,
            jsonl: self.jsonl.clone(),
            web: None,
        }
    }
}
