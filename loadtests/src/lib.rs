//! Skein: a Locust-style load generator for AI-agent platforms, on the goose engine.
//!
//! Map of the crate:
//! - [`cli`]: the command line (clap); each subcommand's arguments live beside its command.
//! - [`exit`]: the documented exit codes and the one place errors become them.
//! - [`commands`]: one module per subcommand (`run`, `demo`, `scenarios`, `report`, `compare`,
//!   `manager`, `worker`).
pub mod cli;
pub mod commands;
pub mod exit;

/// Runs one parsed command line and returns how the run ended.
pub fn run(cli: cli::Cli) -> anyhow::Result<exit::Outcome> {
    commands::dispatch(cli.command)
}
