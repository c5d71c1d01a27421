//! `skein worker`: run a share of a distributed run for a manager.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::cli_values::positive_duration;
use crate::commands::live_args::LiveArgs;
use crate::commands::tokenizer_arg::TokenizerArg;
use crate::distributed::faults::ReportFaults;
use crate::distributed::worker::{run_worker, WorkerConfig, WorkerEnd};
use crate::exit::{Failure, Outcome};
use crate::live_outputs::LiveOutputs;
use crate::scenario;

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The manager's URL, e.g. http://manager:5557.
    #[arg(long, env = "SKEIN_MANAGER")]
    pub manager: String,
    /// Shared secret of the manager/worker channel.
    #[arg(long, env = "SKEIN_TOKEN", hide_env_values = true)]
    pub token: String,
    /// This worker's name in reports (default: hostname-pid).
    #[arg(long, env = "SKEIN_WORKER_ID")]
    pub id: Option<String>,
    /// Refuse to run anything but this scenario (name or path) — a guard against joining the wrong run.
    #[arg(long)]
    pub scenario: Option<String>,
    /// Where to write this worker's own results: its partial results if the manager is lost
    /// (default: reports/out/worker-<id>-<UTC>), and, when given, its part of a run that
    /// ended normally.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// How long to keep trying to reach the manager at start.
    #[arg(long, default_value = "60s", allow_negative_numbers = true, value_parser = positive_duration)]
    pub connect_timeout: Duration,
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(flatten)]
    pub tokenizer: TokenizerArg,
}

fn default_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "worker".into());
    format!("{host}-{}", std::process::id())
}

pub fn execute(args: WorkerArgs) -> anyhow::Result<Outcome> {
    if args.token.trim().is_empty() {
        return Err(Failure::Usage("--token (or SKEIN_TOKEN) must not be empty".into()).into());
    }
    let pinned_hash = match &args.scenario {
        Some(s) => Some(
            scenario::load(s)
                .map_err(|e| Failure::Usage(e.to_string()))?
                .hash(),
        ),
        None => None,
    };
    let live =
        LiveOutputs::start(&args.live.config()).map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(addr) = live.metrics_addr() {
        eprintln!("skein worker: Prometheus metrics at http://{addr}/metrics");
    }
    let config = WorkerConfig {
        manager: args.manager.trim_end_matches('/').to_string(),
        token: args.token,
        id: args.id.unwrap_or_else(default_id),
        pinned_hash,
        out: args.out,
        connect_timeout: args.connect_timeout,
        faults: ReportFaults::from_env().map_err(|e| Failure::Usage(e.to_string()))?,
        live,
        tokenizer: args.tokenizer.load()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match runtime.block_on(run_worker(config))? {
        WorkerEnd::Finished => Ok(Outcome::Passed),
        WorkerEnd::Interrupted => Ok(Outcome::Interrupted),
        WorkerEnd::ManagerLost { results } => Err(Failure::Aborted(format!(
            "the manager was lost; this worker's partial results are in {}",
            results.display()
        ))
        .into()),
    }
}
