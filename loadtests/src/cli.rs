//! The `skein` command line. Each subcommand's arguments are defined next to the command that
//! uses them (`commands::*`); this file only lists the subcommands and the shared help text.
use clap::{Parser, Subcommand};

use crate::commands;
use crate::exit::Outcome;

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
    /// Start the reference server (a child process) and run a short light scenario against it.
    Demo(commands::run::DemoArgs),
    /// List the shipped scenarios.
    Scenarios(commands::scenarios::ScenariosArgs),
    /// Render reports from one or more results (merging several into one).
    Report(commands::report::ReportArgs),
    /// Compare a run against a baseline; exit 1 on a regression over the threshold.
    Compare(commands::compare::CompareArgs),
    /// Trend page and CSV of every results.json under directories; regressions marked as compare judges them.
    History(commands::history::HistoryArgs),
    /// Find the maximum sustainable load: climb, bisect, confirm (see docs/capacity.md).
    Capacity(commands::capacity::CapacityArgs),
    /// Coordinate a distributed run across workers.
    Manager(commands::manager::ManagerArgs),
    /// Run a share of a distributed run for a manager.
    Worker(commands::worker::WorkerArgs),
    /// The embedded reference server as a child process of `run`/`demo` (internal).
    #[command(hide = true)]
    ReferenceServer(commands::reference_server::ReferenceServerArgs),
}

impl Command {
    /// Runs the subcommand and returns how it ended.
    pub fn execute(self) -> anyhow::Result<Outcome> {
        match self {
            Command::Run(args) => commands::run::execute(args),
            Command::Demo(args) => commands::run::demo(args),
            Command::Scenarios(args) => commands::scenarios::execute(args),
            Command::Report(args) => commands::report::execute(args),
            Command::Compare(args) => commands::compare::execute(args),
            Command::History(args) => commands::history::execute(args),
            Command::Capacity(args) => commands::capacity::execute(args),
            Command::Manager(args) => commands::manager::execute(args),
            Command::Worker(args) => commands::worker::execute(args),
            Command::ReferenceServer(args) => commands::reference_server::execute(args),
        }
    }
}
