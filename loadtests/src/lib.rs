//! Skein: a Locust-style load generator for AI-agent platforms, on the goose engine.
//!
//! Map of the crate:
//! - [`cli`]: the command line (clap); each subcommand's arguments live beside its command.
//! - [`exit`]: the documented exit codes and the one place errors become them.
//! - [`commands`]: one module per subcommand (`run`, `demo`, `scenarios`, `report`, `compare`,
//!   `manager`, `worker`).
//! - [`scenario`]: scenario files, their validation, CLI overrides, the scenario hash.
//! - [`users`]: the user classes (goose scenarios) and how they send and judge requests.
//! - [`recorder`]: the hot path: full-response latencies into sharded HDR histograms.
//! - [`runner`]: a [`runner::RunPlan`] run on goose, a [`runner::StopHandle`], the result.
//! - [`start_order`]: which class each user is, in the order goose starts them.
//! - [`live`]: the live line and the final summary table.
//!
//! For a distributed worker: build a [`runner::RunPlan`] (its own users per stage, a start
//! instant), share an `Arc<`[`recorder::Recorder`]`>`, call [`runner::run_plan`] and, while
//! it runs, [`runner::result_of`] for cumulative snapshots.
pub mod cli;
pub mod commands;
pub mod distributed;
pub mod exit;
pub mod live;
pub mod recorder;
pub mod resources;
pub mod runner;
pub mod scenario;
pub mod start_order;
pub mod users;

/// Runs one parsed command line and returns how the run ended.
pub fn run(cli: cli::Cli) -> anyhow::Result<exit::Outcome> {
    commands::dispatch(cli.command)
}
