//! The `skein` command line. Each subcommand's arguments are defined next to the command that
//! uses them (`commands::*`); this file only lists the subcommands and the shared help text.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::scenario::{parse_duration, Overrides};

/// Exit codes, shown at the end of `skein --help` and documented in README.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    the run finished and every SLA held (compare: no regression)
  1    an SLA failed (compare: a regression exceeded its threshold)
  2    usage error: bad arguments, bad scenario file, unreadable or mismatched results
  3    target unreachable, or the run was aborted (e.g. every worker lost, results not writable)
  130  interrupted by Ctrl-C or SIGTERM (results are still written)";

/// Skein: a Locust-style load generator for AI-agent platforms.
#[derive(Debug, Parser)]
#[command(name = "skein", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario headless against a host (without --host: against the embedded reference server).
    Run(commands::run::RunArgs),
    /// Start the reference server in-process and run a short light scenario against it.
    Demo(commands::run::DemoArgs),
    /// List the shipped scenarios.
    Scenarios(commands::scenarios::ScenariosArgs),
    /// Render reports from one or more results (merging several into one).
    Report(commands::report::ReportArgs),
    /// Compare a run against a baseline; exit 1 on a regression over the threshold.
    Compare(commands::compare::CompareArgs),
    /// Coordinate a distributed run across workers.
    Manager(commands::manager::ManagerArgs),
    /// Run a share of a distributed run for a manager.
    Worker(commands::worker::WorkerArgs),
}

/// What `skein run` and `skein manager` share: the scenario, the target and the overrides.
///
/// Names follow Locust (`-H/--host`, `-u`, `-r`, `-t`); `--target-token` is always the
/// target's token, `--token` (only on `manager`/`worker`) always the manager/worker secret.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Shipped scenario name (see `skein scenarios`) or path to a scenario .toml file
    /// [default: light; `skein run` with no host either runs 30 s like `skein demo`].
    #[arg(long, short = 's')]
    pub scenario: Option<String>,
    /// Target base URL (http or https), e.g. http://127.0.0.1:8080 [default: the scenario's
    /// host; `skein run` without one starts the reference server in-process].
    #[arg(long, short = 'H', env = "SKEIN_HOST")]
    pub host: Option<String>,
    /// Bearer token for the target's API [default: the scenario's, else the reference server's].
    #[arg(long, env = "SKEIN_TARGET_TOKEN", hide_env_values = true)]
    pub target_token: Option<String>,
    /// Users (peak users of a staged scenario, whose stages are scaled to it).
    #[arg(long, short = 'u')]
    pub users: Option<u64>,
    /// Users started per second (every stage of a staged scenario).
    #[arg(long, short = 'r')]
    pub spawn_rate: Option<f64>,
    /// Run time, e.g. 30s, 5m, 1h30m (a staged scenario's stages are scaled to fit).
    #[arg(long, short = 't', value_parser = parse_duration)]
    pub run_time: Option<Duration>,
    /// Results directory [default: reports/out/<scenario>-<UTC timestamp>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seconds between live lines.
    #[arg(long, default_value_t = 5)]
    pub live_every: u64,
}

impl LoadArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            users: self.users,
            spawn_rate: self.spawn_rate,
            run_time: self.run_time,
            host: self.host.clone(),
        }
    }

    pub fn live_every(&self) -> Duration {
        Duration::from_secs(self.live_every.max(1))
    }
}
